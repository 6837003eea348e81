"""Import from Nix with the real evaluator (Debian's nix-bin) on the pure-Nix fixtures in
tests/fixtures/nix: a tiny self-made module system following the homelab module pattern, no nixpkgs,
so evaluation works offline. Runs as the current user with a throw-away HOME; nix-instantiate uses
--readonly-mode (no store writes), the flake test needs a writable store (root here)."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import pytest

from homelab_kit.cli import main
from homelab_kit.ecosystem.nix.evaluate import (
    NixError,
    NixSource,
    evaluate,
    import_nix,
    merge_toml,
    nix_message,
    to_toml,
)
from homelab_kit.ecosystem.nix.mapping import normalise_schedule, parse_prune_opts
from homelab_kit.errors import InventoryError
from homelab_kit.lab.model import Lab, load_lab

FIXTURES = Path(__file__).parent / "fixtures" / "nix"


@pytest.fixture(autouse=True)
def nix_env(tmp_path, monkeypatch):
    if not shutil.which("nix-instantiate"):
        pytest.fail("nix-instantiate not found: install nix-bin (apt install nix-bin)")
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("NIX_PATH", raising=False)
    monkeypatch.chdir(FIXTURES)


def test_file_attribute_maps_hosts_services_and_backups():
    r = import_nix("nixosConfigurations", file="default.nix")
    assert set(r.hosts) == {"n100", "desk"}
    n100 = r.hosts["n100"]
    assert (
        n100["address"] == "192.168.1.10" and n100["port"] == 2222 and n100["roles"] == ["server"]
    )
    assert r.hosts["desk"]["address"] == "desk.lan" and r.hosts["desk"]["user"] == "admin"
    assert ("hosts", "n100", "user") in r.soft and ("hosts", "desk", "address") not in r.soft
    assert r.lab == {"domain": "home.example"}
    vw = r.services["vaultwarden"]
    # homelab.backup.stateDirs entries under the service's configDir become its state dirs
    assert vw["state_dirs"] == [
        "/var/lib/vaultwarden/attachments",
        "/var/lib/vaultwarden/db.sqlite3",
    ]
    assert vw["port"] == 8222 and vw["subdomain"] == "bitwarden" and vw["host"] == "n100"
    # port and user come from the NixOS service module when the homelab entry has none
    assert r.services["mealie"] | {} == {
        "host": "n100", "port": 9000, "subdomain": "recipes", "user": "mealie",
        "state_dirs": ["/var/lib/mealie"],
    }  # fmt: skip
    jf = r.services["jellyfin"]  # the homelab.<name> shape, outside the lab domain
    assert jf["domain"] == "media.example.org" and jf["state_dirs"] == ["/var/lib/jellyfin/data"]
    assert jf["user"] == jf["group"] == "share"
    rb = r.backups["remotebackup"]
    assert rb["repository"] == "/mnt/share/resticBackup"
    assert rb["password_file"] == "/run/secrets/restic-password"
    assert rb["extra_paths"] == ["/home/user/docker"]  # service dirs stay derived
    assert rb["keep"] == {"daily": 4, "weekly": 3, "within": "14d"}
    assert rb["schedule"] == "*-*-* 00:01:00"
    # backupPrepareCommand (the dump before the snapshot) becomes prepare; lint then stays quiet
    assert rb["prepare"].startswith("sqlite3 /var/lib/vaultwarden/db.sqlite3 '.backup ")
    assert "prepare" not in r.backups["home"]
    # services.postgresql.package.version: what a migrated data dir's major must match
    assert n100["postgresql"] == "16.4" and "postgresql" not in r.hosts["desk"]
    home = r.backups["home"]
    assert (
        home["host"] == "desk"
        and home["schedule"] == "hourly"
        and home["exclude"] == ["/home/*/.cache"]
    )
    assert "remotebackup-desk" not in r.backups  # switched off by mkIf on desk


def test_printed_toml_loads_as_a_lab_and_derives_the_backup_paths(tmp_path):
    text = to_toml(import_nix("nixosConfigurations", file="default.nix"))
    lab = Lab.from_dict(tomllib.loads(text), path=tmp_path / "lab.toml")
    paths = {
        (r["service"], r["path"]) for r in lab.backup_path_rows() if r["backup"] == "remotebackup"
    }
    assert ("vaultwarden", "/var/lib/vaultwarden/db.sqlite3") in paths
    assert (None, "/home/user/docker") in paths
    assert lab.backups["remotebackup"].prepare and lab.hosts["n100"].postgresql == "16.4"
    assert not [f for f in lab.lint_findings() if "live SQLite" in f["message"]]
    assert lab.services["mealie"].fqdn == "recipes.home.example"


def test_flake_reference_records_the_flake_for_deploys(tmp_path):
    flake = tmp_path / "flake"
    shutil.copytree(FIXTURES, flake)
    r = import_nix(f"path:{flake}#nixosConfigurations.n100")
    assert list(r.hosts) == ["n100"]
    assert r.hosts["n100"]["flake"] == f"path:{flake}#n100"
    assert set(r.services) == {"vaultwarden", "mealie", "jellyfin"}


def test_expression_of_a_plain_attrset_and_warnings_for_what_cannot_map():
    r = import_nix("import ./plain.nix")
    assert r.hosts["nas"]["address"] == "nas.lan"
    assert r.services["immich"]["state_dirs"] == ["/srv/immich/library", "/srv/immich/db"]
    assert r.services["immich"]["subdomain"] == "photos"
    assert "old" not in r.services  # enable = false
    assert "offsite" not in r.backups
    assert any("repositoryFile /run/secrets/restic-repo" in w for w in r.warnings)
    assert "# CHECK: backups.offsite" in to_toml(r)


def test_a_throwing_option_becomes_a_warning_not_a_crash():
    r = import_nix("nixosConfigurations", file="conflict.nix")
    assert "port" not in r.services["vaultwarden"]
    assert any("homelab.services.vaultwarden.port" in w and "threw" in w for w in r.warnings)


def test_evaluation_failure_shows_nix_message_in_one_line():
    with pytest.raises(NixError) as err:
        evaluate("nixosConfigurations", file="broken.nix")
    msg = str(err.value)
    assert "cannot coerce an integer to a string" in msg and "broken.nix" in msg
    assert "\n" not in msg
    with pytest.raises(NixError, match="attribute path 'nixosConfigurations.nope' not found"):
        evaluate("nixosConfigurations.nope", file="default.nix")
    with pytest.raises(NixError, match="syntax error"):
        evaluate("{ a = ; }")


def test_missing_nix_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(NixError, match="nix-instantiate` not found; install nix"):
        evaluate("nixosConfigurations", file="default.nix")


def test_merge_keeps_comments_hand_made_entries_and_user_addresses(tmp_path):
    original = (
        '# my lab\n[lab]\nname = "home"  # keep me\n\n'
        '[hosts.n100]\naddress = "10.0.0.5"   # tailscale\nuser = "admin"\n\n'
        '[hosts.nas]\naddress = "192.168.1.20"\nos = "synology"\n\n'
        '# hand-made\n[services.vaultwarden]\nhost = "n100"\nport = 8000\n'
        'health = "http://127.0.0.1:8222/alive"\n\n'
        '[services.paperless]\nhost = "nas"\nstate_dirs = ["/volume1/paperless"]\n'
    )
    merged, changes = merge_toml(original, import_nix("nixosConfigurations", file="default.nix"))
    assert "# my lab" in merged and "# keep me" in merged and "# tailscale" in merged
    doc = tomllib.loads(merged)
    assert doc["hosts"]["n100"]["address"] == "10.0.0.5"  # a guess never beats the user's value
    assert doc["hosts"]["n100"]["user"] == "admin"
    assert doc["hosts"]["n100"]["port"] == 2222  # declared by services.openssh.ports
    assert doc["services"]["vaultwarden"]["port"] == 8222
    assert doc["services"]["vaultwarden"]["health"] == "http://127.0.0.1:8222/alive"
    assert doc["services"]["paperless"] == {"host": "nas", "state_dirs": ["/volume1/paperless"]}
    assert doc["hosts"]["nas"]["os"] == "synology"
    seen = {(c.action, c.section, c.name) for c in changes}
    assert ("added", "backups", "remotebackup") in seen and (
        "updated",
        "services",
        "vaultwarden",
    ) in seen
    path = tmp_path / "lab.toml"
    path.write_text(merged)
    assert load_lab(path).services["mealie"].port == 9000
    again, changes2 = merge_toml(merged, import_nix("nixosConfigurations", file="default.nix"))
    assert again == merged and all(c.action == "unchanged" for c in changes2 if c.section != "lab")


def test_merge_refuses_a_result_that_would_not_load():
    bad = '[lab]\nname = "home"\n[services.vaultwarden]\nhost = "n100"\nbogus = 1\n'
    with pytest.raises(InventoryError, match="bogus: unknown key"):
        merge_toml(bad, import_nix("nixosConfigurations", file="default.nix"), where="x.toml")


def test_cli_prints_and_merges(tmp_path, capsys):
    assert (
        main(["import", "nix", "nixosConfigurations", "--file", "default.nix", "--name", "lab1"])
        == 0
    )
    out = capsys.readouterr().out
    assert tomllib.loads(out)["lab"]["name"] == "lab1" and "[backups.remotebackup]" in out
    lab = tmp_path / "lab.toml"
    lab.write_text('[lab]\nname = "x"  # mine\n')
    assert (
        main(["import", "nix", "nixosConfigurations", "--file", "default.nix", "--merge", str(lab)])
        == 0
    )
    err = capsys.readouterr().err
    assert "added     hosts.n100" in err and "merged into" in err
    assert "# mine" in lab.read_text() and load_lab(lab).backups["home"].host == "desk"
    assert main(["import", "nix", "nixosConfigurations", "--file", "broken.nix"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("homelab-kit: localhost: nix could not evaluate") and err.count("\n") == 1


def test_evaluate_on_a_host_through_its_ssh_runner(tmp_path):
    """The real nix on a real sshd test host (the same machine, reached over SSH)."""
    from homelab_kit.testing import start_ssh_hosts

    with start_ssh_hosts(1, tmp_path / "sshd", prefix="nx", first=61) as fleet:
        lab = Lab.from_dict(fleet.lab_dict(), path=tmp_path / "lab.toml")
        with lab.runner("nx1") as runner:
            r = import_nix("nixosConfigurations", file=str(FIXTURES / "default.nix"), runner=runner)
        assert r.backups["remotebackup"]["host"] == "n100"
        with (
            lab.runner("nx1") as runner,
            pytest.raises(NixError, match="^nx1: nix could not evaluate"),
        ):
            evaluate("nixosConfigurations", file=str(FIXTURES / "broken.nix"), runner=runner)


def test_pure_helpers():
    keep, ignored = parse_prune_opts(
        ["--keep-daily 7 --keep-within-weekly=2m", "--keep-tag keep", "--prune"]
    )
    assert keep == {"daily": 7, "within_weekly": "2m", "tags": ["keep"]} and ignored == ["--prune"]
    assert normalise_schedule("00:01") == "*-*-* 00:01:00"
    assert normalise_schedule("weekly") == "weekly"
    assert normalise_schedule("Mon..Fri *-*-* 03:00:00") == "Mon..Fri *-*-* 03:00:00"
    assert normalise_schedule("Sat *-*-1..7 18:00:00") is None  # timespec cannot tell: not guessed
    assert NixSource("/etc/nixos#nixosConfigurations").is_flake
    assert (
        not NixSource("(import ./x.nix).a").is_flake and not NixSource("a#b", file="f.nix").is_flake
    )
    assert NixSource(".#nixosConfigurations.n100.config").last_attr == "n100"
    stderr = "warning: x\nerror: attribute 'b' missing\n\n       at «string»:1:13:\n\n            1| { }\n             |  ^\n       Did you mean c?\n(use '--show-trace' to show detailed location information)\n"
    assert nix_message(stderr) == "error: attribute 'b' missing; at «string»:1:13; Did you mean c?"
