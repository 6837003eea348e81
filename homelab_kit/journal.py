"""The journal: every run record in one SQLite file.

runs (one per restore test, migration, deploy, facts gathering, ...), their steps or per-host
results, a cache of immutable results (restic snapshot stats keyed by snapshot id) and the facts
history for capacity planning. The schema is versioned with PRAGMA user_version; migrations only
add, so records are never lost. Each call opens its own short connection, so threads may write.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import JournalError

if TYPE_CHECKING:
    import pandas as pd

MIGRATIONS: tuple[str, ...] = (
    # 0 -> 1: the first schema
    """
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        started TEXT NOT NULL,
        finished TEXT,
        status TEXT NOT NULL DEFAULT 'running',
        parameters TEXT NOT NULL DEFAULT '{}',
        summary TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX runs_kind ON runs(kind, started);
    CREATE TABLE steps (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id INTEGER NOT NULL REFERENCES runs(id),
        seq INTEGER NOT NULL,
        name TEXT NOT NULL,
        host TEXT,
        status TEXT NOT NULL,
        started TEXT,
        finished TEXT,
        exit_code INTEGER,
        stdout TEXT NOT NULL DEFAULT '',
        stderr TEXT NOT NULL DEFAULT '',
        data TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX steps_run ON steps(run_id, seq);
    CREATE TABLE cache (
        kind TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        created TEXT NOT NULL,
        PRIMARY KEY (kind, key)
    );
    CREATE TABLE facts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        host TEXT NOT NULL,
        data TEXT NOT NULL
    );
    CREATE INDEX facts_host ON facts(host, at);
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)
OUTPUT_LIMIT = 64_000  # characters of stdout/stderr kept per step


def utcnow() -> datetime:
    return datetime.now(UTC)


def _iso(t: datetime | None) -> str | None:
    if t is None:
        return None
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).astimezone(UTC).isoformat()


def _dumps(value: Any) -> str:
    return json.dumps(value, default=str, sort_keys=True)


def _clip(text: str) -> str:
    return (
        text
        if len(text) <= OUTPUT_LIMIT
        else text[: OUTPUT_LIMIT // 2] + "\n…\n" + text[-OUTPUT_LIMIT // 2 :]
    )


@dataclass
class RunRecord:
    """An open run: add steps, fill the summary, set the status; saved when the block ends."""

    journal: Journal
    id: int
    kind: str
    status: str = "ok"
    summary: dict[str, Any] = field(default_factory=dict)
    finished: datetime | None = None  # set to record a past run (demo history); default: now
    _seq: int = 0

    def step(
        self,
        name: str,
        *,
        host: str | None = None,
        status: str = "ok",
        started: datetime | None = None,
        finished: datetime | None = None,
        exit_code: int | None = None,
        stdout: str = "",
        stderr: str = "",
        data: dict[str, Any] | None = None,
    ) -> int:
        self._seq += 1
        with self.journal._connect() as db:
            cur = db.execute(
                "INSERT INTO steps (run_id, seq, name, host, status, started, finished, exit_code,"
                " stdout, stderr, data) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    self.id,
                    self._seq,
                    name,
                    host,
                    status,
                    _iso(started),
                    _iso(finished or utcnow()),
                    exit_code,
                    _clip(stdout),
                    _clip(stderr),
                    _dumps(data or {}),
                ),
            )
            return int(cur.lastrowid or 0)


class Journal:
    """The lab's SQLite journal (created and migrated on first use)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._ready = False

    def _connect(self) -> _Autoclose:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        except (sqlite3.Error, OSError) as exc:
            raise JournalError(f"{self.path}: cannot open the journal: {exc}") from None
        db.execute("PRAGMA busy_timeout = 30000")
        if not self._ready:
            self._migrate(db)
        return _Autoclose(db)

    def _migrate(self, db: sqlite3.Connection) -> None:
        try:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise JournalError(
                    f"{self.path}: journal schema {version} is newer than this homelab_kit "
                    f"({SCHEMA_VERSION}); upgrade homelab_kit"
                )
            if version < SCHEMA_VERSION:
                db.execute("PRAGMA journal_mode = WAL")
                db.execute("BEGIN IMMEDIATE")
                version = db.execute("PRAGMA user_version").fetchone()[0]
                for script in MIGRATIONS[version:]:
                    for statement in script.split(";"):
                        if statement.strip():
                            db.execute(statement)
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                db.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            raise JournalError(
                f"{self.path}: not a usable journal ({exc}); move it aside"
            ) from None
        self._ready = True

    @property
    def schema_version(self) -> int:
        with self._connect() as db:
            return int(db.execute("PRAGMA user_version").fetchone()[0])

    @contextmanager
    def run(
        self,
        kind: str,
        parameters: dict[str, Any] | None = None,
        *,
        started: datetime | None = None,
    ) -> Iterator[RunRecord]:
        """Record a run; an exception inside the block marks it failed (and propagates)."""
        with self._connect() as db:
            cur = db.execute(
                "INSERT INTO runs (kind, started, parameters) VALUES (?,?,?)",
                (kind, _iso(started or utcnow()), _dumps(parameters or {})),
            )
            record = RunRecord(self, int(cur.lastrowid or 0), kind)
        try:
            yield record
        except BaseException as exc:
            record.status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
            record.summary.setdefault("error", f"{type(exc).__name__}: {exc}")
            raise
        finally:
            with self._connect() as db:
                db.execute(
                    "UPDATE runs SET finished=?, status=?, summary=? WHERE id=?",
                    (
                        _iso(record.finished or utcnow()),
                        record.status,
                        _dumps(record.summary),
                        record.id,
                    ),
                )

    def runs(self, kind: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """Runs as plain dicts, newest first (for the CLI, which avoids pandas)."""
        sql = "SELECT id, kind, started, finished, status, parameters, summary FROM runs"
        args: tuple[Any, ...] = ()
        if kind:
            sql, args = sql + " WHERE kind = ?", (kind,)
        sql += " ORDER BY id DESC" + (f" LIMIT {int(limit)}" if limit else "")
        with self._connect() as db:
            rows = db.execute(sql, args).fetchall()
        keys = ("id", "kind", "started", "finished", "status", "parameters", "summary")
        out = [dict(zip(keys, r)) for r in rows]
        for r in out:
            r["parameters"], r["summary"] = json.loads(r["parameters"]), json.loads(r["summary"])
        return out

    def frame(self, kind: str | None = None) -> pd.DataFrame:
        import pandas as pd

        df = pd.DataFrame(
            self.runs(kind),
            columns=["id", "kind", "started", "finished", "status", "parameters", "summary"],
        )
        for col in ("started", "finished"):
            df[col] = pd.to_datetime(df[col], utc=True, format="ISO8601")
        df["seconds"] = (df["finished"] - df["started"]).dt.total_seconds()
        return df.sort_values("id").reset_index(drop=True)

    def steps(self, run_id: int | None = None, kind: str | None = None) -> pd.DataFrame:
        import pandas as pd

        sql = (
            "SELECT s.run_id, r.kind, s.seq, s.name, s.host, s.status, s.started, s.finished,"
            " s.exit_code, s.stdout, s.stderr, s.data FROM steps s JOIN runs r ON r.id = s.run_id"
        )
        conds, args = [], []
        if run_id is not None:
            conds.append("s.run_id = ?")
            args.append(run_id)
        if kind:
            conds.append("r.kind = ?")
            args.append(kind)
        sql += (" WHERE " + " AND ".join(conds) if conds else "") + " ORDER BY s.run_id, s.seq"
        with self._connect() as db:
            rows = db.execute(sql, args).fetchall()
        cols = [
            "run_id",
            "kind",
            "seq",
            "name",
            "host",
            "status",
            "started",
            "finished",
            "exit_code",
            "stdout",
            "stderr",
            "data",
        ]
        df = pd.DataFrame(rows, columns=cols)
        df["data"] = df["data"].map(json.loads)
        for col in ("started", "finished"):
            df[col] = pd.to_datetime(df[col], utc=True, format="ISO8601")
        return df

    def cache_get(self, kind: str, key: str) -> Any | None:
        with self._connect() as db:
            row = db.execute(
                "SELECT value FROM cache WHERE kind=? AND key=?", (kind, key)
            ).fetchone()
        return None if row is None else json.loads(row[0])

    def cache_get_many(self, kind: str) -> dict[str, Any]:
        with self._connect() as db:
            rows = db.execute("SELECT key, value FROM cache WHERE kind=?", (kind,)).fetchall()
        return {k: json.loads(v) for k, v in rows}

    def cache_put(self, kind: str, key: str, value: Any) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO cache (kind, key, value, created) VALUES (?,?,?,?)",
                (kind, key, _dumps(value), _iso(utcnow())),
            )

    def stamp(self, kind: str | None = None) -> str:
        """Changes whenever runs of `kind` (None: the facts history) are added: for caches of
        results computed from them."""
        sql = ("SELECT count(*), max(id) FROM facts", ()) if kind is None else (
            "SELECT count(*), max(id) FROM runs WHERE kind = ?", (kind,))  # fmt: skip
        with self._connect() as db:
            count, last = db.execute(*sql).fetchone()
        return f"{count}:{last}"

    def record_facts(self, host: str, facts: dict[str, Any], at: datetime | None = None) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT INTO facts (at, host, data) VALUES (?,?,?)",
                (_iso(at or utcnow()), host, _dumps(facts)),
            )

    def facts_frame(self, host: str | None = None) -> pd.DataFrame:
        """The facts history: one row per host and gathering, a column per fact."""
        import pandas as pd

        sql, args = "SELECT at, host, data FROM facts", ()
        if host:
            sql, args = sql + " WHERE host = ?", (host,)
        with self._connect() as db:
            rows = db.execute(sql + " ORDER BY at, id", args).fetchall()
        df = pd.DataFrame([{"at": at, "host": h, **json.loads(d)} for at, h, d in rows])
        if df.empty:
            return pd.DataFrame(columns=["at", "host"])
        df["at"] = pd.to_datetime(df["at"], utc=True, format="ISO8601")
        return df


class _Autoclose:
    """A connection used as `with journal._connect() as db:` that closes at the end."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> sqlite3.Connection:
        return self._db

    def __exit__(self, *exc: object) -> None:
        with closing(self._db):
            pass

    def execute(self, *args: Any) -> sqlite3.Cursor:
        return self._db.execute(*args)
