"""Migrations never leave state behind: unset compose variables, a torn source database, a
PostgreSQL data dir the target cannot open, files the container did not own.

Real public compose files (tests/fixtures/compose: immich without its `.env`, paperless-ngx with
USERMAP_UID), real local hosts with real files, users, rsync and chown; `docker`, `systemctl` and
`nixos-rebuild` are the recording scripts of migrate_helpers, first on PATH.
"""

from __future__ import annotations

import os
import pwd
import shutil
import tomllib

import pytest
import tomlkit

from homelab_kit.cli import main
from homelab_kit.demo.data import COMPOSE_YML
from homelab_kit.ecosystem.compose.parse import load_compose, parse_compose
from homelab_kit.ecosystem.compose.toml import propose_toml
from homelab_kit.errors import InventoryError
from homelab_kit.lab.model import Host, load_lab
from homelab_kit.migrate.planner import plan_migration
from homelab_kit.migrate.precheck import check_source, postgres_warnings
from homelab_kit.plans.plan import execute
from tests import app_helpers as ah
from tests import migrate_helpers as mh
from tests.test_compose import FIX
from tests.test_migrate import build, fake_path, health, user  # noqa: F401 - fixtures

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def immich(tmp_path):
    """immich's real compose file without the .env that sets UPLOAD_LOCATION."""
    folder = tmp_path / "immich"
    folder.mkdir()
    shutil.copy(FIX / "immich" / "docker-compose.yml", folder)
    return folder / "docker-compose.yml"


def test_an_unset_upload_location_is_kept_as_a_check_entry(immich, capsys):
    c = load_compose(immich, env={})
    [upload] = [m for m in c.services["immich-server"].mounts if m.target == "/usr/src/app/upload"]
    assert (upload.type, upload.source, upload.unset) == (
        "bind",
        "${UPLOAD_LOCATION}",
        ("UPLOAD_LOCATION",),
    )
    text = propose_toml(c, host="n100", source_host="nas")
    paths = tomllib.loads(text)["services"]["immich_server"]["migrate_from"]["paths"]
    assert paths == {"${UPLOAD_LOCATION}": "/var/lib/immich_server"}  # the photo library stays
    assert "# CHECK: services.immich-server: UPLOAD_LOCATION not set" in text
    assert '"${DB_DATA_LOCATION}"' in text  # the database's folder too
    assert main(["import", "compose", str(immich), "--host", "n100"]) == 0
    captured = capsys.readouterr()
    assert "warning:" in captured.err and "UPLOAD_LOCATION not set" in captured.err
    with_env = load_compose(FIX / "immich" / "docker-compose.yml", env=None)
    assert with_env.services["immich-server"].binds[0].unset == ()


def test_migrate_plan_refuses_an_unresolved_variable(immich, tmp_path, capsys):
    """The pasted proposal loads (and lint names it), but migrate plan exits 2 naming the variable;
    derived from the compose file directly, the unset mount is refused the same way."""
    proposal = tomlkit.parse(
        propose_toml(load_compose(immich, env={}), host="n100", source_host="nas")
    )
    doc = {
        "lab": {"name": "immich"},
        "hosts": {"nas": {"address": "10.0.0.5", "os": "compose"},
                  "n100": {"address": "10.0.0.6", "os": "nixos"}},
        "services": {"immich_server": proposal["services"]["immich_server"].unwrap()},
    }  # fmt: skip
    lab_path = mh.write_lab(tmp_path / "lab.toml", doc)
    lab = load_lab(lab_path)
    assert any("unresolved compose variable" in f["message"] for f in lab.lint_findings())
    assert main(["--lab", str(lab_path), "migrate", "plan", "immich_server"]) == 2
    err = capsys.readouterr().err
    assert "still holds the compose variable UPLOAD_LOCATION" in err and len(err.splitlines()) == 1
    del doc["services"]["immich_server"]["migrate_from"]["paths"]
    lab = load_lab(mh.write_lab(tmp_path / "lab.toml", doc))
    with pytest.raises(InventoryError, match="unset variable UPLOAD_LOCATION"):
        plan_migration(lab, "immich_server", compose=load_compose(immich, env={}))


def test_paperless_usermap_ids_are_the_container_owner():
    c = parse_compose(
        COMPOSE_YML, path="/volume1/docker/docker-compose.yml", read_file=lambda p: None
    )
    assert (c.services["paperless"].puid, c.services["paperless"].pgid) == (1026, 100)
    real = load_compose(FIX / "paperless" / "docker-compose.yml", env={})
    assert (real.services["webserver"].puid, real.services["webserver"].pgid) == (1026, 100)


def test_chown_maps_only_what_the_container_owned(tmp_path, user, health, fake_path):  # noqa: F811
    lab_path, source, target, state = build(tmp_path, user, health)
    (source / "made-by-root.txt").write_text("a helper container wrote this\n")
    os.lchown(source / "made-by-root.txt", 4242, 4242)
    plan = plan_migration(load_lab(lab_path), "mealie")
    chowns = [s.argv for s in plan if s.phase == "chown"]
    assert chowns == [
        ("chown", "-R", "-h", "-P", "--from=1000", user, "--", str(target)),
        ("chown", "-R", "-h", "-P", "--from=:1000", f":{user}", "--", str(target)),
    ]
    assert any("files it did not own keep their owners" in n for n in plan.notes)
    execute(plan, load_lab(lab_path), progress=False)
    uid, gid = pwd.getpwnam(user).pw_uid, pwd.getpwnam(user).pw_gid
    owners = {p.name: (p.lstat().st_uid, p.lstat().st_gid) for p in target.rglob("*")}
    assert owners.pop("made-by-root.txt") == (4242, 4242)
    assert set(owners.values()) == {(uid, gid)}
    again = execute(plan, load_lab(lab_path), progress=False)
    assert {o.status for o in again if o.step.phase == "chown"} == {"skipped"}


def test_a_torn_source_database_stops_the_migration(tmp_path, user, health, fake_path, capsys):  # noqa: F811
    lab_path, source, target, state = build(tmp_path, user, health)
    (source / "mealie.db").unlink()
    ah.make_sqlite(source / "mealie.db", rows=5000)
    os.lchown(source / "mealie.db", 1000, 1000)
    lab = load_lab(lab_path)
    clean = check_source(lab, "mealie")
    assert clean.ok and [(a.kind, a.status) for a in clean.apps] == [("sqlite", "ok")]
    ah.tear(source / "mealie.db")
    assert main(["--lab", str(lab_path), "migrate", "plan", "mealie"]) == 1
    out = capsys.readouterr().out
    assert "app checks on nas (the source)" in out and f"corrupt: {source}/mealie.db" in out
    assert main(["--lab", str(lab_path), "migrate", "apply", "mealie", "--yes"]) == 1
    assert "nothing done" in capsys.readouterr().out
    assert not target.exists() and mh.calls(state) == []  # not even the container was stopped


def test_a_postgresql_data_dir_must_suit_the_target(tmp_path):
    """A real PG data dir (initdb) in the source; the target says which PostgreSQL it runs."""
    bin_dir = ah.need_postgres()
    major = bin_dir.parent.name
    with ah.pg_home() as home:
        cluster = ah.Cluster(bin_dir, home)
        source = tmp_path / "nas" / "immich" / "postgres"
        shutil.copytree(cluster.data, source, symlinks=True)
    target = tmp_path / "n100" / "var" / "lib" / "immich"
    doc = {
        "lab": {"name": "pg"},
        "hosts": {"nas": {"transport": "local", "os": "compose"},
                  "n100": {"transport": "local", "os": "nixos", "postgresql": "16.4"}},
        "services": {"immich": {"host": "n100", "user": "root", "state_dirs": [str(target)],
                                "migrate_from": {"host": "nas", "compose_file": str(tmp_path / "c.yml"),
                                                 "paths": {str(source): str(target)}}}},
    }  # fmt: skip
    lab = load_lab(mh.write_lab(tmp_path / "lab.toml", doc))
    found = check_source(lab, "immich")
    assert [(a.kind, a.status) for a in found.apps] == [("postgresql", "ok")]
    if major != "16":
        assert (
            found.warnings
            and f"PostgreSQL {major} data dir but n100 runs PostgreSQL 16.4" in found.warnings[0]
        )
    assert (
        main(["--lab", str(lab.path), "migrate", "plan", "immich"]) == 0
    )  # a warning, not a failure


def test_postgres_warnings_pure():
    nixos = Host("n100", os="nixos", postgresql="15.8")
    assert postgres_warnings({"/d": "15"}, nixos) == []
    assert "data dirs do not downgrade" in postgres_warnings({"/d": "16"}, nixos)[0]
    assert "without pg_upgrade" in postgres_warnings({"/d": "14"}, nixos)[0]
    unknown = postgres_warnings({"/d": "14"}, Host("n100", os="nixos"))
    assert "set hosts.n100.postgresql" in unknown[0]
    assert postgres_warnings({"/d": "14"}, Host("deb", os="debian")) == []
