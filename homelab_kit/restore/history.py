"""Restore-test history: every recorded restore test and verification, one row each."""

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
)


def restore_history(
    lab: Lab, kinds: tuple[str, ...] = ("restore-test", "verify-restore")
) -> pd.DataFrame:
    """Every recorded restore test and verification, oldest first, one row each."""
    import pandas as pd

    runs = lab.journal.frame()
    rows = []
    for r in runs[runs["kind"].isin(kinds)].itertuples():
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
            }
        )
    return pd.DataFrame(rows, columns=list(HISTORY_COLUMNS))
