"""`homelab-kit migrate plan|apply SERVICE` (and registers `homelab-kit import compose`).

Both first look at the source: its databases and configs must open (exit 1 when one is corrupt;
`apply` then refuses to run), and a PostgreSQL data dir's major must suit the target."""

from __future__ import annotations

import argparse
from typing import Any

from . import import_cmd
from .output import table, to_json

PLAN_COLUMNS = ("#", "phase", "host", "title", "command")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("migrate", help="move a compose service to its native host, as a plan")
    group = p.add_subparsers(dest="migrate_command", metavar="ACTION")
    group.required = True
    q = group.add_parser("plan", help="show the migration plan (the dry run; runs nothing)")
    q.add_argument("service", metavar="SERVICE")
    q.add_argument("--json", action="store_true", help="print the plan as JSON")
    q.set_defaults(func=plan_cmd)
    q = group.add_parser("apply", help="execute the migration plan (resumes after a failure)")
    q.add_argument("service", metavar="SERVICE")
    q.add_argument("--yes", action="store_true", help="confirm: really run the plan")
    q.add_argument("--no-progress", action="store_true", help="no progress bar")
    q.set_defaults(func=apply_cmd)
    import_cmd.register(sub)


def _print_plan(plan: Any, ctx: Any) -> None:
    rows = [
        {"#": i, "phase": s.phase, "host": s.host, "title": s.title, "command": s.command}
        for i, s in enumerate(plan.steps, 1)
    ]
    ctx.print(plan.title)
    for note in plan.notes:
        ctx.print(f"  note: {note}")
    ctx.print(table(rows, PLAN_COLUMNS))


def _migratable(lab: Any, name: str) -> None:
    """Naming a service without a migrate_from table is bad input (exit 2), not a failed plan."""
    from ..errors import InventoryError

    if lab.services[name].migrate_from is None:  # unknown names: InventoryError, "did you mean"
        ready = [s.name for s in lab.services.values() if s.migrate_from is not None]
        raise InventoryError(
            f"services.{name}: no [services.{name}.migrate_from] in {lab.path}; add one "
            "(`homelab-kit import compose` proposes it)"
            + (f" or migrate one of: {', '.join(ready)}" if ready else "")
        )


def _source_check(lab: Any, service: str, ctx: Any) -> Any:
    """The source's app checks, or None (with a warning) when the source cannot be reached."""
    from ..errors import ExecError
    from ..migrate.precheck import check_source

    try:
        return check_source(lab, service)
    except ExecError as exc:
        print(f"homelab-kit: warning: could not check the source's apps: {exc}", file=ctx.err)
        return None


def plan_cmd(args: argparse.Namespace, ctx: Any) -> int:
    from ..migrate.planner import plan_migration

    _migratable(ctx.lab(), args.service)
    plan = plan_migration(ctx.lab(), args.service)
    source = _source_check(ctx.lab(), args.service, ctx)
    if args.json:
        data = plan.to_dict()
        if source is not None:
            data["source_checks"] = {
                "host": source.host,
                "ok": source.ok,
                "apps": [a.to_dict() for a in source.apps],
                "warnings": source.warnings,
            }
        ctx.print(to_json(data))
    else:
        _print_plan(plan, ctx)
        for line in source.lines() if source is not None else ():
            ctx.print(line)
    return 0 if source is None or source.ok else 1


def apply_cmd(args: argparse.Namespace, ctx: Any) -> int:
    from ..migrate.planner import plan_migration
    from ..plans.plan import execute

    lab = ctx.lab()
    _migratable(lab, args.service)
    plan = plan_migration(lab, args.service)
    source = _source_check(lab, args.service, ctx)
    if not args.yes:
        _print_plan(plan, ctx)
        ctx.print("\nnothing done: review the plan above, then re-run with --yes")
        return 2
    if source is not None and not source.ok:
        for line in source.lines():
            ctx.print(line)
        ctx.print(
            f"\nnothing done: a database or config of {args.service} on {source.host} does not open"
        )
        return 1
    outcomes = execute(plan, lab, progress=not args.no_progress)
    done = sum(o.status == "ok" for o in outcomes)
    skipped = sum(o.status == "skipped" for o in outcomes)
    ctx.print(f"{plan.title}: {done} steps done, {skipped} already done (skipped)")
    return 0
