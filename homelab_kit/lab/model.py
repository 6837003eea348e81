"""The lab: hosts, services and backups from one validated lab.toml.

Backup paths are derived from the services' state dirs (never listed twice). Loading imports neither
pandas nor matplotlib, so the CLI's inventory and lint commands start fast; frames import pandas
when asked for.
"""

from __future__ import annotations

import os
import threading
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InventoryError
from .schema import check_document
from .selection import Selection
from .settings import Notify, Watch
from .timespec import parse_duration, schedule_period

if TYPE_CHECKING:
    import pandas as pd

    from ..journal import Journal
    from ..transport.runner import Runner


@dataclass(frozen=True)
class Host:
    """A machine of the lab and how to reach it."""

    name: str
    address: str = "127.0.0.1"
    user: str = "root"
    port: int = 22
    os: str = "other"
    roles: tuple[str, ...] = ()
    transport: str = "ssh"
    host_key: str | None = None
    identity_file: Path | None = None
    connect_timeout: float = 10.0
    compose_dir: str | None = None
    flake: str | None = None
    build_host: str | None = None
    description: str = ""
    rto: timedelta | None = None  # the recovery time objective a drill is measured against
    postgresql: str | None = (
        None  # the PostgreSQL version the host runs (NixOS services.postgresql)
    )

    def matches(self, tag: str) -> bool:
        """`@tag` selects hosts with that role or that os."""
        return tag in self.roles or tag == self.os

    def _repr_html_(self) -> str:
        from .html import record_html

        return record_html(f"Host {self.name}", self.__dict__)


@dataclass(frozen=True)
class MigrateFrom:
    """Where a service runs today (a compose service) before it moves to its native host."""

    host: str
    compose_file: str
    compose_service: str | None = None
    puid: int | None = None
    pgid: int | None = None
    paths: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Service:
    """A service: where it runs, what it listens on, who owns it and which state it keeps."""

    name: str
    host: str
    port: int | None = None
    subdomain: str | None = None
    fqdn: str | None = None
    user: str | None = None
    group: str | None = None
    unit: str | None = None
    state_dirs: tuple[str, ...] = ()
    health: str | None = None
    image: str | None = None
    description: str = ""
    migrate_from: MigrateFrom | None = None
    relative_state_dirs: tuple[str, ...] = ()

    def _repr_html_(self) -> str:
        from .html import record_html

        return record_html(f"Service {self.name}", self.__dict__)


@dataclass(frozen=True)
class Backup:
    """A restic repository and what it must contain (the covered hosts' state dirs + extras)."""

    name: str
    host: str
    repository: str
    password_file: str | None = None
    password_command: str | None = None
    covers: tuple[str, ...] = ()
    extra_paths: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    schedule: str = "daily"
    max_age: timedelta = timedelta(hours=30)
    keep: Mapping[str, Any] = field(default_factory=dict)
    restic: str = "restic"
    tags: tuple[str, ...] = ()
    environment_file: str | None = None
    description: str = ""
    prepare: str | None = None  # the dump command the backup job runs first (backupPrepareCommand)
    stop_services: tuple[str, ...] = ()  # services the backup job stops around the snapshot
    restore_test_every: timedelta | None = None  # else [watch].restore_test_every

    @property
    def period(self) -> timedelta:
        return schedule_period(self.schedule)

    def _repr_html_(self) -> str:
        from .html import record_html

        shown = {k: v for k, v in self.__dict__.items() if k != "password_command"}
        return record_html(f"Backup {self.name}", shown)


@dataclass
class Lab:
    """The whole lab; start here: `lab = load_lab("lab.toml")`."""

    name: str
    path: Path
    hosts: Selection[Host]
    services: Selection[Service]
    backups: Selection[Backup]
    domain: str | None = None
    journal_path: Path = Path("journal.sqlite")
    cache_dir: Path = Path(".homelab-cache")
    runs_dir: Path = Path("runs")
    flake: str | None = None
    build_host: str | None = None
    known_hosts: Path | None = None
    notify: Notify = field(default_factory=Notify)
    watch: Watch = field(default_factory=Watch)
    _runners: dict[Host, Runner] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _runners_lock: Any = field(
        default_factory=threading.Lock, init=False, repr=False, compare=False
    )

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every connection this session opened (using the lab again reconnects)."""
        with self._runners_lock:
            runners, self._runners = list(self._runners.values()), {}
        for r in runners:
            if hasattr(r, "close"):  # LocalRunner holds nothing open
                r.close()

    @property
    def root(self) -> Path:
        return self.path.parent

    @classmethod
    def from_dict(cls, data: dict[str, Any], path: str | os.PathLike = "lab.toml") -> Lab:
        """Build a Lab from parsed TOML; raises InventoryError listing every problem."""
        from .build import build_lab

        return build_lab(cls, data, Path(path))

    @cached_property
    def journal(self) -> Journal:
        from ..journal import Journal

        return Journal(self.journal_path)

    def runner(self, host: str | Host) -> Runner:
        """The session's Runner for a host (one connection, reused); the lab closes it, not callers.

        A Host changed by the caller (e.g. its connect_timeout) gets a runner of its own."""
        h = host if isinstance(host, Host) else self.hosts[host]
        with self._runners_lock:
            if h not in self._runners:
                if h.transport == "local":
                    from ..transport.runner import LocalRunner

                    self._runners[h] = LocalRunner(host=h.name)
                else:
                    from ..transport.ssh import SshRunner

                    self._runners[h] = SshRunner(h, known_hosts=self.known_hosts)
            return self._runners[h]

    def on_host(self, path: str) -> tuple[str, str] | None:
        """(host, path there) for a path under <lab>/hosts/<host>/, where a local lab (the demo)
        keeps each host's disk; None for any other path."""
        try:
            rel = Path(path).resolve().relative_to(self.root.resolve() / "hosts")
        except (ValueError, OSError):
            return None
        if not rel.parts or rel.parts[0] not in self.hosts:
            return None
        return rel.parts[0], "/" + "/".join(rel.parts[1:])

    def services_on(self, host: str) -> list[Service]:
        return [s for s in self.services.values() if s.host == host]

    def covered_services(self, backup: str | Backup) -> list[Service]:
        b = backup if isinstance(backup, Backup) else self.backups[backup]
        return [s for s in self.services.values() if s.host in b.covers]

    def backup_path_rows(self) -> list[dict[str, Any]]:
        """Per backup: every covered service's state dirs, then the extra paths (derived)."""
        rows: list[dict[str, Any]] = []
        for b in self.backups.values():
            for s in self.covered_services(b):
                for p in s.state_dirs:
                    rows.append(
                        dict(backup=b.name, host=s.host, service=s.name, path=p, source="state_dir")
                    )
            for p in b.extra_paths:
                rows.append(
                    dict(backup=b.name, host=b.host, service=None, path=p, source="extra_path")
                )
        return rows

    def backup_paths(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(
            self.backup_path_rows(), columns=["backup", "host", "service", "path", "source"]
        )

    def hosts_frame(self) -> pd.DataFrame:
        return self.hosts.frame()

    def services_frame(self) -> pd.DataFrame:
        return self.services.frame()

    def backups_frame(self) -> pd.DataFrame:
        return self.backups.frame()

    def lint_findings(self) -> list[dict[str, str]]:
        from .lint import lint_lab

        return lint_lab(self)

    def lint(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(self.lint_findings(), columns=["severity", "subject", "message"])

    def run(self, argv: Sequence[str], on: str = "all", **kwargs: Any) -> Any:
        """Run argv on every selected host in parallel; a HostResults with one entry per host."""
        from ..transport.fanout import run_on

        return run_on(self, argv, on=on, **kwargs)

    def facts(self, on: str = "all", **kwargs: Any) -> pd.DataFrame:
        from ..facts.gather import gather

        return gather(self, on=on, **kwargs)

    def deploy(
        self, on: str = "all", action: str = "switch", dry_run: bool = True, **kwargs: Any
    ) -> Any:
        """A deploy plan for the selected hosts; `.execute()` runs it (see homelab_kit.deploy.planner)."""
        from ..deploy.planner import deploy_plan

        return deploy_plan(self, on=on, action=action, dry_run=dry_run, **kwargs)

    def check(
        self, on: str = "all", now: Any = None, *, notify: bool = False, heartbeat: bool = False
    ) -> Any:
        """Every unattended check as one digest (see homelab_kit.watch); a notebook sends
        notifications and heartbeats only when asked, the `check` timer always does."""
        from ..watch.run import check

        return check(self, on=on, now=now, notify=notify, heartbeat=heartbeat)

    def _repr_html_(self) -> str:
        from .html import lab_html

        return lab_html(self)


def load_lab(path: str | os.PathLike = "lab.toml") -> Lab:
    """Read and validate lab.toml; InventoryError lists every problem with file and key path."""
    p = Path(path)
    shown = display_path(p)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise InventoryError(
            f"{shown}: no such lab file; pass --lab PATH, set HOMELAB_LAB, "
            "or run `homelab-kit demo` to build the demo lab"
        ) from None
    except IsADirectoryError:
        inside = " (it has one)" if (p / "lab.toml").is_file() else ""
        raise InventoryError(
            f"{shown}: is a folder; pass the lab file itself, e.g. --lab {shown}/lab.toml{inside}"
        ) from None
    except OSError as exc:
        raise InventoryError(
            f"{shown}: cannot read: {exc.strerror}; check the path and its permissions"
        ) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise InventoryError(f"{shown}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise InventoryError(f"{shown}: invalid TOML: {exc}") from None
    return Lab.from_dict(data, p)


def display_path(p: Path) -> str:
    """A path as short as it can be said: relative to the working folder when inside it."""
    try:
        return str(p.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(p)


def check(data: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Validate parsed TOML without building (for editors and tests)."""
    return check_document(data)


__all__ = [
    "Backup",
    "Host",
    "Lab",
    "MigrateFrom",
    "Service",
    "load_lab",
    "parse_duration",
]
