"""`homelab-kit inventory` and `homelab-kit lint`: no pandas here, so they start fast."""

from __future__ import annotations

import argparse
from typing import Any

from .output import table, to_json

HOST_COLUMNS = ("name", "address", "port", "user", "os", "roles", "transport")
SERVICE_COLUMNS = ("name", "host", "port", "fqdn", "user", "unit", "state_dirs")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("inventory", help="show the hosts, services and backups of the lab")
    p.add_argument("--json", action="store_true", help="print JSON: {hosts, services, backups}")
    p.set_defaults(func=inventory)
    p = sub.add_parser(
        "lint", help="check the lab for port clashes, uncovered state dirs, overlaps"
    )
    p.add_argument("--json", action="store_true", help="print the findings as a JSON list")
    p.set_defaults(func=lint)


def _row(obj: Any) -> dict[str, Any]:
    out = {}
    for k, v in vars(obj).items():
        if k == "relative_state_dirs":
            continue
        if isinstance(v, tuple):
            v = list(v)
        elif hasattr(v, "__dataclass_fields__"):
            v = {f: getattr(v, f) for f in v.__dataclass_fields__}
        elif (
            hasattr(v, "total_seconds")
            or v is not None
            and not isinstance(v, (str, int, float, bool, dict, list))
        ):
            v = str(v)
        out[k] = v
    return out


def inventory(args: argparse.Namespace, ctx: Any) -> int:
    lab = ctx.lab()
    hosts = [_row(h) for h in lab.hosts.values()]
    services = [_row(s) for s in lab.services.values()]
    backups = [
        {k: v for k, v in _row(b).items() if k != "password_command"} for b in lab.backups.values()
    ]
    if args.json:
        ctx.print(
            to_json({"lab": lab.name, "hosts": hosts, "services": services, "backups": backups})
        )
        return 0
    ctx.print(f"Lab {lab.name} ({lab.path})\n")
    ctx.print(table(hosts, HOST_COLUMNS) + "\n")
    ctx.print(table(services, SERVICE_COLUMNS) + "\n")
    ctx.print(table(backups, ("name", "host", "repository", "covers", "schedule", "max_age")))
    return 0


def lint(args: argparse.Namespace, ctx: Any) -> int:
    findings = ctx.lab().lint_findings()
    if args.json:
        ctx.print(to_json(findings))
    elif findings:
        ctx.print(table(findings, ("severity", "subject", "message")))
    else:
        ctx.print("no findings")
    return 1 if any(f["severity"] == "error" for f in findings) else 0
