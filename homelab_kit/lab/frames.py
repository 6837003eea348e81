"""Dataclass records → DataFrames (tuples shown as lists, paths as strings)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd


def _plain(v: Any) -> Any:
    if isinstance(v, tuple):
        return list(v)
    if isinstance(v, Path):
        return str(v)
    if dataclasses.is_dataclass(v):
        return {k: _plain(x) for k, x in dataclasses.asdict(v).items()}
    return v


def records_frame(records: Iterable[Any]) -> pd.DataFrame:
    rows = [
        {
            f.name: _plain(getattr(r, f.name))
            for f in dataclasses.fields(r)
            if f.name != "relative_state_dirs"
        }
        for r in records
    ]
    return pd.DataFrame(rows)
