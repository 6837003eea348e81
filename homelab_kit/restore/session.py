"""What every restore operation starts and ends with, shared by scratch tests and in-place restores.

`open_snapshot` resolves the backup, its host's runner, restic there and the snapshot (by `latest`,
a short or a full id); `restore_argv` builds restic's arguments with include paths kept literal;
`record_report` writes a finished RestoreReport to the journal.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ..backups.restic import Restic
from ..errors import HomelabError
from .report import JOURNAL_PROBLEMS, RestoreReport

if TYPE_CHECKING:
    from ..lab.model import Backup, Lab, Service
    from ..transport.runner import Runner

PATTERN_CHARS = re.compile(r"([\\*?\[])")


def pick_backup(lab: Lab, backup: str | Backup | None) -> Backup:
    """The named backup, or the lab's only one when none is named."""
    if backup is None:
        if len(lab.backups) != 1:
            raise HomelabError(
                f"{lab.name}: {len(lab.backups)} backups; name one ({', '.join(lab.backups)})"
            )
        return next(iter(lab.backups.values()))
    return backup if not isinstance(backup, str) else lab.backups[backup]


def resolve_snapshot(restic: Restic, snapshot: str = "latest") -> dict[str, Any]:
    """'latest', a short or a full id → the snapshot record (full id, time, paths)."""
    found = restic.snapshots(snapshot)
    if not found:
        raise HomelabError(
            f"{restic.repository}: no snapshot {snapshot!r}; list them with `restic snapshots`"
        )
    return found[-1]


def open_snapshot(
    lab: Lab, backup: str | Backup | None, snapshot: str
) -> tuple[Backup, Runner, Restic, dict[str, Any]]:
    """The backup, its host's runner, restic there, and the snapshot resolved to its full id."""
    b = pick_backup(lab, backup)
    runner = lab.runner(b.host)
    restic = Restic.for_backup(b, lab, runner)
    return b, runner, restic, resolve_snapshot(restic, snapshot)


def live_paths(lab: Lab, backup: Backup, snapshot_paths: tuple[str, ...] = ()) -> list[str]:
    """Where the backed-up data lives: the snapshot's paths, covered state dirs and extra paths."""
    dirs = [d for s in lab.covered_services(backup) for d in s.state_dirs]
    return sorted({*snapshot_paths, *dirs, *backup.extra_paths})


def owning_services(lab: Lab, hosts: tuple[str, ...]) -> list[Service]:
    """The services whose data lives on these hosts: natively, or still in compose there."""
    return [
        s
        for s in lab.services.values()
        if s.host in hosts or (s.migrate_from and s.migrate_from.host in hosts)
    ]


def restore_argv(snapshot_id: str, target: str, paths: tuple[str, ...] | None) -> list[str]:
    """`restic restore` arguments; include paths are escaped so `*?[` stay literal."""
    args = ["restore", snapshot_id, "--target", target]
    for p in paths or ():
        args += ["--include", PATTERN_CHARS.sub(r"\\\1", p)]
    return args


def restic_version(restic: Restic) -> str:
    """restic's version as the reports show it: '0.18.0'."""
    return ".".join(map(str, restic.version))


def record_report(
    lab: Lab, report: RestoreReport, parameters: dict[str, Any], steps: list[dict[str, Any]]
) -> None:
    """One journal run for a finished report: its steps, its summary, ok or problems."""
    with lab.journal.run(report.kind, parameters) as run:
        for step in steps:
            run.step(**step)
        report.run_id = run.id
        run.summary = report.to_dict(max_problems=JOURNAL_PROBLEMS)
        run.status = "ok" if report.ok else "problems"
