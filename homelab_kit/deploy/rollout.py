"""The rollout engine: a DeployPlan across hosts, in parallel or in serial batches, with max_fail.

Each host is deployed on its own (its own runner, its own output), health-checked, and rolled back
on its own when its health fails — one host's trouble never touches another. Once more than
`max_fail` hosts (a count, or "N%" of the hosts) are not ok, no new host is started (pyinfra's
--fail-percent, Ansible's serial/max_fail_percentage); hosts already running finish. Every deploy
is one journal run (kind "deploy") with a step per command, per health check, per rollback and a
result step per host. A dry-run plan connects to nothing and records nothing.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from ..errors import PlanError
from .engine import EventCallback, Rollout
from .result import DeployResult, HostOutcome

if TYPE_CHECKING:
    from .planner import DeployPlan


def parse_max_fail(value: int | str | None, total: int) -> int | None:
    """max_fail as a count of hosts: None (never stop), N, or "N%" of `total`."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        try:
            if text.endswith("%"):
                pct = float(text[:-1])
                if not 0 <= pct <= 100:
                    raise ValueError
                return int(total * pct / 100)
            value = int(text)
        except ValueError:
            raise PlanError(
                f'max_fail: expected a count or a percentage like "25%", got "{value}"'
            ) from None
    if value < 0:
        raise PlanError(f"max_fail: expected 0 or more, got {value}")
    return int(value)


def batches(hosts: list[str], serial: int | None) -> list[list[str]]:
    """serial=K → batches of K hosts; otherwise one batch of all."""
    if not serial:
        return [hosts] if hosts else []
    return [hosts[i : i + serial] for i in range(0, len(hosts), serial)]


def rollout(
    plan: DeployPlan,
    lab: Any,
    *,
    parallel: int | None = None,
    serial: int | None = None,
    max_fail: int | str | None = None,
    journal: Any = None,
    progress: bool = True,
    on_event: EventCallback | None = None,
) -> DeployResult:
    """Execute a DeployPlan host by host; arguments override the plan's own policy."""
    from contextlib import nullcontext

    from ..progress import progress_bar

    start = time.monotonic()
    parallel = parallel if parallel is not None else plan.parallel
    serial = serial if serial is not None else plan.serial
    max_fail = max_fail if max_fail is not None else plan.max_fail
    if parallel and serial:
        raise PlanError("deploy: give parallel=N or serial=K, not both")
    order = [hd.host for hd in plan.hosts]
    by_name = {hd.host: hd for hd in plan.hosts}
    outcomes = {hd.host: HostOutcome(hd.host, hd.kind, status="planned") for hd in plan.hosts}
    if plan.dry_run:
        for o in outcomes.values():
            if on_event:
                on_event(o.host, "planned", "dry run: nothing executed")
        return DeployResult(plan.title, outcomes, None, True, time.monotonic() - start)
    limit = parse_max_fail(max_fail, len(order))
    if journal is None:
        journal = getattr(lab, "journal", None)
    params = {**plan.parameters, "parallel": parallel, "serial": serial, "max_fail": max_fail}
    context = journal.run("deploy", params) if journal else nullcontext(None)
    with (
        context as run,
        progress_bar(total=len(order), desc=plan.title, unit="host", enabled=progress) as bar,
    ):
        state = Rollout(plan, lab, run, on_event)

        def one(name: str) -> HostOutcome:
            hd = by_name[name]
            if limit is not None and state.failures > limit:
                out = HostOutcome(
                    name,
                    hd.kind,
                    "not_started",
                    error=f"not started: more than {max_fail} hosts failed",
                )
                state.record("result", host=name, status=out.status, data={"error": out.error})
                state.event(name, out.status, out.error)
            elif hd.skipped:
                out = HostOutcome(name, hd.kind, "skipped", error=hd.note)
                state.record("result", host=name, status="skipped", data={"error": hd.note})
                state.event(name, "skipped", hd.note)
            else:
                out = state.deploy_host(hd)
            with state.lock:
                bar.update(1)
                bar.set_postfix_str(f"{name}: {out.status}", refresh=False)
            return out

        workers = serial or parallel or 16
        for batch in batches(order, serial):
            with ThreadPoolExecutor(max_workers=max(1, min(workers, len(batch)))) as pool:
                for out in pool.map(one, batch):
                    outcomes[out.host] = out
        result = DeployResult(
            plan.title, outcomes, getattr(run, "id", None), False, time.monotonic() - start
        )
        if run is not None:
            counts: dict[str, int] = {}
            for o in outcomes.values():
                counts[o.status] = counts.get(o.status, 0) + 1
            run.summary.update(
                {
                    "action": plan.action,
                    "hosts": result.statuses(),
                    "counts": counts,
                    "rolled_back": [h for h, o in outcomes.items() if o.rolled_back],
                    "seconds": round(result.seconds, 3),
                }
            )
            run.status = "ok" if result.ok else "failed"
    return result
