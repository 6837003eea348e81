"""`homelab-kit deploy`: show the deploy plan, or with --yes roll it out with per-host results."""

from __future__ import annotations

import argparse
from typing import Any

from .argtypes import max_fail, nonneg_seconds, one_of, positive_int, seconds
from .output import table, to_json

PLAN_COLUMNS = ("host", "kind", "runs_on", "phase", "title", "command")
RESULT_COLUMNS = ("host", "kind", "status", "duration", "error")
# deploy.steps.ACTIONS, spelled out so `--help` does not import the deploy machinery (a test checks)
ACTIONS = ("switch", "test", "boot", "dry-activate", "update", "restart", "reload")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "deploy",
        help="deploy to hosts (nixos-rebuild, docker compose, systemctl) with health checks",
        description="Without --yes only the plan is shown. Exit 1 if any host failed or was "
        "rolled back.",
    )
    p.add_argument("--on", default="all", metavar="SEL", help='hosts: "all", a name, "@role"')
    p.add_argument(
        "--action",
        default="switch",
        type=one_of(ACTIONS, "action"),
        help="switch, test, boot, dry-activate (NixOS; switch/test also update compose hosts), "
        "update (compose), restart, reload (units)",
    )
    p.add_argument("--services", metavar="A,B", help="only these services (compose, units)")
    p.add_argument("--dry-run", action="store_true", help="only show the plan (even with --yes)")
    p.add_argument("--yes", action="store_true", help="confirm: really deploy")
    way = p.add_mutually_exclusive_group()
    way.add_argument("--parallel", type=positive_int, metavar="N", help="at most N hosts at once")
    way.add_argument(
        "--serial", type=positive_int, metavar="K", help="batches of K hosts, one by one"
    )
    p.add_argument(
        "--max-fail",
        type=max_fail,
        metavar="N|N%",
        help="stop starting new hosts once more than N (or N%%) hosts failed",
    )
    p.add_argument(
        "--health-timeout",
        type=nonneg_seconds,
        default=60.0,
        metavar="S",
        help="retry health checks for S seconds (default 60)",
    )
    p.add_argument("--timeout", type=seconds, default=3600.0, metavar="S", help="per command")
    p.add_argument("--json", action="store_true", help="print the plan or the result as JSON")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=deploy)


def _max_fail(value: str | None) -> int | str | None:
    if value is None or value.strip().endswith("%"):
        return value
    return int(value) if value.strip().lstrip("-").isdigit() else value


def deploy(args: argparse.Namespace, ctx: Any) -> int:
    from ..deploy.planner import deploy_plan

    dry = args.dry_run or not args.yes
    plan = deploy_plan(
        ctx.lab(),
        on=args.on,
        action=args.action,
        dry_run=dry,
        services=args.services,
        parallel=args.parallel,
        serial=args.serial,
        max_fail=_max_fail(args.max_fail),
        health_within=args.health_timeout,
        timeout=args.timeout,
    )
    if dry:
        if args.json:
            ctx.print(to_json(plan.to_dict()))
            return 0
        ctx.print(f"{plan.title} (plan only: nothing was run)")
        for note in plan.notes:
            ctx.print(f"  note: {note}")
        ctx.print(table(plan.rows(), PLAN_COLUMNS))
        if not args.dry_run:
            ctx.print("\nreview the plan above, then re-run with --yes to deploy")
        return 0
    result = plan.execute(progress=not args.no_progress)
    if args.json:
        ctx.print(to_json(result.to_dict()))
    else:
        rows = [{**o.to_dict(), "duration": f"{o.duration:.1f}s"} for o in result.outcomes.values()]
        ctx.print(table(rows, RESULT_COLUMNS))
        ctx.print(f"journal run {result.run_id}: `homelab-kit journal --kind deploy`")
    return result.exit_code
