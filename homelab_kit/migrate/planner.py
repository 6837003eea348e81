"""Migration plans: a docker compose service → its native (NixOS or systemd) service.

`plan_migration(lab, service)` returns a reviewed `Plan`; nothing runs until `plan.execute()`:
preflight (source dirs exist, free space, the service user), stop the container, a restic snapshot of
the (now quiet) source, deploy/enable, copy each source dir into its state dir (rsync, guarded
`--delete`), a checksum verification, the guarded scoped `chown -R`, start, verify (unit, port,
health), coverage by a backup and a snapshot after. The source is never deleted. The chown maps
the container's PUID:PGID to the service user (`chown --from`), so files the container did not own
keep their owners. A source that is still an unresolved compose variable (`${UPLOAD_LOCATION}`, a
`# CHECK:` of `import compose`) is refused: the data behind it would be left behind.

Why the order differs a little from a hand-written runbook: the container is stopped *before* the
pre-migration snapshot so the snapshot of its SQLite files is consistent (stopping changes no data);
on NixOS the service user only exists once the service is enabled, so the deploy comes before the
copy and the freshly started (empty) unit is stopped again while its state dirs are filled.
"""

from __future__ import annotations

import posixpath
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ..errors import InventoryError, PlanError
from ..plans.plan import Plan, Step
from ..plans.safety import PROTECTED_PATHS, ensure_safe_target
from .steps import (
    answer_steps,
    copy_steps,
    free_space_step,
    mapped_chown_steps,
    nixos_deploy_steps,
    pick_backups,
    rsync_source,
    snapshot_step,
    start_steps,
    stop_container_step,
    user_steps,
    verify_copy_step,
)

if TYPE_CHECKING:
    from ..ecosystem.compose.parse import ComposeFile
    from ..lab.model import Lab, Service

SYSTEM_SOURCES = ("/etc", "/dev", "/proc", "/sys", "/run", "/var/run", "/usr")  # and "/tmp" itself
_VARIABLE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")


def migratable_services(lab: Lab) -> list[str]:
    """Names of the services that declare `migrate_from`."""
    return [name for name, s in lab.services.items() if s.migrate_from is not None]


def _is_appdata(source: str) -> bool:
    return source != "/tmp" and not any(
        source == p or source.startswith(p + "/") for p in SYSTEM_SOURCES
    )


def fetch_compose(lab: Lab, service: Service) -> ComposeFile:
    """Read the service's compose file from its source host (the only I/O while planning)."""
    from ..ecosystem.compose.parse import parse_compose

    mf = service.migrate_from
    assert mf is not None
    runner = lab.runner(mf.host)

    def read(path: str) -> str | None:
        res = runner.run(["cat", "--", path], timeout=30)
        return res.stdout if res.ok else None

    text = read(mf.compose_file)
    if text is None:
        raise PlanError(
            f"services.{service.name}.migrate_from: cannot read {mf.compose_file} on {mf.host}; "
            "check compose_file, or list the directories in migrate_from.paths"
        )
    return parse_compose(text, path=mf.compose_file, read_file=read)


def migration_paths(
    lab: Lab, service: Service, compose: ComposeFile | None = None
) -> list[tuple[str, str]]:
    """(source dir, target state dir) pairs: `migrate_from.paths`, else the compose bind mounts.

    Derived pairs follow the compose service's read-write bind mounts of appdata (not /etc/localtime,
    docker.sock, ...) in order, matched one to one with the service's state_dirs.
    """
    mf = service.migrate_from
    if mf is None:
        raise PlanError(f"services.{service.name}: no migrate_from table; nothing to migrate")
    if mf.paths:
        pairs = list(mf.paths.items())
        for source, _ in pairs:
            names = _VARIABLE.findall(source) if "${" in source else []
            if names:
                raise InventoryError(
                    f"services.{service.name}.migrate_from.paths: {source!r} still holds the compose "
                    f"variable {', '.join(names)} (a `# CHECK:` of `import compose`); write the real "
                    "source folder, or the data behind it would be left behind"
                )
    else:
        compose = compose or fetch_compose(lab, service)
        name = mf.compose_service or service.name
        if name not in compose.services:
            raise PlanError(
                f"{mf.compose_file}: no compose service {name!r} (has {', '.join(compose.services)}); "
                f"set services.{service.name}.migrate_from.compose_service"
            )
        unset = [v for m in compose.services[name].binds if not m.read_only for v in m.unset]
        if unset:
            raise InventoryError(
                f"{mf.compose_file}: compose service {name!r} mounts a folder from the unset "
                f"variable {', '.join(dict.fromkeys(unset))}; set it in the .env beside the file, "
                f"or map the folder in services.{service.name}.migrate_from.paths"
            )
        binds = [
            m.source
            for m in compose.services[name].binds
            if m.source and not m.read_only and _is_appdata(m.source)
        ]
        if len(binds) != len(service.state_dirs):
            raise PlanError(
                f"services.{service.name}: compose service {name!r} has {len(binds)} appdata bind "
                f"mount(s) ({', '.join(binds) or 'none'}) but {len(service.state_dirs)} state_dirs; "
                "map them explicitly in migrate_from.paths = { SOURCE = TARGET }"
            )
        pairs = list(zip(binds, service.state_dirs, strict=True))
    for _, target in pairs:
        if not any(
            target == d or target.startswith(d.rstrip("/") + "/") for d in service.state_dirs
        ):
            raise PlanError(
                f"services.{service.name}.migrate_from.paths: target {target} is not inside the "
                f"service's state_dirs ({', '.join(service.state_dirs) or 'none'})"
            )
    return pairs


def plan_migration(
    lab: Lab, service: str, *, compose: ComposeFile | None = None, now: datetime | None = None
) -> Plan:
    """The reviewed plan that moves `service` from its compose host to its native host."""
    svc = lab.services[service]
    mf = svc.migrate_from
    if mf is None:
        raise PlanError(
            f"services.{service}: no [services.{service}.migrate_from]; nothing to migrate"
        )
    if not svc.state_dirs:
        raise PlanError(
            f"services.{service}: declare state_dirs before migrating (the guard needs them)"
        )
    src, tgt = lab.hosts[mf.host], lab.hosts[svc.host]
    roots = tuple(svc.state_dirs)
    for d in roots:
        ensure_safe_target(d, operation="migration target", allowed_roots=roots)
    user, group = svc.user or service, svc.group or svc.user or service
    if compose is None and not mf.paths:
        compose = fetch_compose(lab, svc)
    pairs = migration_paths(lab, svc, compose)
    puid, pgid = mf.puid, mf.pgid
    inside = compose.services.get(mf.compose_service or service) if compose else None
    if inside is not None:  # `user:` or PUID/PGID in the compose file, unless lab.toml says
        puid = inside.puid if puid is None else puid
        pgid = inside.pgid if pgid is None else pgid
    now = now or datetime.now(UTC)
    nixos = tgt.os == "nixos"
    steps: list[Step] = []
    notes: list[str] = [
        f"{service}: {src.name} (compose) → {tgt.name} ({tgt.os}); the source is never deleted"
    ]

    # --- preflight ---------------------------------------------------------------------------
    links = {s: rsync_source(src, tgt, s) for s, _ in pairs}  # (rsync's view of s, its options)
    for s, _ in pairs:
        if s in PROTECTED_PATHS:
            raise PlanError(
                f"services.{service}.migrate_from: refusing to copy from system path {s}"
            )
        steps.append(Step(f"source {s} exists", src.name, ("test", "-d", s), phase="preflight"))
    if any(opts for _, opts in links.values()):
        steps.append(
            Step("rsync on the source", src.name, ("rsync", "--version"), phase="preflight")
        )
    steps += [free_space_step(tgt.name, *links[s], t) for s, t in pairs]
    if nixos:
        notes.append(
            f"on NixOS the user {user}:{group} exists only once the service is enabled: the deploy "
            "runs before the copy and the new (empty) unit is stopped while its state is filled"
        )
    else:
        steps += user_steps(tgt.name, user, group, "preflight")

    # --- stop the container, snapshot ---------------------------------------------------------
    folder = posixpath.dirname(mf.compose_file) or None
    steps.append(
        stop_container_step(src.name, mf.compose_file, mf.compose_service or service, folder)
    )
    before, after, covered = pick_backups(lab, src.name, tgt.name)
    day = now.strftime("%Y%m%d")
    if before is None:
        notes.append("no backup in the lab: no snapshot before or after (declare a [backups.*])")
    else:
        tag = f"migrate-{service}-before-{day}"
        sources = [s for s, _ in pairs]
        steps.append(
            snapshot_step(before, src.name, sources, tag, f"snapshot source ({before.name})")
        )

    # --- deploy (NixOS), copy, verify, chown, start -------------------------------------------
    unit = svc.unit
    if nixos:
        flake = tgt.flake or getattr(lab, "flake", None)
        steps += nixos_deploy_steps(tgt, service, unit, user, flake)
    for s, t in pairs:
        steps += copy_steps(tgt.name, s, *links[s], t, roots)
    steps += [verify_copy_step(tgt.name, s, *links[s], t) for s, t in pairs]
    for t in dict.fromkeys(t for _, t in pairs):
        steps += mapped_chown_steps(tgt.name, t, user, group, roots, puid, pgid)
    if puid is not None or pgid is not None:
        notes.append(
            f"chown --from maps the container's {puid if puid is not None else '-'}:"
            f"{pgid if pgid is not None else '-'} to {user}:{group}; files it did not own keep "
            "their owners"
        )
    if unit:
        steps += start_steps(tgt.name, unit, nixos)
    else:
        notes.append(f"services.{service} has no unit: start the native service yourself")
    steps += answer_steps(tgt.name, svc.port, svc.health)

    # --- backups ------------------------------------------------------------------------------
    if after is not None:
        if not covered:
            notes.append(
                f'no backup covers {tgt.name}: add "{tgt.name}" to the covers of [backups.{after.name}] '
                f"in lab.toml so {', '.join(roots)} are backed up from now on"
            )
        tag = f"migrate-{service}-after-{day}"
        steps.append(
            snapshot_step(
                after, tgt.name, list(roots), tag, f"snapshot {service} state ({after.name})"
            )
        )
    params = {"service": service, "source": src.name, "target": tgt.name, "paths": dict(pairs)}
    title = f"migrate {service}: {src.name} → {tgt.name}"
    return Plan(title, tuple(steps), tuple(notes), params, kind="migrate")
