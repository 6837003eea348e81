"""Bench: verification time / restic restore time, measured in the same run. Target ≤ 1.5×.

Builds ~1 GB in ~50,000 files (sizes log-spread from 0 to ~1 MB, random bytes so nothing dedups),
backs it up with the real restic, then runs one restore_test with content=full: restic restores,
then the verifier lists the snapshot, walks the restored tree and streams `restic dump --archive
tar`, hashing each file against the restored copy on all cores. Prints both times and the ratio.

    .venv/bin/python bench/restore.py [--files 50000] [--mb 1024] [--restic PATH] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from homelab_kit.backups.restic import Restic  # noqa: E402
from homelab_kit.lab.model import Lab  # noqa: E402
from homelab_kit.restore.scratch import restore_test  # noqa: E402


def default_restic() -> str:
    trixie = ROOT / ".cache" / "restic-trixie" / "restic"
    return str(trixie) if trixie.exists() else shutil.which("restic") or "restic"


def make_tree(root: Path, files: int, total_mb: int, seed: int = 7) -> int:
    """`files` files in 100-file folders, sizes log-uniform, scaled to about total_mb."""
    rng = random.Random(seed)
    sizes = [int(2 ** rng.uniform(0, 20)) for _ in range(files)]
    scale = total_mb * 1_000_000 / max(1, sum(sizes))
    sizes = [int(s * scale) for s in sizes]
    block = os.urandom(4 << 20)
    written = 0
    for i, size in enumerate(sizes):
        d = root / f"d{i // 100:04d}"
        if i % 100 == 0:
            d.mkdir(parents=True)
        off = rng.randrange(0, len(block) - min(size, len(block)) + 1)
        data = (block[off : off + size] if size <= len(block) else os.urandom(size)) + i.to_bytes(
            4, "little"
        )
        (d / f"file {i}.bin").write_bytes(data)
        written += len(data)
    return written


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=50_000)
    ap.add_argument("--mb", type=int, default=1024)
    ap.add_argument("--restic", default=default_restic())
    ap.add_argument("--workdir", default=None, help="where to build (default: a temp dir, removed)")
    args = ap.parse_args()

    work = Path(args.workdir or tempfile.mkdtemp(prefix="hlk-bench-restore-"))
    data = work / "hosts/n1/srv/data"
    (work / "pw").write_text("bench\n")
    doc = {
        "lab": {"name": "bench"},
        "hosts": {"n1": {"transport": "local"}},
        "services": {"data": {"host": "n1", "state_dirs": ["hosts/n1/srv/data"]}},
        "backups": {
            "b": {"host": "n1", "repository": "repo", "password_file": "pw", "restic": args.restic}
        },
    }
    lab = Lab.from_dict(doc, path=work / "lab.toml")
    try:
        t = time.monotonic()
        written = make_tree(data, args.files, args.mb)
        print(f"tree: {args.files} files, {written / 1e6:.0f} MB in {time.monotonic() - t:.1f}s")
        restic = Restic.for_backup(lab.backups["b"], lab)
        restic.init()
        t = time.monotonic()
        restic.backup([str(data)])
        print(f"backup ({'.'.join(map(str, restic.version))}): {time.monotonic() - t:.1f}s")
        os.sync()
        report = restore_test(lab, "b", progress=False)
        assert report.ok, report.problem_list[:5]
        ratio = report.verify_seconds / report.restore_seconds
        print(
            f"restore {report.restore_seconds:.1f}s · verify {report.verify_seconds:.1f}s "
            f"({report.content_files} files, {report.content_bytes / 1e6:.0f} MB hashed, {os.cpu_count()} cores)"
        )
        print(
            f"verify/restore ratio: {ratio:.2f}× (target ≤ 1.5×) {'OK' if ratio <= 1.5 else 'OVER'}"
        )
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
