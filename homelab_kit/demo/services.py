"""What each demo service writes on one day: vaultwarden ciphers and attachments, jellyfin items and
posters, paperless documents (real PDFs), mealie recipes, Home Assistant recorder rows, logs and
configs — realistic state for backups, restore tests and capacity to work on."""

from __future__ import annotations

import json
import random
import uuid
from datetime import datetime

from .data import ADDED_DAY, COMPOSE_DIR, PGID, PUID, SERVICES, Disk, blob, pdf, words

SVC = {s.name: s for s in SERVICES}


def state_dir(name: str) -> str:
    s = SVC[name]
    return f"hosts/{s.host}/{s.state}"


def new_id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def traefik(disk: Disk, day: int, at: datetime, rng: random.Random) -> None:
    d, uid = state_dir("traefik"), SVC["traefik"].uid
    if day == 0:
        disk.write(f"{d}/traefik.yml", "entryPoints:\n  websecure:\n    address: ':443'\n"
                   "certificatesResolvers:\n  le:\n    acme:\n      storage: /var/lib/traefik/acme.json\n", at, uid=uid)  # fmt: skip
        routers = {
            s.name: {"rule": f"Host(`{s.subdomain}.home.example`)", "service": s.name}
            for s in SERVICES if s.host == "n100"
        }  # fmt: skip
        disk.write(
            f"{d}/dynamic/routers.json",
            json.dumps({"http": {"routers": routers}}, indent=2),
            at,
            uid=uid,
        )
    if day % 60 == 0:
        certs = [{"domain": {"main": f"{s.subdomain}.home.example"}, "certificate": blob(rng, 900).hex(),
                  "key": blob(rng, 120).hex()} for s in SERVICES]  # fmt: skip
        disk.write(
            f"{d}/acme.json", json.dumps({"le": {"Certificates": certs}}), at, uid=uid, mode=0o600
        )
    lines = "".join(
        f'10.0.0.{rng.randint(2, 250)} - - [{at:%d/%b/%Y:%H:%M:%S} +0000] "GET /{words(rng, 1)} HTTP/2.0" '
        f"{rng.choice((200, 200, 200, 302, 404))} {rng.randint(200, 90000)}\n"
        for _ in range(rng.randint(15, 40))
    )
    log = disk.root / d / "access.log"
    if day % 7 == 0 and log.exists():
        log.replace(log.with_name("access.log.1"))
    disk.write(f"{d}/access.log", lines, at, uid=uid, append=True)


def authelia(disk: Disk, day: int, at: datetime, rng: random.Random) -> None:
    d, uid = state_dir("authelia"), SVC["authelia"].uid
    if day == 0:
        disk.write(f"{d}/configuration.yml", "authentication_backend:\n  ldap:\n    address: ldap://127.0.0.1:3890\n"
                   "storage:\n  local:\n    path: /var/lib/authelia/db.sqlite3\n", at, uid=uid, mode=0o600)  # fmt: skip
    con = disk.db(f"{d}/db.sqlite3", "CREATE TABLE IF NOT EXISTS authentication_logs (id INTEGER PRIMARY KEY,"
                  " time TEXT, successful INTEGER, username TEXT, remote_ip TEXT);", at)  # fmt: skip
    con.executemany(
        "INSERT INTO authentication_logs (time, successful, username, remote_ip) VALUES (?,?,?,?)",
        [(at.isoformat(), int(rng.random() > 0.1), rng.choice(("alice", "bob", "carol")), f"10.0.0.{rng.randint(2, 99)}")
         for _ in range(rng.randint(3, 20))],
    )  # fmt: skip
    disk.close_db(con, f"{d}/db.sqlite3", at, uid)


def lldap(disk: Disk, day: int, at: datetime, rng: random.Random) -> None:
    d, uid = state_dir("lldap"), SVC["lldap"].uid
    if day == 0:
        disk.write(
            f"{d}/lldap_config.toml",
            'ldap_base_dn = "dc=home,dc=example"\nhttp_port = 17170\n',
            at,
            uid=uid,
        )
        disk.write(f"{d}/server_key", blob(rng, 32), at, uid=uid, mode=0o600)
    people = {0: ("alice", "bob", "carol", "dave"), 30: ("erin",)}.get(day, ())
    if people:
        con = disk.db(f"{d}/users.db", "CREATE TABLE IF NOT EXISTS users (user_id TEXT PRIMARY KEY, email TEXT,"
                      " display_name TEXT, creation_date TEXT);", at)  # fmt: skip
        con.executemany("INSERT INTO users VALUES (?,?,?,?)",
                        [(p, f"{p}@home.example", p.title(), at.isoformat()) for p in people])  # fmt: skip
        disk.close_db(con, f"{d}/users.db", at, uid)


def vaultwarden(disk: Disk, day: int, at: datetime, rng: random.Random) -> None:
    d, uid = state_dir("vaultwarden"), SVC["vaultwarden"].uid
    if day == 0:
        disk.write(f"{d}/config.json", json.dumps({"domain": "https://bitwarden.home.example",
                   "signups_allowed": False}, indent=2), at, uid=uid, mode=0o600)  # fmt: skip
        disk.write(f"{d}/rsa_key.pem", "-----BEGIN RSA PRIVATE KEY-----\n" + blob(rng, 1200).hex()[:1600]
                   + "\n-----END RSA PRIVATE KEY-----\n", at, uid=uid, mode=0o600)  # fmt: skip
    con = disk.db(f"{d}/db.sqlite3", "CREATE TABLE IF NOT EXISTS ciphers (uuid TEXT PRIMARY KEY, user_uuid TEXT,"
                  " atype INTEGER, name TEXT, data TEXT, created_at TEXT, updated_at TEXT);", at)  # fmt: skip
    for _ in range(rng.randint(0, 3) + (25 if day == 0 else 0)):
        cid = new_id(rng)
        con.execute("INSERT INTO ciphers VALUES (?,?,?,?,?,?,?)",
                    (cid, "alice", rng.choice((1, 1, 2, 3)), "2." + blob(rng, 24).hex(), blob(rng, 300).hex(),
                     at.isoformat(), at.isoformat()))  # fmt: skip
        if rng.random() < 0.15:
            disk.write(
                f"{d}/attachments/{cid}/{new_id(rng)[:20]}",
                blob(rng, rng.randint(4000, 40000)),
                at,
                uid=uid,
                mode=0o600,
            )
    disk.close_db(con, f"{d}/db.sqlite3", at, uid)
    if rng.random() < 0.2:
        disk.write(
            f"{d}/icon_cache/{words(rng, 1)}.example.png",
            blob(rng, 900, b"\x89PNG\r\n\x1a\n"),
            at,
            uid=uid,
        )


def jellyfin(disk: Disk, day: int, at: datetime, rng: random.Random) -> None:
    d, uid = state_dir("jellyfin"), SVC["jellyfin"].uid
    if day == 0:
        disk.write(f"{d}/config/system.xml", "<ServerConfiguration><ServerName>n100</ServerName>"
                   "</ServerConfiguration>\n", at, uid=uid)  # fmt: skip
    n = rng.randint(0, 3) + (40 if day == 0 else 0)
    if not n:
        return
    con = disk.db(f"{d}/data/library.db", "CREATE TABLE IF NOT EXISTS TypedBaseItems (guid TEXT PRIMARY KEY,"
                  " type TEXT, Name TEXT, Path TEXT, DateCreated TEXT, RunTimeTicks INTEGER, ProductionYear INTEGER);", at)  # fmt: skip
    for _ in range(n):
        g = new_id(rng).replace("-", "")
        title = words(rng, 3).title()
        kind = rng.choice(("Movie", "Episode", "Episode", "MusicAlbum"))
        con.execute("INSERT INTO TypedBaseItems VALUES (?,?,?,?,?,?,?)",
                    (g, kind, title, f"/volume1/media/{kind.lower()}s/{title}.mkv", at.isoformat(),
                     rng.randint(20, 150) * 600_000_000, rng.randint(1970, 2024)))  # fmt: skip
        disk.write(
            f"{d}/metadata/library/{g[:2]}/{g}/poster.jpg",
            blob(rng, rng.randint(6000, 20000), b"\xff\xd8\xff\xe0"),
            at,
            uid=uid,
        )
    disk.close_db(con, f"{d}/data/library.db", at, uid)


def adguard(disk: Disk, day: int, at: datetime, rng: random.Random) -> None:
    d, uid = state_dir("adguard"), SVC["adguard"].uid
    if day == 0:
        disk.write(f"{d}/AdGuardHome.yaml", "http:\n  address: 0.0.0.0:3000\ndns:\n  bind_hosts: [0.0.0.0]\n"
                   "  upstream_dns: [https://dns.quad9.net/dns-query]\n", at, uid=uid)  # fmt: skip
    if day % 7 == 0:
        hosts = "".join(
            f"0.0.0.0 {words(rng, 1)}{rng.randint(1, 9999)}.ads.example\n" for _ in range(2500)
        )
        disk.write(f"{d}/data/filters/1.txt", hosts, at, uid=uid)
        log = disk.root / d / "data/querylog.json"
        if log.exists():
            log.replace(log.with_name("querylog.json.1"))
    queries = "".join(json.dumps({"T": at.isoformat(), "QH": f"{words(rng, 1)}.example", "QT": "A",
                                  "IP": f"10.0.0.{rng.randint(2, 99)}"}) + "\n" for _ in range(rng.randint(20, 50)))  # fmt: skip
    disk.write(f"{d}/data/querylog.json", queries, at, uid=uid, append=True)
    disk.write(f"{d}/data/stats.db", blob(rng, 8192), at, uid=uid, mode=0o600)


def hass(disk: Disk, day: int, at: datetime, rng: random.Random) -> None:
    d, uid = state_dir("home-assistant"), SVC["home-assistant"].uid
    if day == 0:
        disk.write(f"{d}/configuration.yaml", "default_config:\nrecorder:\n  purge_keep_days: 10\n"
                   "automation: !include automations.yaml\n", at, uid=uid)  # fmt: skip
        disk.write(
            f"{d}/secrets.yaml", f"mqtt_password: {blob(rng, 12).hex()}\n", at, uid=uid, mode=0o600
        )
    if day % 20 == 0:
        autos = [
            {"id": str(i), "alias": words(rng, 3), "trigger": [{"platform": "sun"}]}
            for i in range(3 + day // 20)
        ]
        disk.write(f"{d}/automations.yaml", json.dumps(autos, indent=2), at, uid=uid)
        registry = {"data": {"entities": [{"entity_id": f"sensor.{w}"} for w in WORDS_SENSORS]}}
        disk.write(
            f"{d}/.storage/core.entity_registry", json.dumps(registry), at, uid=uid, mode=0o600
        )
    rel = f"{d}/home-assistant_v2.db"
    con = disk.db(rel, "CREATE TABLE IF NOT EXISTS states (state_id INTEGER PRIMARY KEY, entity_id TEXT,"
                  " state TEXT, last_updated_ts REAL);", at)  # fmt: skip
    base = at.replace(hour=0, minute=0).timestamp()
    con.executemany("INSERT INTO states (entity_id, state, last_updated_ts) VALUES (?,?,?)",
                    [(f"sensor.{s}", f"{rng.uniform(15, 25):.1f}", base + h * 7200)
                     for s in WORDS_SENSORS for h in range(12)])  # fmt: skip
    con.execute("DELETE FROM states WHERE last_updated_ts < ?", (base - 10 * 86400,))
    disk.close_db(con, rel, at, uid)


WORDS_SENSORS = ("living_room_temp", "bedroom_temp", "outdoor_temp", "power_meter", "humidity")


def kuma(disk: Disk, day: int, at: datetime, rng: random.Random) -> None:
    if day < ADDED_DAY:
        return
    d, uid = state_dir("uptime-kuma"), SVC["uptime-kuma"].uid
    con = disk.db(f"{d}/kuma.db", "CREATE TABLE IF NOT EXISTS monitor (id INTEGER PRIMARY KEY, name TEXT, url TEXT);"
                  "CREATE TABLE IF NOT EXISTS heartbeat (id INTEGER PRIMARY KEY, monitor_id INTEGER,"
                  " status INTEGER, time TEXT, ping INTEGER);", at)  # fmt: skip
    if day == ADDED_DAY:
        con.executemany("INSERT INTO monitor (name, url) VALUES (?,?)",
                        [(s.name, f"https://{s.subdomain}.home.example") for s in SERVICES])  # fmt: skip
    con.executemany("INSERT INTO heartbeat (monitor_id, status, time, ping) VALUES (?,?,?,?)",
                    [(m, int(rng.random() > 0.01), at.isoformat(), rng.randint(2, 80))
                     for m in range(1, len(SERVICES) + 1) for _ in range(4)])  # fmt: skip
    disk.close_db(con, f"{d}/kuma.db", at, uid)


def mealie(disk: Disk, day: int, at: datetime, rng: random.Random) -> None:
    d = f"hosts/nas/{COMPOSE_DIR}/mealie/data"
    if day == 0:
        disk.write(f"{d}/.secret", blob(rng, 32).hex(), at, uid=PUID, gid=PGID, mode=0o600)
    n = (40 if day == 0 else 0) + (rng.random() < 0.5)
    if not n:
        return
    con = disk.db(f"{d}/mealie.db", "CREATE TABLE IF NOT EXISTS recipes (id TEXT PRIMARY KEY, slug TEXT, name TEXT,"
                  " description TEXT, total_time TEXT, created_at TEXT);"
                  "CREATE TABLE IF NOT EXISTS recipes_ingredients (recipe_id TEXT, position INTEGER, note TEXT);", at)  # fmt: skip
    for _ in range(n):
        rid, name = new_id(rng), words(rng, 3).title()
        con.execute("INSERT INTO recipes VALUES (?,?,?,?,?,?)", (rid, name.lower().replace(" ", "-"), name,
                    words(rng, 12), f"{rng.randint(10, 120)} min", at.isoformat()))  # fmt: skip
        con.executemany("INSERT INTO recipes_ingredients VALUES (?,?,?)",
                        [(rid, i, f"{rng.randint(1, 500)} g {words(rng, 1)}") for i in range(rng.randint(3, 12))])  # fmt: skip
        disk.write(
            f"{d}/recipes/{rid}/images/original.webp",
            blob(rng, rng.randint(8000, 30000), b"RIFF"),
            at,
            uid=PUID,
            gid=PGID,
        )
    disk.close_db(con, f"{d}/mealie.db", at, PUID, PGID)


def paperless(disk: Disk, day: int, at: datetime, rng: random.Random) -> None:
    d = f"hosts/nas/{COMPOSE_DIR}/paperless"
    n = (60 if day == 0 else 0) + rng.choice((0, 1, 1, 2))
    if not n:
        return
    con = disk.db(f"{d}/data/db.sqlite3", "CREATE TABLE IF NOT EXISTS documents_document (id INTEGER PRIMARY KEY,"
                  " title TEXT, content TEXT, created TEXT, added TEXT, checksum TEXT, mime_type TEXT, filename TEXT);", at)  # fmt: skip
    for _ in range(n):
        title = (
            words(rng, 2).title() + f" {rng.choice(('invoice', 'letter', 'receipt', 'contract'))}"
        )
        cur = con.execute("INSERT INTO documents_document (title, content, created, added, mime_type) VALUES (?,?,?,?,?)",
                          (title, words(rng, 40), at.date().isoformat(), at.isoformat(), "application/pdf"))  # fmt: skip
        doc = cur.lastrowid or 0
        name = f"{doc:07d}.pdf"
        raw = pdf(f"{title} - {words(rng, 8)}")
        disk.write(f"{d}/media/documents/originals/{name}", raw, at, uid=PUID, gid=PGID)
        disk.write(
            f"{d}/media/documents/thumbnails/{doc:07d}.webp",
            blob(rng, rng.randint(3000, 8000), b"RIFF"),
            at,
            uid=PUID,
            gid=PGID,
        )
        import hashlib

        con.execute(
            "UPDATE documents_document SET checksum=?, filename=? WHERE id=?",
            (hashlib.md5(raw).hexdigest(), name, doc),
        )
    disk.close_db(con, f"{d}/data/db.sqlite3", at, PUID, PGID)
    disk.write(f"{d}/data/index/MAIN_{day // 7}.toc", blob(rng, 4000), at, uid=PUID, gid=PGID)


def syncthing(disk: Disk, day: int, at: datetime, rng: random.Random) -> None:
    d = state_dir("syncthing")
    if day == 0:
        disk.write(f"{d}/config.xml", '<configuration version="37"><folder id="photos" path="~/Photos"/>'
                   "</configuration>\n", at, uid=1000, gid=100)  # fmt: skip
        disk.write(f"{d}/key.pem", "-----BEGIN EC PRIVATE KEY-----\n" + blob(rng, 90).hex()
                   + "\n-----END EC PRIVATE KEY-----\n", at, uid=1000, gid=100, mode=0o600)  # fmt: skip
    if day % 3 == 0:
        disk.write(
            f"{d}/index-v0.14.0.db/{day // 3:06d}.ldb",
            blob(rng, rng.randint(8000, 20000)),
            at,
            uid=1000,
            gid=100,
        )


DAILY = (
    traefik,
    authelia,
    lldap,
    vaultwarden,
    jellyfin,
    adguard,
    hass,
    kuma,
    mealie,
    paperless,
    syncthing,
)  # in this order, every day
