"""`homelab-kit capacity`: when does each filesystem, ZFS pool and backup repository fill up?

Reads the facts history and cached snapshot stats from the journal (no host is contacted). Exit 1
when something is full or fills within the warning window, so a timer can shout.
"""

from __future__ import annotations

import argparse
import math
from datetime import timedelta
from typing import Any

from ..errors import HomelabError
from .argtypes import now_option
from .output import table, to_json

COLUMNS = (
    "kind",
    "host",
    "name",
    "used",
    "size",
    "use%",
    "growth/day",
    "days_to_80",
    "days_to_full",
    "status",
)


class CapacityInputError(HomelabError):
    """A bad --horizon, --warn or --now value."""


def _duration(text: str, option: str) -> timedelta:
    from ..lab.timespec import parse_duration

    try:
        value = parse_duration(text)
    except ValueError as exc:
        raise CapacityInputError(f"{option}: {exc}") from None
    if value <= timedelta(0):
        raise CapacityInputError(f'{option}: expected a duration > 0 such as "30d", got "{text}"')
    return value


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "capacity",
        help="forecast when each filesystem, ZFS pool and backup repository fills up",
        description="Fits the growth of every filesystem, ZFS pool and backup repository from the "
        "journal's history (robust Theil–Sen fit) and prints the days until 80 %% and until full. "
        "Exits 1 when something fills within the warning window.",
    )
    p.add_argument("--horizon", default="365d", help="how far ahead to forecast (default 365d)")
    p.add_argument(
        "--warn", default="30d", help="exit 1 when something fills within this (default 30d)"
    )
    p.add_argument(
        "--now", help="forecast as of this ISO time instead of now (reproducible reports)"
    )
    p.add_argument("--no-repositories", action="store_true", help="skip backup repositories")
    p.add_argument(
        "--restic",
        action="store_true",
        help="also ask restic for each repository's snapshots and raw-data stats (cached per snapshot); "
        "by default only the journal is read",
    )
    p.add_argument("--json", action="store_true", help="print a JSON list of objects")
    p.set_defaults(func=capacity)


def _clean(v: Any) -> Any:
    if isinstance(v, float) and math.isnan(v):
        return None
    if hasattr(v, "isoformat"):
        return v.isoformat()
    if hasattr(v, "item"):  # numpy scalars
        return v.item()
    return v


def _days(d: Any, horizon_days: float) -> str | None:
    if d is None:
        return None
    return f">{horizon_days:.0f}" if d > horizon_days else f"{d:.0f}"


def capacity(args: argparse.Namespace, ctx: Any) -> int:
    from ..capacity.forecast import alerts, forecast, lab_series
    from ..capacity.sizes import format_bytes

    horizon, warn = _duration(args.horizon, "--horizon"), _duration(args.warn, "--warn")
    now = now_option(args.now)
    lab = ctx.lab()
    series = lab_series(
        lab, with_repositories=not args.no_repositories, ask_restic=args.restic, progress=False
    )
    for problem in series.attrs.get("problems", []):
        print(f"homelab-kit: {problem}", file=ctx.err)
    tab = forecast(series, now=now, horizon=horizon)
    records = [{k: _clean(v) for k, v in r.items()} for r in tab.to_dict("records")]
    for r in records:
        for k in ("used_bytes", "size_bytes", "capacity_bytes", "points"):
            r[k] = (
                None
                if r[k] is None or (isinstance(r[k], float) and math.isnan(r[k]))
                else int(r[k])
            )
    hot = alerts(tab, warn)
    if args.json:
        ctx.print(to_json(records))
        return 1 if len(hot) else 0
    if not records:
        ctx.print(
            "no capacity history yet: run `homelab-kit facts` on a schedule to record disk usage"
        )
        return 0
    hd = horizon.total_seconds() / 86400
    rows = [
        {
            "kind": r["kind"],
            "host": r["host"] or None,
            "name": r["name"],
            "used": format_bytes(r["used_bytes"]),
            "size": format_bytes(r["size_bytes"]) if r["size_bytes"] else None,
            "use%": r["used_pct"],
            "growth/day": None
            if r["growth_bytes_per_day"] is None
            else format_bytes(r["growth_bytes_per_day"]),
            "days_to_80": _days(r["days_to_80"], hd),
            "days_to_full": _days(r["days_to_full"], hd),
            "status": r["status"],
        }
        for r in records
    ]
    ctx.print(table(rows, COLUMNS))
    for r in hot.to_dict("records"):
        when = (
            "is full"
            if not r["days_to_full"]
            else f"fills in {r['days_to_full']:.0f} days ({r['full_date']})"
        )
        ctx.print(f"WARNING: {r['kind']} {r['host']}:{r['name']} {when}")
    return 1 if len(hot) else 0
