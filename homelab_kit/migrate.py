"""Migration plans: a docker compose service → its native (NixOS or systemd) service.

`plan_migration(lab, service)` returns a reviewed `Plan`; nothing runs until `plan.execute()`:
preflight (source dirs exist, free space, the service user), stop the container, a restic snapshot of
the (now quiet) source, deploy/enable, copy each source dir into its state dir (rsync, guarded
`--delete`), a checksum verification, the guarded scoped `chown -R`, start, verify (unit, port,
health), coverage by a backup and a snapshot after. The source is never deleted.

Why the order differs a little from a hand-written runbook: the container is stopped *before* the
pre-migration snapshot so the snapshot of its SQLite files is consistent (stopping changes no data);
on NixOS the service user only exists once the service is enabled, so the deploy comes before the
copy and the freshly started (empty) unit is stopped again while its state dirs are filled.
"""

from __future__ import annotations

import posixpath
import shlex
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from .errors import PlanError
from .plan import Plan, Step, no_output, script
from .safety import PROTECTED_PATHS, chown_recursive, ensure_safe_target, rsync_mirror

if TYPE_CHECKING:
    from .compose import ComposeFile
    from .inventory import Backup, Host, Lab, Service

RSYNC_CHECK = ("rsync", "-rlptH", "--dry-run", "--itemize-changes", "--delete")
SYSTEM_SOURCES = ("/etc", "/dev", "/proc", "/sys", "/run", "/var/run", "/usr")  # and "/tmp" itself

_FREE_SPACE = r"""dst=$1; shift
d=$dst; while [ ! -e "$d" ]; do d=$(dirname "$d"); done
need=$(LC_ALL=C rsync -a --dry-run --stats --no-human-readable "$@" \
  | sed -n 's/^Total transferred file size: \([0-9]*\).*/\1/p')
[ -n "$need" ] || { echo "cannot measure the source with rsync --stats" >&2; exit 2; }
avail=$(df -Pk -- "$d" | awk 'NR==2 {print $4}')
need_k=$((need / 1024 + 1))
echo "to copy: $need_k KiB; free on $d: $avail KiB"
[ "$need_k" -lt "$avail" ] || { echo "not enough space on $d for $dst: need $need_k KiB, $avail KiB free" >&2; exit 1; }
"""
_RETRY = 'n=$1; shift; i=0; while [ "$i" -lt "$n" ]; do "$@" && exit 0; i=$((i+1)); sleep 1; done; exit 1'
_PORT = 'exec 3<>"/dev/tcp/$1/$2"'


def retry(argv: list[str] | tuple[str, ...], attempts: int = 30) -> tuple[str, ...]:
    """Run argv up to `attempts` times a second apart (a service needs a moment to come up)."""
    return script(_RETRY, str(attempts), *argv)


def migratable_services(lab: Lab) -> list[str]:
    """Names of the services that declare `migrate_from`."""
    return [name for name, s in lab.services.items() if s.migrate_from is not None]


def _is_appdata(source: str) -> bool:
    return source != "/tmp" and not any(
        source == p or source.startswith(p + "/") for p in SYSTEM_SOURCES
    )


def fetch_compose(lab: Lab, service: Service) -> ComposeFile:
    """Read the service's compose file from its source host (the only I/O while planning)."""
    from .compose import parse_compose

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
    else:
        compose = compose or fetch_compose(lab, service)
        name = mf.compose_service or service.name
        if name not in compose.services:
            raise PlanError(
                f"{mf.compose_file}: no compose service {name!r} (has {', '.join(compose.services)}); "
                f"set services.{service.name}.migrate_from.compose_service"
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


def _rsync_source(lab: Lab, source: Host, target: Host, path: str) -> tuple[str, list[str]]:
    """How rsync on the target reaches `path` on the source: a local path or user@addr:path + -e."""
    if source.name == target.name or (source.transport == "local" and target.transport == "local"):
        return path, []
    if source.transport == "local":
        raise PlanError(
            f"hosts.{source.name}: transport is local, so {target.name} cannot pull from it; "
            "give the source host an ssh transport"
        )
    ssh = ["ssh", "-p", str(source.port), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"]
    ssh += ["-o", f"ConnectTimeout={max(1, int(source.connect_timeout))}"]
    if source.identity_file:
        ssh += ["-i", str(source.identity_file)]
    if source.host_key:  # the pinned key travels with the command: no known_hosts edit, no TOFU
        known = source.address if source.port == 22 else f"[{source.address}]:{source.port}"
        ssh += ["-o", "UserKnownHostsFile=/dev/null", "-o", "GlobalKnownHostsFile=/dev/null"]
        ssh += ["-o", f"KnownHostsCommand=/usr/bin/env echo {known} {source.host_key}"]
    return f"{source.user}@{source.address}:{path}", ["-e", shlex.join(ssh)]


def _pick_backups(lab: Lab, source: str, target: str) -> tuple[Backup | None, Backup | None, bool]:
    """(backup for the snapshot before, backup for after, whether the target host is covered)."""
    backups = list(lab.backups.values())
    covering = [b for b in backups if target in b.covers]
    before = next((b for b in backups if b.host == source or source in b.covers), None)
    after = covering[0] if covering else (backups[0] if backups else None)
    return before or after, after, bool(covering)


def _snapshot(backup: Backup, host: str, paths: list[str], tag: str, title: str) -> Step:
    from .restic import Restic

    env = Restic.for_backup(backup).environment()
    argv = [
        backup.restic,
        "backup",
        "--host",
        host,
        "--tag",
        "homelab-kit",
        "--tag",
        tag,
        "--",
        *paths,
    ]
    post = script('"$@" | grep -q "\\"id\\""', backup.restic, "snapshots", "--json", "--tag", tag)
    return Step(title, host, tuple(argv), post=post, phase="snapshot", env=env, sudo=True)


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
    pairs = migration_paths(lab, svc, compose)
    now = now or datetime.now(UTC)
    nixos = tgt.os == "nixos"
    steps: list[Step] = []
    notes: list[str] = [
        f"{service}: {src.name} (compose) → {tgt.name} ({tgt.os}); the source is never deleted"
    ]

    # --- preflight ---------------------------------------------------------------------------
    remote = any(_rsync_source(lab, src, tgt, s)[1] for s, _ in pairs)
    for s, _ in pairs:
        if s in PROTECTED_PATHS:
            raise PlanError(
                f"services.{service}.migrate_from: refusing to copy from system path {s}"
            )
        steps.append(Step(f"source {s} exists", src.name, ("test", "-d", s), phase="preflight"))
    if remote:
        steps.append(
            Step("rsync on the source", src.name, ("rsync", "--version"), phase="preflight")
        )
    for s, t in pairs:
        spec, opts = _rsync_source(lab, src, tgt, s)
        argv = script(_FREE_SPACE, t, *opts, spec.rstrip("/") + "/", t.rstrip("/") + "/")
        steps.append(Step(f"free space on {tgt.name} for {t}", tgt.name, argv, phase="preflight"))
    if nixos:
        notes.append(
            f"on NixOS the user {user}:{group} exists only once the service is enabled: the deploy "
            "runs before the copy and the new (empty) unit is stopped while its state is filled"
        )
    else:
        steps.append(Step(f"user {user} exists", tgt.name, ("id", "-u", user), phase="preflight"))
        steps.append(
            Step(f"group {group} exists", tgt.name, ("getent", "group", group), phase="preflight")
        )

    # --- stop the container, snapshot ---------------------------------------------------------
    cname = mf.compose_service or service
    folder = posixpath.dirname(mf.compose_file) or None
    compose_argv = ("docker", "compose", "-f", mf.compose_file)
    running = no_output((*compose_argv, "ps", "--status", "running", "--quiet", cname))
    steps.append(
        Step(
            f"stop container {cname}",
            src.name,
            (*compose_argv, "stop", cname),
            post=running,
            phase="stop",
            cwd=folder,
            sudo=True,
        )
    )
    before, after, covered = _pick_backups(lab, src.name, tgt.name)
    day = now.strftime("%Y%m%d")
    if before is None:
        notes.append("no backup in the lab: no snapshot before or after (declare a [backups.*])")
    else:
        tag = f"migrate-{service}-before-{day}"
        steps.append(
            _snapshot(
                before, src.name, [s for s, _ in pairs], tag, f"snapshot source ({before.name})"
            )
        )

    # --- deploy (NixOS), copy, verify, chown, start -------------------------------------------
    unit = svc.unit
    if nixos:
        flake = tgt.flake or getattr(lab, "flake", None)
        rebuild = ["nixos-rebuild", "switch"] + (
            ["--flake", f"{flake}#{tgt.name}"] if flake else []
        )
        post = ("systemctl", "cat", unit) if unit else None
        steps.append(
            Step(
                f"deploy {service} on {tgt.name}",
                tgt.name,
                tuple(rebuild),
                post=post,
                phase="deploy",
                sudo=True,
            )
        )
        steps.append(Step(f"user {user} exists", tgt.name, ("id", "-u", user), phase="deploy"))
        if unit:
            steps.append(
                Step(
                    f"stop {unit} while its state is filled",
                    tgt.name,
                    ("systemctl", "stop", unit),
                    post=script('! systemctl is-active --quiet "$1"', unit),
                    phase="deploy",
                    sudo=True,
                )
            )
    for s, t in pairs:
        spec, opts = _rsync_source(lab, src, tgt, s)
        g = rsync_mirror(spec, t, allowed_roots=roots, options=opts)
        check = no_output((*RSYNC_CHECK, *opts, spec.rstrip("/") + "/", t.rstrip("/") + "/"))
        steps.append(
            Step(
                f"create {t}",
                tgt.name,
                ("mkdir", "-p", "--", t),
                phase="copy",
                sudo=True,
                post=("test", "-d", t),
            )
        )
        steps.append(
            Step(
                f"copy {s} → {t}",
                tgt.name,
                g.argv,
                post=check,
                destructive=True,
                guard=g.guard,
                phase="copy",
                sudo=True,
            )
        )
    for s, t in pairs:
        spec, opts = _rsync_source(lab, src, tgt, s)
        argv = no_output(
            (*RSYNC_CHECK, "--checksum", *opts, spec.rstrip("/") + "/", t.rstrip("/") + "/")
        )
        steps.append(
            Step(f"verify {t} matches {s} (checksums)", tgt.name, argv, phase="verify", sudo=True)
        )
    puid = f" (container {mf.puid}:{mf.pgid})" if mf.puid is not None else ""
    for t in dict.fromkeys(t for _, t in pairs):
        g = chown_recursive(t, user, group, allowed_roots=roots)
        owned = no_output(
            (
                "find",
                "-P",
                t,
                "(",
                "!",
                "-user",
                user,
                "-o",
                "!",
                "-group",
                group,
                ")",
                "-print",
                "-quit",
            )
        )
        steps.append(
            Step(
                f"chown {t} to {user}:{group}{puid}",
                tgt.name,
                g.argv,
                pre=("id", "-u", user),
                post=owned,
                destructive=True,
                guard=g.guard,
                phase="chown",
                sudo=True,
            )
        )
    if unit:
        start = ("systemctl", "start", unit) if nixos else ("systemctl", "enable", "--now", unit)
        steps.append(
            Step(
                f"start {unit}",
                tgt.name,
                start,
                post=("systemctl", "is-active", "--quiet", unit),
                phase="start",
                sudo=True,
            )
        )
        steps.append(
            Step(
                f"{unit} is active",
                tgt.name,
                retry(["systemctl", "is-active", "--quiet", unit], 10),
                phase="verify",
            )
        )
    else:
        notes.append(f"services.{service} has no unit: start the native service yourself")
    if svc.port:
        steps.append(
            Step(
                f"port {svc.port} answers",
                tgt.name,
                retry(["bash", "-c", _PORT, "bash", "127.0.0.1", str(svc.port)]),
                phase="verify",
            )
        )
    if svc.health:
        curl = ["curl", "-fsS", "-o", "/dev/null", "--max-time", "10", svc.health]
        steps.append(Step(f"health {svc.health} is 2xx", tgt.name, retry(curl), phase="verify"))

    # --- backups ------------------------------------------------------------------------------
    if after is not None:
        if not covered:
            notes.append(
                f'no backup covers {tgt.name}: add "{tgt.name}" to the covers of [backups.{after.name}] '
                f"in lab.toml so {', '.join(roots)} are backed up from now on"
            )
        tag = f"migrate-{service}-after-{day}"
        steps.append(
            _snapshot(after, tgt.name, list(roots), tag, f"snapshot {service} state ({after.name})")
        )
    params = {"service": service, "source": src.name, "target": tgt.name, "paths": dict(pairs)}
    title = f"migrate {service}: {src.name} → {tgt.name}"
    return Plan(title, tuple(steps), tuple(notes), params, kind="migrate")
