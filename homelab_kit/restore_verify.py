"""The verification run: snapshot listing + restored tree + streamed dump → problems and counts.

Glue between restic (listing, dump), restore_tree (the restored side) and verify (the pure
comparison). restore.py calls it after a restore; verify_restore calls it on a tree restored by hand.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .errors import HomelabError
from .restore_tree import HostTree, LocalTree, stream_dump
from .runner import LocalRunner, Runner
from .verify import (
    Entry,
    compare,
    count_nodes,
    node_entry,
    parse_content,
    pick_sample,
    select,
    symlink_targets_from_long_listing,
)

if TYPE_CHECKING:
    from .restic import Restic


def tree_for(runner: Runner, target: str) -> LocalTree | HostTree:
    """Read a local tree directly (fast, threaded); anything else through its runner."""
    return LocalTree(target) if isinstance(runner, LocalRunner) else HostTree(runner, target)


def snapshot_entries(restic: Restic, snapshot_id: str) -> list[Entry]:
    with restic.ls(snapshot_id) as nodes:
        return [node_entry(n) for n in nodes]


def _dump_roots(expected: dict[str, Entry], paths: tuple[str, ...] | None) -> list[tuple[str, str]]:
    if paths is None:
        return [("/", "dir")]
    roots = []
    for p in paths:
        e = expected.get(p)
        if e is not None and e.type in ("dir", "file"):
            roots.append((p, e.type))
    return roots


def _progress_bar(total: int, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(
        total=total,
        unit="B",
        unit_scale=True,
        desc="verify content",
        disable=not enabled,
        leave=False,
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
    verify_seconds. `owners=None` checks owners only when the tree's host user is root.
    """
    start = time.monotonic()
    spec = parse_content(content)
    tree = tree or tree_for(restic.runner, target)
    entries = snapshot_entries(restic, snapshot_id)
    expected, ancestors = select(entries, paths)
    if paths is not None:
        unknown = [p for p in paths if p not in expected]
        if unknown:
            raise HomelabError(
                f"snapshot {snapshot_id[:8]} has no {', '.join(unknown)}; "
                f"list it with `restic ls {snapshot_id[:8]}`"
            )
    found = tree.scan()
    if owners is None:
        owners = tree.is_root()

    sizes = {p: e.size or 0 for p, e in expected.items() if e.type == "file"}
    sample = pick_sample(list(sizes), spec, seed)
    wanted = {
        p
        for p in sample
        if (f := found.get(p)) is not None and f.type == "file" and f.size == sizes[p]
    }
    links: dict[str, str] = {}
    digests: dict[str, str] = {}
    roots = _dump_roots(expected, paths)
    if wanted:
        with _progress_bar(sum(sizes[p] for p in wanted), progress) as bar:
            digests, links = stream_dump(
                restic, snapshot_id, roots, wanted=wanted, tree=tree, progress=bar.update
            )
    symlinks = [p for p, e in expected.items() if e.type == "symlink" and p not in links]
    if symlinks:
        listing = restic.run("ls", "-l", snapshot_id, what=f"ls -l {snapshot_id[:8]}").stdout
        links.update(symlink_targets_from_long_listing(listing, symlinks))
    expected = {
        p: replace(e, target=links.get(p)) if e.type == "symlink" else e
        for p, e in expected.items()
    }

    problems = compare(expected, found, ancestors=ancestors, owners=owners)
    actual = tree.hashes()
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
    }
