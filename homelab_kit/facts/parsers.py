"""Pure parsers for the facts' command output (text in, values out; no I/O).

Tested with recorded real output in tests/fixtures/facts; facts.py pairs each with its command.
"""

from __future__ import annotations

import shlex
from typing import Any

from ..errors import ExecError

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
