"""Every lab.toml validation rule, each with a real file and the exact one-line message."""

from __future__ import annotations

from pathlib import Path

import pytest

from homelab_kit.errors import InventoryError
from homelab_kit.lab.model import load_lab

BASE = """\
[lab]
name = "t"
domain = "home.example"

[hosts.n100]
address = "192.168.1.10"
os = "nixos"
roles = ["server"]

[hosts.nas]
address = "192.168.1.5"
os = "compose"

[services.mealie]
host = "n100"
port = 9000
subdomain = "recipes"
user = "mealie"
state_dirs = ["/var/lib/mealie"]

[backups.nightly]
host = "n100"
repository = "/mnt/backup"
password_file = "/run/secrets/restic"
covers = ["n100"]
"""


def problems(tmp_path: Path, text: str) -> tuple[Path, list[str]]:
    path = tmp_path / "lab.toml"
    path.write_text(text)
    with pytest.raises(InventoryError) as info:
        load_lab(path)
    return path, info.value.problems


def test_base_is_valid(tmp_path: Path) -> None:
    (tmp_path / "lab.toml").write_text(BASE)
    lab = load_lab(tmp_path / "lab.toml")
    assert list(lab.hosts) == ["n100", "nas"] and list(lab.services) == ["mealie"]


CASES = [
    # wrong types and out-of-range values
    ("port = 9000", 'port = "90o0"', 'services.mealie.port: expected an integer 1-65535, got "90o0"'),
    ("port = 9000", "port = 70000", "services.mealie.port: expected an integer 1-65535, got 70000"),
    ("port = 9000", "port = 0", "services.mealie.port: expected an integer 1-65535, got 0"),
    ("port = 9000", "port = true", "services.mealie.port: expected an integer 1-65535, got true"),
    ('roles = ["server"]', 'roles = "server"', 'hosts.n100.roles: expected a list of strings, got "server"'),
    ('os = "nixos"', 'os = "nixso"',
     'hosts.n100.os: expected one of nixos, debian, ubuntu, fedora, arch, compose, truenas, synology, other, got "nixso" (did you mean "nixos"?)'),
    ('os = "nixos"', 'os = "nixos"\ntransport = "telnet"', 'hosts.n100.transport: expected one of ssh, local, got "telnet"'),
    ('os = "nixos"', 'os = "nixos"\nconnect_timeout = 0', "hosts.n100.connect_timeout: expected a positive number, got 0"),
    ('os = "nixos"', 'os = "nixos"\nport = 22.5', "hosts.n100.port: expected an integer 1-65535, got 22.5"),
    ('name = "t"', 'name = "my lab"', "lab.name: expected a name of letters, digits, '.', '_' or '-', got \"my lab\""),
    ('domain = "home.example"', 'domain = ""', 'lab.domain: expected a non-empty string, got ""'),
    ('state_dirs = ["/var/lib/mealie"]', 'state_dirs = "/var/lib/mealie"',
     'services.mealie.state_dirs: expected a list of strings, got "/var/lib/mealie"'),
    ('user = "mealie"', 'user = "mealie"\nhealth = "localhost:9000"',
     'services.mealie.health: expected an http:// or https:// URL, got "localhost:9000"'),
    ('covers = ["n100"]', 'covers = ["n100"]\nkeep = { dayly = 7 }',
     'backups.nightly.keep: unknown keep rule "dayly" (did you mean "daily"?); known: last, hourly, daily, weekly, monthly, yearly, within, within_hourly, within_daily, within_weekly, within_monthly, within_yearly, tags'),
    ('covers = ["n100"]', 'covers = ["n100"]\nkeep = { daily = "7" }',
     'backups.nightly.keep: daily: expected a count (integer, -1 for unlimited), got "7"'),
    ('covers = ["n100"]', 'covers = ["n100"]\nkeep = 7', "backups.nightly.keep: expected a table such as { daily = 7, weekly = 4 }, got 7"),
    # unknown keys and sections, with "did you mean"
    ("port = 9000", "prot = 9000", 'services.mealie.prot: unknown key (did you mean "port"?)'),
    ('covers = ["n100"]', 'covers = ["n100"]\nrepo = "/x"', 'backups.nightly.repo: unknown key'),
    ('[services.mealie]', '[servics.x]\nhost = "n100"\n\n[services.mealie]',
     'servics: unknown section (did you mean "services"?); expected lab, hosts, services, backups, notify, watch'),
    # references: service -> host, backup -> host / covers, migrate_from -> host
    ('host = "n100"\nport', 'host = "n10"\nport', 'services.mealie.host: unknown host "n10" (did you mean "n100"?); known hosts: n100, nas'),
    ('host = "n100"\nrepository', 'host = "nass"\nrepository',
     'backups.nightly.host: unknown host "nass" (did you mean "nas"?); known hosts: n100, nas'),
    ('covers = ["n100"]', 'covers = ["n100", "desk"]', 'backups.nightly.covers[1]: unknown host "desk"; known hosts: n100, nas'),
    ('state_dirs = ["/var/lib/mealie"]', 'state_dirs = ["/var/lib/mealie"]\nmigrate_from = { host = "nsa", compose_file = "/d/c.yml" }',
     'services.mealie.migrate_from.host: unknown host "nsa" (did you mean "nas"?); known hosts: n100, nas'),
    # migrate_from fields
    ('state_dirs = ["/var/lib/mealie"]', 'state_dirs = ["/var/lib/mealie"]\nmigrate_from = { host = "nas" }',
     "services.mealie.migrate_from.compose_file: missing (required)"),
    ('state_dirs = ["/var/lib/mealie"]', 'state_dirs = ["/var/lib/mealie"]\nmigrate_from = { host = "nas", compose_file = "/c.yml", puid = -1 }',
     "services.mealie.migrate_from.puid: expected a numeric id (integer ≥ 0), got -1"),
    ('state_dirs = ["/var/lib/mealie"]', 'state_dirs = ["/var/lib/mealie"]\nmigrate_from = { host = "nas", compose_file = "/c.yml", paths = ["/a"] }',
     'services.mealie.migrate_from.paths: expected a table of "source" = "target" paths, got ["/a"]'),
    ('state_dirs = ["/var/lib/mealie"]', 'state_dirs = ["/var/lib/mealie"]\nmigrate_from = "nas"',
     'services.mealie.migrate_from: expected a table, got "nas"'),
    # missing required keys
    ('host = "n100"\nport', "port", "services.mealie.host: missing (required)"),
    ('repository = "/mnt/backup"\n', "", "backups.nightly.repository: missing (required)"),
    ('name = "t"\n', "", "lab.name: missing (required)"),
    ('address = "192.168.1.5"\n', "", 'hosts.nas.address: missing (required for transport = "ssh")'),
    # durations and schedules
    ('covers = ["n100"]', 'covers = ["n100"]\nmax_age = "26 hours"',
     'backups.nightly.max_age: expected a duration such as "26h", "3d" or "1w2d", got "26 hours"'),
    ('covers = ["n100"]', 'covers = ["n100"]\nmax_age = 26', "backups.nightly.max_age: expected a non-empty string, got 26"),
    ('covers = ["n100"]', 'covers = ["n100"]\nschedule = "fortnightly"',
     'backups.nightly.schedule: cannot tell the period of schedule "fortnightly"; use daily/hourly/weekly/monthly, '
     '"every 6h", a simple OnCalendar such as "*-*-* 02:00:00", or set max_age explicitly'),
    ('covers = ["n100"]', 'covers = ["n100"]\nschedule = "every other day"',
     'backups.nightly.schedule: expected a duration such as "26h", "3d" or "1w2d", got "other day"'),
    # password_file vs password_command
    ('password_file = "/run/secrets/restic"', 'password_file = "/run/secrets/restic"\npassword_command = "pass restic"',
     "backups.nightly: set exactly one of password_file or password_command"),
    ('password_file = "/run/secrets/restic"\n', "", "backups.nightly: set exactly one of password_file or password_command"),
    # table shapes and names
    ('[hosts.nas]\naddress = "192.168.1.5"\nos = "compose"', '[hosts."my nas"]\naddress = "192.168.1.5"',
     "hosts.my nas: name must be letters, digits, '.', '_' or '-'"),
]  # fmt: skip


@pytest.mark.parametrize(("old", "new", "expected"), CASES, ids=[c[2][:60] for c in CASES])
def test_rule(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert old in BASE
    path, found = problems(tmp_path, BASE.replace(old, new, 1))
    assert f"{path}: {expected}" in found, found


def test_every_problem_at_once(tmp_path: Path) -> None:
    text = BASE.replace("port = 9000", 'port = "90o0"').replace(
        'host = "n100"\nrepository', 'host = "nass"\nrepository'
    )
    path, found = problems(tmp_path, text.replace('os = "nixos"', 'os = "nixos"\nflavour = "x"'))
    assert len(found) == 3
    assert all(line.startswith(f"{path}: ") and "\n" not in line for line in found)


def test_missing_lab_table(tmp_path: Path) -> None:
    path, found = problems(
        tmp_path, BASE.replace('[lab]\nname = "t"\ndomain = "home.example"\n', "")
    )
    assert f'{path}: lab: missing [lab] table (at least name = "...")' in found


def test_hosts_must_be_tables(tmp_path: Path) -> None:
    path, found = problems(tmp_path, '[lab]\nname = "t"\nhosts = 3\n')
    assert f'{path}: lab.hosts: unknown key (did you mean "known_hosts"?)' in found
    path, found = problems(tmp_path, '[lab]\nname = "t"\n[hosts]\nn100 = "x"\n')
    assert f'{path}: hosts.n100: expected a table, got "x"' in found
    path, found = problems(tmp_path, '[lab]\nname = "t"\n[hosts]\n')
    assert f"{path}: hosts: no hosts defined" in found
    path, found = problems(tmp_path, 'hosts = 3\n[lab]\nname = "t"\n')
    assert f"{path}: hosts: expected [hosts.NAME] tables, got 3" in found


def test_toml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path, found = problems(tmp_path, BASE.replace("[hosts.n100]", "[hosts.n100"))
    assert len(found) == 1
    assert found[0].startswith(f"{path}: invalid TOML: ") and "line 5" in found[0]


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(InventoryError) as info:
        load_lab(path)
    assert str(info.value) == (
        f"{path}: no such lab file; pass --lab PATH, set HOMELAB_LAB, or run `homelab-kit demo` to build the demo lab"
    )


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "lab.toml"
    path.write_bytes(b'[lab]\nname = "\xff"\n')
    with pytest.raises(InventoryError) as info:
        load_lab(path)
    assert str(info.value) == f"{path}: not UTF-8 text"


def test_inventory_error_is_value_error_with_exit_code_2(tmp_path: Path) -> None:
    _, found = problems(tmp_path, BASE.replace("port = 9000", "port = -1"))
    err = InventoryError(found)
    assert isinstance(err, ValueError) and err.exit_code == 2
