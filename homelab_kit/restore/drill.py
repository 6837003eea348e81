"""Disaster-recovery drill: can HOST be brought back on another machine, and how long does it take?

The homelab this project exists for was saved by rebuilding a VM and running `restic restore latest
--target /`. `drill(lab, "n100", "spare")` rehearses exactly that: restic runs *on the target* (so
the drill also proves the target can reach the repository and has the password), every backup
covering HOST is asked for its newest snapshot of HOST, each state dir (and extra path of HOST's
backups) is restored from the freshest snapshot that holds it — into `/` on the target by default,
or under `root` — then verified node by node and byte by byte, and its databases and configs are
opened (appcheck). The RTO is the wall time from the start to the last check.

Safety: a target that runs services of the lab (or is HOST itself) is refused unless
`yes_overwrite`; a destination that already holds data is refused unless `yes_overwrite`, and then
every such destination must pass `safety.ensure_safe_target` (symlinks resolved on the target) and
may not touch a state dir of a service the drill does not bring back; once all have passed, the
occupied folders are emptied (`safety.clear_dir`), so what is verified is the snapshot alone.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..backups.restic import Restic
from ..errors import ResticError, UnsafePathError
from ..lab.paths import within
from ..plans.safety import check_path_syntax, clear_dir, ensure_safe_target, remove_scratch
from .appcheck import check_apps
from .apps import FAILING, failing
from .apps import counts as app_counts
from .drill_report import DrillReport
from .report import JOURNAL_PROBLEMS
from .session import owning_services, restore_argv
from .verify import tree_for, verify_tree

if TYPE_CHECKING:
    from ..lab.model import Lab
    from ..transport.runner import Runner

# prints (NUL-separated) every argument that exists and is not an empty folder
_OCCUPIED = (
    'for p do if [ -e "$p" ] || [ -L "$p" ]; then '
    'if [ -d "$p" ] && [ ! -L "$p" ] && [ -z "$(ls -A -- "$p")" ]; then :; '
    "else printf '%s\\0' \"$p\"; fi; fi; done"
)


def drill_paths(lab: Lab, host: str) -> list[tuple[str | None, str]]:
    """(service, path) of what bringing HOST back needs: its services' state dirs, then the
    extra paths of the backups that run on it."""
    out = [(s.name, d) for s in lab.services_on(host) for d in s.state_dirs if d.startswith("/")]
    extra = {p for b in lab.backups.values() if b.host == host for p in b.extra_paths}
    return out + [(None, p) for p in sorted(extra)]


def production_hosts(lab: Lab, host: str) -> set[str]:
    """Hosts a drill must not overwrite by default: HOST itself and every host running services."""
    return {host} | {s.host for s in lab.services.values()}


def check_drill_target(lab: Lab, host: str, target: str, yes_overwrite: bool) -> None:
    """Refuse a production target unless the user said --yes-overwrite (the guard decides next)."""
    for name in (host, target):
        lab.hosts[name]  # noqa: B018 - an unknown name raises InventoryError with a "did you mean"
    if target in production_hosts(lab, host) and not yes_overwrite:
        what = "is the host being drilled" if target == host else "runs services of the lab"
        raise UnsafePathError(
            f"refusing drill of {host} onto {target}: {target} {what}; drill onto a spare host "
            "(a host in lab.toml without services), or pass --yes-overwrite to let the safety "
            "guard check every path"
        )


def latest_of(restic: Restic, host: str) -> dict[str, Any] | None:
    """The newest snapshot of HOST (by restic's --host), else the newest of all (a backup run
    elsewhere), as freshness does."""
    snaps = restic.snapshots("--host", host) or restic.snapshots()
    return snaps[-1] if snaps else None


def sources_for(lab: Lab, host: str, runner: Runner) -> list[dict[str, Any]]:
    """Every backup covering HOST, opened from the target: its newest snapshot or why there is none."""
    out = []
    for b in sorted((b for b in lab.backups.values() if host in b.covers), key=lambda b: b.name):
        restic = Restic.for_backup(b, lab, runner)
        row: dict[str, Any] = {"backup": b.name, "restic": restic, "snap": None, "paths": []}
        try:
            row["snap"] = latest_of(restic, host)
            row["status"] = "no_snapshot" if row["snap"] is None else "older"
            row["detail"] = "" if row["snap"] else f"no snapshot of {host} in the repository"
        except ResticError as exc:
            row["status"], row["detail"] = "unreachable", f"{runner.host} cannot open it: {exc}"
        out.append(row)
    return out


def assign(paths: list[str], sources: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """path → the source whose newest snapshot holding it is the freshest (ties: by name)."""
    chosen: dict[str, dict[str, Any]] = {}
    for p in paths:
        holders = [
            s for s in sources if s["snap"] and any(within(p, q) for q in s["snap"]["paths"])
        ]
        if holders:
            best = max(holders, key=lambda s: s["snap"]["time"])
            chosen[p] = best
            best["paths"].append(p)
            best["status"] = "used"
    return chosen


def dest(root: str, path: str) -> str:
    return path if root == "/" else root.rstrip("/") + path


def _occupied(runner: Runner, paths: list[str]) -> list[str]:
    res = runner.run(["sh", "-c", _OCCUPIED, "sh", *paths], timeout=60).check()
    return [p for p in res.stdout.split("\0") if p]


def guard_destinations(
    lab: Lab, host: str, target: str, runner: Runner, root: str, paths: list[str], yes: bool
) -> None:
    """A fresh target, or --yes-overwrite and the safety guard's consent for every occupied path."""
    dests = [dest(root, p) for p in paths]
    for d in dests:
        check_path_syntax(d, operation="drill restore")
    taken = _occupied(runner, dests) if dests else []
    if taken and not yes:
        raise UnsafePathError(
            f"refusing drill onto {target}: {taken[0]} already holds data there (not a fresh host"
            f"{f'; {len(taken)} paths in all' if len(taken) > 1 else ''}); use a spare host, "
            "restore under --root DIR, or pass --yes-overwrite"
        )
    drilled = {s.name for s in lab.services_on(host)}
    live = [
        (s.name, d) for s in lab.services_on(target) if s.name not in drilled for d in s.state_dirs
    ]
    for d in taken:
        ensure_safe_target(d, operation="drill restore", allowed_roots=dests, runner=runner)
        for name, state in live:
            if within(d, state) or within(state, d):
                raise UnsafePathError(
                    f"refusing drill onto {target}: {d} would overwrite {state}, the live state "
                    f"of {name} there"
                )
    for d in taken:  # every one agreed: now empty the folders (files restic overwrites itself)
        if runner.run(["test", "-d", d], timeout=30).ok:
            guarded = clear_dir(d, allowed_roots=dests)
            guarded.guard.check(runner)
            runner.run(list(guarded.argv), timeout=3600).check()


def _restore_one(
    source: dict[str, Any], runner: Runner, root: str, content: str, progress: bool
) -> dict[str, Any]:
    """restic restore of the source's paths, then the verification of exactly those paths."""
    restic, snap = source["restic"], source["snap"]
    paths = tuple(sorted(source["paths"]))
    res = restic.run(*restore_argv(snap["id"], root, paths), what=f"restore {snap['short_id']}")
    fields = verify_tree(
        restic, snap["id"], root, paths=paths, content=content, progress=progress,
        tree=tree_for(runner, root, scope=paths),
    )  # fmt: skip
    return {"restore_seconds": res.duration, "exit_code": res.exit_code, **fields}


def drill(
    lab: Lab,
    host: str,
    target: str,
    *,
    root: str = "/",
    yes_overwrite: bool = False,
    content: str = "full",
    keep: bool = False,
    progress: bool = True,
) -> DrillReport:
    """Restore all of HOST's state onto TARGET (under `root`), verify it, open its apps, time it."""
    start, started = time.monotonic(), datetime.now(UTC)
    check_drill_target(lab, host, target, yes_overwrite)
    if root != "/":
        check_path_syntax(root, operation="drill")
    runner = lab.runner(target)
    wanted = drill_paths(lab, host)
    sources = sources_for(lab, host, runner)
    chosen = assign([p for _, p in wanted], sources)
    guard_destinations(lab, host, target, runner, root, list(chosen), yes_overwrite)
    fresh_root = root != "/" and not _occupied(runner, [root])
    params = {"host": host, "target": target, "root": root, "content": content}
    with lab.journal.run("drill", params) as run:
        try:
            report = _run(lab, host, target, runner, root, wanted, sources, content, progress)
        finally:
            if fresh_root and not keep:
                remove_scratch(runner, root, operation="removing the drill restore")
        report.started, report.kept = started.isoformat(), keep or not fresh_root
        report.rto_seconds = time.monotonic() - start
        for s in sources:
            if s["status"] == "used":
                run.step(f"restore {s['backup']}", host=target, exit_code=s["exit_code"],
                         data={"seconds": s["restore_seconds"], "paths": s["paths"]})  # fmt: skip
        run.step("applications", host=target, status="problems" if failing(report.apps) else "ok",
                 data={"seconds": report.app_seconds, "apps": len(report.apps)})  # fmt: skip
        report.run_id = run.id
        run.summary = report.to_dict(max_problems=JOURNAL_PROBLEMS)
        run.status = "ok" if report.ok else "problems"
    return report


def _run(
    lab: Lab,
    host: str,
    target: str,
    runner: Runner,
    root: str,
    wanted: list[tuple[str | None, str]],
    sources: list[dict[str, Any]],
    content: str,
    progress: bool,
) -> DrillReport:
    """Restore and verify every used source, check the apps, and tell it per service."""
    if root != "/":
        runner.run(["mkdir", "-p", "--", root], timeout=30).check()
    report = DrillReport(host=host, target=target, root=root, started="", content=content)
    counts: dict[str, dict[str, int]] = {}
    wal: list[str] = []
    for s in sources:
        if s["status"] != "used":
            continue
        fields = _restore_one(s, runner, root, content, progress)
        s["exit_code"], s["restore_seconds"] = fields["exit_code"], fields["restore_seconds"]
        report.restore_seconds += fields["restore_seconds"]
        report.verify_seconds += fields["verify_seconds"]
        report.problem_list += fields["problem_list"]
        report.files += fields["files"]
        report.bytes += fields["bytes"]
        report.checks.update({f"{s['backup']}: {k}": v for k, v in fields["checks"].items()})
        counts.update(fields["snapshot"]["path_counts"])
        wal += fields["snapshot"]["wal_files"]
    restored = sorted(counts)
    found = check_apps(runner, root, restored, owning_services(lab, (host,)), wal)
    report.apps, report.app_seconds = found.apps, found.seconds
    report.checks["applications"] = found.note
    report.problem_list.sort(key=lambda p: p["path"])
    report.sources = [_source_row(s) for s in sources]
    report.services = service_rows(lab, host, wanted, sources, counts, report)
    goal = lab.hosts[host].rto
    report.rto_goal_seconds = goal.total_seconds() if goal else None
    return report


def _source_row(s: dict[str, Any]) -> dict[str, Any]:
    snap = s["snap"]
    return {
        "backup": s["backup"],
        "status": s["status"],
        "snapshot": snap["id"][:8] if snap else None,
        "snapshot_time": snap["time"].isoformat() if snap else None,
        "paths": sorted(s["paths"]),
        "detail": s["detail"]
        or ("" if s["status"] == "used" else "another backup holds a newer snapshot"),
    }


def service_rows(
    lab: Lab,
    host: str,
    wanted: list[tuple[str | None, str]],
    sources: list[dict[str, Any]],
    counts: dict[str, dict[str, int]],
    report: DrillReport,
) -> list[dict[str, Any]]:
    """Per service (and one row for the extra paths): is its state back, do its apps open."""
    by_path = {p: s for s in sources for p in s["paths"]}
    rows = []
    names = list(dict.fromkeys(n for n, _ in wanted))
    for name in names:
        dirs = [p for n, p in wanted if n == name]
        have = [p for p in dirs if p in counts]
        apps = [a for a in report.apps if (a.service == name if name else a.service is None)]
        bad = [p for p in report.problem_list if any(within(p["path"], d) for d in dirs)]
        svc = lab.services.get(name) if name else None
        if len(have) < len(dirs):
            status = "pending_migration" if svc and svc.migrate_from and not have else "missing"
        else:
            status = "problems" if bad or any(a.status in FAILING for a in apps) else "ok"
        srcs = sorted({by_path[p]["backup"] for p in have})
        rows.append(
            {
                "service": name or "(extra paths)",
                "status": status,
                "state": f"{len(have)}/{len(dirs)} dirs",
                "apps": ", ".join(f"{n} {k}" for k, n in app_counts(apps).items()) or "-",
                "files": sum(counts[p]["files"] for p in have),
                "bytes": sum(counts[p]["bytes"] for p in have),
                "backup": ", ".join(srcs) or None,
                "snapshot": ", ".join(sorted({by_path[p]["snap"]["id"][:8] for p in have}))
                or None,
            }
        )  # fmt: skip
    return rows
