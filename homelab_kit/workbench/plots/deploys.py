"""Deploy charts: hosts by outcome per deploy run (input: deploy.history.deploys_frame)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .common import axes

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

STATUS_COLORS = {"ok": "#2e7d32", "rolled_back": "#ef6c00", "failed": "#c62828"}


def deploys_chart(frame: pd.DataFrame, title: str = "Recent deploys: hosts by outcome") -> Figure:
    """Stacked bars per deploy run (ok / rolled back / failed hosts); an empty note if none yet."""
    fig, ax = axes(9, 3.5)
    ax.set_title(title)
    if frame.empty:
        ax.text(0.5, 0.5, "no deploys recorded yet", ha="center", va="center")
        ax.set_axis_off()
        return fig
    labels = [f"#{i} {a}" for i, a in zip(frame["id"], frame["action"])]
    bottom = [0] * len(frame)
    for column, color in STATUS_COLORS.items():
        values = list(frame[column])
        ax.bar(labels, values, bottom=bottom, color=color, label=column.replace("_", " "))
        bottom = [b + v for b, v in zip(bottom, values)]
    ax.set_ylabel("hosts")
    ax.legend(loc="upper left", fontsize="small")
    ax.tick_params(axis="x", labelrotation=45)
    return fig
