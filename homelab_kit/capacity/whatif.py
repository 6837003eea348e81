"""What-if scenarios for capacity planning: add a service, change retention, buy a bigger disk.

A Scenario is a *change* applied on top of a series' fit: bytes added now, bytes per day added, a new
capacity. Deltas apply equally to a repository and to the filesystem that holds it, so one retention
change shows on both. The retention estimate replays restic's forget policy (retention.py) over the
snapshot history and estimates, from per-snapshot raw-data sizes and data added, what a
`forget --prune` would leave (a model, not a measurement: see estimate_after_forget).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from ..backups.retention import COUNTS, Policy, group_key
from ..backups.retention import plan as retention_plan
from .fit import DAY, fit_growth
from .forecast import forecast_row, one_series
from .sizes import format_bytes, parse_size

if TYPE_CHECKING:
    import pandas as pd


MONTH_DAYS = 365.25 / 12


@dataclass(frozen=True)
class Scenario:
    """A change to one series: bytes now, bytes per day, and/or a new disk size."""

    name: str
    add_bytes: float = 0.0
    add_bytes_per_day: float = 0.0
    disk_size_bytes: float | None = None

    def __add__(self, other: Scenario) -> Scenario:
        return Scenario(
            f"{self.name} + {other.name}",
            self.add_bytes + other.add_bytes,
            self.add_bytes_per_day + other.add_bytes_per_day,
            other.disk_size_bytes or self.disk_size_bytes,
        )


def add_service(
    initial: str | float, monthly_growth: str | float, name: str = "service"
) -> Scenario:
    """A new service with an initial size and a monthly growth ('20G', '2G')."""
    init, monthly = parse_size(initial), parse_size(monthly_growth)
    label = f"add {name} ({format_bytes(init)} + {format_bytes(monthly)}/month)"
    return Scenario(label, add_bytes=init, add_bytes_per_day=monthly / MONTH_DAYS)


def bigger_disk(size: str | float) -> Scenario:
    """Replace the disk with one of this size (data copied over; filesystem overhead kept)."""
    b = parse_size(size)
    return Scenario(f"disk {format_bytes(b)}", disk_size_bytes=b)


def apply(
    series: pd.DataFrame,
    target: tuple[str, str, str],
    scenario: Scenario | None,
    *,
    now: datetime,
    horizon: timedelta = timedelta(days=365),
) -> dict[str, Any]:
    """One forecast row for a series under a scenario (None = as is)."""
    s = one_series(series, *target)
    if s.empty:
        raise ValueError(f"no capacity series for {target[0]} {target[1]}:{target[2]}")
    fit = fit_growth(s["at"], s["used_bytes"])
    last = s.iloc[-1]
    size = (
        None
        if last["size_bytes"] is None or last["size_bytes"] != last["size_bytes"]
        else float(last["size_bytes"])
    )
    cap = (
        None
        if last["capacity_bytes"] is None or last["capacity_bytes"] != last["capacity_bytes"]
        else float(last["capacity_bytes"])
    )
    sc = scenario or Scenario("as is")
    if sc.disk_size_bytes:
        cap = sc.disk_size_bytes * (cap / size if cap and size else 1.0)
        size = sc.disk_size_bytes
    base_slope = fit.slope if fit.growing else 0.0
    changed = scenario is not None and (sc.add_bytes or sc.add_bytes_per_day)
    row = forecast_row(
        fit, cap, now=now, horizon=horizon, base=float(last["base_bytes"] or 0),
        slope=base_slope + sc.add_bytes_per_day if changed else None,
        level=fit.level + sc.add_bytes if changed and not math.isnan(fit.level) else None,
    )  # fmt: skip
    return {
        "scenario": sc.name,
        "kind": target[0],
        "host": target[1],
        "name": target[2],
        "size_bytes": size,
        **row,
    }


def what_if(
    series: pd.DataFrame,
    target: tuple[str, str, str],
    scenarios: Sequence[Scenario],
    *,
    now: datetime,
    horizon: timedelta = timedelta(days=365),
) -> pd.DataFrame:
    """The baseline and each scenario side by side for one filesystem/pool/repository."""
    import pandas as pd

    rows = [apply(series, target, sc, now=now, horizon=horizon) for sc in (None, *scenarios)]
    cols = ["scenario", "kind", "host", "name", "used_bytes", "size_bytes", "capacity_bytes", "used_pct",
            "growth_bytes_per_day", "days_to_80", "days_to_90", "days_to_full", "full_date", "within_horizon"]  # fmt: skip
    return pd.DataFrame(rows)[cols]


def projection(
    series: pd.DataFrame,
    target: tuple[str, str, str],
    scenarios: Sequence[Scenario],
    *,
    now: datetime,
    horizon: timedelta = timedelta(days=365),
    steps: int = 60,
) -> pd.DataFrame:
    """Expected usage fraction over the horizon per scenario (long frame: scenario, at, used_bytes,
    capacity_bytes, fraction), for workbench.plots.capacity.what_if_chart."""
    import pandas as pd

    s = one_series(series, *target)
    fit = fit_growth(s["at"], s["used_bytes"])
    last = s.iloc[-1]
    base = float(last["base_bytes"] or 0)
    rows = []
    for sc in (Scenario("as is"), *scenarios):
        r = apply(series, target, sc, now=now, horizon=horizon)
        slope = (
            r["growth_bytes_per_day"]
            if sc.add_bytes or sc.add_bytes_per_day
            else (fit.slope if fit.growing else 0.0)
        )
        slope = slope or 0.0
        level = fit.level + sc.add_bytes
        for t in pd.date_range(pd.Timestamp(now), pd.Timestamp(now) + horizon, periods=steps):
            days = (t - pd.Timestamp(fit.last)).total_seconds() / DAY
            used = base + level + slope * max(days, 0.0)
            cap = r["capacity_bytes"]
            rows.append(
                (sc.name, target[0], t, used, used - base, cap, used / cap if cap else math.nan)
            )
    cols = ["scenario", "kind", "at", "used_bytes", "series_bytes", "capacity_bytes", "fraction"]
    return pd.DataFrame(rows, columns=cols)


# -- backup repositories ---------------------------------------------------------------------------


def _chain_size(raw: np.ndarray, added: np.ndarray, kept: np.ndarray) -> float:
    """Estimated stored bytes of one snapshot chain when only `kept` snapshots remain.

    Model: a blob lives in a contiguous run of snapshots; D_i = R_i + A_{i+1} − R_{i+1} bytes of
    snapshot i are gone in i+1, and every byte of a snapshot is equally likely to go. Keeping all
    snapshots gives Σ A exactly; keeping k_0 < … < k_m gives R_{k_m} + Σ_j R_{k_j}(1 − Π survival)."""
    if not kept.any():
        return 0.0
    drop = np.clip(raw[:-1] + added[1:] - raw[1:], 0, None)
    with np.errstate(divide="ignore", invalid="ignore"):
        survive = np.where(raw[:-1] > 0, np.clip(1 - drop / raw[:-1], 0, 1), 1.0)
    idx = np.flatnonzero(kept)
    total = float(raw[idx[-1]])
    for a, b in zip(idx[:-1], idx[1:]):
        total += float(raw[a]) * (1 - float(np.prod(survive[a:b])))
    return total


def estimate_after_forget(
    stats: pd.DataFrame,
    policy: Policy | Mapping[str, Any],
    *,
    now: datetime,
    group_by: str = "host,paths",
) -> dict[str, Any]:
    """Estimate one repository's size after `forget --prune` under `policy`.

    `stats`: one row per snapshot with id, time, host, paths, raw_size (restic stats raw-data of that
    snapshot) and data_added. Returns current and estimated bytes, kept/removed counts and the
    long-run growth per day (the live data's growth when the policy is bounded, since churn then
    ages out; the current growth when it keeps everything)."""
    pol = policy if isinstance(policy, Policy) else Policy.from_keep(policy)
    if stats.empty or stats["raw_size"].isna().any() or stats["data_added"].isna().any():
        raise ValueError(
            "the retention what-if needs each snapshot's raw-data size and data added: "
            "use homelab_kit.capacity.sources.lab_snapshot_stats(lab, ask_restic=True)"
        )
    recs = stats.sort_values("time").to_dict("records")
    verdicts = {r["id"]: r["keep"] for r in retention_plan(recs, pol, now=now, group_by=group_by)}
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in recs:
        groups.setdefault(group_key(r, group_by), []).append(r)
    current = after = 0.0
    for members in groups.values():
        raw = np.array([float(m.get("raw_size") or 0) for m in members])
        added = np.array(
            [float(m.get("data_added") if m.get("data_added") is not None else 0) for m in members]
        )
        current += float(added.sum())
        after += _chain_size(raw, added, np.array([verdicts[m["id"]] for m in members]))
    bounded = not pol.empty and not pol.tags and all(getattr(pol, k) != -1 for k in COUNTS)
    by_time = stats.sort_values("time")
    live = fit_growth(by_time["time"], by_time["raw_size"]) if bounded else None
    cum = fit_growth(by_time["time"], by_time["data_added"].astype(float).cumsum())
    growth_now = cum.slope if cum.growing else 0.0
    growth_after = (
        (max(live.slope, 0.0) if live.growing else 0.0) if live is not None else growth_now
    )
    return {
        "current_bytes": current,
        "after_bytes": min(after, current),
        "kept": sum(verdicts.values()),
        "removed": len(verdicts) - sum(verdicts.values()),
        "growth_now": growth_now,
        "growth_after": growth_after,
    }


def retention_change(
    stats: pd.DataFrame, keep: Policy | Mapping[str, Any], *, now: datetime
) -> Scenario:
    """A Scenario (for the repository and the filesystem holding it) from a new keep policy."""
    pol = keep if isinstance(keep, Policy) else Policy.from_keep(keep)
    est = estimate_after_forget(stats, pol, now=now)
    label = "keep " + " ".join(f"{k}={v}" for k, v in pol.to_keep().items())
    return Scenario(
        f"{label} (−{format_bytes(est['current_bytes'] - est['after_bytes'])})",
        add_bytes=est["after_bytes"] - est["current_bytes"],
        add_bytes_per_day=est["growth_after"] - est["growth_now"],
    )
