"""`homelab-kit journal`: past runs (deploys, restore tests, migrations, facts) from SQLite."""

from __future__ import annotations

import argparse
from typing import Any

from .output import table, to_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("journal", help="list past runs recorded in the lab's journal")
    p.add_argument(
        "--kind", help="only runs of this kind (deploy, restore-test, migrate, facts, ...)"
    )
    p.add_argument("--limit", type=int, default=50, help="newest N runs (default 50)")
    p.add_argument("--json", action="store_true", help="print a JSON list of runs")
    p.set_defaults(func=journal)


def journal(args: argparse.Namespace, ctx: Any) -> int:
    from ..journal import Journal

    runs = Journal(ctx.lab().journal_path).runs(args.kind, args.limit)
    if args.json:
        ctx.print(to_json(runs))
    elif runs:
        ctx.print(table(runs, ("id", "kind", "started", "finished", "status")))
    else:
        ctx.print("no runs recorded" + (f" of kind {args.kind}" if args.kind else ""))
    return 0
