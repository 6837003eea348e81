"""SSH transport: SshRunner over fabric Connections and paramiko channels.

ssh.py, channel.py and hostkeys.py are the only modules importing paramiko (fabric only here).
Host keys are pinned (`host_key` in lab.toml) or known (known_hosts), never auto-added: fabric's
default AutoAddPolicy is replaced by hostkeys.trusting_client's policy, which refuses with the offered key's
type, SHA256 fingerprint and the exact `host_key = "..."` line to pin after checking it. argv is
joined with `shlex.join` here, at the very edge, so hostile values stay one literal argument.
One runner keeps one connection, shared by every thread and reopened when the host dropped it;
the Lab session owns the runners (lab/model.py) and closes them.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import paramiko
from fabric import Config, Connection

from ..errors import AuthError, CommandTimeout, ConnectError, HostKeyError
from .channel import drain, send_signal, shutdown_write
from .hostkeys import changed_key_error, trust_source, trusting_client
from .runner import Result

DEFAULT_KNOWN_HOSTS = Path("~/.ssh/known_hosts")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_POLL = 0.01
# Commands at once on one connection: sshd's MaxSessions defaults to 10; this leaves room for SFTP
# and for the channel that kills a timed-out command.
MAX_CHANNELS = 8
SLOT_WAIT = 5.0
# seconds between asks for a session sshd refused (it is busy tidying up closed ones)
_REFUSED_WAITS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)
# With a timeout, the command reports its PID (= its process group on OpenSSH) on stderr first, so a
# timed-out command can be killed even where the SSH "signal" request is refused (root logins).
_PID_TAG = "homelab-kit-pid:"
_PID_WRAP = ("sh", "-c", f'echo "{_PID_TAG}$$" >&2; exec "$@"', "sh")


class SshRunner:
    """Runs argv on one inventory host over SSH (fabric Connection, paramiko channels)."""

    def __init__(
        self,
        host: Any,
        *,
        known_hosts: str | os.PathLike | None = None,
        connect_timeout: float | None = None,
    ) -> None:
        self.spec = host
        self.host: str = host.name
        self.known_hosts = Path(known_hosts or DEFAULT_KNOWN_HOSTS).expanduser()
        self.connect_timeout = float(connect_timeout or getattr(host, "connect_timeout", 10.0))
        self._conn: Connection | None = None
        self._closer: Callable[[], object] = lambda: None
        self._lock = threading.Lock()  # guards _conn: one thread (re)connects, the others wait
        self._sftp_lock = threading.Lock()  # fabric keeps one SFTP client per connection
        self._slots = threading.BoundedSemaphore(MAX_CHANNELS)

    def __repr__(self) -> str:
        s = self.spec
        return f"<SshRunner {self.host} {s.user}@{s.address}:{s.port}>"

    def __enter__(self) -> SshRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- connecting ----------------------------------------------------------------------------

    def connection(self) -> Connection:
        """The open fabric Connection (connects on first use, reconnects after close or a drop)."""
        return self._connection()[0]

    def _connection(self) -> tuple[Connection, bool]:
        """(the open Connection, whether this call opened it).

        Threads share the connection; the lock makes sure only one of them (re)connects. A failed
        connect leaves nothing behind, so a rejected host key or key is tried afresh next time.
        """
        with self._lock:
            if self._conn is not None and self._conn.is_connected:
                return self._conn, False
            if self._conn is not None:  # dropped by the host: free its socket and thread
                self._closer()
            self._conn = None
            conn = self._connect()
            self._conn = conn
            # closes the connection when the runner is collected, or at exit if nobody did
            self._closer = weakref.finalize(self, conn.close)
            return conn, True

    def _connect(self) -> Connection:
        s = self.spec
        t = self.connect_timeout
        kwargs: dict[str, Any] = dict(
            timeout=t, banner_timeout=t, auth_timeout=t, channel_timeout=t
        )
        if s.identity_file:
            path = Path(s.identity_file).expanduser()
            if not path.is_file():
                raise AuthError(
                    f"{s.name}: identity_file {path} does not exist; fix hosts.{s.name}.identity_file"
                )
            kwargs.update(key_filename=[str(path)], look_for_keys=False, allow_agent=False)
        conn = Connection(
            s.address,
            user=s.user,
            port=int(s.port),
            config=Config(overrides={"load_ssh_configs": False}),
            connect_kwargs=kwargs,
        )
        conn.client = trusting_client(s, self.known_hosts)
        try:
            try:
                conn.open()
            except BaseException:
                conn.client.close()  # fabric's close() skips a client whose connect failed half-way
                raise
        except HostKeyError:
            raise
        except paramiko.BadHostKeyException as exc:
            raise changed_key_error(s, exc, trust_source(s, self.known_hosts)) from None
        except paramiko.AuthenticationException as exc:
            raise AuthError(
                f"{s.name}: {s.user}@{s.address}:{s.port} refused our key ({exc}); check "
                f"hosts.{s.name}.identity_file / user and the host's authorized_keys"
            ) from None
        except (paramiko.SSHException, EOFError, OSError) as exc:
            raise ConnectError(
                f"{s.name}: cannot connect to {s.address}:{s.port}: {exc or type(exc).__name__}; "
                f"check the host is up and hosts.{s.name}.address/port"
            ) from None
        return conn

    def close(self) -> None:
        """Close the connection (the next command reconnects)."""
        with self._lock:
            self._conn = None
            self._closer()

    def _drop(self, transport: paramiko.Transport | None) -> None:
        """Forget the connection a command found dead, unless another thread already replaced it."""
        with self._lock:
            if self._conn is not None and self._conn.transport in (transport, None):
                self._conn = None
                self._closer()

    # -- commands ------------------------------------------------------------------------------

    def full_argv(
        self, argv: Sequence[str], *, sudo: bool = False, env: Mapping[str, str] | None = None
    ) -> list[str]:
        """argv with the `sudo -n --` and `env K=V` prefixes it needs (still a list)."""
        if not argv:
            raise ValueError("empty argv")
        parts = [str(a) for a in argv]
        if env:
            bad = [k for k in env if not _ENV_NAME.match(k)]
            if bad:
                raise ValueError(f"invalid environment variable name(s): {', '.join(bad)}")
            parts = ["env", *(f"{k}={v}" for k, v in env.items()), *parts]
        if sudo and self.spec.user != "root":
            parts = ["sudo", "-n", "--", *parts]
        return parts

    @staticmethod
    def command_line(parts: Sequence[str], cwd: str | None = None) -> str:
        """The one shell line sent to the host: every part quoted with shlex.join."""
        line = shlex.join(parts)
        return f"cd -- {shlex.quote(cwd)} && {line}" if cwd else line

    def _open(self, command: str) -> paramiko.Channel:
        """A channel running command; until the channel is open the host has run nothing, so:

        a session refused on a live link is asked for again (sshd counts closed sessions against
        MaxSessions until it has tidied them up), and a shared connection found dead or unresponsive
        is reopened once.
        """
        waits = iter(_REFUSED_WAITS)
        reopened = False
        while True:
            conn, fresh = self._connection()
            try:
                chan = conn.transport.open_session()
                break
            except (paramiko.SSHException, EOFError, OSError) as exc:
                # paramiko keeps one "last error" per connection, so a refusal can reach another
                # thread as a plain SSHException: the link's state decides (EOFError/OSError: the
                # socket itself failed; a timeout: the link does not answer)
                refused = (
                    isinstance(exc, paramiko.SSHException)
                    and conn.transport.is_active()
                    and not str(exc).startswith("Timeout")
                )
                wait = next(waits, None) if refused else None
                if wait is not None:
                    time.sleep(wait)
                    continue
                if refused:
                    raise ConnectError(
                        f"{self.host}: the host refused a new session ({exc}); check sshd's "
                        "MaxSessions"
                    ) from None
                self._drop(conn.transport)
                if fresh or reopened:
                    raise ConnectError(f"{self.host}: cannot start a command: {exc}") from None
                reopened = True
        try:
            chan.exec_command(command)
        except (paramiko.SSHException, EOFError, OSError) as exc:
            chan.close()
            self._drop(conn.transport)
            raise ConnectError(f"{self.host}: cannot start a command: {exc}") from None
        return chan

    @contextlib.contextmanager
    def _channel(self, command: str) -> Iterator[paramiko.Channel]:
        """A channel running command, closed afterwards; MAX_CHANNELS at once, as a rule.

        A command that waited SLOT_WAIT seconds goes ahead anyway (sshd may allow more, and asking
        again is what _open does): commands that wait for each other never deadlock on a slot.
        """
        slot = self._slots.acquire(timeout=SLOT_WAIT)
        try:
            chan = self._open(command)
            try:
                yield chan
            finally:
                chan.close()
        finally:
            if slot:
                self._slots.release()

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float | None = None,
        sudo: bool = False,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        stdin: str | bytes | None = None,
    ) -> Result:
        """Run argv; Result with exit code and output. CommandTimeout kills the remote command."""
        parts = self.full_argv(argv, sudo=sudo, env=env)
        wire = parts if timeout is None else [*_PID_WRAP, *parts]
        command = self.command_line(wire, cwd)
        start = time.monotonic()
        deadline = None if timeout is None else start + timeout
        out, err = io.BytesIO(), io.BytesIO()
        with self._channel(command) as chan:
            if stdin is not None:
                chan.sendall(stdin.encode() if isinstance(stdin, str) else stdin)
            shutdown_write(chan)
            try:
                self._collect(chan, out, err, deadline, shlex.join(parts), timeout)
            except CommandTimeout:
                self._kill_remote(err.getvalue(), sudo)
                raise
            code = chan.recv_exit_status() if chan.exit_status_ready() else -1
        stderr = err.getvalue().decode(errors="replace")
        if timeout is not None and stderr.startswith(_PID_TAG):
            stderr = stderr.partition("\n")[2]
        if code == -1:
            code, stderr = (
                255,
                stderr
                + "\n[homelab-kit] the command ended without an exit status (killed by a signal?)",
            )
        return Result(
            self.host,
            tuple(parts),
            code,
            out.getvalue().decode(errors="replace"),
            stderr,
            time.monotonic() - start,
        )

    def _collect(
        self,
        chan: paramiko.Channel,
        out: IO[bytes],
        err: IO[bytes],
        deadline: float | None,
        command: str,
        timeout: float | None,
    ) -> None:
        """Read stdout/stderr until EOF and the exit status, the deadline passes or the link dies.

        Whether the command ended is read *before* draining: paramiko buffers every data packet
        before it marks EOF or close, so the drain after seeing either gets every byte. (Checking
        after the drain lost output that arrived in between, e.g. under CPU load.)
        """
        while True:
            closed = chan.closed
            ended = chan.eof_received or closed
            got = drain(chan, out, err, to_eof=ended)
            if ended and chan.exit_status != -1:  # paramiko: -1 until an exit-status arrives
                return
            if closed:  # closed without a status: the link died, or a signal killed it
                transport = chan.get_transport()
                if transport is not None and not chan.eof_received:
                    # no EOF: the link died; paramiko closes the channels just before it
                    # marks the transport inactive, so give it a moment to say so
                    end = time.monotonic() + 2
                    while transport.is_active() and time.monotonic() < end:
                        time.sleep(_POLL)
                if transport is None or not transport.is_active():
                    self._drop(transport)
                    raise ConnectError(f"{self.host}: connection lost while running `{command}`")
                return
            if deadline is not None and time.monotonic() > deadline:
                send_signal(chan, "KILL")
                raise CommandTimeout(f"{self.host}: `{command}` did not finish within {timeout:g}s")
            if not got:
                chan.status_event.wait(_POLL)

    def _kill_remote(self, err: bytes, sudo: bool) -> None:
        """Kill a timed-out command's process group by the PID it reported (best effort)."""
        first = err.decode(errors="replace").partition("\n")[0]
        if not first.startswith(_PID_TAG) or not first[len(_PID_TAG) :].isdigit():
            return
        pid = int(first[len(_PID_TAG) :])
        killer = ["sh", "-c", f"kill -9 -{pid} 2>/dev/null || kill -9 {pid}"]
        with contextlib.suppress(Exception):
            chan = self._open(self.command_line(self.full_argv(killer, sudo=sudo)))
            try:
                shutdown_write(chan)
                sink = io.BytesIO()
                self._collect(chan, sink, sink, time.monotonic() + 5, "kill", 5)
            finally:
                chan.close()

    @contextlib.contextmanager
    def stream(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        sudo: bool = False,
        cwd: str | None = None,
    ) -> Iterator[IO[bytes]]:
        """Yield the command's stdout as a binary stream; raise CommandFailed afterwards if it failed."""
        parts = self.full_argv(argv, sudo=sudo, env=env)
        command = self.command_line(parts, cwd)
        start = time.monotonic()
        with self._channel(command) as chan:
            shutdown_write(chan)
            err = io.BytesIO()
            errf = chan.makefile_stderr("rb")
            drain = threading.Thread(target=lambda: err.write(errf.read()), daemon=True)
            drain.start()
            stdout = chan.makefile("rb")
            try:
                yield stdout
                while stdout.read(65536):  # let the command finish if the caller stopped early
                    pass
                code = chan.recv_exit_status()
            except BaseException:
                send_signal(chan, "KILL")
                raise
            drain.join()  # stdout's EOF closed stderr's buffer too: its reader is finishing
        Result(
            self.host,
            tuple(parts),
            code,
            "",
            err.getvalue().decode(errors="replace"),
            time.monotonic() - start,
        ).check()

    def put(self, local: str | os.PathLike, remote: str) -> None:
        """Copy a local file to the host (SFTP)."""
        with self._sftp_lock:
            self.connection().put(str(local), remote)

    def get(self, remote: str, local: str | os.PathLike) -> None:
        """Copy a file from the host (SFTP)."""
        with self._sftp_lock:
            self.connection().get(remote, str(local))
