"""The restic binary, run through a Runner (locally or on the backup's host).

argv is built as a list; the repository and the password travel in the environment
(`RESTIC_REPOSITORY`, `RESTIC_PASSWORD_FILE` or `RESTIC_PASSWORD_COMMAND`), never in argv, so a
password (or credentials inside a rest: URL) never shows in `ps`, logs or the journal. restic's
failures become typed errors with what to do next. JSON parsing lives in restic_json.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

from ..errors import (
    CommandFailed,
    RepositoryLocked,
    RepositoryNotFound,
    ResticError,
    ResticNotInstalled,
    WrongPassword,
)
from ..transport.runner import LocalRunner, Result, Runner
from . import restic_json as rj

if TYPE_CHECKING:
    from ..lab.model import Backup, Lab

INSTALL_HINT = (
    "install it (Debian: `apt install restic`; NixOS: add pkgs.restic) "
    'or set `restic = "/path/to/restic"` in the backup'
)
# restic ≥ 0.17 exit codes: 10 no repository, 11 lock failed, 12 wrong password
_NOT_FOUND = re.compile(
    r"Is there a repository at the following location|repository does not exist|unable to open config file",
    re.I,
)
_WRONG_PW = re.compile(r"wrong password or no key found", re.I)
_NO_PW = re.compile(
    r"Resolving password failed.*|an empty password is not a password|password command failed.*",
    re.I,
)
_PANIC = re.compile(r"^panic: (.+)$", re.M)
_LOCKED = re.compile(r"repository is already locked|unable to create lock", re.I)
_MISSING_BIN = re.compile(
    r"command not found|No such file or directory.*restic|executable file not found", re.I
)

POLICY_FLAGS = {
    "last": "--keep-last",
    "hourly": "--keep-hourly",
    "daily": "--keep-daily",
    "weekly": "--keep-weekly",
    "monthly": "--keep-monthly",
    "yearly": "--keep-yearly",
    "within": "--keep-within",
    "within_hourly": "--keep-within-hourly",
    "within_daily": "--keep-within-daily",
    "within_weekly": "--keep-within-weekly",
    "within_monthly": "--keep-within-monthly",
    "within_yearly": "--keep-within-yearly",
}


def policy_argv(keep: Mapping[str, Any], group_by: str | None = None) -> list[str]:
    """A keep mapping ({"daily": 7, "within": "30d", "tags": ["x"]}) → restic forget flags."""
    argv: list[str] = []
    for key, flag in POLICY_FLAGS.items():
        value = keep.get(key)
        if value not in (None, 0, ""):
            argv += [flag, "unlimited" if value == -1 else str(value)]  # restic ≥ 0.16 spells -1 so
    for tag in keep.get("tags") or ():
        argv += ["--keep-tag", tag if isinstance(tag, str) else ",".join(tag)]
    if group_by is not None:
        argv += ["--group-by", group_by]
    return argv


def classify_failure(result: Result, repository: str, what: str) -> ResticError:
    """A failed restic Result → the most specific ResticError, one line, saying what to do."""
    text = (
        rj.exit_error_message(result.stderr) or result.stderr_tail() or result.stdout.strip()[-300:]
    )
    first = text.strip().splitlines()[-1] if text.strip() else f"exit {result.exit_code}"
    where = f"{result.host}: restic {what} on {repository}"
    binary = result.argv[0] if result.argv else "restic"
    if result.exit_code == 127 or (
        result.exit_code != 0 and _MISSING_BIN.search(result.stderr) and not result.stdout
    ):
        return ResticNotInstalled(f"{result.host}: restic not found ({binary}): {INSTALL_HINT}")
    if result.exit_code == 12 or _WRONG_PW.search(text):
        return WrongPassword(
            f"{where}: wrong password; check the backup's password_file/password_command"
        )
    if result.exit_code == 10 or _NOT_FOUND.search(text):
        return RepositoryNotFound(
            f"{where}: no repository there; check `repository` or create it with `restic init`"
        )
    if result.exit_code == 11 or _LOCKED.search(text):
        held = next(
            (ln.strip() for ln in result.stderr.splitlines() if "already locked" in ln),
            first.strip(),
        )
        return RepositoryLocked(
            f"{where}: repository is locked ({held}); make sure no backup/prune runs, "
            "then `restic unlock`"
        )
    no_pw = _NO_PW.search(result.stderr)
    if no_pw:
        return WrongPassword(
            f"{where}: no usable password ({no_pw.group(0).strip()}); "
            "check the backup's password_file/password_command"
        )
    panic = _PANIC.search(result.stderr)
    if panic:
        return ResticError(
            f"{where}: restic crashed (panic: {panic.group(1).strip()}); the repository may be "
            "damaged: run `restic check` on it"
        )
    return ResticError(f"{where} failed (exit {result.exit_code}): {first.strip()}")


@dataclass
class Restic:
    """One repository as seen from one host; every method runs the real restic binary."""

    repository: str
    password_file: str | None = None
    password_command: str | None = None
    binary: str = "restic"
    runner: Runner = field(default_factory=LocalRunner)
    env: Mapping[str, str] = field(default_factory=dict)
    timeout: float | None = None
    sudo: bool = False
    no_lock: bool = True  # read-only commands skip the lock (as restic-exporter does)
    _version: tuple[int, int, int] | None = field(default=None, repr=False)

    @classmethod
    def for_backup(
        cls, backup: Backup, lab: Lab | None = None, runner: Runner | None = None
    ) -> Restic:
        """The repository of an inventory backup, reached through the backup's host."""
        if runner is None:
            runner = lab.runner(backup.host) if lab is not None else LocalRunner(host=backup.host)
        return cls(
            repository=backup.repository,
            password_file=backup.password_file,
            password_command=backup.password_command,
            binary=backup.restic,
            runner=runner,
        )

    def environment(self) -> dict[str, str]:
        """Repository and password by environment (never argv)."""
        env = {"RESTIC_REPOSITORY": self.repository, **self.env}
        if self.password_file:
            env["RESTIC_PASSWORD_FILE"] = self.password_file
        elif self.password_command:
            env["RESTIC_PASSWORD_COMMAND"] = self.password_command
        return env

    def argv(self, *args: str) -> list[str]:
        return [self.binary, *args]

    def _ro(self) -> list[str]:
        return ["--no-lock"] if self.no_lock else []

    def run(
        self, *args: str, what: str | None = None, ok_codes: Sequence[int] = (0,), **kw: Any
    ) -> Result:
        """Run `restic args…`; raise the typed error on failure (exit codes in ok_codes pass)."""
        res = self.runner.run(
            self.argv(*args),
            env=self.environment(),
            timeout=kw.pop("timeout", self.timeout),
            sudo=self.sudo,
            **kw,
        )
        if res.exit_code not in ok_codes:
            raise classify_failure(res, self.repository, what or (args[0] if args else ""))
        return res

    @property
    def version(self) -> tuple[int, int, int]:
        """The restic version on that host (asked once)."""
        if self._version is None:
            res = self.runner.run(self.argv("version"), timeout=30)
            if not res.ok:
                raise classify_failure(res, self.repository, "version")
            self._version = rj.parse_version(res.stdout)
        return self._version

    # --- commands ---------------------------------------------------------------------------
    def init(self) -> Result:
        return self.run("init", what="init")

    def snapshots(self, *filters: str) -> list[dict[str, Any]]:
        """Snapshot records (see restic_json.snapshot_record), oldest first."""
        return rj.parse_snapshots(
            self.run("snapshots", "--json", *self._ro(), *filters, what="snapshots").stdout
        )

    def stats(self, snapshot_id: str | None = None, mode: str = "restore-size") -> dict[str, Any]:
        args = ["stats", "--json", *self._ro(), "--mode", mode]
        if snapshot_id:
            args.append(snapshot_id)
        return rj.parse_stats(self.run(*args, what="stats").stdout)

    def backup(
        self,
        paths: Sequence[str],
        *,
        host: str | None = None,
        time: str | None = None,
        tags: Sequence[str] = (),
        exclude: Sequence[str] = (),
    ) -> dict[str, Any]:
        """Run a backup; returns its summary plus `exit_code` (3 = partial: some files unreadable)."""
        args = ["backup", "--json"]
        if host:
            args += ["--host", host]
        if time:
            args += ["--time", time]
        for t in tags:
            args += ["--tag", t]
        for e in exclude:
            args += ["--exclude", e]
        res = self.run(*args, "--", *paths, what="backup", ok_codes=(0, 3))
        summary = rj.parse_backup_summary(res.stdout)
        summary["exit_code"] = res.exit_code
        return summary

    def forget_dry_run(
        self, keep: Mapping[str, Any], group_by: str | None = None
    ) -> list[dict[str, Any]]:
        """What restic itself would forget (`forget --dry-run --json`), per group."""
        res = self.run(
            "forget",
            "--dry-run",
            "--json",
            *self._ro(),
            *policy_argv(keep, group_by),
            what="forget",
        )
        return rj.parse_forget(res.stdout)

    def forget(self, keep: Mapping[str, Any], group_by: str | None = None) -> list[dict[str, Any]]:
        """Really forget (no prune); takes restic's exclusive lock."""
        res = self.run("forget", "--json", *policy_argv(keep, group_by), what="forget")
        return rj.parse_forget(res.stdout)

    def ls_argv(self, snapshot_id: str) -> list[str]:
        return self.argv("ls", "--json", *self._ro(), snapshot_id)

    @contextlib.contextmanager
    def ls(self, snapshot_id: str) -> Iterator[Iterator[dict[str, Any]]]:
        """Stream `restic ls --json SNAPSHOT` as node dicts without holding it in memory."""
        try:
            with self.runner.stream(
                self.ls_argv(snapshot_id), env=self.environment(), sudo=self.sudo
            ) as out:
                yield rj.iter_ls(out)
        except CommandFailed as exc:
            if isinstance(exc.result, Result):
                raise classify_failure(
                    exc.result, self.repository, f"ls {snapshot_id[:8]}"
                ) from None
            raise

    def ls_stream(self, snapshot_id: str) -> contextlib.AbstractContextManager[IO[bytes]]:
        """The raw `ls --json` byte stream (for benches and custom parsers)."""
        return self.runner.stream(self.ls_argv(snapshot_id), env=self.environment(), sudo=self.sudo)
