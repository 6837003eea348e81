"""Pure parts of restore verification: restic's mode/time encodings, selection, comparison, sampling.

The restic values below are copied from real `restic ls --json` output (0.14 and 0.18).
"""

from __future__ import annotations

import pytest

from homelab_kit.restore.compare import (
    ContentSpec,
    Entry,
    compare,
    go_perm,
    node_entry,
    parse_content,
    pick_sample,
    rfc3339_ns,
    select,
    symlink_targets_from_long_listing,
)
from homelab_kit.restore.tree import parse_find

# real lines: /tmp (sticky dir), a setuid file, a symlink, a mode-640 dir
LS_TMP = {
    "name": "tmp",
    "type": "dir",
    "path": "/tmp",
    "uid": 0,
    "gid": 0,
    "mode": 2148532735,
    "mtime": "2026-11-26T14:02:02.087406286Z",
}
LS_SUID = {
    "name": "empty",
    "type": "file",
    "path": "/d/empty",
    "uid": 1234,
    "gid": 5678,
    "size": 0,
    "mode": 8389101,
    "mtime": "2026-11-26T14:02:36.12340753Z",
}
LS_LINK = {
    "name": "link",
    "type": "symlink",
    "path": "/d/link",
    "uid": 0,
    "gid": 0,
    "mode": 134218239,
    "mtime": "2026-11-26T14:01:58.211916859Z",
}
LS_SUB = {
    "name": "sub",
    "type": "dir",
    "path": "/d/sub",
    "uid": 0,
    "gid": 0,
    "mode": 2147484064,
    "mtime": "2026-11-26T14:01:58.207406145+01:00",
}


def test_go_modes_become_unix_permission_bits():
    assert go_perm(LS_TMP["mode"]) == 0o1777
    assert go_perm(LS_SUID["mode"]) == 0o4755
    assert go_perm(LS_LINK["mode"]) == 0o777
    assert go_perm(LS_SUB["mode"]) == 0o640


def test_rfc3339_keeps_nanoseconds_and_offsets():
    assert rfc3339_ns("1970-01-01T00:00:01.000000001Z") == 1_000_000_001
    assert rfc3339_ns("2026-11-26T14:02:36.12340753Z") % 1_000_000_000 == 123_407_530
    assert rfc3339_ns("1970-01-01T01:00:00+01:00") == 0
    with pytest.raises(ValueError):
        rfc3339_ns("yesterday")


def test_node_entry_reads_every_field():
    e = node_entry(LS_SUID)
    assert (e.path, e.type, e.size, e.mode, e.uid, e.gid) == (
        "/d/empty",
        "file",
        0,
        0o4755,
        1234,
        5678,
    )
    assert node_entry(LS_SUB).size is None


def _e(path, type="file", **kw):
    base = dict(size=3 if type == "file" else None, mode=0o644, uid=0, gid=0, mtime_ns=10)
    base.update(kw)
    return Entry(path, type, **base)


def test_compare_clean_tree_reports_nothing():
    tree = {p: _e(p) for p in ("/a", "/b")} | {"/d": _e("/d", "dir", mode=0o755)}
    assert compare(tree, dict(tree)) == []


@pytest.mark.parametrize(
    ("found", "kinds"),
    [
        ({}, {"missing"}),
        ({"/a": _e("/a", "dir")}, {"type"}),
        ({"/a": _e("/a", size=2)}, {"size"}),
        ({"/a": _e("/a", mode=0o600)}, {"mode"}),
        ({"/a": _e("/a", uid=5)}, {"uid"}),
        ({"/a": _e("/a", gid=5)}, {"gid"}),
        ({"/a": _e("/a", mtime_ns=11)}, {"mtime"}),
        ({"/a": _e("/a"), "/x": _e("/x")}, {"extra"}),
    ],
)
def test_compare_names_each_kind(found, kinds):
    problems = compare({"/a": _e("/a")}, found)
    assert {p["kind"] for p in problems} == kinds


def test_symlink_target_checked_and_mode_ignored():
    exp = {"/l": _e("/l", "symlink", mode=0o777, target="a")}
    got = {"/l": _e("/l", "symlink", mode=0o755, target="b")}
    assert [p["kind"] for p in compare(exp, got)] == ["symlink_target"]


def test_owner_checks_can_be_skipped():
    assert compare({"/a": _e("/a")}, {"/a": _e("/a", uid=7, gid=7)}, owners=False) == []


def test_select_paths_keeps_ancestors_for_existence_only():
    nodes = [_e("/srv", "dir"), _e("/srv/app", "dir"), _e("/srv/app/f"), _e("/srv/other")]
    chosen, ancestors = select(nodes, ("/srv/app",))
    assert set(chosen) == {"/srv/app", "/srv/app/f"}
    assert set(ancestors) == {"/srv"}
    problems = compare(
        chosen, {"/srv": _e("/srv", "dir", mtime_ns=99), **chosen}, ancestors=ancestors
    )
    assert problems == []


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("full", ContentSpec("full")),
        ("none", ContentSpec("none")),
        ("sample:5%", ContentSpec("sample", fraction=0.05)),
        ("sample:20", ContentSpec("sample", count=20)),
    ],
)
def test_parse_content(spec, expected):
    assert parse_content(spec) == expected
    assert str(parse_content(spec)) == spec


@pytest.mark.parametrize("bad", ["all", "sample:0%", "sample:200%", "sample:", "sample:1.5"])
def test_parse_content_rejects(bad):
    with pytest.raises(ValueError, match="content"):
        parse_content(bad)


def test_sample_sizes():
    files = [f"/f{i}" for i in range(200)]
    assert len(pick_sample(files, ContentSpec("sample", fraction=0.05), seed=1)) == 10
    assert len(pick_sample(files, ContentSpec("sample", fraction=0.001), seed=1)) == 1
    assert pick_sample(files, ContentSpec("sample", count=3), seed=2) == pick_sample(
        files, ContentSpec("sample", count=3), seed=2
    )
    assert pick_sample(files, ContentSpec("none")) == []


def test_long_listing_targets_with_odd_names():
    text = (
        "snapshot 49969a34 of [/d] at ...:\n"
        "Lrwxrwxrwx     0     0      0 2026-11-26 14:02:36 /d/link -> a b.txt\n"
        "Lrwxrwxrwx     0     0      0 2026-11-26 14:02:36 /d/new\nline -> x -> y\n"
    )
    assert symlink_targets_from_long_listing(text, ["/d/link", "/d/new\nline"]) == {
        "/d/link": "a b.txt",
        "/d/new\nline": "x -> y",
    }


def test_parse_find_output():
    raw = b"f\x005\x004755\x001000\x00100\x001795701756.1274075300\x00\x00a b\nc\x00"
    raw += b"l\x007\x00777\x000\x000\x001.5000000000\x00a b\nc\x00lnk\x00"
    got = parse_find(raw)
    assert got["/a b\nc"] == Entry("/a b\nc", "file", 5, 0o4755, 1000, 100, 1795701756_127407530)
    assert got["/lnk"].target == "a b\nc" and got["/lnk"].mtime_ns == 1_500_000_000
