"""Sizes for capacity planning: disk sizes as people write them, bytes as people read them, and a
backup repository's size over time from per-snapshot stats (pure; no I/O)."""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

_UNITS = {"": 1, "b": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12, "p": 10**15}


def parse_size(text: str | float | int) -> int:
    """'500M', '1.5T', '20 GiB', '4TB' → bytes (K/M/G/T decimal as disks are sold; KiB.. binary)."""
    if isinstance(text, (int, float)):
        return int(text)
    m = re.fullmatch(r"\s*(-?\d+(?:\.\d+)?)\s*([kmgtp]?)(i?)b?\s*", str(text).lower())
    if not m:
        raise ValueError(f'expected a size such as "500M", "1.5T" or "20GiB", got "{text}"')
    number, unit, binary = float(m.group(1)), m.group(2), m.group(3)
    mult = 1024 ** "kmgtp".index(unit) * 1024 if binary and unit else _UNITS[unit]
    return int(number * mult)


def format_bytes(n: float | None) -> str:
    """Bytes for humans, binary units like df -h: '1.5 GiB'."""
    if n is None or (isinstance(n, float) and math.isnan(n)):
        return "-"
    v, sign = abs(float(n)), "-" if n < 0 else ""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if v < 1024 or unit == "PiB":
            return f"{sign}{v:.0f} {unit}" if unit == "B" else f"{sign}{v:.1f} {unit}"
        v /= 1024
    return str(n)


def repository_sizes(stats: pd.DataFrame) -> pd.DataFrame:
    """Per-snapshot stats (backup, time, and data_added and/or raw_size) → backup, time,
    repository_bytes: the repository's size after each snapshot (sum of data added, else the
    snapshot's raw-data size — a lower bound when nothing else is known)."""
    import pandas as pd

    out = []
    for backup, g in stats.groupby("backup", sort=True):
        g = g.sort_values("time")
        if "data_added" in g and g["data_added"].notna().all():
            size = g["data_added"].astype(float).cumsum()
        elif "raw_size" in g and g["raw_size"].notna().any():
            size = g["raw_size"].astype(float).ffill()
        else:
            continue
        out.append(
            pd.DataFrame(
                {
                    "backup": backup,
                    "time": pd.to_datetime(g["time"], utc=True),
                    "repository_bytes": size,
                }
            )
        )
    return (
        pd.concat(out, ignore_index=True)
        if out
        else pd.DataFrame(columns=["backup", "time", "repository_bytes"])
    )
