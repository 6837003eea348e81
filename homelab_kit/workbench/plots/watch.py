"""Watch charts: failing and warning checks over time (input: watch.history.check_history)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .common import axes

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

FAIL_COLOUR, WARN_COLOUR = "#c62828", "#e6a100"


def check_history_chart(history: pd.DataFrame, title: str = "Checks over time") -> Figure:
    """Steps of failing and warning rows per check run; runs that could not check as red marks."""
    fig, ax = axes(9, 3.2)
    ax.set_title(title)
    if history.empty:
        ax.text(0.5, 0.5, "no checks recorded yet: run `homelab-kit check`", ha="center")
        ax.set_axis_off()
        return fig
    ran = history[history["fail"].notna()]
    for column, colour, label in (
        ("fail", FAIL_COLOUR, "failing"),
        ("warn", WARN_COLOUR, "warnings"),
    ):
        ax.plot(
            ran["time"], ran[column], drawstyle="steps-post", marker=".", color=colour, label=label
        )
    broken = history[history["fail"].isna()]
    if len(broken):
        ax.plot(broken["time"], [0] * len(broken), "x", color=FAIL_COLOUR, label="could not run")
    told = ran[ran["notified"]]
    if len(told):
        ax.plot(told["time"], told["fail"], "o", color="#333", label="notified")
    if history["time"].nunique() == 1:  # one run: a day around it, not matplotlib's decade
        from datetime import timedelta

        t = history["time"].iloc[0]
        ax.set_xlim(t - timedelta(hours=12), t + timedelta(hours=12))
    ax.set_ylabel("rows")
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper left", fontsize="small")
    fig.autofmt_xdate()
    return fig
