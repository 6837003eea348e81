"""Shared fixtures: the real restic binaries (Debian 12's 0.14 and Debian 13's 0.18)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("HOMELAB_CACHE", ROOT / ".cache"))


def restic_binaries() -> dict[str, str]:
    """Every restic we test against, keyed by a short label; set up by `make test`."""
    found: dict[str, str] = {}
    system = shutil.which("restic")
    if system:
        found["system"] = system
    trixie = CACHE / "restic-trixie" / "restic"
    if trixie.exists():
        found["trixie"] = str(trixie)
    return found


@pytest.fixture(params=sorted(restic_binaries()) or ["missing"])
def restic_bin(request: pytest.FixtureRequest) -> str:
    """Path of a real restic binary; the test runs once per installed version."""
    binaries = restic_binaries()
    if request.param not in binaries:
        pytest.fail("no restic binary found: run `make test` (it installs restic 0.14 and 0.18)")
    return binaries[request.param]


@pytest.fixture(scope="session")
def demo_lab(tmp_path_factory: pytest.TempPathFactory):
    """The demo lab, built once per test session into a temporary folder (real restic history)."""
    from homelab_kit.demo.build import build_demo

    return build_demo(tmp_path_factory.mktemp("demo") / "demo", progress=False)
