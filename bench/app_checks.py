"""Bench: application-check seconds / whole restore-test seconds on the demo lab. Target ≤ 0.1×.

Builds the demo lab (real restic history, real SQLite databases and configs) in a temp folder,
then runs restore_test on every backup a few times. Each test's wall time (restic restore, the
node-by-node and byte-by-byte verification, the app checks, the journal) is the reference; the app
checks (finding databases by header, `PRAGMA integrity_check`, config parsing) are the part
measured against it, in the same run. The median round is reported per backup, then the total.

    .venv/bin/python bench/app_checks.py [--rounds 5] [--demo DIR]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from homelab_kit.demo.build import build_demo  # noqa: E402
from homelab_kit.lab.model import load_lab  # noqa: E402
from homelab_kit.restore.scratch import restore_test  # noqa: E402

TARGET = 0.1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--demo", default=None, help="an existing demo lab folder (default: build one)")
    args = ap.parse_args()

    work = None if args.demo else Path(tempfile.mkdtemp(prefix="hlk-bench-apps-"))
    try:
        if args.demo:
            lab = load_lab(Path(args.demo) / "lab.toml")
        else:
            t = time.monotonic()
            lab = build_demo(work / "demo", progress=False)
            print(f"demo built in {time.monotonic() - t:.0f}s")
        totals = [0.0, 0.0]
        for name in lab.backups:
            rounds = []
            for _ in range(args.rounds):
                t = time.perf_counter()
                report = restore_test(lab, name, progress=False)
                wall = time.perf_counter() - t
                assert report.ok, (report.problem_list[:3], report.apps[:3])
                rounds.append((report.app_seconds, wall, len(report.apps)))
            apps, wall, found = sorted(rounds, key=lambda r: r[0] / r[1])[len(rounds) // 2]
            totals[0] += apps
            totals[1] += wall
            print(
                f"{name}: {found} databases/configs checked in {apps * 1000:.0f} ms of a "
                f"{wall:.2f}s restore test ({apps / wall:.3f}×)"
            )
        ratio = totals[0] / totals[1]
        print(
            f"app checks / restore test: {ratio:.3f}× (target ≤ {TARGET}×) "
            f"{'OK' if ratio <= TARGET else 'OVER'}"
        )
    finally:
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
