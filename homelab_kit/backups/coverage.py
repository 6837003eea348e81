"""Freshness and coverage: the checks that make "failing successfully" impossible.

Freshness: per backup and covered host, the age of the newest snapshot against `max_age` (default
1.25 × the schedule period, as backrest does). Coverage: every state dir of every covered service
must be in the newest snapshot *with content*; findings for a dir never backed up, one that
disappeared from recent snapshots, a sudden size drop, and a partial backup (restic exit 3 in the
journal). `now` is always a parameter. `prometheus_text` renders both for node_exporter.
"""

from __future__ import annotations

import math
import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..lab.paths import within
from . import analysis as bk

if TYPE_CHECKING:
    import pandas as pd

    from ..lab.model import Backup, Lab

FRESHNESS_COLUMNS = [
    "backup",
    "host",
    "snapshots",
    "last_snapshot",
    "age",
    "max_age",
    "schedule",
    "status",
]
COVERAGE_COLUMNS = [
    "backup",
    "service",
    "host",
    "path",
    "status",
    "size",
    "previous_size",
    "snapshot",
    "message",
]


def freshness_rows(b: Backup, snaps: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """Pure: one row per covered host; a host's snapshots are those tagged with its hostname,
    else (a backup run elsewhere) all of the backup's snapshots."""
    rows = []
    for host in b.covers:
        mine = [s for s in snaps if s["host"] == host] or snaps
        last = max((s["time"] for s in mine), default=None)
        age = None if last is None else now - last
        status = "never" if last is None else ("overdue" if age > b.max_age else "ok")
        rows.append(
            {
                "backup": b.name,
                "host": host,
                "snapshots": len(mine),
                "last_snapshot": last,
                "age": age,
                "max_age": b.max_age,
                "schedule": b.schedule,
                "status": status,
            }
        )
    return rows


def freshness(
    lab: Lab, now: datetime, backups: str = "all", snaps: dict[str, list] | None = None
) -> pd.DataFrame:
    """Per backup and covered host: last snapshot, age, max_age, status ok/overdue/never."""
    import pandas as pd

    rows = []
    for b in lab.backups.select(backups).values():
        recs = snaps[b.name] if snaps and b.name in snaps else bk.snapshot_records(lab, b)
        rows += freshness_rows(b, recs, now)
    return pd.DataFrame(rows, columns=FRESHNESS_COLUMNS)


def _partial_snapshots(lab: Lab, backup: str) -> set[str]:
    """Snapshot ids (as journaled, maybe short) of backups that exited 3 (some files unreadable)."""
    out = set()
    for run in lab.journal.runs("backup"):
        s = run["summary"]
        if s.get("backup") == backup and s.get("exit_code") == 3 and s.get("snapshot_id"):
            out.add(s["snapshot_id"])
    return out


PROBLEM_STATUSES = frozenset({"never", "disappeared", "empty", "size_drop", "partial", "uncovered"})
PARTIAL_WINDOW = timedelta(days=30)


def coverage_rows(
    lab: Lab,
    b: Backup,
    snaps: list[dict[str, Any]],
    *,
    drop: float = 0.5,
    partial_window: timedelta = PARTIAL_WINDOW,
) -> list[dict[str, Any]]:
    """Findings for one backup (listings of the newest and previous snapshot, cached)."""
    paths = bk.service_paths(lab, b)
    if not snaps:
        return [
            _row(b, svc, host, p, "never", None, None, None, "no snapshot at all in the repository")
            for svc, host, p in paths
        ]
    r = bk.restic_for(lab, b)
    latest, previous = snaps[-1], (snaps[-2] if len(snaps) > 1 else None)
    now_sizes = bk.listing(lab, b, latest["id"], r).size_of(p for _, _, p in paths)
    prev_sizes = (
        bk.listing(lab, b, previous["id"], r).size_of(p for _, _, p in paths) if previous else {}
    )
    partial = _partial_snapshots(lab, b.name)
    rows = []
    for svc, host, p in paths:
        cur, prev = now_sizes.get(p), prev_sizes.get(p)
        size, psize = (cur[0] if cur else None), (prev[0] if prev else None)
        ever = [s for s in snaps if any(within(p, r) for r in s["paths"])]
        migrating = lab.services[svc].migrate_from if svc else None
        if cur is None and not ever and migrating:
            rows.append(
                _row(
                    b,
                    svc,
                    host,
                    p,
                    "pending_migration",
                    None,
                    None,
                    latest,
                    f"not migrated yet: its data still lives on {migrating.host} (compose)",
                )
            )
        elif cur is None and not ever:
            rows.append(
                _row(
                    b,
                    svc,
                    host,
                    p,
                    "never",
                    None,
                    None,
                    latest,
                    "state dir was never backed up; add it to the backup",
                )
            )
        elif cur is None:
            last_seen = ever[-1]["time"].date()
            rows.append(
                _row(
                    b,
                    svc,
                    host,
                    p,
                    "disappeared",
                    None,
                    psize,
                    latest,
                    f"not in the newest snapshot; last in a snapshot of {last_seen}",
                )
            )
        elif cur[1] == 0 and cur[0] == 0:
            rows.append(
                _row(b, svc, host, p, "empty", 0, psize, latest, "in the newest snapshot but empty")
            )
        elif psize and size is not None and size < psize * (1 - drop):
            rows.append(
                _row(
                    b,
                    svc,
                    host,
                    p,
                    "size_drop",
                    size,
                    psize,
                    latest,
                    f"shrank {100 * (1 - size / psize):.0f}% since the previous snapshot",
                )
            )
        else:
            rows.append(_row(b, svc, host, p, "ok", size, psize, latest, ""))
    newest = snaps[-1]["time"]
    for snap in snaps:
        if newest - snap["time"] > partial_window:
            continue
        if any(snap["id"].startswith(x) for x in partial):
            is_newest = snap is snaps[-1]
            when = snap["time"].date()
            rows.append(
                _row(
                    b,
                    None,
                    b.host,
                    None,
                    "partial" if is_newest else "was_partial",
                    None,
                    None,
                    snap,
                    f"restic exited 3 on {when}: some files could not be read"
                    + ("" if is_newest else "; later snapshots completed"),
                )
            )
    return rows


def _row(b: Backup, svc, host, path, status, size, psize, snap, message) -> dict[str, Any]:
    return {
        "backup": b.name,
        "service": svc,
        "host": host,
        "path": path,
        "status": status,
        "size": size,
        "previous_size": psize,
        "snapshot": snap["id"][:8] if snap else None,
        "message": message,
    }


def coverage(
    lab: Lab,
    now: datetime,
    backups: str = "all",
    *,
    drop: float = 0.5,
    snaps: dict[str, list] | None = None,
) -> pd.DataFrame:
    """One row per covered state dir (status ok/never/disappeared/empty/size_drop) + partial runs.

    `now` keeps the signature uniform with freshness (snapshots newer than now are ignored)."""
    import pandas as pd

    rows = []
    for b in lab.backups.select(backups).values():
        recs = snaps[b.name] if snaps and b.name in snaps else bk.snapshot_records(lab, b)
        recs = [s for s in recs if s["time"] <= now]
        rows += coverage_rows(lab, b, recs, drop=drop)
    if backups == "all":
        rows += uncovered_rows(lab)
    return pd.DataFrame(rows, columns=COVERAGE_COLUMNS)


def uncovered_rows(lab: Lab) -> list[dict[str, Any]]:
    """State dirs that no backup's derived paths contain: the gap lint also reports."""
    from ..lab.lint import covering_backups

    rows = []
    for svc in lab.services.values():
        for p in svc.state_dirs:
            if p.startswith("/") and not covering_backups(lab, svc.host, p):
                rows.append(
                    {
                        "backup": None,
                        "service": svc.name,
                        "host": svc.host,
                        "path": p,
                        "status": "uncovered",
                        "size": None,
                        "previous_size": None,
                        "snapshot": None,
                        "message": f"no backup covers host {svc.host}; add it to a backup's covers",
                    }
                )
    return rows


# --- Prometheus textfile ---------------------------------------------------------------------


def _labels(**kw: Any) -> str:
    def esc(v: Any) -> str:
        return str(v).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')

    return "{" + ",".join(f'{k}="{esc(v)}"' for k, v in kw.items() if v is not None) + "}"


def prometheus_text(
    fresh: pd.DataFrame | None = None,
    cover: pd.DataFrame | None = None,
    sizes: dict[str, int] | None = None,
) -> str:
    """node_exporter textfile metrics, named like restic-exporter's."""
    out: list[str] = []

    def metric(name: str, help_: str, samples: list[tuple[str, float]]) -> None:
        out.append(f"# HELP {name} {help_}")
        out.append(f"# TYPE {name} gauge")
        out.extend(f"{name}{lab} {val:g}" for lab, val in samples)

    if fresh is not None:
        ts = [
            (_labels(backup=r.backup, client_hostname=r.host), r.last_snapshot.timestamp())
            for r in fresh.itertuples()
            if r.last_snapshot is not None
            and not (isinstance(r.last_snapshot, float) and math.isnan(r.last_snapshot))
        ]
        metric("restic_backup_timestamp", "Time of the newest snapshot (seconds since epoch).", ts)
        metric(
            "restic_snapshots_total",
            "Number of snapshots.",
            [
                (_labels(backup=r.backup, client_hostname=r.host), r.snapshots)
                for r in fresh.itertuples()
            ],
        )
        metric(
            "restic_backup_overdue",
            "1 when the newest snapshot is older than max_age (or missing).",
            [
                (_labels(backup=r.backup, client_hostname=r.host), float(r.status != "ok"))
                for r in fresh.itertuples()
            ],
        )
        metric(
            "restic_backup_max_age_seconds",
            "Allowed age of the newest snapshot.",
            [
                (_labels(backup=r.backup, client_hostname=r.host), r.max_age.total_seconds())
                for r in fresh.itertuples()
            ],
        )
    if sizes:
        metric(
            "restic_backup_size_total",
            "Restore size of the newest snapshot in bytes.",
            [(_labels(backup=k), float(v)) for k, v in sizes.items()],
        )
    if cover is not None:
        svc = cover[cover["service"].notna()]
        metric(
            "restic_backup_coverage",
            "1 when the service's state dir is in the newest snapshot with content.",
            [
                (
                    _labels(backup=r.backup, service=r.service, path=r.path, status=r.status),
                    float(r.status == "ok"),
                )
                for r in svc.itertuples()
            ],
        )
        metric(
            "restic_backup_partial",
            "Partial backups (restic exit 3) among recent snapshots.",
            [
                (_labels(backup=k), float(v))
                for k, v in cover.assign(p=cover["status"] == "partial")
                .groupby("backup")["p"]
                .sum()
                .items()
            ],
        )
    return "\n".join(out) + "\n"


def write_textfile(path: str | os.PathLike, text: str) -> Path:
    """Write atomically (node_exporter may read at any moment)."""
    from ..outfile import write_atomic

    return write_atomic(path, text, what="--prometheus file")
