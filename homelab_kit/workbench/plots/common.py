"""What every chart shares: a Figure without pyplot's global state, byte axes, one chart per frame.

The object-oriented API only (no pyplot), so charts work headless and in threads, nothing is shown
twice in Jupyter and nothing leaks between calls in a long-running kernel.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def figure(width: float = 9, height: float = 4) -> Figure:
    """An empty Figure with constrained layout."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def axes(width: float = 9, height: float = 4) -> tuple[Figure, Axes]:
    """A Figure with one set of axes."""
    fig = figure(width, height)
    return fig, fig.add_subplot()


def mib_axis(ax: Any) -> None:
    """Label the y axis in MiB."""
    from matplotlib.ticker import FuncFormatter

    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v / 2**20:,.1f} MiB"))


def each(
    frames: Mapping[str, pd.DataFrame], chart: Callable[..., Figure], title: str
) -> list[Figure]:
    """One chart per backup: `display(*each(histories, growth_per_service, "Size: {}"))`."""
    return [chart(frame, title=title.format(name)) for name, frame in frames.items()]
