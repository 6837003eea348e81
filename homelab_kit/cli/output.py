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
    if n is None or n != n:
        return None
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return None


def human_seconds(s: float | None) -> str | None:
    """93600 → '1d 2h'; 3000 → '50m' (tables only)."""
    if s is None or s != s:
        return None
    s = int(round(s))
    sign, s = ("-" if s < 0 else ""), abs(s)
    days, rest = divmod(s, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{sign}{days}d {hours}h"
    if hours:
        return f"{sign}{hours}h {minutes}m"
    return f"{sign}{minutes}m" if minutes else f"{sign}{rest}s"
