"""`check` on the demo lab against restic's own `restic snapshots --json` over its repositories.

Prints the best of several runs of each and the ratio (target ≤ 1.5×): the whole check (freshness,
coverage, snapshot sizes, restore-test age, capacity, facts of every host, lint) once its caches
are warm, in one Python session, against the bare restic calls it cannot avoid. Also prints the
CLI's wall time (a fresh interpreter: imports included) for scale. Builds the demo if missing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from _timing import best

ROOT = Path(__file__).resolve().parent.parent
LAB = Path(os.environ.get("HOMELAB_LAB") or ROOT / "data/demo/lab.toml")
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))


def main() -> int:
    if not LAB.exists():
        build = f"from homelab_kit.cli import main; main(['demo', '--dir', {str(LAB.parent)!r}])"
        subprocess.run([sys.executable, "-c", build], check=True)
    from homelab_kit.lab.model import load_lab
    from homelab_kit.watch.run import check

    lab = load_lab(LAB)

    def restic_snapshots() -> None:
        for b in lab.backups.values():
            env = {**os.environ, "RESTIC_REPOSITORY": b.repository,
                   "RESTIC_PASSWORD_FILE": str(b.password_file)}  # fmt: skip
            subprocess.run([b.restic, "snapshots", "--json", "--no-lock"], env=env, check=True,
                           stdout=subprocess.DEVNULL)  # fmt: skip

    def one_check() -> None:
        check(lab, notify=False, heartbeat=False, record=False)

    one_check()  # warm: listings, snapshot sizes and imports, as every later timer run finds them
    reference = best(restic_snapshots, ROUNDS)
    ours = best(one_check, ROUNDS)
    cli = [str(Path(sys.executable).with_name("homelab-kit")), "--lab", str(LAB), "check",
           "--no-notify", "--no-heartbeat"]  # fmt: skip
    wall = best(lambda: subprocess.run(cli, capture_output=True), max(1, ROUNDS // 2))
    print(
        f"restic snapshots --json over {len(lab.backups)} repositories: {reference * 1000:.0f} ms"
    )
    print(
        f"check (warm, in one session): {ours * 1000:.0f} ms = {ours / reference:.2f}x (target <= 1.5x)"
    )
    print(
        f"homelab-kit check (CLI, fresh interpreter): {wall * 1000:.0f} ms = {wall / reference:.1f}x"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
