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
    ax.step(ran["time"], ran["fail"], where="post", color=FAIL_COLOUR, label="failing")
    ax.step(ran["time"], ran["warn"], where="post", color=WARN_COLOUR, label="warnings")
    broken = history[history["fail"].isna()]
    if len(broken):
        ax.plot(broken["time"], [0] * len(broken), "x", color=FAIL_COLOUR, label="could not run")
    told = ran[ran["notified"]]
    if len(told):
        ax.plot(told["time"], told["fail"], "o", color="#333", label="notified")
    ax.set_ylabel("rows")
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper left", fontsize="small")
    fig.autofmt_xdate()
    return fig
