"""`homelab-kit import …`: importers that propose lab.toml tables from what a lab runs today.

The `import` group is shared: any command module adds its importer with

    from .import_cmd import import_group
    p = import_group(sub).add_parser("nix", help=...)

whatever order the modules register in. `import compose` lives here.
"""

from __future__ import annotations

import argparse
from typing import Any


def import_group(sub: argparse._SubParsersAction) -> argparse._SubParsersAction:
    """The subparsers of `homelab-kit import`, created on first use."""
    parser = sub.choices.get("import")
    if parser is None:
        parser = sub.add_parser(
            "import", help="propose lab.toml tables from existing setups (compose, ...)"
        )
        group = parser.add_subparsers(dest="importer", metavar="SOURCE")
        group.required = True
        parser._homelab_import_group = group  # type: ignore[attr-defined]
    return parser._homelab_import_group  # type: ignore[attr-defined]


def register(sub: argparse._SubParsersAction) -> None:
    group = import_group(sub)
    if "compose" in group.choices:
        return
    p = group.add_parser(
        "compose",
        help="print proposed [services.*] tables for a docker-compose file",
        description="Read a docker-compose file and print [services.*] TOML to review and paste "
        "into lab.toml (port, state dirs after migration, migrate_from).",
    )
    p.add_argument("file", metavar="FILE", help="the docker-compose.yml (a local copy is fine)")
    p.add_argument("--host", metavar="NAME", help="the host the services will run on natively")
    p.add_argument("--source-host", metavar="NAME", help="the host running the compose file today")
    p.add_argument(
        "--compose-path",
        metavar="PATH",
        help="the compose file's path on the source host (default: FILE's absolute path)",
    )
    p.add_argument(
        "--service", action="append", metavar="NAME", help="only this compose service (repeatable)"
    )
    p.set_defaults(func=import_compose)


def import_compose(args: argparse.Namespace, ctx: Any) -> int:
    from ..ecosystem.compose.parse import load_compose
    from ..ecosystem.compose.toml import propose_toml
    from ..errors import InventoryError

    compose = load_compose(args.file)
    for option, name in (("--host", args.host), ("--source-host", args.source_host)):
        if name:
            _warn_unknown_host(ctx, option, name)
    for name in args.service or []:
        if name not in compose.services:
            raise InventoryError(
                f"{compose.path}: no service {name!r}; it has {', '.join(compose.services)}"
            )
    from ..ecosystem.compose.toml import unresolved

    for name in args.service or list(compose.services):
        for line in unresolved(compose.services[name]):
            print(f"homelab-kit: warning: {compose.path}: services.{name}: {line}", file=ctx.err)
    ctx.print(
        propose_toml(
            compose,
            host=args.host,
            source_host=args.source_host,
            compose_path=args.compose_path,
            services=args.service,
        ).rstrip()
    )
    return 0


def _warn_unknown_host(ctx: Any, option: str, name: str) -> None:
    """A host name the lab does not know is likely a typo: warn (the output is still printed)."""
    import difflib

    from ..errors import HomelabError

    if not ctx.lab_path.is_file():
        return  # importing before a lab exists is fine
    try:
        hosts = list(ctx.lab().hosts)
    except HomelabError:
        return  # the lab has its own problems; `homelab-kit lint` reports them
    if name in hosts:
        return
    hint = difflib.get_close_matches(name, hosts, n=1)
    extra = f' (did you mean "{hint[0]}"?)' if hint else ""
    print(
        f'homelab-kit: warning: {option} "{name}" is not a host in {ctx.lab_path}{extra}; '
        f"add [hosts.{name}] before pasting these tables",
        file=ctx.err,
    )
