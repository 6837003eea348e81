"""`homelab-kit journal`: past runs (deploys, restore tests, migrations, facts) from SQLite."""

from __future__ import annotations

import argparse
from typing import Any

from .argtypes import positive_int
from .output import table, to_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("journal", help="list past runs recorded in the lab's journal")
    p.add_argument(
        "--kind", help="only runs of this kind (deploy, restore-test, migrate, notebook, ...)"
    )
    p.add_argument(
        "--limit", type=positive_int, default=50, metavar="N", help="newest N runs (default 50)"
    )
    p.add_argument("--json", action="store_true", help="print a JSON list of runs")
    p.set_defaults(func=journal)


# Run kinds homelab_kit records (a kind not recorded yet is still a valid filter).
KINDS = (
    "backup", "deploy", "drill", "migrate", "notebook", "plan", "restore-in-place", "restore-test",
    "verify-restore",
)  # fmt: skip


def _check_kind(kind: str, recorded: set[str]) -> None:
    """A --kind that is neither known nor recorded is a typo: say so, with a "did you mean"."""
    import difflib

    from ..errors import HomelabError

    known = sorted(set(KINDS) | recorded)
    if kind in known:
        return
    hint = difflib.get_close_matches(kind, known, n=1)
    extra = f' (did you mean "{hint[0]}"?)' if hint else ""
    raise HomelabError(f'journal --kind: unknown kind "{kind}"{extra}; known: {", ".join(known)}')


def journal(args: argparse.Namespace, ctx: Any) -> int:
    from ..journal import Journal

    journal_ = Journal(ctx.lab().journal_path)
    runs = journal_.runs(args.kind, args.limit)
    if args.kind and not runs:
        _check_kind(args.kind, {r["kind"] for r in journal_.runs()})
    if args.json:
        ctx.print(to_json(runs))
    elif runs:
        ctx.print(table(runs, ("id", "kind", "started", "finished", "status")))
    else:
        ctx.print("no runs recorded" + (f" of kind {args.kind}" if args.kind else ""))
    return 0
