"""The demo as a new user meets it: every SQLite database of a clean restore test opens; tear
vaultwarden's database, back it up with restic itself, and `restore-test` must now fail; lint then
names every live database copied without `prepare` or `stop_services`, until they are declared.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import tomlkit

from homelab_kit.backups.restic import Restic
from homelab_kit.cli import main
from homelab_kit.lab.model import load_lab
from homelab_kit.restore.probe import SQLITE_MAGIC
from homelab_kit.restore.scratch import restore_test
from tests import app_helpers as ah

pytestmark = pytest.mark.timeout(300)


def sqlite_files(root: Path) -> set[str]:
    """Every file under root that starts with the SQLite header (by bytes, as the checks do)."""
    out = set()
    for p in root.rglob("*"):
        if p.is_file() and not p.is_symlink() and p.stat().st_size >= 512:
            with open(p, "rb") as f:
                if f.read(16) == SQLITE_MAGIC:
                    out.add(str(p))
    return out


@pytest.mark.parametrize("backup", ["n100-daily", "nas-docker"])
def test_clean_demo_lists_every_sqlite_database_ok(demo_lab, backup):
    report = restore_test(demo_lab, backup, progress=False)
    assert report.ok, (report.problem_list[:3], [a for a in report.apps if a.status != "ok"])
    dbs = {a.path for a in report.apps if a.kind == "sqlite"}
    host = demo_lab.backups[backup].host
    assert dbs == sqlite_files(demo_lab.root / "hosts" / host) and len(dbs) >= 2
    assert all(a.status == "ok" for a in report.apps)
    assert not any(a.path.endswith("stats.db") for a in report.apps)  # AdGuard's is no SQLite
    if backup == "nas-docker":  # compose data, owned by the services that will move
        owners = {Path(a.path).name: a.service for a in report.apps if a.kind == "sqlite"}
        assert owners == {"mealie.db": "mealie", "db.sqlite3": "paperless"}
    assert report.checks["applications"].startswith("checked: ")


@pytest.fixture(scope="module")
def demo_copy(demo_lab, tmp_path_factory):
    """A copy of the demo lab (owners, modes and times kept), free to damage."""
    dest = tmp_path_factory.mktemp("demo-copy") / "demo"
    subprocess.run(["cp", "-a", str(demo_lab.root), str(dest)], check=True)
    return dest / "lab.toml"


def test_a_torn_vaultwarden_database_fails_the_restore_test(demo_copy, capsys):
    lab = load_lab(demo_copy)
    db = Path(lab.services["vaultwarden"].state_dirs[0]) / "db.sqlite3"
    ah.tear(db, seed=4)
    b = lab.backups["n100-daily"]
    paths = sorted(
        {
            r["path"]
            for r in lab.backup_path_rows()
            if r["backup"] == b.name and os.path.exists(r["path"])
        }
    )
    assert Restic.for_backup(b, lab).backup(paths, host="n100")["exit_code"] == 0
    assert main(["--lab", str(demo_copy), "restore-test", "--backup", "n100-daily", "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["problems"] == []  # restic brought every byte back
    bad = [a for a in out["apps"] if a["status"] != "ok"]
    assert [(a["service"], a["kind"], a["status"], a["path"]) for a in bad] == [
        ("vaultwarden", "sqlite", "corrupt", str(db))
    ]


def test_lint_names_live_databases_until_prepare_or_stop_services(demo_copy, capsys):
    lab = load_lab(demo_copy)
    if not lab.journal.runs("restore-test"):
        restore_test(lab, "n100-daily", progress=False)

    def warnings(lab) -> dict[str, str]:
        return {
            f["subject"]: f["message"]
            for f in lab.lint_findings()
            if "live SQLite database" in f["message"]
        }

    assert "nope" not in lab.services and lab.services.get("nope") is None  # lint asks so
    found = warnings(lab)
    assert {"services.vaultwarden", "services.home-assistant", "services.uptime-kuma"} <= set(found)
    vw = found["services.vaultwarden"]
    db = lab.services["vaultwarden"].state_dirs[0] + "/db.sqlite3"
    assert vw.startswith(
        f"{db} is a live SQLite database: [backups.n100-daily] and [backups.n100-offsite]"
    )
    assert 'stop_services = ["vaultwarden"]' in vw and f"prepare = \"sqlite3 {db} '.backup" in vw
    doc = tomlkit.parse(demo_copy.read_text())
    doc["backups"]["n100-daily"]["stop_services"] = ["vaultwarden"]
    doc["backups"]["n100-offsite"]["prepare"] = "systemctl stop vaultwarden"
    demo_copy.write_text(tomlkit.dumps(doc))
    after = warnings(load_lab(demo_copy))
    assert "services.vaultwarden" not in after
    assert "[backups.n100-daily] copies it" in after["services.home-assistant"]
    doc["backups"]["n100-daily"]["stop_services"] = ["vaultwardn"]
    demo_copy.write_text(tomlkit.dumps(doc))
    assert main(["--lab", str(demo_copy), "lint"]) == 2  # a typo is bad input, with a hint
    err = capsys.readouterr().err
    assert 'backups.n100-daily.stop_services[0]: unknown service "vaultwardn"' in err
    assert 'did you mean "vaultwarden"' in err
