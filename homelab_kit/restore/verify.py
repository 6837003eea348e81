"""The verification run: snapshot listing + restored tree + streamed dump → problems and counts.

Glue between restic (listing, dump), tree.py (the restored side) and compare.py (the pure
comparison). scratch.restore_test calls it after a restore; verify_restore calls it on a tree restored by hand.
"""

from __future__ import annotations

import contextlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..errors import HomelabError
from ..transport.runner import LocalRunner, Runner
from .compare import (
    ContentSpec,
    Entry,
    compare,
    count_nodes,
    node_entry,
    parse_content,
    pick_sample,
    select,
    symlink_targets_from_long_listing,
    within,
)
from .dump_hash import PER_CALL_SECONDS, Cancelled, dump_files, per_file_is_cheaper, stream_dump
from .tree import HostTree, LocalTree

if TYPE_CHECKING:
    from ..backups.restic import Restic


def tree_for(
    runner: Runner, target: str, scope: tuple[str, ...] | None = None
) -> LocalTree | HostTree:
    """Read a local tree directly (fast, threaded); anything else through its runner."""
    if isinstance(runner, LocalRunner):
        return LocalTree(target, scope=scope)
    return HostTree(runner, target, scope=scope)


def snapshot_entries(restic: Restic, snapshot_id: str) -> list[Entry]:
    """The snapshot's nodes from `restic ls --json`."""
    with restic.ls(snapshot_id) as nodes:
        return [node_entry(n) for n in nodes]


class _Wanted:
    """The files whose bytes are compared, once known; until then the dump hashes every file."""

    def __init__(self) -> None:
        self.files: set[str] | None = None

    def __call__(self, path: str) -> bool:
        files = self.files
        return files is None or path in files


def long_listing_of(restic: Restic, snapshot_id: str) -> str:
    """`restic ls -l` text: where symlink targets come from when no tar dump passes them."""
    ro = ["--no-lock"] if restic.no_lock else []
    return restic.run("ls", *ro, "-l", snapshot_id, what=f"ls -l {snapshot_id[:8]}").stdout


def _small_count(spec: ContentSpec, workers: int) -> bool:
    """A `sample:N` so small that single-file dumps surely beat one whole dump."""
    return spec.count is not None and spec.count * PER_CALL_SECONDS / workers <= 2.0


def _progress_bar(enabled: bool) -> Any:
    from ..progress import progress_bar

    return progress_bar(
        unit="B", unit_scale=True, desc="verify content", enabled=enabled, leave=False
    )


def _check_paths(
    snapshot_id: str, paths: tuple[str, ...] | None, expected: dict[str, Entry]
) -> None:
    unknown = [p for p in paths or () if p not in expected]
    if unknown:
        raise HomelabError(
            f"snapshot {snapshot_id[:8]} has no {', '.join(unknown)}; "
            f"list it with `restic ls {snapshot_id[:8]}`"
        )


def verify_tree(
    restic: Restic,
    snapshot_id: str,
    target: str,
    *,
    paths: tuple[str, ...] | None = None,
    content: str = "full",
    owners: bool | None = None,
    seed: int | None = None,
    progress: bool = True,
    tree: LocalTree | HostTree | None = None,
) -> dict[str, Any]:
    """Compare `target` (restored with restic's layout: target + snapshot path) with the snapshot.

    Returns the RestoreReport fields: problem_list, counts, content_files/bytes, checks,
    verify_seconds, plus `snapshot`: what the listing tells the app checks and the drill (the
    snapshot's SQLite `-wal` files, and the node counts under each selected path).
    `owners=None` checks owners only when the tree's host user is root.

    Everything that can overlap does: `restic ls --json` and `restic dump --archive tar` start at
    once, the restored tree is walked meanwhile, and its files are hashed on all cores while the
    dump streams. A small sample is read with one `restic dump` per file instead.
    """
    start = time.monotonic()
    spec = parse_content(content)
    tree = tree or tree_for(restic.runner, target)
    workers = max(2, getattr(tree, "workers", 2))
    stop, stop_whole = threading.Event(), threading.Event()
    want = _Wanted()
    bar = _progress_bar(progress)
    pool = ThreadPoolExecutor(2, thread_name_prefix="verify")

    def dump_whole() -> tuple[dict[str, str], dict[str, str]]:
        roots: list[tuple[str, str]] = [("/", "dir")]
        if paths is not None:
            kinds = {e.path: e.type for e in listing.result()}
            roots = [(p, kinds[p]) for p in paths if kinds.get(p) in ("dir", "file")]
        return stream_dump(
            restic, snapshot_id, roots, want=want, progress=bar.update, stop=stop_whole
        )

    def dump_sampled(files: list[str]) -> tuple[dict[str, str], dict[str, str]]:
        digests = dump_files(
            restic, snapshot_id, files, workers=workers, progress=bar.update, stop=stop
        )
        return digests, {}

    long_listing = None
    try:
        listing = pool.submit(snapshot_entries, restic, snapshot_id)
        whole = None
        if spec.mode == "full" or (spec.mode == "sample" and not _small_count(spec, workers)):
            whole = pool.submit(dump_whole)
        found = tree.scan()
        if owners is None:
            owners = tree.is_root()
        expected, ancestors = select(listing.result(), paths)
        _check_paths(snapshot_id, paths, expected)

        sizes = {p: e.size or 0 for p, e in expected.items() if e.type == "file"}
        sample = pick_sample(list(sizes), spec, seed)
        wanted = {
            p
            for p in sample
            if (f := found.get(p)) is not None and f.type == "file" and f.size == sizes[p]
        }
        want.files = wanted
        bar.reset(total=sum(sizes[p] for p in wanted))
        tree.start_hashes(sorted(wanted), sizes)
        per_file = bool(wanted) and (
            spec.mode == "sample"
            and per_file_is_cheaper(len(wanted), len(sizes), sum(sizes.values()), workers)
        )
        dump = whole
        if whole is not None and (per_file or not wanted):
            stop_whole.set()
            with contextlib.suppress(Cancelled):
                whole.result()
            dump = None
        if per_file:
            dump = pool.submit(dump_sampled, sorted(wanted))
        elif dump is None and wanted:
            dump = pool.submit(dump_whole)
        if (per_file or dump is None) and any(e.type == "symlink" for e in expected.values()):
            long_listing = pool.submit(long_listing_of, restic, snapshot_id)  # no tar to tell
        digests, links = dump.result() if dump is not None else ({}, {})
        actual = tree.hashes()
        symlinks = [p for p, e in expected.items() if e.type == "symlink" and p not in links]
        if symlinks:
            text = (long_listing or pool.submit(long_listing_of, restic, snapshot_id)).result()
            links.update(symlink_targets_from_long_listing(text, symlinks))
    except BaseException:
        stop.set()
        stop_whole.set()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        tree.close()
        bar.close()
    expected = {
        p: replace(e, target=links.get(p)) if e.type == "symlink" else e
        for p, e in expected.items()
    }

    problems = compare(expected, found, ancestors=ancestors, owners=owners)
    content_bytes = 0
    for path in sorted(wanted):
        got = actual.get(path)
        exp = digests.get(path)
        if isinstance(got, Exception) or got is None:
            problems.append(
                {"path": path, "kind": "unreadable", "expected": "readable file", "found": str(got)}
            )
        elif exp is None:
            problems.append(
                {
                    "path": path,
                    "kind": "content",
                    "expected": "in restic dump",
                    "found": "not dumped",
                }
            )
        elif got != exp:
            problems.append(
                {
                    "path": path,
                    "kind": "content",
                    "expected": f"sha256 {exp[:16]}…",
                    "found": f"sha256 {got[:16]}…",
                }
            )
        content_bytes += sizes[path]

    checks = {
        "completeness": "checked",
        "type, size, mode, mtime": "checked",
        "owner (uid/gid)": "checked" if owners else "skipped: the restore did not run as root",
        "symlink target": "checked"
        if all(e.target is not None for e in expected.values() if e.type == "symlink")
        else "partly: some targets unknown",
        "content": {
            "full": "checked: every regular file (sha256)",
            "none": "skipped: content=none",
            "sample": f"sampled: {len(sample)} of {len(sizes)} files ({spec})",
        }[spec.mode],
    }
    return {
        "problem_list": sorted(problems, key=lambda p: p["path"]),
        **count_nodes(expected),
        "content_files": len(wanted),
        "content_bytes": content_bytes,
        "checks": checks,
        "content": str(spec),
        "verify_seconds": time.monotonic() - start,
        "snapshot": {
            "wal_files": sorted(e.path for e in listing.result() if e.path.endswith("-wal")),
            "path_counts": {
                p: count_nodes({k: e for k, e in expected.items() if within(k, p)})
                for p in paths or ()
            },
        },
    }
