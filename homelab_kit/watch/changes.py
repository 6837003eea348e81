"""What is worth telling a person: new problems, changed ones, recoveries, and reminders (pure).

The state is what the person was last told, one entry per row key: status, code, message, since
and when it was sent. It lives in the journal with each check run; a run whose message could not
be delivered keeps the state it started from, so the next run tells it again — nothing is lost,
and an unchanged problem is not repeated until `remind` has passed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .digest import RANK, Digest, Row

State = dict[str, dict[str, Any]]
MARK = {"new": "NEW", "changed": "CHANGED", "reminder": "STILL"}


@dataclass
class Notice:
    """One run's message: every new, changed, reminded and resolved row, and the next state."""

    lab: str
    digest: Digest
    new: list[Row] = field(default_factory=list)
    changed: list[tuple[Row, dict[str, Any]]] = field(default_factory=list)
    reminders: list[Row] = field(default_factory=list)
    resolved: list[tuple[dict[str, Any], Row | None]] = field(default_factory=list)
    state: State = field(default_factory=dict)  # the state once this notice is delivered

    @property
    def empty(self) -> bool:
        return not (self.new or self.changed or self.reminders or self.resolved)

    @property
    def kind(self) -> str:
        """apprise's notification type: failure, warning, or success (only recoveries)."""
        rows = [*self.new, *(r for r, _ in self.changed), *self.reminders]
        if any(r.status == "fail" for r in rows):
            return "failure"
        return "warning" if rows else "success"

    def title(self) -> str:
        c = self.digest.counts
        parts = [f"{c['fail']} failing"] if c["fail"] else []
        parts += [f"{c['warn']} warning(s)"] if c["warn"] else []
        news = [f"{len(x)} {name}" for name, x in
                (("new", self.new), ("changed", self.changed), ("resolved", self.resolved)) if x]  # fmt: skip
        head = ", ".join(parts) or "all ok"
        return f"homelab {self.lab}: {head}" + (f" ({', '.join(news)})" if news else "")

    def lines(self) -> list[str]:
        """The body: each row that is news, one line each, then how many stay unchanged."""
        out = [f"{MARK['new']} {_line(r)}" for r in self.new]
        out += [f"{MARK['changed']} {_line(r)} (was {old['status']}: {old['message']})"
                for r, old in self.changed]  # fmt: skip
        out += [f"{MARK['reminder']} {_line(r)} (since {_since(r)})" for r in self.reminders]
        out += [
            f"resolved: {old['check']} {old['subject']}"
            + (f": {now.message}" if now is not None and now.message else "")
            for old, now in self.resolved
        ]
        told = {r.key for r in [*self.new, *self.reminders]} | {r.key for r, _ in self.changed}
        quiet = [r for r in self.digest.problems() if r.key not in told]
        if quiet:
            out.append(f"({len(quiet)} more unchanged problem(s) already reported)")
        return out

    def body(self) -> str:
        return "\n".join(self.lines())


def plan(
    digest: Digest,
    previous: State,
    *,
    level: str = "warn",
    remind: timedelta | None = timedelta(days=1),
    now: datetime | None = None,
) -> Notice:
    """Compare the digest with what was last told. Rows at or above `level` are problems; an
    unchanged failure is told again after `remind`. A run limited to some hosts (`scope`) keeps
    the state of rows it did not look at."""
    now = now or digest.now
    notice = Notice(digest.lab, digest)
    current = {r.key: r for r in digest.rows}
    state: State = {}
    for r in digest.rows:
        if RANK[r.status] < RANK[level]:
            continue
        told = previous.get(r.key)
        if told is None:
            notice.new.append(r)
        elif (told["status"], told["code"]) != (r.status, r.code):
            notice.changed.append((r, told))
        elif r.status == "fail" and remind is not None and now - _at(told["told"]) >= remind:
            notice.reminders.append(r)
        else:
            state[r.key] = told  # unchanged: keep when it was told
            continue
        state[r.key] = entry(r, now)
    for key, told in previous.items():
        if key in state:
            continue
        row = current.get(key)
        if row is None and digest.scope != "all":
            state[key] = told  # not looked at in this run
        else:
            notice.resolved.append((told, row))
    notice.state = state
    return notice


def entry(r: Row, told: datetime) -> dict[str, Any]:
    return {**r.to_dict(), "told": told.isoformat()}


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _line(r: Row) -> str:
    return f"{r.status} {r.check} {r.subject}: {r.message}"


def _since(r: Row) -> str:
    return r.since.strftime("%Y-%m-%d %H:%M") if r.since else "-"
