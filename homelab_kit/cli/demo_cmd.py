"""`homelab-kit demo`: build the demo lab (three hosts, ten services, 90 days of restic history)."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo", help="build the demo lab (real restic repositories, 90 days of history)"
    )
    p.add_argument("--dir", default="data/demo", help="where to build it (default: data/demo)")
    p.add_argument("--force", action="store_true", help="replace an existing demo lab")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=demo)


def demo(args: argparse.Namespace, ctx: Any) -> int:
    import time

    from ..demo.build import build_demo

    start = time.monotonic()
    lab = build_demo(args.dir, force=args.force, progress=not args.quiet)
    ctx.print(f"demo lab built in {time.monotonic() - start:.0f} s: {lab.path}")
    ctx.print(f"use it with: export HOMELAB_LAB={lab.path}")
    return 0
