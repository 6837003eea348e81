"""The guard in front of every destructive command, and the only builders of such commands.

The seed story: `chown -R mealie:mealie /*` typed in the wrong directory handed the system to mealie.
Here a recursive chown/chmod, an rm, an `rsync --delete` or an in-place restore is built only through
these helpers, and each one first passes `ensure_safe_target`: the path must be absolute, normalised,
glob-free, not a protected system path (nor a parent of one) and inside the service's own state dirs.
Given a runner, symlinks are resolved *on the host* and everything is checked again, so a state dir
that is a symlink to `/etc` is refused too. Recursive chown never follows symlinks (`-h -P`).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import UnsafePathError
from ..lab.paths import within

if TYPE_CHECKING:
    from ..transport.runner import Runner

# System paths no destructive operation may ever target. Parents of these are refused as well.
PROTECTED_PATHS: frozenset[str] = frozenset(
    {
        "/",
        "/bin",
        "/boot",
        "/dev",
        "/etc",
        "/etc/nixos",
        "/home",
        "/lib",
        "/lib32",
        "/lib64",
        "/libx32",
        "/lost+found",
        "/media",
        "/mnt",
        "/nix",
        "/nix/store",
        "/nix/var",
        "/nix/var/nix",
        "/opt",
        "/proc",
        "/root",
        "/run",
        "/sbin",
        "/snap",
        "/srv",
        "/sys",
        "/tmp",
        "/usr",
        "/usr/bin",
        "/usr/lib",
        "/usr/local",
        "/usr/local/bin",
        "/usr/sbin",
        "/usr/share",
        "/var",
        "/var/cache",
        "/var/db",
        "/var/empty",
        "/var/lib",
        "/var/lib/docker",
        "/var/lib/docker/volumes",
        "/var/lib/nixos",
        "/var/lib/private",
        "/var/lib/systemd",
        "/var/log",
        "/var/run",
        "/var/spool",
        "/var/tmp",
        "/volume1",
        "/volume1/docker",
        "/mnt/user",
        "/mnt/user/appdata",
    }
)

_GLOB = re.compile(r"[*?\[\]{}~]")
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*\$?$")


def _refuse(path: str, operation: str, why: str) -> UnsafePathError:
    return UnsafePathError(f"refusing {operation} on {path!r}: {why}")


def check_path_syntax(path: str, *, operation: str) -> str:
    """Refuse relative, non-normalised, glob-bearing, `..`-bearing or protected paths."""
    if not isinstance(path, str) or not path:
        raise _refuse(str(path), operation, "empty path")
    if "\x00" in path or "\n" in path or "\r" in path:
        raise _refuse(path, operation, "control characters in the path")
    if not path.startswith("/"):
        raise _refuse(path, operation, "not an absolute path")
    if ".." in path.split("/"):
        raise _refuse(path, operation, "contains '..'")
    if _GLOB.search(path):
        raise _refuse(path, operation, "contains glob or expansion characters (* ? [ ] { } ~)")
    if posixpath.normpath(path) != path or path.startswith("//"):
        raise _refuse(
            path, operation, f"not normalised (did you mean {posixpath.normpath(path)!r}?)"
        )
    if path in PROTECTED_PATHS:
        raise _refuse(path, operation, "a protected system path")
    for protected in PROTECTED_PATHS:
        if protected != "/" and within(protected, path):
            raise _refuse(path, operation, f"a parent of the protected path {protected}")
    return path


def _check_inside(path: str, roots: Sequence[str], operation: str, what: str) -> None:
    if not any(within(path, root) for root in roots):
        raise _refuse(
            path,
            operation,
            f"{what} is outside the allowed roots ({', '.join(roots)}); "
            "destructive operations stay inside the service's declared state_dirs",
        )


def resolve_on_host(runner: Runner, paths: Sequence[str]) -> list[str]:
    """Resolve symlinks of each path on the host (missing tail components allowed)."""
    result = runner.run(["realpath", "-m", "--", *paths])
    if not result.ok:  # busybox/BSD realpath lacks -m; readlink -f copes with a missing last part
        result = runner.run(["readlink", "-f", "--", *paths])
    lines = result.stdout.splitlines()
    if not result.ok or len(lines) != len(paths):
        raise UnsafePathError(
            f"{runner.host}: cannot resolve {', '.join(paths)} to check symlinks "
            f"(`{result.command}` exited {result.exit_code}: {result.stderr_tail()})"
        )
    return lines


def ensure_safe_target(
    path: str,
    *,
    operation: str,
    allowed_roots: Iterable[str] = (),
    runner: Runner | None = None,
) -> str:
    """Return `path` if a destructive `operation` may touch it, else raise UnsafePathError.

    `allowed_roots` are the service's declared state dirs; with none, everything is refused. With a
    `runner`, the path and the roots are resolved on that host and checked once more, so a symlink
    pointing out of the allowed roots (or at a system path) is caught.
    """
    path = check_path_syntax(path, operation=operation)
    roots = tuple(allowed_roots)
    if not roots:
        raise _refuse(path, operation, "no allowed roots given (declare the service's state_dirs)")
    for root in roots:
        check_path_syntax(root, operation=f"{operation} (allowed root)")
    _check_inside(path, roots, operation, "the path")
    if runner is not None:
        resolved, *resolved_roots = resolve_on_host(runner, [path, *roots])
        where = f"{operation} on {runner.host}"
        try:
            check_path_syntax(resolved, operation=where)
        except UnsafePathError as exc:
            raise UnsafePathError(f"{exc} ({path} resolves to {resolved})") from None
        _check_inside(resolved, [*roots, *resolved_roots], where, f"its target {resolved}")
    return path


@dataclass(frozen=True)
class Guard:
    """What execute() re-checks on the host right before a destructive step runs."""

    path: str
    operation: str
    allowed_roots: tuple[str, ...]

    def check(self, runner: Runner | None = None) -> str:
        return ensure_safe_target(
            self.path, operation=self.operation, allowed_roots=self.allowed_roots, runner=runner
        )


@dataclass(frozen=True)
class Guarded:
    """A destructive argv together with the guard that allowed it."""

    argv: tuple[str, ...]
    guard: Guard


def _guarded(argv: Sequence[str], path: str, operation: str, roots: Iterable[str]) -> Guarded:
    guard = Guard(path, operation, tuple(roots))
    guard.check()
    return Guarded(tuple(argv), guard)


def _owner(name: str | int, what: str) -> str:
    text = str(name)
    if not _NAME.match(text):
        raise UnsafePathError(f"refusing chown: {what} {text!r} is not a valid user/group name")
    return text


def chown_recursive(
    path: str,
    user: str | int | None,
    group: str | int | None,
    *,
    allowed_roots: Iterable[str],
    only_from: str | None = None,
) -> Guarded:
    """`chown -R -h -P [--from=UID:GID] user:group -- path`: never follows a symlink, never leaves
    `path`. With `only_from` (numeric "1026", ":100" or "1026:100") only what that owner holds
    changes: a container's PUID/PGID mapped to the service user, everything else kept."""
    if user is None and group is None:
        raise UnsafePathError("refusing chown: neither a user nor a group given")
    owner = ("" if user is None else _owner(user, "user")) + (
        "" if group is None else ":" + _owner(group, "group")
    )
    argv = ["chown", "-R", "-h", "-P", owner, "--", path]
    if only_from is not None:
        if not re.fullmatch(r"\d+(:\d+)?|:\d+", only_from):
            raise UnsafePathError(f"refusing chown: --from {only_from!r} is not UID[:GID] or :GID")
        argv.insert(4, f"--from={only_from}")
    return _guarded(argv, path, "recursive chown", allowed_roots)


def chmod_recursive(path: str, mode: str, *, allowed_roots: Iterable[str]) -> Guarded:
    """`chmod -R mode -- path` (GNU chmod ignores symlinks met during the walk)."""
    if not re.fullmatch(r"[0-7]{3,4}|[ugoa]*[-+=][rwxXst]*(,[ugoa]*[-+=][rwxXst]*)*", mode):
        raise UnsafePathError(f"refusing chmod: mode {mode!r} is not a valid mode")
    return _guarded(["chmod", "-R", mode, "--", path], path, "recursive chmod", allowed_roots)


def rm_recursive(path: str, *, allowed_roots: Iterable[str]) -> Guarded:
    """`rm -rf -- path`, only for a path inside the allowed roots and never a root itself."""
    roots = tuple(allowed_roots)
    if path in roots:
        raise _refuse(path, "rm", "it is an allowed root itself; remove its contents instead")
    return _guarded(["rm", "-r", "-f", "--", path], path, "rm", roots)


def remove_scratch(runner: Runner, path: str, *, operation: str) -> None:
    """`rm -rf -- path` of a folder this run made itself (a scratch restore, a drill's root): it
    must pass the syntax check (absolute, normalised, no protected path). rm does not follow a
    symlink given as its argument, so a link there removes only the link."""
    check_path_syntax(path, operation=operation)
    runner.run(["rm", "-rf", "--", path], timeout=3600).check()


def clear_dir(path: str, *, allowed_roots: Iterable[str]) -> Guarded:
    """`find -P path -mindepth 1 -delete`: empty a folder (an allowed root may be emptied, never
    removed); a symlink met on the way is removed, never followed."""
    argv = ["find", "-P", path, "-mindepth", "1", "-delete"]
    return _guarded(argv, path, "emptying a folder", allowed_roots)


RSYNC_COPY = ("rsync", "-aHAX", "--numeric-ids")


def rsync_mirror(
    source: str,
    target: str,
    *,
    allowed_roots: Iterable[str],
    delete: bool = True,
    options: Sequence[str] = (),
) -> Guarded:
    """rsync the *contents* of `source` into `target` (trailing slashes added).

    `source` may be `host:/path` (pulled over ssh via `options`, e.g. `-e ssh -p 2222`); `target` is
    local to where rsync runs and guarded, because `--delete` removes files there.
    """
    argv = [*RSYNC_COPY, *(["--delete"] if delete else []), *options]
    argv += [source.rstrip("/") + "/", target.rstrip("/") + "/"]
    return _guarded(argv, target, "rsync --delete" if delete else "rsync", allowed_roots)
