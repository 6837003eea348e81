"""What each finding means for a person: the rows of the digest from the rooms' own findings (pure).

Freshness, coverage, snapshot size, restore-test age, capacity, host facts and lint each become
ok / warn / fail rows with a stable `code`. checks.py gathers the inputs; nothing here does I/O.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from ..capacity.sizes import format_bytes
from ..lab.timespec import format_duration
from .digest import Row, fail, ok, warn

DAY = 86400.0
CAPACITY_FAIL = timedelta(days=7)  # fills within a week (or is full): act now
SIZE_WINDOW = 10  # "usual" = the median of this many snapshots before the newest


def age(delta: timedelta | None) -> str:
    """A short age for messages: '3d 4h', '5h 12m', '40m'."""
    return "-" if delta is None else format_duration(max(0.0, delta.total_seconds()))


def freshness(rows: Iterable[Mapping[str, Any]], covers: Mapping[str, int]) -> list[Row]:
    """coverage.freshness_rows → one row per backup (per covered host when it covers several)."""
    out = []
    for r in rows:
        subject = r["backup"] if covers.get(r["backup"], 1) == 1 else f"{r['backup']}@{r['host']}"
        if r["status"] == "never":
            out.append(fail("freshness", subject, "no snapshot at all yet", code="never"))
        elif r["status"] == "overdue":
            out.append(
                fail(
                    "freshness",
                    subject,
                    f"newest snapshot is {age(r['age'])} old (max_age {age(r['max_age'])}, "
                    f"schedule {r['schedule']}): the backup has stopped",
                    since=r["last_snapshot"] + r["max_age"],
                    code="overdue",
                )
            )
        else:
            out.append(ok("freshness", subject, f"newest snapshot {age(r['age'])} old"))
    return out


PENDING = ("pending_migration", "was_partial")  # shown, never failing


def coverage(rows: Iterable[Mapping[str, Any]], problems: frozenset[str], shown: Any) -> list[Row]:
    """coverage.coverage_rows / uncovered_rows → a row per state dir (and per partial backup).
    `shown(path)` is how the path reads on its host."""
    out = []
    for r in rows:
        if r["path"] is None:  # a partial backup run: about the backup, not a dir
            subject = r["backup"]
        else:
            subject = f"{r['service']} {shown(r['path'])}"
            subject += f" in {r['backup']}" if r["backup"] else ""
        status = r["status"]
        if status in problems:
            out.append(fail("coverage", subject, r["message"], code=status))
        elif status in PENDING:
            out.append(warn("coverage", subject, r["message"], code=status))
        else:
            out.append(
                ok("coverage", subject, f"in the newest snapshot ({format_bytes(r['size'])})")
            )
    return out


def snapshot_size(
    backup: str, snaps: Sequence[Mapping[str, Any]], sizes: Mapping[str, float], drop: float
) -> list[Row]:
    """ "Failing successfully": the newest snapshot much smaller than usual, or missing paths the
    snapshots before it had. `snaps` oldest first (one host's), `sizes` by snapshot id."""
    if len(snaps) < 2:
        return [ok("snapshot", backup, "too few snapshots to compare")]
    newest, before = snaps[-1], snaps[-1 - SIZE_WINDOW : -1]
    rows = []
    had = set().union(*(set(s["paths"]) for s in before[-3:]))
    missing = sorted(had - set(newest["paths"]))
    if missing:
        rows.append(
            fail(
                "snapshot",
                f"{backup} paths",
                f"newest snapshot {newest['short_id']} lacks {len(missing)} path(s) the ones "
                f"before it had: {', '.join(missing[:3])}" + (" …" if len(missing) > 3 else ""),
                since=newest["time"],
                code="missing_paths",
            )
        )
    known = [sizes[s["id"]] for s in before if s["id"] in sizes]
    now = sizes.get(newest["id"])
    if now is not None and known:
        usual = statistics.median(known)
        if usual > 0 and now < usual * (1 - drop):
            rows.append(
                fail(
                    "snapshot",
                    backup,
                    f"newest snapshot {newest['short_id']} holds {format_bytes(now)}, "
                    f"{100 * (1 - now / usual):.0f}% less than usual ({format_bytes(usual)}, the median "
                    f"of the {len(known)} before): a backup that succeeds but saves too little",
                    since=newest["time"],
                    code="size_drop",
                )
            )
        else:
            rows.append(ok("snapshot", backup, f"{format_bytes(now)}, usual {format_bytes(usual)}"))
    return rows or [ok("snapshot", backup, "paths as before")]


def restore_age(
    backup: str, runs: Sequence[Mapping[str, Any]], every: timedelta, now: datetime
) -> Row:
    """No passing restore test of the backup within `every` → fail. `runs` newest first."""
    tested = [r for r in runs if r["backup"] == backup and r["time"] <= now]
    passed = next((r for r in tested if r["ok"]), None)
    if passed is None:
        last = f"; the last one, {age(now - tested[0]['time'])} ago, failed" if tested else ""
        return fail(
            "restore_test",
            backup,
            f"never passed a restore test{last}; run `homelab-kit restore-test --backup {backup}`",
            code="never",
        )
    ago = now - passed["time"]
    if ago > every:
        return fail(
            "restore_test",
            backup,
            f"last passing restore test {age(ago)} ago (every {age(every)}); run "
            f"`homelab-kit restore-test --backup {backup}`",
            since=passed["time"] + every,
            code="stale",
        )
    return ok("restore_test", backup, f"passed {age(ago)} ago")


def capacity(records: Iterable[Mapping[str, Any]], warn_within: timedelta) -> list[Row]:
    """Forecast rows → full or filling within a week: fail; within the warning window: warn."""
    out = []
    for r in records:
        subject = r["name"] if r["kind"] == "repository" else f"{r['host']}:{r['name']}"
        days = r.get("days_to_full")
        known = days is not None and days == days  # NaN: not growing / not enough history
        if known and days * DAY <= CAPACITY_FAIL.total_seconds():
            when = "is full" if days <= 0 else f"fills in {days:.0f} days ({r['full_date']})"
            out.append(fail("capacity", subject, when, code="full_soon"))
        elif known and days * DAY <= warn_within.total_seconds():
            out.append(
                warn(
                    "capacity",
                    subject,
                    f"fills in {days:.0f} days ({r['full_date']})",
                    code="filling",
                )
            )
        else:
            soon = known and r.get("within_horizon")
            note = (
                f"full on {r['full_date']}"
                if soon
                else ("not full within a year" if known else r["status"])
            )
            out.append(ok("capacity", subject, f"{r['used_pct']:.0f}% used, {note}"))
    return out


NO_SYSTEMD = ("not been booted with systemd", "Failed to connect to bus")


def host(r: Mapping[str, Any]) -> list[Row]:
    """One host's facts row → reachable? and failed systemd units."""
    name = r["host"]
    if r["status"] != "ok":
        return [fail("host", name, f"{r['status']}: {r['error']}", code=r["status"])]
    rows = [ok("host", name, "reachable")]
    units = r.get("failed_units")
    err = (r.get("errors") or {}).get("failed_units")
    if units:
        rows.append(
            fail(
                "units",
                name,
                f"{len(units)} failed unit(s): {', '.join(units[:5])}"
                + (" …" if len(units) > 5 else ""),
                code="failed:" + ",".join(sorted(units)),
            )
        )
    elif err and not any(s in err for s in NO_SYSTEMD):
        rows.append(warn("units", name, f"cannot list failed units: {err}", code="unknown"))
    elif units is not None:
        rows.append(ok("units", name, "no failed units"))
    return rows


def lint(findings: Iterable[Mapping[str, str]], reported: set[str]) -> list[Row]:
    """Lint findings → errors fail, warnings warn; a state dir no backup covers is already a
    coverage row (`reported`: services with one), so it is not said twice."""
    out = []
    for f in findings:
        service = f["subject"].removeprefix("services.")
        if service in reported and "covered by no backup" in f["message"]:
            continue
        if f["severity"] == "info":
            continue
        make = fail if f["severity"] == "error" else warn
        out.append(make("lint", f["subject"], f["message"], code=f["message"][:80]))
    return out or [ok("lint", "lab.toml", "no findings")]
