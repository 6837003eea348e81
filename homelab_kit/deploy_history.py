"""Past deploys from the journal: one row per deploy run, and a chart of their per-host outcomes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

COLUMNS = [
    "id", "started", "action", "on", "status", "hosts", "ok", "rolled_back", "failed", "seconds",
]  # fmt: skip
STATUS_COLORS = {"ok": "#2e7d32", "rolled_back": "#ef6c00", "failed": "#c62828"}


def deploys_frame(journal: Any, limit: int = 50) -> pd.DataFrame:
    """The newest `limit` deploy runs, oldest first: counts of ok / rolled back / other hosts."""
    import pandas as pd

    rows = []
    for r in journal.runs("deploy", limit):
        hosts: dict[str, str] = r["summary"].get("hosts", {})
        ok = sum(s in ("ok", "skipped") for s in hosts.values())
        rolled = sum(s == "rolled_back" for s in hosts.values())
        rows.append(
            {
                "id": r["id"],
                "started": r["started"],
                "action": r["parameters"].get("action"),
                "on": r["parameters"].get("on"),
                "status": r["status"],
                "hosts": len(hosts),
                "ok": ok,
                "rolled_back": rolled,
                "failed": len(hosts) - ok - rolled,
                "seconds": r["summary"].get("seconds"),
            }
        )
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame["started"] = pd.to_datetime(frame["started"], utc=True, format="ISO8601")
    return frame.sort_values("id").reset_index(drop=True)


def deploys_chart(frame: pd.DataFrame, title: str = "Recent deploys: hosts by outcome") -> Figure:
    """Stacked bars per deploy run (ok / rolled back / failed hosts); an empty note if none yet."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.5), layout="constrained")
    ax = fig.add_subplot()
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
