"""Gather every unattended check of a lab into one Digest (the I/O side; rules.py judges).

One `restic snapshots` per repository serves freshness, coverage and snapshot size; listings and
sizes come from the caches (restic is asked once per snapshot, ever); capacity reads the journal;
one facts gathering per host says whether it is reachable and which units failed. A check that
cannot run becomes a failing row naming why, never an exception for the whole run.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..errors import HomelabError
from . import rules
from .digest import Digest, Row, fail

if TYPE_CHECKING:
    from ..lab.model import Backup, Lab


def in_scope(lab: Lab, on: str) -> tuple[list[str], list[Backup]]:
    """The selected hosts and the backups that run on or cover one of them."""
    hosts = list(lab.hosts.select(on))
    chosen = set(hosts)
    backups = [b for b in lab.backups.values() if b.host in chosen or chosen & set(b.covers)]
    return hosts, backups


def host_view(lab: Lab) -> Callable[[str], str]:
    """A path as its host sees it (the demo's hosts keep their disks under <lab>/hosts/<host>/)."""
    return lambda path: (lab.on_host(path) or (None, path))[1]


def guarded(check: str, subject: str, fn: Callable[[], list[Row]]) -> list[Row]:
    """Run one check; a HomelabError (unreadable repository, bad journal) becomes its fail row."""
    try:
        return fn()
    except HomelabError as exc:
        first = str(exc).splitlines()[0] if str(exc).strip() else type(exc).__name__
        return [fail(check, subject, f"could not check: {first}", code="error")]


def backup_rows(lab: Lab, b: Backup, now: datetime) -> list[Row]:
    """Freshness, coverage and snapshot size of one backup from one snapshot list."""
    from ..backups import analysis as bk
    from ..backups.coverage import PROBLEM_STATUSES, coverage_rows, freshness_rows

    restic = bk.restic_for(lab, b)
    snaps = [s for s in bk.snapshot_records(lab, b, restic) if s["time"] <= now]
    rows = rules.freshness(freshness_rows(b, snaps, now), {b.name: len(b.covers)})
    rows += guarded(
        "coverage",
        b.name,
        lambda: rules.coverage(coverage_rows(lab, b, snaps), PROBLEM_STATUSES, host_view(lab)),
    )
    for host in b.covers:
        mine = [s for s in snaps if s["host"] == host] or snaps
        name = b.name if len(b.covers) == 1 else f"{b.name}@{host}"
        rows += guarded("snapshot", name, lambda m=mine, n=name: size_rows(lab, b, n, m, restic))
    return rows


def size_rows(
    lab: Lab, b: Backup, name: str, snaps: list[dict[str, Any]], restic: Any
) -> list[Row]:
    """Sizes of the newest snapshots: restic's own 0.17+ summary, else `stats` (cached)."""
    from ..backups.analysis import restore_sizes

    window = snaps[-1 - rules.SIZE_WINDOW :]
    if window and all(s.get("total_bytes_processed") is not None for s in window):
        sizes = {s["id"]: float(s["total_bytes_processed"]) for s in window}
    else:
        got = restore_sizes(lab, b, [s["id"] for s in window], restic, progress=False)
        sizes = {sid: float(v["restore_size"]) for sid, v in got.items()}
    return rules.snapshot_size(name, snaps, sizes, lab.watch.size_drop)


def restore_runs(lab: Lab) -> list[dict[str, Any]]:
    """Restore tests and drills (a drill tests each backup it restored from), newest first."""
    from ..restore.history import drill_history, restore_history

    tests = restore_history(lab, kinds=("restore-test",))
    out = [(r.backup, r.ok, r.status, r.started) for r in tests.itertuples()]
    out += [
        (b, r.ok, r.status, r.started) for r in drill_history(lab).itertuples() for b in r.backups
    ]
    rows = [{"backup": b, "ok": bool(ok) and status == "ok", "time": t.to_pydatetime()}
            for b, ok, status, t in out]  # fmt: skip
    return sorted(rows, key=lambda r: r["time"], reverse=True)


def restore_rows(lab: Lab, backups: list[Backup], now: datetime) -> list[Row]:
    """Per backup: has a restore test (or drill) passed within its `restore_test_every`?"""
    tests = restore_runs(lab)
    every = lab.watch.restore_test_every
    return [rules.restore_age(b.name, tests, b.restore_test_every or every, now) for b in backups]


def capacity_rows(lab: Lab, hosts: list[str], backups: list[Backup], now: datetime) -> list[Row]:
    from datetime import timedelta

    from ..capacity.cache import lab_forecast

    table, problems = lab_forecast(lab, now=now, horizon=timedelta(days=365))
    names = {b.name for b in backups}
    keep = [
        r
        for r in table.to_dict("records")
        if (r["name"] in names if r["kind"] == "repository" else r["host"] in hosts)
    ]
    rows = rules.capacity(keep, lab.watch.capacity_warn)
    rows += [fail("capacity", "repositories", p, code="error") for p in problems]
    return rows


def host_rows(lab: Lab, hosts: list[str], now: datetime) -> list[Row]:
    from ..facts.gather import gather

    record = lab.watch.record_facts  # every fact, for the capacity history; else only what we judge
    only = None if record else ("failed_units",)
    facts = gather(lab, on=hosts, now=now, progress=False, record=record, only=only)
    return [row for r in facts.to_dict("records") for row in rules.host(r)]


def lint_in_scope(
    lab: Lab, on: str, hosts: list[str], backups: list[Backup]
) -> list[dict[str, str]]:
    """Lint findings; a run limited to some hosts keeps those naming its hosts, their services
    or its backups."""
    import re

    findings = lab.lint_findings()
    if on == "all":
        return findings
    names = {
        *hosts,
        *(s.name for h in hosts for s in lab.services_on(h)),
        *(b.name for b in backups),
    }
    prefix = re.compile(r"\b(hosts|services|backups)\.")

    def words(f: dict[str, str]) -> set[str]:
        return set(re.split(r"[\s,]+", prefix.sub("", f["subject"])))

    return [f for f in findings if words(f) & names]


def run_checks(lab: Lab, on: str = "all", now: datetime | None = None) -> Digest:
    """Every check of the selected hosts, as one digest (`now` for reproducible runs).

    The repositories and the hosts are asked at the same time (each waits on its own restic or
    SSH), while the journal-only checks run here."""
    from concurrent.futures import ThreadPoolExecutor

    now = now or datetime.now(UTC)
    hosts, backups = in_scope(lab, on)
    with ThreadPoolExecutor(max_workers=len(backups) + 1) as pool:
        asked = [
            pool.submit(guarded, "freshness", b.name, lambda b=b: backup_rows(lab, b, now))
            for b in backups
        ]
        asked.append(pool.submit(guarded, "host", "lab", lambda: host_rows(lab, hosts, now)))
        rows = guarded("restore_test", "journal", lambda: restore_rows(lab, backups, now))
        rows += guarded("capacity", "lab", lambda: capacity_rows(lab, hosts, backups, now))
        if on == "all":
            from ..backups.coverage import PROBLEM_STATUSES, uncovered_rows

            rows += rules.coverage(uncovered_rows(lab), PROBLEM_STATUSES, host_view(lab))
        for future in asked:
            rows += future.result()
    reported = {
        r.subject.split(" ")[0] for r in rows if r.check == "coverage" and r.status == "fail"
    }
    rows += rules.lint(lint_in_scope(lab, on, hosts, backups), reported)
    return Digest(lab.name, now, rows, scope=on)
