"""Health checks after a deploy: unit active, TCP port answering, health URL 2xx — retried.

A check is data (a command builder) plus a pure evaluator of its Result, so the logic is tested
without hosts. Checks run *on the host* through its runner: a service's port and a health URL such
as `http://127.0.0.1:8222/alive` are only meaningful from there. `run_checks()` is the only I/O: it
retries the failing checks until they pass or the time is up (services take a while to start).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..plans.plan import script

if TYPE_CHECKING:
    from ..lab.model import Service
    from ..transport.runner import Result, Runner

CONNECT_SECONDS = 5

# `sh -c` scripts: constant text, inventory values only ever arrive as "$1".."$n".
_TCP = (
    'if command -v bash >/dev/null 2>&1; then exec timeout "$3" bash -c '
    '\'exec 3<>"/dev/tcp/$1/$2"\' bash "$1" "$2"; fi; '
    'exec nc -z -w "$3" "$1" "$2"'
)
_HTTP = (
    "if command -v curl >/dev/null 2>&1; then "
    'exec curl -sS -o /dev/null -w \'%{http_code}\\n\' --max-time "$2" "$1"; fi; '
    "if command -v wget >/dev/null 2>&1; then "
    'wget -S -q -O /dev/null -T "$2" -t 1 "$1" 2>&1 | awk \'/^ *HTTP\\//{c=$2} END{print c}\'; '
    "exit 0; fi; "
    'exec python3 -c "import sys,urllib.request as u,urllib.error as e\n'
    "try: print(u.urlopen(sys.argv[1], timeout=float(sys.argv[2])).status)\n"
    'except e.HTTPError as x: print(x.code)" "$1" "$2"'
)


@dataclass(frozen=True)
class HealthCheck:
    """One check of one service: kind is "unit", "tcp" or "http"; target says what is checked."""

    service: str
    kind: str
    target: str
    argv: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"{self.service} {self.kind} {self.target}"

    def to_dict(self) -> dict[str, Any]:
        return {"service": self.service, "kind": self.kind, "target": self.target}


def unit_check(service: str, unit: str) -> HealthCheck:
    return HealthCheck(service, "unit", unit, ("systemctl", "is-active", unit))


def tcp_check(service: str, port: int, address: str = "127.0.0.1") -> HealthCheck:
    argv = script(_TCP, address, str(port), str(CONNECT_SECONDS))
    return HealthCheck(service, "tcp", f"{address}:{port}", argv)


def http_check(service: str, url: str) -> HealthCheck:
    return HealthCheck(service, "http", url, script(_HTTP, url, str(CONNECT_SECONDS)))


def checks_for(services: Iterable[Service], *, compose: bool = False) -> tuple[HealthCheck, ...]:
    """Every check the services declare: their unit (not on compose hosts), port and health URL."""
    out: list[HealthCheck] = []
    for s in services:
        if s.unit and not compose:
            out.append(unit_check(s.name, s.unit))
        if s.port:
            out.append(tcp_check(s.name, s.port))
        if s.health:
            out.append(http_check(s.name, s.health))
    return tuple(out)


def http_status(stdout: str) -> int | None:
    """The last 3-digit HTTP status printed by the check script (None when nothing answered)."""
    codes = re.findall(r"\b(\d{3})\b", stdout)
    code = int(codes[-1]) if codes else None
    return None if code in (None, 0) else code


def evaluate(check: HealthCheck, result: Result) -> tuple[bool, str]:
    """(passed, one-line detail) for a check's Result. Pure."""
    out = (result.stdout.strip() or result.stderr.strip()).splitlines()
    last = out[-1][:200] if out else ""
    if check.kind == "http":
        code = http_status(result.stdout)
        if code is None:
            return False, f"no HTTP answer from {check.target}" + (f": {last}" if last else "")
        return 200 <= code < 300, f"HTTP {code}"
    if check.kind == "unit":
        state = result.stdout.strip() or f"exit {result.exit_code}"
        return result.ok, f"{check.target} is {state}"
    if result.ok:
        return True, f"{check.target} answers"
    return False, f"{check.target} does not answer (exit {result.exit_code})" + (
        f": {last}" if last else ""
    )


@dataclass(frozen=True)
class HealthResult:
    """The final verdict of one check after its retries."""

    check: HealthCheck
    ok: bool
    detail: str
    attempts: int
    seconds: float
    stdout: str = ""
    stderr: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.check.to_dict(),
            "ok": self.ok,
            "detail": self.detail,
            "attempts": self.attempts,
            "seconds": round(self.seconds, 3),
        }


def run_checks(
    runner: Runner,
    checks: Sequence[HealthCheck],
    *,
    within: float = 60.0,
    interval: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> list[HealthResult]:
    """Run the checks until all pass or `within` seconds passed; failing ones are retried.

    Connection errors propagate (the host is unreachable, which is not a health verdict).
    """
    start = clock()
    final: dict[int, HealthResult] = {}
    attempts = dict.fromkeys(range(len(checks)), 0)
    pending = list(range(len(checks)))
    while True:
        still: list[int] = []
        for i in pending:
            check = checks[i]
            attempts[i] += 1
            res = runner.run(check.argv, timeout=CONNECT_SECONDS + 10)
            ok, detail = evaluate(check, res)
            final[i] = HealthResult(
                check,
                ok,
                detail,
                attempts[i],
                clock() - start,
                res.stdout[-2000:],
                res.stderr[-2000:],
            )
            if not ok:
                still.append(i)
        pending = still
        if not pending or clock() - start + interval > within:
            break
        sleep(interval)
    return [final[i] for i in range(len(checks))]
