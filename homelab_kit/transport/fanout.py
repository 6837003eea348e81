"""Many hosts → one result per host, never one exception for all (fabric's GroupResult, grown up).

A bounded thread pool runs one task per host; each host's output is buffered in its own Result, so
nothing interleaves. Every failure is classified into a status — ok, failed, unreachable, timeout,
auth_failed, host_key_rejected — and one host's trouble never stops or hides the others.
"""

from __future__ import annotations

import dataclasses
import html
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import AuthError, CommandTimeout, ConnectError, ExecError, HostKeyError
from .runner import Result

if TYPE_CHECKING:
    import pandas as pd

    from ..lab.model import Lab

T = TypeVar("T")
STATUSES = ("ok", "failed", "unreachable", "timeout", "auth_failed", "host_key_rejected")
_COLORS = {"ok": "#2e7d32", "failed": "#c62828", "timeout": "#ef6c00"}


def classify(exc: BaseException) -> str:
    """The status word for an exception raised while working on one host."""
    if isinstance(exc, HostKeyError):
        return "host_key_rejected"
    if isinstance(exc, AuthError):
        return "auth_failed"
    if isinstance(exc, ConnectError):
        return "unreachable"
    if isinstance(exc, CommandTimeout):
        return "timeout"
    return "failed"


@dataclass
class Outcome:
    """What a task did on one host: a value, or the status and message of what went wrong."""

    host: str
    status: str
    value: Any = None
    error: str | None = None
    duration: float = 0.0


def map_hosts(
    hosts: Sequence[str],
    task: Callable[[str], T],
    *,
    parallel: int = 16,
    progress: bool = True,
    desc: str = "hosts",
) -> dict[str, Outcome]:
    """Run task(host) for every host on a bounded pool; exceptions become classified Outcomes."""

    def one(host: str) -> Outcome:
        start = time.monotonic()
        try:
            value = task(host)
        except Exception as exc:  # one host's failure never stops the others
            return Outcome(
                host, classify(exc), None, str(exc) or type(exc).__name__, time.monotonic() - start
            )
        return Outcome(host, "ok", value, None, time.monotonic() - start)

    from ..progress import progress_bar

    outcomes: dict[str, Outcome] = {}
    with (
        ThreadPoolExecutor(max_workers=max(1, min(parallel, len(hosts) or 1))) as pool,
        progress_bar(
            total=len(hosts), desc=desc, unit="host", enabled=progress, leave=False
        ) as bar,
    ):
        futures = {pool.submit(one, h): h for h in hosts}
        for fut in as_completed(futures):
            out = fut.result()
            outcomes[out.host] = out
            bar.update(1)
            if out.status != "ok":
                bar.set_postfix_str(f"{out.host}: {out.status}", refresh=False)
    return {h: outcomes[h] for h in hosts}  # inventory order, not completion order


@dataclass(frozen=True)
class HostResult:
    """One host's part of a fan-out."""

    host: str
    status: str
    exit_code: int | None
    stdout: str
    stderr: str
    duration: float
    error: str | None = None
    result: Result | None = dataclasses.field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "status": self.status,
            "exit_code": self.exit_code,
            "stdout": self.stdout,
            "stderr": self.stderr,
            "duration": round(self.duration, 3),
            "error": self.error,
        }

    def summary(self) -> str:
        """One line: why this host is not ok."""
        if self.status == "failed" and self.exit_code is not None:
            tail = (self.stderr.strip() or self.stdout.strip()).splitlines()[-1:] or [""]
            return f"{self.host}: failed (exit {self.exit_code})" + (
                f": {tail[0]}" if tail[0] else ""
            )
        return f"{self.host}: {self.status}" + (f": {self.error}" if self.error else "")


class HostResults(Mapping[str, HostResult]):
    """Per-host results of one command on many hosts, in inventory order."""

    COLUMNS = ("host", "status", "exit_code", "duration", "stdout", "stderr", "error")

    def __init__(self, argv: Sequence[str], results: Mapping[str, HostResult]) -> None:
        self.argv = tuple(argv)
        self._results = dict(results)

    def __getitem__(self, host: str) -> HostResult:
        return self._results[host]

    def __iter__(self) -> Iterator[str]:
        return iter(self._results)

    def __len__(self) -> int:
        return len(self._results)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self._results.values())

    @property
    def failed(self) -> dict[str, HostResult]:
        return {h: r for h, r in self._results.items() if not r.ok}

    def statuses(self) -> dict[str, str]:
        return {h: r.status for h, r in self._results.items()}

    def to_list(self) -> list[dict[str, Any]]:
        return [r.to_dict() for r in self._results.values()]

    def frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(self.to_list(), columns=list(self.COLUMNS))

    def raise_on_failure(self) -> HostResults:
        """Return self when every host is ok, else raise one ExecError listing every failed host."""
        bad = self.failed
        if bad:
            import shlex

            lines = [f"{len(bad)} of {len(self)} hosts failed `{shlex.join(self.argv)}`:"]
            lines += [f"  {r.summary()}" for r in bad.values()]
            err = ExecError("\n".join(lines))
            err.results = self  # type: ignore[attr-defined]
            raise err
        return self

    def __repr__(self) -> str:
        counts: dict[str, int] = {}
        for r in self._results.values():
            counts[r.status] = counts.get(r.status, 0) + 1
        return (
            f"<HostResults {len(self)} hosts: "
            + ", ".join(f"{n} {s}" for s, n in counts.items())
            + ">"
        )

    def _repr_html_(self) -> str:
        import shlex

        rows = []
        for r in self._results.values():
            color = _COLORS.get(r.status, "#6a1b9a")
            out = (r.stdout.strip() or r.stderr.strip() or r.error or "")[-300:]
            rows.append(
                f"<tr><td>{html.escape(r.host)}</td>"
                f"<td style='color:{color};font-weight:bold'>{r.status}</td>"
                f"<td>{'' if r.exit_code is None else r.exit_code}</td><td>{r.duration:.2f}s</td>"
                f"<td style='text-align:left'><pre style='margin:0'>{html.escape(out)}</pre></td></tr>"
            )
        head = "".join(f"<th>{c}</th>" for c in ("host", "status", "exit", "duration", "output"))
        title = html.escape(shlex.join(self.argv))
        return f"<b><code>{title}</code></b> — {html.escape(repr(self)[1:-1])}<table><tr>{head}</tr>{''.join(rows)}</table>"


def _to_host_result(out: Outcome) -> HostResult:
    res: Result | None = out.value
    if res is None:
        return HostResult(out.host, out.status, None, "", "", out.duration, out.error)
    status = "ok" if res.ok else "failed"
    return HostResult(
        out.host, status, res.exit_code, res.stdout, res.stderr, res.duration, None, res
    )


def host_runner(lab: Lab, name: str, connect_timeout: float | None = None) -> Any:
    """The session's lab.runner(host), with the host's connect_timeout overridden when asked.

    The lab owns the runner (one connection per host, reused by later calls): never close it here.
    """
    host = lab.hosts[name]
    if connect_timeout is not None and dataclasses.is_dataclass(host):
        host = dataclasses.replace(host, connect_timeout=connect_timeout)
    return lab.runner(host)


def run_on(
    lab: Lab,
    argv: Sequence[str],
    *,
    on: str | Sequence[str] = "all",
    parallel: int = 16,
    timeout: float | None = None,
    connect_timeout: float | None = None,
    sudo: bool = False,
    env: Mapping[str, str] | None = None,
    progress: bool = True,
) -> HostResults:
    """Run argv on every selected host in parallel; one HostResult per host, never an exception.

    `timeout` bounds each command, `connect_timeout` each connection (default: the host's own).
    """
    argv = [str(a) for a in argv]
    if not argv:
        raise ValueError("run_on: empty command")
    names = list(lab.hosts.select(on))

    def task(name: str) -> Result:
        return host_runner(lab, name, connect_timeout).run(
            argv, timeout=timeout, sudo=sudo, env=env
        )

    outcomes = map_hosts(names, task, parallel=parallel, progress=progress, desc=argv[0])
    return HostResults(argv, {h: _to_host_result(o) for h, o in outcomes.items()})
