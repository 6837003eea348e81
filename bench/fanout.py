"""Fan-out bench: `sleep 1` on 16 real sshd test hosts vs on one; prints the wall-time ratio.

Target ≤ 1.5× (serial would be 16×; Ansible's default forks=5 about 4×). Run:
    .venv/bin/python bench/fanout.py [--hosts 16]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from homelab_kit.lab.model import Lab
from homelab_kit.testing import start_ssh_hosts


def wall(lab: Lab, on: str) -> float:
    start = time.monotonic()
    res = lab.run(["sleep", "1"], on=on, parallel=16, progress=False)
    elapsed = time.monotonic() - start
    res.raise_on_failure()
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        start_ssh_hosts(args.hosts, tmp, prefix="b", first=100) as fleet,
    ):
        lab = Lab.from_dict(fleet.lab_dict(), path=Path(tmp) / "lab.toml")
        wall(lab, "b1")  # warm up (imports, first handshake)
        one = min(wall(lab, "b1") for _ in range(args.rounds))
        many = min(wall(lab, "all") for _ in range(args.rounds))
    print(f"sleep 1 on 1 host:   {one:.2f}s")
    print(f"sleep 1 on {args.hosts} hosts: {many:.2f}s")
    print(f"ratio: {many / one:.2f}x (target <= 1.5x; serial would be {args.hosts}x)")


if __name__ == "__main__":
    main()
