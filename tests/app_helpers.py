"""Real application data for the app-check tests: SQLite databases (and torn ones), PostgreSQL
clusters made by the real initdb and run by the real postgres, pg_dump archives, gzip dumps.

PostgreSQL refuses to run as root, so clusters live in a world-traversable folder under /tmp owned
by the `postgres` user (Debian's postgresql-common creates it) and every server command runs through
`runuser -u postgres`. Without the binaries the PostgreSQL tests are skipped, saying why.
"""

from __future__ import annotations

import contextlib
import glob
import gzip
import os
import random
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

PAGE = 4096


def make_sqlite(path: Path, rows: int = 3000, wal: bool = False) -> sqlite3.Connection | None:
    """A real database of ~rows·120 bytes; with wal=True the connection stays open (returned) with
    committed transactions still in the -wal, as a running service leaves it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path, isolation_level=None)
    if wal:
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA wal_autocheckpoint=0")
    con.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, body TEXT)")
    con.execute("CREATE INDEX items_name ON items(name)")
    rng = random.Random(7)
    con.execute("BEGIN")
    con.executemany(
        "INSERT INTO items (name, body) VALUES (?, ?)",
        [(f"item {i}", rng.randbytes(50).hex()) for i in range(rows)],
    )
    con.execute("COMMIT")
    if wal:
        return con
    con.close()
    return None


def tear(path: Path, seed: int = 1, fraction: float = 0.3) -> list[int]:
    """Overwrite random pages (never page 1, so the header still says SQLite) with random bytes,
    as a copy taken mid-write can hold; the mtime is kept. Returns the torn page numbers."""
    st = path.stat()
    pages = st.st_size // PAGE
    rng = random.Random(seed)
    torn = sorted(rng.sample(range(1, pages), max(1, int((pages - 1) * fraction))))
    with open(path, "r+b") as f:
        for n in torn:
            f.seek(n * PAGE)
            f.write(rng.randbytes(PAGE))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    return torn


def pg_bin() -> Path | None:
    """The newest Debian PostgreSQL bin folder with initdb, or None."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0,
    )
    return Path(found[-1]).parent if found else None


def need_postgres() -> Path:
    """pg's bin folder, or skip (with the reason) where PostgreSQL is truly absent."""
    bin_dir = pg_bin()
    if bin_dir is None or not (bin_dir / "pg_controldata").exists():
        pytest.skip("PostgreSQL server binaries not installed (apt install postgresql-15)")
    if shutil.which("runuser") is None or subprocess.run(["id", "postgres"]).returncode:
        pytest.skip("no postgres user / runuser to run the real server as")
    return bin_dir


def as_postgres(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["runuser", "-u", "postgres", "--", *argv], capture_output=True, text=True, check=True
    )


@contextlib.contextmanager
def pg_home() -> Iterator[Path]:
    """A folder under /tmp the postgres user can reach (pytest's tmp folders are root-only)."""
    home = Path(tempfile.mkdtemp(prefix="hlk-pg-", dir="/tmp"))
    home.chmod(0o755)
    shutil.chown(home, "postgres", "postgres")
    try:
        yield home
    finally:
        shutil.rmtree(home, ignore_errors=True)


class Cluster:
    """A real cluster: initdb'ed, startable, stoppable; `dump()` makes a custom-format pg_dump."""

    def __init__(self, bin_dir: Path, home: Path) -> None:
        self.bin, self.home = bin_dir, home
        self.data = home / "data"
        as_postgres(str(bin_dir / "initdb"), "-D", str(self.data), "-A", "trust", "--no-sync")

    def start(self) -> None:
        opts = f"-c listen_addresses='' -k {self.home} -c fsync=off"
        log = str(self.home / "log")
        as_postgres(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", opts, "-l", log, "-w", "start"
        )
        as_postgres(str(self.bin / "psql"), "-h", str(self.home), "-d", "postgres", "-q", "-c",
                    "CREATE TABLE IF NOT EXISTS t AS SELECT g, md5(g::text) FROM generate_series(1, 20000) g")  # fmt: skip

    def stop(self) -> None:
        as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def dump(self, path: Path) -> Path:
        out = as_postgres(str(self.bin / "pg_dump"), "-h", str(self.home), "-Fc", "-f",
                          str(self.home / "dump"), "postgres")  # fmt: skip
        assert out.returncode == 0
        shutil.copyfile(self.home / "dump", path)
        return path

    def sql_gz(self, path: Path) -> Path:
        out = as_postgres(str(self.bin / "pg_dump"), "-h", str(self.home), "postgres")
        path.write_bytes(gzip.compress(out.stdout.encode()))
        return path
