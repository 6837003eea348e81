"""HTML for Jupyter: small, dependency-free renderings of records and the lab overview."""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from pandas.io.formats.style import Styler

    from .model import Lab


def _value(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        return "<br>".join(html.escape(str(x)) for x in v) or "—"
    if v is None or v == "" or v == {}:
        return "—"
    return html.escape(str(v))


def record_html(title: str, fields: Mapping[str, Any]) -> str:
    """A two-column table of a record's fields, hiding private ones."""
    rows = "".join(
        f"<tr><th style='text-align:left'>{html.escape(k)}</th><td style='text-align:left'>{_value(v)}</td></tr>"
        for k, v in fields.items()
        if not k.startswith("_") and k != "relative_state_dirs"
    )
    return f"<b>{html.escape(title)}</b><table>{rows}</table>"


def lab_html(lab: Lab) -> str:
    """The lab at a glance: counts, then the hosts and services tables."""
    head = (
        f"<h4>Lab {html.escape(lab.name)}</h4><p>{len(lab.hosts)} hosts · {len(lab.services)} services · "
        f"{len(lab.backups)} backups — {html.escape(str(lab.path))}</p>"
    )
    return head + lab.hosts_frame().to_html(index=False) + lab.services_frame().to_html(index=False)


def highlight_status(
    frame: pd.DataFrame, column: str = "status", ok: tuple[str, ...] = ("ok",)
) -> Styler:
    """The frame with every row whose status is not ok shaded red, for a glance in Jupyter."""

    def shade(row: pd.Series) -> list[str]:
        return ["background: #fdd" if row[column] not in ok else "" for _ in row]

    return frame.style.apply(shade, axis=1)
