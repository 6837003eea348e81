"""Test helpers for your own tests: real SSH test hosts, and FakeRunner for pure step builders.

`FakeRunner` (from transport/fake.py) answers scripted argv, records every call and fails loudly on an
unexpected command — only for tests of what a step builder sends; everything else uses real parts.

Real SSH test hosts are OpenSSH `sshd` processes on 127.0.0.x.

Each host gets its own loopback address, a free port, its own ed25519 host key and `UsePAM no`; all
share one generated client key. Sessions see `HOMELAB_TEST_HOST=<name>`, a clean $HOME of their own and the host's own bin dir
first on PATH, so a test can give one host a fake tool (`host.add_script("nixos-rebuild", ...)`). `entries()` returns lab.toml-shaped host tables (host key pinned), so
`Lab.from_dict(fleet.lab_dict())` drives them like real machines. Use as a context manager:

    with start_ssh_hosts(3, tmp_path) as fleet:
        lab = Lab.from_dict(fleet.lab_dict(), path=tmp_path / "lab.toml")

or, in pytest, the `ssh_hosts` fixture (module scope, 3 hosts) and the `ssh_hosts_factory` fixture
(session scope; `ssh_hosts_factory(count)`), registered with `pytest_plugins = ["homelab_kit.testing"]`.
Needs root or an sshd that may run as you; `/run/sshd` is created when missing.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import signal
import socket
import subprocess
import time
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .transport.fake import Call, FakeRunner

SSHD = "/usr/sbin/sshd"
SSH_KEYGEN = "ssh-keygen"
START_TIMEOUT = 10.0

SSHD_CONFIG = """\
ListenAddress {address}:{port}
HostKey {host_key}
AuthorizedKeysFile {authorized_keys}
PidFile none
UsePAM no
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowUsers {user}
MaxStartups 100:30:200
MaxSessions 100
LoginGraceTime 30
LogLevel INFO
Subsystem sftp internal-sftp
SetEnv HOMELAB_TEST_HOST={name} HOME={home} PATH={bin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
"""


def keygen(path: Path, comment: str = "homelab-kit-test") -> Path:
    """A fresh passphrase-less ed25519 key pair at path (+ .pub)."""
    for p in (path, path.with_name(path.name + ".pub")):
        p.unlink(missing_ok=True)
    subprocess.run(
        [SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True,
        capture_output=True,
    )
    return path


def free_port(address: str) -> int:
    with socket.socket() as s:
        s.bind((address, 0))
        return s.getsockname()[1]


def _children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        kids.setdefault(ppid, []).append(int(entry))
    return kids


def descendants(pid: int) -> list[int]:
    """Every process below pid (sshd's per-connection children call setsid, so groups don't work)."""
    kids, out, todo = _children_map(), [], [pid]
    while todo:
        for child in kids.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def open_connections(ports: Collection[int]) -> int:
    """How many of this process's sockets are established TCP connections to these ports.

    For tests that no connection is left open (read from /proc/self/fd and /proc/self/net/tcp).
    """
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/self/fd/{fd}")
            if target.startswith("socket:["):
                inodes.add(target[len("socket:[") : -1])
    found = 0
    for line in Path("/proc/self/net/tcp").read_text().splitlines()[1:]:
        cols = line.split()
        remote_port, state, inode = int(cols[2].split(":")[1], 16), cols[3], cols[9]
        found += state == "01" and remote_port in ports and inode in inodes  # 01: ESTABLISHED
    return found


@dataclass
class SshTestHost:
    """One real sshd on a loopback address; start/stop/kill it, rotate its host key."""

    name: str
    address: str
    directory: Path
    client_key: Path
    user: str = field(default_factory=getpass.getuser)
    port: int = 0
    process: subprocess.Popen | None = None
    sshd_options: str = ""  # sshd_config lines put first (sshd keeps a keyword's first value)

    @property
    def host_key_path(self) -> Path:
        return self.directory / "ssh_host_ed25519_key"

    @property
    def host_key(self) -> str:
        """The public host key as pinned in lab.toml ('ssh-ed25519 AAAA...')."""
        return " ".join(self.host_key_path.with_suffix(".pub").read_text().split()[:2])

    @property
    def log_path(self) -> Path:
        return self.directory / "sshd.log"

    @property
    def bin_dir(self) -> Path:
        """First on PATH in this host's sessions: put fake tools (`nixos-rebuild`, ...) here."""
        return self.directory / "bin"

    def add_script(self, name: str, body: str) -> Path:
        """An executable `#!/bin/sh` script on this host's PATH (only this host sees it)."""
        self.bin_dir.mkdir(parents=True, exist_ok=True)
        path = self.bin_dir / name
        path.write_text("#!/bin/sh\n" + body.strip() + "\n")
        path.chmod(0o755)
        return path

    def entry(self, **extra: Any) -> dict[str, Any]:
        """This host as a [hosts.NAME] table of lab.toml (pinned key, test client key)."""
        return {
            "address": self.address,
            "port": self.port,
            "user": self.user,
            "transport": "ssh",
            "os": "debian",
            "host_key": self.host_key,
            "identity_file": str(self.client_key),
            "connect_timeout": 5.0,
            **extra,
        }

    def setup(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.bin_dir.mkdir(exist_ok=True)
        (self.directory / "home").mkdir(exist_ok=True)  # clean $HOME: no dotfiles of the tester
        if not self.host_key_path.exists():
            keygen(self.host_key_path, f"{self.name}-host")
        pub = self.client_key.with_name(self.client_key.name + ".pub").read_text()
        (self.directory / "authorized_keys").write_text(pub)

    def start(self) -> SshTestHost:
        """Start sshd (-D -e) and wait until it listens; raises RuntimeError with its log."""
        self.setup()
        with contextlib.suppress(OSError):
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # privilege separation dir
        self.port = self.port or free_port(self.address)
        config = self.directory / "sshd_config"
        config.write_text(
            self.sshd_options.strip()
            + "\n"
            + SSHD_CONFIG.format(
                address=self.address,
                port=self.port,
                host_key=self.host_key_path,
                authorized_keys=self.directory / "authorized_keys",
                user=self.user,
                name=self.name,
                bin=self.bin_dir,
                home=self.directory / "home",
            )
        )
        log = self.log_path.open("ab")
        offset = log.tell()  # on restart, only this start's lines count
        self.process = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"sshd for {self.name} exited: {self.log_path.read_text()[-2000:]}"
                )
            with self.log_path.open("rb") as f:
                f.seek(offset)
                started = f"listening on {self.address} port {self.port}".encode() in f.read()
            if started:
                return self
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"sshd for {self.name} did not start within {START_TIMEOUT}s")

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """Kill sshd and every session below it at once (a host dying mid-command)."""
        if self.process is None:
            return
        pids = [self.process.pid, *descendants(self.process.pid)]
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait()
        self.process = None

    def stop(self) -> None:
        """Stop sshd and any command still running in its sessions."""
        if self.process is None:
            return
        sessions = descendants(self.process.pid)  # once sshd is gone they belong to init
        self.process.terminate()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            pass
        self.kill()
        for pid in sessions:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)

    def rotate_host_key(self) -> str:
        """Give the host a new key (as a reinstall would) and restart it; returns the new key."""
        self.stop()
        keygen(self.host_key_path, f"{self.name}-host-rotated")
        self.start()
        return self.host_key


@dataclass
class SshTestFleet:
    """Several SshTestHosts sharing one client key; a context manager that stops them all."""

    hosts: list[SshTestHost]
    client_key: Path
    directory: Path

    def __iter__(self) -> Iterator[SshTestHost]:
        return iter(self.hosts)

    def __len__(self) -> int:
        return len(self.hosts)

    def __getitem__(self, key: int | str) -> SshTestHost:
        if isinstance(key, int):
            return self.hosts[key]
        return next(h for h in self.hosts if h.name == key)

    def entries(self, **extra: Any) -> dict[str, dict[str, Any]]:
        """{name: host table} for lab.toml's [hosts] / Lab.from_dict."""
        return {h.name: h.entry(**extra) for h in self.hosts}

    def lab_dict(self, name: str = "testlab", **sections: Any) -> dict[str, Any]:
        """A minimal lab document with these hosts (add services/backups as keyword sections)."""
        return {"lab": {"name": name}, "hosts": self.entries(), **sections}

    def stop(self) -> None:
        for h in self.hosts:
            h.stop()

    def __enter__(self) -> SshTestFleet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_ssh_hosts(
    count: int, directory: str | os.PathLike, *, prefix: str = "host", first: int = 2
) -> SshTestFleet:
    """Start `count` sshd hosts named prefix1.. on 127.0.0.<first>.. under directory."""
    base = Path(directory)
    base.mkdir(parents=True, exist_ok=True)
    client_key = keygen(base / "client_key", "homelab-kit-test-client")
    hosts = [
        SshTestHost(
            f"{prefix}{i + 1}", f"127.0.0.{first + i}", base / f"{prefix}{i + 1}", client_key
        )
        for i in range(count)
    ]
    fleet = SshTestFleet(hosts, client_key, base)
    try:
        for h in hosts:
            h.start()
    except BaseException:
        fleet.stop()
        raise
    return fleet


try:
    import pytest
except ImportError:  # pytest is only needed for the fixtures
    pytest = None  # type: ignore[assignment]

if pytest is not None:

    @pytest.fixture(scope="module")
    def ssh_hosts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshTestFleet]:
        """Three real sshd hosts for the test module; stopped afterwards."""
        with start_ssh_hosts(3, tmp_path_factory.mktemp("sshd")) as fleet:
            yield fleet

    @pytest.fixture(scope="session")
    def ssh_hosts_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
        """`make(count, prefix="host")` → a started SshTestFleet; all stopped at session end."""
        fleets: list[SshTestFleet] = []

        def make(count: int = 3, prefix: str = "host") -> SshTestFleet:
            fleet = start_ssh_hosts(count, tmp_path_factory.mktemp(f"sshd-{prefix}"), prefix=prefix)
            fleets.append(fleet)
            return fleet

        yield make
        for fleet in fleets:
            fleet.stop()


__all__ = [
    "Call",
    "FakeRunner",
    "SshTestFleet",
    "SshTestHost",
    "descendants",
    "free_port",
    "keygen",
    "open_connections",
    "start_ssh_hosts",
]
