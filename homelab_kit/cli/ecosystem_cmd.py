"""`homelab-kit export ansible|prometheus` and `homelab-kit import nix`: meet the ecosystem."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .import_cmd import import_group


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export the lab for Ansible or Prometheus")
    group = p.add_subparsers(dest="exporter", metavar="TARGET")
    group.required = True
    a = group.add_parser(
        "ansible",
        help="print (or write) a YAML Ansible inventory: groups from roles and os",
        description="A YAML inventory for ansible-inventory/ansible-playbook: a group per role and "
        "per os, ansible_host/user/port, and the host's services and backups as host vars.",
    )
    a.add_argument("--out", metavar="FILE", help="write here instead of printing")
    a.set_defaults(func=export_ansible)
    m = group.add_parser(
        "prometheus",
        help="write textfile-collector metrics: freshness, coverage, restore tests, capacity",
        description="Write node_exporter textfile-collector files (*.prom, replaced atomically) "
        "with backup freshness and coverage, restore-test results and days to full.",
    )
    m.add_argument("--out", metavar="DIR", required=True, help="the textfile collector directory")
    m.set_defaults(func=export_prometheus)

    n = import_group(sub).add_parser(
        "nix",
        help="print lab.toml entries from a Nix config (flake attr, file attr or expression)",
        description="Evaluate with the real nix evaluator and map hosts, homelab.services.* and "
        "services.restic.backups.* to lab.toml. TARGET is a flake attribute (path/to/flake#attr), "
        "an attribute path of --file, or a Nix expression.",
    )
    n.add_argument(
        "target",
        metavar="EXPR_OR_FLAKE_ATTR",
        nargs="?",
        default="",
        help="e.g. /etc/nixos#nixosConfigurations, or nixosConfigurations with --file",
    )
    n.add_argument(
        "--file", metavar="F", help="a .nix file; TARGET is then an attribute path in it"
    )
    n.add_argument(
        "--merge",
        metavar="LAB",
        help="merge into this lab.toml (comments and hand-made "
        "entries are kept) instead of printing",
    )
    n.add_argument("--host", metavar="NAME", help="evaluate on this lab host (through its runner)")
    n.add_argument(
        "--name", default="home", help="lab name for the printed [lab] table (default home)"
    )
    n.set_defaults(func=import_nix_cmd)


def _write_atomic(path: Path, text: str, what: str = "output file") -> None:
    """Write text next to path, then rename: readers never see half a file."""
    from ..outfile import write_atomic

    write_atomic(path, text, what=what)


def export_ansible(args: argparse.Namespace, ctx: Any) -> int:
    from ..ecosystem.export.ansible import ansible_yaml

    text = ansible_yaml(ctx.lab())
    if args.out:
        _write_atomic(Path(args.out), text, "Ansible inventory")
        print(f"wrote {args.out}", file=ctx.err)
    else:
        ctx.print(text.rstrip())
    return 0


def export_prometheus(args: argparse.Namespace, ctx: Any) -> int:
    from ..ecosystem.export.sources import write_textfiles

    written = write_textfiles(ctx.lab(), Path(args.out))
    for path, note in written:
        print(f"wrote {path}" + (f" ({note})" if note else ""), file=ctx.err)
    failed = [path.stem.removeprefix("homelab_") for path, note in written if note]
    if failed:  # a timer's failure: the other files are written, homelab_export_success says 0
        print(f"homelab-kit: export prometheus: source failed: {', '.join(failed)}", file=ctx.err)
    return 1 if failed else 0


def import_nix_cmd(args: argparse.Namespace, ctx: Any) -> int:
    from ..ecosystem.nix.evaluate import import_nix, merge_toml, to_toml
    from ..errors import InventoryError

    if not args.target and not args.file:
        raise InventoryError(
            "import nix: give EXPR_OR_FLAKE_ATTR, or --file F (and an attribute path)"
        )
    runner = None
    if args.host:
        if args.merge and not getattr(args, "lab", None):
            ctx.lab_path = Path(args.merge)  # the lab being merged into knows the host
        runner = ctx.lab().runner(args.host)  # the lab's: Context closes it at the end
    result = import_nix(args.target, file=args.file, runner=runner)
    if not args.merge:
        ctx.print(to_toml(result, lab_name=args.name).rstrip())
        return 0
    path = Path(args.merge)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InventoryError(
            f"{path}: no such lab file to merge into; drop --merge to print"
        ) from None
    merged, changes = merge_toml(text, result, where=str(path))
    if merged != text:
        _write_atomic(path, merged, "lab file")
    for change in changes:
        print(str(change), file=ctx.err)
    for warning in result.warnings:
        print(f"check: {warning}", file=ctx.err)
    print(f"{'merged into' if merged != text else 'nothing to change in'} {path}", file=ctx.err)
    return 0
