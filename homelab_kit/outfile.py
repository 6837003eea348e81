"""Write output files atomically, and turn OS errors into one line naming the path and the fix.

Readers (node_exporter, ansible, a person's editor) never see half a file: text goes to a temporary
file next to the target, then `os.replace`. A folder that cannot be created or written, or a target
that is a directory, becomes an `OutputError` instead of a traceback.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from .errors import OutputError


def describe_os_error(path: Path, exc: OSError, what: str) -> str:
    """One line: which path, what went wrong, what to do."""
    reason = exc.strerror or type(exc).__name__
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        fix = "choose a writable location"
    elif exc.errno == errno.EISDIR:
        fix = f"give a file path for the {what}, not a folder"
    elif exc.errno in (errno.ENOTDIR, errno.EEXIST):
        fix = "a file is in the way of that folder; choose another path"
    elif exc.errno == errno.ENOSPC:
        fix = "free some space or choose another disk"
    else:
        fix = "choose a path in an existing, writable folder"
    return f"{path}: cannot write the {what} ({reason}); {fix}"


def ensure_dir(path: str | os.PathLike, *, what: str = "output folder") -> Path:
    """Create the folder (and parents) if needed; OutputError if that is impossible."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise OutputError(f"{p}: is a file, not a folder; give a folder for the {what}")
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(describe_os_error(p, exc, what)) from None
    if not os.access(p, os.W_OK | os.X_OK):
        raise OutputError(f"{p}: folder is not writable; choose a writable location for the {what}")
    return p


def write_atomic(
    path: str | os.PathLike,
    text: str,
    *,
    what: str = "output file",
    mode: int | None = None,
    create_parents: bool = True,
) -> Path:
    """Write `text` to a temporary file beside `path`, then rename it into place.

    The mode is kept when `path` exists, else `mode` (default 0o644). Nothing is left behind on
    failure; the previous content of `path` stays intact.
    """
    p = Path(path)
    if p.is_dir():
        raise OutputError(f"{p}: is a folder; give a file path for the {what}")
    if create_parents:
        ensure_dir(p.parent, what=what)
    elif not p.parent.is_dir():
        raise OutputError(
            f"{p}: cannot write the {what}: folder {p.parent} does not exist; create it first"
        )
    try:
        fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
    except OSError as exc:
        raise OutputError(describe_os_error(p, exc, what)) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        keep = p.stat().st_mode & 0o7777 if p.exists() else None
        os.chmod(tmp, keep if keep is not None else (0o644 if mode is None else mode))
        os.replace(tmp, p)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise OutputError(describe_os_error(p, exc, what)) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return p


__all__ = ["describe_os_error", "ensure_dir", "write_atomic"]
