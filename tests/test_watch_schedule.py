"""Generated schedules, checked by the tools that will run them: `systemd-analyze verify` for the
units, `nix-instantiate --parse` for the NixOS module (both Debian packages), and crontab fields."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from homelab_kit.cli import main
from homelab_kit.lab.model import load_lab
from homelab_kit.watch.schedule import cron_fields, jobs, oncalendar, systemd_quote

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = ROOT / ".venv" / "bin" / "homelab-kit"


def lab_file(base: Path, watch: str = "") -> Path:
    folder = base / "my lab"  # a blank in the path: quoting must hold
    folder.mkdir(parents=True)
    path = folder / "lab.toml"
    path.write_text(f'[lab]\nname = "home"\n[hosts.h]\ntransport = "local"\n[watch]\n{watch}\n')
    return path


def test_systemd_units_pass_systemd_analyze_verify(tmp_path: Path, capsys) -> None:
    lab = lab_file(tmp_path, 'check = "every 15m"\nrestore_test = "*-*-01 04:00:00"')
    out = tmp_path / "units"
    assert main(["--lab", str(lab), "schedule", "systemd", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(
        f"homelab-kit-{j}.{kind}" for j in ("check", "restore-test", "capacity")
        for kind in ("service", "timer")
    )  # fmt: skip
    assert "sudo systemctl enable --now homelab-kit-check.timer" in printed
    service = (out / "homelab-kit-check.service").read_text()
    assert f'ExecStart={PROGRAM} --lab "{lab}" check' in service
    timer = (out / "homelab-kit-check.timer").read_text()
    assert "OnCalendar=*:00/15" in timer and "Persistent=true" in timer
    assert "RandomizedDelaySec=90s" in timer  # a tenth of 15 minutes
    restore = (out / "homelab-kit-restore-test.timer").read_text()
    assert "OnCalendar=*-*-01 04:00:00" in restore
    res = subprocess.run(
        ["systemd-analyze", "verify", *sorted(map(str, out.iterdir()))],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr


def test_a_broken_unit_would_be_caught(tmp_path: Path) -> None:
    """The verifier itself refuses a bad OnCalendar, so the test above can fail."""
    (tmp_path / "x.service").write_text(f"[Service]\nType=oneshot\nExecStart={PROGRAM} check\n")
    (tmp_path / "x.timer").write_text(
        "[Timer]\nOnCalendar=every-hour\n[Install]\nWantedBy=timers.target\n"
    )
    res = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "x.timer")],
                         capture_output=True, text=True)  # fmt: skip
    assert res.returncode != 0


def test_nixos_module_parses(tmp_path: Path, capsys) -> None:
    lab = lab_file(tmp_path, 'capacity = "weekly"')
    assert main(["--lab", str(lab), "schedule", "nixos", "--run-as", "homelab"]) == 0
    module = capsys.readouterr().out
    assert 'systemd.timers."homelab-kit-check"' in module and 'User = "homelab";' in module
    res = subprocess.run(
        [shutil.which("nix-instantiate") or "nix-instantiate", "--parse", "-E", module],
        capture_output=True, text=True,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    bad = subprocess.run(["nix-instantiate", "--parse", "-E", module.replace("};", "}", 1)],
                         capture_output=True, text=True)  # fmt: skip
    assert bad.returncode != 0  # the parser does refuse a broken module


def test_crontab_lines(tmp_path: Path, capsys) -> None:
    lab = lab_file(tmp_path)
    assert main(["--lab", str(lab), "schedule", "cron"]) == 0
    lines = [x for x in capsys.readouterr().out.splitlines() if x and not x.startswith("#")]
    assert len(lines) == 3
    check, restore, capacity = (x.split() for x in lines)
    assert check[1:5] == ["*", "*", "*", "*"] and 0 <= int(check[0]) < 60  # hourly
    assert restore[2:5] == ["1", "*", "*"]  # monthly
    assert capacity[4] == "1"  # weekly, on Mondays
    assert f"'{lab}'" in lines[0] and lines[0].endswith(" check")


def test_a_schedule_cron_cannot_say_is_exit_2_naming_the_key(tmp_path: Path, capsys) -> None:
    lab = lab_file(tmp_path, 'check = "*-*-* 02:30:00"')
    assert main(["--lab", str(lab), "schedule", "cron"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("homelab-kit: lab.toml: watch.check: ") and "crontab" in err


def test_schedule_pieces() -> None:
    assert oncalendar("every 6h") == "*-*-* 00/6:00"
    assert oncalendar("nightly") == "daily"
    with pytest.raises(ValueError):
        oncalendar("every 7h")
    assert systemd_quote("/a b/50%") == '"/a b/50%%"'
    assert systemd_quote("$HOME") == '"$$HOME"'


def test_jobs_use_this_install_and_the_lab(tmp_path: Path) -> None:
    lab = load_lab(lab_file(tmp_path, 'randomized_delay = "2m"'))
    got = jobs(lab, PROGRAM)
    assert [j.argv[:3] for j in got] == [(str(PROGRAM), "--lab", str(lab.path))] * 3
    assert [j.argv[3:] for j in got][1] == ("notebooks", "run", "20_restore_test")
    assert {j.delay.total_seconds() for j in got} == {120}
    assert cron_fields(got[0]).split()[1:] == ["*", "*", "*", "*"]
