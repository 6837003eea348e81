"""Past checks from the journal: one row per `check` run with its counts, for the trend chart."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from ..lab.model import Lab

COLUMNS = ["run_id", "time", "status", "fail", "warn", "ok", "notified", "error"]


def check_history(lab: Lab, limit: int = 1000) -> pd.DataFrame:
    """The newest `limit` check runs, oldest first; a run that could not check has no counts."""
    import pandas as pd

    rows = []
    for run in lab.journal.runs("check", limit):
        s = run["summary"] or {}
        counts = s.get("counts") or {}
        told = s.get("notification") or {}
        rows.append(
            {
                "run_id": run["id"],
                "time": run["started"],
                "status": run["status"],
                "fail": counts.get("fail"),
                "warn": counts.get("warn"),
                "ok": counts.get("ok"),
                "notified": bool(told.get("sent")),
                "error": s.get("error") or told.get("error"),
            }
        )
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame["time"] = pd.to_datetime(frame["time"], utc=True, format="ISO8601")
    return frame.sort_values("run_id").reset_index(drop=True)
