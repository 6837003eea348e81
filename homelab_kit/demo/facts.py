"""The demo's disk-usage history, in exactly the shape facts.py records, for capacity planning.

One filesystem fills within a year (the NAS's /volume1), one is flat (n100's /), one has a one-off
spike (the desktop's /, a big download deleted the next day); n100 also has a slowly growing ZFS pool.
"""

from __future__ import annotations

import random
from typing import Any

from ..facts.gather import row

GB = 1_000_000_000
SPIKE_DAY = 70

OS = {
    "n100": {"PRETTY_NAME": "NixOS 24.05 (Uakari)", "ID": "nixos", "VERSION_ID": "24.05"},
    "desk": {"PRETTY_NAME": "NixOS 24.05 (Uakari)", "ID": "nixos", "VERSION_ID": "24.05"},
    "nas": {"PRETTY_NAME": "Debian GNU/Linux 12 (bookworm)", "ID": "debian", "VERSION_ID": "12"},
}
HARDWARE = {"n100": (4, 16), "desk": (16, 32), "nas": (4, 8)}  # cpus, GiB of RAM


def _fs(
    device: str, fstype: str, mount: str, size: int, used: int, reserved: float = 0.0
) -> dict[str, Any]:
    avail = max(int(size * (1 - reserved)) - used, 0)
    return {
        "filesystem": device,
        "type": fstype,
        "size": size,
        "used": used,
        "available": avail,
        "mount": mount,
    }


def filesystems(host: str, day: int, rng: random.Random) -> list[dict[str, Any]]:
    """df's rows (bytes) for one host on one day of the history."""
    noise = int(rng.gauss(0, 0.15) * GB)
    if host == "n100":
        return [
            _fs("/dev/nvme0n1p2", "ext4", "/", 250 * GB, 48 * GB + noise, 0.05),
            _fs("/dev/nvme0n1p1", "vfat", "/boot", 1 * GB, 180_000_000),
        ]
    if host == "desk":
        spike = 180 * GB if day == SPIKE_DAY else 0
        return [
            _fs(
                "/dev/nvme0n1p2",
                "ext4",
                "/",
                1000 * GB,
                420 * GB + day * GB // 10 + spike + noise,
                0.05,
            )
        ]
    # nas: 8 GB/day onto a 7.8 TB volume that is already two-thirds full -> full within a year
    return [
        _fs("/dev/md0", "ext4", "/", 8 * GB, int(2.1 * GB) + noise // 20),
        _fs("/dev/md2", "btrfs", "/volume1", 7800 * GB, 5100 * GB + day * 8 * GB + 4 * noise),
    ]


def zpools(host: str, day: int, rng: random.Random) -> list[dict[str, Any]] | None:
    """`zpool list -Hp` rows on n100 (media pool, slow growth); None where ZFS is absent."""
    if host != "n100":
        return None
    size = 3_600 * GB
    alloc = 1_200 * GB + day * 2 * GB + int(rng.gauss(0, 0.5) * GB)
    return [
        {"name": "tank", "size": size, "allocated": alloc, "free": size - alloc, "checkpoint": None,
         "expandsize": None, "fragmentation": 3, "capacity": alloc * 100 // size, "dedupratio": 1.0,
         "health": "ONLINE", "altroot": None}
    ]  # fmt: skip


def facts(
    host: str, day: int, rng: random.Random, units: list[str], restic_version: str
) -> dict[str, Any]:
    """One gathering for one host, as facts.gather() records it (its row minus the host)."""
    cpus, ram = HARDWARE[host]
    values: dict[str, Any] = {
        "os_release": OS[host],
        "kernel": {"kernel_name": "Linux", "kernel": "6.6.41", "arch": "x86_64"},
        "uptime": float((day % 30) * 86400 + 3600),
        "cpus": cpus,
        "load": [round(rng.uniform(0.05, 1.5), 2)] * 3,
        "memory": {
            "mem_total": ram * 2**30,
            "mem_available": int(ram * 2**30 * rng.uniform(0.3, 0.7)),
            "swap_total": 0,
            "swap_free": 0,
        },  # fmt: skip
        "filesystems": filesystems(host, day, rng),
        "zpools": zpools(host, day, rng),
        "failed_units": [],
        "restic_version": restic_version,
    }
    if units:
        values["services"] = {
            u: {"load": "loaded", "active": "active", "sub": "running"} for u in units
        }
    out = row(host, values, {})
    out.pop("host")
    return out
