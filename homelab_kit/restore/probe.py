"""The host side of the application checks: find the databases and configs under restored roots.

Standard library only and no package imports, because a restore test may run on an SSH host: the
source of this module travels as `python3 -c` (appcheck.py) and answers with JSON on stdout; on a
local host the same `probe()` runs in-process. One walk finds

- SQLite databases by their 16-byte header (never by name), checked with `PRAGMA integrity_check`
  opened read-only and immutable from the restored tree; a `-wal` or hot `-journal` beside one is
  checked together, in a private temporary copy, so the restored tree is never written;
- PostgreSQL data directories (`PG_VERSION` + `global/pg_control`): the major version and, when
  `pg_controldata` exists on the host, its raw output;
- pg_dump archives (custom format, header `PGDMP`) read through with `pg_restore`, and `.sql.gz`
  dumps tested with `gzip -t` (Python's gzip when gzip is missing);
- JSON/YAML/TOML files up to CONFIG_LIMIT, returned as bytes for appcheck's parsers.

Verdicts are not made here: apps.py reads what this returns.
"""

from __future__ import annotations

import base64
import glob
import gzip
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
import time
import urllib.parse
from typing import Any

SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"
CONFIG_SUFFIXES = {".json": "json", ".yaml": "yaml", ".yml": "yaml", ".toml": "toml"}
CONFIG_LIMIT = 1 << 20  # bigger files are data (logs, caches), not configuration
MIN_DB_BYTES = 512  # the smallest SQLite page; smaller files are never databases
INTEGRITY_ROWS = 20
TOOL_TIMEOUT = 600


def kind_of(name: str, head: bytes) -> str | None:
    """What a file is, from its first bytes (databases) or its suffix (configs, .sql.gz)."""
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PGDUMP_MAGIC):
        return "pg_dump"
    lower = name.lower()
    if lower.endswith(".sql.gz"):
        return "sql.gz"
    return CONFIG_SUFFIXES.get(os.path.splitext(lower)[1])


def _tool(name: str, major: str | None = None) -> str | None:
    """A PostgreSQL/gzip tool: the one of the cluster's major version first, then PATH, then any."""
    if major:
        exact = f"/usr/lib/postgresql/{major}/bin/{name}"
        if os.access(exact, os.X_OK):
            return exact
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=_version_key)
    return versions[-1] if versions else None


def _version_key(path: str) -> tuple[int, ...]:
    part = path.split("/")[4]
    return tuple(int(x) for x in part.split(".") if x.isdigit())


def _run(argv: list[str]) -> dict[str, Any]:
    env = dict(os.environ, LC_ALL="C", LANG="C")
    try:
        proc = subprocess.run(argv, capture_output=True, timeout=TOOL_TIMEOUT, env=env)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"tool": argv[0], "rc": None, "out": "", "err": str(exc)}
    return {
        "tool": argv[0],
        "rc": proc.returncode,
        "out": proc.stdout.decode(errors="replace")[-20000:],
        "err": proc.stderr.decode(errors="replace")[-2000:],
    }


def _integrity(uri: str) -> dict[str, Any]:
    try:
        con = sqlite3.connect(uri, uri=True, timeout=1)
    except sqlite3.Error as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}
    try:
        rows = con.execute(f"PRAGMA integrity_check({INTEGRITY_ROWS})").fetchall()
        pages = con.execute("PRAGMA page_count").fetchone()[0]
        return {"rows": [str(r[0]) for r in rows], "pages": pages}
    except sqlite3.Error as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}
    finally:
        con.close()


def check_sqlite(path: str) -> dict[str, Any]:
    """integrity_check of one database; with a -wal or hot -journal, of a private copy of both."""
    companions = [
        suffix
        for suffix in ("-wal", "-journal")
        if os.path.isfile(path + suffix) and os.path.getsize(path + suffix) > 0
    ]
    out: dict[str, Any] = {"companions": companions}
    if not companions:
        uri = "file:" + urllib.parse.quote(path) + "?mode=ro&immutable=1"
        out.update(_integrity(uri))
        return out
    scratch = tempfile.mkdtemp(prefix="homelab-appcheck.")
    try:
        copy = os.path.join(scratch, "db")
        shutil.copyfile(path, copy)
        for suffix in companions:
            shutil.copyfile(path + suffix, copy + suffix)
        out.update(_integrity("file:" + urllib.parse.quote(copy)))  # replays the WAL in the copy
    except OSError as exc:
        out["error"] = f"cannot copy it to check with its {'/'.join(companions)}: {exc}"
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return out


def check_postgres(path: str) -> dict[str, Any]:
    """A PostgreSQL data directory: its major version and pg_controldata's output, if any."""
    try:
        with open(os.path.join(path, "PG_VERSION")) as f:
            major = f.read().strip()
    except OSError as exc:
        return {"error": f"cannot read PG_VERSION: {exc}"}
    out: dict[str, Any] = {"version": major, "pg_wal": os.path.isdir(os.path.join(path, "pg_wal"))}
    tool = _tool("pg_controldata", major)
    out["controldata"] = _run([tool, "-D", path]) if tool else None
    return out


def check_pg_dump(path: str) -> dict[str, Any]:
    """A custom-format dump read through by pg_restore (every block, written to nowhere)."""
    tool = _tool("pg_restore")
    return {"check": _run([tool, "--file=/dev/null", path]) if tool else None}


def check_sql_gz(path: str) -> dict[str, Any]:
    tool = shutil.which("gzip")
    if tool:
        return {"check": _run([tool, "-t", "--", path])}
    try:
        with gzip.open(path, "rb") as f:
            while f.read(1 << 20):
                pass
        return {"check": {"tool": "python gzip", "rc": 0, "out": "", "err": ""}}
    except (OSError, EOFError) as exc:
        return {"check": {"tool": "python gzip", "rc": 1, "out": "", "err": str(exc)}}


def _read_config(path: str, size: int) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            return {"data": base64.b64encode(f.read(size + 1)).decode()}
    except OSError as exc:
        return {"error": str(exc)}


def _head(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(16)
    except OSError:
        return b""


def _is_cluster(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "PG_VERSION")) and os.path.isfile(
        os.path.join(path, "global", "pg_control")
    )


def _walk(root: str, found: list[dict[str, Any]], counts: dict[str, int]) -> None:
    stack = [root]
    while stack:
        d = stack.pop()
        if _is_cluster(d):
            found.append({"path": d, "kind": "postgresql", **check_postgres(d)})
            continue  # relation files inside a cluster are no SQLite and no configs
        try:
            entries = list(os.scandir(d))
        except OSError as exc:
            found.append({"path": d, "kind": "unreadable", "error": str(exc)})
            continue
        for de in entries:
            try:
                st = de.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISDIR(st.st_mode):
                stack.append(de.path)
            elif stat.S_ISREG(st.st_mode):
                counts["files"] += 1
                _file(de.path, de.name, st.st_size, found)


def _file(path: str, name: str, size: int, found: list[dict[str, Any]]) -> None:
    head = _head(path) if size >= MIN_DB_BYTES else b""
    kind = kind_of(name, head)
    if kind is None:
        return
    entry: dict[str, Any] = {"path": path, "kind": kind, "size": size}
    if kind == "sqlite":
        entry.update(check_sqlite(path))
    elif kind == "pg_dump":
        entry.update(check_pg_dump(path))
    elif kind == "sql.gz":
        entry.update(check_sql_gz(path))
    elif size > CONFIG_LIMIT:
        return
    else:
        entry.update(_read_config(path, size))
    found.append(entry)


def probe(request: dict[str, Any]) -> dict[str, Any]:
    """Walk `request["roots"]` (files or folders); every database and config found, unjudged."""
    start = time.monotonic()
    found: list[dict[str, Any]] = []
    counts = {"files": 0}
    for root in request.get("roots", []):
        if os.path.isdir(root) and not os.path.islink(root):
            _walk(root, found, counts)
        elif os.path.isfile(root) and not os.path.islink(root):
            counts["files"] += 1
            _file(root, os.path.basename(root), os.path.getsize(root), found)
    return {
        "items": found,
        "files": counts["files"],
        "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version,
        "seconds": time.monotonic() - start,
    }


def main() -> None:
    """`python3 -c SOURCE` entry: the request as JSON on stdin, the answer as JSON on stdout."""
    json.dump(probe(json.load(sys.stdin)), sys.stdout)
