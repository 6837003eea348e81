"""Compose parsing against varied real-world files (tests/fixtures/compose/) and the TOML proposal."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from homelab_kit.cli import main
from homelab_kit.ecosystem.compose.parse import (
    Mount,
    Port,
    interpolate,
    load_compose,
    parse_compose,
    parse_env_file,
)
from homelab_kit.ecosystem.compose.toml import propose_toml
from homelab_kit.errors import InventoryError

FIX = Path(__file__).parent / "fixtures" / "compose"


def load(rel: str, **env: str):
    return load_compose(FIX / rel, env=env or None)


def test_linuxserver_style_mealie():
    c = load("mealie/docker-compose.yml", X="1")
    s = c.services["mealie"]
    assert s.image == "ghcr.io/mealie-recipes/mealie:v1.12.0"
    assert s.container_name == "mealie"
    assert s.ports == (Port("9000", "9925", None, "tcp"),)
    assert s.mounts[0] == Mount("bind", str(FIX / "mealie" / "data"), "/app/data/", False)
    assert s.mounts[1] == Mount("bind", "/etc/localtime", "/etc/localtime", True)
    assert (s.puid, s.pgid) == (1000, 1000)
    assert s.environment["BASE_URL"] == "https://mealie.home.example"
    assert c.project == "mealie"


def test_unquoted_ports_are_not_base60_integers():
    """YAML 1.1 reads `8222:80` as 493380; compose (and we) read it as a port mapping."""
    c = load("vaultwarden/docker-compose.yml", VW_ADMIN_TOKEN="")
    s = c.services["vaultwarden"]
    assert [(p.published, p.target) for p in s.ports] == [("8222", "80"), ("3012", "3012")]
    assert s.environment["SIGNUPS_ALLOWED"] == "false"
    assert s.environment["ADMIN_TOKEN"] == ""
    assert s.binds[0].source == "/volume1/docker/vaultwarden/data"


def test_immich_dotenv_interpolation_anchors_named_volumes():
    c = load_compose(FIX / "immich" / "docker-compose.yml", env=None)
    assert c.project == "immich"
    server = c.services["immich-server"]
    assert server.image == "ghcr.io/immich-app/immich-server:release"
    assert server.binds[0].source == "/mnt/tank/photos/library"
    assert server.depends_on == ("redis", "database")
    assert server.env_files == (str(FIX / "immich" / ".env"),)  # from the << merge
    assert server.environment["DB_USERNAME"] == "postgres"
    db = c.services["database"]
    assert db.binds[0].source == str(FIX / "immich" / "postgres")
    assert db.environment["POSTGRES_DB"] == "immich"
    ml = c.services["immich-machine-learning"]
    assert ml.mounts == (Mount("volume", "model-cache", "/cache", False),)
    assert c.volume_path("model-cache") == "/var/lib/docker/volumes/immich_model-cache/_data"
    assert c.services["redis"].mounts == ()


def test_pihole_udp_host_ip_and_ipv6():
    s = load("pihole/compose.yaml", X="1").services["pihole"]
    assert Port("53", "53", None, "udp") in s.ports
    assert Port("80", "8081", "127.0.0.1", "tcp") in s.ports
    assert Port("443", "8443", "::1", "tcp") in s.ports
    assert [m.target for m in s.binds] == ["/etc/pihole", "/etc/dnsmasq.d"]


def test_paperless_long_syntax_env_files_user_and_depends_on_mapping():
    c = load("paperless/docker-compose.yml", X="1")
    web = c.services["webserver"]
    assert web.depends_on == ("db", "broker")
    assert web.ports == (Port("8000", "8010", "127.0.0.1", "tcp"),)
    kinds = [(m.type, m.target, m.read_only) for m in web.mounts]
    assert kinds == [
        ("volume", "/usr/src/paperless/data", False),
        ("bind", "/usr/src/paperless/media", False),
        ("bind", "/usr/src/paperless/consume", False),
        ("bind", "/scans", True),
    ]
    assert web.environment["USERMAP_UID"] == "1026"
    assert web.environment["PAPERLESS_OCR_LANGUAGE"] == "deu"
    assert web.environment["PAPERLESS_TIME_ZONE"] == "Europe/Vienna"
    assert web.user == "1026:100" and (web.puid, web.pgid) == (1026, 100)
    assert c.volume_path("pgdata") == "/var/lib/docker/volumes/paperless_pg/_data"
    assert c.services["db"].mounts[0] == Mount("volume", "pgdata", "/var/lib/postgresql/data")


def test_gitea_home_relative_bind_and_uid_names(monkeypatch):
    monkeypatch.setenv("HOME", "/home/alice")
    c = load("gitea/docker-compose.yml", X="1")
    s = c.services["server"]
    assert s.binds[0].source == "/home/alice/gitea"
    assert (s.puid, s.pgid) == (1000, 1000)
    assert s.environment["GITEA__database__PASSWD"] == ""
    assert c.services["db"].binds[0].source == str(FIX / "gitea" / "postgres")


def test_ranges_bare_ports_and_parent_relative_binds():
    s = load("torrent/docker-compose.yml", X="1").services["qbittorrent"]
    assert Port("6881-6889", "6881-6889", None, "udp") in s.ports
    assert Port("9117") in s.ports
    assert s.ports[0].host_port == 8080
    assert s.binds[0].source == str(FIX / "appdata" / "qbittorrent")
    assert s.binds[1] == Mount("bind", "/srv/downloads", "/downloads", False)
    assert (s.puid, s.pgid) == (1000, 1000)


@pytest.mark.parametrize(
    ("rel", "needle"),
    [
        ("broken/bad-indent.yml", "line 6"),
        ("broken/ports-not-list.yml", "services.web.ports: expected a list"),
        ("broken/bad-volume.yml", "services.web.volumes[0]"),
        ("broken/not-mapping.yml", "(top level)"),
        ("broken/required-var.yml", "required variable IMAGE is not set"),
    ],
)
def test_malformed_files_name_file_and_key(rel, needle):
    with pytest.raises(InventoryError) as err:
        load(rel, X="1")
    assert str(FIX / rel) in str(err.value)
    assert needle in str(err.value)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(InventoryError, match="cannot read the compose file"):
        load_compose(tmp_path / "nope.yml")


def test_interpolation_forms():
    env = {"A": "x", "EMPTY": ""}
    w: list[str] = []
    assert (
        interpolate("${A}-$A-${B:-d}-${EMPTY:-e}-${EMPTY-e}-$$A-${A:+set}", env, w, "k")
        == "x-x-d-e--$A-set"
    )
    assert interpolate("${NOPE}", env, w, "k") == "" and "NOPE" in w[0]


def test_env_file_parsing():
    env = parse_env_file("# c\nexport A=1\nB=\"two words\"\nC=3 # comment\nD='x#y'\nnoequals\n")
    assert env == {"A": "1", "B": "two words", "C": "3", "D": "x#y"}


def test_anonymous_volume_and_no_services():
    c = parse_compose(
        "services:\n  a:\n    image: x\n    volumes: [/data]\n", path="/srv/a/compose.yml"
    )
    assert c.services["a"].mounts == (Mount("volume", None, "/data"),)
    with pytest.raises(InventoryError, match="services: missing or empty"):
        parse_compose("version: '3'\n", path="/srv/a/compose.yml")


def test_proposal_is_valid_toml_with_migrate_from():
    c = load("paperless/docker-compose.yml", X="1")
    text = propose_toml(
        c,
        host="n100",
        source_host="nas",
        compose_path="/volume1/docker/paperless/docker-compose.yml",
    )
    data = tomllib.loads(text)
    web = data["services"]["webserver"]
    assert web["host"] == "n100" and web["port"] == 8010
    assert web["state_dirs"] == [
        "/var/lib/webserver/data",
        "/var/lib/webserver/media",
        "/var/lib/webserver/consume",
    ]
    mf = web["migrate_from"]
    assert mf == {
        "host": "nas",
        "compose_file": "/volume1/docker/paperless/docker-compose.yml",
        "compose_service": "webserver",
        "puid": 1026,
        "pgid": 100,
        "paths": {
            "/var/lib/docker/volumes/paperless_data/_data": "/var/lib/webserver/data",
            str(FIX / "paperless" / "media"): "/var/lib/webserver/media",
            str(FIX / "paperless" / "consume"): "/var/lib/webserver/consume",
        },
    }
    assert "/scans" not in text  # read-only mounts are not appdata


def test_proposal_single_dir_skips_system_mounts():
    c = load("homeassistant/docker-compose.yml", X="1")
    ha = tomllib.loads(propose_toml(c, host="n100"))["services"]["homeassistant"]
    assert ha["state_dirs"] == ["/var/lib/homeassistant"]
    assert ha["migrate_from"]["paths"] == {"/opt/homeassistant/config": "/var/lib/homeassistant"}
    assert "port" not in ha  # network_mode: host publishes nothing


def test_cli_import_compose(capsys):
    code = main(
        [
            "import",
            "compose",
            str(FIX / "mealie" / "docker-compose.yml"),
            "--host",
            "n100",
            "--source-host",
            "nas",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    svc = tomllib.loads(out)["services"]["mealie"]
    assert svc["port"] == 9925 and svc["user"] == "mealie" and svc["unit"] == "mealie.service"
    assert svc["migrate_from"]["paths"] == {str(FIX / "mealie" / "data"): "/var/lib/mealie"}
    assert svc["migrate_from"]["puid"] == 1000


def test_cli_import_compose_malformed_exits_2(capsys):
    code = main(["import", "compose", str(FIX / "broken" / "bad-volume.yml")])
    err = capsys.readouterr().err
    assert code == 2
    assert "bad-volume.yml: services.web.volumes[0]" in err and len(err.strip().splitlines()) == 1
