"""The lab-wide settings tables: `[notify]` (who hears about problems) and `[watch]` (how often and
how strictly the unattended checks run). Plain data; the watch room acts on them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

LEVELS = ("warn", "fail")  # the lowest status a notification is sent for


@dataclass(frozen=True)
class Notify:
    """Where notifications go (apprise URLs, or a file / command that prints them) and the
    dead-man heartbeat pinged after every check. URLs are secrets: never shown unredacted."""

    urls: tuple[str, ...] = field(default=(), repr=False)
    urls_file: str | None = None
    urls_command: str | None = field(default=None, repr=False)
    heartbeat: str | None = field(default=None, repr=False)
    remind: timedelta | None = timedelta(days=1)
    level: str = "warn"

    @property
    def configured(self) -> bool:
        return bool(self.urls or self.urls_file or self.urls_command)


@dataclass(frozen=True)
class Watch:
    """Schedules of the generated timers and the thresholds of `homelab-kit check`."""

    check: str = "hourly"
    restore_test: str = "monthly"
    capacity: str = "weekly"
    randomized_delay: timedelta | None = None  # default: a tenth of the period, at most 1h
    restore_test_every: timedelta = timedelta(days=35)
    capacity_warn: timedelta = timedelta(days=30)
    size_drop: float = 0.5  # newest snapshot smaller than (1 - size_drop) × usual → failing
    record_facts: bool = True
