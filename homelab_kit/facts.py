"""Facts about hosts, pyinfra-style: each fact is a command (argv) plus a pure parser.

`gather(lab)` runs every fact on every selected host in parallel (one SSH connection per host) and
returns one DataFrame row per host; a fact that fails becomes a value in the `errors` column, never
an exception. Each host's facts are also recorded in the journal, so capacity planning has history.
A tool that is not installed (exit 127, e.g. `zpool` without ZFS) makes its fact None, not an error.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .errors import ExecError

if TYPE_CHECKING:
    import pandas as pd

    from .inventory import Lab
    from .runner import Result, Runner

FACT_TIMEOUT = 30.0
PSEUDO_FS = frozenset(
    [
        "tmpfs",
        "devtmpfs",
        "squashfs",
        "efivarfs",
        "ramfs",
        "proc",
        "sysfs",
        "cgroup",
        "cgroup2",
        "nsfs",
        "autofs",
        "devfs",
        "fuse.lxcfs",
        "fuse.portal",
        "fuse.gvfsd-fuse",
    ]
)
ZPOOL_COLUMNS = (
    "name", "size", "allocated", "free", "checkpoint", "expandsize",
    "fragmentation", "capacity", "dedupratio", "health", "altroot",
)  # fmt: skip


class FactError(ExecError):
    """A fact's command ran but its output or exit code made no sense."""


# -- pure parsers (tested with recorded real output in tests/fixtures/facts) -------------------


def parse_os_release(text: str) -> dict[str, str]:
    """/etc/os-release: KEY=value lines, values shell-quoted."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        try:
            words = shlex.split(value)
        except ValueError:
            words = [value.strip("\"'")]
        out[key] = " ".join(words)
    return out


def parse_uname(text: str) -> dict[str, str]:
    """`uname -s -r -m` → kernel name, release, machine."""
    parts = text.split()
    if len(parts) != 3:
        raise FactError(f"unexpected uname output: {text.strip()!r}")
    return {"kernel_name": parts[0], "kernel": parts[1], "arch": parts[2]}


def parse_uptime(text: str) -> float:
    """/proc/uptime → seconds since boot."""
    return float(text.split()[0])


def parse_nproc(text: str) -> int:
    return int(text.strip())


def parse_loadavg(text: str) -> list[float]:
    """/proc/loadavg → [1 min, 5 min, 15 min]."""
    return [float(x) for x in text.split()[:3]]


def parse_meminfo(text: str) -> dict[str, int]:
    """/proc/meminfo → bytes for the lines that matter (MemTotal, MemAvailable, Swap*)."""
    wanted = {
        "MemTotal": "mem_total",
        "MemAvailable": "mem_available",
        "SwapTotal": "swap_total",
        "SwapFree": "swap_free",
    }
    out: dict[str, int] = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key in wanted:
            value = rest.split()
            out[wanted[key]] = int(value[0]) * (1024 if value[1:] == ["kB"] else 1)
    return out


def parse_df(text: str, *, include_pseudo: bool = False) -> list[dict[str, Any]]:
    """`df -P -B1 -T` → one dict per filesystem (sizes in bytes); pseudo filesystems dropped."""
    rows = []
    for line in text.splitlines()[1:]:
        parts = line.split()
        if len(parts) < 7:
            continue
        fs, ftype, size, used, avail, _cap = parts[:6]
        mount = line.split(None, 6)[6]
        if not include_pseudo and (ftype in PSEUDO_FS or (ftype == "overlay" and mount != "/")):
            continue
        rows.append(
            {
                "filesystem": fs,
                "type": ftype,
                "size": int(size),
                "used": int(used),
                "available": int(avail),
                "mount": mount,
            }
        )
    return rows


def _zpool_value(key: str, value: str) -> Any:
    if value == "-":
        return None
    if key in (
        "size",
        "allocated",
        "free",
        "checkpoint",
        "expandsize",
        "fragmentation",
        "capacity",
    ):
        return int(value.rstrip("%"))
    if key == "dedupratio":
        return float(value.rstrip("x"))
    return value


def parse_zpool_list(text: str) -> list[dict[str, Any]]:
    """`zpool list -Hp` (default columns, tab-separated, exact numbers) → one dict per pool.

    OpenZFS ≥ 0.8 prints 11 columns; older ZFS on Linux lacks `checkpoint` (10 columns).
    """
    pools = []
    for line in text.splitlines():
        if not line.strip():
            continue
        values = line.split("\t")
        keys = (
            ZPOOL_COLUMNS
            if len(values) == 11
            else tuple(k for k in ZPOOL_COLUMNS if k != "checkpoint")
        )
        if len(values) != len(keys):
            raise FactError(f"unexpected `zpool list -Hp` line: {line!r}")
        pools.append({k: _zpool_value(k, v) for k, v in zip(keys, values)})
    return pools


def parse_failed_units(text: str) -> list[str]:
    """`systemctl list-units --failed --plain --no-legend` → unit names (older systemd adds ●)."""
    units = []
    for line in text.splitlines():
        parts = line.replace("●", " ").split()
        if parts:
            units.append(parts[0])
    return units


def parse_systemctl_show(text: str) -> dict[str, dict[str, str]]:
    """`systemctl show -p Id,LoadState,ActiveState,SubState U...` → {unit: {load, active, sub}}."""
    units: dict[str, dict[str, str]] = {}
    for block in text.strip().split("\n\n"):
        props = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        if "Id" in props:
            units[props["Id"]] = {
                "load": props.get("LoadState", ""),
                "active": props.get("ActiveState", ""),
                "sub": props.get("SubState", ""),
            }
    return units


def parse_restic_version(text: str) -> str:
    """`restic version` → '0.14.0'."""
    parts = text.split()
    if len(parts) < 2 or parts[0] != "restic":
        raise FactError(f"unexpected `restic version` output: {text.strip()[:80]!r}")
    return parts[1]


# -- facts: command + parser ---------------------------------------------------------------------


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

    from .errors import ConnectError

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


def facts_for(lab: Lab, host: str) -> list[Fact]:
    """The facts to gather on one host: the common ones, its services' units, its restic."""
    facts = list(FACTS)
    units = [s.unit for s in lab.services_on(host) if getattr(s, "unit", None)]
    if units:
        facts.append(services_fact(units))
    restics = [b.restic for b in lab.backups.values() if b.host == host]
    facts.append(restic_fact(restics[0] if restics else "restic"))
    return facts


def gather(
    lab: Lab,
    on: str | Sequence[str] = "all",
    now: datetime | None = None,
    *,
    parallel: int = 16,
    connect_timeout: float | None = None,
    progress: bool = True,
    record: bool = True,
) -> pd.DataFrame:
    """Facts of every selected host in parallel: one row per host, errors as values.

    Each host's row is also recorded (timestamped `now`) with `lab.journal.record_facts`.
    """
    import pandas as pd

    from .fanout import host_runner, map_hosts

    at = now or datetime.now(UTC)
    names = list(lab.hosts.select(on))

    def task(name: str) -> dict[str, Any]:
        runner = host_runner(lab, name, connect_timeout)
        try:
            return host_facts(runner, facts_for(lab, name))
        finally:
            close = getattr(runner, "close", None)
            if close:
                close()

    outcomes = map_hosts(names, task, parallel=parallel, progress=progress, desc="facts")
    rows = []
    for name, out in outcomes.items():
        got = out.value or {"values": {}, "errors": {}}
        r = row(name, got["values"], got["errors"], status=out.status, error=out.error)
        rows.append(r)
        if record:
            lab.journal.record_facts(name, {k: v for k, v in r.items() if k != "host"}, at)
    df = pd.DataFrame(rows)
    df.insert(1, "at", pd.Timestamp(at))
    return df
