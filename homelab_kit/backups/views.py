"""Views over several backups at once, for the backup-analysis runbook.

Each takes the backups the user selected and their snapshot records (fetched once), and skips a
backup without snapshots instead of failing, so the notebook stays a list of calls.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from . import analysis as bk
from .restic import Restic
from .retention import plan_frame

if TYPE_CHECKING:
    import pandas as pd

    from ..lab.model import Backup, Lab

Snaps = Mapping[str, list[dict[str, Any]]]


def service_histories(
    lab: Lab, selected: Iterable[Backup], snaps: Snaps, points: int = 12
) -> dict[str, pd.DataFrame]:
    """Per backup: size of each service's state over its last `points` snapshots."""
    return {b.name: bk.service_history(lab, b, points=points) for b in selected if snaps[b.name]}


def biggest_dirs(
    lab: Lab, selected: Iterable[Backup], snaps: Snaps, n: int = 15
) -> dict[str, pd.DataFrame]:
    """Per backup: the n biggest directories of its newest snapshot."""
    return {
        b.name: bk.biggest_dirs(lab, b, snaps[b.name][-1]["id"], n=n)
        for b in selected
        if snaps[b.name]
    }


def retention_previews(
    lab: Lab, selected: Iterable[Backup], snaps: Snaps, keep: Mapping[str, Any], now: datetime
) -> dict[str, pd.DataFrame]:
    """Per backup: what `restic forget` would keep under `keep` (else the backup's own policy)."""
    return {
        b.name: plan_frame(
            snaps[b.name], dict(keep or b.keep), now=now, version=Restic.for_backup(b, lab).version
        )
        for b in selected
        if snaps[b.name] and (keep or b.keep)
    }


def previews_table(previews: Mapping[str, pd.DataFrame]) -> pd.DataFrame | None:
    """All previews in one table: backup, snapshot, kept or not, and restic's reasons."""
    if not previews:
        return None
    import pandas as pd

    table = pd.concat(previews, names=["backup"]).reset_index(level=0)
    return table[["backup", "short_id", "time", "keep", "reasons"]]


def snapshot_stats(lab: Lab, selected: Iterable[Backup]) -> pd.DataFrame:
    """Restore size, files and data added per snapshot of every selected backup (cached)."""
    import pandas as pd

    return pd.concat([bk.snapshot_stats(lab, b) for b in selected], ignore_index=True)
