"""Generated schedules for the unattended jobs: systemd units, a NixOS module, crontab lines (pure).

Three jobs: `check` (hourly by default), the restore-test runbook (monthly) and the capacity
runbook (weekly), each calling this install's own `homelab-kit` by absolute path with the lab's
absolute path, so a timer runs exactly what the user ran by hand. Intervals come from `[watch]`.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from ..lab.timespec import schedule_period

if TYPE_CHECKING:
    from pathlib import Path

    from ..lab.model import Lab

PREFIX = "homelab-kit"
DELAY_CAP = timedelta(hours=1)
SYSTEMD_NAMES = {"minutely", "hourly", "daily", "weekly", "monthly", "quarterly", "yearly",
                 "semiannually"}  # fmt: skip
ALIASES = {"nightly": "daily", "annually": "yearly"}
CRON_NAMES = {"hourly": "{m} * * * *", "daily": "{m} {h} * * *", "weekly": "{m} {h} * * 1",
              "monthly": "{m} {h} 1 * *", "yearly": "{m} {h} 1 1 *"}  # fmt: skip


@dataclass(frozen=True)
class Job:
    """One scheduled job: its unit name, what it runs, when, and how long it may take."""

    name: str
    description: str
    argv: tuple[str, ...]
    schedule: str
    delay: timedelta
    timeout: timedelta

    @property
    def unit(self) -> str:
        return f"{PREFIX}-{self.name}"

    @property
    def key(self) -> str:
        """Where its schedule is set in lab.toml."""
        return f"watch.{self.name.replace('-', '_')}"


def default_delay(schedule: str) -> timedelta:
    """A tenth of the period, at most an hour: timers of many labs do not fire all at once."""
    return min(schedule_period(schedule) / 10, DELAY_CAP)


def this_program() -> Path:
    """This install's homelab-kit: beside the running interpreter (a venv), else on PATH."""
    import shutil
    import sys
    from pathlib import Path

    from ..errors import HomelabError

    beside = Path(sys.executable).parent / "homelab-kit"
    if beside.is_file():
        return beside.absolute()
    found = shutil.which("homelab-kit")
    if found:
        return Path(found).absolute()
    raise HomelabError("cannot find this install's homelab-kit program; pass --program PATH")


def jobs(lab: Lab, program: Path) -> list[Job]:
    """The lab's three jobs, calling `program` (this install's homelab-kit) on the lab file."""
    w = lab.watch
    base = (str(program), "--lab", str(lab.path))

    def job(name: str, what: str, args: tuple[str, ...], schedule: str, hours: float) -> Job:
        delay = w.randomized_delay if w.randomized_delay is not None else default_delay(schedule)
        return Job(name, f"homelab-kit {what} (lab {lab.name})", (*base, *args), schedule, delay,
                   timedelta(hours=hours))  # fmt: skip

    return [
        job("check", "unattended checks", ("check",), w.check, 1),
        job(
            "restore-test",
            "restore-test runbook",
            ("notebooks", "run", "20_restore_test"),
            w.restore_test,
            12,
        ),  # fmt: skip
        job(
            "capacity",
            "capacity runbook",
            ("notebooks", "run", "40_capacity_planning"),
            w.capacity,
            1,
        ),  # fmt: skip
    ]


def oncalendar(schedule: str) -> str:
    """A schedule as systemd's OnCalendar: names and OnCalendar pass; "every 6h" → "*-*-* 00/6:00"."""
    s = schedule.strip()
    low = s.lower()
    if low in SYSTEMD_NAMES or low in ALIASES:
        return ALIASES.get(low, low)
    if low.startswith("every "):
        period = schedule_period(s)
        minutes = int(period.total_seconds() // 60)
        if minutes < 60 and 60 % minutes == 0:
            return f"*:00/{minutes}"
        if minutes % 60 == 0 and 24 % (minutes // 60) == 0:
            return f"*-*-* 00/{minutes // 60}:00"
        raise ValueError(f'"{schedule}": systemd cannot repeat that evenly; use e.g. "every 6h"')
    schedule_period(s)  # refuses what we cannot read
    return s


def seconds(t: timedelta) -> str:
    return f"{int(t.total_seconds())}s"


def systemd_quote(arg: str) -> str:
    """One ExecStart argument: % and $ escaped, quoted when it holds blanks or quotes."""
    arg = arg.replace("%", "%%").replace("$", "$$")
    if re.fullmatch(r"[A-Za-z0-9_@%+=:,./-]+", arg):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def systemd_units(jobs: list[Job], *, user: str | None = None) -> dict[str, str]:
    """{file name: text}: a oneshot .service and a persistent .timer per job."""
    out: dict[str, str] = {}
    for j in jobs:
        run_as = f"User={user}\n" if user else ""
        out[f"{j.unit}.service"] = (
            f"[Unit]\nDescription={j.description}\n"
            "Wants=network-online.target\nAfter=network-online.target\n\n"
            f"[Service]\nType=oneshot\n{run_as}"
            f"ExecStart={' '.join(systemd_quote(a) for a in j.argv)}\n"
            f"TimeoutStartSec={seconds(j.timeout)}\nNice=10\n"
        )
        out[f"{j.unit}.timer"] = (
            f"[Unit]\nDescription={j.description}, {j.schedule}\n\n"
            f"[Timer]\nOnCalendar={oncalendar(j.schedule)}\nPersistent=true\n"
            f"RandomizedDelaySec={seconds(j.delay)}\n\n"
            "[Install]\nWantedBy=timers.target\n"
        )
    return out


def units_text(units: dict[str, str]) -> str:
    """The units one after another, each under a `### name` header, for reading or copying."""
    return "\n".join(f"### {name}\n{text}" for name, text in units.items())


def nix_string(text: str) -> str:
    """A Nix double-quoted string: backslash, quote and ${ escaped."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("${", "\\${") + '"'


def nixos_module(jobs: list[Job], *, user: str | None = None) -> str:
    """A NixOS module with systemd.services and systemd.timers for the jobs."""
    lines = ["# homelab-kit's scheduled jobs; import this file from configuration.nix.", "{ ... }:",
             "{"]  # fmt: skip
    for j in jobs:
        exec_start = " ".join(systemd_quote(a) for a in j.argv)
        lines += [
            f"  systemd.services.{nix_string(j.unit)} = {{",
            f"    description = {nix_string(j.description)};",
            '    wants = [ "network-online.target" ];',
            '    after = [ "network-online.target" ];',
            "    serviceConfig = {",
            '      Type = "oneshot";',
            *([f"      User = {nix_string(user)};"] if user else []),
            f"      ExecStart = {nix_string(exec_start)};",
            f"      TimeoutStartSec = {nix_string(seconds(j.timeout))};",
            "      Nice = 10;",
            "    };",
            "  };",
            f"  systemd.timers.{nix_string(j.unit)} = {{",
            '    wantedBy = [ "timers.target" ];',
            "    timerConfig = {",
            f"      OnCalendar = {nix_string(oncalendar(j.schedule))};",
            "      Persistent = true;",
            f"      RandomizedDelaySec = {nix_string(seconds(j.delay))};",
            "    };",
            "  };",
        ]
    return "\n".join([*lines, "}"]) + "\n"


def cron_quote(arg: str) -> str:
    """A crontab command word: shell-quoted, % escaped (cron turns % into newlines)."""
    import shlex

    return shlex.quote(arg).replace("%", "\\%")


def cron_fields(job: Job) -> str:
    """The five crontab fields; the minute (and hour) spread by the job's name, like a delay."""
    low = job.schedule.strip().lower()
    low = ALIASES.get(low, low)
    spread = zlib.crc32(job.unit.encode())
    m, h = spread % 60, 3 + spread // 60 % 3  # 03:00–05:59 for the daily and slower ones
    if low in CRON_NAMES:
        return CRON_NAMES[low].format(m=m, h=h)
    if low.startswith("every "):
        minutes = int(schedule_period(low).total_seconds() // 60)
        if minutes < 60 and 60 % minutes == 0:
            return f"*/{minutes} * * * *"
        if minutes % 60 == 0 and 24 % (minutes // 60) == 0:
            return f"{m} */{minutes // 60} * * *"
    raise ValueError(
        f'"{job.schedule}" has no crontab form; use hourly, daily, weekly, monthly or "every 6h", '
        "or `homelab-kit schedule systemd`"
    )


def crontab(jobs: list[Job]) -> str:
    """Crontab lines for the jobs (cron has no catch-up: systemd timers are the better home)."""
    lines = ["# homelab-kit's scheduled jobs (crontab -e, then paste)"]
    for j in jobs:
        lines.append(f"# {j.description}, {j.schedule}")
        lines.append(f"{cron_fields(j)} {' '.join(cron_quote(a) for a in j.argv)}")
    return "\n".join(lines) + "\n"
