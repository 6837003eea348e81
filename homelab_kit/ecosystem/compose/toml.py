"""Turn a parsed compose file into proposed `[services.*]` tables for lab.toml.

The proposal is text for the user to review and paste: the published port, the state dirs as they
will be after migration (`/var/lib/<service>`, one sub-directory per appdata mount when there are
several), the image, and a `migrate_from` table (source host, compose file, PUID/PGID, and the
explicit source → state dir `paths`). Named volumes are proposed from docker's volume folder.
A bind mount whose source is an unset variable (immich's `${UPLOAD_LOCATION}` without its `.env`)
stays in `paths` as written, marked `# CHECK:`; `migrate plan` refuses it until it is a real path.
"""

from __future__ import annotations

import posixpath
import re

import tomlkit

from .parse import ComposeFile, ComposeService, Mount

SYSTEM_MOUNTS = ("/etc", "/dev", "/proc", "/sys", "/run", "/var/run", "/usr", "/lib")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9_-]+", "-", text.lower()).strip("-") or "data"


def appdata_mounts(service: ComposeService) -> list[Mount]:
    """Read-write bind mounts and named volumes that hold the service's own state."""
    out = []
    for m in service.mounts:
        if m.read_only or m.type not in ("bind", "volume") or not m.source:
            continue
        if m.type == "bind" and any(
            m.source == p or m.source.startswith(p + "/") for p in SYSTEM_MOUNTS
        ):
            continue
        out.append(m)
    return out


def propose_service(
    compose: ComposeFile, name: str, *, host: str | None, source_host: str | None, compose_path: str
) -> tomlkit.items.Table:
    """One `[services.NAME]` table (with its `migrate_from`) for the compose service `name`."""
    svc = compose.services[name]
    key = _slug(svc.container_name or name)
    table = tomlkit.table()
    if host:
        table["host"] = host
    tcp = [p for p in svc.ports if p.protocol == "tcp" and p.host_port]
    port = tcp[0].host_port if tcp else None
    if port:
        table["port"] = port
        table["subdomain"] = key
        if len(svc.ports) > 1:
            others = ", ".join(f"{p.published or '-'}:{p.target}/{p.protocol}" for p in svc.ports)
            table["port"].comment(f"published: {others}")
    table["user"] = key
    table["group"] = key
    table["unit"] = f"{key}.service"
    mounts = appdata_mounts(svc)
    base = f"/var/lib/{key}"
    targets = (
        [base]
        if len(mounts) == 1
        else [f"{base}/{_slug(posixpath.basename(m.target.rstrip('/')))}" for m in mounts]
    )
    targets = list(dict.fromkeys(targets))
    table["state_dirs"] = targets or [base]
    if svc.image:
        table["image"] = svc.image
    mf = tomlkit.table()
    mf["host"] = source_host or "CHANGE-ME"
    mf["compose_file"] = compose_path
    mf["compose_service"] = name
    if svc.puid is not None:
        mf["puid"] = svc.puid
    if svc.pgid is not None:
        mf["pgid"] = svc.pgid
    paths = tomlkit.inline_table()
    for m, target in zip(mounts, targets, strict=False):
        source = m.source if m.type == "bind" else compose.volume_path(m.source or "")
        paths[source] = target
    if paths:
        mf["paths"] = paths
        checks = unresolved(svc)
        if checks:
            mf["paths"].comment("CHECK: " + "; ".join(checks))
    table["migrate_from"] = mf
    if svc.depends_on:
        table.comment(f"depends on: {', '.join(svc.depends_on)}")
    return table


def unresolved(service: ComposeService) -> list[str]:
    """One line per appdata mount whose source needs a variable nobody set."""
    return [
        f"{', '.join(m.unset)} not set (no .env beside the compose file?): replace "
        f'"{m.source}" (mounted at {m.target}) with the real folder; `migrate plan` refuses it until then'
        for m in appdata_mounts(service)
        if m.unset
    ]


def propose_toml(
    compose: ComposeFile,
    *,
    host: str | None = None,
    source_host: str | None = None,
    compose_path: str | None = None,
    services: list[str] | None = None,
) -> str:
    """The `[services.*]` TOML text proposed for every (or the chosen) compose service."""
    doc = tomlkit.document()
    doc.add(tomlkit.comment(f"proposed from {compose.path} — review before pasting into lab.toml"))
    for w in compose.warnings:
        doc.add(tomlkit.comment(f"warning: {w}"))
    for name in services or list(compose.services):
        for line in unresolved(compose.services[name]):
            doc.add(tomlkit.comment(f"CHECK: services.{name}: {line}"))
    outer = tomlkit.table(is_super_table=True)
    for name in services or list(compose.services):
        svc = compose.services[name]
        outer[_slug(svc.container_name or name)] = propose_service(
            compose,
            name,
            host=host,
            source_host=source_host,
            compose_path=compose_path or compose.path,
        )
    doc["services"] = outer
    return tomlkit.dumps(doc)
