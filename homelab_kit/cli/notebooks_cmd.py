"""`homelab-kit notebooks list|run`: the runbooks in notebooks/, executed against the selected lab."""

from __future__ import annotations

import argparse
from typing import Any

from .output import table


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("notebooks", help="list or run the runbook notebooks against the lab")
    p.add_argument(
        "--notebooks", metavar="DIR", help="the notebooks folder (default: the repo's notebooks/)"
    )
    nsub = p.add_subparsers(dest="notebooks_command", metavar="ACTION")
    nsub.required = True
    q = nsub.add_parser("list", help="list the runbooks")
    q.set_defaults(func=list_cmd)
    q = nsub.add_parser("run", help="execute runbooks with papermill; keep dated copies (+ HTML)")
    q.add_argument("names", nargs="*", metavar="NAME", help="notebooks to run (default: all)")
    q.add_argument(
        "--out", metavar="DIR", help="where run records go (default: the lab's runs_dir)"
    )
    q.add_argument("-p", "--parameter", action="append", default=[], metavar="KEY=VALUE",
                   help="a parameter for the notebooks (repeatable); lab_path is set for you")  # fmt: skip
    q.add_argument("--no-html", action="store_true", help="skip the HTML export")
    q.set_defaults(func=run_cmd)


def list_cmd(args: argparse.Namespace, ctx: Any) -> int:
    from ..workbench.runbooks import list_runbooks

    rows = [
        {"name": b.name, "title": b.title, "path": str(b.path)}
        for b in list_runbooks(args.notebooks)
    ]
    ctx.print(table(rows, ("name", "title", "path")) if rows else "no notebooks")
    return 0


def run_cmd(args: argparse.Namespace, ctx: Any) -> int:
    import sys

    from ..outfile import ensure_dir
    from ..workbench.runbooks import parse_parameter, run_runbook, select_runbooks

    params = dict(parse_parameter(p) for p in args.parameter)
    books = select_runbooks(args.names, args.notebooks)
    lab = ctx.lab()
    ensure_dir(args.out or lab.runs_dir, what="notebook run records")  # before any notebook runs
    failed = 0
    for book in books:
        print(f"running {book.name} ...", file=sys.stderr, flush=True)
        r = run_runbook(lab, book, out_dir=args.out, parameters=params, html=not args.no_html)
        if r.ok:
            ctx.print(f"ok      {r.name}  {r.output}  ({r.seconds:.1f} s)")
        else:
            failed += 1
            ctx.print(f"failed  {r.name}  {r.output}")
            print(f"homelab-kit: notebook {r.name} failed: {r.error}", file=sys.stderr)
    return 1 if failed else 0
