"""A small real lab for the widget tests: two local hosts, real files, two real restic repositories.

- `main` (daily, covers n100): snapshots on NOW-2d and NOW-1d of vault's state only — so `wiki`'s
  state dir was never backed up (a coverage finding);
- `offsite` (daily, covers n100): one snapshot eight days before NOW (overdue);
- `desk` runs `sync`, which no backup covers.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

from homelab_kit.backups.restic import Restic
from homelab_kit.lab.model import Lab
from tests.restic_repos import copy_repo, make_tree, template_for

NOW = datetime(2024, 6, 9, 12, 0, tzinfo=UTC)


def _when(delta: timedelta) -> str:
    return (NOW - delta).strftime("%Y-%m-%d %H:%M:%S")


def build_ui_lab(tmp: Path, base: Path) -> Lab:
    """Write the lab under `tmp` (RESTIC_CACHE_DIR must already point somewhere private)."""
    restic = shutil.which("restic") or "/usr/bin/restic"
    template = template_for(restic, base)
    repos = {name: copy_repo(template, tmp / "repos" / name) for name in ("main", "offsite")}
    n100 = tmp / "hosts" / "n100"
    make_tree(n100 / "var/lib/vault", {"db.sqlite3": b"v" * 4000, "attachments/a.bin": b"a" * 900})
    make_tree(n100 / "var/lib/wiki", {"pages.db": b"w" * 800})
    make_tree(tmp / "hosts" / "desk" / "home/sync", {"notes.txt": "hello\n"})
    doc = {
        "lab": {"name": "ui", "domain": "home.test"},
        "hosts": {
            "n100": {"transport": "local", "os": "nixos", "roles": ["server"]},
            "desk": {"transport": "local", "os": "nixos", "roles": ["desktop"]},
        },
        "services": {
            "vault": {"host": "n100", "port": 8222, "state_dirs": ["hosts/n100/var/lib/vault"]},
            "wiki": {"host": "n100", "port": 3000, "state_dirs": ["hosts/n100/var/lib/wiki"]},
            "sync": {"host": "desk", "state_dirs": ["hosts/desk/home/sync"]},
        },
        "backups": {
            name: {
                "host": "n100",
                "repository": str(repo),
                "password_file": str(pw),
                "restic": restic,
                "covers": ["n100"],
                "schedule": "daily",
            }
            for name, (repo, pw) in repos.items()
        },
    }
    (tmp / "lab.toml").write_text("")  # relative paths resolve under tmp
    lab = Lab.from_dict(doc, path=tmp / "lab.toml")
    vault = str(n100 / "var/lib/vault")
    main = Restic.for_backup(lab.backups["main"], lab)
    for days in (2, 1):
        main.backup([vault], host="n100", time=_when(timedelta(days=days)))
    offsite = Restic.for_backup(lab.backups["offsite"], lab)
    offsite.backup([vault], host="n100", time=_when(timedelta(days=8)))
    return lab
