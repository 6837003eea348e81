"""Per-host deploy steps: the exact nixos-rebuild, docker compose and systemctl argv. Pure
(but for write_known_hosts).

NixOS: `nixos-rebuild ACTION --flake FLAKE#HOST --target-host USER@ADDRESS [--build-host B]
[--use-remote-sudo]` on this workstation when the flake is the lab's (`[lab] flake`, or a host's
`flake = "#attr"` naming another attribute of it); a host whose own `flake` is a full reference (a
path on the host, or a URL it fetches) rebuilds itself over SSH; with no flake at all the host
rebuilds from its own /etc/nixos. nixos-rebuild's own ssh gets NIX_SSHOPTS from lab.toml (port,
identity, pinned key, strict checking). Compose: record the running image IDs, pull, up -d; the
rollback re-tags the recorded IDs so the previous images come back without a registry.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..plans.plan import Step
from .health import HealthCheck

if TYPE_CHECKING:
    from ..lab.model import Host, Lab, Service


NIXOS_ACTIONS = ("switch", "test", "boot", "dry-activate")
UNIT_ACTIONS = ("restart", "reload")
ACTIONS = (*NIXOS_ACTIONS, "update", *UNIT_ACTIONS)
ACTIVATING = ("switch", "test", "update", "restart", "reload")  # health is checked after these
DEFAULT_TIMEOUT = 3600.0
DEFAULT_NIXOS_FLAKE = "/etc/nixos"
PROFILE_SWITCH = "/nix/var/nix/profiles/system/bin/switch-to-configuration"


def host_kind(host: Host) -> str:
    """ "nixos", "compose" or "systemd" (any other host: only unit restarts/reloads apply)."""
    if host.os == "nixos":
        return "nixos"
    if host.os == "compose" or host.compose_dir:
        return "compose"
    return "systemd"


def nixos_rebuild_argv(
    action: str,
    *,
    flake: str | None,
    target: str | None = None,
    build_host: str | None = None,
    remote_sudo: bool = False,
    rollback: bool = False,
) -> tuple[str, ...]:
    """The exact nixos-rebuild argv (flake omitted for --rollback: nothing is built)."""
    argv = ["nixos-rebuild", action]
    if rollback:
        argv.append("--rollback")
    elif flake:
        argv += ["--flake", flake]
    if target:
        argv += ["--target-host", target]
    if build_host:
        argv += ["--build-host", build_host]
    if remote_sudo:
        argv.append("--use-remote-sudo")
    return tuple(argv)


def _is_path(ref: str) -> bool:
    return ":" not in ref.split("#", 1)[0] or ref.startswith("path:")


def flake_ref(lab: Lab, host: Host) -> tuple[str, str]:
    """(FLAKE#ATTR, where nixos-rebuild runs: "workstation" or "host") from the lab's settings."""
    own = host.flake
    if own and not own.startswith("#"):
        ref, where = own, "host"
    elif lab.flake:
        base = lab.flake.split("#", 1)[0]
        if _is_path(base) and not base.startswith(("/", "path:", "~")):
            base = str((lab.root / base).resolve())
        ref = f"{base}{own}" if own else f"{base}#{host.name}"
        where = "host" if host.transport == "local" else "workstation"
    else:
        ref, where = DEFAULT_NIXOS_FLAKE, "host"
    if "#" not in ref:
        ref = f"{ref}#{host.name}"
    return ref, where


def _build_host(lab: Lab, host: Host) -> str | None:
    value = host.build_host or lab.build_host
    if not value:
        return None
    if value in lab.hosts:
        b = lab.hosts[value]
        return f"{b.user}@{b.address}"
    return value


def nix_sshopts(lab: Lab, host: Host) -> str:
    """NIX_SSHOPTS for nixos-rebuild's own ssh: port, identity and the pinned key, strictly."""
    opts = ["-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes"]
    if host.port != 22:
        opts += ["-p", str(host.port)]
    if host.identity_file:
        opts += ["-i", str(host.identity_file), "-o", "IdentitiesOnly=yes"]
    if host.host_key:
        opts += ["-o", f"UserKnownHostsFile={known_hosts_path(lab)}"]
    elif lab.known_hosts:
        opts += ["-o", f"UserKnownHostsFile={lab.known_hosts}"]
    return " ".join(opts)


def known_hosts_path(lab: Lab) -> str:
    return str(lab.cache_dir / "deploy_known_hosts")


def known_hosts_text(lab: Lab) -> str:
    """known_hosts lines for every pinned host key (written before workstation-side rebuilds)."""
    lines = []
    for h in lab.hosts.values():
        if h.host_key:
            name = h.address if h.port == 22 else f"[{h.address}]:{h.port}"
            lines.append(f"{name} {' '.join(h.host_key.split()[:2])}")
    return "\n".join(lines) + "\n"


def write_known_hosts(lab: Lab) -> Path:
    """Write the pinned keys where NIX_SSHOPTS points (the only I/O in this module)."""
    path = Path(known_hosts_path(lab))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(known_hosts_text(lab))
    return path


@dataclass(frozen=True)
class HostDeploy:
    """Everything the rollout does on one host, in order; `note` says why a host has no steps."""

    host: str
    kind: str
    runs_on: str = "host"  # where `steps` and `rollback` run: "host" or "workstation"
    record: Step | None = None
    steps: tuple[Step, ...] = ()
    checks: tuple[HealthCheck, ...] = ()
    rollback: tuple[Step, ...] = ()
    services: tuple[str, ...] = ()
    note: str = ""

    @property
    def skipped(self) -> bool:
        return not self.steps


def nixos_host(lab: Lab, host: Host, action: str, timeout: float) -> HostDeploy:
    ref, where = flake_ref(lab, host)
    build = _build_host(lab, host)
    common: dict[str, Any] = dict(host=host.name, timeout=timeout)
    if where == "workstation":
        target = f"{host.user}@{host.address}"
        sudo = host.user != "root"
        env = {"NIX_SSHOPTS": nix_sshopts(lab, host)}
        argv = nixos_rebuild_argv(
            action, flake=ref, target=target, build_host=build, remote_sudo=sudo
        )
        back = nixos_rebuild_argv(
            "switch", flake=None, target=target, build_host=build, remote_sudo=sudo, rollback=True
        )
        note = "runs on this workstation"
        common.update(env=env)
    else:
        argv = nixos_rebuild_argv(action, flake=ref, build_host=build)
        back = nixos_rebuild_argv("switch", flake=None, rollback=True)
        note = "runs on the host"
        common.update(sudo=host.user != "root")
    step = Step(f"nixos-rebuild {action}", argv=argv, phase="deploy", note=note, **common)
    rollback: tuple[Step, ...] = ()
    if action == "switch":
        rollback = (Step("roll back: previous generation", argv=back, phase="rollback", **common),)
    elif action == "test":  # the boot profile still holds the previous system: re-activate it
        rollback = (
            Step(
                "roll back: re-activate the boot profile",
                host=host.name,
                argv=(PROFILE_SWITCH, "test"),
                phase="rollback",
                sudo=host.user != "root",
                timeout=timeout,
            ),
        )
    hd = HostDeploy(host.name, "nixos", where, steps=(step,), rollback=rollback)
    return hd


def compose_host(
    lab: Lab, host: Host, action: str, services: Sequence[str], timeout: float
) -> HostDeploy:
    """record + pull + up -d in the compose folder (a relative one is the lab folder's, on a local
    host); dry-activate only validates the file; restart restarts containers."""
    if not host.compose_dir:
        return HostDeploy(
            host.name, "compose", note=f"hosts.{host.name}.compose_dir is not set: nothing to run"
        )
    folder = host.compose_dir
    if host.transport == "local" and not folder.startswith(("/", "~")):
        folder = str((lab.root / folder).resolve())
    common: dict[str, Any] = dict(host=host.name, cwd=folder, timeout=timeout)
    svc = tuple(services)
    dc = ("docker", "compose")
    if action == "dry-activate":
        steps = (
            Step(
                "validate compose file", argv=(*dc, "config", "--quiet"), phase="deploy", **common
            ),
        )
        return HostDeploy(host.name, "compose", steps=steps, services=svc)
    if action in ("restart", "reload"):
        if action == "reload":
            return HostDeploy(host.name, "compose", note="compose has no reload: nothing to run")
        steps = (Step("restart containers", argv=(*dc, "restart", *svc), phase="deploy", **common),)
        return HostDeploy(host.name, "compose", steps=steps, services=svc)
    if action not in ("switch", "test", "update"):
        return HostDeploy(
            host.name, "compose", note=f"{action} applies to NixOS only: nothing to run"
        )
    record = Step(
        "record running images (for rollback)",
        argv=(*dc, "images", "--format", "json", *svc),
        phase="record",
        **common,
    )
    steps = (
        Step("pull images", argv=(*dc, "pull", *svc), phase="deploy", **common),
        Step("recreate containers", argv=(*dc, "up", "-d", *svc), phase="deploy", **common),
    )
    return HostDeploy(host.name, "compose", record=record, steps=steps, services=svc)


def units_host(host: Host, action: str, services: Sequence[Service], timeout: float) -> HostDeploy:
    kind = host_kind(host)
    units = tuple(dict.fromkeys(s.unit for s in services if s.unit))
    if action not in UNIT_ACTIONS:
        return HostDeploy(host.name, kind, note=f"{action} does not apply to os={host.os}")
    if not units:
        return HostDeploy(host.name, kind, note="no selected service declares a unit")
    step = Step(
        f"systemctl {action}",
        host=host.name,
        argv=("systemctl", action, *units),
        phase="deploy",
        sudo=host.user != "root",
        timeout=timeout,
    )
    return HostDeploy(host.name, kind, steps=(step,), services=tuple(s.name for s in services))


def parse_compose_images(stdout: str) -> list[dict[str, str]]:
    """`docker compose images --format json` (a JSON array, or one object per line) → images."""
    text = stdout.strip()
    if not text:
        return []
    try:
        data = json.loads(text)
        items = data if isinstance(data, list) else [data]
    except json.JSONDecodeError:
        items = [json.loads(line) for line in text.splitlines() if line.strip().startswith("{")]
    out = []
    for it in items:
        image_id = it.get("ID") or it.get("Id") or ""
        repo, tag = it.get("Repository") or "", it.get("Tag") or ""
        if image_id and repo and "<none>" not in (repo, tag):  # untagged: nothing to re-tag
            out.append(
                {
                    "container": it.get("ContainerName", ""),
                    "repository": repo,
                    "tag": tag or "latest",
                    "id": image_id,
                }
            )
    return out


def compose_rollback(hd: HostDeploy, images: list[dict[str, str]]) -> tuple[Step, ...]:
    """Steps bringing back the recorded images: re-tag each, then `up -d` the same services."""
    assert hd.record is not None
    svc = hd.record.argv[5:]  # docker compose images --format json [SERVICE...]
    common: dict[str, Any] = dict(host=hd.host, cwd=hd.record.cwd, phase="rollback")
    refs: dict[str, str] = {}
    for im in images:
        refs.setdefault(f"{im['repository']}:{im['tag']}", im["id"])
    steps = [
        Step(f"roll back {ref}", argv=("docker", "tag", image_id, ref), **common)
        for ref, image_id in refs.items()
    ]
    up = ("docker", "compose", "up", "-d", *svc)
    steps.append(Step("recreate containers on the previous images", argv=up, **common))
    return tuple(steps)
