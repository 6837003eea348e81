"""Notifications through apprise: one URL scheme per service (ntfy, email, Gotify, Matrix, ...).

URLs come from `[notify].urls`, a file (`urls_file`, one per line) or a command that prints them
(`urls_command`, e.g. `sops -d notify.txt`), so tokens can stay out of lab.toml. A URL apprise
cannot use is bad input (exit 2, naming the key); a message that cannot be delivered is a result,
reported and journaled, never an exception: the check's own truth must still reach the exit code.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InventoryError
from .redact import redact_url, scrub, secrets_of

if TYPE_CHECKING:
    from ..lab.model import Lab

COMMAND_TIMEOUT = 60.0


@dataclass
class Delivery:
    """What became of one message: sent to every target, or why not (secrets scrubbed)."""

    targets: list[str]  # redacted
    sent: bool
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"targets": self.targets, "sent": self.sent, "error": self.error}


@dataclass
class Targets:
    """The notification URLs of a lab, checked by apprise, ready to send to."""

    urls: list[tuple[str, str]]  # (where it was configured, url)
    apprise: Any = None
    secrets: set[str] = field(default_factory=set)

    @property
    def shown(self) -> list[str]:
        return [redact_url(u) for _, u in self.urls]


def configured_urls(lab: Lab) -> list[tuple[str, str]]:
    """(where, url) for every URL of [notify]: listed, in urls_file, printed by urls_command."""
    n, where = lab.notify, lab.path.name
    out = [(f"notify.urls[{i}]", u) for i, u in enumerate(n.urls)]
    if n.urls_file:
        try:
            text = Path(n.urls_file).read_text()
        except OSError as exc:
            raise InventoryError(
                f"{where}: notify.urls_file: cannot read {n.urls_file} ({exc.strerror}); "
                "fix the path or its permissions"
            ) from None
        out += _lines(text, "notify.urls_file")
    if n.urls_command:
        out += _lines(_run(n.urls_command, where), "notify.urls_command")
    return out


def _lines(text: str, key: str) -> list[tuple[str, str]]:
    rows = [(i, line.strip()) for i, line in enumerate(text.splitlines(), 1)]
    return [(f"{key} line {i}", line) for i, line in rows if line and not line.startswith("#")]


def _run(command: str, where: str) -> str:
    """The command's stdout (never logged); a failure names the program, not its output."""
    from ..errors import ExecError
    from ..transport.runner import LocalRunner

    argv = shlex.split(command)
    try:
        res = LocalRunner().run(argv, timeout=COMMAND_TIMEOUT)
    except ExecError as exc:  # could not start, or timed out
        raise InventoryError(f"{where}: notify.urls_command: {exc}; fix the command") from None
    if res.exit_code == 127:
        raise InventoryError(
            f"{where}: notify.urls_command: `{argv[0]}` not found; fix the command"
        )
    if not res.ok:
        raise InventoryError(
            f"{where}: notify.urls_command: `{argv[0]}` exited {res.exit_code}; run it by hand "
            "to see why (its output is never shown: it holds secrets)"
        )
    return res.stdout


def targets(lab: Lab) -> Targets:
    """The lab's URLs, each accepted by apprise, or InventoryError naming the first bad one."""
    import apprise

    urls = configured_urls(lab)
    box = apprise.Apprise()
    for where, url in urls:
        if not box.add(url):
            raise InventoryError(
                f"{lab.path.name}: {where}: apprise cannot use {redact_url(url)}; write the URL "
                "of your service as https://github.com/caronc/apprise/wiki shows"
            )
    return Targets(urls, box, secrets_of(u for _, u in urls))


def send(to: Targets, title: str, body: str, kind: str = "failure") -> Delivery:
    """Send one message to every target; never raises for a delivery problem."""
    import apprise

    shown = to.shown
    if not to.urls:
        return Delivery(shown, False, "no notification URLs configured")
    with apprise.LogCapture(level=apprise.logging.WARNING) as log:
        try:
            sent = bool(to.apprise.notify(body=body, title=title, notify_type=kind))
        except Exception as exc:  # a plugin bug must not crash the check
            sent, log_extra = False, f"{type(exc).__name__}: {exc}"
        else:
            log_extra = ""
        logged = log.getvalue()
    if sent:
        return Delivery(shown, True)
    why = " ".join(_messages(logged + "\n" + log_extra)) or "apprise reported a failure"
    return Delivery(shown, False, scrub(why, to.secrets))


def _messages(log: str) -> list[str]:
    """apprise's log lines without their timestamps, each once."""
    out: list[str] = []
    for line in log.splitlines():
        text = line.split(" - ", 2)[-1].strip()
        if text and text not in out:
            out.append(text)
    return out[:3]


def test_message(lab: Lab) -> Delivery:
    """Send a test message to every configured target (the runbook's button, `notify test`)."""
    to = targets(lab)
    return send(
        to,
        f"homelab {lab.name}: test notification",
        "If you read this, homelab-kit check can reach you.",
        "info",
    )
