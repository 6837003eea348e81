"""One unattended check, end to end: heartbeat start, every check, notification, heartbeat end,
and a journal record (kind "check") with the rows and what the person has been told.

`check(lab)` is what `homelab-kit check` and `lab.check()` call. Delivery problems never change
the outcome: the digest's own truth decides the exit code, and the problems are in `.problems`
(the CLI prints them on stderr) and in the journal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .changes import Notice, State, plan
from .checks import run_checks
from .digest import Digest, Row, carry_since
from .heartbeat import BODY_LIMIT, Heartbeat

if TYPE_CHECKING:
    from pathlib import Path

    from ..lab.model import Lab
    from .notify import Delivery

KIND = "check"


@dataclass
class CheckRun:
    """A finished check: the digest, what was sent, the pings, and any delivery problems."""

    digest: Digest
    notice: Notice | None = None
    delivery: Delivery | None = None
    pings: list[Any] = field(default_factory=list)
    run_id: int | None = None

    @property
    def exit_code(self) -> int:
        return self.digest.exit_code

    @property
    def problems(self) -> list[str]:
        """Lines for stderr: a message or a ping that did not get through."""
        out = [p.error for p in self.pings if not p.ok]
        if self.delivery is not None and not self.delivery.sent:
            out.insert(0, f"notification not delivered: {self.delivery.error}")
        return out

    def _repr_html_(self) -> str:
        import html

        notes = "".join(f"<p style='color:#b00'>{html.escape(p)}</p>" for p in self.problems)
        return self.digest._repr_html_() + notes


def previous(lab: Lab) -> tuple[list[Row], State]:
    """The newest check's rows (for `since`) and the newest notification state."""
    rows: list[Row] | None = None
    for run in lab.journal.runs(KIND):
        s = run["summary"] or {}
        if rows is None and "rows" in s:
            rows = [Row.from_dict(r) for r in s["rows"]]
        if "state" in s:
            return rows or [], s["state"]
    return rows or [], {}


def check(
    lab: Lab,
    on: str = "all",
    now: datetime | None = None,
    *,
    notify: bool = True,
    heartbeat: bool = True,
    record: bool = True,
) -> CheckRun:
    """Run every check of the selected hosts; notify on changes; ping the heartbeat; journal it."""
    beat = Heartbeat(lab.notify.heartbeat if heartbeat else None)
    beat.start()
    try:
        to = None
        if notify and lab.notify.configured:
            from .notify import targets

            to = targets(lab)  # bad URLs are bad input: before any check runs
        before_rows, before_state = previous(lab)
        digest = run_checks(lab, on, now)
    except BaseException as exc:
        why = str(exc).splitlines()[0] if str(exc).strip() else type(exc).__name__
        beat.finish(False, f"homelab-kit check could not run: {why}")
        if record:
            record_failure(lab, why, on=on, notify=notify)
        raise
    digest.rows = carry_since(digest.rows, before_rows, digest.now)
    result = CheckRun(digest)
    state = before_state
    if to is not None:
        from .notify import send

        result.notice = plan(digest, before_state, level=lab.notify.level, remind=lab.notify.remind)
        if result.notice.empty:
            state = result.notice.state
        else:
            n = result.notice
            result.delivery = send(to, n.title(), n.body(), n.kind)
            state = n.state if result.delivery.sent else before_state
    beat.finish(digest.ok, digest.text(limit=BODY_LIMIT))
    result.pings = beat.pings
    if record:
        result.run_id = journal(lab, result, state, on=on, notify=notify)
    return result


def ping_unloadable_lab(path: Path, why: str) -> None:
    """A lab.toml that does not load still has a heartbeat to tell: ping /fail if one is readable."""
    import tomllib

    try:
        url = tomllib.loads(path.read_text()).get("notify", {}).get("heartbeat")
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, AttributeError):
        return
    if isinstance(url, str) and url.startswith(("http://", "https://")):
        Heartbeat(url).finish(False, f"homelab-kit check could not run: {why}")


def record_failure(lab: Lab, why: str, *, on: str, notify: bool) -> None:
    """A check that could not run is a run too (when the journal itself can be written)."""
    from ..errors import HomelabError

    try:
        with lab.journal.run(KIND, {"on": on, "notify": notify}) as run:
            run.status = "failed"
            run.summary = {"ok": False, "error": why}
    except HomelabError:
        pass


def journal(lab: Lab, result: CheckRun, state: State, *, on: str, notify: bool) -> int:
    """The run record: every row, the counts, what was told (URLs redacted), the next state."""
    d, n = result.digest, result.notice
    told = None
    if n is not None:
        told = {
            "new": len(n.new),
            "changed": len(n.changed),
            "reminders": len(n.reminders),
            "resolved": len(n.resolved),
            **(result.delivery.to_dict() if result.delivery else {"sent": False, "error": None}),
        }
    params = {"on": on, "now": d.now.isoformat(), "notify": notify}
    with lab.journal.run(KIND, params, started=d.now) as run:
        run.summary = {
            **d.to_dict(),
            "notification": told,
            "heartbeat": [p.to_dict() for p in result.pings],
            "state": state,
        }
        run.status = "ok" if d.ok else "problems"
        return run.id
