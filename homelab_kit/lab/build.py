"""Turn validated lab.toml tables into Lab, Host, Service and Backup objects.

Relative paths resolve against lab.toml's folder: always for workstation-side files (journal,
caches, identity files), and for host paths only on local-transport hosts, where the lab folder is
the host's own disk. A relative state dir on an SSH host is kept as written, for lint to flag.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import InventoryError
from .model import Backup, Host, Lab, MigrateFrom, Service, display_path
from .schema import check_document
from .selection import Selection
from .settings import Notify, Watch
from .timespec import parse_duration

REMOTE_REPO_PREFIXES = ("sftp:", "s3:", "rest:", "b2:", "azure:", "gs:", "rclone:", "swift:")


def _abs(root: Path, value: str) -> str:
    p = Path(value).expanduser()
    return str(p if p.is_absolute() else (root / p).resolve())


def build_lab(cls: type[Lab], data: dict[str, Any], path: Path) -> Lab:
    shown = display_path(path)
    doc, problems = check_document(data)
    if problems:
        raise InventoryError([f"{shown}: {p}" for p in problems])
    root = path.resolve().parent
    lab_t = doc["lab"]

    hosts = {n: _host(n, t, root) for n, t in doc["hosts"].items()}
    local = {n for n, h in hosts.items() if h.transport == "local"}

    def host_path(host: str, value: str) -> str:
        return _abs(root, value) if host in local else value

    domain = lab_t.get("domain")
    services = {n: _service(n, t, domain, host_path, hosts) for n, t in doc["services"].items()}
    backups = {n: _backup(n, t, host_path) for n, t in doc["backups"].items()}
    return cls(
        name=lab_t["name"],
        path=path.resolve(),
        hosts=Selection(hosts, "host", Host.matches),
        services=Selection(
            services, "service", lambda s, tag: hosts[s.host].matches(tag) or s.host == tag
        ),
        backups=Selection(backups, "backup", lambda b, tag: b.host == tag or tag in b.tags),
        domain=domain,
        journal_path=Path(_abs(root, lab_t.get("journal", "journal.sqlite"))),
        cache_dir=Path(_abs(root, lab_t.get("cache_dir", ".homelab-cache"))),
        runs_dir=Path(_abs(root, lab_t.get("runs_dir", "runs"))),
        flake=lab_t.get("flake"),
        build_host=lab_t.get("build_host"),
        known_hosts=Path(_abs(root, lab_t["known_hosts"])) if "known_hosts" in lab_t else None,
        notify=_notify(doc["notify"], root),
        watch=_watch(doc["watch"]),
    )


def _notify(t: dict[str, Any], root: Path) -> Notify:
    """[notify]: urls_file resolves against lab.toml's folder (it is read on this machine)."""
    fields = dict(t)
    if "urls" in fields:
        fields["urls"] = tuple(fields["urls"])
    if "urls_file" in fields:
        fields["urls_file"] = _abs(root, fields["urls_file"])
    if "remind" in fields:
        fields["remind"] = None if t["remind"] == "never" else parse_duration(t["remind"])
    return Notify(**fields)


def _watch(t: dict[str, Any]) -> Watch:
    fields = dict(t)
    for key in ("randomized_delay", "restore_test_every", "capacity_warn"):
        if key in fields:
            fields[key] = parse_duration(fields[key])
    return Watch(**fields)


def _host(name: str, t: dict[str, Any], root: Path) -> Host:
    fields = {k: v for k, v in t.items() if k in Host.__dataclass_fields__}
    if "roles" in fields:
        fields["roles"] = tuple(fields["roles"])
    if "identity_file" in fields:
        fields["identity_file"] = Path(_abs(root, fields["identity_file"]))
    if "compose_dir" in fields and fields.get("transport") == "local":
        fields["compose_dir"] = _abs(root, fields["compose_dir"])
    if "rto" in fields:
        fields["rto"] = parse_duration(fields["rto"])
    return Host(name=name, **fields)


def _service(
    name: str, t: dict[str, Any], domain: str | None, host_path: Any, hosts: dict[str, Host]
) -> Service:
    fields = {k: v for k, v in t.items() if k in Service.__dataclass_fields__ and k != "domain"}
    host = t["host"]
    raw_dirs = tuple(t.get("state_dirs", ()))
    fields["state_dirs"] = tuple(host_path(host, d) for d in raw_dirs)
    fields["relative_state_dirs"] = tuple(d for d in fields["state_dirs"] if not d.startswith("/"))
    fields["fqdn"] = t.get("domain") or (
        f"{t['subdomain']}.{domain}" if t.get("subdomain") and domain else None
    )
    fields.setdefault("group", t.get("user"))
    if "unit" not in t and hosts[host].os != "compose":
        fields["unit"] = f"{name}.service"
    if "migrate_from" in t:
        m = dict(t["migrate_from"])
        src = m["host"]
        m["compose_file"] = host_path(src, m["compose_file"])
        m["paths"] = {host_path(src, a): host_path(host, b) for a, b in m.get("paths", {}).items()}
        fields["migrate_from"] = MigrateFrom(**m)
    return Service(name=name, **fields)


def _backup(name: str, t: dict[str, Any], host_path: Any) -> Backup:
    fields = {k: v for k, v in t.items() if k in Backup.__dataclass_fields__}
    host = t["host"]
    repo = t["repository"]
    if not repo.startswith(REMOTE_REPO_PREFIXES):
        fields["repository"] = host_path(host, repo)
    for key in ("password_file", "environment_file"):
        if key in fields:
            fields[key] = host_path(host, fields[key])
    for key in ("covers", "extra_paths", "exclude", "tags", "stop_services"):
        if key in fields:
            fields[key] = tuple(fields[key])
    fields["covers"] = fields.get("covers") or (host,)
    fields["extra_paths"] = tuple(host_path(host, p) for p in fields.get("extra_paths", ()))
    fields.pop("max_age", None)
    if "restore_test_every" in t:
        fields["restore_test_every"] = parse_duration(t["restore_test_every"])
    period_owner = Backup(name=name, **fields)
    max_age = parse_duration(t["max_age"]) if "max_age" in t else period_owner.period * 1.25
    return Backup(name=name, **fields, max_age=max_age)
