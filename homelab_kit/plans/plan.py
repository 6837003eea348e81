"""Plans as data, and `execute()` — the only place a plan touches hosts.

A `Plan` is an ordered tuple of `Step`s. Building, printing or rendering one connects to nothing: it is
the dry run. `execute()` runs the steps in order through `lab.runner(step.host)`:

- a *check* is an argv whose exit status 0 means "holds";
- a step whose postcondition already holds is skipped, so re-running after a failure or an
  interruption resumes where it stopped;
- a precondition that does not hold, a non-zero exit or a postcondition that still fails afterwards
  stops the run with `StepFailed` naming the step, host, command and output;
- every step (ok, skipped, failed) is recorded in the journal;
- a destructive step must carry a `safety.Guard`, re-checked on the host (symlinks resolved) first.
"""

from __future__ import annotations

import html
import shlex
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..errors import PlanError, StepFailed
from .safety import Guard

if TYPE_CHECKING:
    import pandas as pd

    from ..transport.runner import Result, Runner

OUTPUT_TAIL = 1500

# Runs its arguments as a command; holds when it exits 0 *and* prints nothing (e.g. `rsync -n -i`).
_EMPTY_OUTPUT = (
    'out=$("$@") || exit 2; [ -z "$out" ] || { printf "%s\\n" "$out" | head -n 20; exit 1; }'
)


def no_output(argv: Sequence[str]) -> tuple[str, ...]:
    """A check that holds when `argv` succeeds and prints nothing (argv stays separate arguments)."""
    return ("sh", "-c", _EMPTY_OUTPUT, "sh", *argv)


def negate(argv: Sequence[str]) -> tuple[str, ...]:
    """A check that holds when `argv` fails (e.g. "the unit is not active")."""
    return ("sh", "-c", '! "$@"', "sh", *argv)


def script(text: str, *args: str) -> tuple[str, ...]:
    """`sh -c TEXT sh ARGS...`: a constant script; inventory values only ever arrive as "$1".."$n"."""
    return ("sh", "-c", text, "sh", *args)


@dataclass(frozen=True)
class Step:
    """One command on one host, with the checks that make it safe to run and to re-run."""

    title: str
    host: str
    argv: tuple[str, ...]
    pre: tuple[str, ...] | None = None
    post: tuple[str, ...] | None = None
    destructive: bool = False
    guard: Guard | None = None
    phase: str = ""
    cwd: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    sudo: bool = False
    timeout: float | None = None
    note: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "argv", tuple(str(a) for a in self.argv))
        for name in ("pre", "post"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, tuple(str(a) for a in value))
        if self.destructive and self.guard is None:
            raise PlanError(f"step {self.title!r}: destructive steps must be built through safety")

    @property
    def command(self) -> str:
        return shlex.join(self.argv)

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "phase": self.phase,
            "host": self.host,
            "command": self.command,
            "argv": list(self.argv),
            "precondition": shlex.join(self.pre) if self.pre else None,
            "postcondition": shlex.join(self.post) if self.post else None,
            "destructive": self.destructive,
            "guarded_path": self.guard.path if self.guard else None,
            "cwd": self.cwd,
            "note": self.note,
        }


@dataclass(frozen=True)
class Plan:
    """An ordered list of steps plus notes for the reviewer. Pure data."""

    title: str
    steps: tuple[Step, ...]
    notes: tuple[str, ...] = ()
    parameters: Mapping[str, Any] = field(default_factory=dict)
    kind: str = "plan"  # the journal's run kind ("migrate", "deploy", ...)

    def __iter__(self) -> Iterator[Step]:
        return iter(self.steps)

    def __len__(self) -> int:
        return len(self.steps)

    @property
    def hosts(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s.host for s in self.steps))

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "parameters": dict(self.parameters),
            "notes": list(self.notes),
            "steps": [s.to_dict() for s in self.steps],
        }

    def to_frame(self) -> pd.DataFrame:
        import pandas as pd

        columns = ["phase", "title", "host", "command", "destructive", "postcondition", "note"]
        rows = [{k: s.to_dict()[k] for k in columns} for s in self.steps]
        frame = pd.DataFrame(rows, columns=columns)
        frame.index = pd.RangeIndex(1, len(rows) + 1, name="step")
        return frame

    def _repr_html_(self) -> str:
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in self.notes)
        rows = "".join(
            "<tr>"
            f"<td>{i}</td><td>{html.escape(s.phase)}</td><td>{html.escape(s.title)}</td>"
            f"<td>{html.escape(s.host)}</td><td><code>{html.escape(s.command)}</code></td>"
            f"<td>{'⚠ guarded' if s.destructive else ''}</td>"
            "</tr>"
            for i, s in enumerate(self.steps, 1)
        )
        return (
            f"<div><strong>{html.escape(self.title)}</strong> — {len(self.steps)} steps on "
            f"{html.escape(', '.join(self.hosts))} (dry run: nothing has been executed)"
            f"{f'<ul>{notes}</ul>' if notes else ''}"
            "<table><thead><tr><th>#</th><th>phase</th><th>step</th><th>host</th><th>command</th>"
            f"<th></th></tr></thead><tbody>{rows}</tbody></table></div>"
        )


@dataclass(frozen=True)
class StepOutcome:
    """What execute() did with one step: ok, skipped (postcondition held) or failed."""

    index: int
    step: Step
    status: str
    result: Result | None = None


StepCallback = Callable[[int, Step, str], None]


def outcomes_frame(outcomes: Sequence[StepOutcome]) -> pd.DataFrame:
    """What execute() did, one row per step (status ok/skipped, exit code, seconds)."""
    import pandas as pd

    rows = [
        {
            "step": o.index,
            "title": o.step.title,
            "host": o.step.host,
            "status": o.status,
            "exit_code": None if o.result is None else o.result.exit_code,
            "seconds": None if o.result is None else round(o.result.duration, 3),
        }
        for o in outcomes
    ]
    return pd.DataFrame(rows, columns=["step", "title", "host", "status", "exit_code", "seconds"])


def _tail(text: str) -> str:
    text = text.strip()
    return text if len(text) <= OUTPUT_TAIL else "…" + text[-OUTPUT_TAIL:]


def _run(runner: Runner, step: Step, argv: Sequence[str]) -> Result:
    return runner.run(
        argv,
        timeout=step.timeout,
        sudo=step.sudo,
        env=dict(step.env) or None,
        cwd=step.cwd,
    )


def _failure(i: int, step: Step, what: str, result: Result | None) -> StepFailed:
    msg = f"step {i} {step.title!r} on {step.host} {what}"
    if result is not None:
        output = _tail(result.stderr) or _tail(result.stdout)
        msg += f": `{result.command}` exited {result.exit_code}"
        if output:
            msg += f": {' ⏎ '.join(output.splitlines()[-8:])}"
    msg += "; fix it and re-run: finished steps are skipped"
    return StepFailed(msg, step=step, result=result)


def _record(run: Any, i: int, step: Step, status: str, started: datetime, res: Any) -> None:
    if run is None:
        return
    run.step(
        f"{i:02d} {step.title}",
        host=step.host,
        status=status,
        started=started,
        finished=datetime.now(UTC),
        exit_code=None if res is None else res.exit_code,
        stdout="" if res is None else _tail(res.stdout),
        stderr="" if res is None else _tail(res.stderr),
        data={"argv": list(step.argv), "phase": step.phase, "destructive": step.destructive},
    )


def _execute_step(i: int, step: Step, runner: Runner, run: Any) -> StepOutcome:
    started = datetime.now(UTC)
    if step.post is not None:
        held = _run(runner, step, step.post)
        if held.ok:
            _record(run, i, step, "skipped", started, held)
            return StepOutcome(i, step, "skipped", held)
    if step.pre is not None:
        pre = _run(runner, step, step.pre)
        if not pre.ok:
            _record(run, i, step, "failed", started, pre)
            raise _failure(i, step, "cannot start: its precondition does not hold", pre)
    if step.destructive:
        assert step.guard is not None
        try:
            step.guard.check(runner)
        except Exception:
            _record(run, i, step, "refused", started, None)
            raise
    result = _run(runner, step, step.argv)
    if not result.ok:
        _record(run, i, step, "failed", started, result)
        raise _failure(i, step, "failed", result)
    if step.post is not None:
        after = _run(runner, step, step.post)
        if not after.ok:
            _record(run, i, step, "failed", started, after)
            raise _failure(i, step, "ran but its postcondition still does not hold", after)
    _record(run, i, step, "ok", started, result)
    return StepOutcome(i, step, "ok", result)


def execute(
    plan: Plan,
    lab: Any,
    journal: Any = None,
    progress: bool = True,
    *,
    on_step: StepCallback | None = None,
    kind: str | None = None,
) -> list[StepOutcome]:
    """Run `plan` step by step; return the outcomes or raise StepFailed at the first failure.

    `journal` defaults to `lab.journal`; pass `journal=False` to record nothing. `on_step(i, step,
    status)` is called with "running" before and "ok"/"skipped"/"failed" after each step (the widgets
    panel uses it for per-step progress).
    """
    from contextlib import nullcontext

    from ..progress import progress_bar

    if journal is None:
        journal = getattr(lab, "journal", None)
    runners: dict[str, Runner] = {}
    outcomes: list[StepOutcome] = []
    context = (
        journal.run(kind or plan.kind, {"plan": plan.title, **dict(plan.parameters)})
        if journal
        else nullcontext(None)
    )
    bar = progress_bar(total=len(plan), desc=plan.title, unit="step", enabled=progress)
    start = time.monotonic()
    with context as run, bar:
        for i, step in enumerate(plan.steps, 1):
            bar.set_postfix_str(step.title[:40])
            if on_step:
                on_step(i, step, "running")
            try:
                if step.host not in runners:
                    runners[step.host] = lab.runner(step.host)
                outcome = _execute_step(i, step, runners[step.host], run)
            except Exception:
                if on_step:
                    on_step(i, step, "failed")
                if run is not None:
                    run.summary.update(_summary(outcomes, failed=i, start=start))
                raise
            outcomes.append(outcome)
            if on_step:
                on_step(i, step, outcome.status)
            bar.update(1)
        if run is not None:
            run.summary.update(_summary(outcomes, failed=None, start=start))
            run.status = "ok"
    return outcomes


def _summary(outcomes: list[StepOutcome], *, failed: int | None, start: float) -> dict[str, Any]:
    return {
        "ok": sum(o.status == "ok" for o in outcomes),
        "skipped": sum(o.status == "skipped" for o in outcomes),
        "failed_step": failed,
        "seconds": round(time.monotonic() - start, 3),
    }
