"""The journal: schema version, migrations that keep records, runs/steps frames, cache, facts."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from homelab_kit import journal as journal_mod
from homelab_kit.errors import JournalError
from homelab_kit.journal import SCHEMA_VERSION, Journal


def test_new_journal_has_current_schema(tmp_path: Path) -> None:
    j = Journal(tmp_path / "sub" / "journal.sqlite")
    assert j.schema_version == SCHEMA_VERSION >= 1
    with sqlite3.connect(j.path) as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"runs", "steps", "cache", "facts"} <= tables


def test_run_with_steps_and_frames(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite")
    t0 = datetime(2024, 5, 1, 3, 0, tzinfo=UTC)
    with j.run("restore-test", {"backup": "nightly"}) as run:
        run.step("restore", host="n100", status="ok", started=t0, finished=t0 + timedelta(seconds=5),
                 exit_code=0, stdout="restored 3 files", data={"files": 3})  # fmt: skip
        run.step("verify", host="n100", status="failed", exit_code=1, stderr="mode differs")
        run.summary = {"files": 3}
        run.status = "failed"
    runs = j.frame("restore-test")
    assert list(runs["status"]) == ["failed"] and runs.loc[0, "parameters"] == {"backup": "nightly"}
    assert runs.loc[0, "summary"] == {"files": 3} and runs.loc[0, "seconds"] >= 0
    steps = j.steps(run_id=int(runs.loc[0, "id"]))
    assert list(steps["name"]) == ["restore", "verify"] and list(steps["exit_code"]) == [0, 1]
    assert steps.loc[0, "data"] == {"files": 3} and steps.loc[0, "started"] == t0
    assert list(j.steps(kind="restore-test")["seq"]) == [1, 2]
    assert j.frame("deploy").empty


def test_exception_marks_run_failed_and_propagates(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite")
    with pytest.raises(ValueError, match="boom"), j.run("deploy") as run:
        run.step("switch", host="n100", status="ok")
        raise ValueError("boom")
    (row,) = j.runs("deploy")
    assert (
        row["status"] == "failed"
        and row["summary"]["error"] == "ValueError: boom"
        and row["finished"]
    )


def test_past_run_times(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite")
    t0 = datetime(2024, 1, 2, 23, 30, tzinfo=UTC)
    with j.run("backup", {"backup": "b"}, started=t0) as run:
        run.finished = t0 + timedelta(seconds=42)
    df = j.frame("backup")
    assert df.loc[0, "started"] == t0 and df.loc[0, "seconds"] == 42


def test_runs_newest_first_with_limit(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite")
    for i in range(3):
        with j.run("facts", {"i": i}):
            pass
    assert [r["parameters"]["i"] for r in j.runs(limit=2)] == [2, 1]
    assert list(j.frame()["id"]) == sorted(j.frame()["id"])


def test_migrations_keep_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "j.sqlite"
    with Journal(path).run("restore-test", {"v": 1}) as run:
        run.step("restore", status="ok")
    Journal(path).cache_put("snapshot-stats", "abc", {"size": 1})
    newer = (
        *journal_mod.MIGRATIONS,
        "ALTER TABLE runs ADD COLUMN note TEXT; CREATE TABLE extra (x INTEGER)",
    )
    monkeypatch.setattr(journal_mod, "MIGRATIONS", newer)
    monkeypatch.setattr(journal_mod, "SCHEMA_VERSION", len(newer))
    j = Journal(path)
    assert j.schema_version == len(newer)
    assert [r["parameters"] for r in j.runs()] == [{"v": 1}]
    assert len(j.steps()) == 1 and j.cache_get("snapshot-stats", "abc") == {"size": 1}
    with sqlite3.connect(path) as db:
        assert "note" in [r[1] for r in db.execute("PRAGMA table_info(runs)")]


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    with pytest.raises(JournalError, match="is newer than this homelab_kit"):
        Journal(path).runs()


def test_garbage_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    path.write_bytes(b"not a database at all" * 100)
    with pytest.raises(JournalError, match="not a usable journal"):
        Journal(path).runs()


def test_cache(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite")
    assert j.cache_get("snapshot-stats", "abc") is None
    j.cache_put("snapshot-stats", "abc", {"total_size": 10, "files": [1, 2]})
    j.cache_put("snapshot-stats", "def", {"total_size": 20})
    j.cache_put("other", "abc", 1)
    assert j.cache_get("snapshot-stats", "abc") == {"total_size": 10, "files": [1, 2]}
    assert j.cache_get_many("snapshot-stats") == {
        "abc": {"total_size": 10, "files": [1, 2]},
        "def": {"total_size": 20},
    }
    j.cache_put("snapshot-stats", "abc", {"total_size": 11})
    assert j.cache_get("snapshot-stats", "abc") == {"total_size": 11}


def test_facts_history(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite")
    assert list(j.facts_frame().columns) == ["at", "host"]
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    for day in range(3):
        for host in ("n100", "nas"):
            fs = [
                {
                    "filesystem": "/dev/sda1",
                    "type": "ext4",
                    "size": 100,
                    "used": 10 + day,
                    "available": 90 - day,
                    "mount": "/",
                }
            ]
            j.record_facts(host, {"filesystems": fs, "cpus": 4}, at=t0 + timedelta(days=day))
    df = j.facts_frame()
    assert len(df) == 6 and {"at", "host", "filesystems", "cpus"} <= set(df.columns)
    assert str(df["at"].dt.tz) == "UTC" and df["at"].is_monotonic_increasing
    nas = j.facts_frame("nas")
    assert list(nas["host"].unique()) == ["nas"] and [f[0]["used"] for f in nas["filesystems"]] == [
        10,
        11,
        12,
    ]
