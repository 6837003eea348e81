"""What the demo lab contains: its services, their state as it grows day by day, and lab.toml.

Pure data plus small writers (SQLite via sqlite3, attachments, configs, media metadata), all driven
by a seeded `random.Random` so two builds on the same day give the same files. demo.py runs the
timeline and the real restic backups; this module only knows how a day changes each service.
"""

from __future__ import annotations

import os
import random
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

DAYS = 90  # days of history
ADDED_DAY = 45  # uptime-kuma appears on n100 this day (a service added mid-way)
PUID, PGID = 1026, 100  # the NAS's docker user (Synology style)


@dataclass(frozen=True)
class DemoService:
    """One demo service: lab.toml fields plus the uid that owns its state on the demo disk."""

    name: str
    host: str
    port: int
    subdomain: str
    user: str
    uid: int
    state: str  # state dir relative to the host's folder
    image: str | None = None
    added: int = 0
    migrate: dict[str, str] = field(default_factory=dict)  # nas source dir -> target under state


SERVICES = (
    DemoService("traefik", "n100", 443, "traefik", "traefik", 990, "var/lib/traefik"),
    DemoService("authelia", "n100", 9091, "auth", "authelia", 989, "var/lib/authelia"),
    DemoService("lldap", "n100", 17170, "ldap", "lldap", 988, "var/lib/lldap"),
    DemoService("vaultwarden", "n100", 8222, "bitwarden", "vaultwarden", 987, "var/lib/vaultwarden"),
    DemoService("jellyfin", "n100", 8096, "media", "jellyfin", 986, "var/lib/jellyfin"),
    DemoService("adguard", "n100", 3000, "dns", "adguardhome", 985, "var/lib/AdGuardHome"),
    DemoService("home-assistant", "n100", 8123, "home", "hass", 286, "var/lib/hass"),
    DemoService("uptime-kuma", "n100", 3001, "status", "uptime-kuma", 984, "var/lib/uptime-kuma", added=ADDED_DAY),
    DemoService("mealie", "n100", 9000, "recipes", "mealie", 983, "var/lib/mealie",
                image="ghcr.io/mealie-recipes/mealie:v1.12.0", migrate={"mealie/data": ""}),
    DemoService("paperless", "n100", 28981, "paperless", "paperless", 315, "var/lib/paperless",
                image="ghcr.io/paperless-ngx/paperless-ngx:2.11",
                migrate={"paperless/data": "data", "paperless/media": "media"}),
    DemoService("syncthing", "desk", 8384, "sync", "alice", 1000, "home/alice/.local/state/syncthing"),
)  # fmt: skip
COMPOSE_DIR = "volume1/docker"  # on the NAS


def when(day0: datetime, day: int, hour: float) -> datetime:
    return day0 + timedelta(days=day, hours=hour)


class Disk:
    """Writes files under the lab folder with fixed times and (when root) the service's owner."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.chown = hasattr(os, "geteuid") and os.geteuid() == 0

    def write(self, rel: str, data: bytes | str, at: datetime, *, uid: int = 0, gid: int | None = None,
              mode: int = 0o644, append: bool = False) -> Path:  # fmt: skip
        p = self.root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        raw = data.encode() if isinstance(data, str) else data
        with open(p, "ab" if append else "wb") as f:
            f.write(raw)
        self.finish(p, at, uid=uid, gid=gid, mode=mode)
        return p

    def finish(
        self, p: Path, at: datetime, *, uid: int = 0, gid: int | None = None, mode: int = 0o644
    ) -> None:
        os.chmod(p, mode)
        if self.chown:
            os.chown(p, uid, uid if gid is None else gid)
        t = at.timestamp()
        os.utime(p, (t, t))

    def db(
        self, rel: str, schema: str, at: datetime, uid: int = 0, gid: int | None = None
    ) -> sqlite3.Connection:
        p = self.root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(p, isolation_level=None)
        con.execute("PRAGMA synchronous = OFF")  # a demo: no fsync per statement
        con.executescript(schema)
        con.execute("BEGIN")
        return con

    def close_db(
        self, con: sqlite3.Connection, rel: str, at: datetime, uid: int = 0, gid: int | None = None
    ) -> None:
        con.execute("COMMIT")
        con.close()
        self.finish(self.root / rel, at, uid=uid, gid=gid, mode=0o640)


WORDS = [
    "alpine",
    "bamboo",
    "cedar",
    "delta",
    "ember",
    "fjord",
    "garnet",
    "harbor",
    "indigo",
    "juniper",
    "kelp",
    "lagoon",
    "maple",
    "nectar",
    "orchid",
    "pepper",
    "quartz",
    "raven",
    "saffron",
    "tundra",
    "umber",
    "velvet",
    "willow",
    "yarrow",
    "zephyr",
    "basil",
    "lentil",
    "ginger",
    "miso",
    "tomato",
    "lemon",
    "garlic",
    "thyme",
]


def words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def blob(rng: random.Random, size: int, magic: bytes = b"") -> bytes:
    return magic + rng.randbytes(max(size - len(magic), 0))


def pdf(text: str) -> bytes:
    """A small valid one-page PDF showing `text` (paperless originals)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = b"%PDF-1.4\n", []
    for i, o in enumerate(objs, 1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + o + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return out


def lab_toml(password_files: dict[str, str]) -> str:
    """The demo's lab.toml: three local hosts, the services above, three backups."""
    lines = [
        "# The homelab_kit demo lab (built by `homelab-kit demo`; rebuild with --force).",
        "# Every host uses the local transport: its disk is hosts/<host>/ next to this file.",
        "[lab]",
        'name = "demo"',
        'domain = "home.example"',
        'journal = "journal.sqlite"',
        'runs_dir = "runs"',
        'description = "A NixOS server, a NixOS desktop and a NAS still running docker compose"',
        "",
        "# `homelab-kit check` runs every unattended check. The demo's hosts are simulated (their",
        "# disks are folders under hosts/), so this machine's df says nothing about them: keep",
        "# the disk history the demo built instead of recording new facts.",
        "[watch]",
        "record_facts = false",
        "",
        "# Be told when something breaks: any apprise URL, and a dead-man heartbeat.",
        "# [notify]",
        '# urls = ["ntfy://ntfy.sh/my-homelab-topic"]',
        '# heartbeat = "https://hc-ping.com/your-uuid"',
        "",
        "[hosts.n100]",
        'address = "192.168.1.10"\nos = "nixos"\nroles = ["server"]\ntransport = "local"',
        'description = "Intel N100 mini PC, NixOS, runs the native services"',
        "",
        "[hosts.desk]",
        'address = "192.168.1.20"\nuser = "alice"\nos = "nixos"\nroles = ["desktop"]\ntransport = "local"',
        "",
        "[hosts.nas]",
        'address = "192.168.1.5"\nuser = "admin"\nos = "compose"\nroles = ["nas", "storage"]',
        f'transport = "local"\ncompose_dir = "hosts/nas/{COMPOSE_DIR}"',
        "",
    ]
    for s in SERVICES:
        lines += [
            f"[services.{s.name}]",
            f'host = "{s.host}"\nport = {s.port}\nsubdomain = "{s.subdomain}"\nuser = "{s.user}"',
            f'state_dirs = ["hosts/{s.host}/{s.state}"]',
            f'health = "http://127.0.0.1:{s.port}/"',
        ]
        if s.image:
            lines.append(f'image = "{s.image}"')
        if s.migrate:
            paths = ", ".join(
                f'"hosts/nas/{COMPOSE_DIR}/{src}" = "hosts/{s.host}/{s.state}{"/" + dst if dst else ""}"'
                for src, dst in s.migrate.items()
            )
            lines += [
                f"[services.{s.name}.migrate_from]",
                f'host = "nas"\ncompose_file = "hosts/nas/{COMPOSE_DIR}/docker-compose.yml"',
                f'compose_service = "{s.name}"\npuid = {PUID}\npgid = {PGID}',
                f"paths = {{ {paths} }}",
            ]
        lines.append("")
    lines += [
        "# Nightly to the NAS. Covers every state dir of n100's services (derived, never listed).",
        "[backups.n100-daily]",
        'host = "n100"\nrepository = "hosts/nas/volume1/backup/restic/n100"',
        f'password_file = "{password_files["n100"]}"',
        'covers = ["n100"]\nextra_paths = ["hosts/n100/etc/nixos"]',
        'schedule = "daily"\nmax_age = "26h"\nkeep = { daily = 7, weekly = 4, monthly = 6 }',
        "",
        "# A USB disk rotated off-site. It left the house three weeks ago and never came back.",
        "[backups.n100-offsite]",
        'host = "n100"\nrepository = "hosts/n100/mnt/usb-offsite/restic"',
        f'password_file = "{password_files["n100"]}"',
        'covers = ["n100"]\nschedule = "daily"\nkeep = { daily = 14, monthly = 12 }',
        "",
        "# The NAS's docker appdata. Nothing backs up the desktop (desk): lint says so.",
        "[backups.nas-docker]",
        'host = "nas"\nrepository = "hosts/nas/volume1/backup/restic/nas"',
        f'password_file = "{password_files["nas"]}"',
        f'covers = ["nas"]\nextra_paths = ["hosts/nas/{COMPOSE_DIR}"]\nexclude = ["*.log"]',
        'schedule = "*-*-* 23:45:00"\nmax_age = "26h"\nkeep = { daily = 7, weekly = 8 }',
        "",
    ]
    return "\n".join(lines)


COMPOSE_YML = f"""\
# Services still running on the NAS. mealie and paperless move to n100 as native NixOS services
# (see migrate_from in lab.toml); the broker stays until paperless has moved.
name: nas
services:
  mealie:
    image: ghcr.io/mealie-recipes/mealie:v1.12.0
    container_name: mealie
    restart: unless-stopped
    ports:
      - "9925:9000"
    environment:
      PUID: "{PUID}"
      PGID: "{PGID}"
      TZ: Europe/Berlin
      ALLOW_SIGNUP: "false"
      BASE_URL: https://recipes.home.example
    volumes:
      - ./mealie/data:/app/data
  paperless:
    image: ghcr.io/paperless-ngx/paperless-ngx:2.11
    container_name: paperless
    restart: unless-stopped
    depends_on:
      - broker
    ports:
      - "8010:8000"
    environment:
      USERMAP_UID: "{PUID}"
      USERMAP_GID: "{PGID}"
      PAPERLESS_REDIS: redis://broker:6379
      PAPERLESS_URL: https://paperless.home.example
      PAPERLESS_TIME_ZONE: Europe/Berlin
    volumes:
      - ./paperless/data:/usr/src/paperless/data
      - ./paperless/media:/usr/src/paperless/media
      - ./paperless/export:/usr/src/paperless/export
      - ./paperless/consume:/usr/src/paperless/consume
  broker:
    image: docker.io/library/redis:7
    restart: unless-stopped
    volumes:
      - redisdata:/data
volumes:
  redisdata:
"""
