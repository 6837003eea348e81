"""A robust growth fit for disk usage: Theil–Sen slope with Sen's confidence band (numpy only).

Disk usage moves in steps (a big import, a prune, a deleted VM image) on top of a slow trend. A
least-squares line chases those steps; the median of pairwise slopes does not. The forecast level is
anchored on the *recent* points projected with that slope (median), so a step that persisted (an
import) is kept while a one-off spike is ignored. "Not enough history" and "not growing" are answers,
never a nonsense date.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from statistics import NormalDist
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

DAY = 86400.0
MIN_POINTS = 4
MIN_SPAN_DAYS = 7.0
MAX_POINTS = 400  # pairwise slopes are O(n²): longer histories are binned first

GROWING = "growing"
NOT_GROWING = "not growing"
SHRINKING = "shrinking"
NOT_ENOUGH = "not enough history"


def theil_sen(
    x: Sequence[float], y: Sequence[float], confidence: float = 0.95
) -> tuple[float, float, float, float]:
    """(slope, intercept, slope_low, slope_high): median of pairwise slopes with Sen's interval,
    the same estimate as scipy.stats.theilslopes. Needs two distinct x values."""
    xa, ya = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    i, j = np.triu_indices(len(xa), k=1)
    dx = xa[j] - xa[i]
    keep = dx != 0
    if not keep.any():
        raise ValueError("theil_sen needs at least two distinct x values")
    slopes = np.sort((ya[j] - ya[i])[keep] / dx[keep])
    slope = float(np.median(slopes))
    intercept = float(np.median(ya) - slope * np.median(xa))
    n, m = len(xa), len(slopes)
    # Sen (1968): ranks of the interval ends from the variance of Kendall's S (ties in x ignored)
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    c = z * math.sqrt(n * (n - 1) * (2 * n + 5) / 18)
    lo = int(np.clip(round((m - c) / 2) - 1, 0, m - 1))
    hi = int(np.clip(round((m + c) / 2), 0, m - 1))
    return slope, intercept, float(slopes[lo]), float(slopes[hi])


def _bin(x: np.ndarray, y: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Equal-time bins with the median of each, so hourly facts over a year stay cheap."""
    edges = np.linspace(x[0], x[-1], bins + 1)
    idx = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, bins - 1)
    bx, by = [], []
    for b in np.unique(idx):
        sel = idx == b
        bx.append(float(np.median(x[sel])))
        by.append(float(np.median(y[sel])))
    return np.asarray(bx), np.asarray(by)


@dataclass(frozen=True)
class Fit:
    """A growth fit in bytes per day; `level` is the usage at `last` (robust, recent)."""

    status: str
    points: int
    span_days: float
    first: datetime | None = None
    last: datetime | None = None
    level: float = math.nan
    slope: float = 0.0
    slope_low: float = 0.0
    slope_high: float = 0.0
    scatter: float = 0.0  # robust spread of the residuals (1.4826 × MAD), bytes

    @property
    def growing(self) -> bool:
        return self.status == GROWING

    def at(self, when: datetime) -> tuple[float, float, float]:
        """(expected, low, high) usage at a time, from the slope and its interval."""
        days = (_ts(when) - _ts(self.last)).total_seconds() / DAY if self.last is not None else 0.0
        ahead = max(days, 0.0)
        lo, hi = sorted((self.slope_low * ahead, self.slope_high * ahead))
        return (
            self.level + self.slope * days,
            self.level + lo - self.scatter,
            self.level + hi + self.scatter,
        )

    def predict(self, times: Sequence[datetime] | pd.DatetimeIndex) -> pd.DataFrame:
        """Expected usage and its band at each time: columns at, expected, low, high."""
        import pandas as pd

        rows = [(t, *self.at(t)) for t in times]
        return pd.DataFrame(rows, columns=["at", "expected", "low", "high"])

    def days_to(
        self,
        level_bytes: float,
        now: datetime,
        *,
        slope: float | None = None,
        level: float | None = None,
    ) -> float | None:
        """Days from `now` until usage reaches `level_bytes`; 0 if already there; None if never
        (not growing, not enough history). `slope`/`level` override the fit (what-if scenarios)."""
        cur = self.level if level is None else level
        rate = slope if slope is not None else (self.slope if self.growing else 0.0)
        if math.isnan(cur):
            return None
        if cur >= level_bytes:
            return 0.0
        if rate <= 0:
            return None
        elapsed = (
            (_ts(now) - _ts(self.last)).total_seconds() / DAY if self.last is not None else 0.0
        )
        return max((level_bytes - cur) / rate - elapsed, 0.0)


def _ts(t: datetime) -> pd.Timestamp:
    import pandas as pd

    ts = pd.Timestamp(t)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts


def fit_growth(
    times: Sequence[datetime] | pd.Series,
    values: Sequence[float] | pd.Series,
    *,
    confidence: float = 0.95,
    min_points: int = MIN_POINTS,
    min_span_days: float = MIN_SPAN_DAYS,
    recent: int | None = None,
) -> Fit:
    """Fit bytes-per-day growth of one series. Growing only when the whole confidence interval of
    the slope is above zero; shrinking when it is wholly below; otherwise "not growing"."""
    import pandas as pd

    t = pd.to_datetime(pd.Series(list(times)), utc=True)
    v = pd.Series(list(values), dtype=float)
    ok = t.notna().to_numpy() & v.notna().to_numpy()
    t, v = t[ok].reset_index(drop=True), v[ok].reset_index(drop=True)
    order = np.argsort(t.to_numpy(), kind="stable")
    t, v = t.iloc[order].reset_index(drop=True), v.iloc[order].reset_index(drop=True)
    n = len(t)
    if n == 0:
        return Fit(NOT_ENOUGH, 0, 0.0)
    first, last = t.iloc[0].to_pydatetime(), t.iloc[-1].to_pydatetime()
    span = (last - first).total_seconds() / DAY
    x = ((t - t.iloc[0]).dt.total_seconds() / DAY).to_numpy()
    y = v.to_numpy()
    if n < min_points or span < min_span_days:
        return Fit(NOT_ENOUGH, n, span, first, last, level=float(y[-1]))
    bx, by = _bin(x, y, MAX_POINTS) if n > MAX_POINTS else (x, y)
    slope, _, lo, hi = theil_sen(bx, by, confidence)
    k = recent or max(3, len(bx) // 10)
    level = float(np.median(by[-k:] + slope * (x[-1] - bx[-k:])))
    resid = y - (level + slope * (x - x[-1]))
    scatter = float(1.4826 * np.median(np.abs(resid - np.median(resid))))
    if lo > 0:
        status = GROWING
    elif hi < 0:
        status = SHRINKING
    else:
        status = NOT_GROWING
    return Fit(status, n, span, first, last, level, slope, lo, hi, scatter)
