"""Restore tests that prove the data comes back: restore into scratch, verify, record, repeat.

`restore_test` restores a snapshot with the real restic into a fresh folder on the backup's host,
verifies it node by node and byte by byte against the snapshot (verify.py), records the run in
the journal and removes the folder. `verify_restore` checks a tree restored by hand.
`restore_in_place` (inplace.py) — the seed's `restore latest --target /` — is separate and guarded: it needs a
passing scratch test of the same snapshot, a confirmation (the snapshot's short id) and every path
must pass safety.ensure_safe_target inside the covered services' state dirs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..backups.restic import Restic
from ..errors import HomelabError, UnsafePathError
from ..lab.paths import within
from ..plans.safety import check_path_syntax, remove_scratch, resolve_on_host
from .appcheck import check_apps
from .apps import failing
from .compare import normalise_paths
from .report import RestoreReport
from .session import (
    live_paths,
    open_snapshot,
    owning_services,
    record_report,
    restic_version,
    restore_argv,
)
from .verify import verify_tree

if TYPE_CHECKING:
    from ..lab.model import Backup, Lab
    from ..transport.runner import Runner


def check_scratch_target(target: str, live: list[str], runner: Runner | None = None) -> str:
    """Refuse a restore target that is a system path, live data, inside it, or holds it."""
    op = "restore test"
    check_path_syntax(target, operation=op)
    candidates = [target]
    if runner is not None:
        candidates += resolve_on_host(runner, [target])
    for path in candidates:
        check_path_syntax(path, operation=op)
        for data in live:
            if within(path, data):
                raise UnsafePathError(
                    f"refusing {op} into {target!r}: it is inside the live data {data}; pick a scratch folder"
                )
            if within(data, path):
                raise UnsafePathError(
                    f"refusing {op} into {target!r}: it contains the live data {data}"
                )
    return target


def _scratch_dir(lab: Lab, backup: Backup, runner: Runner) -> str:
    host = lab.hosts[backup.host]
    base = str(lab.cache_dir / "restore-tests") if host.transport == "local" else "/var/tmp"
    runner.run(["mkdir", "-p", "--", base], timeout=30).check()
    return (
        runner.run(["mktemp", "-d", "-p", base, "homelab-restore.XXXXXX"], timeout=30)
        .check()
        .stdout.strip()
    )


def _prepare_target(runner: Runner, target: str) -> None:
    if runner.run(["test", "-e", target], timeout=30).ok and not (
        runner.run(["test", "-d", target], timeout=30).ok
    ):
        raise HomelabError(
            f"{runner.host}: restore target {target} is a file; give a new or empty folder"
        )
    listing = runner.run(["ls", "-A", "--", target], timeout=30)
    if listing.ok and listing.stdout.strip():
        raise HomelabError(
            f"{runner.host}: restore target {target} is not empty; give a new or empty folder"
        )
    made = runner.run(["mkdir", "-p", "--", target], timeout=30)
    if not made.ok:
        why = made.stderr.strip().splitlines()[-1] if made.stderr.strip() else "mkdir failed"
        raise HomelabError(
            f"{runner.host}: cannot create restore target {target} ({why}); "
            "give a new or empty folder in a writable place"
        )


def restore_test(
    lab: Lab,
    backup: str | Backup | None = None,
    snapshot: str = "latest",
    paths: list[str] | tuple[str, ...] | None = None,
    target: str | None = None,
    content: str = "full",
    *,
    keep: bool = False,
    owners: bool | None = None,
    seed: int | None = None,
    progress: bool = True,
) -> RestoreReport:
    """Restore `snapshot` into a scratch folder on the backup's host, verify it, record it."""
    b, runner, restic, snap = open_snapshot(lab, backup, snapshot)
    sel = normalise_paths(paths)
    live = live_paths(lab, b, snap["paths"])
    if target is not None:
        check_scratch_target(target, live, runner)
        _prepare_target(runner, target)
    else:
        target = check_scratch_target(_scratch_dir(lab, b, runner), live, runner)
    params = _params(b, snapshot, sel, target, content)
    try:
        res = restic.run(*restore_argv(snap["id"], target, sel), what=f"restore {snap['short_id']}")
        report = _verified(
            lab, restic, b, snap, target, sel, content, owners, seed, progress,
            restore_seconds=res.duration, kept=keep,
        )  # fmt: skip
        steps = [
            dict(
                name="restore",
                host=b.host,
                exit_code=res.exit_code,
                stdout=res.stdout[-4000:],
                data={"seconds": res.duration},
            ),
            dict(
                name="verify",
                host=b.host,
                status="problems" if report.problem_list else "ok",
                data={"seconds": report.verify_seconds, "problems": report.counts},
            ),
            dict(
                name="applications",
                host=b.host,
                status="problems" if failing(report.apps) else "ok",
                data={"seconds": report.app_seconds, "apps": report.to_dict()["app_counts"]},
            ),
        ]
    except BaseException as exc:
        with lab.journal.run("restore-test", params) as run:
            run.status = "failed"
            run.summary = {
                "ok": False,
                "error": str(exc),
                "backup": b.name,
                "snapshot_id": snap["id"],
            }
        raise
    finally:
        if not keep:
            remove_scratch(runner, target, operation="removing the scratch restore")
    record_report(lab, report, params, steps)
    return report


def _params(b: Backup, snapshot: str, sel: Any, target: str, content: str) -> dict[str, Any]:
    """What the journal records as the run's parameters (never a password)."""
    return {
        "backup": b.name,
        "snapshot": snapshot,
        "paths": list(sel or ()),
        "target": target,
        "content": content,
    }


def _verified(
    lab: Lab,
    restic: Restic,
    b: Backup,
    snap: dict[str, Any],
    target: str,
    sel: Any,
    content: str,
    owners: bool | None,
    seed: int | None,
    progress: bool,
    **extra: Any,
) -> RestoreReport:
    """Verify `target` against the snapshot, check its applications, wrap it all in a report."""
    fields = verify_tree(
        restic, snap["id"], target, paths=sel, content=content, owners=owners, seed=seed,
        progress=progress,
    )  # fmt: skip
    listing = fields.pop("snapshot")
    found = check_apps(
        restic.runner,
        target,
        sel or snap["paths"],
        owning_services(lab, b.covers),
        listing["wal_files"],
    )
    fields["checks"]["applications"] = found.note
    return RestoreReport(
        backup=b.name,
        host=b.host,
        snapshot_id=snap["id"],
        snapshot_time=snap["time"].isoformat(),
        target=target,
        paths=sel,
        restic_version=restic_version(restic),
        apps=found.apps,
        app_seconds=found.seconds,
        **extra,
        **fields,
    )


def verify_restore(
    lab: Lab,
    backup: str | Backup | None,
    snapshot: str,
    target: str,
    content: str = "full",
    *,
    paths: list[str] | tuple[str, ...] | None = None,
    owners: bool | None = None,
    seed: int | None = None,
    progress: bool = True,
) -> RestoreReport:
    """Verify a tree already restored under `target` (restic's layout: target + snapshot path)."""
    b, runner, restic, snap = open_snapshot(lab, backup, snapshot)
    if not runner.run(["test", "-d", target], timeout=30).ok:
        raise HomelabError(
            f"{b.host}: restore target {target} is not a directory; give the folder passed to "
            "`restic restore --target`"
        )
    sel = normalise_paths(paths)
    report = _verified(
        lab, restic, b, snap, target, sel, content, owners, seed, progress, kind="verify-restore"
    )
    params = _params(b, snapshot, sel, target, content)
    record_report(lab, report, params, [])
    return report
