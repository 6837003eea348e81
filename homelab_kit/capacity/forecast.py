"""Capacity planning: when does each filesystem, ZFS pool and backup repository fill up?

Pure functions over DataFrames. A *series* frame has one row per observation:
kind ("filesystem" | "zpool" | "repository"), host, name (mount, pool or backup), at (UTC),
used_bytes, size_bytes, capacity_bytes (what "100 %" means: df's used+avail, a pool's size) and
base_bytes (other data on the same disk — for a repository, the rest of the filesystem it lives on).
`forecast()` fits each series robustly (fit.fit_growth) and answers, per row, the growth
per day and the days until 80 %, 90 % and 100 %, or None with a status saying why.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..facts.parsers import PSEUDO_FS
from .fit import DAY, NOT_ENOUGH, Fit, fit_growth

if TYPE_CHECKING:
    import pandas as pd

    from ..lab.model import Lab

SERIES_COLUMNS = [
    "kind",
    "host",
    "name",
    "at",
    "used_bytes",
    "size_bytes",
    "capacity_bytes",
    "base_bytes",
]
THRESHOLDS = (0.8, 0.9, 1.0)
FULL = "full"
PSEUDO_FSTYPES = PSEUDO_FS | {"overlay"}  # containers' roots are not disks to plan for


def _get(d: Mapping[str, Any], *keys: str) -> Any:
    """The first present key: facts.py's names (size, used, available) or the *_bytes spelling."""
    for k in keys:
        if d.get(k) is not None:
            return d[k]
    return None


def filesystem_series(facts: pd.DataFrame) -> pd.DataFrame:
    """Facts history (journal.facts_frame()) → series rows for every real filesystem and ZFS pool.

    Pseudo filesystems (tmpfs, overlay, ...) are dropped; a gathering that failed (no
    filesystems value) is skipped rather than read as an empty disk."""
    import pandas as pd

    rows: list[dict[str, Any]] = []
    cols = [c for c in ("filesystems", "zpools") if c in facts.columns]
    for rec in facts[["at", "host", *cols]].to_dict("records"):
        for fs in rec.get("filesystems") if isinstance(rec.get("filesystems"), list) else ():
            if not isinstance(fs, Mapping) or _get(fs, "fstype", "type") in PSEUDO_FSTYPES:
                continue
            size, used = _get(fs, "size_bytes", "size"), _get(fs, "used_bytes", "used")
            avail = _get(fs, "avail_bytes", "available", "avail")
            if not size or used is None:
                continue
            cap = used + avail if avail is not None else size
            name = _get(fs, "mount", "mounted_on")
            rows.append(dict(kind="filesystem", host=rec["host"], name=name, at=rec["at"], used_bytes=used,
                             size_bytes=size, capacity_bytes=cap, base_bytes=0))  # fmt: skip
        for pool in rec.get("zpools") if isinstance(rec.get("zpools"), list) else ():
            if not isinstance(pool, Mapping):
                continue
            size, used = (
                _get(pool, "size_bytes", "size"),
                _get(pool, "alloc_bytes", "allocated", "alloc"),
            )
            if not size or used is None:
                continue
            rows.append(dict(kind="zpool", host=rec["host"], name=pool.get("name"), at=rec["at"], used_bytes=used,
                             size_bytes=size, capacity_bytes=size, base_bytes=0))  # fmt: skip
    df = pd.DataFrame(rows, columns=SERIES_COLUMNS)
    df["at"] = pd.to_datetime(df["at"], utc=True)
    return df.sort_values(["kind", "host", "name", "at"], kind="stable").reset_index(drop=True)


def hosting_filesystem(series: pd.DataFrame, host: str, path: str) -> dict[str, Any] | None:
    """The latest observation of the filesystem holding `path` on `host` (longest mount prefix)."""
    fs = series[(series["kind"] == "filesystem") & (series["host"] == host)]
    best = None
    for mount in fs["name"].dropna().unique():
        m = mount.rstrip("/") + "/"
        if (path.rstrip("/") + "/").startswith(m) and (best is None or len(mount) > len(best)):
            best = mount
    if best is None:
        return None
    return fs[fs["name"] == best].sort_values("at").iloc[-1].to_dict()


def repository_series(
    sizes: pd.DataFrame,
    *,
    fs_series: pd.DataFrame | None = None,
    repositories: Mapping[str, tuple[str, str]] | None = None,
) -> pd.DataFrame:
    """Repository size per snapshot date → series rows of kind "repository".

    `sizes` has columns backup, time and repository_bytes (the repository's stored size after that
    snapshot; see sizes.repository_sizes). `repositories` maps backup → (host, path); when
    that path lies on a filesystem in `fs_series`, the repository's capacity is that filesystem's and
    base_bytes is the rest of it, so "days to full" means "until the repository fills its disk"."""
    import pandas as pd

    out = []
    for backup, g in sizes.groupby("backup", sort=True):
        host, path = (repositories or {}).get(backup, ("", ""))
        g = g.sort_values("time")
        latest = float(g["repository_bytes"].iloc[-1])
        size = cap = base = None
        fs = (
            hosting_filesystem(fs_series, host, path)
            if fs_series is not None and path.startswith("/")
            else None
        )
        if fs is not None:
            size, cap = fs["size_bytes"], fs["capacity_bytes"]
            base = max(float(fs["used_bytes"]) - latest, 0.0)
        out.append(
            pd.DataFrame(
                {
                    "kind": "repository",
                    "host": host,
                    "name": backup,
                    "at": pd.to_datetime(g["time"], utc=True),
                    "used_bytes": g["repository_bytes"].astype(float),
                    "size_bytes": size,
                    "capacity_bytes": cap,
                    "base_bytes": base or 0.0,
                }  # fmt: skip
            )
        )
    df = pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=SERIES_COLUMNS)
    return df[SERIES_COLUMNS]


def series_keys(series: pd.DataFrame) -> list[tuple[str, str, str]]:
    return [
        tuple(k) for k in series[["kind", "host", "name"]].drop_duplicates().itertuples(index=False)
    ]


def one_series(series: pd.DataFrame, kind: str, host: str, name: str) -> pd.DataFrame:
    sel = (series["kind"] == kind) & (series["host"] == host) & (series["name"] == name)
    return series[sel].sort_values("at").reset_index(drop=True)


def series_groups(series: pd.DataFrame) -> dict[tuple[str, str, str], pd.DataFrame]:
    """Each series by (kind, host, name), oldest observation first, in series_keys order."""
    if series.empty:
        return {}
    grouped = series.sort_values("at", kind="stable").groupby(
        ["kind", "host", "name"], sort=False, dropna=False
    )
    groups = {tuple(k): g.reset_index(drop=True) for k, g in grouped}
    return {k: groups[k] for k in series_keys(series) if k in groups}


def fits(series: pd.DataFrame, **kwargs: Any) -> dict[tuple[str, str, str], Fit]:
    """A growth fit per (kind, host, name); kwargs go to fit_growth (confidence, min_points...)."""
    return {
        k: fit_growth(s["at"], s["used_bytes"], **kwargs) for k, s in series_groups(series).items()
    }


def last_observation(s: pd.DataFrame) -> dict[str, float | None]:
    """What the forecast needs of a series' newest row: capacity, the rest of its disk, size."""
    import pandas as pd

    last = s.iloc[-1]

    def num(v: Any) -> float | None:
        return None if v is None or pd.isna(v) else float(v)

    return {"capacity_bytes": num(last["capacity_bytes"]), "base_bytes": num(last["base_bytes"]) or 0.0,
            "size_bytes": num(last["size_bytes"])}  # fmt: skip


def _days(d: float | None) -> float | None:
    return None if d is None else round(d, 1)


def forecast_row(
    fit: Fit,
    capacity: float | None,
    *,
    now: datetime,
    horizon: timedelta = timedelta(days=365),
    base: float = 0.0,
    thresholds: Sequence[float] = THRESHOLDS,
    slope: float | None = None,
    level: float | None = None,
) -> dict[str, Any]:
    """The numbers for one series (also used by the what-if scenarios, which override slope/level)."""
    rate = slope if slope is not None else (fit.slope if fit.growing else 0.0)
    cur = fit.level if level is None else level
    out: dict[str, Any] = {
        "used_bytes": None if math.isnan(cur) else int(round(cur)),
        "capacity_bytes": None if capacity is None or capacity != capacity else int(capacity),
        "used_pct": None,
        "growth_bytes_per_day": None
        if fit.status == NOT_ENOUGH and slope is None
        else round(slope if slope is not None else fit.slope, 1),
        "growth_low": round(fit.slope_low, 1) if fit.status != NOT_ENOUGH else None,
        "growth_high": round(fit.slope_high, 1) if fit.status != NOT_ENOUGH else None,
    }
    for t in thresholds:
        out[f"days_to_{'full' if t >= 1 else round(t * 100)}"] = None
    out.update(full_date=None, earliest_full_days=None, within_horizon=False, status=fit.status)
    if out["capacity_bytes"] is None or math.isnan(cur):
        return out
    used_now = (
        base + cur + rate * max((now - fit.last).total_seconds() / DAY, 0.0)
        if fit.last
        else base + cur
    )
    out["used_pct"] = round(100 * used_now / capacity, 1) if capacity else None
    for t in thresholds:
        key = f"days_to_{'full' if t >= 1 else round(t * 100)}"
        out[key] = _days(fit.days_to(t * capacity - base, now, slope=slope, level=level))
    full = out["days_to_full"]
    if full is not None:
        if full < 36_525:  # past a century the date says nothing (and overflows)
            out["full_date"] = (now + timedelta(days=full)).date().isoformat()
        out["within_horizon"] = full <= horizon.total_seconds() / DAY
    if fit.growing and slope is None:
        out["earliest_full_days"] = _days(fit.days_to(capacity - base, now, slope=fit.slope_high))
    if base + cur >= capacity:
        out["status"] = FULL
    return out


def forecast(
    series: pd.DataFrame,
    *,
    now: datetime,
    horizon: timedelta = timedelta(days=365),
    fitted: Mapping[tuple[str, str, str], Fit] | None = None,
    **fit_kwargs: Any,
) -> pd.DataFrame:
    """One row per filesystem/pool/repository: used, size, growth per day, days to 80/90/100 %
    (None when not growing or not enough history), the earliest plausible full day and status."""

    groups = series_groups(series)
    if fitted is None:
        fitted = {k: fit_growth(g["at"], g["used_bytes"], **fit_kwargs) for k, g in groups.items()}
    return forecast_table(fitted, {k: last_observation(groups[k]) for k in fitted}, now=now,
                          horizon=horizon)  # fmt: skip


def forecast_table(
    fitted: Mapping[tuple[str, str, str], Fit],
    lasts: Mapping[tuple[str, str, str], Mapping[str, float | None]],
    *,
    now: datetime,
    horizon: timedelta = timedelta(days=365),
) -> pd.DataFrame:
    """The forecast from fits and each series' newest observation (no series needed: cached fits
    give a fresh forecast for a new `now`)."""
    import pandas as pd

    rows = []
    for key, fit in fitted.items():
        last = lasts[key]
        row = {"kind": key[0], "host": key[1], "name": key[2]}
        row.update(
            forecast_row(
                fit,
                last["capacity_bytes"],
                now=now,
                horizon=horizon,
                base=last["base_bytes"] or 0.0,
            )
        )
        row["size_bytes"] = None if last["size_bytes"] is None else int(last["size_bytes"])
        row.update(points=fit.points, span_days=round(fit.span_days, 1), last_seen=fit.last)
        rows.append(row)
    cols = ["kind", "host", "name", "used_bytes", "size_bytes", "capacity_bytes", "used_pct", "growth_bytes_per_day",
            "growth_low", "growth_high", "days_to_80", "days_to_90", "days_to_full", "full_date",
            "earliest_full_days", "within_horizon", "status", "points", "span_days", "last_seen"]  # fmt: skip
    df = pd.DataFrame(rows, columns=cols)
    order = df["days_to_full"].fillna(math.inf)
    return (
        df.assign(_o=order)
        .sort_values(["_o", "kind", "host", "name"])
        .drop(columns="_o")
        .reset_index(drop=True)
    )


def alerts(table: pd.DataFrame, warn: timedelta = timedelta(days=30)) -> pd.DataFrame:
    """Rows that are full or fill within the warning window (the CLI's exit 1)."""
    d = table["days_to_full"]
    return table[d.notna() & (d.astype(float) <= warn.total_seconds() / DAY)]


def table_keys(table: pd.DataFrame) -> list[tuple[str, str, str]]:
    """(kind, host, name) of each forecast row, in the table's order (soonest full first)."""
    return [tuple(k) for k in table[["kind", "host", "name"]].itertuples(index=False)]


def pick_target(
    table: pd.DataFrame, target: str = "", kind: str | None = None
) -> tuple[str, str, str]:
    """A series by "host:name", a repository's name, or (empty) the one that fills first."""
    rows = table if kind is None else table[table["kind"] == kind]
    for k in table_keys(rows):
        if not target or target in (f"{k[1]}:{k[2]}", k[2]):
            return k
    known = (
        ", ".join(f"{h}:{n}" if t != "repository" else n for t, h, n in table_keys(rows)) or "none"
    )
    raise ValueError(f'no capacity series "{target}"; known: {known}')


def lab_series(
    lab: Lab, *, with_repositories: bool = True, ask_restic: bool = False, progress: bool = True
) -> pd.DataFrame:
    """Every series of a lab: filesystems and pools from the journal's facts history, and each
    backup repository from the journal's backup runs (plus restic's snapshot list and cached
    raw-data stats when `ask_restic`). Problems reading a repository are in `.attrs["problems"]`."""
    import pandas as pd

    from .sources import lab_repository_sizes, repository_locations

    fs = filesystem_series(lab.journal.facts_frame())
    if not with_repositories:
        return fs
    sizes, problems = lab_repository_sizes(lab, ask_restic=ask_restic, progress=progress)
    rs = repository_series(sizes, fs_series=fs, repositories=repository_locations(lab))
    parts = [x for x in (fs, rs) if len(x)]
    out = pd.concat(parts, ignore_index=True) if parts else fs
    out.attrs["problems"] = problems
    return out
