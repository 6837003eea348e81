"""For the watch tests: a real HTTP receiver on 127.0.0.1 and a small real lab around one restic repo.

The receiver stands in for an ntfy/JSON endpoint and a healthchecks server: it is a real HTTP peer
(`http.server`) that records every request, not a mock of our code.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from homelab_kit.backups.restic import Restic
from homelab_kit.lab.model import load_lab

PASSWORD_CANARY = "CANARY-restic-pw-7f3a91"
TOKEN_CANARY = "tokCANARY5e2b"
HC_UUID = "0f4b2c1e-9a77-4d1b-8c2e-4a6f3b9d1c55"
CLI = [sys.executable, "-c", "from homelab_kit.cli import run; run()"]


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    body: bytes
    headers: dict[str, str]

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """ThreadingHTTPServer answering 200 to everything and keeping each request."""

    server: ThreadingHTTPServer = field(init=False)
    requests: list[Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        received = self.requests

        class Handler(BaseHTTPRequestHandler):
            def handle_one(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                parts = urlsplit(self.path)
                received.append(
                    Request(
                        self.command,
                        parts.path,
                        parse_qs(parts.query),
                        body,
                        dict(self.headers.items()),
                    )  # fmt: skip
                )
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"OK")

            do_GET = do_POST = handle_one

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def url(self, path: str, scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def take(self) -> list[Request]:
        """The requests so far, cleared."""
        got = list(self.requests)
        self.requests.clear()
        return got

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def notifications(reqs: list[Request]) -> list[dict[str, Any]]:
    return [r.json() for r in reqs if r.path.startswith("/notify/")]


def pings(reqs: list[Request]) -> list[str]:
    """The heartbeat events in order: start, success, fail."""
    out = []
    for r in reqs:
        if r.path.startswith("/ping/"):
            tail = r.path.removeprefix(f"/ping/{HC_UUID}")
            out.append(tail.strip("/") or "success")
    return out


def write_lab(base: Path, restic: str, port: int, *, notify: str = "", extra: str = "") -> Path:
    """A one-host lab (local transport) with one service and one backup; [notify] as given."""
    (base / "srv/var/lib/app").mkdir(parents=True, exist_ok=True)
    (base / "srv/var/lib/app/data.txt").write_text("precious\n" * 500)
    (base / "password").write_text(PASSWORD_CANARY + "\n")
    notify = notify or (
        f'[notify]\nurls = ["json://127.0.0.1:{port}/notify/{TOKEN_CANARY}"]\n'
        f'heartbeat = "http://127.0.0.1:{port}/ping/{HC_UUID}"\nremind = "1d"\n'
    )
    path = base / "lab.toml"
    path.write_text(
        '[lab]\nname = "testlab"\njournal = "journal.sqlite"\ncache_dir = "cache"\n\n'
        '[hosts.srv]\ntransport = "local"\nos = "debian"\n\n'
        '[services.app]\nhost = "srv"\nuser = "root"\nstate_dirs = ["srv/var/lib/app"]\n\n'
        f'[backups.b]\nhost = "srv"\nrepository = "repo"\npassword_file = "password"\n'
        f'restic = "{restic}"\nschedule = "daily"\nmax_age = "26h"\n\n{notify}\n{extra}'
    )
    return path


def init_and_backup(lab_path: Path, *, time: str | None = None) -> None:
    """restic init (once) and one real backup of the lab's derived paths."""
    from homelab_kit.backups.analysis import run_backup

    lab = load_lab(lab_path)
    b = lab.backups["b"]
    if not Path(b.repository).exists():
        Restic.for_backup(b, lab).init()
    run_backup(lab, "b", time=time)


def check(lab_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`homelab-kit --lab LAB check ARGS` as a user's timer runs it."""
    return subprocess.run(
        [*CLI, "--lab", str(lab_path), "check", *args], capture_output=True, text=True, timeout=300
    )


def journal_text(lab_path: Path) -> str:
    """Every row of every journal table as text (to look for leaked secrets)."""
    import sqlite3

    db = sqlite3.connect(lab_path.parent / "journal.sqlite")
    tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    return "\n".join(str(row) for t in tables for row in db.execute(f"SELECT * FROM {t}"))
