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


def human_bytes(n: float | None) -> str | None:
    """1536 → '1.5 KiB' (tables only; JSON keeps exact integers)."""
    from ..capacity.sizes import format_bytes

    return None if n is None or n != n else format_bytes(n)


def human_seconds(s: float | None) -> str | None:
    """93600 → '1d 2h'; 3000 → '50m' (tables only)."""
    from ..lab.timespec import format_duration

    return None if s is None or s != s else format_duration(s)
