"""Library log lines on stderr: what a timer's journal gets besides homelab-kit's own lines.

With no logging configured, Python's last-resort handler prints every library's warnings and errors
on stderr. paramiko's transport thread logs what homelab-kit already reports in its own words —
"Socket exception: Connection reset by peer" (the host becomes `unreachable`, or the next command
reconnects), "Secsh channel 12 open FAILED" (a session sshd refused, asked for again) — so the CLI
gives paramiko's logger a NullHandler: those lines stop reaching stderr, and a user's own logging
setup still receives them. Every other library's warnings still show (papermill's
"Passed unknown parameter", a kernel that dies); the notebooks' own noise is fixed at its cause in
workbench/runbooks.py (kernels talk over private Unix sockets) and in the parameters cells.
"""

from __future__ import annotations

import logging

ECHOED_LOGGERS = ("paramiko",)  # libraries whose warnings homelab-kit reports itself


def quiet_library_logs() -> None:
    """Keep the echoed libraries' log lines off stderr (idempotent; called by `cli.main`)."""
    for name in ECHOED_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
            logger.addHandler(logging.NullHandler())
