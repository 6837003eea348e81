"""Gather the metric rows from the lab (backups, restore tests, capacity) and write .prom files.

Each source is gathered on its own: if one fails (a repository unreachable, a module missing), its
file keeps the previous values, `homelab_export_success{source=...}` says 0 in a small status file,
and the others are still written.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .prometheus import (
    Metric,
    capacity_metrics,
    coverage_metrics,
    export_metric,
    freshness_metrics,
    render,
    restore_metrics,
    write_atomic,
)

if TYPE_CHECKING:
    from ...lab.model import Lab


def _records(frame: Any) -> list[dict[str, Any]]:
    """A DataFrame or a list of dicts -> a list of dicts (NaN/NaT become None)."""
    if hasattr(frame, "to_dict"):
        import pandas as pd

        frame = frame.astype(object).where(pd.notna(frame), None)
        return frame.to_dict("records")
    return [dict(r) for r in frame]


def backups_metrics(lab: Lab, now: datetime) -> list[Metric]:
    """Freshness and coverage from coverage.py (one restic snapshots call per backup, shared)."""
    from ...backups import analysis as backups
    from ...backups import coverage

    snaps = {b.name: backups.snapshot_records(lab, b) for b in lab.backups.values()}
    fresh = [
        {**r, "fresh": r.get("status") == "ok"}
        for r in _records(coverage.freshness(lab, now, snaps=snaps))
    ]
    cover = [
        {
            **r,
            "backup": r.get("backup") or "",
            "covered": r.get("status") not in coverage.PROBLEM_STATUSES,
        }
        for r in _records(coverage.coverage(lab, now, snaps=snaps))
        if r.get("path")  # "partial" rows are about a run, not a state dir
    ]
    return freshness_metrics(fresh) + coverage_metrics(cover)


def restore_metrics_for(lab: Lab, now: datetime) -> list[Metric]:
    """The latest restore test per backup and kind, from the journal (restore.restore_history)."""
    from ...restore.history import restore_history

    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for r in _records(restore_history(lab)):  # oldest first
        key = (r.get("backup") or "", r.get("kind") or "restore-test")
        row = latest.setdefault(key, {"backup": key[0], "kind": key[1]})
        seconds = [x for x in (r.get("restore_seconds"), r.get("verify_seconds")) if x is not None]
        row.update(
            last_run=r.get("started"),
            last_status=r.get("status"),
            last_duration=sum(seconds) if seconds else None,
        )
        if r.get("ok") and r.get("status") == "ok":
            row["last_success"] = r.get("started")
    return restore_metrics(list(latest.values()))


def capacity_metrics_for(lab: Lab, now: datetime) -> list[Metric]:
    """Days to full per filesystem, pool and repository (capacity.forecast over the facts history)."""
    from ...capacity.forecast import forecast, lab_series

    return capacity_metrics(_records(forecast(lab_series(lab), now=now)))


SOURCES: dict[str, Callable[[Lab, datetime], list[Metric]]] = {
    "backups": backups_metrics,
    "restore": restore_metrics_for,
    "capacity": capacity_metrics_for,
}


def write_textfiles(
    lab: Lab, out: Path, *, now: datetime | None = None, sources: Any = None
) -> list[tuple[Path, str]]:
    """Write homelab_<source>.prom per source plus homelab_export.prom; returns (path, note) pairs.

    A note is empty for a file written, else why its source failed (the file keeps its old values).
    """
    now = now or datetime.now(UTC)
    written: list[tuple[Path, str]] = []
    status: list[Metric] = []
    for name, gather in (sources or SOURCES).items():
        path = out / f"homelab_{name}.prom"
        try:
            metrics = gather(lab, now)
        except Exception as exc:  # one broken source must not stop the others (timer use)
            status += export_metric(name, False, now)
            written.append(
                (
                    path,
                    f"skipped: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
                )
            )
            continue
        write_atomic(path, render(metrics))
        status += export_metric(name, True, now)
        written.append((path, ""))
    merged: dict[str, Metric] = {}
    for m in status:
        if m.name in merged:
            merged[m.name].samples += m.samples
        else:
            merged[m.name] = m
    status_path = out / "homelab_export.prom"
    write_atomic(status_path, render(merged.values()))
    written.append((status_path, ""))
    return written


__all__ = [
    "SOURCES",
    "backups_metrics",
    "capacity_metrics_for",
    "restore_metrics_for",
    "write_textfiles",
]
