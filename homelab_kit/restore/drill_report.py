"""DrillReport: could a host be brought back on another machine, and how long did it take?

Per service: is its state there (every state dir restored and verified), do its databases and
configs open, how many bytes came back and from which backup. Per backup considered: which snapshot
was used, or why not (older than another backup's, no snapshot of the host, the target could not
open the repository). The RTO is the wall time from the drill's start to the last check; with
`rto = "4h"` on the host it is measured against that goal. Free of pandas until a frame is asked.
"""

from __future__ import annotations

import html
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .apps import AppCheck, failing
from .apps import counts as app_counts
from .apps import summary as app_summary
from .report import APP_COLUMNS, JOURNAL_APPS, PROBLEM_COLUMNS

if TYPE_CHECKING:
    import pandas as pd

SERVICE_COLUMNS = ("service", "status", "state", "apps", "files", "bytes", "backup", "snapshot")
SOURCE_COLUMNS = ("backup", "status", "snapshot", "snapshot_time", "paths", "detail")
SERVICE_PROBLEMS = frozenset({"missing", "problems"})  # pending_migration and ok do not fail


@dataclass
class DrillReport:
    """The outcome of drill(): per service, per backup, the differences, the apps, the RTO."""

    host: str
    target: str
    root: str
    started: str
    content: str = "full"
    services: list[dict[str, Any]] = field(default_factory=list)
    sources: list[dict[str, Any]] = field(default_factory=list)
    problem_list: list[dict[str, str]] = field(default_factory=list)
    apps: list[AppCheck] = field(default_factory=list)
    files: int = 0
    bytes: int = 0
    restore_seconds: float = 0.0
    verify_seconds: float = 0.0
    app_seconds: float = 0.0
    rto_seconds: float = 0.0
    rto_goal_seconds: float | None = None
    checks: dict[str, str] = field(default_factory=dict)
    kept: bool = True
    run_id: int | None = None
    kind: str = "drill"

    @property
    def rto_met(self) -> bool | None:
        """None without a goal."""
        if self.rto_goal_seconds is None:
            return None
        return self.rto_seconds <= self.rto_goal_seconds

    @property
    def ok(self) -> bool:
        return (
            not self.problem_list
            and not failing(self.apps)
            and not any(s["status"] in SERVICE_PROBLEMS for s in self.services)
            and self.rto_met is not False
        )

    @property
    def counts(self) -> dict[str, int]:
        return dict(Counter(p["kind"] for p in self.problem_list))

    def _frame(self, rows: list[dict[str, Any]], columns: tuple[str, ...]) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(rows, columns=list(columns))

    @property
    def service_frame(self) -> pd.DataFrame:
        """One row per service of the host: status, state, apps, files, bytes, backup, snapshot."""
        return self._frame(self.services, SERVICE_COLUMNS)

    @property
    def source_frame(self) -> pd.DataFrame:
        """One row per backup covering the host: used, older, no_snapshot or unreachable, and why."""
        return self._frame(self.sources, SOURCE_COLUMNS)

    @property
    def problems(self) -> pd.DataFrame:
        return self._frame(self.problem_list, PROBLEM_COLUMNS)

    @property
    def app_frame(self) -> pd.DataFrame:
        return self._frame([a.to_dict() for a in self.apps], APP_COLUMNS)

    def rto_text(self) -> str:
        took = _duration(self.rto_seconds)
        if self.rto_goal_seconds is None:
            return f"RTO {took} (no goal: set rto on the host)"
        verdict = "met" if self.rto_met else "MISSED"
        return f"RTO {took} against {_duration(self.rto_goal_seconds)}: {verdict}"

    def to_dict(self, max_problems: int | None = None) -> dict[str, Any]:
        """JSON-able; the journal keeps the first JOURNAL_PROBLEMS problems (counts stay whole)."""
        cut = max_problems is not None
        return {
            "ok": self.ok,
            "kind": self.kind,
            "host": self.host,
            "target": self.target,
            "root": self.root,
            "started": self.started,
            "content": self.content,
            "rto_seconds": self.rto_seconds,
            "rto_goal_seconds": self.rto_goal_seconds,
            "rto_met": self.rto_met,
            "restore_seconds": self.restore_seconds,
            "verify_seconds": self.verify_seconds,
            "app_seconds": self.app_seconds,
            "files": self.files,
            "bytes": self.bytes,
            "services": self.services,
            "sources": self.sources,
            "problems": self.problem_list[:max_problems] if cut else self.problem_list,
            "problem_counts": self.counts,
            "problems_total": len(self.problem_list),
            "apps": [a.to_dict() for a in (self.apps[:JOURNAL_APPS] if cut else self.apps)],
            "app_counts": app_counts(self.apps),
            "checks": self.checks,
            "kept": self.kept,
            "run_id": self.run_id,
        }

    def summary_line(self) -> str:
        bad = [s["service"] for s in self.services if s["status"] in SERVICE_PROBLEMS]
        verdict = "brought back, verified clean" if self.ok else "NOT clean"
        detail = []
        if bad:
            detail.append(f"services with problems: {', '.join(bad)}")
        if self.problem_list:
            detail.append(f"{len(self.problem_list)} difference(s)")
        if failing(self.apps):
            detail.append(f"{len(failing(self.apps))} app check(s) failed")
        if self.rto_met is False:
            detail.append("slower than the RTO goal")
        where = self.target + ("" if self.root == "/" else f":{self.root}")
        return (
            f"drill {self.host} → {where}: {verdict}"
            + (f" ({'; '.join(detail)})" if detail else "")
            + f" — {len(self.services)} services, {self.files} files, {self.bytes / 1e6:.1f} MB; "
            f"{self.rto_text()}"
        )

    def __repr__(self) -> str:
        return f"<DrillReport {self.summary_line()}>"

    def _repr_html_(self) -> str:
        colour = "#1a7f37" if self.ok else "#cf222e"
        out = (
            f"<h4 style='color:{colour}'>{html.escape(self.summary_line())}</h4>"
            f"<p>restore {self.restore_seconds:.1f} s, verify {self.verify_seconds:.1f} s, "
            f"applications {self.app_seconds:.1f} s ({html.escape(app_summary(self.apps))})</p>"
        )
        out += self.service_frame.to_html(index=False) + "<p>Backups</p>"
        out += self.source_frame.to_html(index=False)
        if self.problem_list:
            out += f"<p>Differences ({len(self.problem_list)}; first 50)</p>"
            out += self.problems.head(50).to_html(index=False)
        bad = [a for a in self.apps if a.status != "ok"]
        if bad:
            out += "<p>Application checks that are not ok</p>"
            out += self._frame([a.to_dict() for a in bad], APP_COLUMNS).to_html(index=False)
        return out


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f}s"
    minutes = seconds / 60
    return f"{minutes:.0f}m" if minutes < 120 else f"{minutes / 60:.1f}h"
