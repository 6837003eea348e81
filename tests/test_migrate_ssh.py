"""A migration between two real sshd test hosts (homelab_kit.testing): the target pulls over SSH.

The target's rsync reaches the source with the source's pinned host key (KnownHostsCommand) and
the test client key. `docker` and `systemctl` cannot run here: on the test hosts they are recording
scripts first on PATH (each test host's own bin dir); rsync, chown, restic,
useradd, sshd and the HTTP health endpoint are real.
"""

from __future__ import annotations

import shutil

import pytest

from homelab_kit import testing
from homelab_kit.lab.model import Lab
from homelab_kit.migrate.planner import plan_migration
from homelab_kit.plans.plan import execute
from tests import migrate_helpers as mh

RESTIC = shutil.which("restic") or "restic"


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    base = tmp_path_factory.mktemp("migssh")
    state = base / "state"
    with testing.start_ssh_hosts(2, base / "fleet", prefix="mig", first=40) as fleet:
        for host in fleet:  # each host's own bin dir is first on PATH in its sessions
            mh.fake_tools(host.bin_dir, state)
        yield fleet, state


@pytest.fixture
def user():
    name = mh.make_user()
    yield name
    mh.drop_user(name)


def test_cross_host_migration_over_ssh(tmp_path, fleet, user):
    hosts, state = fleet
    for p in state.iterdir():
        p.unlink()
    (state / "container-running").touch()
    server = mh.HealthServer()
    try:
        compose_dir = tmp_path / "volume1" / "docker" / "mealie"
        source = compose_dir / "data"
        source.mkdir(parents=True)
        mh.make_appdata(source)
        (compose_dir / "docker-compose.yml").write_text(
            "services:\n  mealie:\n    image: mealie\n    volumes: ['./data:/app/data']\n"
        )
        target = tmp_path / "n100" / "var" / "lib" / "mealie"
        repo, pw = tmp_path / "repo", tmp_path / "pw"
        mh.init_repo(RESTIC, repo, pw)
        src, tgt = hosts[0], hosts[1]
        doc = {
            "lab": {"name": "sshmig"},
            "hosts": {"nas": src.entry(os="compose"), "n100": tgt.entry(os="debian")},
            "services": {
                "mealie": {
                    "host": "n100",
                    "port": server.port,
                    "user": user,
                    "state_dirs": [str(target)],
                    "health": server.url,
                    "migrate_from": {
                        "host": "nas",
                        "compose_file": str(compose_dir / "docker-compose.yml"),
                    },
                }
            },
            "backups": {
                "b": {
                    "host": "n100",
                    "repository": str(repo),
                    "password_file": str(pw),
                    "restic": RESTIC,
                }
            },
        }
        lab = Lab.from_dict(doc, path=tmp_path / "lab.toml")
        before = mh.tree_digest(source)
        plan = plan_migration(lab, "mealie")  # reads the compose file over SSH to derive the paths
        copy = next(s for s in plan if s.phase == "copy" and s.destructive)
        assert copy.host == "n100" and copy.argv[-2] == f"{src.user}@{src.address}:{source}/"
        outcomes = execute(plan, lab, progress=False)
        assert {o.status for o in outcomes} == {"ok"}
        assert mh.tree_digest(source) == before
        assert mh.tree_digest(target, owners=False) == {k: v[:-2] for k, v in before.items()}
        import pwd

        uid = pwd.getpwnam(user).pw_uid
        assert {p.lstat().st_uid for p in [target, *target.rglob("*")]} == {uid}
        log = mh.calls(state)
        assert (
            f"docker compose -f {compose_dir}/docker-compose.yml stop mealie @ {compose_dir}" in log
        )
        assert "systemctl enable --now mealie.service" in log
        assert len(mh.snapshots(RESTIC, repo, pw)) == 2
    finally:
        server.close()


def test_wrong_pinned_source_key_stops_before_the_copy(tmp_path, fleet, user):
    """The target's ssh refuses a source whose key differs from the pinned one: nothing is copied.

    The plan is built from an inventory pinning the wrong key and executed through one whose
    controller-side key is right, so it is the target's own check (KnownHostsCommand) that refuses.
    """
    from homelab_kit.errors import StepFailed

    hosts, state = fleet
    src, tgt = hosts[0], hosts[1]
    source = tmp_path / "src"
    source.mkdir()
    (source / "f").write_text("x")
    target = tmp_path / "dst" / "svc"

    def doc(key: str) -> dict:
        return {
            "lab": {"name": "sshmig2"},
            "hosts": {"nas": src.entry(os="compose", host_key=key), "n100": tgt.entry(os="debian")},
            "services": {
                "svc": {
                    "host": "n100",
                    "user": user,
                    "state_dirs": [str(target)],
                    "migrate_from": {
                        "host": "nas",
                        "compose_file": "/x/c.yml",
                        "paths": {str(source): str(target)},
                    },
                }
            },
        }

    wrong = Lab.from_dict(doc(tgt.host_key), path=tmp_path / "lab.toml")
    right = Lab.from_dict(doc(src.host_key), path=tmp_path / "lab.toml")
    plan = plan_migration(wrong, "svc")
    with pytest.raises(StepFailed) as err:
        execute(plan, right, progress=False)
    assert "free space on n100" in str(err.value)
    assert "Host key verification failed" in str(err.value)
    assert not target.exists()
