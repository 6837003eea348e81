"""Backup charts: size per service, restore size per snapshot, retention preview, biggest dirs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .common import axes, mib_axis

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure


def growth_per_service(history: pd.DataFrame, title: str = "Size per service") -> Figure:
    """Lines of each service's backed-up size over time (backups.service_history)."""
    fig, ax = axes()
    for svc, part in history.sort_values("time").groupby("service"):
        ax.plot(part["time"], part["size"], marker=".", label=svc)
    mib_axis(ax)
    ax.set_title(title)
    ax.set_xlabel("snapshot time")
    if len(history):
        ax.legend(loc="upper left", fontsize="small", ncols=2)
    fig.autofmt_xdate()
    return fig


def backup_growth(growth: pd.DataFrame, title: str = "Restore size per snapshot") -> Figure:
    """Restore size of each backup over time (backups.growth)."""
    fig, ax = axes()
    for (backup, host), part in growth.groupby(["backup", "host"]):
        ax.plot(part["time"], part["restore_size"], marker=".", label=f"{backup} ({host})")
    mib_axis(ax)
    ax.set_title(title)
    if len(growth):
        ax.legend(loc="upper left", fontsize="small")
    fig.autofmt_xdate()
    return fig


def retention_timeline(plan: pd.DataFrame, title: str = "Retention preview") -> Figure:
    """One row per group: kept snapshots as filled dots, removed ones as crosses (retention.plan_frame)."""
    fig, ax = axes(9, 1.2 + 0.5 * max(1, plan["group"].nunique() if len(plan) else 1))
    groups = list(dict.fromkeys(plan["group"])) if len(plan) else []
    for i, g in enumerate(groups):
        part = plan[plan["group"] == g]
        kept, removed = part[part["keep"]], part[~part["keep"]]
        ax.scatter(
            kept["time"],
            [i] * len(kept),
            marker="o",
            color="tab:green",
            label="keep" if i == 0 else None,
        )
        ax.scatter(
            removed["time"],
            [i] * len(removed),
            marker="x",
            color="tab:red",
            label="remove" if i == 0 else None,
        )
    ax.set_yticks(range(len(groups)), [g[:40] for g in groups])
    ax.set_ylim(-0.7, max(len(groups) - 0.3, 0.7))
    kept_n = int(plan["keep"].sum()) if len(plan) else 0
    ax.set_title(f"{title}: {kept_n} kept, {len(plan) - kept_n} removed")
    if groups:
        ax.legend(loc="upper left", fontsize="small")
    fig.autofmt_xdate()
    return fig


def biggest_dirs(dirs: pd.DataFrame, title: str = "Biggest directories") -> Figure:
    """Horizontal bars of the biggest directories (Listing.biggest_dirs)."""
    d = dirs.sort_values("size")
    fig, ax = axes(9, 1 + 0.3 * max(len(d), 1))
    ax.barh([p if len(p) < 60 else "…" + p[-58:] for p in d["path"]], d["size"] / 2**20)
    ax.set_xlabel("MiB")
    ax.set_title(title)
    return fig
