"""Past deploys from the journal: one row per deploy run, with its per-host outcomes counted."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

COLUMNS = [
    "id", "started", "action", "on", "status", "hosts", "ok", "rolled_back", "failed", "seconds",
]  # fmt: skip


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
