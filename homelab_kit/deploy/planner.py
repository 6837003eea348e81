"""Deploy plans: what will run on which host, then `.execute()` (rollout.py) rolls it out.

Building a plan connects to nothing: it *is* the dry run. Per host kind (see steps.py):
NixOS hosts run `nixos-rebuild {dry-activate|test|switch|boot}` (from this workstation with
--target-host, or on the host itself, per the lab's flake settings); compose hosts record their
running images, then `docker compose pull` and `up -d` (optionally a subset of services); any host
can `systemctl restart|reload` the selected services' units. After each host its services' health
is checked (health.py); a host whose health fails is rolled back on its own.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ..errors import PlanError
from .health import checks_for
from .steps import (
    ACTIONS,
    ACTIVATING,
    DEFAULT_TIMEOUT,
    NIXOS_ACTIONS,
    HostDeploy,
    compose_host,
    host_kind,
    nixos_host,
    units_host,
)

if TYPE_CHECKING:
    import pandas as pd

    from ..lab.model import Host, Lab
    from .result import DeployResult


def host_deploy(
    lab: Lab,
    host: Host,
    action: str,
    services: Sequence[str] | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
) -> HostDeploy:
    """The steps, health checks and rollback for one host. Pure."""
    on_host = lab.services_on(host.name)
    chosen = [s for s in on_host if services is None or s.name in services]
    kind = host_kind(host)
    if services is not None and not chosen:
        return HostDeploy(host.name, kind, note="none of the selected services runs here")
    if kind == "compose":
        subset = [s.name for s in chosen] if services is not None else []
        hd = compose_host(lab, host, action, subset, timeout)
    elif kind == "nixos" and action in NIXOS_ACTIONS:
        hd = nixos_host(lab, host, action, timeout)
    else:
        hd = units_host(host, action, chosen, timeout)
    if hd.steps and action in ACTIVATING:
        hd = replace(hd, checks=checks_for(chosen, compose=kind == "compose"))
    return replace(hd, services=tuple(s.name for s in chosen))


@dataclass(frozen=True)
class DeployPlan:
    """A deploy across hosts: per-host steps plus the rollout policy. Pure data until execute()."""

    action: str
    on: str
    hosts: tuple[HostDeploy, ...]
    dry_run: bool = True
    services: tuple[str, ...] | None = None
    parallel: int | None = None
    serial: int | None = None
    max_fail: int | str | None = None
    health_within: float = 60.0
    health_interval: float = 2.0
    notes: tuple[str, ...] = ()
    lab: Any = field(default=None, repr=False, compare=False)

    @property
    def title(self) -> str:
        return f"deploy {self.action} on {self.on}"

    @property
    def parameters(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "on": self.on,
            "hosts": [h.host for h in self.hosts],
            "services": list(self.services) if self.services is not None else None,
            "parallel": self.parallel,
            "serial": self.serial,
            "max_fail": self.max_fail,
            "health_within": self.health_within,
        }

    def rows(self) -> list[dict[str, Any]]:
        """One row per command or check, in the order the rollout runs them on each host."""
        out: list[dict[str, Any]] = []
        for hd in self.hosts:
            base = {"host": hd.host, "kind": hd.kind, "runs_on": hd.runs_on}
            if hd.skipped:
                out.append({**base, "phase": "skip", "title": hd.note, "command": ""})
                continue
            steps = [hd.record] if hd.record else []
            for s in [*steps, *hd.steps]:
                out.append({**base, "phase": s.phase, "title": s.title, "command": s.command})
            for c in hd.checks:
                out.append({**base, "phase": "health", "title": c.label, "command": ""})
            for s in hd.rollback:
                out.append(
                    {
                        **base,
                        "phase": "rollback if unhealthy",
                        "title": s.title,
                        "command": s.command,
                    }
                )
            if hd.kind == "compose" and hd.record and hd.checks:
                out.append(
                    {
                        **base,
                        "phase": "rollback if unhealthy",
                        "title": "re-tag the recorded image IDs, then `docker compose up -d`",
                        "command": "docker tag ID REPOSITORY:TAG …",
                    }
                )
        return out

    def to_frame(self) -> pd.DataFrame:
        import pandas as pd

        cols = ["host", "kind", "runs_on", "phase", "title", "command"]
        return pd.DataFrame(self.rows(), columns=cols)

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "dry_run": self.dry_run,
            "parameters": self.parameters,
            "notes": list(self.notes),
            "steps": self.rows(),
        }

    def execute(self, **overrides: Any) -> DeployResult:
        """Roll the plan out (see rollout.rollout); a dry-run plan connects to nothing."""
        from .rollout import rollout

        return rollout(self, self.lab, **overrides)

    def _repr_html_(self) -> str:
        mode = "dry run: nothing has been executed" if self.dry_run else "ready to execute"
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in self.notes)
        return (
            f"<div><strong>{html.escape(self.title)}</strong> — {len(self.hosts)} hosts ({mode})"
            f"{f'<ul>{notes}</ul>' if notes else ''}{self.to_frame().to_html(index=False)}</div>"
        )

    def __str__(self) -> str:
        return json.dumps(self.to_dict(), indent=2)


def deploy_plan(
    lab: Lab,
    on: str | Sequence[str] = "all",
    action: str = "switch",
    *,
    dry_run: bool = True,
    services: Sequence[str] | str | None = None,
    parallel: int | None = None,
    serial: int | None = None,
    max_fail: int | str | None = None,
    health_within: float = 60.0,
    health_interval: float = 2.0,
    timeout: float = DEFAULT_TIMEOUT,
) -> DeployPlan:
    """Build the deploy plan for the selected hosts; `.execute()` rolls it out. Connects to nothing."""
    from .rollout import parse_max_fail

    if action not in ACTIONS:
        raise PlanError(f'deploy: unknown action "{action}"; choose one of {", ".join(ACTIONS)}')
    if parallel is not None and serial is not None:
        raise PlanError("deploy: give parallel=N or serial=K, not both")
    for name, value in (("parallel", parallel), ("serial", serial)):
        if value is not None and value < 1:
            raise PlanError(f"deploy: {name} must be at least 1, got {value}")
    parse_max_fail(max_fail, 1)  # validate early
    if isinstance(services, str):
        services = [s.strip() for s in services.split(",") if s.strip()]
    if services is not None:
        for s in services:
            lab.services[s]  # InventoryError with a "did you mean" for unknown names
    selector = on if isinstance(on, str) else ",".join(on)
    chosen = lab.hosts.select(selector)
    hosts = tuple(host_deploy(lab, h, action, services, timeout=timeout) for h in chosen.values())
    notes = [f"{hd.host}: skipped — {hd.note}" for hd in hosts if hd.skipped]
    if any(hd.runs_on == "workstation" for hd in hosts):
        notes.append(
            "nixos-rebuild runs on this workstation with --target-host; it uses its own ssh with "
            "NIX_SSHOPTS built from lab.toml (pinned host keys, strict checking)"
        )
    if action in ("boot", "dry-activate"):
        notes.append(f"{action} activates nothing: no health checks, no rollback")
    return DeployPlan(
        action=action,
        on=selector,
        hosts=hosts,
        dry_run=dry_run,
        services=tuple(services) if services is not None else None,
        parallel=parallel,
        serial=serial,
        max_fail=max_fail,
        health_within=health_within,
        health_interval=health_interval,
        notes=tuple(notes),
        lab=lab,
    )


__all__ = ["ACTIONS", "DeployPlan", "HostDeploy", "deploy_plan", "host_deploy"]
