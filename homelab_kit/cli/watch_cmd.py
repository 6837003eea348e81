"""`homelab-kit check`, `homelab-kit schedule systemd|nixos|cron` and `homelab-kit notify test`.

`check` is the one command for timers: exit 0 all ok (warnings alone too), 1 something fails,
2 bad input. Notifications and heartbeats that cannot be delivered are reported on stderr and
journaled; they never change the exit code.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..errors import HomelabError, InventoryError
from .argtypes import now_option
from .output import to_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "check",
        help="run every unattended check; notify on changes, ping the heartbeat (for timers)",
        description="Backup freshness, coverage, snapshots that shrank, restore-test age, "
        "capacity, failed units, unreachable hosts and lint in one digest. Notifies [notify].urls "
        "on a new, changed or resolved problem (an unchanged failure again after `remind`) and "
        "pings [notify].heartbeat. Exit 0 all ok or only warnings, 1 something fails, 2 bad input.",
    )
    p.add_argument("--on", default="all", metavar="SEL", help="only these hosts (default: all)")
    p.add_argument("--json", action="store_true", help="print the digest as JSON")
    p.add_argument("--no-notify", action="store_true", help="check and record, send nothing")
    p.add_argument("--no-heartbeat", action="store_true", help="do not ping the heartbeat")
    p.add_argument("--now", help="check as of this ISO time (reproducible runs, tests)")
    p.set_defaults(func=check_cmd)

    s = sub.add_parser("schedule", help="generate timers for check, restore tests and capacity")
    ssub = s.add_subparsers(dest="schedule_command", metavar="KIND")
    ssub.required = True
    for kind, what in (
        ("systemd", "write .service + .timer units (or print them without --out)"),
        ("nixos", "print a NixOS module with systemd.services and systemd.timers"),
        ("cron", "print crontab lines"),
    ):
        q = ssub.add_parser(kind, help=what)
        q.add_argument(
            "--program", metavar="PATH", help="the homelab-kit to run (default: this one)"
        )
        if kind != "cron":
            q.add_argument("--run-as", metavar="USER", help="run the jobs as this user")
        if kind == "systemd":
            q.add_argument("--out", metavar="DIR", help="write the unit files into DIR")
        q.set_defaults(func=schedule_cmd, kind=kind)

    n = sub.add_parser("notify", help="notifications: send a test message")
    nsub = n.add_subparsers(dest="notify_command", metavar="ACTION")
    nsub.required = True
    t = nsub.add_parser("test", help="send a test notification to every [notify] URL")
    t.set_defaults(func=notify_test_cmd)


def check_cmd(args: argparse.Namespace, ctx: Any) -> int:
    from ..watch.run import check, ping_unloadable_lab

    try:
        lab = ctx.lab()
    except InventoryError as exc:
        ping_unloadable_lab(ctx.lab_path, str(exc))
        raise
    result = check(
        lab,
        on=args.on,
        now=now_option(args.now) if args.now else None,
        notify=not args.no_notify,
        heartbeat=not args.no_heartbeat,
    )
    for problem in result.problems:
        print(f"homelab-kit: {problem}", file=ctx.err)
    ctx.print(to_json(result.digest.to_dict()) if args.json else result.digest.text())
    return result.exit_code


def schedule_cmd(args: argparse.Namespace, ctx: Any) -> int:
    from ..watch import schedule as sch

    lab = ctx.lab()
    program = Path(args.program).expanduser().absolute() if args.program else sch.this_program()
    if not program.is_file():
        raise HomelabError(f"--program: {program} does not exist; give the homelab-kit to run")
    jobs = sch.jobs(lab, program)
    user = getattr(args, "run_as", None)
    for job in jobs:  # name the lab.toml key of a schedule that cannot be written
        try:
            if args.kind == "cron":
                sch.cron_fields(job)
            else:
                sch.oncalendar(job.schedule)
        except ValueError as exc:
            raise InventoryError(f"{lab.path.name}: {job.key}: {exc}") from None
    if args.kind == "nixos":
        ctx.print(sch.nixos_module(jobs, user=user).rstrip("\n"))
    elif args.kind == "cron":
        ctx.print(sch.crontab(jobs).rstrip("\n"))
    else:
        write_units(ctx, sch.systemd_units(jobs, user=user), args.out)
    return 0


def write_units(ctx: Any, units: dict[str, str], out: str | None) -> None:
    """Write the units into `out` (atomically), or print them with a header each."""
    if out is None:
        from ..watch.schedule import units_text

        ctx.print(units_text(units).rstrip("\n"))
        return
    from ..outfile import ensure_dir, write_atomic

    folder = ensure_dir(out, what="unit folder")
    for name, text in units.items():
        ctx.print(f"wrote {write_atomic(folder / name, text, what='systemd unit')}")
    timers = " ".join(n for n in units if n.endswith(".timer"))
    ctx.print(
        f"install: sudo cp {folder}/homelab-kit-* /etc/systemd/system/ && "
        f"sudo systemctl daemon-reload && sudo systemctl enable --now {timers}"
    )


def notify_test_cmd(args: argparse.Namespace, ctx: Any) -> int:
    from ..watch.notify import test_message

    lab = ctx.lab()
    if not lab.notify.configured:
        raise InventoryError(
            f'{lab.path.name}: notify: no URLs; add [notify] urls = ["ntfy://ntfy.sh/topic"]'
        )
    delivery = test_message(lab)
    for target in delivery.targets:
        ctx.print(f"{'sent' if delivery.sent else 'FAILED'}  {target}")
    if not delivery.sent:
        print(f"homelab-kit: notification not delivered: {delivery.error}", file=ctx.err)
        return 1
    return 0
