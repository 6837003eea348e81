"""The demo lab: built once per session (real restic, real SQLite), validated, and telling its story:
~90 days of snapshots, a service added mid-way, a stale backup, a coverage gap, a partial backup,
compose services waiting to migrate, and a disk-usage history."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
import yaml

from homelab_kit.demo.build import DemoError, build_demo
from homelab_kit.lab.model import Lab, load_lab

pytestmark = pytest.mark.slow


def snapshots(restic: str, lab: Lab, backup: str) -> list[dict]:
    b = lab.backups[backup]
    env = {
        **os.environ,
        "RESTIC_REPOSITORY": b.repository,
        "RESTIC_PASSWORD_FILE": str(b.password_file),
    }
    r = subprocess.run(
        [restic, "snapshots", "--json", "--no-cache"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    snaps = json.loads(r.stdout)
    for s in snaps:
        s["at"] = (
            pd.Timestamp(s["time"]).tz_convert("UTC").to_pydatetime()
        )  # restic prints nanoseconds
    return sorted(snaps, key=lambda s: s["at"])


def test_demo_lab_validates(demo_lab: Lab) -> None:
    lab = load_lab(demo_lab.path)
    assert set(lab.hosts) == {"n100", "desk", "nas"}
    assert all(h.transport == "local" for h in lab.hosts.values())
    assert lab.hosts["n100"].roles == ("server",) and lab.hosts["n100"].os == "nixos"
    assert lab.hosts["desk"].os == "nixos" and lab.hosts["nas"].os == "compose"
    assert len(lab.services) >= 10
    assert {
        "vaultwarden",
        "mealie",
        "jellyfin",
        "adguard",
        "paperless",
        "home-assistant",
        "traefik",
        "authelia",
        "lldap",
    } <= set(lab.services)
    for s in lab.services.values():
        for d in s.state_dirs:
            assert d.startswith(str(lab.root / "hosts" / s.host)), d


def test_password_files_are_private(demo_lab: Lab) -> None:
    for b in demo_lab.backups.values():
        assert stat.S_IMODE(Path(str(b.password_file)).stat().st_mode) == 0o600


def test_snapshots_span_90_days(demo_lab: Lab, restic_bin: str) -> None:
    """Both restic versions read the repositories the system restic wrote."""
    now = datetime.now(UTC)
    snaps = snapshots(restic_bin, demo_lab, "n100-daily")
    assert 88 <= len(snaps) <= 92
    assert snaps[-1]["at"] - snaps[0]["at"] >= timedelta(days=88)
    assert now - snaps[-1]["at"] < demo_lab.backups["n100-daily"].max_age  # fresh
    assert {s["hostname"] for s in snaps} == {"n100"}
    nas = snapshots(restic_bin, demo_lab, "nas-docker")
    assert len(nas) >= 88 and {s["hostname"] for s in nas} == {"nas"}


def test_service_added_mid_way(demo_lab: Lab) -> None:
    snaps = snapshots("restic", demo_lab, "n100-daily")
    kuma = demo_lab.services["uptime-kuma"].state_dirs[0]
    assert kuma not in snaps[0]["paths"] and kuma in snaps[-1]["paths"]
    first = next(i for i, s in enumerate(snaps) if kuma in s["paths"])
    assert 30 <= first <= 60
    # every path restic recorded is a path the lab derives (final paths, not the build folder)
    derived = set(demo_lab.backup_paths()["path"])
    assert all(p in derived for s in snaps for p in s["paths"])


def test_stale_backup(demo_lab: Lab) -> None:
    last = snapshots("restic", demo_lab, "n100-offsite")[-1]["at"]
    age = datetime.now(UTC) - last
    assert timedelta(days=20) < age < timedelta(days=23)
    assert age > demo_lab.backups["n100-offsite"].max_age


def test_coverage_gap(demo_lab: Lab) -> None:
    lint = demo_lab.lint()
    gap = lint[(lint.severity == "error") & (lint.subject == "services.syncthing")]
    assert len(gap) == 1 and "covered by no backup" in gap.iloc[0]["message"]
    syncthing = demo_lab.services["syncthing"].state_dirs[0]
    assert Path(syncthing, "config.xml").exists()
    for b in demo_lab.backups:
        assert all(syncthing not in s["paths"] for s in snapshots("restic", demo_lab, b))


def test_partial_backup_in_journal(demo_lab: Lab) -> None:
    runs = demo_lab.journal.frame("backup")
    assert len(runs) >= 240
    partial = runs[runs["summary"].map(lambda s: s.get("exit_code")) == 3]
    days = {t.date() for t in partial["started"]}
    assert len(days) == 1 and set(partial["status"]) == {"partial"}
    steps = demo_lab.journal.steps(kind="backup")
    assert 3 in set(steps["exit_code"]) and "could not be read" in " ".join(
        steps[steps.exit_code == 3]["stderr"]
    )
    assert "demo-" not in " ".join(steps["stderr"])  # the password never lands in the journal


def test_compose_services_waiting_to_migrate(demo_lab: Lab) -> None:
    compose_dir = Path(demo_lab.hosts["nas"].compose_dir)
    compose = yaml.safe_load((compose_dir / "docker-compose.yml").read_text())
    movers = [s for s in demo_lab.services.values() if s.migrate_from]
    assert {s.name for s in movers} >= {"mealie", "paperless"}
    for s in movers:
        mf = s.migrate_from
        assert s.host == "n100" and mf.host == "nas" and (mf.puid, mf.pgid) == (1026, 100)
        assert (
            Path(mf.compose_file) == compose_dir / "docker-compose.yml"
            and mf.compose_service in compose["services"]
        )
        for src, dst in mf.paths.items():
            assert any(Path(src).iterdir()), src  # real appdata
            assert any(dst.startswith(d) for d in s.state_dirs)
    with sqlite3.connect(compose_dir / "mealie/data/mealie.db") as db:
        assert db.execute("SELECT count(*) FROM recipes").fetchone()[0] >= 40
    with sqlite3.connect(compose_dir / "paperless/data/db.sqlite3") as db:
        (name,) = db.execute(
            "SELECT filename FROM documents_document ORDER BY id LIMIT 1"
        ).fetchone()
    assert (
        (compose_dir / "paperless/media/documents/originals" / name)
        .read_bytes()
        .startswith(b"%PDF-1.4")
    )


def test_real_service_state(demo_lab: Lab) -> None:
    vw = Path(demo_lab.services["vaultwarden"].state_dirs[0])
    with sqlite3.connect(vw / "db.sqlite3") as db:
        assert db.execute("SELECT count(*) FROM ciphers").fetchone()[0] > 25
    assert any((vw / "attachments").rglob("*"))
    jf = Path(demo_lab.services["jellyfin"].state_dirs[0])
    assert len(list(jf.glob("metadata/library/*/*/poster.jpg"))) >= 40


def test_disk_usage_history(demo_lab: Lab) -> None:
    from homelab_kit.capacity.forecast import filesystem_series

    facts = demo_lab.journal.facts_frame()
    assert facts.groupby("host").size().min() >= 88
    series = filesystem_series(facts)
    vol = series[(series.host == "nas") & (series.name == "/volume1")]
    grow_per_day = (vol.used_bytes.iloc[-1] - vol.used_bytes.iloc[0]) / 90
    free = vol.capacity_bytes.iloc[-1] - vol.used_bytes.iloc[-1]
    assert 0 < free / grow_per_day < 365  # fills within a year
    root = series[(series.host == "n100") & (series.name == "/")]
    assert root.used_bytes.max() - root.used_bytes.min() < 0.01 * root.size_bytes.iloc[0]  # flat
    desk = series[(series.host == "desk") & (series.name == "/")].used_bytes.diff()
    assert (desk > 100e9).sum() == 1 and (desk < -100e9).sum() == 1  # a one-off spike
    assert (series.kind == "zpool").any()


def test_refuses_existing_without_force(demo_lab: Lab) -> None:
    with pytest.raises(DemoError, match="pass --force"):
        build_demo(demo_lab.root)


def test_failed_build_leaves_old_lab_untouched(tmp_path: Path) -> None:
    target = tmp_path / "demo"
    target.mkdir()
    (target / "keep.txt").write_text("old")
    with pytest.raises(Exception, match="restic init failed"):
        build_demo(target, force=True, restic="/bin/false", progress=False)
    assert (target / "keep.txt").read_text() == "old" and not target.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo"]  # no build folder left behind
