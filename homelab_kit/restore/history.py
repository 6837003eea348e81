"""Restore history: every recorded restore test and verification, and every drill, one row each."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from ..lab.model import Lab

HISTORY_COLUMNS = (
    "run_id",
    "started",
    "kind",
    "status",
    "backup",
    "snapshot_id",
    "ok",
    "files",
    "bytes",
    "problems",
    "restore_seconds",
    "verify_seconds",
    "throughput_mb_s",
    "content",
    "restic_version",
    "app_problems",
)
DRILL_COLUMNS = (
    "run_id",
    "started",
    "status",
    "host",
    "target",
    "ok",
    "rto_seconds",
    "rto_goal_seconds",
    "rto_met",
    "services",
    "services_ok",
    "backups",
    "files",
    "bytes",
    "problems",
    "app_problems",
)


def _app_problems(summary: dict) -> int:
    counts = summary.get("app_counts") or {}
    return int(counts.get("corrupt", 0)) + int(counts.get("inconsistent", 0))


def restore_history(
    lab: Lab, kinds: tuple[str, ...] = ("restore-test", "verify-restore")
) -> pd.DataFrame:
    """Every recorded restore test and verification, oldest first, one row each."""
    import pandas as pd

    runs = pd.concat([lab.journal.frame(k) for k in kinds]).sort_values("id")
    rows = []
    for r in runs.itertuples():
        s = r.summary or {}
        seconds = s.get("restore_seconds")
        rows.append(
            {
                "run_id": r.id,
                "started": r.started,
                "kind": r.kind,
                "status": r.status,
                "backup": s.get("backup") or r.parameters.get("backup"),
                "snapshot_id": s.get("snapshot_id"),
                "ok": bool(s.get("ok")),
                "files": s.get("files"),
                "bytes": s.get("bytes"),
                "problems": s.get("problems_total"),
                "restore_seconds": seconds,
                "verify_seconds": s.get("verify_seconds"),
                "throughput_mb_s": (s.get("bytes") or 0) / 1e6 / seconds if seconds else None,
                "content": s.get("content"),
                "restic_version": s.get("restic_version"),
                "app_problems": _app_problems(s),
            }
        )
    return pd.DataFrame(rows, columns=list(HISTORY_COLUMNS))


def drill_history(lab: Lab) -> pd.DataFrame:
    """Every recorded disaster-recovery drill, oldest first: host, target, RTO against its goal."""
    import pandas as pd

    runs = lab.journal.frame("drill")
    rows = []
    for r in runs.itertuples():
        s = r.summary or {}
        services = s.get("services") or []
        rows.append(
            {
                "run_id": r.id,
                "started": r.started,
                "status": r.status,
                "host": s.get("host") or r.parameters.get("host"),
                "target": s.get("target") or r.parameters.get("target"),
                "ok": bool(s.get("ok")),
                "rto_seconds": s.get("rto_seconds"),
                "rto_goal_seconds": s.get("rto_goal_seconds"),
                "rto_met": s.get("rto_met"),
                "services": len(services),
                "services_ok": sum(x.get("status") == "ok" for x in services),
                "backups": [x["backup"] for x in s.get("sources", []) if x.get("status") == "used"],
                "files": s.get("files"),
                "bytes": s.get("bytes"),
                "problems": s.get("problems_total"),
                "app_problems": _app_problems(s),
            }
        )
    return pd.DataFrame(rows, columns=list(DRILL_COLUMNS))
