"""One day of the demo's history: the NixOS config, the compose file and every service's changes.

`grow(disk, day, ...)` applies what that day added (services.py says what each service writes),
and plants the day restic cannot read a file (exit 3). Deterministic for a given seed; times come
from the simulated day.
"""

from __future__ import annotations

import random
from datetime import datetime

from .data import (
    ADDED_DAY,
    COMPOSE_DIR,
    COMPOSE_YML,
    PGID,
    PUID,
    SERVICES,
    Disk,
    blob,
    when,
)
from .services import DAILY

PARTIAL_DAY = 62  # the day restic could not read some files (exit 3)
UNREADABLE = "hosts/n100/var/lib/hass/.storage/core.restore_state.tmp"


def nixos_config(day: int) -> str:
    enabled = [s for s in SERVICES if s.host == "n100" and not s.migrate and day >= s.added]
    body = "\n".join(f"  services.{s.name}.enable = true;" for s in enabled)
    dirs = " ".join(f'"/{s.state}"' for s in enabled)
    return (
        "{ config, pkgs, ... }:\n{\n  imports = [ ./hardware-configuration.nix ];\n"
        '  networking.hostName = "n100";\n  system.stateVersion = "24.05";\n'
        f"{body}\n  homelab.backup.stateDirs = [ {dirs} ];\n}}\n"
    )


def grow(disk: Disk, day: int, day0: datetime, rng: random.Random) -> None:
    """Apply one day of life to every service that exists on that day."""
    at = when(day0, day, 12 + rng.random() * 8)
    if day == 0 or day == ADDED_DAY:
        disk.write("hosts/n100/etc/nixos/configuration.nix", nixos_config(day), at)
        disk.write("hosts/n100/etc/nixos/hardware-configuration.nix",
                   '{ ... }: { fileSystems."/".device = "/dev/nvme0n1p2"; }\n', at)  # fmt: skip
    if day == 0:
        disk.write(
            f"hosts/nas/{COMPOSE_DIR}/docker-compose.yml", COMPOSE_YML, at, uid=PUID, gid=PGID
        )
        for d in ("paperless/consume", "paperless/export"):
            (disk.root / f"hosts/nas/{COMPOSE_DIR}/{d}").mkdir(parents=True, exist_ok=True)
    for fn in DAILY:
        fn(disk, day, at, rng)
    unreadable = disk.root / UNREADABLE
    if day == PARTIAL_DAY:
        disk.write(UNREADABLE, blob(rng, 2048), at, mode=0o000)
    elif unreadable.exists():
        unreadable.unlink()
