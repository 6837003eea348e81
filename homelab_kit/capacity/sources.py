"""Where capacity planning's repository numbers come from (the only I/O of capacity planning).

- Backup runs in the journal (kind "backup"): each run's restic summary carries the snapshot id and
  `data_added`, so the repository's growth is known without contacting anything.
- restic itself, when asked (`ask_restic=True`): the current snapshot list (forgotten snapshots
  drop out; 0.17+ summaries fill `data_added`) and each snapshot's `stats --mode raw-data`, cached
  in the journal (kind "restic-raw-data", key = snapshot id) — snapshots are immutable, so restic
  is asked once per snapshot, ever. raw-data sizes are what the retention what-if needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import HomelabError

if TYPE_CHECKING:
    import pandas as pd

    from ..lab.model import Lab

RAW_KIND = "restic-raw-data"
STATS_COLUMNS = ["backup", "id", "time", "host", "paths", "tags", "raw_size", "data_added"]


def journal_backup_runs(lab: Lab) -> pd.DataFrame:
    """Snapshots made by journaled backup runs: backup, id, time, host, data_added."""
    import pandas as pd

    rows = []
    for run in lab.journal.runs("backup"):
        s = {**run["parameters"], **run["summary"]}
        if (
            run["status"] not in ("ok", "partial")
            or not s.get("snapshot_id")
            or s.get("data_added") is None
        ):
            continue
        rows.append({"backup": s.get("backup"), "id": s["snapshot_id"], "time": run["started"],
                     "host": s.get("host", ""), "data_added": float(s["data_added"])})  # fmt: skip
    df = pd.DataFrame(rows, columns=["backup", "id", "time", "host", "data_added"])
    df["time"] = pd.to_datetime(df["time"], utc=True, format="ISO8601")
    return df.sort_values("time", kind="stable").reset_index(drop=True)


def raw_stats(
    lab: Lab, backup: str, snapshots: pd.DataFrame, *, progress: bool = True
) -> dict[str, float]:
    """raw-data size per snapshot id (restic asked once per snapshot; cached in the journal)."""
    from ..backups.analysis import restic_for
    from ..progress import progress_bar

    cache = lab.journal.cache_get_many(RAW_KIND)
    todo = [sid for sid in snapshots["id"] if sid not in cache]
    if todo:
        restic = restic_for(lab, backup)
        for sid in progress_bar(todo, desc=f"restic stats raw-data {backup}", enabled=progress):
            st = restic.stats(sid, mode="raw-data")
            value = st.get("total_uncompressed_size") or st["total_size"]
            lab.journal.cache_put(RAW_KIND, sid, value)
            cache[sid] = value
    return {sid: float(cache[sid]) for sid in snapshots["id"]}


def _match_added(snaps: pd.DataFrame, runs: pd.DataFrame) -> list[float | None]:
    """data_added per snapshot: restic's own 0.17+ summary, else the journaled run's (full or
    short id — restic before 0.17 prints short ids in backup summaries)."""
    by_id = dict(zip(runs["id"], runs["data_added"]))
    out = []
    for sid, own in zip(snaps["id"], snaps.get("data_added", [None] * len(snaps))):
        if own is not None and own == own:
            out.append(float(own))
        else:
            out.append(by_id.get(sid, by_id.get(sid[:8])))
    return out


def lab_snapshot_stats(
    lab: Lab, *, ask_restic: bool = False, progress: bool = True
) -> tuple[pd.DataFrame, list[str]]:
    """Per-snapshot stats of every backup (STATS_COLUMNS) and a list of problems (one line per
    repository restic could not read; the others still count)."""
    import pandas as pd

    runs = journal_backup_runs(lab)
    problems: list[str] = []
    frames = []
    for b in lab.backups.values():
        mine = runs[runs["backup"] == b.name]
        if not ask_restic:
            frames.append(mine.assign(paths=[()] * len(mine), tags=[()] * len(mine), raw_size=None))
            continue
        from ..backups.analysis import snapshots

        try:
            snaps = snapshots(lab, b)
            raw = raw_stats(lab, b.name, snaps, progress=progress)
        except HomelabError as exc:
            problems.append(f"backups.{b.name}: {str(exc).splitlines()[0]}")
            frames.append(mine.assign(paths=[()] * len(mine), tags=[()] * len(mine), raw_size=None))
            continue
        snaps = snaps.assign(
            data_added=_match_added(snaps, mine), raw_size=[raw[s] for s in snaps["id"]]
        )
        frames.append(snaps.assign(backup=b.name))
    frames = [f[STATS_COLUMNS] for f in frames if len(f)]
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=STATS_COLUMNS)
    return df, problems


def repository_locations(lab: Lab) -> dict[str, tuple[str, str]]:
    """backup → (host, path) of its repository, to find the filesystem it fills. A local lab keeps
    each host's disk under <lab>/hosts/<host>/ (the demo does), so such paths map to that host."""
    return {
        b.name: lab.on_host(b.repository) or (b.host, b.repository) for b in lab.backups.values()
    }


def lab_repository_sizes(
    lab: Lab, *, ask_restic: bool = False, progress: bool = True
) -> tuple[pd.DataFrame, Any]:
    """Repository size per snapshot date for every backup, and the problems met on the way."""
    from .sizes import repository_sizes

    stats, problems = lab_snapshot_stats(lab, ask_restic=ask_restic, progress=progress)
    return repository_sizes(stats), problems
