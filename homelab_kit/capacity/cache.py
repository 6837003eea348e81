"""The lab's capacity forecast for an hourly check: fits are kept in the journal with a stamp of
their inputs (the facts history, the backup runs, where the repositories live) and reused while
none of those changed — the forecast itself is recomputed for each `now`, which is cheap.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from .fit import Fit
from .forecast import forecast_table, lab_series, last_observation, series_groups
from .sources import repository_locations

if TYPE_CHECKING:
    import pandas as pd

    from ..lab.model import Lab

KIND, KEY = "capacity-fits", "latest"  # one entry, replaced: the cache never grows
VERSION = 1  # bump when the fit changes


def inputs_stamp(lab: Lab) -> str:
    where = sorted(repository_locations(lab).items())
    return f"v{VERSION}|{lab.journal.stamp()}|{lab.journal.stamp('backup')}|{where}"


def encode(fit: Fit) -> dict[str, Any]:
    d = asdict(fit)
    for k in ("first", "last"):
        d[k] = d[k].isoformat() if d[k] else None
    d["level"] = None if math.isnan(d["level"]) else d["level"]
    return d


def decode(d: dict[str, Any]) -> Fit:
    d = dict(d)
    for k in ("first", "last"):
        d[k] = datetime.fromisoformat(d[k]) if d[k] else None
    d["level"] = math.nan if d["level"] is None else d["level"]
    return Fit(**d)


def lab_forecast(
    lab: Lab, *, now: datetime, horizon: timedelta = timedelta(days=365)
) -> tuple[pd.DataFrame, list[str]]:
    """The forecast of every filesystem, pool and repository (journal only), and its problems."""
    stamp = inputs_stamp(lab)
    cached = lab.journal.cache_get(KIND, KEY)
    if cached and cached.get("stamp") == stamp:
        keys = [tuple(k) for k in cached["keys"]]
        fitted = {k: decode(f) for k, f in zip(keys, cached["fits"])}
        lasts = dict(zip(keys, cached["lasts"]))
        problems = cached["problems"]
    else:
        series = lab_series(lab, progress=False)
        groups = series_groups(series)
        from .fit import fit_growth

        fitted = {k: fit_growth(g["at"], g["used_bytes"]) for k, g in groups.items()}
        lasts = {k: last_observation(g) for k, g in groups.items()}
        problems = list(series.attrs.get("problems", []))
        lab.journal.cache_put(KIND, KEY, {
            "stamp": stamp, "keys": [list(k) for k in fitted], "problems": problems,
            "fits": [encode(f) for f in fitted.values()], "lasts": [lasts[k] for k in fitted],
        })  # fmt: skip
    return forecast_table(fitted, lasts, now=now, horizon=horizon), problems
