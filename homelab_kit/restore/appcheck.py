"""Run the application checks on a restored tree, wherever it lies, through the host's Runner.

Why Python on the host and not `sqlite3` per file: finding databases by their header means reading
the first bytes of every restored file, which in one `python3 -c` (probe.py, standard library only)
is one walk and one round trip, while a shell loop would fork per file; the same process then runs
`PRAGMA integrity_check`, pg_controldata, pg_restore and gzip where they are. A local host runs
probe() in-process (no process at all). A host without python3 gets every check skipped, said so
in the report (`checks["applications"]`), never passed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..lab.paths import within
from ..transport.runner import LocalRunner, Runner
from . import probe as host_probe
from .apps import AppCheck, build_checks, snapshot_path, summary

if TYPE_CHECKING:
    from ..lab.model import Service

PROBE_TIMEOUT = 3600.0
PYTHON = "python3"


@dataclass
class AppResult:
    """The checks of one restored tree, how long they took and what the report says about them."""

    apps: list[AppCheck] = field(default_factory=list)
    seconds: float = 0.0
    note: str = ""
    versions: dict[str, str] = field(default_factory=dict)  # PostgreSQL data dir → its major


def probe_source() -> str:
    """probe.py's text plus the call that answers a request on stdin."""
    return Path(host_probe.__file__).read_text() + "\nmain()\n"


def run_probe(runner: Runner, roots: Sequence[str]) -> dict | None:
    """probe() over `roots` on the runner's host; None when the host has no python3."""
    request = {"roots": list(roots)}
    if isinstance(runner, LocalRunner):
        return host_probe.probe(request)
    res = runner.run(
        [PYTHON, "-c", probe_source()], stdin=json.dumps(request), timeout=PROBE_TIMEOUT
    )
    if res.exit_code == 127 or (
        not res.ok and "python3" in res.stderr and "not found" in res.stderr
    ):
        return None
    res.check()
    return json.loads(res.stdout)


def service_owner(services: Iterable[Service]) -> Callable[[str], str | None]:
    """path → the service whose state dir (or compose source dir, before a migration) holds it."""
    pairs = [(d, s.name) for s in services for d in s.state_dirs if d.startswith("/")]
    pairs += [
        (src, s.name)
        for s in services
        if s.migrate_from is not None
        for src in s.migrate_from.paths
    ]
    pairs.sort(key=lambda p: -len(p[0]))  # the innermost dir wins

    def owner(path: str) -> str | None:
        return next((name for d, name in pairs if within(path, d)), None)

    return owner


def check_apps(
    runner: Runner,
    root: str,
    paths: Sequence[str],
    services: Iterable[Service],
    wal_files: Iterable[str] = (),
) -> AppResult:
    """Every database and config restored under `root` (restic's layout: root + snapshot path)."""
    start = time.monotonic()
    base = "" if root.rstrip("/") == "" else root.rstrip("/")
    found = run_probe(runner, [base + p for p in paths])
    if found is None:
        return AppResult(
            seconds=time.monotonic() - start,
            note=f"skipped: no {PYTHON} on {runner.host} (install it to check databases there)",
        )
    apps = build_checks(found["items"], base or "/", service_owner(services), wal_files)
    versions = {
        snapshot_path(i["path"], base or "/"): str(i["version"])
        for i in found["items"]
        if i["kind"] == "postgresql" and i.get("version")
    }
    return AppResult(apps, time.monotonic() - start, "checked: " + summary(apps), versions)
