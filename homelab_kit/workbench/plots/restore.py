"""Restore-test charts: how long a restore and its verification take, and how fast data comes back;
and the RTO of every disaster-recovery drill against its goal.

Input: restore.history.restore_history(lab), restore.history.drill_history(lab).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .common import figure

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

OK_COLOUR, BAD_COLOUR = "#1a7f37", "#cf222e"


def restore_history_chart(history: pd.DataFrame, title: str = "Restore tests") -> Figure:
    """Top: restore and verify seconds per test (the RTO); bottom: restore throughput in MB/s.

    Failed or problem runs are marked red, so a slow-but-clean test and a broken one look different.
    """
    fig = figure(9, 5)
    top, bottom = fig.subplots(2, 1, sharex=True)
    tests = history[history["kind"] == "restore-test"] if "kind" in history else history
    if tests.empty:
        top.text(
            0.5,
            0.5,
            "no restore tests recorded yet",
            ha="center",
            va="center",
            transform=top.transAxes,
        )
        bottom.set_axis_off()
        top.set_axis_off()
        return fig
    when = tests["started"]
    top.plot(when, tests["restore_seconds"], marker="o", label="restore")
    top.plot(when, tests["verify_seconds"], marker="s", label="verify")
    colours = [OK_COLOUR if ok else BAD_COLOUR for ok in tests["ok"]]
    top.scatter(when, tests["restore_seconds"], c=colours, zorder=3, s=18)
    top.set_ylabel("seconds")
    top.set_title(title)
    top.legend(loc="upper left")
    top.grid(alpha=0.3)
    bottom.bar(
        when,
        tests["throughput_mb_s"].fillna(0),
        width=0.6 if len(tests) < 3 else 0.8 * _spacing(when),
        color=colours,
    )
    bottom.set_ylabel("restore MB/s")
    bottom.grid(alpha=0.3)
    fig.autofmt_xdate()
    return fig


def _spacing(when: pd.Series) -> float:
    """Typical gap between tests in days (bar width on a date axis)."""
    gaps = when.sort_values().diff().dt.total_seconds().dropna() / 86400
    return float(gaps.median()) if len(gaps) else 1.0


def drill_rto_chart(history: pd.DataFrame, title: str = "Disaster-recovery drills") -> Figure:
    """The RTO of each drill (minutes; red when not clean or over the goal), one line per host,
    the host's `rto` goal as a dashed line."""
    fig = figure(9, 4)
    ax = fig.subplots()
    if history.empty:
        ax.text(0.5, 0.5, "no drills recorded yet", ha="center", va="center",
                transform=ax.transAxes)  # fmt: skip
        ax.set_axis_off()
        return fig
    for host, runs in history.groupby("host", sort=True):
        minutes = runs["rto_seconds"].astype(float) / 60
        line = ax.plot(runs["started"], minutes, marker="o", label=f"{host}")[0]
        good = runs["ok"] & (runs["rto_met"].fillna(True).astype(bool))
        ax.scatter(runs["started"], minutes, c=[OK_COLOUR if g else BAD_COLOUR for g in good],
                   zorder=3, s=30)  # fmt: skip
        goal = runs["rto_goal_seconds"].dropna()
        if len(goal):
            ax.axhline(float(goal.iloc[-1]) / 60, color=line.get_color(), linestyle="--",
                       label=f"{host} goal")  # fmt: skip
    ax.set_ylabel("RTO (minutes)")
    ax.set_title(title)
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper left")
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    return fig
