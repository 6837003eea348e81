"""Disaster-recovery drills over real sshd test hosts: bring a host's state back elsewhere, timed.

The source host's backups are the demo's real restic repositories (90 days of snapshots); the
target is an empty sshd host that runs restic itself, as a spare VM would. The test hosts share
this machine's filesystem, so a drill of the demo restores under a root folder (its live paths
exist); a second lab loses its state first — the disaster — and is drilled back into `/`.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from homelab_kit.backups.restic import Restic
from homelab_kit.cli import main
from homelab_kit.errors import UnsafePathError
from homelab_kit.lab.model import Lab
from homelab_kit.restore.drill import drill
from homelab_kit.restore.drill_report import DrillReport
from homelab_kit.restore.history import drill_history
from homelab_kit.testing import start_ssh_hosts
from homelab_kit.workbench.plots.restore import drill_rto_chart
from tests import app_helpers as ah

pytestmark = pytest.mark.timeout(300)
RESTIC = shutil.which("restic") or "restic"


def write(doc: dict, path: Path) -> Lab:
    import tomlkit

    path.write_text(tomlkit.dumps(doc))
    return Lab.from_dict(doc, path=path)


@pytest.fixture(scope="module")
def demo_drill(demo_lab, tmp_path_factory):
    """dr1 carries the demo's n100 (its services, state dirs and both backups); dr2 is empty."""
    base = tmp_path_factory.mktemp("drill")
    with start_ssh_hosts(2, base / "sshd", prefix="dr", first=95) as fleet:
        services = {}
        for s in demo_lab.services_on("n100"):
            services[s.name] = {"host": "dr1", "user": s.user, "state_dirs": list(s.state_dirs)}
            if s.migrate_from:
                services[s.name]["migrate_from"] = {
                    "host": "dr1",
                    "compose_file": s.migrate_from.compose_file,
                }
        backups = {
            name: {
                "host": "dr1",
                "repository": b.repository,
                "password_file": b.password_file,
                "covers": ["dr1"],
                "extra_paths": list(b.extra_paths),
                "restic": RESTIC,
            }
            for name, b in demo_lab.backups.items()
            if b.host == "n100"
        }
        doc = fleet.lab_dict("drill", services=services, backups=backups)
        doc["hosts"]["dr1"]["rto"] = "4h"
        doc["lab"].update(journal=str(base / "journal.sqlite"), cache_dir=str(base / "cache"))
        yield write(doc, base / "lab.toml"), base


def test_the_demo_server_comes_back_on_a_spare_host(demo_drill, demo_lab):
    lab, base = demo_drill
    root = base / "drill-root"
    report = drill(lab, "dr1", "dr2", root=str(root), progress=False)
    assert report.ok, (report.services, report.problem_list[:5])
    status = {s["service"]: s["status"] for s in report.services}
    assert status.pop("mealie") == status.pop("paperless") == "pending_migration"
    assert set(status.values()) == {"ok"} and "vaultwarden" in status and "(extra paths)" in status
    used = {s["backup"]: s["status"] for s in report.sources}
    assert used == {"n100-daily": "used", "n100-offsite": "older"}  # the stale one is not used
    sqlite = [a for a in report.apps if a.kind == "sqlite"]
    assert len(sqlite) == 6 and {a.status for a in report.apps} == {"ok"}
    assert report.bytes == sum(s["bytes"] for s in report.services) > 1_000_000
    assert 0 < report.restore_seconds < report.rto_seconds and report.rto_met is True
    assert report.rto_goal_seconds == 4 * 3600 and "against 4.0h: met" in report.summary_line()
    assert not root.exists()  # a root the drill made is removed unless keep
    history = drill_history(lab)
    last = history.iloc[-1]
    assert (last["host"], last["target"], bool(last["ok"]), bool(last["rto_met"])) == (
        "dr1", "dr2", True, True,
    )  # fmt: skip
    assert last["services_ok"] == 9 and last["run_id"] == report.run_id
    fig = drill_rto_chart(history)
    assert fig.axes[0].get_ylabel() == "RTO (minutes)" and len(fig.axes[0].lines) == 2  # + goal
    assert "brought back" in report._repr_html_()
    # the watch counts a passing drill as a restore test of the backups it restored from
    from homelab_kit.watch.checks import restore_rows

    ages = {
        r.subject: r.status
        for r in restore_rows(lab, list(lab.backups.values()), report_time(report))
    }
    assert ages == {"n100-daily": "ok", "n100-offsite": "fail"}


def report_time(report):
    from datetime import datetime, timedelta

    return datetime.fromisoformat(report.started) + timedelta(minutes=5)


def test_drill_refuses_production_and_occupied_targets(demo_drill, capsys):
    lab, base = demo_drill
    with pytest.raises(UnsafePathError, match="dr1 is the host being drilled"):
        drill(lab, "dr1", "dr1", progress=False)
    with pytest.raises(UnsafePathError, match="already holds data there .not a fresh host"):
        drill(lab, "dr1", "dr2", progress=False)  # into / : the live paths exist on this disk
    args = ["--lab", str(lab.path), "restore-test", "--drill", "dr1"]
    assert main([*args, "--target", "dr1"]) == 2
    assert "refusing drill of dr1 onto dr1" in capsys.readouterr().err
    assert main(args) == 2 and "--target TESTHOST" in capsys.readouterr().err
    assert main([*args, "--target", "dr2", "--backup", "n100-daily"]) == 2
    assert "--backup: a drill restores the newest snapshot" in capsys.readouterr().err
    assert main([*args, "--target", "dr3"]) == 2 and 'did you mean "dr2"' in capsys.readouterr().err
    root = base / "cli-root"
    assert main([*args, "--target", "dr2", "--root", str(root), "--keep", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["kind"] == "drill" and out["ok"] and out["rto_met"] is True
    assert {"service", "status", "bytes", "apps"} <= set(out["services"][0])
    assert root.is_dir() and out["kept"]  # --keep leaves it for a look around
    shutil.rmtree(root)
    assert main([*args, "--target", "dr2", "--root", str(root)]) == 0
    assert "drill dr1 → dr2" in capsys.readouterr().out


@pytest.fixture
def disaster(tmp_path):
    """dz1 backs up its service's state; then the state is gone. dz2 is a spare host."""
    state = tmp_path / "srv" / "notes"
    ah.make_sqlite(state / "notes.db", rows=4000)
    (state / "settings.json").write_text('{"theme": "dark"}')
    (state / "attachments").mkdir()
    (state / "attachments" / "a.bin").write_bytes(os.urandom(50_000))
    os.symlink("settings.json", state / "current")
    (tmp_path / "pw").write_text("drill-password\n")
    with start_ssh_hosts(2, tmp_path / "sshd", prefix="dz", first=98) as fleet:
        doc = fleet.lab_dict(
            "disaster",
            services={"notes": {"host": "dz1", "user": "root", "state_dirs": [str(state)]}},
            backups={"b": {"host": "dz1", "repository": str(tmp_path / "repo"),
                           "password_file": str(tmp_path / "pw"), "restic": RESTIC}},
        )  # fmt: skip
        doc["lab"].update(journal=str(tmp_path / "journal.sqlite"))
        lab = write(doc, tmp_path / "lab.toml")
        restic = Restic.for_backup(lab.backups["b"], lab)
        restic.init()
        restic.backup([str(state)], host="dz1")
        before = {p.name: p.stat().st_size for p in state.rglob("*") if p.is_file()}
        shutil.rmtree(state)  # the disaster
        yield lab, state, before


def test_a_lost_host_is_drilled_back_into_slash(disaster):
    lab, state, before = disaster
    report = drill(lab, "dz1", "dz2", progress=False)
    assert report.ok, report.problem_list
    assert report.root == "/" and report.kept
    assert {p.name: p.stat().st_size for p in state.rglob("*") if p.is_file()} == before
    assert os.readlink(state / "current") == "settings.json"
    assert [(Path(a.path).name, a.service, a.status) for a in report.apps] == [
        ("notes.db", "notes", "ok"),
        ("settings.json", "notes", "ok"),
    ]
    assert report.services[0]["state"] == "1/1 dirs" and report.files == 3
    with pytest.raises(UnsafePathError, match="already holds data"):
        drill(lab, "dz1", "dz2", progress=False)
    again = drill(lab, "dz1", "dz2", yes_overwrite=True, progress=False)  # a spare: guard agrees
    assert again.ok


def test_the_guard_refuses_an_occupied_path_that_leads_to_a_system_path(disaster):
    """On the target the state dir is a symlink to /snap (absent here, so nothing can be harmed
    even if the guard failed): --yes-overwrite still cannot make the drill write there."""
    lab, state, _ = disaster
    assert not os.path.lexists("/snap")
    state.parent.mkdir(parents=True, exist_ok=True)
    os.symlink("/snap", state)
    with pytest.raises(UnsafePathError, match="protected system path"):
        drill(lab, "dz1", "dz2", yes_overwrite=True, progress=False)
    assert os.readlink(state) == "/snap" and not lab.journal.runs("drill")


def test_a_missed_rto_fails_the_drill():
    report = DrillReport(host="n100", target="spare", root="/", started="", rto_seconds=7200,
                         rto_goal_seconds=3600)  # fmt: skip
    assert report.rto_met is False and not report.ok
    assert "(slower than the RTO goal)" in report.summary_line()
    assert "RTO 2.0h against 60m: MISSED" in report.summary_line()
    assert DrillReport(host="n", target="s", root="/", started="").rto_met is None
