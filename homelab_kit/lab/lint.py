"""Lint the lab: mistakes that validate but will hurt (port clashes, uncovered state, overlaps).

Pure over a loaded Lab and what its journal already knows; returns rows (severity, subject,
message). "error" rows make `homelab-kit lint` exit 1; "warning" and "info" rows are advice.
Which state dirs hold live databases comes from the newest restore tests and drills (their app
checks looked inside) and from state dirs that are database files by name.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from .paths import within

if TYPE_CHECKING:
    from .model import Lab

SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}
DB_SUFFIXES = (".sqlite", ".sqlite3", ".db", ".db3")
DB_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
CHECK_KINDS = ("restore-test", "verify-restore", "drill")


def covering_backups(lab: Lab, host: str, path: str) -> list[str]:
    """Backups whose derived paths contain `path` on `host`."""
    return sorted(
        {
            row["backup"]
            for row in lab.backup_path_rows()
            if row["host"] == host and within(path, row["path"])
        }
    )


def lint_lab(lab: Lab) -> list[dict[str, str]]:
    findings: list[dict[str, str]] = []

    def add(severity: str, subject: str, message: str) -> None:
        findings.append({"severity": severity, "subject": subject, "message": message})

    by_port: dict[tuple[str, int], list[str]] = defaultdict(list)
    by_fqdn: dict[str, list[str]] = defaultdict(list)
    for s in lab.services.values():
        if s.port is not None:
            by_port[(s.host, s.port)].append(s.name)
        if s.fqdn:
            by_fqdn[s.fqdn.lower()].append(s.name)
    for (host, port), names in by_port.items():
        if len(names) > 1:
            add(
                "error",
                ", ".join(names),
                f"services {' and '.join(names)} both use port {port} on host {host}",
            )
    for fqdn, names in by_fqdn.items():
        if len(names) > 1:
            add(
                "error", ", ".join(names), f"services {' and '.join(names)} share the domain {fqdn}"
            )

    for s in lab.services.values():
        subject = f"services.{s.name}"
        if not s.user:
            add("warning", subject, "no user: set `user` so migrations and restores know the owner")
        for d in s.relative_state_dirs:
            add(
                "error",
                subject,
                f'state dir "{d}" is relative; write the absolute path on host {s.host}',
            )
        for d in s.state_dirs:
            if d in s.relative_state_dirs:
                continue
            if not covering_backups(lab, s.host, d):
                add(
                    "error",
                    subject,
                    f"state dir {d} on host {s.host} is covered by no backup; add {s.host} to a backup's covers",
                )
        for i, a in enumerate(s.state_dirs):
            for b in s.state_dirs[i + 1 :]:
                if within(a, b) or within(b, a):
                    add("warning", subject, f"state dirs {a} and {b} overlap; keep the outer one")

    services = list(lab.services.values())
    for i, s in enumerate(services):
        for t in services[i + 1 :]:
            if s.host != t.host:
                continue
            for a in s.state_dirs:
                for b in t.state_dirs:
                    if within(a, b) or within(b, a):
                        add(
                            "error",
                            f"services.{s.name}, services.{t.name}",
                            f"state dir {a} of {s.name} overlaps {b} of {t.name} on host {s.host}",
                        )

    for h in lab.hosts.values():
        if h.transport == "ssh" and not h.host_key and lab.known_hosts is None:
            add(
                "info",
                f"hosts.{h.name}",
                "no pinned host_key: ~/.ssh/known_hosts must know this host (see `homelab-kit hosts keyscan`)",
            )
    for b in lab.backups.values():
        if not any(lab.services_on(c) for c in b.covers) and not b.extra_paths:
            add("warning", f"backups.{b.name}", "covers no service state dirs and no extra paths")
    for s in lab.services.values():
        if s.migrate_from is not None and any("${" in p for p in s.migrate_from.paths):
            add(
                "error",
                f"services.{s.name}",
                "migrate_from.paths holds an unresolved compose variable (a `# CHECK:` from "
                "`import compose`); write the real source folder",
            )
    for service, host, path, kind in live_databases(lab):
        message = _live_database(lab, service, host, path, kind)
        if message:
            add("warning", f"services.{service}", message)
    findings.sort(key=lambda f: (SEVERITY_ORDER[f["severity"]], f["subject"]))
    return findings


def known_databases(lab: Lab, limit: int = 50) -> dict[str, tuple[str, str]]:
    """path → (service, kind) of the databases the newest restore tests and drills found."""
    if not lab.journal_path.is_file():
        return {}  # linting never creates a journal
    found: dict[str, tuple[str, str]] = {}
    for kind in CHECK_KINDS:
        for run in lab.journal.runs(kind, limit=limit):
            for app in run["summary"].get("apps") or ():
                if app.get("kind") in DB_NAMES and app.get("service"):
                    found.setdefault(app["path"], (app["service"], app["kind"]))
    return found


def live_databases(lab: Lab) -> list[tuple[str, str, str, str]]:
    """(service, host, path, kind) of each database lint knows of in a service's state dirs (or,
    before a migration, in its compose source dirs)."""
    out: set[tuple[str, str, str, str]] = set()
    for path, (service, kind) in known_databases(lab).items():
        s = lab.services.get(service)
        if s is None:
            continue
        if any(within(path, d) for d in s.state_dirs):
            out.add((service, s.host, path, kind))
        elif s.migrate_from and any(within(path, d) for d in s.migrate_from.paths):
            out.add((service, s.migrate_from.host, path, kind))
    for s in lab.services.values():
        out |= {
            (s.name, s.host, d, "sqlite") for d in s.state_dirs if d.lower().endswith(DB_SUFFIXES)
        }
    return sorted(out)


def _live_database(lab: Lab, service: str, host: str, path: str, kind: str) -> str | None:
    """The warning for a database some backup copies while its service writes, if one does."""
    careless = [
        b
        for b in covering_backups(lab, host, path)
        if not lab.backups[b].prepare and service not in lab.backups[b].stop_services
    ]
    if not careless:
        return None
    dump = (
        f"sqlite3 {path} '.backup {path}.backup'"
        if kind == "sqlite"
        else f"pg_dumpall -f {path.rstrip('/')}.sql"
    )
    names = " and ".join(f"[backups.{b}]" for b in careless)
    verb = "copies" if len(careless) == 1 else "copy"
    return (
        f"{path} is a live {DB_NAMES[kind]} database: {names} {verb} it while {service} writes "
        "(no prepare, no stop_services), and a torn copy restores byte-identical but unopenable; "
        f'add stop_services = ["{service}"] or prepare = "{dump}" there'
    )
