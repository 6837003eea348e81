"""Application checks on real data: do restored databases and configs *open*?

Real SQLite databases (torn by overwriting random pages, or caught with committed transactions
still in their -wal), real PostgreSQL clusters (initdb'ed and run by the real server as the
postgres user), real pg_dump archives, backed up with the real restic (0.14 and 0.18) and restored
by restore_test. A torn database restores byte-identical — and must still fail the test.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from homelab_kit.backups.restic import Restic
from homelab_kit.cli import main
from homelab_kit.lab.model import Lab
from homelab_kit.restore.appcheck import check_apps, run_probe
from homelab_kit.restore.apps import FAILING, build_checks, config_verdict, parse_controldata
from homelab_kit.restore.probe import probe
from homelab_kit.restore.scratch import restore_test
from homelab_kit.testing import start_ssh_hosts
from homelab_kit.transport.runner import LocalRunner
from tests import app_helpers as ah
from tests.test_restore import DATA, _lab

pytestmark = pytest.mark.timeout(180)


def checks(root: Path, wal_files=()) -> dict[str, tuple[str, str, str]]:
    """name → (kind, status, detail) for everything probe() finds under root."""
    found = probe({"roots": [str(root)]})["items"]
    return {
        Path(a.path).name: (a.kind, a.status, a.detail)
        for a in build_checks(found, "/", lambda p: None, wal_files)
    }


def test_sqlite_is_found_by_its_header_not_its_name(tmp_path):
    ah.make_sqlite(tmp_path / "data.bin")  # a database whatever its name
    (tmp_path / "stats.db").write_bytes(bytes(range(256)) * 40)  # a ".db" that is no database
    (tmp_path / "notes.sqlite").write_text("not a database either\n")
    found = checks(tmp_path)
    assert found.keys() == {"data.bin"}
    assert (
        found["data.bin"][:2] == ("sqlite", "ok") and "integrity_check ok" in found["data.bin"][2]
    )


def test_a_torn_database_is_corrupt(tmp_path):
    db = tmp_path / "db.sqlite3"
    ah.make_sqlite(db, rows=5000)
    assert checks(tmp_path)["db.sqlite3"][1] == "ok"
    ah.tear(db)
    kind, status, detail = checks(tmp_path)["db.sqlite3"]
    assert (kind, status) == ("sqlite", "corrupt"), detail
    assert "malformed" in detail or "integrity_check" in detail


def test_a_wal_is_checked_together_and_the_tree_is_never_written(tmp_path):
    live = tmp_path / "live"
    con = ah.make_sqlite(live / "kuma.db", rows=2000, wal=True)
    assert (live / "kuma.db-wal").stat().st_size > 0  # the rows are still only in the -wal
    restored = tmp_path / "restored"
    restored.mkdir()
    for name in ("kuma.db", "kuma.db-wal"):  # copied while the service runs, as restic does
        shutil.copy2(live / name, restored / name)
    con.close()
    before = sorted(p.name for p in restored.iterdir())
    kind, status, detail = checks(restored)["kuma.db"]
    assert (kind, status) == ("sqlite", "ok") and "with its -wal" in detail, detail
    assert sorted(p.name for p in restored.iterdir()) == before  # no -shm, nothing replayed here
    # the same database restored without the -wal the snapshot had: committed rows are missing
    (restored / "kuma.db-wal").unlink()
    wal = [str(restored / "kuma.db-wal")]
    assert checks(restored, wal)["kuma.db"][1] == "inconsistent"
    immutable = sqlite3.connect(f"file:{restored / 'kuma.db'}?mode=ro&immutable=1", uri=True)
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        immutable.execute("SELECT count(*) FROM items")  # why the lost -wal matters


def test_configs_parse_or_are_corrupt(tmp_path):
    (tmp_path / "config.json").write_text('{"domain": "https://vault.example"}')
    (tmp_path / "querylog.json").write_text('{"QH": "a.example"}\n{"QH": "b.example"}\n')
    (tmp_path / "broken.json").write_text('{"a": 1,,}')
    (tmp_path / "configuration.yaml").write_text(
        "default_config:\nautomation: !include automations.yaml\nhttp:\n  key: !secret k\n"
    )
    (tmp_path / "bad.yml").write_text("a: [1, 2\nb: c\n")
    (tmp_path / "lldap_config.toml").write_text('ldap_base_dn = "dc=home"\n')
    (tmp_path / "bad.toml").write_text("key = \n")
    (tmp_path / "big.json").write_text("[" + ",".join(["1"] * 600_000) + "]")  # > 1 MiB: data
    found = checks(tmp_path)
    assert "big.json" not in found
    assert {n: s for n, (_, s, _) in found.items()} == {
        "config.json": "ok",
        "querylog.json": "ok",
        "broken.json": "corrupt",
        "configuration.yaml": "ok",
        "bad.yml": "corrupt",
        "lldap_config.toml": "ok",
        "bad.toml": "corrupt",
    }
    assert "JSON Lines, 2 records" in found["querylog.json"][2]
    assert "line 1" in found["broken.json"][2] and "YAML" in found["bad.yml"][2]
    assert config_verdict("json", {"data": "//79"})[0] == "corrupt"  # not UTF-8


@pytest.fixture(scope="module")
def cluster():
    bin_dir = ah.need_postgres()
    with ah.pg_home() as home:
        c = ah.Cluster(bin_dir, home)
        yield c
        if (c.data / "postmaster.pid").exists():
            c.stop()


def test_postgresql_cluster_states_dumps_and_damage(cluster, tmp_path):
    """Shut down → ok; running → a warning (WAL replay needed); torn pg_control → corrupt;
    no pg_wal → inconsistent; pg_dump and .sql.gz read through by the real tools."""
    found = checks(cluster.home)["data"]
    assert found[:2] == ("postgresql", "ok") and "cluster state: shut down" in found[2]
    assert f"PostgreSQL {cluster.bin.parent.name}" in found[2]
    cluster.start()
    try:
        kind, status, detail = checks(cluster.home)["data"]
        assert (kind, status) == ("postgresql", "unknown") and "in production" in detail
        assert "dumps are safer" in detail
        dump = cluster.dump(tmp_path / "paperless.dump")
        gz = cluster.sql_gz(tmp_path / "immich.sql.gz")
    finally:
        cluster.stop()
    raw = probe({"roots": [str(cluster.data)]})["items"][0]["controldata"]["out"]
    assert parse_controldata(raw)["Database cluster state"] == "shut down"
    copy = tmp_path / "copy"
    shutil.copytree(cluster.data, copy / "data")
    control = copy / "data" / "global" / "pg_control"
    blob = bytearray(control.read_bytes())
    blob[100:108] = b"\xff" * 8
    control.write_bytes(bytes(blob))
    assert checks(copy)["data"][1] == "corrupt" and "CRC" in checks(copy)["data"][2]
    shutil.rmtree(copy / "data" / "pg_wal")
    assert checks(copy)["data"][1] == "inconsistent"
    (tmp_path / "trunc.dump").write_bytes(dump.read_bytes()[: dump.stat().st_size // 2])
    (tmp_path / "trunc.sql.gz").write_bytes(gz.read_bytes()[:-40])
    found = checks(tmp_path)
    assert found["paperless.dump"][:2] == ("pg_dump", "ok")
    assert found["immich.sql.gz"][:2] == ("sql.gz", "ok")
    assert found["trunc.dump"][:2] == ("pg_dump", "corrupt")  # `pg_restore --list` would pass it
    assert found["trunc.sql.gz"][:2] == ("sql.gz", "corrupt")


def test_a_cluster_backed_up_while_running_restores_with_a_warning(cluster, tmp_path):
    """restic copies a running cluster faithfully; the restore test verifies it clean and warns
    that PostgreSQL will need WAL replay — not a failure, but said."""
    lab = _lab(tmp_path, shutil.which("restic") or "restic")
    data = tmp_path / DATA
    data.mkdir(parents=True)
    restic = Restic.for_backup(lab.backups["b"], lab)
    restic.init()
    cluster.start()
    try:
        shutil.copytree(cluster.data, data / "pg", symlinks=True)  # while it runs
    finally:
        cluster.stop()
    restic.backup([str(data)])
    report = restore_test(lab, "b", progress=False)
    assert report.ok and not report.problem_list
    pg = [a for a in report.apps if a.kind == "postgresql"]
    assert [(a.service, a.status) for a in pg] == [("app", "unknown")]
    assert "in production" in pg[0].detail and pg[0].path == str(data / "pg")


@pytest.fixture
def app_world(restic_bin, tmp_path):
    """A lab whose state holds a clean database, a torn one, one with its -wal and a config,
    backed up with the real restic."""
    lab = _lab(tmp_path, restic_bin)
    data = tmp_path / DATA
    ah.make_sqlite(data / "clean.sqlite3")
    ah.make_sqlite(data / "db.sqlite3", rows=5000)
    ah.tear(data / "db.sqlite3")
    con = ah.make_sqlite(data / "kuma.db", rows=1500, wal=True)
    (data / "config.json").write_text('{"signups_allowed": false}')
    restic = Restic.for_backup(lab.backups["b"], lab)
    restic.init()
    restic.backup([str(data)])
    con.close()
    return lab, data


def test_restore_test_fails_on_a_torn_database_though_every_byte_matched(app_world, capsys):
    lab, data = app_world
    report = restore_test(lab, "b", progress=False)
    assert report.problem_list == [] and report.content_files == report.files  # byte-identical
    assert not report.ok
    status = {Path(a.path).name: a.status for a in report.apps}
    assert status == {
        "clean.sqlite3": "ok",
        "db.sqlite3": "corrupt",
        "kuma.db": "ok",
        "config.json": "ok",
    }
    assert all(a.service == "app" for a in report.apps)
    assert "app corrupt 1" in report.summary_line() and "corrupt" in report._repr_html_()
    assert main(["--lab", str(lab.path), "restore-test", "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] is False and out["problems"] == []
    torn = next(a for a in out["apps"] if a["path"].endswith("/db.sqlite3"))
    assert set(torn) == {"path", "service", "kind", "status", "detail"}
    assert (torn["service"], torn["kind"], torn["status"]) == ("app", "sqlite", "corrupt")
    assert out["app_counts"] == {"ok": 3, "corrupt": 1}
    run = lab.journal.runs("restore-test", limit=1)[0]  # the summary keeps its old keys, plus apps
    assert run["status"] == "problems" and run["summary"]["apps"] == out["apps"]
    assert {"ok", "problems", "files", "bytes", "snapshot_id"} <= set(run["summary"])
    assert main(["--lab", str(lab.path), "restore-test"]) == 1
    text = capsys.readouterr().out
    assert "corrupt  app" in text and "db.sqlite3" in text


def test_a_restore_without_the_snapshots_wal_is_inconsistent(app_world):
    lab, data = app_world
    report = restore_test(lab, "b", paths=[str(data / "kuma.db")], progress=False)
    assert report.problem_list == []
    [kuma] = report.apps
    assert kuma.status in FAILING and kuma.status == "inconsistent" and not report.ok


def test_no_python3_on_the_host_skips_the_checks_and_says_so(tmp_path):
    """Over real SSH: the probe runs as `python3 -c` on the host; on a host whose python3 is
    missing (a script on its PATH exiting 127, as a shell does) every check is skipped, not passed."""
    state = tmp_path / "state"
    ah.make_sqlite(state / "db.sqlite3")
    ah.tear(state / "db.sqlite3")
    with start_ssh_hosts(1, tmp_path / "sshd", prefix="apy", first=90) as fleet:
        lab = Lab.from_dict(fleet.lab_dict("apps-ssh"), path=tmp_path / "lab.toml")
        runner = lab.runner("apy1")
        found = check_apps(runner, "/", [str(state)], [])
        assert [(a.kind, a.status) for a in found.apps] == [("sqlite", "corrupt")]
        assert found.apps == check_apps(LocalRunner(), "/", [str(state)], []).apps  # same probe
        fleet[0].add_script("python3", 'echo "sh: 1: python3: not found" >&2; exit 127')
        skipped = check_apps(runner, "/", [str(state)], [])
        assert skipped.apps == [] and skipped.note.startswith("skipped: no python3 on apy1")
        assert run_probe(runner, [str(state)]) is None
