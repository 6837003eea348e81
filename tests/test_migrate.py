"""Migrations on local-transport hosts with real files, users, rsync, chown, restic and HTTP.

`docker`, `systemctl` and `nixos-rebuild` cannot run here: they are recording scripts first on PATH
(see migrate_helpers), which log their argv and keep a little state; everything else is real.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from homelab_kit.cli import main
from homelab_kit.errors import PlanError, StepFailed, UnsafePathError
from homelab_kit.lab.model import load_lab
from homelab_kit.migrate.planner import migratable_services, plan_migration
from homelab_kit.plans.plan import execute
from homelab_kit.testing import descendants
from tests import migrate_helpers as mh

SYSTEM_RESTIC = shutil.which("restic") or "restic"


@pytest.fixture
def user():
    name = mh.make_user()
    yield name
    mh.drop_user(name)


@pytest.fixture
def health():
    server = mh.HealthServer()
    yield server
    server.close()


def build(
    tmp_path: Path,
    user: str,
    health,
    *,
    os_name="debian",
    restic=SYSTEM_RESTIC,
    paths=True,
    bin_dir=None,
):
    """A lab with a compose NAS and a native host, both local; returns (lab_path, source, target, state)."""
    state = tmp_path / "fake-state"
    mh.fake_tools(bin_dir or tmp_path / "bin", state)
    (state / "container-running").touch()
    compose_dir = tmp_path / "nas" / "docker" / "mealie"
    source = compose_dir / "data"
    source.mkdir(parents=True)
    mh.make_appdata(source)
    (compose_dir / "docker-compose.yml").write_text(
        "services:\n  mealie:\n    image: ghcr.io/mealie-recipes/mealie:v1.12.0\n"
        "    environment: [PUID=1000, PGID=1000]\n    ports: ['9925:9000']\n"
        "    volumes:\n      - ./data:/app/data\n      - /etc/localtime:/etc/localtime:ro\n"
    )
    target = tmp_path / "n100" / "var" / "lib" / "mealie"
    repo, pw = tmp_path / "repo", tmp_path / "restic-password"
    mh.init_repo(restic, repo, pw)
    migrate_from = {
        "host": "nas",
        "compose_file": str(compose_dir / "docker-compose.yml"),
        "puid": 1000,
        "pgid": 1000,
    }
    if paths:
        migrate_from["paths"] = {str(source): str(target)}
    doc = {
        "lab": {"name": "migtest"},
        "hosts": {
            "nas": {"transport": "local", "os": "compose"},
            "n100": {"transport": "local", "os": os_name},
        },
        "services": {
            "mealie": {
                "host": "n100",
                "port": health.port,
                "user": user,
                "group": user,
                "unit": "mealie.service",
                "state_dirs": [str(target)],
                "health": health.url,
                "migrate_from": migrate_from,
            }
        },
        "backups": {
            "main": {
                "host": "n100",
                "repository": str(repo),
                "password_file": str(pw),
                "covers": ["n100"],
                "restic": restic,
            }
        },
    }
    return mh.write_lab(tmp_path / "lab.toml", doc), source, target, state


@pytest.fixture
def fake_path(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    return tmp_path / "bin"


def assert_migrated(source, target, before, user):
    assert mh.tree_digest(source) == before, "the source must stay byte-identical"
    assert mh.tree_digest(target, owners=False) == {k: v[:-2] for k, v in before.items()}
    uid, gid = pwd.getpwnam(user).pw_uid, pwd.getpwnam(user).pw_gid
    assert {(p.lstat().st_uid, p.lstat().st_gid) for p in [target, *target.rglob("*")]} == {
        (uid, gid)
    }
    assert (target / "latest.db").is_symlink() and os.readlink(target / "latest.db") == "mealie.db"
    assert (target / "secret.key").stat().st_nlink == 2 and (
        target / "secret.key"
    ).stat().st_mode & 0o777 == 0o600


def test_full_migration_to_nixos(tmp_path, user, health, fake_path, restic_bin):
    lab_path, source, target, state = build(
        tmp_path, user, health, os_name="nixos", restic=restic_bin
    )
    before = mh.tree_digest(source)
    lab = load_lab(lab_path)
    assert migratable_services(lab) == ["mealie"]
    plan = plan_migration(lab, "mealie")
    phases = [s.phase for s in plan]
    assert (
        phases.index("stop")
        < phases.index("snapshot")
        < phases.index("deploy")
        < phases.index("copy")
    )
    assert phases.index("copy") < phases.index("chown") < phases.index("start")
    assert any("exists only once the service is enabled" in n for n in plan.notes)
    assert not target.exists() and mh.calls(state) == []  # planning ran nothing
    outcomes = execute(plan, lab, progress=False)
    assert {o.status for o in outcomes} == {"ok"}
    assert_migrated(source, target, before, user)
    log = mh.calls(state)
    assert (
        f"docker compose -f {source.parent}/docker-compose.yml stop mealie @ {source.parent}" in log
    )
    assert "nixos-rebuild switch" in log and "systemctl stop mealie.service" in log
    assert log.index("systemctl stop mealie.service") < log.index("systemctl start mealie.service")
    snaps = mh.snapshots(restic_bin, tmp_path / "repo", tmp_path / "restic-password")
    tags = sorted(t for s in snaps for t in s["tags"] if t.startswith("migrate-"))
    assert [t.rsplit("-", 1)[0] for t in tags] == ["migrate-mealie-after", "migrate-mealie-before"]
    assert {s["hostname"] for s in snaps} == {"nas", "n100"}
    # re-running a finished migration changes nothing on disk and skips the copy and chown
    again = execute(plan, lab, progress=False)
    by_phase = {o.step.phase: o.status for o in again if o.step.destructive}
    assert set(by_phase.values()) == {"skipped"}
    assert_migrated(source, target, before, user)


def test_migration_to_debian_with_paths_from_compose(tmp_path, user, health, fake_path):
    lab_path, source, target, state = build(tmp_path, user, health, paths=False)
    before = mh.tree_digest(source)
    lab = load_lab(lab_path)
    plan = plan_migration(lab, "mealie")
    assert plan.parameters["paths"] == {str(source): str(target)}  # ./data, not /etc/localtime
    assert [s.title for s in plan if s.phase == "preflight"][-2:] == [
        f"user {user} exists",
        f"group {user} exists",
    ]
    execute(plan, lab, progress=False)
    assert_migrated(source, target, before, user)
    assert "systemctl enable --now mealie.service" in mh.calls(state)


def test_failure_stops_and_rerun_resumes(tmp_path, user, health, fake_path):
    lab_path, source, target, state = build(tmp_path, user, health)
    before = mh.tree_digest(source)
    lab = load_lab(lab_path)
    plan = plan_migration(lab, "mealie")
    (state / "fail-systemctl").touch()
    with pytest.raises(StepFailed) as err:
        execute(plan, lab, progress=False)
    assert "'start mealie.service' on n100 failed" in str(err.value)
    assert "systemctl enable --now mealie.service" in str(err.value)
    assert mh.tree_digest(target, owners=False)  # the copy happened before the failure
    (state / "fail-systemctl").unlink()
    outcomes = execute(plan, lab, progress=False)
    status = {o.step.title: o.status for o in outcomes}
    assert status["stop container mealie"] == "skipped"
    assert status[f"copy {source} → {target}"] == "skipped"
    assert status["start mealie.service"] == "ok"
    assert_migrated(source, target, before, user)
    runs = lab.journal.frame("migrate").sort_values("id")
    assert list(runs["status"]) == ["failed", "ok"]


def test_interrupted_copy_is_resumed(tmp_path, user, health, fake_path):
    """Kill `homelab-kit migrate apply` (and its rsync) mid-copy; the re-run completes and verifies."""
    lab_path, source, target, state = build(tmp_path, user, health)
    big = source / "recipes" / "videos"
    big.mkdir()
    for i in range(6):
        (big / f"v{i}.mp4").write_bytes(os.urandom(256 * 1024))
        os.lchown(big / f"v{i}.mp4", 1000, 1000)
    os.lchown(big, 1000, 1000)
    before = mh.tree_digest(source)
    slow = tmp_path / "slow-bin"
    slow.mkdir()
    (slow / "rsync").write_text(mh.SLOW_RSYNC)
    (slow / "rsync").chmod(0o755)
    env = {**os.environ, "PATH": f"{slow}:{os.environ['PATH']}"}
    cli = [sys.executable, "-c", "from homelab_kit.cli import run; run()"]
    proc = subprocess.Popen(
        [*cli, "--lab", str(lab_path), "migrate", "apply", "mealie", "--yes", "--no-progress"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    copied = 0
    while time.monotonic() < deadline and proc.poll() is None:
        copied = (
            sum(p.stat().st_size for p in target.rglob("*") if p.is_file())
            if target.exists()
            else 0
        )
        if copied > 200 * 1024:
            break
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()
    for pid in [*descendants(proc.pid), proc.pid]:
        os.kill(pid, signal.SIGKILL)
    proc.wait()
    time.sleep(0.2)
    assert 0 < copied < sum(p.stat().st_size for p in source.rglob("*") if p.is_file())
    assert mh.tree_digest(target, owners=False) != mh.tree_digest(source, owners=False)
    lab = load_lab(lab_path)
    first = lab.journal.frame("migrate")
    assert list(first["status"]) == ["running"]  # killed: never finished
    outcomes = execute(plan_migration(lab, "mealie"), lab, progress=False)
    status = {o.step.title: o.status for o in outcomes}
    assert status["stop container mealie"] == "skipped"
    assert status["snapshot source (main)"] == "skipped"
    assert status[f"copy {source} → {target}"] == "ok"
    assert status[f"verify {target} matches {source} (checksums)"] == "ok"
    assert_migrated(source, target, before, user)
    assert not [p for p in target.rglob(".*") if p.name.startswith(".r") or "~" in p.name]


def test_planning_connects_to_nothing(tmp_path):
    """SSH hosts on a closed port: a plan with explicit paths still builds and renders."""
    doc = {
        "lab": {"name": "offline"},
        "hosts": {
            "nas": {
                "address": "127.0.0.1",
                "port": 1,
                "os": "compose",
                "host_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl",
            },
            "n100": {"address": "127.0.0.1", "port": 1, "os": "nixos", "flake": "/etc/nixos"},
        },
        "services": {
            "vaultwarden": {
                "host": "n100",
                "port": 8222,
                "user": "vaultwarden",
                "state_dirs": ["/var/lib/vaultwarden"],
                "migrate_from": {
                    "host": "nas",
                    "compose_file": "/volume1/docker/vw/docker-compose.yml",
                    "paths": {"/volume1/docker/vw/data": "/var/lib/vaultwarden"},
                },
            }
        },
    }
    lab = load_lab(mh.write_lab(tmp_path / "lab.toml", doc))
    plan = plan_migration(lab, "vaultwarden")
    frame = plan.to_frame()
    copy = next(s for s in plan if s.phase == "copy" and s.destructive)
    assert copy.host == "n100" and copy.argv[-2] == "root@127.0.0.1:/volume1/docker/vw/data/"
    e = copy.argv[copy.argv.index("-e") + 1]
    assert (
        "KnownHostsCommand=/usr/bin/env echo [127.0.0.1]:1 ssh-ed25519" in e
        and "StrictHostKeyChecking=yes" in e
    )
    assert "nixos-rebuild switch --flake '/etc/nixos#n100'" in set(frame["command"])
    chown = next(s for s in plan if s.phase == "chown")
    assert chown.argv == (
        "chown",
        "-R",
        "-h",
        "-P",
        "vaultwarden:vaultwarden",
        "--",
        "/var/lib/vaultwarden",
    )
    assert any("no backup" in n for n in plan.notes)
    assert "rm" not in {s.argv[0] for s in plan}  # the source is never deleted
    assert "<table>" in plan._repr_html_()


def test_plan_refuses_unsafe_state_dirs_and_bad_mappings(tmp_path):
    doc = {
        "lab": {"name": "bad"},
        "hosts": {
            "nas": {"address": "10.0.0.2", "os": "compose"},
            "n100": {"address": "10.0.0.3", "os": "debian"},
        },
        "services": {
            "evil": {
                "host": "n100",
                "user": "evil",
                "state_dirs": ["/var/lib"],
                "migrate_from": {
                    "host": "nas",
                    "compose_file": "/x/c.yml",
                    "paths": {"/x/data": "/var/lib"},
                },
            },
            "wrong": {
                "host": "n100",
                "user": "w",
                "state_dirs": ["/var/lib/wrong"],
                "migrate_from": {
                    "host": "nas",
                    "compose_file": "/x/c.yml",
                    "paths": {"/x/data": "/var/lib/other"},
                },
            },
            "plain": {"host": "n100", "state_dirs": ["/var/lib/plain"]},
        },
    }
    lab = load_lab(mh.write_lab(tmp_path / "lab.toml", doc))
    with pytest.raises(UnsafePathError, match="protected system path"):
        plan_migration(lab, "evil")
    with pytest.raises(PlanError, match="not inside the service's state_dirs"):
        plan_migration(lab, "wrong")
    with pytest.raises(PlanError, match="no \\[services.plain.migrate_from\\]"):
        plan_migration(lab, "plain")


def test_cli_plan_and_apply_needs_yes(tmp_path, user, health, fake_path, capsys):
    lab_path, source, target, state = build(tmp_path, user, health)
    assert main(["--lab", str(lab_path), "migrate", "plan", "mealie", "--json"]) == 0
    import json

    data = json.loads(capsys.readouterr().out)
    assert data["parameters"]["service"] == "mealie" and data["steps"][0]["phase"] == "preflight"
    assert main(["--lab", str(lab_path), "migrate", "apply", "mealie"]) == 2
    assert "re-run with --yes" in capsys.readouterr().out and not target.exists()
    assert main(["--lab", str(lab_path), "migrate", "plan", "nope"]) == 2
    assert 'no service "nope"' in capsys.readouterr().err
