"""Shared setup for the migration tests: real files, users, restic repo, HTTP service, fake tools.

`docker`, `systemctl` and `nixos-rebuild` cannot run here, so they are small recording scripts put
first on PATH: they append their argv (and working folder) to a log, keep a little state (container
running, unit known/active) in files, and fail when a `fail-<tool>` file exists. Everything else —
rsync, chown, useradd, restic, sshd, the HTTP health endpoint — is real.
"""

from __future__ import annotations

import hashlib
import http.server
import os
import subprocess
import threading
import uuid
from pathlib import Path

import tomlkit

FAKE_DOCKER = """#!/bin/sh
echo "docker $* @ $(pwd)" >> "{state}/calls.log"
[ -e "{state}/fail-docker" ] && {{ echo "docker: fake failure" >&2; exit 1; }}
case " $* " in
  *" ps "*) [ -e "{state}/container-running" ] && echo 3f2a9c1b; exit 0;;
  *" stop "*) rm -f "{state}/container-running"; echo "Container stopped" >&2; exit 0;;
esac
exit 0
"""
FAKE_SYSTEMCTL = """#!/bin/sh
echo "systemctl $*" >> "{state}/calls.log"
[ -e "{state}/fail-systemctl" ] && exit 1
case "$1" in
  start|enable|restart) touch "{state}/unit-active";;
  stop) rm -f "{state}/unit-active";;
  is-active) [ -e "{state}/unit-active" ];;
  cat) [ -e "{state}/unit-known" ];;
esac
"""
FAKE_NIXOS_REBUILD = """#!/bin/sh
echo "nixos-rebuild $*" >> "{state}/calls.log"
[ -e "{state}/fail-nixos-rebuild" ] && exit 1
touch "{state}/unit-known" "{state}/unit-active"
"""
# Real rsync, throttled for copies (not for dry-run checks) so a test can kill it mid-copy.
SLOW_RSYNC = """#!/bin/sh
case " $* " in *" --dry-run "*) exec /usr/bin/rsync "$@";; esac
exec /usr/bin/rsync --bwlimit=400 "$@"
"""


def fake_tools(bin_dir: Path, state: Path) -> None:
    bin_dir.mkdir(parents=True, exist_ok=True)
    state.mkdir(parents=True, exist_ok=True)
    for name, text in (
        ("docker", FAKE_DOCKER),
        ("systemctl", FAKE_SYSTEMCTL),
        ("nixos-rebuild", FAKE_NIXOS_REBUILD),
    ):
        (bin_dir / name).write_text(text.format(state=state))
        (bin_dir / name).chmod(0o755)


def calls(state: Path) -> list[str]:
    log = state / "calls.log"
    return log.read_text().splitlines() if log.exists() else []


def make_user() -> str:
    name = f"hkm{uuid.uuid4().hex[:8]}"
    subprocess.run(["groupadd", name], check=True)
    subprocess.run(["useradd", "-M", "-N", "-g", name, "-s", "/usr/sbin/nologin", name], check=True)
    return name


def drop_user(name: str) -> None:
    subprocess.run(["userdel", name], check=False, capture_output=True)
    subprocess.run(["groupdel", name], check=False, capture_output=True)


def make_appdata(root: Path, size_kib: int = 64, files: int = 8) -> None:
    """Realistic appdata owned by the container's PUID 1000: db, nested files, links, modes."""
    rnd = __import__("random").Random(42)
    (root / "recipes" / "img").mkdir(parents=True)
    (root / "backups").mkdir()
    (root / "mealie.db").write_bytes(rnd.randbytes(96 * 1024))
    for i in range(files):
        (root / "recipes" / "img" / f"r{i:03d}.webp").write_bytes(rnd.randbytes(size_kib * 1024))
    (root / "secret.key").write_text("s3cr3t\n")
    (root / "secret.key").chmod(0o600)
    (root / "latest.db").symlink_to("mealie.db")
    os.link(root / "secret.key", root / "backups" / "secret.key.hardlink")
    (root / "with space & 'quote'.txt").write_text("odd name\n")
    for p in [root, *root.rglob("*")]:
        os.lchown(p, 1000, 1000)


def tree_digest(root: Path, *, owners: bool = True) -> dict[str, tuple]:
    """Path → (type, mode, sha256 or link target, mtime, links[, uid, gid]) for identity checks."""
    out = {}
    for p in sorted([root, *root.rglob("*")]):
        st = p.lstat()
        if p.is_symlink():
            entry: tuple = ("l", os.readlink(p))
        elif p.is_dir():
            entry = ("d", st.st_mode)
        else:
            digest = hashlib.sha256(p.read_bytes()).hexdigest()
            entry = ("f", st.st_mode, digest, st.st_mtime_ns, st.st_nlink)
        out[str(p.relative_to(root))] = entry + ((st.st_uid, st.st_gid) if owners else ())
    return out


class HealthServer:
    """A real HTTP endpoint standing in for the migrated service (port + health URL)."""

    def __init__(self) -> None:
        handler = type(
            "H",
            (http.server.BaseHTTPRequestHandler,),
            {"do_GET": _ok, "log_message": lambda *a: None},
        )
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/app/about"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _ok(self: http.server.BaseHTTPRequestHandler) -> None:
    self.send_response(200)
    self.end_headers()
    self.wfile.write(b'{"ok": true}')


def write_lab(path: Path, doc: dict) -> Path:
    path.write_text(tomlkit.dumps(doc))
    return path


def init_repo(restic: str, repo: Path, password_file: Path) -> None:
    password_file.write_text("correct horse battery staple\n")
    env = {**os.environ, "RESTIC_PASSWORD_FILE": str(password_file), "RESTIC_REPOSITORY": str(repo)}
    subprocess.run([restic, "init"], env=env, check=True, capture_output=True)


def snapshots(restic: str, repo: Path, password_file: Path) -> list[dict]:
    import json

    env = {**os.environ, "RESTIC_PASSWORD_FILE": str(password_file), "RESTIC_REPOSITORY": str(repo)}
    out = subprocess.run([restic, "snapshots", "--json"], env=env, check=True, capture_output=True)
    return json.loads(out.stdout or b"[]") or []
