"""Listing bench: a 200,000-file snapshot; our per-directory + per-service analysis vs `restic ls --json`.

Targets (ratios to restic's own `ls --json` time, measured in the same run): parse + analysis
≤ 0.25×, cached re-analysis ≤ 0.02×. Also prints the end-to-end first analysis (restic streaming
into our parser, parquet written) and peak memory. The repository key is made cheap (demokey) so
restic's time is listing work, not scrypt. Run:
    .venv/bin/python bench/listing.py [--files 200000] [--restic PATH]
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import shutil
import subprocess
import tempfile
import time
import tracemalloc
from pathlib import Path

from _timing import best

from homelab_kit.backups.listing import load_listing, parse_nodes
from homelab_kit.backups.restic import Restic
from homelab_kit.backups.restic_json import iter_ls
from homelab_kit.demo.key import cheapen_key


def build(root: Path, files: int, services: int = 10) -> list[str]:
    per_dir = 100
    state_dirs = []
    for s in range(services):
        state_dirs.append(str(root / f"var/lib/svc{s}"))
    for i in range(files // per_dir):
        d = Path(state_dirs[i % services]) / f"d{i // 50}" / f"e{i}"
        d.mkdir(parents=True, exist_ok=True)
        for j in range(per_dir):
            (d / f"f{j}").write_bytes(b"x" * ((i * 7 + j) % 97))
    return state_dirs


def analyse(lst_dirs, state_dirs, lst) -> None:
    lst.size_of(state_dirs)
    lst.biggest_dirs(20, depth=None)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=200_000)
    ap.add_argument("--restic", default=shutil.which("restic") or "restic")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-listing-") as tmp:
        base = Path(tmp)
        t0 = time.perf_counter()
        state_dirs = build(base / "src", args.files)
        pw = base / "pw"
        pw.write_text("bench\n")
        os.environ["RESTIC_CACHE_DIR"] = str(base / "cache")
        r = Restic(repository=str(base / "repo"), password_file=str(pw), binary=args.restic)
        r.init()
        cheapen_key(base / "repo", pw)
        r.backup([str(base / "src")], host="bench")
        sid = r.snapshots()[-1]["id"]
        print(
            f"setup: {args.files} files, restic {'.'.join(map(str, r.version))}, {time.perf_counter() - t0:.1f}s"
        )

        env = {**os.environ, **r.environment()}
        argv = r.ls_argv(sid)
        t_restic = best(
            lambda: subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, check=True),
            args.rounds,
        )
        raw = subprocess.run(argv, env=env, capture_output=True, check=True).stdout

        def parse_and_analyse():
            from homelab_kit.backups.listing import Listing

            nodes, dirs = parse_nodes(iter_ls(io.BytesIO(raw)))
            analyse(dirs, state_dirs, Listing(sid, dirs, None, nodes))

        t_parse = best(parse_and_analyse, args.rounds)
        tracemalloc.start()
        parse_and_analyse()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()

        cache = base / "lab-cache"
        t = time.perf_counter()
        lst = load_listing(r, sid, cache)
        analyse(lst.dirs, state_dirs, lst)
        t_first = time.perf_counter() - t

        def cached():
            lst = load_listing(r, sid, cache)
            assert lst.from_cache
            analyse(lst.dirs, state_dirs, lst)

        t_cached = best(cached, args.rounds)
        print(f"restic ls --json:                {t_restic:8.3f}s  (1.00×)")
        print(
            f"our parse + analysis (orjson):   {t_parse:8.3f}s  ({t_parse / t_restic:.3f}×, target ≤ 0.25×)"
        )
        print(
            f"first analysis end-to-end:       {t_first:8.3f}s  ({t_first / t_restic:.3f}×, restic included)"
        )
        print(
            f"cached re-analysis (parquet):    {t_cached:8.3f}s  ({t_cached / t_restic:.3f}×, target ≤ 0.02×)"
        )
        print(f"peak Python memory while parsing: {peak / 2**20:.0f} MiB; process max RSS "
              f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")  # fmt: skip


if __name__ == "__main__":
    main()
