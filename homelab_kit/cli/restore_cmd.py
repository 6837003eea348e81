"""`homelab-kit restore-test` (and its `--drill`) and `verify-restore`: exit 0 clean, 1 problems,
2 bad input."""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import HomelabError


def _content(value: str) -> str:
    from ..restore.compare import parse_content

    try:
        return str(parse_content(value))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def register(sub: Any) -> None:
    p = sub.add_parser(
        "restore-test",
        help="restore a snapshot into a scratch folder and verify it against the snapshot",
        description="Restore with the real restic into a fresh folder on the backup's host, compare every "
        "node (type, size, mode, owner, mtime, symlink target, content) with the snapshot, open every "
        "database and config found (SQLite integrity_check, PostgreSQL, dumps, JSON/YAML/TOML), record "
        "the run in the journal and remove the folder. With --drill HOST --target TESTHOST: bring all of "
        "HOST's state back on TESTHOST from its backups, verify it, and time it (the RTO). "
        "Exit 0 verified clean, 1 problems found, 2 bad input.",
    )
    p.add_argument("--backup", metavar="NAME", help="the backup (default: the lab's only backup)")
    p.add_argument(
        "--snapshot", metavar="ID", default="latest", help="snapshot id (default: latest)"
    )
    p.add_argument(
        "--path",
        dest="paths",
        metavar="P",
        action="append",
        help="restore only this path (repeatable)",
    )
    p.add_argument(
        "--target",
        metavar="DIR|HOST",
        help="restore here (new or empty; default: a fresh scratch folder); with --drill: the host "
        "to bring HOST back on (a spare machine in lab.toml)",
    )
    d = p.add_argument_group("disaster-recovery drill")
    d.add_argument(
        "--drill", metavar="HOST", help="restore all of HOST's state onto --target and time it"
    )
    d.add_argument(
        "--root",
        metavar="DIR",
        default="/",
        help="restore under DIR on the target instead of its / (default: /)",
    )
    d.add_argument(
        "--yes-overwrite",
        action="store_true",
        help="allow a production target or occupied paths (each still passes the safety guard)",
    )
    _common(p)
    p.add_argument("--keep", action="store_true", help="keep the restored folder")
    p.set_defaults(func=restore_test_cmd)

    v = sub.add_parser(
        "verify-restore",
        help="verify a tree restored by hand against its snapshot",
        description="Compare DIR (restored with `restic restore SNAPSHOT --target DIR`) with the snapshot. "
        "Exit 0 verified clean, 1 problems found, 2 bad input.",
    )
    v.add_argument("--backup", metavar="NAME", required=True)
    v.add_argument("--snapshot", metavar="ID", required=True)
    v.add_argument("--target", metavar="DIR", required=True)
    v.add_argument(
        "--path", dest="paths", metavar="P", action="append", help="the restore was limited to P"
    )
    _common(v)
    v.set_defaults(func=verify_restore_cmd)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--content",
        type=_content,
        default="full",
        metavar="full|sample:N%|none",
        help="compare every file's bytes (full), a random sample, or none (default: full)",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")


def _finish(report: Any, args: argparse.Namespace, ctx: Any) -> int:
    from .output import table, to_json

    if args.json:
        ctx.print(to_json(report.to_dict()))
    else:
        ctx.print(report.summary_line())
        for check, state in report.checks.items():
            ctx.print(f"  {check}: {state}")
        if report.problem_list:
            ctx.print(table(report.problem_list[:200], ["path", "kind", "expected", "found"]))
            if len(report.problem_list) > 200:
                ctx.print(f"… and {len(report.problem_list) - 200} more (use --json for all)")
        _print_apps(report.apps, ctx)
    return 0 if report.ok else 1


def _print_apps(apps: list[Any], ctx: Any) -> None:
    """The application checks that are not plainly ok (corrupt, inconsistent, warnings)."""
    from .output import table

    shown = [a.to_dict() for a in apps if a.status != "ok"]
    if shown:
        ctx.print(table(shown, ["status", "service", "kind", "path", "detail"]))


def _bad_input(exc: ValueError) -> HomelabError:
    return HomelabError(str(exc))


def restore_test_cmd(args: argparse.Namespace, ctx: Any) -> int:
    from ..restore.scratch import restore_test

    if args.drill:
        return drill_cmd(args, ctx)
    if args.root != "/" or args.yes_overwrite:
        raise HomelabError("--root and --yes-overwrite belong to a drill: add --drill HOST")
    lab = ctx.lab()
    try:
        report = restore_test(
            lab,
            args.backup,
            args.snapshot,
            args.paths,
            args.target,
            args.content,
            keep=args.keep,
            progress=not args.json,
        )
    except ValueError as exc:
        raise _bad_input(exc) from None
    return _finish(report, args, ctx)


def verify_restore_cmd(args: argparse.Namespace, ctx: Any) -> int:
    from ..restore.scratch import verify_restore

    lab = ctx.lab()
    try:
        report = verify_restore(
            lab,
            args.backup,
            args.snapshot,
            args.target,
            args.content,
            paths=args.paths,
            progress=not args.json,
        )
    except ValueError as exc:
        raise _bad_input(exc) from None
    return _finish(report, args, ctx)


def drill_cmd(args: argparse.Namespace, ctx: Any) -> int:
    """`restore-test --drill HOST --target TESTHOST`: the per-service table, the RTO, exit 0/1."""
    from ..restore.drill import drill
    from .output import human_bytes, table, to_json

    if not args.target:
        raise HomelabError(
            f"--drill {args.drill}: name the host to restore onto with --target TESTHOST"
        )
    given = [o for o, v in (("--backup", args.backup), ("--path", args.paths)) if v]
    if given or args.snapshot != "latest":
        given += ["--snapshot"] if args.snapshot != "latest" else []
        raise HomelabError(
            f"{', '.join(given)}: a drill restores the newest snapshot of every backup of "
            f"{args.drill}; leave them out"
        )
    report = drill(
        ctx.lab(),
        args.drill,
        args.target,
        root=args.root,
        yes_overwrite=args.yes_overwrite,
        content=args.content,
        keep=args.keep,
        progress=not args.json,
    )
    if args.json:
        ctx.print(to_json(report.to_dict()))
        return 0 if report.ok else 1
    ctx.print(report.summary_line())
    rows = [{**r, "bytes": human_bytes(r["bytes"])} for r in report.services]
    ctx.print(table(rows, ["service", "status", "state", "apps", "files", "bytes", "backup"]))
    for src in report.sources:
        if src["status"] != "used":
            ctx.print(f"  backup {src['backup']}: {src['status']}: {src['detail']}")
    if report.problem_list:
        ctx.print(table(report.problem_list[:200], ["path", "kind", "expected", "found"]))
    _print_apps(report.apps, ctx)
    return 0 if report.ok else 1
