"""In-place restore — the seed's `restic restore latest --target /` — behind three locks.

1. a passing scratch restore test (restore_test) of the very same snapshot, covering the paths,
   must be in the journal; 2. `confirm` must be the snapshot's short id, typed by a human;
3. every path must pass safety.ensure_safe_target inside the covered services' state dirs (or the
   backup's extra paths), with symlinks resolved on the host.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import UnsafePathError
from ..lab.paths import within
from ..plans.safety import ensure_safe_target
from .compare import normalise_paths
from .report import RestoreReport
from .session import open_snapshot, record_report, restic_version, restore_argv

if TYPE_CHECKING:
    from ..lab.model import Backup, Lab


def passing_scratch_test(
    lab: Lab, backup: str, snapshot_id: str, paths: tuple[str, ...] | None
) -> dict | None:
    """The newest clean restore test of this snapshot that covered `paths` (None: all)."""
    for run in lab.journal.runs("restore-test"):
        s = run["summary"]
        if (
            run["status"] != "ok"
            or not s.get("ok")
            or s.get("snapshot_id") != snapshot_id
            or s.get("backup") != backup
        ):
            continue
        tested = s.get("paths") or None
        if tested is None or (
            paths is not None and all(any(within(p, t) for t in tested) for p in paths)
        ):
            return run
    return None


def restore_in_place(
    lab: Lab,
    backup: str | Backup | None,
    snapshot: str,
    *,
    confirm: str,
    paths: list[str] | tuple[str, ...] | None = None,
) -> RestoreReport:
    """Restore over the live data. Needs a passing scratch test of the same snapshot first and
    `confirm` equal to the snapshot's short id; every path must lie inside a covered state dir or
    extra path and pass the safety guard (symlinks resolved on the host)."""
    b, runner, restic, snap = open_snapshot(lab, backup, snapshot)
    if confirm not in (snap["short_id"], snap["id"]):
        raise UnsafePathError(
            f"refusing in-place restore of {b.name} snapshot {snap['short_id']}: "
            f"pass confirm={snap['short_id']!r} to confirm you mean to overwrite the live data"
        )
    sel = normalise_paths(paths)
    if passing_scratch_test(lab, b.name, snap["id"], sel) is None:
        raise UnsafePathError(
            f"refusing in-place restore of {b.name} snapshot {snap['short_id']}: no passing scratch restore "
            f"test of it; run restore_test(lab, {b.name!r}, {snap['short_id']!r}) first"
        )
    roots = [d for s in lab.covered_services(b) for d in s.state_dirs] + list(b.extra_paths)
    for p in sel or snap["paths"]:
        ensure_safe_target(p, operation="in-place restore", allowed_roots=roots, runner=runner)
    res = restic.run(
        *restore_argv(snap["id"], "/", sel or tuple(snap["paths"])),
        what=f"restore {snap['short_id']}",
    )
    report = RestoreReport(
        backup=b.name,
        host=b.host,
        snapshot_id=snap["id"],
        snapshot_time=snap["time"].isoformat(),
        target="/",
        paths=sel or tuple(snap["paths"]),
        content="none",
        restic_version=restic_version(restic),
        restore_seconds=res.duration,
        checks={
            "verification": "not run: live files newer than the snapshot would show as differences"
        },
        kind="restore-in-place",
    )
    params = {
        "backup": b.name,
        "snapshot": snapshot,
        "paths": list(report.paths or ()),
        "confirm": confirm,
    }
    record_report(
        lab,
        report,
        params,
        [dict(name="restore", host=b.host, exit_code=res.exit_code, stdout=res.stdout[-4000:])],
    )
    return report
