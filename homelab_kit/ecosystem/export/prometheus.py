"""Prometheus textfile metrics for the lab: freshness, coverage, restore tests and capacity.

The renderers are pure (plain rows in, text out) so they are tested without a lab; sources.py
gathers the rows from the capability rooms. Metrics go to node_exporter's textfile collector: one
file per source, replaced atomically, so a source that fails leaves the other files (and its own
previous file) in place.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PREFIX = "homelab"

# ---------------------------------------------------------------- Prometheus text format


@dataclass
class Metric:
    """One metric family: name, HELP, TYPE and samples (labels, value)."""

    name: str
    help: str
    type: str = "gauge"
    samples: list[tuple[dict[str, str], float]] = field(default_factory=list)

    def add(self, value: float | None, **labels: Any) -> None:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return
        self.samples.append(
            ({k: "" if v is None else str(v) for k, v in labels.items()}, float(value))
        )


def _escape_label(v: str) -> str:
    return v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(v: str) -> str:
    return v.replace("\\", "\\\\").replace("\n", "\\n")


def _number(v: float) -> str:
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return str(int(v)) if v.is_integer() and abs(v) < 2**53 else repr(v)


def render(metrics: Iterable[Metric]) -> str:
    """Prometheus text exposition format 0.0.4 (what the textfile collector reads)."""
    lines: list[str] = []
    for m in metrics:
        lines.append(f"# HELP {m.name} {_escape_help(m.help)}")
        lines.append(f"# TYPE {m.name} {m.type}")
        for labels, value in m.samples:
            body = ",".join(f'{k}="{_escape_label(v)}"' for k, v in labels.items())
            lines.append(
                f"{m.name}{{{body}}} {_number(value)}" if body else f"{m.name} {_number(value)}"
            )
    return "\n".join(lines) + "\n" if lines else ""


def _ts(t: Any) -> float | None:
    """datetime/pandas Timestamp/ISO text/epoch -> Unix seconds (None when missing)."""
    if t is None or (isinstance(t, float) and math.isnan(t)):
        return None
    if isinstance(t, (int, float)):
        return float(t)
    if isinstance(t, str):
        t = datetime.fromisoformat(t.replace("Z", "+00:00"))
    if hasattr(t, "to_pydatetime"):
        if t != t:  # NaT
            return None
        t = t.to_pydatetime()
    if isinstance(t, datetime):
        return (t if t.tzinfo else t.replace(tzinfo=UTC)).timestamp()
    return None


def _seconds(v: Any) -> float | None:
    if v is None:
        return None
    if hasattr(v, "total_seconds"):
        return float(v.total_seconds())
    f = float(v)
    return None if math.isnan(f) else f


def freshness_metrics(rows: Sequence[Mapping[str, Any]]) -> list[Metric]:
    """Rows: backup, host, last_snapshot (time|None), age (seconds/timedelta|None), max_age, fresh."""
    last = Metric(
        f"{PREFIX}_backup_last_snapshot_timestamp_seconds",
        "Time of the newest snapshot of the backup.",
    )
    age = Metric(f"{PREFIX}_backup_age_seconds", "Age of the newest snapshot at export time.")
    max_age = Metric(
        f"{PREFIX}_backup_max_age_seconds", "Age after which the backup counts as stale."
    )
    fresh = Metric(
        f"{PREFIX}_backup_fresh", "1 if the newest snapshot is younger than max_age, else 0."
    )
    for r in rows:
        lab = {"backup": r["backup"], "host": r.get("host")}
        last.add(_ts(r.get("last_snapshot")), **lab)
        age.add(_seconds(r.get("age")), **lab)
        max_age.add(_seconds(r.get("max_age")), **lab)
        fresh.add(1.0 if r.get("fresh") else 0.0, **lab)
    return [last, age, max_age, fresh]


def coverage_metrics(rows: Sequence[Mapping[str, Any]]) -> list[Metric]:
    """Rows: backup, host, service, path, covered (bool), status (ok/never/disappeared/empty/...) —
    one per state dir a backup must contain."""
    covered = Metric(
        f"{PREFIX}_backup_path_covered", "1 if the latest snapshot contains the state dir, else 0."
    )
    missing: dict[tuple[str, str], int] = {}
    for r in rows:
        covered.add(
            1.0 if r.get("covered") else 0.0,
            backup=r["backup"],
            host=r.get("host"),
            service=r.get("service"),
            path=r["path"],
            status=r.get("status") or ("ok" if r.get("covered") else "missing"),
        )
        key = (r["backup"], r.get("service") or "")
        missing[key] = missing.get(key, 0) + (0 if r.get("covered") else 1)
    per_service = Metric(
        f"{PREFIX}_service_uncovered_paths", "State dirs of the service missing from the backup."
    )
    for (backup, service), n in sorted(missing.items()):
        per_service.add(n, backup=backup, service=service)
    return [covered, per_service]


def restore_metrics(rows: Sequence[Mapping[str, Any]]) -> list[Metric]:
    """Rows: backup, kind (restore-test/verify-restore), last_run, last_status ("ok"/"problems"/
    "failed"), last_success, last_duration (seconds) — one row per backup and kind."""
    success = Metric(
        f"{PREFIX}_restore_test_last_success_timestamp_seconds", "When a restore test last passed."
    )
    run = Metric(
        f"{PREFIX}_restore_test_last_run_timestamp_seconds", "When a restore test last ran."
    )
    ok = Metric(f"{PREFIX}_restore_test_last_ok", "1 if the latest restore test passed, else 0.")
    duration = Metric(
        f"{PREFIX}_restore_test_last_duration_seconds", "How long the latest restore test took."
    )
    for r in rows:
        lab = {"backup": r.get("backup"), "kind": r.get("kind") or "restore-test"}
        success.add(_ts(r.get("last_success")), **lab)
        run.add(_ts(r.get("last_run")), **lab)
        if r.get("last_status") is not None:
            ok.add(1.0 if r.get("last_status") == "ok" else 0.0, **lab)
        duration.add(_seconds(r.get("last_duration")), **lab)
    return [success, run, ok, duration]


def capacity_metrics(rows: Sequence[Mapping[str, Any]]) -> list[Metric]:
    """Rows from capacity.forecast: kind, host, name, used_bytes, capacity_bytes, days_to_full, status.
    Not growing -> +Inf days; not enough history -> no days sample (absence, not a guess)."""
    days = Metric(
        f"{PREFIX}_capacity_days_to_full",
        "Days until the filesystem, pool or repository is full at the fitted growth.",
    )
    used = Metric(f"{PREFIX}_capacity_used_bytes", "Bytes used now (fitted).")
    cap = Metric(f"{PREFIX}_capacity_size_bytes", "Bytes that count as 100 percent.")
    growth = Metric(f"{PREFIX}_capacity_growth_bytes_per_day", "Fitted growth per day.")
    for r in rows:
        lab = {"kind": r.get("kind"), "host": r.get("host"), "name": r.get("name")}
        d = r.get("days_to_full")
        if d is not None and d == d:
            days.add(float(d), **lab)
        elif r.get("status") == "full":
            days.add(0.0, **lab)
        elif r.get("status") in ("not growing", "shrinking"):
            days.add(math.inf, **lab)
        used.add(_num(r.get("used_bytes")), **lab)
        cap.add(_num(r.get("capacity_bytes")), **lab)
        growth.add(_num(r.get("growth_bytes_per_day")), **lab)
    return [days, used, cap, growth]


def _num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def export_metric(source: str, ok: bool, now: datetime) -> list[Metric]:
    """Whether this exporter could read its source, so an alert can fire on a broken export."""
    m = Metric(
        f"{PREFIX}_export_success", "1 if homelab-kit could gather this source at the last export."
    )
    m.add(1.0 if ok else 0.0, source=source)
    t = Metric(f"{PREFIX}_export_timestamp_seconds", "When homelab-kit last wrote this file.")
    t.add(now.timestamp(), source=source)
    return [m, t]


def write_atomic(path: Path, text: str) -> None:
    """Write then rename, as the textfile collector requires (it may read at any moment)."""
    from ...outfile import write_atomic as _write

    _write(path, text, what="textfile-collector file")
