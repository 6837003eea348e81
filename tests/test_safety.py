"""The safety guard: dangerous vs legitimate paths, symlinks resolved on the host, real chown/rm."""

from __future__ import annotations

import os
import subprocess
import uuid

import pytest

from homelab_kit.errors import UnsafePathError
from homelab_kit.plans.safety import (
    PROTECTED_PATHS,
    chmod_recursive,
    chown_recursive,
    ensure_safe_target,
    rm_recursive,
    rsync_mirror,
)
from homelab_kit.testing import FakeRunner
from homelab_kit.transport.runner import LocalRunner

ROOTS = ("/var/lib/mealie", "/srv/appdata/vaultwarden", "/home/alice/docker/paperless")

DANGEROUS = [
    "/",
    "/*",
    "/etc",
    "/etc/",
    "/etc/nixos",
    "/var",
    "/var/lib",
    "/var/lib/",
    "/home",
    "/root",
    "/nix",
    "/nix/store",
    "/usr",
    "/usr/local",
    "/boot",
    "/bin",
    "/srv",
    "/srv/appdata",  # a parent of an allowed root, not inside one
    "/home/alice",
    "/var/lib/mealie/../../..",
    "/var/lib/mealie/..",
    "/var/lib/mealie/../vaultwarden",
    "var/lib/mealie",
    "./data",
    "data",
    "",
    "~/mealie",
    "/var/lib/mealie/*",
    "/var/lib/mealie/[ab]",
    "/var/lib/mealie/{a,b}",
    "/var/lib/mealie/?",
    "//var/lib/mealie",
    "/var/lib//mealie",
    "/var/lib/mealie/./data",
    "/var/lib/mealie/",
    "/var/lib/mealie\n/etc",
    "/var/lib/mealie\x00",
    "/var/lib/mealiex",  # prefix but not inside
    "/var/lib/mealie-old",
    "/var/lib/vaultwarden",  # another service's dir
    "/etc/passwd",
    "/tmp",
    "/var/lib/docker",
    "/volume1/docker",
    "/mnt",
]

LEGITIMATE = [
    "/var/lib/mealie",
    "/var/lib/mealie/data",
    "/var/lib/mealie/data/recipes/img.webp",
    "/var/lib/mealie/.hidden",
    "/var/lib/mealie/with space",
    "/var/lib/mealie/-starts-with-dash",
    "/var/lib/mealie/..dots",
    "/srv/appdata/vaultwarden",
    "/srv/appdata/vaultwarden/attachments",
    "/home/alice/docker/paperless/media",
]


@pytest.mark.parametrize("path", DANGEROUS)
def test_dangerous_paths_are_refused(path):
    with pytest.raises(UnsafePathError, match="refusing recursive chown"):
        ensure_safe_target(path, operation="recursive chown", allowed_roots=ROOTS)


@pytest.mark.parametrize("path", LEGITIMATE)
def test_legitimate_paths_pass(path):
    assert ensure_safe_target(path, operation="recursive chown", allowed_roots=ROOTS) == path


@pytest.mark.parametrize("root", ["/", "/var/lib", "/home", "/etc", "var/lib/x", "/srv/*"])
def test_protected_or_bad_allowed_roots_are_refused(root):
    with pytest.raises(UnsafePathError):
        ensure_safe_target(
            "/var/lib/mealie", operation="rm", allowed_roots=(root, "/var/lib/mealie")
        )


def test_no_allowed_roots_refuses_everything():
    with pytest.raises(UnsafePathError, match="no allowed roots"):
        ensure_safe_target("/var/lib/mealie", operation="rm")


def test_every_protected_path_and_its_parents_are_refused():
    for path in PROTECTED_PATHS:
        with pytest.raises(UnsafePathError):
            ensure_safe_target(
                path, operation="rm", allowed_roots=(path,) if path != "/" else ("/",)
            )


@pytest.fixture
def tree(tmp_path):
    """A real state dir with symlinks: one inside, one escaping to a sibling, one to /etc."""
    root = tmp_path / "state" / "mealie"
    (root / "data").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious").write_text("keep me")
    (root / "inside-link").symlink_to(root / "data")
    (root / "escape").symlink_to(outside)
    (root / "etc-link").symlink_to("/etc")
    (root / "relative-escape").symlink_to("../../outside")
    return tmp_path, root, outside


def test_symlinks_are_resolved_on_the_host(tree):
    tmp, root, outside = tree
    runner = LocalRunner()
    roots = (str(root),)
    assert ensure_safe_target(
        str(root / "data"), operation="rm", allowed_roots=roots, runner=runner
    )
    assert ensure_safe_target(
        str(root / "inside-link"), operation="rm", allowed_roots=roots, runner=runner
    )
    assert ensure_safe_target(
        str(root / "not-yet"), operation="rm", allowed_roots=roots, runner=runner
    )
    with pytest.raises(UnsafePathError, match="outside the allowed roots"):
        ensure_safe_target(str(root / "escape"), operation="rm", allowed_roots=roots, runner=runner)
    with pytest.raises(UnsafePathError, match="outside the allowed roots"):
        ensure_safe_target(
            str(root / "relative-escape" / "precious"),
            operation="rm",
            allowed_roots=roots,
            runner=runner,
        )
    with pytest.raises(UnsafePathError, match="protected system path"):
        ensure_safe_target(
            str(root / "etc-link"), operation="rm", allowed_roots=roots, runner=runner
        )
    # without a runner the syntax alone looks fine: that is why execute() passes the runner
    assert ensure_safe_target(str(root / "escape"), operation="rm", allowed_roots=roots)


def test_allowed_root_that_is_a_symlink_to_a_system_dir(tmp_path):
    state = tmp_path / "svc"
    state.symlink_to("/etc")
    with pytest.raises(UnsafePathError, match="protected"):
        ensure_safe_target(
            str(state),
            operation="recursive chown",
            allowed_roots=(str(state),),
            runner=LocalRunner(),
        )


def test_legit_symlinked_root_is_followed(tmp_path):
    """NixOS DynamicUser: /var/lib/x → /var/lib/private/x; the resolved root counts as inside."""
    real = tmp_path / "private" / "x"
    real.mkdir(parents=True)
    link = tmp_path / "x"
    link.symlink_to(real)
    assert ensure_safe_target(
        str(link / "db"), operation="rm", allowed_roots=(str(link),), runner=LocalRunner()
    )


def test_guard_falls_back_to_readlink_where_realpath_lacks_m():
    """A host whose realpath has no -m (busybox, BSD): the guard asks `readlink -f` instead and still
    refuses a state dir that resolves to a system path. FakeRunner stands in for that host."""
    path, roots = "/srv/app/data", ("/srv/app",)
    realpath = ("realpath", "-m", "--", path, *roots)
    readlink = ("readlink", "-f", "--", path, *roots)
    fake = FakeRunner("nas", {realpath: (1, "", "realpath: unrecognized option: m")})
    fake.always(readlink, "/srv/app/data\n/srv/app\n")
    assert ensure_safe_target(path, operation="rm", allowed_roots=roots, runner=fake) == path
    assert fake.argvs == [realpath, readlink]
    fake.always(readlink, "/etc\n/srv/app\n")  # data is now a symlink to /etc
    with pytest.raises(UnsafePathError, match="protected system path.*resolves to /etc"):
        ensure_safe_target(path, operation="rm", allowed_roots=roots, runner=fake)
    fake.always(readlink, (1, "", "readlink: not found"))
    with pytest.raises(UnsafePathError, match="nas: cannot resolve /srv/app/data, /srv/app"):
        ensure_safe_target(path, operation="rm", allowed_roots=roots, runner=fake)


@pytest.fixture
def test_user():
    name = f"hks{uuid.uuid4().hex[:8]}"
    subprocess.run(["groupadd", name], check=True)
    subprocess.run(["useradd", "-M", "-N", "-g", name, "-s", "/usr/sbin/nologin", name], check=True)
    yield name
    subprocess.run(["userdel", name], check=False)
    subprocess.run(["groupdel", name], check=False)


def test_recursive_chown_never_follows_symlinks(tree, test_user):
    tmp, root, outside = tree
    (root / "data" / "db.sqlite3").write_text("db")
    guarded = chown_recursive(str(root), test_user, test_user, allowed_roots=(str(root),))
    assert guarded.argv[:4] == ("chown", "-R", "-h", "-P")
    guarded.guard.check(LocalRunner())
    LocalRunner().run(guarded.argv).check()
    import pwd

    uid = pwd.getpwnam(test_user).pw_uid
    assert os.stat(root / "data" / "db.sqlite3").st_uid == uid
    assert os.lstat(root / "escape").st_uid == uid  # the link itself
    assert os.stat(outside / "precious").st_uid == 0  # not what it points at
    assert os.stat(outside).st_uid == 0
    assert os.stat("/etc").st_uid == 0


def test_builders_refuse_unsafe_targets_and_names():
    with pytest.raises(UnsafePathError):
        chown_recursive("/var/lib", "mealie", "mealie", allowed_roots=("/var/lib/mealie",))
    with pytest.raises(UnsafePathError, match="not a valid user"):
        chown_recursive("/var/lib/mealie", "-R", "mealie", allowed_roots=("/var/lib/mealie",))
    with pytest.raises(UnsafePathError, match="not a valid user"):
        chown_recursive("/var/lib/mealie", "root:root", "x", allowed_roots=("/var/lib/mealie",))
    with pytest.raises(UnsafePathError, match="allowed root itself"):
        rm_recursive("/var/lib/mealie", allowed_roots=("/var/lib/mealie",))
    with pytest.raises(UnsafePathError, match="not a valid mode"):
        chmod_recursive("/var/lib/mealie", "777; rm", allowed_roots=("/var/lib/mealie",))
    with pytest.raises(UnsafePathError):
        rsync_mirror("/src", "/var/lib", allowed_roots=("/var/lib/mealie",))
    g = rsync_mirror(
        "nas:/volume1/docker/mealie/data", "/var/lib/mealie", allowed_roots=("/var/lib/mealie",)
    )
    assert g.argv[-3:] == ("--delete", "nas:/volume1/docker/mealie/data/", "/var/lib/mealie/")
    assert (
        chmod_recursive("/var/lib/mealie", "u+rwX,go-rwx", allowed_roots=("/var/lib/mealie",)).argv[
            2
        ]
        == "u+rwX,go-rwx"
    )


def test_rm_inside_root_removes_only_that(tree):
    tmp, root, outside = tree
    g = rm_recursive(str(root / "escape"), allowed_roots=(str(root),))
    with pytest.raises(UnsafePathError):
        g.guard.check(LocalRunner())  # resolved: points outside
    g = rm_recursive(str(root / "data"), allowed_roots=(str(root),))
    g.guard.check(LocalRunner())
    LocalRunner().run(g.argv).check()
    assert not (root / "data").exists() and (outside / "precious").read_text() == "keep me"
