"""The `homelab-kit` command line.

Each command group lives in its own module of this package with a `register(subparsers)` function;
handlers take `(args, ctx)` and return an exit code: 0 all good, 1 checked and found problems,
2 bad input (3 is an unexpected error, a bug: one line, the traceback with HOMELAB_DEBUG=1). Command modules import pandas, restic helpers etc. inside their handlers, never at
module level, so `homelab-kit inventory` and `lint` start fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from ..errors import HomelabError

if TYPE_CHECKING:
    from ..lab.model import Lab

# Command modules, in the order `--help` lists them. A module here may register several commands.
COMMAND_MODULES = (
    "inventory_cmd",
    "demo_cmd",
    "notebooks_cmd",
    "fleet_cmd",
    "backups_cmd",
    "restore_cmd",
    "migrate_cmd",
    "import_cmd",
    "deploy_cmd",
    "capacity_cmd",
    "ecosystem_cmd",
    "journal_cmd",
    "watch_cmd",
)


INTERNAL_ERROR = 3  # exit code for an unexpected exception (a bug): 0 good, 1 problems, 2 bad input


def default_lab_path(option: str | None) -> Path:
    """`--lab`, else `$HOMELAB_LAB`, else `./lab.toml`."""
    return Path(option or os.environ.get("HOMELAB_LAB") or "lab.toml")


@dataclass
class Context:
    """What every handler needs: the lab path, the lab (loaded once, lazily) and output streams."""

    lab_path: Path
    out: Any = field(default_factory=lambda: sys.stdout)
    err: Any = field(default_factory=lambda: sys.stderr)
    _lab: Lab | None = None

    def lab(self) -> Lab:
        if self._lab is None:
            from ..lab.model import load_lab

            self._lab = load_lab(self.lab_path)
        return self._lab

    def close(self) -> None:
        """Close the lab's connections (the command is done with them)."""
        if self._lab is not None:
            self._lab.close()

    def print(self, *parts: object) -> None:
        print(*parts, file=self.out)


class ArgumentParser(argparse.ArgumentParser):
    """argparse with one-line errors: `homelab-kit run: argument --parallel: ... (see --help)`.

    Subparsers inherit the class, so every command reports a malformed option the same way (exit 2).
    """

    def error(self, message: str) -> NoReturn:
        import re

        typo = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if typo:
            import difflib

            choices = re.findall(r"'([^']*)'", typo.group(2))
            hint = difflib.get_close_matches(typo.group(1), choices, n=1)
            extra = f' (did you mean "{hint[0]}"?)' if hint else ""
            arg = re.match(r"argument (\S+):", message)
            what = "argument " + arg.group(1) if arg and arg.group(1).startswith("-") else "command"
            message = f'unknown {what} "{typo.group(1)}"{extra}; choose from {", ".join(choices)}'
        self.exit(2, f"{self.prog}: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="homelab-kit",
        description="Run your homelab from one inventory: backups, restore tests, migrations, "
        "deploys, capacity.",
    )
    parser.add_argument(
        "--lab",
        metavar="PATH",
        help="the lab.toml to use (default: $HOMELAB_LAB, else ./lab.toml)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"{__name__}.{name}":
                continue  # a command group not built yet
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from ..logs import quiet_library_logs

    quiet_library_logs()  # our own one-line errors, not paramiko's echo of them
    parser = build_parser()
    args = parser.parse_args(argv)
    quiet = not sys.stderr.isatty() and "HOMELAB_NO_PROGRESS" not in os.environ
    if quiet:  # bars for people, not for logs (kernels started by `notebooks run` inherit it)
        os.environ["HOMELAB_NO_PROGRESS"] = "1"
    try:
        return _dispatch(args)
    finally:
        if quiet:
            del os.environ["HOMELAB_NO_PROGRESS"]


def _dispatch(args: argparse.Namespace) -> int:
    """Run the handler; turn every error into one line and an exit code."""
    ctx = Context(lab_path=default_lab_path(args.lab))
    try:
        try:
            return int(args.func(args, ctx) or 0)
        finally:
            ctx.close()
    except HomelabError as exc:
        for line in str(exc).splitlines() or [type(exc).__name__]:
            print(f"homelab-kit: {line}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("homelab-kit: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug, not bad input: one line, the traceback on request
        if os.environ.get("HOMELAB_DEBUG", "") not in ("", "0"):
            import traceback

            traceback.print_exc()
            return INTERNAL_ERROR
        detail = str(exc).splitlines()[0] if str(exc).strip() else ""
        print(
            f"homelab-kit: internal error: {type(exc).__name__}"
            + (f": {detail}" if detail else "")
            + "; rerun with HOMELAB_DEBUG=1 for the traceback and report it",
            file=sys.stderr,
        )
        return INTERNAL_ERROR


def run() -> None:
    sys.exit(main())
