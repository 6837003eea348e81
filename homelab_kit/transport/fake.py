"""FakeRunner: a Runner that runs nothing, answers from a script and records every call.

Only for pure step-builder tests (what argv a builder or `execute()` sends, in what order, and what
it does with a given answer); everything else is tested with real parts (real sshd, restic, files).
It fails loudly: a command it was not told to expect raises AssertionError naming that argv and
what was expected, so a builder that starts sending something new cannot pass unnoticed.

    fake = FakeRunner("n100", {("systemctl", "is-active", "web"): 3})   # same answer every time
    fake = FakeRunner("n100", [(["test", "-e", "/x"], 1), (["test", "-e", "/x"], 0)])  # in turn

An answer is a `Result`, an exit code, a stdout string (exit 0), a tuple `(exit_code, stdout[,
stderr])`, or an exception instance to raise (e.g. `CommandTimeout(...)`).
"""

from __future__ import annotations

import contextlib
import io
import os
import shlex
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from .runner import Result

Answer = Result | int | str | tuple | BaseException
Argv = tuple[str, ...]


@dataclass(frozen=True)
class Call:
    """One recorded call: `kind` is run, stream, put or get (put/get argv: (local, remote))."""

    argv: Argv
    kind: str = "run"
    sudo: bool = False
    env: Mapping[str, str] | None = None
    cwd: str | None = None
    timeout: float | None = None
    stdin: str | bytes | None = None


def _argv(argv: Sequence[Any]) -> Argv:
    return tuple(str(a) for a in argv)


@dataclass
class FakeRunner:
    """Answers expected argv (see the module docstring); `calls` records everything in order.

    `expect` as a mapping answers its argv every time; as a list of (argv, answer) pairs, each pair
    answers once, in turn for the same argv. `unused` lists the pairs nobody asked for.
    """

    host: str = "fake"
    expect: Mapping[Sequence[str], Answer] | Iterable[tuple[Sequence[str], Answer]] = ()
    calls: list[Call] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._always: dict[Argv, Answer] = {}
        self._queued: dict[Argv, deque[Answer]] = {}
        if isinstance(self.expect, Mapping):
            for argv, answer in self.expect.items():
                self.always(argv, answer)
        else:
            for argv, answer in self.expect:
                self.once(argv, answer)

    def always(self, argv: Sequence[str], answer: Answer = 0) -> FakeRunner:
        """Answer `argv` with `answer` every time it is run."""
        self._always[_argv(argv)] = answer
        return self

    def once(self, argv: Sequence[str], answer: Answer = 0) -> FakeRunner:
        """Answer the next call of `argv` with `answer` (after any answers queued before)."""
        self._queued.setdefault(_argv(argv), deque()).append(answer)
        return self

    @property
    def argvs(self) -> list[Argv]:
        """The argv of every run/stream call, in order."""
        return [c.argv for c in self.calls if c.kind in ("run", "stream")]

    @property
    def unused(self) -> list[tuple[Argv, Answer]]:
        """Queued (once) answers that no call consumed."""
        return [(argv, a) for argv, answers in self._queued.items() for a in answers]

    def _answer(self, argv: Argv) -> Result:
        queue = self._queued.get(argv)
        if queue:
            answer = queue.popleft()
        elif argv in self._always:
            answer = self._always[argv]
        else:
            known = [shlex.join(a) for a in [*self._always, *self._queued]]
            used_up = " (all its queued answers were used)" if argv in self._queued else ""
            raise AssertionError(
                f"{self.host}: unexpected command `{shlex.join(argv)}`{used_up}; argv={argv!r}; "
                f"expected: {'; '.join(known) or 'nothing'}"
            )
        if isinstance(answer, BaseException):
            raise answer
        if isinstance(answer, Result):
            return answer
        if isinstance(answer, bool) or not isinstance(answer, (int, str, tuple)):
            raise TypeError(f"FakeRunner answer for {argv!r}: {answer!r} is not an answer")
        if isinstance(answer, int):
            code, out, err = answer, "", ""
        elif isinstance(answer, str):
            code, out, err = 0, answer, ""
        else:
            code, out, err = (*answer, "", "")[:3]
        return Result(self.host, argv, int(code), str(out), str(err), 0.0)

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
        """Record the call and return the scripted Result (AssertionError when not expected)."""
        key = _argv(argv)
        self.calls.append(Call(key, "run", sudo, env, cwd, timeout, stdin))
        return self._answer(key)

    @contextlib.contextmanager
    def stream(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        sudo: bool = False,
        cwd: str | None = None,
    ) -> Iterator[IO[bytes]]:
        """The scripted stdout as a binary stream; CommandFailed after the block if it failed."""
        key = _argv(argv)
        self.calls.append(Call(key, "stream", sudo, env, cwd))
        result = self._answer(key)
        yield io.BytesIO(result.stdout.encode())
        result.check()

    def put(self, local: str | os.PathLike, remote: str) -> None:
        """Record the copy; no file is touched."""
        self.calls.append(Call((str(local), remote), "put"))

    def get(self, remote: str, local: str | os.PathLike) -> None:
        """Record the copy; no file is touched."""
        self.calls.append(Call((remote, str(local)), "get"))
