"""homelab_kit.backups.restic against real repositories made by restic 0.14 and 0.18."""

from __future__ import annotations

import io
import subprocess
import time
from datetime import UTC, datetime

import pytest

from homelab_kit.backups import restic_json as rj
from homelab_kit.backups.restic import Restic, policy_argv
from homelab_kit.errors import (
    RepositoryLocked,
    RepositoryNotFound,
    ResticNotInstalled,
    ResticOutputError,
    WrongPassword,
)
from homelab_kit.transport.runner import Result
from tests.restic_repos import make_tree, new_repo


@pytest.fixture
def repo(restic_bin, tmp_path_factory, tmp_path, monkeypatch):
    return new_repo(restic_bin, tmp_path_factory, tmp_path / "r", monkeypatch)


def test_backup_snapshots_stats_and_ls(repo, tmp_path):
    src = make_tree(
        tmp_path / "src",
        {"app/db.sqlite3": b"x" * 3000, "app/conf/a.ini": "a=1\n", "media/p.jpg": b"j" * 500},
    )
    s1 = repo.backup([str(src)], host="n100", time="2024-05-01 03:00:00", tags=["nightly"])
    assert s1["exit_code"] == 0 and s1["total_files_processed"] == 3
    (src / "media" / "q.jpg").write_bytes(b"q" * 700)
    repo.backup([str(src)], host="n100", time="2024-05-02 03:00:00")
    snaps = repo.snapshots()
    assert [s["time"] for s in snaps] == [
        datetime(2024, 5, 1, 3, tzinfo=UTC),
        datetime(2024, 5, 2, 3, tzinfo=UTC),
    ]
    first, second = snaps
    assert len(first["id"]) == 64 and first["short_id"] == first["id"][:8]
    assert first["id"].startswith(s1["snapshot_id"][:8])  # short id before 0.17, full after
    assert first["tags"] == ("nightly",) and second["tags"] == () and first["paths"] == (str(src),)
    if repo.version >= (0, 17, 0):
        assert second["files_new"] == 1 and second["total_bytes_processed"] == 4204
    else:
        assert second["files_new"] is None  # no summary in 0.14 snapshots
    st = repo.stats(second["id"])
    assert st["total_size"] == 4204 and st["total_file_count"] >= 4
    raw = repo.stats(mode="raw-data")
    assert raw["total_size"] > 0 and raw["snapshots_count"] == 2
    with repo.ls(second["id"]) as nodes:
        listing = {n["path"]: n for n in nodes}
    assert listing[str(src / "app/db.sqlite3")]["size"] == 3000
    assert (
        listing[str(src / "media")]["type"] == "dir" and "size" not in listing[str(src / "media")]
    )
    assert str(src / "media/q.jpg") in listing


def test_version_detection(repo):
    assert repo.version >= (0, 14, 0)
    out = subprocess.run([repo.binary, "version"], capture_output=True, text=True).stdout
    assert rj.parse_version(out) == repo.version


def test_wrong_password(repo, tmp_path):
    bad = tmp_path / "bad"
    bad.write_text("nope\n")
    wrong = Restic(repository=repo.repository, password_file=str(bad), binary=repo.binary)
    with pytest.raises(WrongPassword, match="password_file"):
        wrong.snapshots()


def test_missing_repository(repo, tmp_path):
    missing = Restic(
        repository=str(tmp_path / "none"), password_file=repo.password_file, binary=repo.binary
    )
    with pytest.raises(RepositoryNotFound, match="restic init"):
        missing.snapshots()


def test_not_installed(tmp_path):
    r = Restic(
        repository=str(tmp_path), password_file="/dev/null", binary=str(tmp_path / "no-restic")
    )
    with pytest.raises(ResticNotInstalled, match="apt install restic"):
        r.snapshots()


def test_locked_repository(repo, tmp_path):
    """A real backup reading stdin holds a lock; an exclusive forget must say 'restic unlock'."""
    holder = subprocess.Popen(
        [repo.binary, "backup", "--stdin", "--host", "x"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**__import__("os").environ, **repo.environment()},
    )
    try:
        locks = __import__("pathlib").Path(repo.repository) / "locks"
        deadline = time.monotonic() + 20
        while not any(locks.iterdir()) and time.monotonic() < deadline:
            time.sleep(0.05)
        with pytest.raises(RepositoryLocked, match="restic unlock"):
            repo.forget({"last": 10})
    finally:
        holder.communicate(b"data")
    assert holder.returncode == 0


def test_password_never_in_argv(repo):
    assert (
        repo.password_file not in repo.argv("snapshots")
        and "RESTIC_PASSWORD_FILE" in repo.environment()
    )
    r = Restic(repository="rest:https://u:secret@h/", password_command="sops -d pw")
    assert all("secret" not in a for a in r.argv("snapshots", "--json"))
    assert r.environment()["RESTIC_PASSWORD_COMMAND"] == "sops -d pw"


def test_policy_argv():
    assert policy_argv({"daily": 7, "monthly": -1, "within": "30d", "tags": ["a,b"]}, "host") == [
        "--keep-daily", "7", "--keep-monthly", "unlimited", "--keep-within", "30d",
        "--keep-tag", "a,b", "--group-by", "host",
    ]  # fmt: skip


# --- recorded real output -------------------------------------------------------------------

SNAP_014 = '[{"time":"2024-01-01T10:00:00.123456789+01:00","tree":"49c4","paths":["/d"],"hostname":"h1","username":"root","id":"8b1771004e545216fe6950691f9f6de294781df4c80dabd826f43b379041b923","short_id":"8b177100"}]\n'
FORGET_014 = (
    '[{"tags":null,"host":"h1","paths":["/d"],"keep":[{"time":"2024-01-02T10:00:00Z","tree":"t2","paths":["/d"],'
    '"hostname":"h1","id":"838c","short_id":"838c"}],"remove":[{"time":"2024-01-01T10:00:00Z","tree":"t1",'
    '"paths":["/d"],"hostname":"h1","id":"8b17","short_id":"8b17"}],"reasons":[{"snapshot":{"time":'
    '"2024-01-02T10:00:00Z","tree":"t2","paths":["/d"],"hostname":"h1"},"matches":["last snapshot"],"counters":{}}]}]\n'
    "1 snapshots have been removed, running prune\nloading indexes...\n"
)


def test_recorded_014_outputs_parse():
    (s,) = rj.parse_snapshots('Ignoring "x": no matching ID\n' + SNAP_014)
    assert s["time"].utcoffset().total_seconds() == 3600 and s["time"].microsecond == 123456
    assert s["tags"] == () and s["data_added"] is None
    (g,) = rj.parse_forget(FORGET_014)
    assert g == {
        "host": "h1",
        "paths": ("/d",),
        "tags": (),
        "keep": ["838c"],
        "remove": ["8b17"],
        "reasons": {"838c": ["last snapshot"]},
    }


def test_ls_lines_of_both_versions_and_bad_output():
    lines = (
        b'{"time":"2024-01-02T10:00:00Z","id":"x","struct_type":"snapshot"}\n'
        b'{"name":"a","type":"dir","path":"/a","struct_type":"node"}\n'
        b'{"name":"f","type":"file","path":"/a/f","size":6,"message_type":"node","struct_type":"node"}\n'
    )
    assert [n["path"] for n in rj.iter_ls(io.BytesIO(lines))] == ["/a", "/a/f"]
    with pytest.raises(ResticOutputError, match="line 2"):
        list(rj.iter_ls(io.BytesIO(lines.split(b"\n")[0] + b'\n{"name": broken\n')))
    with pytest.raises(ResticOutputError, match="first line: 'Fatal: oops'"):
        rj.parse_snapshots("Fatal: oops\n")


def test_018_exit_error_json_is_classified():
    from homelab_kit.backups.restic import classify_failure

    res = Result(
        "nas",
        ("restic", "snapshots"),
        12,
        "",
        '{"message_type":"exit_error","code":12,"message":"Fatal: wrong password or no key found"}\n',
        0.1,
    )
    assert isinstance(classify_failure(res, "/repo", "snapshots"), WrongPassword)
    res = Result(
        "nas",
        ("restic", "snapshots"),
        1,
        "",
        "Fatal: unable to open config file: stat /r/config: no such file or directory\nIs there a repository at the following location?\n/r\n",
        0.1,
    )
    assert isinstance(classify_failure(res, "/r", "snapshots"), RepositoryNotFound)
