"""One `run()` for every transport: Result, the Runner protocol and the local runner.

argv is always a list; it is never joined into a shell string here. Remote runners (ssh.py) join it
with `shlex.join` at the very edge, so a hostile inventory value stays one literal argument.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Protocol, runtime_checkable

from ..errors import CommandFailed, CommandTimeout, ConnectError

STDERR_TAIL_LINES = 5


@dataclass(frozen=True)
class Result:
    """What one command did on one host."""

    host: str
    argv: tuple[str, ...]
    exit_code: int
    stdout: str
    stderr: str
    duration: float
    extra: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    @property
    def command(self) -> str:
        """The command as a user would type it (for messages only, never executed)."""
        return shlex.join(self.argv)

    def stderr_tail(self, lines: int = STDERR_TAIL_LINES) -> str:
        return "\n".join(self.stderr.strip().splitlines()[-lines:])

    def check(self) -> Result:
        """Return self when the command succeeded, else raise CommandFailed with the details."""
        if not self.ok:
            tail = self.stderr_tail() or self.stdout.strip()[-400:]
            raise CommandFailed(
                f"{self.host}: `{self.command}` exited {self.exit_code}"
                + (f": {tail}" if tail else ""),
                result=self,
            )
        return self


@runtime_checkable
class Runner(Protocol):
    """Runs argv lists on one host. Implemented by LocalRunner and ssh.SshRunner."""

    host: str

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float | None = None,
        sudo: bool = False,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        stdin: str | bytes | None = None,
    ) -> Result: ...

    def stream(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        sudo: bool = False,
        cwd: str | None = None,
    ) -> contextlib.AbstractContextManager[IO[bytes]]: ...

    def put(self, local: str | os.PathLike, remote: str) -> None: ...

    def get(self, remote: str, local: str | os.PathLike) -> None: ...


def _sudo_prefix(sudo: bool) -> list[str]:
    if not sudo or os.geteuid() == 0:
        return []
    return ["sudo", "-n", "--"]


def _kill_group(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


@dataclass
class LocalRunner:
    """Runs commands on this machine with subprocess (no shell)."""

    host: str = "localhost"

    def _env(self, env: Mapping[str, str] | None) -> dict[str, str] | None:
        return None if env is None else {**os.environ, **env}

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
        full = [*_sudo_prefix(sudo), *map(str, argv)]
        data = stdin.encode() if isinstance(stdin, str) else stdin
        start = time.monotonic()
        try:
            proc = subprocess.Popen(
                full,
                stdin=subprocess.PIPE if data is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=self._env(env),
                cwd=cwd,
                start_new_session=True,
            )
        except FileNotFoundError as exc:
            return Result(
                self.host, tuple(full), 127, "", f"{full[0]}: command not found ({exc})", 0.0
            )
        except OSError as exc:
            raise ConnectError(f"{self.host}: cannot start `{shlex.join(full)}`: {exc}") from exc
        try:
            out, err = proc.communicate(data, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            _kill_group(proc)
            proc.communicate()
            raise CommandTimeout(
                f"{self.host}: `{shlex.join(full)}` did not finish within {timeout:g}s"
            ) from exc
        return Result(
            self.host,
            tuple(full),
            proc.returncode,
            out.decode(errors="replace"),
            err.decode(errors="replace"),
            time.monotonic() - start,
        )

    @contextlib.contextmanager
    def stream(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        sudo: bool = False,
        cwd: str | None = None,
    ) -> Iterator[IO[bytes]]:
        """Yield the command's stdout as a binary stream; raise CommandFailed if it then fails.

        Used for big outputs (`restic ls --json`, `restic dump`) that should never sit in memory.
        stderr goes to a temporary file so a chatty command cannot dead-lock on a full pipe.
        """
        import tempfile

        full = [*_sudo_prefix(sudo), *map(str, argv)]
        start = time.monotonic()
        with tempfile.TemporaryFile() as errf:
            try:
                proc = subprocess.Popen(
                    full,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=errf,
                    env=self._env(env),
                    cwd=cwd,
                    start_new_session=True,
                )
            except FileNotFoundError:
                raise CommandFailed(
                    f"{self.host}: {full[0]}: command not found",
                    result=Result(self.host, tuple(full), 127, "", "command not found", 0.0),
                ) from None
            assert proc.stdout is not None
            try:
                yield proc.stdout
            except BaseException:
                _kill_group(proc)
                proc.wait()
                raise
            finally:
                proc.stdout.close()
            code = proc.wait()
            errf.seek(0)
            err = errf.read().decode(errors="replace")
        Result(self.host, tuple(full), code, "", err, time.monotonic() - start).check()

    def put(self, local: str | os.PathLike, remote: str) -> None:
        shutil.copy2(local, remote)

    def get(self, remote: str, local: str | os.PathLike) -> None:
        shutil.copy2(remote, local)
