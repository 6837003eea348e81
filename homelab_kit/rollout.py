"""The rollout engine: a DeployPlan across hosts, in parallel or in serial batches, with max_fail.

Each host is deployed on its own (its own runner, its own output), health-checked, and rolled back
on its own when its health fails — one host's trouble never touches another. Once more than
`max_fail` hosts (a count, or "N%" of the hosts) are not ok, no new host is started (pyinfra's
--fail-percent, Ansible's serial/max_fail_percentage); hosts already running finish. Every deploy
is one journal run (kind "deploy") with a step per command, per health check, per rollback and a
result step per host. A dry-run plan connects to nothing and records nothing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .deploy_steps import compose_rollback, parse_compose_images, write_known_hosts
from .errors import PlanError
from .fanout import classify
from .health import run_checks
from .rollout_result import DeployResult, HostOutcome

if TYPE_CHECKING:
    from .deploy import DeployPlan
    from .deploy_steps import HostDeploy
    from .plan import Step
    from .runner import Result, Runner

EventCallback = Callable[[str, str, str], None]  # (host, status, detail)


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


class _Rollout:
    """The state one rollout shares between its worker threads."""

    def __init__(
        self, plan: DeployPlan, lab: Any, run: Any, on_event: EventCallback | None
    ) -> None:
        self.plan, self.lab, self.run, self.on_event = plan, lab, run, on_event
        self.lock = threading.Lock()
        self.failures = 0

    def event(self, host: str, status: str, detail: str = "") -> None:
        if self.on_event:
            self.on_event(host, status, detail)

    def record(self, name: str, **kwargs: Any) -> None:
        if self.run is not None:
            with self.lock:
                self.run.step(name, **kwargs)

    def run_step(self, runner: Runner, step: Step, out: HostOutcome, runs_on: str) -> Result:
        started = datetime.now(UTC)
        self.event(out.host, "running", step.title)
        try:
            res = runner.run(
                step.argv,
                timeout=step.timeout,
                sudo=step.sudo,
                env=dict(step.env) or None,
                cwd=step.cwd,
            )
        except Exception as exc:
            self._log(out, step, runs_on, started, classify(exc), None, error=str(exc))
            raise
        self._log(out, step, runs_on, started, "ok" if res.ok else "failed", res)
        return res

    def _log(
        self,
        out: HostOutcome,
        step: Step,
        runs_on: str,
        started: datetime,
        status: str,
        res: Result | None,
        error: str = "",
    ) -> None:
        finished = datetime.now(UTC)
        data = {
            "phase": step.phase,
            "argv": list(step.argv),
            "cwd": step.cwd,
            "runs_on": runs_on,
            "duration": round((finished - started).total_seconds(), 3),
            **({"error": error} if error else {}),
        }
        out.steps.append(
            {
                "title": step.title,
                "status": status,
                "exit_code": getattr(res, "exit_code", None),
                **data,
            }
        )
        self.record(
            f"{step.phase}: {step.title}",
            host=out.host,
            status=status,
            started=started,
            finished=finished,
            exit_code=None if res is None else res.exit_code,
            stdout="" if res is None else res.stdout,
            stderr=error if res is None else res.stderr,
            data=data,
        )

    def runners(self, hd: HostDeploy) -> tuple[Runner, Runner]:
        host_runner = self.lab.runner(hd.host)
        if hd.runs_on != "workstation":
            return host_runner, host_runner
        from .runner import LocalRunner

        return LocalRunner(host=hd.host), host_runner

    def deploy_host(self, hd: HostDeploy) -> HostOutcome:
        out = HostOutcome(hd.host, hd.kind, status="running")
        start = time.monotonic()
        runners: tuple[Runner, Runner] | None = None
        self.event(hd.host, "running", "")
        try:
            runners = self.runners(hd)
            self._deploy(hd, out, *runners)
        except Exception as exc:  # one host's trouble never stops the others
            out.status, out.error = classify(exc), str(exc) or type(exc).__name__
        finally:
            for r in {id(r): r for r in runners or ()}.values():
                close = getattr(r, "close", None)
                if close:
                    close()
        out.duration = time.monotonic() - start
        self.record(
            "result",
            host=hd.host,
            status=out.status,
            data={
                "duration": round(out.duration, 3),
                "error": out.error,
                "rolled_back": out.rolled_back,
            },
        )
        with self.lock:
            self.failures += not out.ok
        self.event(hd.host, out.status, out.error)
        return out

    def _deploy(
        self, hd: HostDeploy, out: HostOutcome, runner: Runner, host_runner: Runner
    ) -> None:
        images: list[dict[str, str]] = []
        if hd.record is not None:
            res = self.run_step(host_runner, hd.record, out, "host")
            if not res.ok:
                out.status = "failed"
                out.error = f"cannot record the running images: {res.stderr_tail()}"
                return
            images = parse_compose_images(res.stdout)
        if hd.runs_on == "workstation":
            write_known_hosts(self.lab)  # nixos-rebuild's own ssh trusts only the pinned keys
        for i, step in enumerate(hd.steps):
            where = _where(hd, step)
            res = self.run_step(runner if where == "workstation" else host_runner, step, out, where)
            if not res.ok:
                tail = res.stderr_tail() or res.stdout[-300:]
                out.status, out.error = "failed", f"`{res.command}` exited {res.exit_code}: {tail}"
                if (
                    hd.record is not None and i > 0
                ):  # compose: images were pulled, bring back the old
                    self._roll_back(hd, out, runner, host_runner, images)
                return
        if hd.checks:
            self.event(hd.host, "health", f"{len(hd.checks)} checks")
            out.health = run_checks(
                host_runner,
                hd.checks,
                within=self.plan.health_within,
                interval=self.plan.health_interval,
            )
            for h in out.health:
                self.record(
                    f"health: {h.check.label}",
                    host=hd.host,
                    status="ok" if h.ok else "failed",
                    stdout=h.stdout,
                    stderr=h.stderr,
                    data=h.to_dict(),
                )
        if all(h.ok for h in out.health):
            out.status = "ok"
            return
        out.error = "unhealthy: " + "; ".join(
            f"{h.check.label}: {h.detail}" for h in out.health if not h.ok
        )
        self._roll_back(hd, out, runner, host_runner, images)

    def _roll_back(
        self,
        hd: HostDeploy,
        out: HostOutcome,
        runner: Runner,
        host_runner: Runner,
        images: list[dict[str, str]],
    ) -> None:
        self.event(hd.host, "rolling back", out.error)
        steps = compose_rollback(hd, images) if hd.record is not None else hd.rollback
        if not steps or (hd.record is not None and not images):
            out.status = "failed"
            out.error += "; no rollback available"
            return
        for step in steps:
            where = _where(hd, step)
            res = self.run_step(runner if where == "workstation" else host_runner, step, out, where)
            if not res.ok:
                out.status = "rollback_failed"
                out.error += f"; rollback failed: `{res.command}` exited {res.exit_code}"
                return
        out.status, out.rolled_back = "rolled_back", True


def _where(hd: HostDeploy, step: Step) -> str:
    """Only nixos-rebuild --target-host runs on the workstation; everything else on the host."""
    return (
        "workstation" if hd.runs_on == "workstation" and step.argv[0] == "nixos-rebuild" else "host"
    )


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

    from .progress import progress_bar

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
        state = _Rollout(plan, lab, run, on_event)

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
