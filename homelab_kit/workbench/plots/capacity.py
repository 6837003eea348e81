"""Capacity charts: history, robust fit and band per filesystem, and the what-if comparison."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from ...capacity.fit import fit_growth
from ...capacity.forecast import one_series, series_keys
from ...capacity.sizes import format_bytes
from .common import figure

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

GIB = 1024**3
LEVELS = ((0.8, "80 %", "#e6a100"), (0.9, "90 %", "#e66a00"), (1.0, "full", "#c62828"))


def _label(kind: str, host: str, name: str) -> str:
    return (
        f"{host}:{name}"
        if kind != "repository"
        else f"repository {name}" + (f" ({host})" if host else "")
    )


def forecast_axes(
    ax: Axes,
    series: pd.DataFrame,
    key: tuple[str, str, str],
    *,
    now: datetime,
    horizon: timedelta = timedelta(days=365),
) -> None:
    """Draw one series on `ax`: observations, the fit to the horizon with its band, and 80/90/100 %."""
    import pandas as pd

    s = one_series(series, *key)
    fit = fit_growth(s["at"], s["used_bytes"])
    repo = key[0] == "repository"
    # a repository is drawn as itself; its disk's "full" is the room left beside the other data
    base = 0.0 if repo else float(s["base_bytes"].iloc[-1] or 0)
    room = float(s["base_bytes"].iloc[-1] or 0) if repo else 0.0
    unit, uname = (GIB, "GiB") if float(s["used_bytes"].max() + base) >= GIB else (1024**2, "MiB")
    ax.plot(s["at"], (s["used_bytes"] + base) / unit, ".", ms=3, color="#455a64", label="observed")
    cap = s["capacity_bytes"].iloc[-1]
    cap = None if cap is None or pd.isna(cap) else float(cap)
    title = _label(*key)
    top = float((s["used_bytes"] + base).max())
    if fit.last is not None and fit.status != "not enough history":
        times = pd.date_range(
            pd.Timestamp(s["at"].iloc[0]), pd.Timestamp(now) + horizon, periods=120
        )
        pred = fit.predict(times)
        # the band only looks ahead: behind the last observation the data speaks for itself
        ahead = pred["at"] >= pd.Timestamp(fit.last)
        ax.plot(
            pred["at"],
            (pred["expected"] + base) / unit,
            "-",
            color="#1565c0",
            lw=1.5,
            label=f"fit ({fit.status})",
        )
        ax.fill_between(pred["at"][ahead], (pred["low"][ahead] + base) / unit, (pred["high"][ahead] + base) / unit,
                        color="#1565c0", alpha=0.15, label="95 % band")  # fmt: skip
        title += f" — {format_bytes(fit.slope)}/day" if fit.growing else f" — {fit.status}"
        top = max(top, float(pred["high"].max() + base))
    else:
        title += " — not enough history"
    if cap:
        limits = [(1.0, "disk full", LEVELS[-1][2])] if repo else LEVELS
        for frac, name, color in limits:
            level = frac * cap - room
            if (
                not repo or level <= 3 * top
            ):  # a far-away disk limit would flatten a repository's curve
                ax.axhline(level / unit, color=color, lw=0.8, ls="--", label=name)
                top = max(top, level)
        full = fit.days_to(cap - base - room, now)
        if full is not None and full <= horizon.total_seconds() / 86400:
            title += f", full in {full:.0f} d" if full > 0 else ", FULL"
        elif fit.growing:
            title += f", not full within {horizon.days} d"
    ax.set_ylim(0, top * 1.08 / unit)
    ax.axvline(pd.Timestamp(now), color="#9e9e9e", lw=0.8)
    ax.set_title(title, fontsize=9)
    ax.set_ylabel(uname)
    ax.tick_params(axis="x", labelsize=7, rotation=30)
    ax.grid(alpha=0.3)


def forecast_chart(
    series: pd.DataFrame,
    key: tuple[str, str, str],
    *,
    now: datetime,
    horizon: timedelta = timedelta(days=365),
) -> Figure:
    """One filesystem/pool/repository: history, fit, band and the 80/90/100 % lines."""
    fig = figure(8, 3.6)
    ax = fig.add_subplot()
    forecast_axes(ax, series, key, now=now, horizon=horizon)
    ax.legend(fontsize=7, loc="upper left")
    return fig


def forecast_grid(
    series: pd.DataFrame,
    *,
    now: datetime,
    horizon: timedelta = timedelta(days=365),
    keys: Sequence[tuple[str, str, str]] | None = None,
    columns: int = 2,
) -> Figure:
    """A chart per series in one figure (default: every series, in the given or forecast order)."""
    keys = list(keys) if keys is not None else series_keys(series)
    rows = max(1, math.ceil(len(keys) / columns))
    fig = figure(6 * columns, 3.2 * rows)
    if not keys:
        fig.text(
            0.5,
            0.5,
            "no capacity history yet: gather facts (homelab-kit facts) over a few days",
            ha="center",
        )
        return fig
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    for ax, key in zip(axes, keys):
        forecast_axes(ax, series, key, now=now, horizon=horizon)
    for ax in axes[len(keys) :]:
        ax.set_visible(False)
    axes[0].legend(fontsize=7, loc="upper left")
    return fig


def what_if_chart(projection: pd.DataFrame, *, title: str = "") -> Figure:
    """Expected usage per scenario over the horizon (capacity.whatif.projection output): % of the
    disk for filesystems and pools, the repository's own size for a repository."""
    fig = figure(8, 3.6)
    ax = fig.add_subplot()
    as_bytes = len(projection) and (
        projection["kind"].iloc[0] == "repository" or projection["fraction"].isna().all()
    )
    top = float(projection["series_bytes"].max()) if len(projection) else 0.0
    unit, uname = (GIB, "GiB") if top >= GIB else (1024**2, "MiB")
    for name, g in projection.groupby("scenario", sort=False):
        y = g["series_bytes"] / unit if as_bytes else 100 * g["fraction"]
        ax.plot(g["at"], y, lw=1.6, label=name)
    if as_bytes:
        ax.set_ylabel(f"repository size, {uname}")
        ax.set_ylim(0, top * 1.1 / unit if top else 1)
    else:
        for frac, _name, color in LEVELS:
            ax.axhline(100 * frac, color=color, lw=0.8, ls="--")
        ax.set_ylabel("% of capacity")
        ax.set_ylim(
            0,
            max(
                110.0,
                float(100 * projection["fraction"].max()) * 1.05 if len(projection) else 110.0,
            ),
        )
    ax.set_title(title or "what if", fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    ax.grid(alpha=0.3)
    ax.tick_params(axis="x", labelsize=7, rotation=30)
    return fig
