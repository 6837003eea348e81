"""Fan-out bench on 16 real sshd test hosts; prints three ratios, each against a reference of this run.

- fan-out: `sleep 1` on 16 hosts vs on one (target ≤ 1.5×; serial would be 16×, Ansible's default
  forks=5 about 4×);
- against OpenSSH: `true` on 16 hosts from a new Lab session (16 fresh connections) vs 16 `ssh`
  client processes in parallel, each pinned to the host's key (target ≤ 1.0×: no slower);
- reuse: in one Lab session, a second `lab.run(["true"])` on 16 hosts vs the first, which opened the
  connections (target ≤ 0.25×: the session keeps one connection per host).

    .venv/bin/python bench/fanout.py [--hosts 16] [--rounds 3]
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

from _timing import best

from homelab_kit.lab.model import Lab
from homelab_kit.testing import SshTestFleet, start_ssh_hosts


def wall(lab: Lab, argv: list[str], on: str = "all") -> float:
    start = time.perf_counter()
    res = lab.run(argv, on=on, parallel=16, progress=False)
    elapsed = time.perf_counter() - start
    res.raise_on_failure()
    return elapsed


def openssh(fleet: SshTestFleet, known_hosts: Path, argv: list[str]) -> None:
    """argv on every host through the OpenSSH client, all at once (what `pssh` does)."""
    options = ["-F", "/dev/null", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"]
    options += ["-o", f"UserKnownHostsFile={known_hosts}"]
    procs = [
        subprocess.Popen(
            ["ssh", *options, "-i", str(h.client_key), "-p", str(h.port), h.user + "@" + h.address]
            + argv,
            stdin=subprocess.DEVNULL,
        )
        for h in fleet
    ]
    codes = [p.wait() for p in procs]
    if any(codes):
        raise SystemExit(f"ssh failed: exit codes {codes}")


def sessions(fleet: SshTestFleet, path: Path, rounds: int) -> tuple[float, float]:
    """Fastest first and fastest second `lab.run(["true"])` over `rounds` new Lab sessions."""
    firsts, seconds = [], []
    for _ in range(rounds):
        with Lab.from_dict(fleet.lab_dict(), path=path) as lab:
            firsts.append(wall(lab, ["true"]))
            seconds.append(wall(lab, ["true"]))
    return min(firsts), min(seconds)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hosts", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        start_ssh_hosts(args.hosts, tmp, prefix="b", first=100) as fleet,
    ):
        path = Path(tmp) / "lab.toml"
        known = Path(tmp) / "known_hosts"
        known.write_text("".join(f"[{h.address}]:{h.port} {h.host_key}\n" for h in fleet))
        with Lab.from_dict(fleet.lab_dict(), path=path) as lab:
            wall(lab, ["sleep", "1"], "b1")  # warm up (imports, first handshake)
            one = min(wall(lab, ["sleep", "1"], "b1") for _ in range(args.rounds))
            many = min(wall(lab, ["sleep", "1"]) for _ in range(args.rounds))
        ssh = best(lambda: openssh(fleet, known, ["true"]), args.rounds)
        first, second = sessions(fleet, path, args.rounds)
    n = args.hosts
    print(f"sleep 1 on 1 host:   {one:.2f}s")
    print(f"sleep 1 on {n} hosts: {many:.2f}s")
    print(f"fan-out ratio: {many / one:.2f}x (target <= 1.5x; serial would be {n}x)")
    print(f"true on {n} hosts, OpenSSH client in parallel: {ssh:.3f}s")
    print(f"true on {n} hosts, first lab.run of a session: {first:.3f}s")
    print(f"ratio against OpenSSH: {first / ssh:.2f}x (target <= 1.0x)")
    print(f"true on {n} hosts, second lab.run of the session: {second:.3f}s")
    print(f"reuse ratio: {second / first:.2f}x (target <= 0.25x)")


if __name__ == "__main__":
    main()
