"""Export to Ansible (checked by the real ansible-inventory) and Prometheus (checked by
prometheus_client's text parser); the lab side runs on a small real lab: a real restic repository,
real SQLite journal records (facts history and a real restore test)."""

from __future__ import annotations

import json
import math
import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from homelab_kit.cli import main
from homelab_kit.ecosystem.export.ansible import ansible_group, ansible_inventory
from homelab_kit.ecosystem.export.prometheus import (
    capacity_metrics,
    coverage_metrics,
    freshness_metrics,
    render,
    restore_metrics,
)
from homelab_kit.ecosystem.export.sources import write_textfiles
from homelab_kit.lab.model import Lab

ANSIBLE_INVENTORY = Path(__file__).resolve().parent.parent / ".venv" / "bin" / "ansible-inventory"
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def families(text: str) -> dict[str, object]:
    return {f.name: f for f in text_string_to_metric_families(text)}


def samples(text: str, name: str) -> dict[tuple, float]:
    return {tuple(sorted(s.labels.items())): s.value for s in families(text)[name].samples}


def test_rendered_metrics_parse_with_help_type_and_escaping():
    fresh = [
        {"backup": "daily", "host": "n100", "last_snapshot": NOW - timedelta(hours=3),
         "age": timedelta(hours=3), "max_age": timedelta(hours=30), "fresh": True},
        {"backup": "old", "host": "nas", "last_snapshot": None, "age": None,
         "max_age": timedelta(days=1), "fresh": False},
    ]  # fmt: skip
    cover = [
        {"backup": "daily", "host": "n100", "service": "vw", "path": '/var/lib/a "b"\\c', "covered": True, "status": "ok"},
        {"backup": "daily", "host": "n100", "service": "vw", "path": "/var/lib/x", "covered": False, "status": "never"},
    ]  # fmt: skip
    restore = [{"backup": "daily", "kind": "restore-test", "last_run": NOW, "last_status": "problems",
                "last_success": NOW - timedelta(days=7), "last_duration": 12.5}]  # fmt: skip
    capacity = [
        {"kind": "filesystem", "host": "nas", "name": "/volume1", "days_to_full": 42.5, "used_bytes": 10,
         "capacity_bytes": 100, "growth_bytes_per_day": 2.0, "status": "growing"},
        {"kind": "zpool", "host": "nas", "name": "tank", "days_to_full": None, "used_bytes": 10,
         "capacity_bytes": 100, "growth_bytes_per_day": 0.0, "status": "not growing"},
        {"kind": "repository", "host": "nas", "name": "r", "days_to_full": None, "used_bytes": None,
         "capacity_bytes": None, "status": "not enough history"},
    ]  # fmt: skip
    text = render(
        freshness_metrics(fresh)
        + coverage_metrics(cover)
        + restore_metrics(restore)
        + capacity_metrics(capacity)
    )
    fams = families(text)
    assert all(f.documentation and f.type == "gauge" for f in fams.values())
    assert text.count("# HELP ") == text.count("# TYPE ") == len(fams)
    last = samples(text, "homelab_backup_last_snapshot_timestamp_seconds")
    assert last == {(("backup", "daily"), ("host", "n100")): (NOW - timedelta(hours=3)).timestamp()}
    assert samples(text, "homelab_backup_fresh")[(("backup", "old"), ("host", "nas"))] == 0
    covered = samples(text, "homelab_backup_path_covered")
    key = (
        ("backup", "daily"),
        ("host", "n100"),
        ("path", '/var/lib/a "b"\\c'),
        ("service", "vw"),
        ("status", "ok"),
    )
    assert covered[key] == 1
    assert samples(text, "homelab_service_uncovered_paths") == {
        (("backup", "daily"), ("service", "vw")): 1
    }
    assert samples(text, "homelab_restore_test_last_ok") == {
        (("backup", "daily"), ("kind", "restore-test")): 0
    }
    assert (
        samples(text, "homelab_restore_test_last_duration_seconds")[
            (("backup", "daily"), ("kind", "restore-test"))
        ]
        == 12.5
    )
    days = samples(text, "homelab_capacity_days_to_full")
    assert days[(("host", "nas"), ("kind", "filesystem"), ("name", "/volume1"))] == 42.5
    assert math.isinf(days[(("host", "nas"), ("kind", "zpool"), ("name", "tank"))])
    assert len(days) == 2  # not enough history: no sample rather than a guess


@pytest.fixture
def lab(tmp_path):
    doc = {
        "lab": {"name": "t", "domain": "home.example"},
        "hosts": {
            "nas": {"transport": "local", "roles": ["nas", "storage-box"], "os": "debian"},
            "n100": {"address": "192.168.1.10", "user": "admin", "port": 2222, "os": "nixos",
                     "roles": ["server"], "identity_file": "keys/id"},
        },
        "services": {
            "files": {"host": "nas", "port": 8080, "subdomain": "files", "state_dirs": ["data/files"]},
            "vw": {"host": "n100", "port": 8222, "state_dirs": ["/var/lib/vw"], "user": "vw"},
        },
        "backups": {
            "nasbk": {"host": "nas", "repository": "repo", "password_file": "pw", "schedule": "daily",
                      "keep": {"daily": 7}, "password_command": None},
        },
    }  # fmt: skip
    del doc["backups"]["nasbk"]["password_command"]
    (tmp_path / "data" / "files").mkdir(parents=True)
    (tmp_path / "data" / "files" / "a.txt").write_text("hello\n")
    (tmp_path / "pw").write_text("pw\n")
    return Lab.from_dict(doc, path=tmp_path / "lab.toml")


def test_ansible_inventory_is_accepted_by_ansible_inventory(lab, tmp_path):
    out = tmp_path / "inv.yml"
    inv = ansible_inventory(lab)
    assert set(inv["all"]["children"]) == {"nas_hosts", "storage_box", "server", "nixos", "debian"}
    import yaml

    out.write_text(yaml.safe_dump(inv))
    env = {**os.environ, "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"), "HOME": str(tmp_path)}
    proc = subprocess.run(
        [str(ANSIBLE_INVENTORY), "-i", str(out), "--list"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    data = json.loads(proc.stdout)
    hv = data["_meta"]["hostvars"]
    assert hv["n100"]["ansible_host"] == "192.168.1.10" and hv["n100"]["ansible_port"] == 2222
    assert hv["n100"]["ansible_user"] == "admin"
    assert hv["n100"]["ansible_ssh_private_key_file"] == str(tmp_path / "keys" / "id")
    assert hv["nas"]["ansible_connection"] == "local"
    assert hv["n100"]["homelab_services"]["vw"] == {
        "port": 8222, "user": "vw", "group": "vw", "unit": "vw.service", "state_dirs": ["/var/lib/vw"]}  # fmt: skip
    assert hv["nas"]["homelab_backups"]["nasbk"]["keep"] == {"daily": 7}
    assert "password_command" not in json.dumps(hv)
    assert data["server"]["hosts"] == ["n100"] and data["nas_hosts"]["hosts"] == ["nas"]
    assert "WARNING" not in proc.stderr, proc.stderr
    assert ansible_group("9-bad.name") == "_9_bad_name"


def _restic(lab: Lab, restic_bin: str, *args: str) -> None:
    b = lab.backups["nasbk"]
    env = {**os.environ, "RESTIC_PASSWORD_FILE": b.password_file, "RESTIC_REPOSITORY": b.repository}
    subprocess.run([restic_bin, *args], env=env, check=True, capture_output=True)


def test_prometheus_textfiles_from_a_real_lab(lab, restic_bin, tmp_path):
    data = lab.services["files"].state_dirs[0]
    _restic(lab, restic_bin, "init")
    for days_ago in (2, 1):
        stamp = (NOW - timedelta(days=days_ago)).strftime("%Y-%m-%d %H:%M:%S")
        _restic(lab, restic_bin, "backup", "--host", "nas", "--time", stamp, data)
    for day in range(10):  # a disk filling by 1 GB a day
        fs = {
            "mount": "/volume1",
            "fstype": "ext4",
            "size": 100e9,
            "used": (40 + day) * 1e9,
            "available": (60 - day) * 1e9,
        }
        lab.journal.record_facts("nas", {"filesystems": [fs]}, at=NOW - timedelta(days=10 - day))
    from homelab_kit.restore.scratch import restore_test

    report = restore_test(lab, "nasbk", progress=False)
    assert report.ok
    out = tmp_path / "textfiles"
    written = write_textfiles(lab, out, now=NOW)
    assert all(note == "" for _, note in written), written
    text = {p.name: p.read_text() for p in out.glob("*.prom")}
    assert set(text) == {
        "homelab_backups.prom",
        "homelab_restore.prom",
        "homelab_capacity.prom",
        "homelab_export.prom",
    }
    fresh = samples(text["homelab_backups.prom"], "homelab_backup_fresh")
    assert fresh == {(("backup", "nasbk"), ("host", "nas")): 1}
    covered = samples(text["homelab_backups.prom"], "homelab_backup_path_covered")
    by_status = {dict(k)["status"]: v for k, v in covered.items()}
    assert by_status == {"ok": 1, "uncovered": 0}  # n100's vw is in no backup's covers
    ok = samples(text["homelab_restore.prom"], "homelab_restore_test_last_ok")
    assert ok == {(("backup", "nasbk"), ("kind", "restore-test")): 1}
    assert samples(
        text["homelab_restore.prom"], "homelab_restore_test_last_success_timestamp_seconds"
    )
    days = samples(text["homelab_capacity.prom"], "homelab_capacity_days_to_full")
    (value,) = [v for k, v in days.items() if ("name", "/volume1") in k]
    assert 45 < value < 60  # ~51 GB free at 1 GB/day
    status = samples(text["homelab_export.prom"], "homelab_export_success")
    assert set(status.values()) == {1.0} and len(status) == 3
    assert not list(out.glob(".*tmp"))  # atomic writes leave no temporaries


def test_a_failing_source_keeps_the_others_and_says_so(lab, tmp_path, capsys):
    """No repository: the backups source fails, capacity and restore files are still written."""
    out = tmp_path / "prom"
    (tmp_path / "lab.toml").write_text(
        '[lab]\nname = "t"\n[hosts.nas]\ntransport = "local"\n'
        '[backups.b]\nhost = "nas"\nrepository = "missing-repo"\npassword_file = "pw"\n'
    )
    assert (
        main(["--lab", str(tmp_path / "lab.toml"), "export", "prometheus", "--out", str(out)]) == 1
    )  # a timer must see the failure, though the other metrics are written
    err = capsys.readouterr().err
    assert "homelab_backups.prom (skipped:" in err
    assert err.splitlines()[-1] == "homelab-kit: export prometheus: source failed: backups"
    status = samples((out / "homelab_export.prom").read_text(), "homelab_export_success")
    assert status[(("source", "backups"),)] == 0 and status[(("source", "restore"),)] == 1
    assert not (out / "homelab_backups.prom").exists() and (out / "homelab_restore.prom").exists()


def test_cli_export_ansible_prints_yaml(tmp_path, capsys):
    (tmp_path / "lab.toml").write_text(
        '[lab]\nname = "t"\n[hosts.a]\naddress = "10.0.0.1"\nroles = ["web"]\n'
    )
    assert main(["--lab", str(tmp_path / "lab.toml"), "export", "ansible"]) == 0
    import yaml

    inv = yaml.safe_load(capsys.readouterr().out)
    assert inv["all"]["hosts"]["a"]["ansible_host"] == "10.0.0.1"
    assert inv["all"]["children"]["web"]["hosts"] == {"a": None}
