"""What a deploy did: per-host outcomes (kept separate) and the whole result, as data and HTML."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .health import HealthResult

if TYPE_CHECKING:
    import pandas as pd

OK_STATUSES = ("ok", "skipped", "planned")
_COLORS = {"ok": "#2e7d32", "rolled_back": "#ef6c00", "planned": "#1565c0", "skipped": "#757575"}


@dataclass
class HostOutcome:
    """One host's deploy. status: ok, failed, rolled_back, rollback_failed, unreachable, timeout,
    auth_failed, host_key_rejected, not_started (max_fail reached), skipped (nothing to do), planned
    (dry run)."""

    host: str
    kind: str
    status: str = "planned"
    duration: float = 0.0
    error: str = ""
    steps: list[dict[str, Any]] = field(default_factory=list)
    health: list[HealthResult] = field(default_factory=list)
    rolled_back: bool = False

    @property
    def ok(self) -> bool:
        return self.status in OK_STATUSES

    @property
    def failed_checks(self) -> list[str]:
        return [h.check.label for h in self.health if not h.ok]

    def to_dict(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "kind": self.kind,
            "status": self.status,
            "duration": round(self.duration, 3),
            "rolled_back": self.rolled_back,
            "error": self.error,
            "steps": self.steps,
            "health": [h.to_dict() for h in self.health],
        }


@dataclass
class DeployResult:
    """Per-host outcomes of one deploy (in plan order) and the journal run that holds them."""

    title: str
    outcomes: dict[str, HostOutcome]
    run_id: int | None = None
    dry_run: bool = False
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(o.ok for o in self.outcomes.values())

    @property
    def exit_code(self) -> int:
        """0 when every host is ok (or had nothing to do), else 1 (failed, rolled back, ...)."""
        return 0 if self.ok else 1

    def statuses(self) -> dict[str, str]:
        return {h: o.status for h, o in self.outcomes.items()}

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "run_id": self.run_id,
            "dry_run": self.dry_run,
            "ok": self.ok,
            "seconds": round(self.seconds, 3),
            "hosts": [o.to_dict() for o in self.outcomes.values()],
        }

    def frame(self) -> pd.DataFrame:
        import pandas as pd

        rows = [
            {
                "host": o.host,
                "kind": o.kind,
                "status": o.status,
                "duration": round(o.duration, 3),
                "rolled_back": o.rolled_back,
                "failed_checks": ", ".join(o.failed_checks),
                "error": o.error,
            }
            for o in self.outcomes.values()
        ]
        cols = ["host", "kind", "status", "duration", "rolled_back", "failed_checks", "error"]
        return pd.DataFrame(rows, columns=cols)

    def __repr__(self) -> str:
        counts: dict[str, int] = {}
        for o in self.outcomes.values():
            counts[o.status] = counts.get(o.status, 0) + 1
        parts = ", ".join(f"{n} {s}" for s, n in counts.items())
        return f"<DeployResult {self.title}: {parts}{' (dry run)' if self.dry_run else ''}>"

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{html.escape(o.host)}</td><td>{o.kind}</td>"
            f"<td style='color:{_COLORS.get(o.status, '#c62828')};font-weight:bold'>{o.status}</td>"
            f"<td>{o.duration:.1f}s</td><td>{html.escape(', '.join(o.failed_checks))}</td>"
            f"<td>{html.escape(o.error[-300:])}</td></tr>"
            for o in self.outcomes.values()
        )
        head = "".join(
            f"<th>{c}</th>" for c in ("host", "kind", "status", "time", "unhealthy", "error")
        )
        note = (
            " — dry run: nothing was executed" if self.dry_run else f" — journal run {self.run_id}"
        )
        return f"<b>{html.escape(self.title)}</b>{note}<table><tr>{head}</tr>{rows}</table>"
