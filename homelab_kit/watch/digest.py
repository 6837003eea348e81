"""The digest of one unattended check: a row per thing checked, ok / warn / fail, and why.

Pure data: checks.py fills it, notify.py and heartbeat.py send it, the journal keeps it. It renders
as aligned text for timers' logs and as an HTML table in Jupyter; `to_dict()` is `check --json`.
"""

from __future__ import annotations

import html
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

STATUSES = ("ok", "warn", "fail")
RANK = {s: i for i, s in enumerate(STATUSES)}
COLUMNS = ("status", "check", "subject", "since", "message")


@dataclass(frozen=True)
class Row:
    """One checked thing. `code` is the stable reason (e.g. "overdue"): a problem whose code and
    status stay the same is unchanged even when its message (an age, a size) moves."""

    check: str
    subject: str
    status: str
    message: str
    since: datetime | None = None
    code: str = ""

    @property
    def key(self) -> str:
        return f"{self.check}:{self.subject}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "subject": self.subject,
            "status": self.status,
            "message": self.message,
            "since": self.since.isoformat() if self.since else None,
            "code": self.code,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Row:
        since = datetime.fromisoformat(d["since"]) if d.get("since") else None
        return cls(d["check"], d["subject"], d["status"], d["message"], since, d.get("code", ""))


def ok(check: str, subject: str, message: str = "", **kw: Any) -> Row:
    return Row(check, subject, "ok", message, **kw)


def warn(check: str, subject: str, message: str, **kw: Any) -> Row:
    return Row(check, subject, "warn", message, **kw)


def fail(check: str, subject: str, message: str, **kw: Any) -> Row:
    return Row(check, subject, "fail", message, **kw)


def carry_since(rows: list[Row], previous: list[Row], now: datetime) -> list[Row]:
    """Give each row the time its current state began: its own, else the previous run's when the
    state (status and code) is unchanged, else now."""
    before = {r.key: r for r in previous}
    out = []
    for r in rows:
        if r.since is not None:
            out.append(r)
            continue
        p = before.get(r.key)
        same = p is not None and (p.status, p.code) == (r.status, r.code) and p.since
        out.append(replace(r, since=p.since if same else now))
    return out


@dataclass
class Digest:
    """Every row of one check run, worst first."""

    lab: str
    now: datetime
    rows: list[Row] = field(default_factory=list)
    scope: str = "all"  # the --on selector the run was limited to

    def __post_init__(self) -> None:
        self.rows = sorted(self.rows, key=lambda r: (-RANK[r.status], r.check, r.subject))

    @property
    def counts(self) -> dict[str, int]:
        c = Counter(r.status for r in self.rows)
        return {s: c.get(s, 0) for s in STATUSES}

    @property
    def ok(self) -> bool:
        return self.counts["fail"] == 0

    @property
    def exit_code(self) -> int:
        """0 when nothing fails (warnings alone pass), 1 when anything fails."""
        return 0 if self.ok else 1

    def problems(self, level: str = "warn") -> list[Row]:
        return [r for r in self.rows if RANK[r.status] >= RANK[level]]

    def summary(self) -> str:
        c = self.counts
        parts = [f"{c['fail']} failing"] if c["fail"] else []
        parts += [f"{c['warn']} warning{'s' if c['warn'] != 1 else ''}"] if c["warn"] else []
        return f"{self.lab}: " + (", ".join(parts) if parts else "all ok") + f" ({c['ok']} ok)"

    def to_dict(self) -> dict[str, Any]:
        return {
            "lab": self.lab,
            "now": self.now.isoformat(),
            "scope": self.scope,
            "ok": self.ok,
            "counts": self.counts,
            "rows": [r.to_dict() for r in self.rows],
        }

    def text(self, *, limit: int | None = None) -> str:
        """Aligned columns for a terminal or a log; at most `limit` characters (a ping body)."""
        cells = [COLUMNS] + [
            (r.status.upper(), r.check, r.subject, _when(r.since), r.message) for r in self.rows
        ]
        widths = [max(len(c[i]) for c in cells) for i in range(len(COLUMNS) - 1)]
        lines = [
            "  ".join(c[i].ljust(w) for i, w in enumerate(widths)) + "  " + c[-1] for c in cells
        ]
        lines[0] = lines[0].upper()
        out = "\n".join([*(line.rstrip() for line in lines), self.summary()])
        if limit is not None and len(out.encode()) > limit:
            cut = out.encode()[: limit - 40].decode(errors="ignore")
            out = cut.rsplit("\n", 1)[0] + "\n… (cut)\n" + self.summary()
        return out

    def frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame([r.to_dict() for r in self.rows], columns=[*COLUMNS, "code"])

    def _repr_html_(self) -> str:
        from ..lab.html import highlight_status

        shown = self.frame().drop(columns=["code"])
        shown["since"] = [_when(r.since) for r in self.rows]
        table = highlight_status(shown).hide(axis="index").to_html()
        return f"<p><b>{html.escape(self.summary())}</b> — checked {_when(self.now)}</p>{table}"


def _when(t: datetime | None) -> str:
    return t.strftime("%Y-%m-%d %H:%M") if t else "-"
