"""The loaded lab: selectors, frames, derived backup paths, HTML reprs, and every lint rule."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from homelab_kit.errors import InventoryError
from homelab_kit.lab.model import Lab, load_lab

LAB = """\
[lab]
name = "home"
domain = "home.example"

[hosts.n100]
address = "192.168.1.10"
os = "nixos"
roles = ["server"]
host_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDemo"

[hosts.desk]
address = "192.168.1.20"
os = "nixos"
roles = ["desktop"]
host_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDesk"

[hosts.desk2]
transport = "local"
os = "debian"
roles = ["desktop"]

[hosts.nas]
address = "192.168.1.5"
os = "compose"
roles = ["storage"]
host_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINas"

[services.vaultwarden]
host = "n100"
port = 8222
subdomain = "bitwarden"
user = "vaultwarden"
state_dirs = ["/var/lib/vaultwarden"]

[services.mealie]
host = "n100"
port = 9000
subdomain = "recipes"
user = "mealie"
state_dirs = ["/var/lib/mealie"]
[services.mealie.migrate_from]
host = "nas"
compose_file = "/volume1/docker/docker-compose.yml"
compose_service = "mealie"
puid = 1026
pgid = 100

[services.syncthing]
host = "desk2"
port = 8384
user = "alice"
state_dirs = ["sync/state"]

[services.photos]
host = "nas"
port = 2342
user = "photos"
state_dirs = ["/volume1/docker/photos"]

[backups.nightly]
host = "n100"
repository = "/mnt/backup/restic"
password_file = "/run/secrets/restic"
covers = ["n100", "nas"]
extra_paths = ["/etc/nixos"]
schedule = "weekly"
keep = { daily = 7 }

[backups.local]
host = "desk2"
repository = "repo"
password_command = "pass show restic"
covers = ["desk2"]
max_age = "26h"
"""


@pytest.fixture
def lab(tmp_path: Path) -> Lab:
    (tmp_path / "lab.toml").write_text(LAB)
    return load_lab(tmp_path / "lab.toml")


def write(tmp_path: Path, text: str) -> Lab:
    (tmp_path / "lab.toml").write_text(text)
    return load_lab(tmp_path / "lab.toml")


# -- selectors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("all", ["n100", "desk", "desk2", "nas"]),
        ("*", ["n100", "desk", "desk2", "nas"]),
        ("@server", ["n100"]),
        ("@desktop", ["desk", "desk2"]),
        ("@nixos", ["n100", "desk"]),  # @ matches the os too
        ("desk*", ["desk", "desk2"]),
        ("nas", ["nas"]),
        ("nas,n100", ["n100", "nas"]),  # listed in inventory order
        ("all,!desk*", ["n100", "nas"]),
        ("!nas", ["n100", "desk", "desk2"]),
        (["@server", "nas"], ["n100", "nas"]),
    ],
)
def test_host_selectors(lab: Lab, selector: str, expected: list[str]) -> None:
    assert list(lab.hosts.select(selector)) == expected
    assert list(lab.hosts(selector)) == expected


def test_service_selectors(lab: Lab) -> None:
    assert list(lab.services.select("@server")) == ["vaultwarden", "mealie"]
    assert list(lab.services.select("@n100")) == ["vaultwarden", "mealie"]
    assert list(lab.services.select("m*")) == ["mealie"]
    assert list(lab.backups.select("@desk2")) == ["local"]


def test_selector_errors(lab: Lab) -> None:
    with pytest.raises(
        InventoryError, match='selector "zzz" matches no host; known: n100, desk, desk2, nas'
    ):
        lab.hosts.select("zzz")
    with pytest.raises(InventoryError) as info:
        lab.hosts["n10"]
    assert str(info.value) == 'no host "n10" (did you mean "n100"?); known: n100, desk, desk2, nas'


# -- model fields -------------------------------------------------------------------------------


def test_derived_fields(lab: Lab, tmp_path: Path) -> None:
    vw = lab.services["vaultwarden"]
    assert (
        vw.fqdn == "bitwarden.home.example"
        and vw.group == "vaultwarden"
        and vw.unit == "vaultwarden.service"
    )
    assert lab.services["photos"].unit is None  # compose hosts have no systemd unit
    mf = lab.services["mealie"].migrate_from
    assert (mf.host, mf.compose_service, mf.puid, mf.pgid) == ("nas", "mealie", 1026, 100)
    # relative paths of a local host resolve against lab.toml's folder
    assert lab.services["syncthing"].state_dirs == (str(tmp_path / "sync/state"),)
    assert lab.backups["local"].repository == str(tmp_path / "repo")
    assert lab.hosts["n100"].roles == ("server",) and lab.hosts["desk2"].transport == "local"
    assert lab.root == tmp_path and lab.journal_path == tmp_path / "journal.sqlite"


def test_backup_period_and_max_age(lab: Lab) -> None:
    nightly = lab.backups["nightly"]
    assert nightly.period == timedelta(weeks=1)
    assert nightly.max_age == timedelta(weeks=1) * 1.25  # default: 1.25 × the schedule's period
    assert lab.backups["local"].max_age == timedelta(hours=26)
    assert dict(nightly.keep) == {"daily": 7}


def test_services_on_and_covered(lab: Lab) -> None:
    assert [s.name for s in lab.services_on("n100")] == ["vaultwarden", "mealie"]
    assert [s.name for s in lab.covered_services("nightly")] == ["vaultwarden", "mealie", "photos"]


# -- frames -----------------------------------------------------------------------------------


def test_frames(lab: Lab) -> None:
    hosts = lab.hosts_frame()
    assert list(hosts["name"]) == ["n100", "desk", "desk2", "nas"]
    assert hosts.loc[0, "roles"] == ["server"]
    services = lab.services_frame()
    assert {"name", "host", "port", "fqdn", "user", "state_dirs"} <= set(services.columns)
    assert "relative_state_dirs" not in services.columns
    assert services.set_index("name").loc["mealie", "migrate_from"]["compose_service"] == "mealie"
    assert list(lab.backups_frame()["name"]) == ["nightly", "local"]


def test_backup_paths_are_derived(lab: Lab, tmp_path: Path) -> None:
    df = lab.backup_paths()
    assert list(df.columns) == ["backup", "host", "service", "path", "source"]
    nightly = df[df.backup == "nightly"]
    assert list(nightly.path) == [
        "/var/lib/vaultwarden",
        "/var/lib/mealie",
        "/volume1/docker/photos",
        "/etc/nixos",
    ]
    assert list(nightly.source) == ["state_dir"] * 3 + ["extra_path"]
    assert list(nightly.host) == ["n100", "n100", "nas", "n100"]
    local = df[df.backup == "local"]
    assert list(local.path) == [str(tmp_path / "sync/state")] and list(local.service) == [
        "syncthing"
    ]


def test_covers_defaults_to_the_backup_host(tmp_path: Path) -> None:
    lab = write(tmp_path, LAB.replace('covers = ["desk2"]\n', ""))
    assert lab.backups["local"].covers == ("desk2",)


# -- HTML ---------------------------------------------------------------------------------------


def test_html_reprs(lab: Lab) -> None:
    page = lab._repr_html_()
    assert (
        "<h4>Lab home</h4>" in page
        and "4 hosts · 4 services · 2 backups" in page
        and "bitwarden.home.example" in page
    )
    assert "<b>Host n100</b>" in lab.hosts["n100"]._repr_html_()
    svc = lab.services["vaultwarden"]._repr_html_()
    assert "<b>Service vaultwarden</b>" in svc and "/var/lib/vaultwarden" in svc
    backup = lab.backups["local"]._repr_html_()
    assert "<b>Backup local</b>" in backup and "pass show restic" not in backup  # secrets stay out
    assert "<table" in lab.hosts._repr_html_()


# -- lint ------------------------------------------------------------------------------------


def findings(lab: Lab) -> list[tuple[str, str, str]]:
    return [(f["severity"], f["subject"], f["message"]) for f in lab.lint_findings()]


def test_clean_lab_has_no_findings(lab: Lab) -> None:
    assert findings(lab) == []  # relative state dirs are fine on local hosts: they resolve
    df = lab.lint()
    assert list(df.columns) == ["severity", "subject", "message"] and df.empty


def test_lint_port_clash(tmp_path: Path) -> None:
    lab = write(tmp_path, LAB.replace("port = 9000", "port = 8222"))
    assert (
        "error",
        "vaultwarden, mealie",
        "services vaultwarden and mealie both use port 8222 on host n100",
    ) in findings(lab)


def test_lint_same_port_on_different_hosts_is_fine(tmp_path: Path) -> None:
    lab = write(tmp_path, LAB.replace("port = 2342", "port = 8222"))
    assert not [f for f in findings(lab) if "port" in f[2]]


def test_lint_duplicate_domain(tmp_path: Path) -> None:
    lab = write(tmp_path, LAB.replace('subdomain = "recipes"', 'subdomain = "bitwarden"'))
    assert (
        "error",
        "vaultwarden, mealie",
        "services vaultwarden and mealie share the domain bitwarden.home.example",
    ) in findings(lab)


def test_lint_uncovered_state_dir(tmp_path: Path) -> None:
    lab = write(tmp_path, LAB.replace('covers = ["n100", "nas"]', 'covers = ["n100"]'))
    assert (
        "error", "services.photos",
        "state dir /volume1/docker/photos on host nas is covered by no backup; add nas to a backup's covers",
    ) in findings(lab)  # fmt: skip


def test_lint_relative_state_dir_on_ssh_host(tmp_path: Path) -> None:
    lab = write(
        tmp_path, LAB.replace('state_dirs = ["/var/lib/mealie"]', 'state_dirs = ["var/lib/mealie"]')
    )
    assert (
        "error",
        "services.mealie",
        'state dir "var/lib/mealie" is relative; write the absolute path on host n100',
    ) in findings(lab)


def test_lint_overlapping_state_dirs_within_a_service(tmp_path: Path) -> None:
    lab = write(
        tmp_path, LAB.replace('["/var/lib/mealie"]', '["/var/lib/mealie", "/var/lib/mealie/db"]')
    )
    assert (
        "warning",
        "services.mealie",
        "state dirs /var/lib/mealie and /var/lib/mealie/db overlap; keep the outer one",
    ) in findings(lab)


def test_lint_overlapping_state_dirs_between_services(tmp_path: Path) -> None:
    lab = write(tmp_path, LAB.replace('["/var/lib/mealie"]', '["/var/lib/vaultwarden/mealie"]'))
    assert (
        "error", "services.vaultwarden, services.mealie",
        "state dir /var/lib/vaultwarden of vaultwarden overlaps /var/lib/vaultwarden/mealie of mealie on host n100",
    ) in findings(lab)  # fmt: skip


def test_lint_service_without_user(tmp_path: Path) -> None:
    lab = write(tmp_path, LAB.replace('user = "photos"\n', ""))
    assert (
        "warning",
        "services.photos",
        "no user: set `user` so migrations and restores know the owner",
    ) in findings(lab)


def test_lint_unpinned_host_key(tmp_path: Path) -> None:
    lab = write(
        tmp_path, LAB.replace('host_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINas"\n', "")
    )
    assert (
        "info", "hosts.nas",
        "no pinned host_key: ~/.ssh/known_hosts must know this host (see `homelab-kit hosts keyscan`)",
    ) in findings(lab)  # fmt: skip


def test_lint_backup_covering_nothing(tmp_path: Path) -> None:
    lab = write(
        tmp_path,
        LAB + '\n[backups.empty]\nhost = "desk"\nrepository = "/r"\npassword_file = "/p"\n',
    )
    assert (
        "warning",
        "backups.empty",
        "covers no service state dirs and no extra paths",
    ) in findings(lab)


def test_lint_sorted_by_severity(tmp_path: Path) -> None:
    text = LAB.replace('user = "photos"\n', "").replace("port = 9000", "port = 8222")
    severities = [f[0] for f in findings(write(tmp_path, text))]
    assert severities == sorted(severities, key=["error", "warning", "info"].index)
