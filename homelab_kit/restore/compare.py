"""Verify a restored tree against the snapshot it came from, node by node.

The snapshot side is restic's own listing (`ls --json`: type, size, mode, uid/gid, mtime to the
nanosecond) plus the bytes of `restic dump --archive tar` (content and symlink targets); the restored
side is a walk of the target on its host (tree.py). The comparison itself is pure: two dicts of
`Entry` in, a list of problems out. A problem is `{path, kind, expected, found}` with kind one of
KINDS. Owner checks are *skipped* (and said so) when the restore did not run as root.
"""

from __future__ import annotations

import posixpath
import random
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..lab.paths import within

KINDS = (
    "missing",
    "extra",
    "type",
    "size",
    "mode",
    "uid",
    "gid",
    "mtime",
    "symlink_target",
    "content",
    "unreadable",
)

# Go's os.FileMode bits as restic stores them in `mode`.
_GO_DIR, _GO_SYMLINK, _GO_SETUID, _GO_SETGID, _GO_STICKY = (
    1 << 31,
    1 << 27,
    1 << 23,
    1 << 22,
    1 << 20,
)
_FRACTION = re.compile(r"^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$")
_SAMPLE = re.compile(r"^sample:(\d+(?:\.\d+)?)(%?)$")


@dataclass(frozen=True, slots=True)
class Entry:
    """One file system node, on either side: path is absolute *inside the snapshot*."""

    path: str
    type: str  # file, dir, symlink, fifo, socket, dev, chardev, irregular
    size: int | None = None
    mode: int | None = None  # permission bits with setuid/setgid/sticky (0o7777)
    uid: int | None = None
    gid: int | None = None
    mtime_ns: int | None = None
    target: str | None = None  # symlink target, when known


def go_perm(mode: int) -> int:
    """restic's Go FileMode → unix permission bits (0o7777)."""
    perm = mode & 0o777
    if mode & _GO_SETUID:
        perm |= 0o4000
    if mode & _GO_SETGID:
        perm |= 0o2000
    if mode & _GO_STICKY:
        perm |= 0o1000
    return perm


def rfc3339_ns(text: str) -> int:
    """'2026-11-26T14:01:58.211916859Z' → nanoseconds since the epoch (no precision lost)."""
    m = _FRACTION.match(text.strip())
    if not m:
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    base, frac, zone = m.groups()
    seconds = int(datetime.fromisoformat(base + zone.replace("Z", "+00:00")).timestamp())
    return seconds * 1_000_000_000 + int(((frac or "") + "000000000")[:9])


def node_entry(node: Mapping[str, Any]) -> Entry:
    """A `restic ls --json` node → Entry."""
    kind = node.get("type", "irregular")
    mode = node.get("mode")
    mtime = node.get("mtime")
    return Entry(
        path=node["path"],
        type=kind,
        size=int(node.get("size") or 0) if kind == "file" else None,
        mode=go_perm(int(mode)) if mode is not None else None,
        uid=node.get("uid"),
        gid=node.get("gid"),
        mtime_ns=rfc3339_ns(mtime) if mtime else None,
    )


def normalise_paths(paths: Iterable[str] | None) -> tuple[str, ...] | None:
    """User paths → absolute normalised snapshot paths (None = everything)."""
    if paths is None:
        return None
    out = []
    for p in paths:
        if not p.startswith("/"):
            raise ValueError(f"path {p!r} must be absolute (as stored in the snapshot)")
        out.append(posixpath.normpath(p))
    return tuple(out) or None


def select(
    nodes: Iterable[Entry], paths: tuple[str, ...] | None
) -> tuple[dict[str, Entry], dict[str, Entry]]:
    """Split a listing into (selected nodes, their ancestors); ancestors are only checked to exist."""
    selected: dict[str, Entry] = {}
    others: dict[str, Entry] = {}
    for e in nodes:
        if paths is None or any(within(e.path, p) for p in paths):
            selected[e.path] = e
        else:
            others[e.path] = e
    if paths is None:
        return selected, {}
    needed = {a for p in selected for a in _ancestors(p)} - set(selected)
    return selected, {p: others[p] for p in needed if p in others}


def _ancestors(path: str) -> Iterable[str]:
    while path not in ("/", ""):
        path = posixpath.dirname(path)
        if path != "/":
            yield path


@dataclass(frozen=True)
class ContentSpec:
    """What content to compare: all files, none, a fraction or a number of files."""

    mode: str  # full | none | sample
    fraction: float | None = None
    count: int | None = None

    def __str__(self) -> str:
        if self.mode != "sample":
            return self.mode
        return (
            f"sample:{self.fraction * 100:g}%"
            if self.fraction is not None
            else f"sample:{self.count}"
        )


def parse_content(spec: str | ContentSpec) -> ContentSpec:
    """'full' | 'none' | 'sample:5%' | 'sample:20' → ContentSpec (ValueError saying what is allowed)."""
    if isinstance(spec, ContentSpec):
        return spec
    text = (spec or "full").strip().lower()
    if text in ("full", "none"):
        return ContentSpec(text)
    m = _SAMPLE.match(text)
    if m:
        value = float(m.group(1))
        if m.group(2):
            if not 0 < value <= 100:
                raise ValueError(f"content {spec!r}: the sample must be between 0% and 100%")
            return ContentSpec("sample", fraction=value / 100)
        if value < 1 or value != int(value):
            raise ValueError(f"content {spec!r}: a sample count must be a whole number ≥ 1")
        return ContentSpec("sample", count=int(value))
    raise ValueError(f"content {spec!r}: expected full, none, sample:N% or sample:N")


def pick_sample(files: list[str], spec: ContentSpec, seed: int | None = None) -> list[str]:
    """The files whose bytes are compared: all, none or a random sample (at least one file)."""
    if spec.mode == "none" or not files:
        return []
    if spec.mode == "full":
        return list(files)
    n = round(len(files) * spec.fraction) if spec.fraction is not None else int(spec.count or 1)
    n = min(len(files), max(1, n))
    return random.Random(seed).sample(sorted(files), n)


def _mtime(ns: int | None) -> str:
    if ns is None:
        return "-"
    return (
        datetime.fromtimestamp(ns // 1_000_000_000).astimezone().isoformat()
        + f" (+{ns % 1_000_000_000}ns)"
    )


def _problem(path: str, kind: str, expected: Any, found: Any) -> dict[str, str]:
    return {"path": path, "kind": kind, "expected": str(expected), "found": str(found)}


def compare(
    expected: Mapping[str, Entry],
    found: Mapping[str, Entry],
    *,
    ancestors: Mapping[str, Entry] | None = None,
    owners: bool = True,
    mtime_tolerance_ns: int = 0,
) -> list[dict[str, str]]:
    """Every difference between the snapshot's nodes and the restored tree's entries.

    `found` may hold the whole target; entries that are neither expected nor ancestors are extra.
    Ancestors (parents of a restored sub-path) must exist as directories; their metadata is not
    restored by restic and is not compared.
    """
    ancestors = ancestors or {}
    problems: list[dict[str, str]] = []
    for path, exp in expected.items():
        got = found.get(path)
        if got is None:
            problems.append(_problem(path, "missing", exp.type, "-"))
            continue
        if got.type != exp.type:
            problems.append(_problem(path, "type", exp.type, got.type))
            continue
        if exp.type == "file" and exp.size is not None and got.size != exp.size:
            problems.append(_problem(path, "size", exp.size, got.size))
        if exp.type != "symlink" and exp.mode is not None and got.mode != exp.mode:
            problems.append(_problem(path, "mode", f"{exp.mode:04o}", f"{got.mode or 0:04o}"))
        if owners:
            if exp.uid is not None and got.uid != exp.uid:
                problems.append(_problem(path, "uid", exp.uid, got.uid))
            if exp.gid is not None and got.gid != exp.gid:
                problems.append(_problem(path, "gid", exp.gid, got.gid))
        if (
            exp.mtime_ns is not None
            and got.mtime_ns is not None
            and abs(got.mtime_ns - exp.mtime_ns) > mtime_tolerance_ns
        ):
            problems.append(_problem(path, "mtime", _mtime(exp.mtime_ns), _mtime(got.mtime_ns)))
        if exp.type == "symlink" and exp.target is not None and got.target != exp.target:
            problems.append(_problem(path, "symlink_target", exp.target, got.target))
    for path, anc in ancestors.items():
        got = found.get(path)
        if got is None:
            problems.append(_problem(path, "missing", anc.type, "-"))
        elif got.type != anc.type:
            problems.append(_problem(path, "type", anc.type, got.type))
    for path, got in found.items():
        if path not in expected and path not in ancestors:
            problems.append(_problem(path, "extra", "-", got.type))
    return sorted(problems, key=lambda p: (p["path"], KINDS.index(p["kind"])))


def count_nodes(expected: Mapping[str, Entry]) -> dict[str, int]:
    """files, dirs, symlinks, other and bytes of the selected snapshot nodes."""
    counts = {"files": 0, "dirs": 0, "symlinks": 0, "other": 0, "bytes": 0}
    for e in expected.values():
        key = {"file": "files", "dir": "dirs", "symlink": "symlinks"}.get(e.type, "other")
        counts[key] += 1
        if e.type == "file":
            counts["bytes"] += e.size or 0
    return counts


def symlink_targets_from_long_listing(text: str, links: Iterable[str]) -> dict[str, str]:
    """Targets of the given symlink paths from `restic ls -l` text (`… /path -> target`).

    Searching for the known path (rather than splitting lines) copes with names holding spaces,
    arrows or newlines; a target that itself holds a newline is cut at it.
    """
    out: dict[str, str] = {}
    for path in links:
        marker = f" {path} -> "
        at = text.find(marker)
        if at >= 0:
            start = at + len(marker)
            end = text.find("\n", start)
            out[path] = text[start : end if end >= 0 else len(text)]
    return out
