"""`homelab-kit run`, `homelab-kit hosts keyscan` and `homelab-kit facts`: commands across the fleet."""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import InventoryError
from .argtypes import positive_int, seconds
from .output import table, to_json

RUN_COLUMNS = ("host", "status", "exit_code", "duration", "output")
FACT_COLUMNS = (
    "host", "status", "os", "kernel", "uptime", "cpus", "load_1m", "memory", "disks", "zpools",
    "failed_units", "services", "restic_version", "errors",
)  # fmt: skip


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="run a command on many hosts in parallel",
        description="Run CMD ARG... on the selected hosts; exits 0 when every host is ok, else 1.",
    )
    p.add_argument(
        "--on", default="all", metavar="SEL", help='hosts: "all", a name, "@role", "desk*", "a,b"'
    )
    p.add_argument(
        "--parallel", type=positive_int, default=16, metavar="N", help="hosts at once (default 16)"
    )
    p.add_argument(
        "--timeout", type=seconds, default=None, metavar="S", help="per-command timeout (seconds)"
    )
    p.add_argument(
        "--connect-timeout", type=seconds, default=None, metavar="S", help="per-connection timeout"
    )
    p.add_argument(
        "--sudo", action="store_true", help="run with `sudo -n` on hosts whose user is not root"
    )
    p.add_argument(
        "--json", action="store_true", help="print a JSON list: host, status, exit_code, ..."
    )
    p.add_argument("command", nargs=argparse.REMAINDER, metavar="-- CMD ARG...")
    p.set_defaults(func=run)

    hosts = _subparsers_of(sub, "hosts") or sub.add_parser(
        "hosts", help="host utilities (keyscan)"
    ).add_subparsers(dest="hosts_command", metavar="COMMAND", required=True)
    k = hosts.add_parser(
        "keyscan",
        help="fetch a host's SSH keys and fingerprints to review and pin (never writes)",
    )
    k.add_argument("name", help="the host's name in lab.toml")
    k.add_argument("--timeout", type=seconds, default=10.0, metavar="S")
    k.set_defaults(func=keyscan)

    f = sub.add_parser(
        "facts", help="gather facts (OS, kernel, disks, pools, failed units, ...) from hosts"
    )
    f.add_argument("--on", default="all", metavar="SEL")
    f.add_argument("--parallel", type=positive_int, default=16, metavar="N")
    f.add_argument("--connect-timeout", type=seconds, default=None, metavar="S")
    f.add_argument("--json", action="store_true", help="print one JSON object per host")
    f.add_argument("--no-record", action="store_true", help="do not record into the journal")
    f.set_defaults(func=facts)


def _subparsers_of(sub: argparse._SubParsersAction, name: str) -> Any:
    """The subparsers of an existing `name` command (another module may own `hosts`)."""
    parser = sub.choices.get(name)
    if parser is None:
        return None
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return None


def run(args: argparse.Namespace, ctx: Any) -> int:
    command = list(args.command)
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        raise InventoryError(
            "run: no command given; usage: homelab-kit run [--on SEL] -- CMD ARG..."
        )
    if args.parallel < 1:
        raise InventoryError("run: --parallel must be at least 1")
    lab = ctx.lab()
    results = lab.run(
        command,
        on=args.on,
        parallel=args.parallel,
        timeout=args.timeout,
        connect_timeout=args.connect_timeout,
        sudo=args.sudo,
        progress=not args.json,
    )
    if args.json:
        ctx.print(to_json(results.to_list()))
    else:
        rows = []
        for r in results.values():
            text = (
                r.stdout.strip()
                if r.ok
                else (r.stderr.strip() or r.stdout.strip() or r.error or "")
            )
            rows.append(
                {"host": r.host, "status": r.status, "exit_code": r.exit_code,
                 "duration": f"{r.duration:.2f}s", "output": _clip(text)}
            )  # fmt: skip
        ctx.print(table(rows, RUN_COLUMNS))
    return 0 if results.ok else 1


def _clip(text: str, width: int = 100) -> str:
    text = text.replace("\n", " ⏎ ")
    return text if len(text) <= width else text[: width - 1] + "…"


def keyscan(args: argparse.Namespace, ctx: Any) -> int:
    from ..transport.hostkeys import keyscan as scan
    from ..transport.hostkeys import parse_host_key

    lab = ctx.lab()
    host = lab.hosts[args.name]
    if host.transport != "ssh":
        raise InventoryError(f'hosts.{host.name}: transport is "{host.transport}", nothing to scan')
    keys = scan(host.address, host.port, timeout=args.timeout)
    ctx.print(f"{host.name} ({host.address}:{host.port}) offers:")
    for key in keys:
        ctx.print(f"  {key.type:<20} {key.fingerprint}")
    if host.host_key:
        pinned = parse_host_key(host.host_key, f"hosts.{host.name}.host_key")
        match = [k for k in keys if k.line == f"{pinned.get_name()} {pinned.get_base64()}"]
        if match:
            ctx.print(f"The pinned host_key ({match[0].type} {match[0].fingerprint}) matches.")
            return 0
        ctx.print(
            "WARNING: none of these matches the pinned host_key in lab.toml. If the host was not "
            "reinstalled, someone may be intercepting the connection."
        )
    ctx.print(
        "\nCompare a fingerprint with the host's own (`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`"
        f" on its console), then pin it under [hosts.{host.name}] in lab.toml:"
    )
    ctx.print(f'  host_key = "{keys[0].line}"')
    return 0 if not host.host_key else 1


def _bytes(n: Any) -> str:
    if n is None:
        return "-"
    for unit in ("B", "K", "M", "G", "T", "P"):
        if abs(n) < 1024 or unit == "P":
            return f"{n:.0f}{unit}" if unit == "B" else f"{n:.1f}{unit}"
        n /= 1024
    return str(n)


def _fact_cells(r: dict[str, Any]) -> dict[str, Any]:
    disks = r.get("filesystems") or []
    return {
        "host": r["host"],
        "status": r["status"] if not r.get("error") else f"{r['status']}: {_clip(r['error'], 60)}",
        "os": r.get("os"),
        "kernel": r.get("kernel"),
        "uptime": None if r.get("uptime_s") is None else f"{r['uptime_s'] / 86400:.1f}d",
        "cpus": r.get("cpus"),
        "load_1m": r.get("load_1m"),
        "memory": None if r.get("mem_total") is None else f"{_bytes(r.get('mem_available'))}/{_bytes(r['mem_total'])}",
        "disks": ", ".join(f"{d['mount']} {100 * d['used'] // max(d['used'] + d['available'], 1)}%" for d in disks) or None,
        "zpools": None if r.get("zpools") is None else ", ".join(f"{p['name']} {p['health']} {p['capacity']}%" for p in r["zpools"]),
        "failed_units": r.get("failed_units"),
        "services": None if r.get("services") is None else ", ".join(f"{u}={s}" for u, s in r["services"].items()),
        "restic_version": r.get("restic_version"),
        "errors": ", ".join(sorted(r.get("errors") or {})) or None,
    }  # fmt: skip


def facts(args: argparse.Namespace, ctx: Any) -> int:
    from ..facts.gather import gather

    lab = ctx.lab()
    df = gather(
        lab,
        on=args.on,
        parallel=args.parallel,
        connect_timeout=args.connect_timeout,
        progress=not args.json,
        record=not args.no_record,
    )
    records = df.astype(object).where(df.notna(), None).to_dict(orient="records")
    if args.json:
        ctx.print(to_json(records))
    else:
        ctx.print(table([_fact_cells(r) for r in records], FACT_COLUMNS))
        for r in records:
            for fact, message in (r.get("errors") or {}).items():
                ctx.print(f"{r['host']}: {fact}: {' / '.join(message.splitlines())}")
    return 0 if all(r["status"] == "ok" for r in records) else 1
