"""The CLI's inventory and lint commands (JSON shape, exit codes 0/1/2, no traceback) and the
package's public API."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from homelab_kit.cli import main

from .test_inventory_model import LAB

CLI = Path(sys.executable).with_name("homelab-kit")


@pytest.fixture
def lab_file(tmp_path: Path) -> Path:
    path = tmp_path / "lab.toml"
    path.write_text(LAB)
    return path


def test_inventory_json_shape(lab_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--lab", str(lab_file), "inventory", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {"hosts", "services"} <= set(data)
    assert [h["name"] for h in data["hosts"]] == ["n100", "desk", "desk2", "nas"]
    mealie = next(s for s in data["services"] if s["name"] == "mealie")
    assert (mealie["host"], mealie["port"], mealie["state_dirs"]) == (
        "n100",
        9000,
        ["/var/lib/mealie"],
    )
    assert mealie["migrate_from"]["compose_service"] == "mealie"
    assert "pass show restic" not in json.dumps(data)  # password_command never printed


def test_inventory_table(lab_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--lab", str(lab_file), "inventory"]) == 0
    out = capsys.readouterr().out
    assert "vaultwarden" in out and "bitwarden.home.example" in out and "NAME" in out


def test_lab_from_environment(
    lab_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HOMELAB_LAB", str(lab_file))
    assert main(["inventory", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["lab"] == "home"


def test_lint_exit_codes(lab_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--lab", str(lab_file), "lint"]) == 0
    assert capsys.readouterr().out.strip() == "no findings"
    lab_file.write_text(LAB.replace("port = 9000", "port = 8222"))
    assert main(["--lab", str(lab_file), "lint", "--json"]) == 1
    rows = json.loads(capsys.readouterr().out)
    assert rows[0] == {
        "severity": "error",
        "subject": "vaultwarden, mealie",
        "message": "services vaultwarden and mealie both use port 8222 on host n100",
    }


def test_lint_warnings_only_exit_0(lab_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lab_file.write_text(LAB.replace('user = "photos"\n', ""))
    assert main(["--lab", str(lab_file), "lint"]) == 0
    assert "no user" in capsys.readouterr().out


def test_bad_input_exit_2_one_line_per_problem(
    lab_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lab_file.write_text(LAB.replace("port = 9000", 'port = "90o0"'))
    assert main(["--lab", str(lab_file), "lint"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f'homelab-kit: {lab_file}: services.mealie.port: expected an integer 1-65535, got "90o0"'
    ]


@pytest.mark.parametrize("command", ["inventory", "lint"])
def test_console_script_no_traceback(tmp_path: Path, command: str) -> None:
    bad = tmp_path / "lab.toml"
    bad.write_text("[lab\nname = 1\n")
    for lab in (bad, tmp_path / "missing.toml"):
        r = subprocess.run([str(CLI), "--lab", str(lab), command], capture_output=True, text=True)
        assert r.returncode == 2
        assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
        assert r.stderr.startswith(f"homelab-kit: {lab}: ")


def test_help_lists_commands() -> None:
    r = subprocess.run([str(CLI), "--help"], capture_output=True, text=True)
    assert r.returncode == 0
    for command in ("inventory", "lint", "demo", "notebooks", "journal"):
        assert command in r.stdout


def test_public_api_sorted_and_resolvable() -> None:
    import homelab_kit

    assert homelab_kit.__all__ == sorted(homelab_kit.__all__)
    assert len(set(homelab_kit.__all__)) == len(homelab_kit.__all__)
    for name in homelab_kit.__all__:
        assert getattr(homelab_kit, name) is not None, name
    with pytest.raises(AttributeError):
        homelab_kit.no_such_name  # noqa: B018
