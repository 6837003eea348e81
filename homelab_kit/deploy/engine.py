"""One host's deploy: run its steps, check its health, roll it back on its own when unhealthy.

`Rollout` is the state one rollout shares between its worker threads (journal run, lock, failure
count, event callback); rollout.py decides which hosts start when.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..transport.fanout import classify
from .health import run_checks
from .result import HostOutcome
from .steps import compose_rollback, parse_compose_images, write_known_hosts

if TYPE_CHECKING:
    from ..plans.plan import Step
    from ..transport.runner import Result, Runner
    from .planner import DeployPlan
    from .steps import HostDeploy

EventCallback = Callable[[str, str, str], None]  # (host, status, detail)


class Rollout:
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
            self.log(out, step, runs_on, started, classify(exc), None, error=str(exc))
            raise
        self.log(out, step, runs_on, started, "ok" if res.ok else "failed", res)
        return res

    def log(
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
        from ..transport.runner import LocalRunner

        return LocalRunner(host=hd.host), host_runner

    def deploy_host(self, hd: HostDeploy) -> HostOutcome:
        out = HostOutcome(hd.host, hd.kind, status="running")
        start = time.monotonic()
        self.event(hd.host, "running", "")
        try:
            self.deploy_steps(hd, out, *self.runners(hd))  # the lab owns (and closes) the runners
        except Exception as exc:  # one host's trouble never stops the others
            out.status, out.error = classify(exc), str(exc) or type(exc).__name__
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

    def deploy_steps(
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
            where = runs_where(hd, step)
            res = self.run_step(runner if where == "workstation" else host_runner, step, out, where)
            if not res.ok:
                tail = res.stderr_tail() or res.stdout[-300:]
                out.status, out.error = "failed", f"`{res.command}` exited {res.exit_code}: {tail}"
                if (
                    hd.record is not None and i > 0
                ):  # compose: images were pulled, bring back the old
                    self.roll_back(hd, out, runner, host_runner, images)
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
        self.roll_back(hd, out, runner, host_runner, images)

    def roll_back(
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
            where = runs_where(hd, step)
            res = self.run_step(runner if where == "workstation" else host_runner, step, out, where)
            if not res.ok:
                out.status = "rollback_failed"
                out.error += f"; rollback failed: `{res.command}` exited {res.exit_code}"
                return
        out.status, out.rolled_back = "rolled_back", True


def runs_where(hd: HostDeploy, step: Step) -> str:
    """Only nixos-rebuild --target-host runs on the workstation; everything else on the host."""
    return (
        "workstation" if hd.runs_on == "workstation" and step.argv[0] == "nixos-rebuild" else "host"
    )
