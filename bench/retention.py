"""Retention bench: a 300-snapshot history; our forget plan vs `restic forget --dry-run --json`.

Targets (ratios to restic's time, same run): the pure planning step ≤ 0.05×; the whole
`homelab-kit backups forget-plan` command (which lists snapshots through restic too) ≤ 1.5×.
Also checks that both give the same keep set. The key is made cheap (demokey) for a fast setup. Run:
    .venv/bin/python bench/retention.py [--snapshots 300] [--restic PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _timing import best

from homelab_kit.backups.restic import Restic, policy_argv
from homelab_kit.backups.retention import Policy, plan
from homelab_kit.demo.key import cheapen_key

KEEP = {"hourly": 24, "daily": 14, "weekly": 8, "monthly": 12, "yearly": 3}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--snapshots", type=int, default=300)
    ap.add_argument("--restic", default=shutil.which("restic") or "restic")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-retention-") as tmp:
        base = Path(tmp)
        src = base / "src"
        src.mkdir()
        (src / "f").write_text("x")
        pw = base / "pw"
        pw.write_text("bench\n")
        os.environ["RESTIC_CACHE_DIR"] = str(base / "cache")
        r = Restic(repository=str(base / "repo"), password_file=str(pw), binary=args.restic)
        r.init()
        cheapen_key(base / "repo", pw)
        t0 = time.perf_counter()
        t = datetime(2023, 1, 1, 2, 0)
        for i in range(args.snapshots):
            t += timedelta(hours=(3, 5, 26, 49)[i % 4])
            r.backup([str(src)], host="bench", time=t.strftime("%Y-%m-%d %H:%M:%S"))
        print(
            f"setup: {args.snapshots} snapshots, restic {'.'.join(map(str, r.version))}, {time.perf_counter() - t0:.1f}s"
        )
        (base / "lab.toml").write_text(
            f'[lab]\nname = "bench"\n[hosts.here]\ntransport = "local"\n[backups.b]\nhost = "here"\n'
            f'repository = "{base / "repo"}"\npassword_file = "{pw}"\nrestic = "{args.restic}"\n'
            f"keep = {{ {', '.join(f'{k} = {v}' for k, v in KEEP.items())} }}\n"
        )
        env = {**os.environ, **r.environment()}
        argv = [args.restic, "forget", "--dry-run", "--json", *policy_argv(KEEP)]
        t_restic = best(
            lambda: subprocess.run(argv, env=env, capture_output=True, check=True), args.rounds
        )
        snaps = r.snapshots()
        policy, now = Policy.from_keep(KEEP), datetime.now(UTC)
        version = r.version
        t_plan = best(lambda: plan(snaps, policy, now=now, version=version), args.rounds * 10)
        cli = [
            sys.executable,
            "-m",
            "homelab_kit.cli",
            "--lab",
            str(base / "lab.toml"),
            "backups",
            "forget-plan",
            "--json",
        ]
        if not (Path(__file__).parent.parent / "homelab_kit" / "cli" / "__main__.py").exists():
            cli = [str(Path(sys.executable).parent / "homelab-kit"), *cli[3:]]
        t_cli = best(lambda: subprocess.run(cli, capture_output=True, check=True), args.rounds)
        ours = {
            row["id"]
            for row in json.loads(subprocess.run(cli, capture_output=True, check=True).stdout)
            if row["keep"]
        }
        theirs = {i for g in r.forget_dry_run(KEEP) for i in g["keep"]}
        print(f"restic forget --dry-run --json:  {t_restic:8.4f}s  (1.00×)")
        print(
            f"pure planning step:              {t_plan:8.4f}s  ({t_plan / t_restic:.4f}×, target ≤ 0.05×)"
        )
        print(
            f"homelab-kit backups forget-plan: {t_cli:8.4f}s  ({t_cli / t_restic:.2f}×, target ≤ 1.5×)"
        )
        print(f"same keep set as restic: {ours == theirs} ({len(ours)} kept of {len(snaps)})")


if __name__ == "__main__":
    main()
