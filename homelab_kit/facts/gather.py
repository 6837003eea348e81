"""Facts about hosts, pyinfra-style: each fact is a command (argv) plus a pure parser.

`gather(lab)` runs every fact on every selected host in parallel (one SSH connection per host) and
returns one DataFrame row per host; a fact that fails becomes a value in the `errors` column, never
an exception. Each host's facts are also recorded in the journal, so capacity planning has history.
A tool that is not installed (exit 127, e.g. `zpool` without ZFS) makes its fact None, not an error.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..errors import ExecError
from .parsers import (
    PSEUDO_FS,
    ZPOOL_COLUMNS,
    FactError,
    parse_df,
    parse_failed_units,
    parse_loadavg,
    parse_meminfo,
    parse_nproc,
    parse_os_release,
    parse_restic_version,
    parse_systemctl_show,
    parse_uname,
    parse_uptime,
    parse_zpool_list,
)  # re-exported: the parsers have always been importable from here

if TYPE_CHECKING:
    import pandas as pd

    from ..lab.model import Lab
    from ..transport.runner import Result, Runner

FACT_TIMEOUT = 30.0


@dataclass(frozen=True)
class Fact:
    """A command to run on the host and a pure parser for its stdout."""

    name: str
    argv: tuple[str, ...]
    parse: Callable[[str], Any]

    def value(self, result: Result) -> Any:
        """The parsed value; None when the tool is absent (exit 127); FactError when it failed."""
        if result.exit_code == 127:
            return None
        if not result.ok:
            detail = result.stderr_tail(2) or result.stdout.strip()[-200:]
            raise FactError(f"`{result.command}` exited {result.exit_code}: {detail}")
        try:
            return self.parse(result.stdout)
        except FactError:
            raise
        except (ValueError, IndexError) as exc:
            raise FactError(f"cannot parse `{result.command}` output: {exc}") from None


FACTS: tuple[Fact, ...] = (
    Fact("os_release", ("cat", "/etc/os-release"), parse_os_release),
    Fact("kernel", ("uname", "-s", "-r", "-m"), parse_uname),
    Fact("uptime", ("cat", "/proc/uptime"), parse_uptime),
    Fact("cpus", ("nproc",), parse_nproc),
    Fact("load", ("cat", "/proc/loadavg"), parse_loadavg),
    Fact("memory", ("cat", "/proc/meminfo"), parse_meminfo),
    Fact("filesystems", ("df", "-P", "-B1", "-T"), parse_df),
    Fact("zpools", ("zpool", "list", "-Hp"), parse_zpool_list),
    Fact("failed_units", ("systemctl", "list-units", "--failed", "--plain", "--no-legend", "--no-pager"), parse_failed_units),
)  # fmt: skip


def services_fact(units: Sequence[str]) -> Fact:
    """Active state of the given systemd units, in one `systemctl show`."""
    argv = (
        "systemctl",
        "show",
        "--no-pager",
        "-p",
        "Id,LoadState,ActiveState,SubState",
        "--",
        *units,
    )
    return Fact("services", argv, parse_systemctl_show)


def restic_fact(restic: str = "restic") -> Fact:
    return Fact("restic_version", (restic, "version"), parse_restic_version)


def host_facts(
    runner: Runner, facts: Sequence[Fact], *, timeout: float = FACT_TIMEOUT, channels: int = 4
) -> dict[str, Any]:
    """Run the facts on one host (a few at once over one connection); {"values", "errors"}.

    A fact that fails becomes an error value; losing the host (ConnectError) propagates.
    """
    from concurrent.futures import ThreadPoolExecutor

    from ..errors import ConnectError

    runner.run(["true"], timeout=timeout)  # connect once, so the facts share the connection

    def one(fact: Fact) -> tuple[Any, str | None]:
        try:
            return fact.value(runner.run(list(fact.argv), timeout=timeout)), None
        except ConnectError:
            raise
        except ExecError as exc:
            return None, str(exc)

    with ThreadPoolExecutor(max_workers=channels) as pool:
        got = list(pool.map(one, facts))
    values = {f.name: v for f, (v, _) in zip(facts, got)}
    errors = {f.name: e for f, (_, e) in zip(facts, got) if e}
    return {"values": values, "errors": errors}


def row(
    host: str,
    values: dict[str, Any],
    errors: dict[str, str],
    *,
    status: str = "ok",
    error: str | None = None,
) -> dict[str, Any]:
    """One host's facts flattened into DataFrame columns (pure)."""
    osr = values.get("os_release") or {}
    kern = values.get("kernel") or {}
    mem = values.get("memory") or {}
    load = values.get("load") or [None]
    services = values.get("services")
    return {
        "host": host,
        "status": status,
        "error": error,
        "os": osr.get("PRETTY_NAME"),
        "os_id": osr.get("ID"),
        "os_version": osr.get("VERSION_ID"),
        "kernel": kern.get("kernel"),
        "arch": kern.get("arch"),
        "uptime_s": values.get("uptime"),
        "cpus": values.get("cpus"),
        "load_1m": load[0],
        "mem_total": mem.get("mem_total"),
        "mem_available": mem.get("mem_available"),
        "swap_total": mem.get("swap_total"),
        "filesystems": values.get("filesystems"),
        "zpools": values.get("zpools"),
        "failed_units": values.get("failed_units"),
        "services": None if services is None else {u: s["active"] for u, s in services.items()},
        "restic_version": values.get("restic_version"),
        "errors": errors,
    }


def facts_for(lab: Lab, host: str, only: Sequence[str] | None = None) -> list[Fact]:
    """The facts to gather on one host: the common ones, its services' units, its restic
    (only those named in `only`, when given)."""
    facts = list(FACTS)
    units = [s.unit for s in lab.services_on(host) if getattr(s, "unit", None)]
    if units:
        facts.append(services_fact(units))
    restics = [b.restic for b in lab.backups.values() if b.host == host]
    facts.append(restic_fact(restics[0] if restics else "restic"))
    return facts if only is None else [f for f in facts if f.name in only]


def gather(
    lab: Lab,
    on: str | Sequence[str] = "all",
    now: datetime | None = None,
    *,
    parallel: int = 16,
    connect_timeout: float | None = None,
    progress: bool = True,
    record: bool = True,
    only: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Facts of every selected host in parallel: one row per host, errors as values.

    Each host's row is also recorded (timestamped `now`) with `lab.journal.record_facts`; a
    gathering of only some facts (`only`) is never recorded, so the history stays whole.
    """
    import pandas as pd

    from ..transport.fanout import host_runner, map_hosts

    at = now or datetime.now(UTC)
    names = list(lab.hosts.select(on))

    def task(name: str) -> dict[str, Any]:
        return host_facts(host_runner(lab, name, connect_timeout), facts_for(lab, name, only))

    outcomes = map_hosts(names, task, parallel=parallel, progress=progress, desc="facts")
    rows = []
    for name, out in outcomes.items():
        got = out.value or {"values": {}, "errors": {}}
        r = row(name, got["values"], got["errors"], status=out.status, error=out.error)
        rows.append(r)
        if record and only is None:
            lab.journal.record_facts(name, {k: v for k, v in r.items() if k != "host"}, at)
    df = pd.DataFrame(rows)
    df.insert(1, "at", pd.Timestamp(at))
    return df


__all__ = [
    "FACTS",
    "FACT_TIMEOUT",
    "PSEUDO_FS",
    "ZPOOL_COLUMNS",
    "Fact",
    "FactError",
    "facts_for",
    "gather",
    "host_facts",
    "parse_df",
    "parse_failed_units",
    "parse_loadavg",
    "parse_meminfo",
    "parse_nproc",
    "parse_os_release",
    "parse_restic_version",
    "parse_systemctl_show",
    "parse_uname",
    "parse_uptime",
    "parse_zpool_list",
    "restic_fact",
    "row",
    "services_fact",
]
