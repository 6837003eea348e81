"""Restore tests with the real restic (0.14 and 0.18) on real files.

The backed-up tree has files owned by two users the tests create with useradd, modes with setuid
and sticky bits, symlinks, a hard link, an empty file, a sparse file and names with spaces and
newlines. A restored copy is then damaged in every way the verifier must catch, and each damage has
to come back with the right kind; a clean restore must report nothing.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
from pathlib import Path

import pytest
import tomlkit

from homelab_kit.backups.restic import Restic
from homelab_kit.cli import main
from homelab_kit.errors import HomelabError, UnsafePathError
from homelab_kit.lab.model import Lab
from homelab_kit.restore.history import restore_history
from homelab_kit.restore.inplace import restore_in_place
from homelab_kit.restore.scratch import check_scratch_target, restore_test, verify_restore
from homelab_kit.restore.tree import HostTree
from homelab_kit.restore.verify import verify_tree
from homelab_kit.transport.runner import LocalRunner

pytestmark = pytest.mark.timeout(120)
USERS = ("hlk-rt-alice", "hlk-rt-bob")
MTIME = 1_700_000_000_123_456_789
DATA = "hosts/n1/var/lib/app"


@pytest.fixture(scope="module")
def users():
    """Two real users (created with useradd, removed afterwards): name → (uid, gid)."""
    created = []
    for name in USERS:
        try:
            pwd.getpwnam(name)
        except KeyError:
            subprocess.run(
                ["useradd", "--system", "--no-create-home", "--user-group", name], check=True
            )
            created.append(name)
    yield {n: (pwd.getpwnam(n).pw_uid, pwd.getpwnam(n).pw_gid) for n in USERS}
    for name in created:
        subprocess.run(["userdel", name], check=False)


def _tree(root: Path, users: dict) -> None:
    alice, bob = users["hlk-rt-alice"], users["hlk-rt-bob"]
    root.mkdir(parents=True)
    (root / "plain.txt").write_text("plain text\n")
    os.chown(root / "plain.txt", *alice)
    os.chmod(root / "plain.txt", 0o640)
    os.link(root / "plain.txt", root / "hard link")
    (root / "bob").mkdir(mode=0o750)
    (root / "bob" / "notes.md").write_bytes(os.urandom(70_000))
    os.chown(root / "bob", *bob)
    os.chown(root / "bob" / "notes.md", *bob)
    (root / "empty").touch()
    with open(root / "sparse.img", "wb") as f:
        f.truncate(4 << 20)
        f.seek(2 << 20)
        f.write(b"data in the middle")
    (root / "name with spaces.txt").write_text("spaces")
    (root / "new\nline.txt").write_text("newline")
    (root / "setuid-tool").write_bytes(b"#!/bin/sh\n")
    os.chmod(root / "setuid-tool", 0o4755)
    (root / "shared").mkdir()
    os.chmod(root / "shared", 0o1777)
    os.symlink("plain.txt", root / "link")
    os.lchown(root / "link", *alice)
    mut = root / "mut"
    mut.mkdir()
    for name in ("flip.bin", "trunc.bin"):
        (mut / name).write_bytes(os.urandom(50_000))
    for name in ("gone.txt", "owner.txt", "mode.txt", "mtime.txt", "typed"):
        (mut / name).write_text(name)
    os.symlink("flip.bin", mut / "target-link")
    for p in [*mut.iterdir(), mut, root / "plain.txt"]:
        os.utime(p, ns=(MTIME, MTIME), follow_symlinks=False)


def _lab(tmp: Path, restic_bin: str) -> Lab:
    """A one-host local lab; lab.toml is written too, for the CLI."""
    (tmp / "pw").write_text("test-password\n")
    doc = {
        "lab": {"name": "rt"},
        "hosts": {"n1": {"transport": "local"}},
        "services": {"app": {"host": "n1", "state_dirs": [DATA]}},
        "backups": {
            "b": {"host": "n1", "repository": "repo", "password_file": "pw", "restic": restic_bin}
        },
    }
    (tmp / "lab.toml").write_text(tomlkit.dumps(doc))
    return Lab.from_dict(doc, path=tmp / "lab.toml")


_WORLDS: dict[str, tuple[Lab, Path]] = {}


@pytest.fixture
def world(restic_bin, users, tmp_path_factory):
    """A lab with one backup of the rich tree, made once per restic version: (lab, data path)."""
    if restic_bin not in _WORLDS:
        tmp = tmp_path_factory.mktemp("world")
        lab = _lab(tmp, restic_bin)
        data = tmp / DATA
        _tree(data, users)
        restic = Restic.for_backup(lab.backups["b"], lab)
        restic.init()
        restic.backup([str(data)])
        _WORLDS[restic_bin] = (lab, data)
    return _WORLDS[restic_bin]


def test_clean_restore_reports_nothing(world):
    lab, data = world
    report = restore_test(lab, "b", progress=False)
    assert report.ok, report.problem_list
    assert report.problems.empty and list(report.problems.columns) == [
        "path",
        "kind",
        "expected",
        "found",
    ]
    assert report.files == 15 and report.symlinks == 2
    assert report.content_files == report.files and report.content_bytes == report.bytes > 4 << 20
    assert report.checks["owner (uid/gid)"] == "checked"
    assert report.restic_version.startswith("0.")
    assert not Path(report.target).exists()  # scratch removed
    assert "verified clean" in report._repr_html_()
    history = restore_history(lab)
    assert history.iloc[-1]["ok"] and history.iloc[-1]["snapshot_id"] == report.snapshot_id


def _keep_mtime(path: Path):
    st = os.lstat(path)
    return lambda: os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)


def _damage(root: Path, users: dict) -> dict[str, set[str]]:
    """Damage a restored copy of the data in every way; return path-in-snapshot → expected kinds."""
    mut = root / "mut"
    restore_dir_mtime = _keep_mtime(mut)
    flip = mut / "flip.bin"
    reset = _keep_mtime(flip)
    with open(flip, "r+b") as f:
        f.seek(1234)
        byte = f.read(1)
        f.seek(1234)
        f.write(bytes([byte[0] ^ 0xFF]))
    reset()
    reset = _keep_mtime(mut / "trunc.bin")
    os.truncate(mut / "trunc.bin", 100)
    reset()
    (mut / "gone.txt").unlink()
    (mut / "extra.txt").write_text("not in the snapshot")
    os.utime(mut / "extra.txt", ns=(MTIME, MTIME))
    os.chown(mut / "owner.txt", *users["hlk-rt-bob"])
    os.chmod(mut / "mode.txt", 0o600)
    os.utime(mut / "mtime.txt", ns=(MTIME + 5_000_000_000, MTIME + 5_000_000_000))
    reset = _keep_mtime(mut / "target-link")
    (mut / "target-link").unlink()
    os.symlink("trunc.bin", mut / "target-link")
    reset()
    (mut / "typed").unlink()
    (mut / "typed").mkdir()
    restore_dir_mtime()
    return {
        "flip.bin": {"content"},
        "trunc.bin": {"size"},
        "gone.txt": {"missing"},
        "extra.txt": {"extra"},
        "owner.txt": {"uid", "gid"},
        "mode.txt": {"mode"},
        "mtime.txt": {"mtime"},
        "target-link": {"symlink_target"},
        "typed": {"type"},
    }


def _by_path(problems, prefix: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for p in problems:
        assert p["path"].startswith(prefix), p
        out.setdefault(p["path"][len(prefix) :], set()).add(p["kind"])
    return out


def test_every_damage_is_reported_with_its_kind(world, users):
    lab, data = world
    kept = restore_test(lab, "b", progress=False, keep=True)
    assert kept.ok and Path(kept.target).is_dir()
    target = kept.target
    expected = _damage(Path(target + str(data)), users)
    report = verify_restore(lab, "b", kept.snapshot_id, target, progress=False)
    assert _by_path(report.problem_list, f"{data}/mut/") == expected
    assert report.counts["content"] == 1 and not report.ok

    # the same through the runner-based reader used for SSH hosts (find + sha256sum)
    restic = Restic.for_backup(lab.backups["b"], lab)
    fields = verify_tree(
        restic, kept.snapshot_id, target, tree=HostTree(LocalRunner(), target), progress=False
    )
    assert _by_path(fields["problem_list"], f"{data}/mut/") == expected

    # not root: owners are skipped (and said to be), everything else still found
    skipped = verify_restore(lab, "b", kept.snapshot_id, target, owners=False, progress=False)
    assert "skipped" in skipped.checks["owner (uid/gid)"]
    assert _by_path(skipped.problem_list, f"{data}/mut/") == {
        k: v for k, v in expected.items() if k != "owner.txt"
    }

    # content=none finds all but the flipped byte; a 100% sample finds it again
    none = verify_restore(lab, "b", kept.snapshot_id, target, "none", progress=False)
    assert "content" not in none.counts and none.content_files == 0
    assert none.checks["content"].startswith("skipped")
    sample = verify_restore(lab, "b", kept.snapshot_id, target, "sample:100%", progress=False)
    assert sample.counts.get("content") == 1
    shutil.rmtree(target)


def test_partial_restore_of_one_path(world):
    lab, data = world
    report = restore_test(
        lab, "b", paths=[str(data / "bob")], content="sample:1", seed=3, progress=False
    )
    assert report.ok, report.problem_list
    assert (report.files, report.dirs, report.content_files) == (1, 1, 1)
    assert report.checks["content"] == "sampled: 1 of 1 files (sample:1)"


def test_scratch_target_safety(world, tmp_path):
    lab, data = world
    live = [str(data)]
    for bad in (
        "/",
        "/var/lib",
        "/etc",
        "relative/dir",
        str(data),
        str(data / "bob"),
        str(data.parent),
    ):
        with pytest.raises(UnsafePathError):
            check_scratch_target(bad, live, LocalRunner())
    link = tmp_path / "sneaky"
    link.symlink_to(data)
    with pytest.raises(UnsafePathError, match="live data"):
        check_scratch_target(str(link), live, LocalRunner())
    assert check_scratch_target(str(tmp_path / "scratch"), live, LocalRunner()) == str(
        tmp_path / "scratch"
    )
    with pytest.raises(UnsafePathError):
        restore_test(lab, "b", target=str(data / "restore-here"), progress=False)
    assert not (data / "restore-here").exists()


def test_in_place_restore_needs_a_passing_test_and_confirmation(restic_bin, tmp_path):
    lab = _lab(tmp_path, restic_bin)
    data = tmp_path / DATA
    data.mkdir(parents=True)
    (data / "db.sqlite3").write_bytes(b"precious")
    restic = Restic.for_backup(lab.backups["b"], lab)
    restic.init()
    restic.backup([str(data)])
    (data / "db.sqlite3").write_bytes(b"corrupted")
    snap = restic.snapshots()[-1]
    with pytest.raises(UnsafePathError, match="no passing scratch restore test"):
        restore_in_place(lab, "b", "latest", confirm=snap["short_id"])
    assert restore_test(lab, "b", progress=False).ok
    with pytest.raises(UnsafePathError, match="confirm="):
        restore_in_place(lab, "b", "latest", confirm="yes")
    report = restore_in_place(lab, "b", "latest", confirm=snap["short_id"])
    assert (data / "db.sqlite3").read_bytes() == b"precious"
    assert report.kind == "restore-in-place"
    assert lab.journal.runs("restore-in-place")[0]["status"] == "ok"


def test_in_place_refuses_paths_outside_state_dirs(restic_bin, tmp_path):
    lab = _lab(tmp_path, restic_bin)
    other = tmp_path / "elsewhere"
    other.mkdir()
    (other / "f").write_text("x")
    restic = Restic.for_backup(lab.backups["b"], lab)
    restic.init()
    restic.backup([str(other)])
    assert restore_test(lab, "b", progress=False).ok
    snap = restic.snapshots()[-1]
    with pytest.raises(UnsafePathError, match="outside the allowed roots"):
        restore_in_place(lab, "b", "latest", confirm=snap["short_id"])


def test_cli_restore_test_and_verify_restore(world, users, capsys):
    lab, data = world
    code = main(
        [
            "--lab",
            str(lab.path),
            "restore-test",
            "--backup",
            "b",
            "--content",
            "sample:50%",
            "--json",
        ]
    )
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["ok"] is True and out["problems"] == []
    assert {
        "files",
        "bytes",
        "restore_seconds",
        "verify_seconds",
        "snapshot_id",
        "restic_version",
    } <= set(out)
    assert out["kept"] is False

    code = main(["--lab", str(lab.path), "restore-test", "--keep", "--path", str(data / "mut")])
    text = capsys.readouterr().out
    assert code == 0 and "verified clean" in text
    target = next((lab.cache_dir / "restore-tests").iterdir())
    (target / str(data / "mut" / "gone.txt").lstrip("/")).unlink()
    args = [
        "--lab",
        str(lab.path),
        "verify-restore",
        "--backup",
        "b",
        "--snapshot",
        out["snapshot_id"][:8],
        "--target",
        str(target),
        "--path",
        str(data / "mut"),
        "--json",
    ]
    code = main(args)
    out = json.loads(capsys.readouterr().out)
    assert code == 1
    assert {(p["path"], p["kind"]) for p in out["problems"]} == {
        (str(data / "mut" / "gone.txt"), "missing"),
        (str(data / "mut"), "mtime"),  # removing a file changes its dir
    }
    shutil.rmtree(target)


def test_cli_bad_input_exits_2(world, capsys):
    lab, data = world
    with pytest.raises(SystemExit) as exc:
        main(["--lab", str(lab.path), "restore-test", "--content", "most"])
    assert exc.value.code == 2
    assert main(["--lab", str(lab.path), "restore-test", "--target", str(data / "x")]) == 2
    assert "live data" in capsys.readouterr().err
    assert (
        main(
            [
                "--lab",
                str(lab.path),
                "verify-restore",
                "--backup",
                "b",
                "--snapshot",
                "latest",
                "--target",
                "/nonexistent/dir",
            ]
        )
        == 2
    )
    assert main(["--lab", str(lab.path), "restore-test", "--snapshot", "deadbeef"]) in (1, 2)


def test_unknown_path_is_bad_input(world):
    lab, data = world
    with pytest.raises(HomelabError, match="has no"):
        restore_test(lab, "b", paths=[str(data / "nope")], progress=False)
