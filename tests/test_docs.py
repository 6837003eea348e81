"""The documents users follow stay true: the example lab loads, the README's commands exist."""

from __future__ import annotations

import re
from pathlib import Path

from homelab_kit.cli import build_parser
from homelab_kit.lab.model import load_lab

ROOT = Path(__file__).resolve().parent.parent


def test_example_lab_validates_with_every_section() -> None:
    lab = load_lab(ROOT / "docs" / "lab.example.toml")
    assert set(lab.hosts) == {"n100", "nas"} and set(lab.services) == {"vaultwarden", "mealie"}
    assert lab.services["mealie"].migrate_from is not None
    assert [p for p in lab.backup_paths()["path"]] == [
        "/var/lib/vaultwarden",
        "/var/lib/mealie",
        "/home/user/docker",
    ]


def test_readme_commands_exist() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make lab" in readme and "make test" in readme
    parser = build_parser()
    known = set(parser._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    named = set(re.findall(r"^\| `([a-z-]+)", readme, flags=re.M))
    assert named and named <= known, named - known
    assert (ROOT / "docs" / "workbench.png").stat().st_size < 300_000
