"""Build the demo lab: three hosts, eleven services, 90 days of real restic history, disk facts.

`build_demo("data/demo")` writes lab.toml, the hosts' state under hosts/<host>/, a real restic
repository per backup filled by real `restic backup --time ... --host ...` runs as the data grows
day by day, the journal (backup runs, facts history) and returns the loaded Lab.

The story it tells: uptime-kuma is added on day 45; the off-site backup stopped three weeks ago
(stale); the desktop is covered by no backup (lint's coverage gap); on day 62 a hardened backup unit
could not read some files (restic exit 3, a partial snapshot, journalled); mealie and paperless
still run in docker compose on the NAS and carry migrate_from towards native services on n100.

Dates are relative to the build day (UTC midnight), so "now" is the build time. The build runs in a
temporary folder that the target path points to (restic records absolute paths, so they must be the
final ones) and is moved into place at the end: an interrupted build leaves nothing behind.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import HomelabError, ResticError, ResticNotInstalled
from . import facts as demofacts
from .data import DAYS, SERVICES, Disk, lab_toml
from .key import cheapen_key
from .state import PARTIAL_DAY, grow

if TYPE_CHECKING:
    from ..lab.model import Backup, Lab

SEED = 20240601
STALE_DAYS = 21  # the off-site backup's last run was three weeks before the build day
BACKUP_TIME = {"n100-daily": 23.5, "n100-offsite": 23.6, "nas-docker": 23.75}  # hours of the day
PASSWORD_FILES = {
    "n100": "hosts/n100/run/secrets/restic-password",
    "nas": "hosts/nas/root/.restic-password",
}


class DemoError(HomelabError):
    """The demo lab could not be built (the message says what to fix)."""


def build_demo(
    target: str | os.PathLike = "data/demo",
    *,
    force: bool = False,
    now: datetime | None = None,
    restic: str | None = None,
    progress: bool = True,
) -> Lab:
    """Build the demo lab at `target` (refuses to replace an existing folder unless `force`)."""
    from ..lab.model import load_lab

    dest = Path(target).absolute()
    if dest.is_symlink() or (dest.exists() and not force):
        if (dest / "lab.toml").exists() and not dest.is_symlink():
            raise DemoError(f"{dest}: a demo lab is already there; pass --force to rebuild it")
        raise DemoError(f"{dest}: already exists; remove it or pass --force to replace it")
    binary = restic or shutil.which("restic")
    if not binary:
        raise ResticNotInstalled("restic not found: install it (Debian: `apt install restic`)")
    now = now or datetime.now(UTC)
    tmp = dest.with_name(f".{dest.name}.build-{os.getpid()}")
    old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
    except OSError as exc:
        raise DemoError(
            f"{dest}: cannot create the demo lab there ({exc.strerror}); "
            "give --dir a path in a writable folder"
        ) from None
    if dest.exists():
        dest.rename(old)
    try:
        dest.symlink_to(tmp.name)  # restic must see the final paths while we build in tmp
        _build(dest, now, binary, progress)
        load_lab(dest / "lab.toml")  # validated before it is moved into place
        dest.unlink()
        tmp.rename(dest)
    except BaseException:
        if dest.is_symlink():
            dest.unlink()
        shutil.rmtree(tmp, ignore_errors=True)
        if old.exists():
            old.rename(dest)
        raise
    shutil.rmtree(old, ignore_errors=True)
    return load_lab(dest / "lab.toml")


def _say(progress: bool, text: str) -> None:
    if progress:
        print(f"demo: {text}", file=sys.stderr, flush=True)


def _build(root: Path, now: datetime, restic: str, progress: bool) -> None:
    from ..lab.model import load_lab

    rng = random.Random(SEED)
    day0 = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(
        days=DAYS
    )
    disk = Disk(root)
    password = f"demo-{rng.getrandbits(64):016x}"
    for rel in PASSWORD_FILES.values():
        disk.write(rel, password + "\n", day0, mode=0o600)
    disk.write("lab.toml", lab_toml(PASSWORD_FILES), now)
    disk.write(".gitignore", "*\n", now)
    lab = load_lab(root / "lab.toml")
    _say(progress, f"initialising {len(lab.backups)} restic repositories")
    with ThreadPoolExecutor(max_workers=len(lab.backups)) as pool:
        list(pool.map(lambda b: _init_repo(restic, b), lab.backups.values()))
    version = subprocess.run([restic, "version"], capture_output=True, text=True).stdout.split()[1]
    units = [s.unit for s in lab.services_on("n100") if s.unit and not s.migrate_from]
    bar = _bar(progress)
    for day in range(DAYS):
        grow(disk, day, day0, rng)
        due = [
            b for b in lab.backups.values() if b.name != "n100-offsite" or day < DAYS - STALE_DAYS
        ]
        jobs = [(b, day == PARTIAL_DAY and b.name == "n100-daily") for b in due]
        with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
            results = list(
                pool.map(
                    lambda job, day=day: _backup(
                        restic, lab, root, job[0], day0, day, rng_for(day, job[0].name), job[1]
                    ),
                    jobs,
                )
            )
        for b, res in zip(due, results):
            _journal_backup(lab, b, res)
        for host in lab.hosts:
            at = day0 + timedelta(days=day, hours=23, minutes=55)
            facts = demofacts.facts(host, day, rng, units if host == "n100" else [], version)
            lab.journal.record_facts(host, facts, at=at)
        bar(day)
    _say(progress, f"done: {root}")


def rng_for(day: int, name: str) -> random.Random:
    return random.Random(f"{SEED}-{day}-{name}")


def _bar(progress: bool) -> Any:
    if not progress:
        return lambda day: None
    from ..progress import progress_bar

    t = progress_bar(
        total=DAYS, desc="demo: 90 days of history", unit="day", file=sys.stderr, leave=False
    )
    return lambda day: t.update(1) if day < DAYS - 1 else (t.update(1), t.close())


def _env(b: Backup) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RESTIC_")}
    env.update(RESTIC_REPOSITORY=b.repository, RESTIC_PASSWORD_FILE=str(b.password_file))
    return env


def _init_repo(restic: str, b: Backup) -> None:
    Path(b.repository).parent.mkdir(parents=True, exist_ok=True)
    r = subprocess.run([restic, "init", "--no-cache"], env=_env(b), capture_output=True, text=True)
    if r.returncode != 0:
        raise ResticError(f"backups.{b.name}: restic init failed: {r.stderr.strip()[-300:]}")
    cheapen_key(Path(b.repository), Path(str(b.password_file)))


def _backup(
    restic: str,
    lab: Lab,
    root: Path,
    b: Backup,
    day0: datetime,
    day: int,
    rng: random.Random,
    partial: bool,
) -> dict[str, Any]:
    """One nightly run: the backup's derived paths that exist that day, as restic saw them."""
    # load_lab resolved the build symlink; restic must record the final paths, so map them back
    real, final = str(lab.root), str(root)
    rows = [r["path"] for r in lab.backup_path_rows() if r["backup"] == b.name]
    paths = sorted(
        {final + p[len(real) :] if p.startswith(real) else p for p in rows if Path(p).exists()}
    )
    at = day0 + timedelta(days=day, hours=BACKUP_TIME[b.name], minutes=rng.uniform(0, 4))
    argv = [
        restic,
        "backup",
        "--no-cache",
        "--json",
        "--host",
        b.host,
        "--time",
        at.strftime("%Y-%m-%d %H:%M:%S"),
    ]
    argv += [f"--exclude={x}" for x in b.exclude] + [f"--tag={t}" for t in ("nightly", *b.tags)]
    prefix: list[str] = []
    if partial and os.geteuid() == 0 and shutil.which("setpriv"):
        # the "hardened unit" of day 62: root without CAP_DAC_READ_SEARCH/OVERRIDE cannot read
        # files private to their service users, so restic saves a partial snapshot and exits 3
        prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"]
    r = subprocess.run(prefix + argv + ["--", *paths], env=_env(b), capture_output=True, text=True)
    if r.returncode not in (0, 3):
        raise ResticError(
            f"backups.{b.name}: restic backup (day {day}) exited {r.returncode}: {r.stderr.strip()[-300:]}"
        )
    summary: dict[str, Any] = {}
    errors = []
    for line in (r.stdout + "\n" + r.stderr).splitlines():
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if msg.get("message_type") == "summary":
            summary = msg
        elif msg.get("message_type") == "error":
            errors.append(msg.get("item") or str(msg.get("error")))
    return {
        "at": at,
        "exit_code": r.returncode,
        "summary": summary,
        "stderr": r.stderr,
        "paths": paths,
        "errors": errors,
    }


def _journal_backup(lab: Lab, b: Backup, res: dict[str, Any]) -> None:
    s = res["summary"]
    took = float(s.get("total_duration") or 0.0)
    finished = res["at"] + timedelta(seconds=max(took, 1.0))
    partial = res["exit_code"] == 3
    summary = {
        "backup": b.name,
        "host": b.host,
        "exit_code": res["exit_code"],
        "snapshot_id": s.get("snapshot_id"),
        "files_new": s.get("files_new"),
        "files_changed": s.get("files_changed"),
        "data_added": s.get("data_added"),
        "total_bytes_processed": s.get("total_bytes_processed"),
        "paths": len(res["paths"]),
    }
    if partial:
        summary["unreadable"] = len(res["errors"]) or None
        summary["message"] = "restic could not read some files: the snapshot is partial (exit 3)"
    with lab.journal.run("backup", {"backup": b.name, "host": b.host}, started=res["at"]) as run:
        run.step("restic backup", host=b.host, status="partial" if partial else "ok", started=res["at"],
                 finished=finished, exit_code=res["exit_code"], stderr=res["stderr"], data=summary)  # fmt: skip
        run.summary = summary
        run.status = "partial" if partial else "ok"
        run.finished = finished


__all__ = ["SERVICES", "build_demo"]
