"""restic's `forget` policy, reproduced in pure Python to preview a retention change.

Follows restic's internal/restic/snapshot_policy.go (ApplyPolicy) and GroupSnapshots: snapshots
are grouped (default by host and paths), sorted newest first (stable), then each snapshot is
kept by tags, by `within` (relative to the newest snapshot that is not in the future), by the
counted buckets last/hourly/daily/weekly/monthly/yearly (a bucket keeps the newest snapshot of each
new hour/day/ISO week/month/year until its count runs out; -1 = unlimited) and by the
within-buckets. Since restic 0.16 the oldest snapshot of a group is also kept while a bucket still
has counts left ("oldest" rule); `version` chooses the behaviour. Calendar buckets use each
snapshot's own UTC offset, as Go does. Snapshots with identical times are ordered as given (restic
orders them by repository listing), so ties are the one place results can differ.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

COUNTS = ("last", "hourly", "daily", "weekly", "monthly", "yearly")
WITHINS = ("within_hourly", "within_daily", "within_weekly", "within_monthly", "within_yearly")
_REASON = {
    "last": "last snapshot",
    "hourly": "hourly snapshot",
    "daily": "daily snapshot",
    "weekly": "weekly snapshot",
    "monthly": "monthly snapshot",
    "yearly": "yearly snapshot",
    "within_hourly": "hourly within",
    "within_daily": "daily within",
    "within_weekly": "weekly within",
    "within_monthly": "monthly within",
    "within_yearly": "yearly within",
}
OLDEST_RULE_SINCE = (0, 16, 0)
OLDEST_REASON_SINCE = (0, 17, 2)
_DURATION = re.compile(r"(\d+)([ymwdh])")


@dataclass(frozen=True)
class Within:
    """restic's Duration: years, months, days, hours ('1y2m3d4h'; 'm' is months, 'w' = 7 days)."""

    years: int = 0
    months: int = 0
    days: int = 0
    hours: int = 0

    @classmethod
    def parse(cls, text: str | Within | None) -> Within:
        if isinstance(text, Within):
            return text
        s = str(text or "").strip().replace(" ", "")
        if not s:
            return cls()
        parts = _DURATION.findall(s)
        if "".join(n + u for n, u in parts) != s:
            raise ValueError(
                f'expected a restic duration such as "30d", "2y5m7d3h" (m = months), got "{text}"'
            )
        v = {"y": 0, "m": 0, "d": 0, "h": 0}
        for n, u in parts:
            if u == "w":
                v["d"] += 7 * int(n)
            else:
                v[u] += int(n)
        return cls(v["y"], v["m"], v["d"], v["h"])

    @property
    def zero(self) -> bool:
        return not (self.years or self.months or self.days or self.hours)

    def __str__(self) -> str:  # like restic's Duration.String()
        s = "".join(
            f"{n}{u}" for n, u in zip((self.years, self.months, self.days, self.hours), "ymdh") if n
        )
        return s

    def before(self, t: datetime) -> datetime:
        """Go's t.AddDate(-y, -m, -d).Add(-h hours), with Go's date normalisation."""
        y, m = t.year - self.years, t.month - self.months
        y, m = y + (m - 1) // 12, (m - 1) % 12 + 1
        try:
            base = t.replace(year=y, month=m, day=1)
        except ValueError:  # before year 1: nothing can be older
            return datetime.min.replace(tzinfo=t.tzinfo)
        return base + timedelta(days=t.day - 1 - self.days) - timedelta(hours=self.hours)


@dataclass(frozen=True)
class Policy:
    """A forget policy; counts are 0 (off), N, or -1 (unlimited, restic ≥ 0.16)."""

    last: int = 0
    hourly: int = 0
    daily: int = 0
    weekly: int = 0
    monthly: int = 0
    yearly: int = 0
    within: Within = field(default_factory=Within)
    within_hourly: Within = field(default_factory=Within)
    within_daily: Within = field(default_factory=Within)
    within_weekly: Within = field(default_factory=Within)
    within_monthly: Within = field(default_factory=Within)
    within_yearly: Within = field(default_factory=Within)
    tags: tuple[tuple[str, ...], ...] = ()

    @classmethod
    def from_keep(cls, keep: Mapping[str, Any]) -> Policy:
        """From the inventory's `keep = { daily = 7, within = "30d", tags = ["a,b"] }`."""
        kw: dict[str, Any] = {}
        for key, value in keep.items():
            if key in COUNTS:
                kw[key] = int(value)
            elif key == "within" or key in WITHINS:
                kw[key] = Within.parse(value)
            elif key in ("tags", "tag"):
                kw["tags"] = tuple(
                    tuple(t.split(",")) if isinstance(t, str) else tuple(t) for t in value
                )
            else:
                raise ValueError(
                    f'unknown keep rule "{key}"; known: {", ".join((*COUNTS, "within", *WITHINS, "tags"))}'
                )
        return cls(**kw)

    @property
    def empty(self) -> bool:
        return self == Policy()

    def to_keep(self) -> dict[str, Any]:
        """Back to a keep mapping (for restic.policy_argv)."""
        out: dict[str, Any] = {k: getattr(self, k) for k in COUNTS if getattr(self, k)}
        for k in ("within", *WITHINS):
            if not getattr(self, k).zero:
                out[k] = str(getattr(self, k))
        if self.tags:
            out["tags"] = [",".join(t) for t in self.tags]
        return out


def _bucket(kind: str, t: datetime, nr: int) -> int:
    if kind == "last":
        return nr
    if kind == "hourly":
        return t.year * 1000000 + t.month * 10000 + t.day * 100 + t.hour
    if kind == "daily":
        return t.year * 10000 + t.month * 100 + t.day
    if kind == "weekly":
        iso = t.isocalendar()
        return iso[0] * 100 + iso[1]
    if kind == "monthly":
        return t.year * 100 + t.month
    return t.year


def apply_policy(
    snapshots: Sequence[Mapping[str, Any]],
    policy: Policy,
    *,
    now: datetime,
    version: tuple[int, int, int] = (0, 18, 0),
) -> list[tuple[Mapping[str, Any], bool, list[str]]]:
    """One group → [(snapshot, keep, reasons)] newest first, like restic's ApplyPolicy."""
    ordered = sorted(snapshots, key=lambda s: s["time"], reverse=True)  # stable, like sort.Stable
    if policy.empty:
        return [(s, True, ["policy is empty"]) for s in ordered]
    if not ordered:
        return []
    oldest_rule = version >= OLDEST_RULE_SINCE
    oldest_reason = version >= OLDEST_REASON_SINCE
    past = [s["time"] for s in ordered if s["time"] < now]
    latest = max(past) if past else None
    counts = {k: getattr(policy, k) for k in COUNTS}
    if not oldest_rule:  # -1 (unlimited) arrived with 0.16
        counts = {k: max(v, 0) for k, v in counts.items()}
    last: dict[str, int] = {k: -1 for k in (*COUNTS, *WITHINS)}
    cutoff = {
        k: (latest and getattr(policy, k).before(latest))
        for k in ("within", *WITHINS)
        if not getattr(policy, k).zero
    }
    out = []
    final = len(ordered) - 1
    for nr, snap in enumerate(ordered):
        t = snap["time"]
        reasons: list[str] = []
        tags = set(snap.get("tags") or ())
        for tl in policy.tags:
            if set(tl) <= tags:
                reasons.append(f"has tags [{', '.join(tl)}]")
        if "within" in cutoff and (cutoff["within"] is None or t > cutoff["within"]):
            reasons.append(f"within {policy.within}")
        for k in COUNTS:
            if counts[k] > 0 or counts[k] == -1:
                val = _bucket(k, t, nr)
                oldest = oldest_rule and nr == final
                if val != last[k] or oldest:
                    prefix = "oldest " if (oldest_reason and val == last[k]) else ""
                    last[k] = val
                    if counts[k] > 0:
                        counts[k] -= 1
                    reasons.append(prefix + _REASON[k])
        for k in WITHINS:
            if k in cutoff and (cutoff[k] is None or t > cutoff[k]):
                val = _bucket(k.removeprefix("within_"), t, nr)
                oldest = oldest_rule and nr == final
                if val != last[k] or oldest:
                    prefix = "oldest " if (oldest_reason and val == last[k]) else ""
                    last[k] = val
                    reasons.append(f"{prefix}{_REASON[k]} {getattr(policy, k)}")
        out.append((snap, bool(reasons), reasons))
    return out


def group_key(
    snap: Mapping[str, Any], group_by: str = "host,paths"
) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """restic's grouping key: (host, sorted paths, sorted tags), each only if grouped by."""
    fields = {f.strip() for f in group_by.split(",") if f.strip()}
    unknown = fields - {"host", "paths", "tags"}
    if unknown:
        raise ValueError(
            f"--group-by: unknown field(s) {', '.join(sorted(unknown))}; use host, paths, tags"
        )
    return (
        snap.get("host", "") if "host" in fields else "",
        tuple(sorted(snap.get("paths") or ())) if "paths" in fields else (),
        tuple(sorted(snap.get("tags") or ())) if "tags" in fields else (),
    )


def plan(
    snapshots: Iterable[Mapping[str, Any]],
    policy: Policy,
    *,
    now: datetime,
    group_by: str = "host,paths",
    version: tuple[int, int, int] = (0, 18, 0),
) -> list[dict[str, Any]]:
    """Every snapshot's verdict: dicts with id, short_id, time, host, paths, tags, group, keep,
    reasons; newest first within each group. Plain lists, so the CLI needs no pandas."""
    groups: dict[tuple, list[Mapping[str, Any]]] = {}
    for s in snapshots:
        groups.setdefault(group_key(s, group_by), []).append(s)
    rows = []
    for key, members in groups.items():
        label = " ".join(p for p in (key[0], ",".join(key[1]), ",".join(key[2])) if p)
        for snap, keep, reasons in apply_policy(members, policy, now=now, version=version):
            rows.append(
                {
                    "id": snap["id"],
                    "short_id": snap.get("short_id") or snap["id"][:8],
                    "time": snap["time"],
                    "host": snap.get("host", ""),
                    "paths": list(snap.get("paths") or ()),
                    "tags": list(snap.get("tags") or ()),
                    "group": label,
                    "keep": keep,
                    "reasons": reasons,
                }
            )
    return rows


def plan_frame(
    snapshots: Iterable[Mapping[str, Any]] | pd.DataFrame,
    policy: Policy | Mapping[str, Any],
    *,
    now: datetime,
    group_by: str = "host,paths",
    version: tuple[int, int, int] = (0, 18, 0),
) -> pd.DataFrame:
    """plan() as a DataFrame (oldest first), for notebooks and plots.retention_timeline."""
    import pandas as pd

    if isinstance(snapshots, pd.DataFrame):
        snapshots = snapshots.to_dict("records")
    pol = policy if isinstance(policy, Policy) else Policy.from_keep(policy)
    rows = plan(snapshots, pol, now=now, group_by=group_by, version=version)
    cols = ["id", "short_id", "time", "host", "paths", "tags", "group", "keep", "reasons"]
    df = pd.DataFrame(rows, columns=cols)
    if len(df):
        df["time"] = pd.to_datetime(df["time"], utc=True)
    return df.sort_values("time", kind="stable").reset_index(drop=True)
