"""Backup analysis on real restic repositories: snapshots, stats, growth, per-service sizes.

Each function takes the lab and a backup (name or Backup) and returns a DataFrame. Snapshots are
immutable, so their stats live in the journal cache (kind "restic-stats", key = full snapshot id)
and their listings in parquet under lab.cache_dir: restic is asked once per snapshot. Freshness,
coverage and metrics are in coverage.py; the forget policy in retention.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .listing import Listing, load_listing
from .restic import Restic

if TYPE_CHECKING:
    import pandas as pd

    from ..lab.model import Backup, Lab

STATS_KIND = "restic-stats"
SNAPSHOT_COLUMNS = [
    "backup", "time", "host", "paths", "tags", "id", "short_id",
    "files_new", "files_changed", "data_added", "total_files_processed", "total_bytes_processed",
]  # fmt: skip


def _backup(lab: Lab, backup: str | Backup) -> Backup:
    return lab.backups[backup] if isinstance(backup, str) else backup


def restic_for(lab: Lab, backup: str | Backup) -> Restic:
    """The Restic wrapper for a backup, run on the backup's host through its Runner."""
    return Restic.for_backup(_backup(lab, backup), lab)


def snapshot_records(
    lab: Lab, backup: str | Backup, restic: Restic | None = None
) -> list[dict[str, Any]]:
    """Plain snapshot dicts (oldest first), with the backup name; no pandas."""
    b = _backup(lab, backup)
    recs = (restic or restic_for(lab, b)).snapshots()
    for r in recs:
        r["backup"] = b.name
    return recs


def snapshots(lab: Lab, backup: str | Backup, restic: Restic | None = None) -> pd.DataFrame:
    """One row per snapshot: time, host, paths, tags, id and the 0.17+ summary sizes where known."""
    import pandas as pd

    recs = snapshot_records(lab, backup, restic)
    df = pd.DataFrame(recs, columns=[*SNAPSHOT_COLUMNS, "parent", "tree", "program_version"])
    df["time"] = pd.to_datetime(df["time"], utc=True)
    return df.sort_values("time", ignore_index=True)


def snapshot_stats(
    lab: Lab, backup: str | Backup, frame: pd.DataFrame | None = None, progress: bool = True
) -> pd.DataFrame:
    """Per snapshot: restore_size, files, data_added (0.17+), each asked of restic once ever."""
    b = _backup(lab, backup)
    r = restic_for(lab, b)
    frame = snapshots(lab, b, r) if frame is None else frame
    cache = restore_sizes(lab, b, list(frame["id"]), r, progress=progress)
    out = frame.copy()
    out["restore_size"] = [cache[s]["restore_size"] for s in out["id"]]
    out["files"] = [cache[s]["files"] for s in out["id"]]
    return out


def restore_sizes(
    lab: Lab,
    backup: str | Backup,
    ids: list[str],
    restic: Restic | None = None,
    *,
    progress: bool = True,
) -> dict[str, dict[str, int]]:
    """{id: {restore_size, files}} for these snapshots; restic is asked once per snapshot, ever."""
    from ..progress import progress_bar

    b = _backup(lab, backup)
    cache = lab.journal.cache_get_many(STATS_KIND)
    todo = [sid for sid in ids if sid not in cache]
    r = restic or (restic_for(lab, b) if todo else None)
    for sid in progress_bar(todo, desc=f"restic stats {b.name}", enabled=progress and bool(todo)):
        st = r.stats(sid, mode="restore-size")
        value = {"restore_size": st["total_size"], "files": st["total_file_count"]}
        lab.journal.cache_put(STATS_KIND, sid, value)
        cache[sid] = value
    return {sid: cache[sid] for sid in ids}


def growth(stats: pd.DataFrame) -> pd.DataFrame:
    """Restore size over time per backup and host, with the change since the previous snapshot."""
    df = stats.sort_values("time")[
        ["backup", "host", "time", "id", "restore_size", "files", "data_added"]
    ].copy()
    df["delta"] = df.groupby(["backup", "host"])["restore_size"].diff()
    return df.reset_index(drop=True)


def listing(
    lab: Lab, backup: str | Backup, snapshot_id: str, restic: Restic | None = None
) -> Listing:
    """A snapshot's listing (cached as parquet under lab.cache_dir; restic asked once)."""
    return load_listing(restic or restic_for(lab, backup), snapshot_id, lab.cache_dir)


def service_paths(lab: Lab, backup: str | Backup) -> list[tuple[str, str, str]]:
    """(service, host, state dir) for every state dir the backup must contain."""
    b = _backup(lab, backup)
    return [(s.name, s.host, p) for s in lab.covered_services(b) for p in s.state_dirs]


def service_sizes(
    lab: Lab, backup: str | Backup, snapshot_id: str, lst: Listing | None = None
) -> pd.DataFrame:
    """Per service state dir in one snapshot: present, bytes, files (from the cached listing)."""
    import pandas as pd

    lst = lst or listing(lab, backup, snapshot_id)
    rows = service_paths(lab, backup)
    sizes = lst.size_of(p for _, _, p in rows)
    out = [
        {
            "service": svc,
            "host": host,
            "path": p,
            "present": sizes[p] is not None,
            "size": sizes[p][0] if sizes[p] else 0,
            "files": sizes[p][1] if sizes[p] else 0,
        }
        for svc, host, p in rows
    ]
    return pd.DataFrame(out, columns=["service", "host", "path", "present", "size", "files"])


def service_totals(sizes: pd.DataFrame) -> pd.DataFrame:
    return sizes.groupby("service", as_index=False)[["size", "files"]].sum()


def service_growth(lab: Lab, backup: str | Backup, old_id: str, new_id: str) -> pd.DataFrame:
    """Size of each service in two snapshots and the change (bytes and %)."""
    a = service_totals(service_sizes(lab, backup, old_id)).rename(
        columns={"size": "size_old", "files": "files_old"}
    )
    b = service_totals(service_sizes(lab, backup, new_id)).rename(
        columns={"size": "size_new", "files": "files_new"}
    )
    df = a.merge(b, on="service", how="outer").fillna(0)
    df["delta"] = df["size_new"] - df["size_old"]
    df["delta_pct"] = (df["delta"] / df["size_old"].where(df["size_old"] > 0)) * 100
    return df.sort_values("delta", ascending=False, ignore_index=True)


def service_history(
    lab: Lab,
    backup: str | Backup,
    snapshot_ids: Iterable[str] | None = None,
    progress: bool = True,
    points: int | None = None,
) -> pd.DataFrame:
    """Per service size in each snapshot (listings cached): the data for plots.growth_per_service.

    `points` lists only that many evenly spaced snapshots (always the first and newest)."""
    import pandas as pd

    from ..progress import progress_bar

    b = _backup(lab, backup)
    r = restic_for(lab, b)
    snaps = snapshots(lab, b, r)
    if snapshot_ids is not None:
        snaps = snaps[snaps["id"].isin(list(snapshot_ids))]
    if points and len(snaps) > points:
        step = (len(snaps) - 1) / (points - 1)
        snaps = snaps.iloc[sorted({round(i * step) for i in range(points)})]
    frames = []
    for sid, t in progress_bar(
        list(zip(snaps["id"], snaps["time"])), desc=f"listings {b.name}", enabled=progress
    ):
        tot = service_totals(service_sizes(lab, b, sid, listing(lab, b, sid, r)))
        tot.insert(0, "time", t)
        tot.insert(0, "id", sid)
        frames.append(tot)
    cols = ["id", "time", "service", "size", "files"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)


def biggest_dirs(
    lab: Lab,
    backup: str | Backup,
    snapshot_id: str | None = None,
    n: int = 20,
    depth: int | None = None,
) -> pd.DataFrame:
    """The n biggest directories of a snapshot (default: the latest)."""
    if snapshot_id is None:
        snapshot_id = snapshot_records(lab, backup)[-1]["id"]
    return listing(lab, backup, snapshot_id).biggest_dirs(n, depth)


def backup_paths(lab: Lab, backup: str | Backup) -> list[str]:
    """What the backup must contain: covered services' state dirs, then extra paths (deduplicated)."""
    b = _backup(lab, backup)
    return list(dict.fromkeys([*(p for _, _, p in service_paths(lab, b)), *b.extra_paths]))


def run_backup(
    lab: Lab, backup: str | Backup, *, time: str | None = None, host: str | None = None
) -> dict[str, Any]:
    """Run the backup now and journal it (kind "backup"); exit 3 (partial) is kept as a finding."""
    b = _backup(lab, backup)
    r = restic_for(lab, b)
    with lab.journal.run("backup", {"backup": b.name}) as run:
        summary = r.backup(
            backup_paths(lab, b), host=host or b.host, time=time, tags=b.tags, exclude=b.exclude
        )
        code = summary["exit_code"]
        status = "ok" if code == 0 else "partial"
        run.step("restic backup", host=b.host, status=status, exit_code=code, data=summary)
        run.summary.update(backup=b.name, snapshot_id=summary.get("snapshot_id"), exit_code=code)
        run.status = status
    return summary
