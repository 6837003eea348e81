"""Step builders for migration plans: preflight, stop, snapshot, deploy, copy, verify, chown, start.

Pure: each function returns `Step`s (data) and runs nothing; `migrate.plan_migration` puts them in
order. Inventory values reach the small shell scripts only as "$1".."$n" (`plan.script`), and every
destructive step (the rsync mirror, the recursive chown) is built through `safety`.
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

from ..errors import PlanError
from ..plans.plan import Step, no_output, script
from ..plans.safety import Guarded, chown_recursive, rsync_mirror

if TYPE_CHECKING:
    from ..lab.model import Backup, Host, Lab

RSYNC_CHECK = ("rsync", "-rlptH", "--dry-run", "--itemize-changes", "--delete")

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


def _dir(path: str) -> str:
    """`path/`: rsync copies a directory's contents, not the directory itself."""
    return path.rstrip("/") + "/"


def rsync_source(source: Host, target: Host, path: str) -> tuple[str, list[str]]:
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


def pick_backups(lab: Lab, source: str, target: str) -> tuple[Backup | None, Backup | None, bool]:
    """(backup for the snapshot before, backup for after, whether the target host is covered)."""
    backups = list(lab.backups.values())
    covering = [b for b in backups if target in b.covers]
    before = next((b for b in backups if b.host == source or source in b.covers), None)
    after = covering[0] if covering else (backups[0] if backups else None)
    return before or after, after, bool(covering)


def snapshot_step(backup: Backup, host: str, paths: list[str], tag: str, title: str) -> Step:
    """A tagged restic snapshot of `paths`, done once a snapshot with that tag exists."""
    from ..backups.restic import Restic

    env = Restic.for_backup(backup).environment()
    argv = [backup.restic, "backup", "--host", host, "--tag", "homelab-kit", "--tag", tag]
    post = script('"$@" | grep -q "\\"id\\""', backup.restic, "snapshots", "--json", "--tag", tag)
    return Step(title, host, (*argv, "--", *paths), post=post, phase="snapshot", env=env, sudo=True)


def free_space_step(host: str, spec: str, opts: list[str], target: str) -> Step:
    """Preflight: the target's filesystem has room for what rsync would copy."""
    argv = script(_FREE_SPACE, target, *opts, _dir(spec), _dir(target))
    return Step(f"free space on {host} for {target}", host, argv, phase="preflight")


def user_steps(host: str, user: str, group: str | None, phase: str) -> list[Step]:
    """The service user (and group, when given) exist on the host."""
    steps = [Step(f"user {user} exists", host, ("id", "-u", user), phase=phase)]
    if group is not None:
        steps.append(Step(f"group {group} exists", host, ("getent", "group", group), phase=phase))
    return steps


def stop_container_step(host: str, compose_file: str, name: str, folder: str | None) -> Step:
    """`docker compose stop NAME`, done once `ps --status running` lists nothing."""
    compose_argv = ("docker", "compose", "-f", compose_file)
    running = no_output((*compose_argv, "ps", "--status", "running", "--quiet", name))
    return Step(
        f"stop container {name}",
        host,
        (*compose_argv, "stop", name),
        post=running,
        phase="stop",
        cwd=folder,
        sudo=True,
    )


def nixos_deploy_steps(
    host: Host, service: str, unit: str | None, user: str, flake: str | None
) -> list[Step]:
    """nixos-rebuild switch (creates the user), then stop the new, empty unit while it is filled."""
    rebuild = ["nixos-rebuild", "switch"] + (["--flake", f"{flake}#{host.name}"] if flake else [])
    post = ("systemctl", "cat", unit) if unit else None
    steps = [
        Step(
            f"deploy {service} on {host.name}",
            host.name,
            tuple(rebuild),
            post=post,
            phase="deploy",
            sudo=True,
        ),
        *user_steps(host.name, user, None, "deploy"),
    ]
    if unit:
        steps.append(
            Step(
                f"stop {unit} while its state is filled",
                host.name,
                ("systemctl", "stop", unit),
                post=script('! systemctl is-active --quiet "$1"', unit),
                phase="deploy",
                sudo=True,
            )
        )
    return steps


def copy_steps(
    host: str, source: str, spec: str, opts: list[str], target: str, roots: tuple[str, ...]
) -> list[Step]:
    """Create the state dir, then mirror the source into it (guarded rsync --delete)."""
    g = rsync_mirror(spec, target, allowed_roots=roots, options=opts)
    check = no_output((*RSYNC_CHECK, *opts, _dir(spec), _dir(target)))
    return [
        Step(
            f"create {target}",
            host,
            ("mkdir", "-p", "--", target),
            phase="copy",
            sudo=True,
            post=("test", "-d", target),
        ),
        Step(
            f"copy {source} → {target}",
            host,
            g.argv,
            post=check,
            destructive=True,
            guard=g.guard,
            phase="copy",
            sudo=True,
        ),
    ]


def verify_copy_step(host: str, source: str, spec: str, opts: list[str], target: str) -> Step:
    """rsync --checksum dry run: holds when nothing differs between source and target."""
    argv = no_output((*RSYNC_CHECK, "--checksum", *opts, _dir(spec), _dir(target)))
    return Step(
        f"verify {target} matches {source} (checksums)", host, argv, phase="verify", sudo=True
    )


def _chown(host: str, title: str, g: Guarded, user: str, post: tuple[str, ...]) -> Step:
    return Step(title, host, g.argv, pre=("id", "-u", user), post=post, destructive=True,
                guard=g.guard, phase="chown", sudo=True)  # fmt: skip


def chown_step(
    host: str, target: str, user: str, group: str, roots: tuple[str, ...], note: str = ""
) -> Step:
    """The guarded, scoped `chown -R`; done once `find` sees nothing owned by anyone else."""
    g = chown_recursive(target, user, group, allowed_roots=roots)
    others = ("(", "!", "-user", user, "-o", "!", "-group", group, ")")
    owned = no_output(("find", "-P", target, *others, "-print", "-quit"))
    return _chown(host, f"chown {target} to {user}:{group}{note}", g, user, owned)


def mapped_chown_steps(
    host: str,
    target: str,
    user: str,
    group: str,
    roots: tuple[str, ...],
    puid: int | None,
    pgid: int | None,
) -> list[Step]:
    """The container's PUID:PGID handed to the service user with `chown --from`: only the files the
    container owned change (others keep their owners); without either id, the whole dir (chown_step).
    Each is done once `find` sees no file of that container id left."""
    if puid is None and pgid is None:
        return [chown_step(host, target, user, group, roots)]
    steps = []
    if puid is not None:
        g = chown_recursive(target, user, None, allowed_roots=roots, only_from=str(puid))
        left = no_output(
            ("find", "-P", target, "-uid", str(puid), "!", "-user", user, "-print", "-quit")
        )
        steps.append(_chown(host, f"chown {target}: container user {puid} → {user}", g, user, left))
    if pgid is not None:
        g = chown_recursive(target, None, group, allowed_roots=roots, only_from=f":{pgid}")
        left = no_output(
            ("find", "-P", target, "-gid", str(pgid), "!", "-group", group, "-print", "-quit")
        )
        steps.append(
            _chown(host, f"chown {target}: container group {pgid} → {group}", g, user, left)
        )
    return steps


def start_steps(host: str, unit: str, nixos: bool) -> list[Step]:
    """Start (NixOS) or enable --now the unit, then wait until it is active."""
    start = ("systemctl", "start", unit) if nixos else ("systemctl", "enable", "--now", unit)
    return [
        Step(
            f"start {unit}",
            host,
            start,
            post=("systemctl", "is-active", "--quiet", unit),
            phase="start",
            sudo=True,
        ),
        Step(
            f"{unit} is active",
            host,
            retry(["systemctl", "is-active", "--quiet", unit], 10),
            phase="verify",
        ),
    ]


def answer_steps(host: str, port: int | None, health: str | None) -> list[Step]:
    """The service answers: its port accepts connections, its health URL is 2xx (with retries)."""
    steps = []
    if port:
        steps.append(
            Step(
                f"port {port} answers",
                host,
                retry(["bash", "-c", _PORT, "bash", "127.0.0.1", str(port)]),
                phase="verify",
            )
        )
    if health:
        curl = ["curl", "-fsS", "-o", "/dev/null", "--max-time", "10", health]
        steps.append(Step(f"health {health} is 2xx", host, retry(curl), phase="verify"))
    return steps
