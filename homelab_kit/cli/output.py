"""Small output helpers shared by command modules: JSON and plain tables without pandas."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any


def to_json(data: Any) -> str:
    """JSON for machines: stable key order as given, dates and paths as strings."""
    return json.dumps(data, indent=2, default=str, ensure_ascii=False)


def table(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """A plain left-aligned text table; cells are single-line (newlines shown as ⏎)."""
    body = [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [max([len(c), *(len(row[i]) for row in body)]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in body]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value))
    return str(value).replace("\n", "⏎")
