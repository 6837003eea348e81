"""One error tree for the whole package.

Every error says what went wrong, where (file, key, host, snapshot) and what to do, so the CLI can print
it as one line and exit 2 (bad input) or 1 (checked and found problems) without a traceback.
"""

from __future__ import annotations

from typing import Any


class HomelabError(Exception):
    """Root of every error homelab_kit raises on purpose."""

    exit_code = 2


class InventoryError(HomelabError, ValueError):
    """lab.toml is missing, unreadable or invalid; `problems` holds one line per problem."""

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class JournalError(HomelabError):
    """The SQLite journal cannot be opened, migrated or written."""


class ExecError(HomelabError):
    """A command could not be run or did not succeed on a host."""

    exit_code = 1


class ConnectError(ExecError):
    """The host could not be reached (refused, no route, connect timeout)."""


class AuthError(ConnectError):
    """The host was reached but refused our credentials."""


class HostKeyError(ConnectError):
    """The host offered an unknown key or a key that differs from the pinned/known one."""


class CommandTimeout(ExecError):
    """A command ran past its timeout and was stopped."""


class CommandFailed(ExecError):
    """A command exited non-zero; `.result` holds the whole Result."""

    def __init__(self, message: str, result: Any = None) -> None:
        super().__init__(message)
        self.result = result


class ResticError(HomelabError):
    """restic could not do what we asked (missing binary, repository, password, lock, output)."""

    exit_code = 1


class ResticNotInstalled(ResticError):
    """The restic binary is not on PATH (or not where the backup says)."""


class RepositoryNotFound(ResticError):
    """The repository does not exist or is not initialised."""


class WrongPassword(ResticError):
    """restic could not open the repository with the given password."""


class RepositoryLocked(ResticError):
    """Another restic process holds an exclusive lock."""


class ResticOutputError(ResticError):
    """restic printed something we could not parse; the message shows the offending line."""


class UnsafePathError(HomelabError):
    """A destructive operation was asked on a path the safety guard refuses."""


class PlanError(HomelabError):
    """A plan cannot be built or executed."""

    exit_code = 1


class StepFailed(PlanError):
    """A plan step failed; `.step` and `.result` tell which and how."""

    def __init__(self, message: str, step: Any = None, result: Any = None) -> None:
        super().__init__(message)
        self.step = step
        self.result = result


class OutputError(HomelabError):
    """An output file or folder cannot be written (missing folder, read-only, a directory)."""
