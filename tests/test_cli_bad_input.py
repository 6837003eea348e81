"""Bad input through the real CLI: one clear line on stderr naming the thing, the right exit code
(2 bad input, 1 checked/failed, 3 a bug), no traceback, nothing half-written.

A small lab on the local transport with a real restic repository (one real snapshot); the cases that
break the repository (password, lock, missing repository) work on a copy. restic-missing-from-PATH
runs the CLI as a subprocess.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from homelab_kit.cli import main
from tests.restic_repos import copy_repo, make_tree, template_for

LAB = """\
[lab]
name = "t"
domain = "home.test"
{extra}

[hosts.box]
transport = "local"
roles = ["server"]

[services.app]
host = "box"
port = 8080
state_dirs = ["hosts/box/var/lib/app"]

[backups.nightly]
host = "box"
repository = "r/repo"
password_file = "r/password"
covers = ["box"]
schedule = "daily"
keep = {{ daily = 3 }}
"""


@pytest.fixture(scope="module")
def lab_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """lab.toml + a real restic repository with one snapshot of the app's state dir."""
    restic = shutil.which("restic")
    if not restic:
        pytest.fail("restic not on PATH: run `make test` (it installs restic)")
    root = tmp_path_factory.mktemp("badinput") / "lab"
    copy_repo(template_for(restic, tmp_path_factory.getbasetemp()), root / "r")
    make_tree(root / "hosts/box/var/lib/app", {"db.sqlite3": b"d" * 3000, "conf/app.ini": "a=1\n"})
    (root / "lab.toml").write_text(LAB.format(extra=""))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RESTIC_CACHE_DIR", str(root.parent / "cache"))
        from homelab_kit.backups import analysis as backups
        from homelab_kit.lab.model import load_lab

        backups.run_backup(load_lab(root / "lab.toml"), "nightly")
    return root


@pytest.fixture
def lab_copy(lab_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy to break (relative paths in lab.toml follow it)."""
    dest = tmp_path / "lab"
    shutil.copytree(lab_dir, dest)
    monkeypatch.setenv("RESTIC_CACHE_DIR", str(tmp_path / "cache"))
    return dest


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], str]:
    """Run main() in-process: (exit code, non-empty stderr lines, stdout)."""
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse's usage errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, [line for line in err.splitlines() if line.strip()], out


def assert_one_line(lines: list[str], *needles: str) -> None:
    assert "Traceback" not in "\n".join(lines)
    assert len(lines) == 1, lines
    assert lines[0].startswith("homelab-kit"), lines
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


# (case id, argv after --lab LAB, exit code, what the one line must name)
CASES = [
    ("backup typo", ["backups", "snapshots", "--backup", "nightli", "--json"], 2,
     ['"nightli"', 'did you mean "nightly"']),
    ("backup selector matches nothing", ["backups", "freshness", "--backup", "zzz*", "--json"], 2,
     ['"zzz*"', "matches no backup", "nightly"]),
    ("host selector typo", ["run", "--on", "bx", "--", "true"], 2, ['did you mean "box"']),
    ("facts selector typo", ["facts", "--on", "bxo", "--json", "--no-record"], 2,
     ['did you mean "box"']),
    ("keyscan host typo", ["hosts", "keyscan", "bx"], 2, ['no host "bx"', 'did you mean "box"']),
    ("restore-test backup typo", ["restore-test", "--backup", "nigthly", "--json"], 2,
     ['did you mean "nightly"']),
    ("verify-restore backup typo",
     ["verify-restore", "--backup", "nigthly", "--snapshot", "latest", "--target", "/tmp"], 2,
     ['did you mean "nightly"']),
    ("migrate service typo", ["migrate", "plan", "ap"], 2, ['no service "ap"', 'did you mean "app"']),
    ("migrate without migrate_from", ["migrate", "plan", "app"], 2,
     ["services.app", "migrate_from", "import compose"]),
    ("deploy services typo", ["deploy", "--services", "apq"], 2, ['did you mean "app"']),
    ("journal kind typo", ["journal", "--kind", "deplyo"], 2, ['"deplyo"', 'did you mean "deploy"']),
    ("deploy action typo", ["deploy", "--action", "swtich"], 2,
     ["--action", 'did you mean "switch"']),
    ("snapshot that does not exist",
     ["restore-test", "--backup", "nightly", "--snapshot", "deadbeef", "--json"], 2,
     ["deadbeef", "restic snapshots"]),
    ("--horizon abc", ["capacity", "--horizon", "abc"], 2, ["--horizon", '"abc"']),
    ("--horizon 0d", ["capacity", "--horizon", "0d"], 2, ["--horizon", "> 0"]),
    ("--content sample:500%", ["restore-test", "--content", "sample:500%"], 2,
     ["--content", "100%"]),
    ("--keep-daily -5", ["backups", "forget-plan", "--keep-daily", "-5"], 2,
     ["--keep-daily", '"-5"', "-1 for unlimited"]),
    ("--keep-within abc", ["backups", "forget-plan", "--keep-within", "abc"], 2, ['"abc"', "30d"]),
    ("--max-fail 150%", ["deploy", "--max-fail", "150%"], 2, ["--max-fail", '"150%"']),
    ("--parallel 0", ["run", "--parallel", "0", "--", "true"], 2, ["--parallel", '"0"']),
    ("--serial -2", ["deploy", "--serial", "-2"], 2, ["--serial", '"-2"']),
    ("--timeout -1", ["run", "--timeout", "-1", "--", "true"], 2, ["--timeout", '"-1"']),
    ("facts --parallel 0", ["facts", "--parallel", "0"], 2, ["--parallel"]),
    ("journal --limit -5", ["journal", "--limit", "-5"], 2, ["--limit", '"-5"']),
    ("coverage --drop 5", ["backups", "coverage", "--drop", "5"], 2, ["--drop", '"5"']),
    ("--now yesterday", ["backups", "freshness", "--now", "yesterday"], 2,
     ["--now", '"yesterday"']),
    ("capacity --now yesterday", ["capacity", "--now", "yesterday"], 2, ["--now"]),
    ("restore into /etc", ["restore-test", "--backup", "nightly", "--target", "/etc", "--json"], 2,
     ["/etc"]),
    ("-p without =", ["notebooks", "run", "-p", "nokeyvalue", "00_inventory"], 2,
     ["-p nokeyvalue", "KEY=VALUE"]),
    ("notebook name typo", ["notebooks", "run", "00_inventori"], 2, ['"00_inventori"', "known:"]),
    ("import compose: no such file", ["import", "compose", "/nonexistent/compose.yml"], 2,
     ["/nonexistent/compose.yml", "cannot read"]),
    ("import compose: a directory", ["import", "compose", "/tmp"], 2, ["/tmp", "cannot read"]),
    ("--out in /proc", ["export", "prometheus", "--out", "/proc/homelab-x"], 2,
     ["/proc/homelab-x", "writable"]),
    ("notebooks --out in /proc", ["notebooks", "run", "--out", "/proc/x", "00_inventory"], 2,
     ["/proc/x", "notebook run records"]),
    ("no command for run", ["run"], 2, ["no command given"]),
    ("subcommand typo", ["backups", "snapshot"], 2, ['"snapshot"', 'did you mean "snapshots"']),
    ("unknown option", ["inventory", "--jsno"], 2, ["unrecognized arguments: --jsno"]),
    ("check host typo", ["check", "--on", "bxo", "--no-notify"], 2, ['did you mean "box"']),
    ("check --now yesterday", ["check", "--now", "yesterday"], 2, ["--now", '"yesterday"']),
    ("schedule kind typo", ["schedule", "sytemd"], 2, ['"sytemd"', 'did you mean "systemd"']),
    ("schedule --program missing", ["schedule", "cron", "--program", "/nonexistent/hk"], 2,
     ["--program", "/nonexistent/hk"]),
    ("schedule --out in /proc", ["schedule", "systemd", "--out", "/proc/units"], 2,
     ["/proc/units"]),
    ("notify test without URLs", ["notify", "test"], 2, ["notify", "urls"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("argv", "code", "needles"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input_table(
    lab_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    code: int,
    needles: list[str],
) -> None:
    monkeypatch.setenv("RESTIC_CACHE_DIR", str(lab_dir.parent / "cache"))
    got, lines, _ = cli(capsys, "--lab", str(lab_dir / "lab.toml"), *argv)
    assert got == code, lines
    assert_one_line(lines, *needles)


@pytest.mark.parametrize(
    ("content", "needles"),
    [
        (None, ["nope.toml", "no such lab file", "--lab"]),
        ("dir", ["is a folder", "lab.toml"]),
        ("this is [ not toml\n", ["invalid TOML", "line 1"]),
        ('[lab]\nname = "x"\n[hosts.a]\nport = "twenty"\n', ["hosts.a.port", '"twenty"']),
        ('[lab]\nname = "x"\n[hosts.a]\nadress = "1.2.3.4"\n', ['did you mean "address"']),
        (b"\xff\xfe\x00binary", ["not UTF-8"]),
    ],
    ids=["missing", "directory", "not-toml", "bad-field", "unknown-key", "binary"],
)
def test_bad_lab_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: object, needles: list[str]
) -> None:
    path = tmp_path / "nope.toml"
    if content == "dir":
        path = tmp_path
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(str(content))
    code, lines, _ = cli(capsys, "--lab", str(path), "inventory")
    assert code == 2
    assert lines and all(line.startswith("homelab-kit: ") for line in lines)
    assert "Traceback" not in "\n".join(lines)
    assert all(n in lines[0] for n in needles), lines


def test_journal_not_sqlite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "lab.toml").write_text(LAB.format(extra='journal = "j.sqlite"'))
    (tmp_path / "j.sqlite").write_text("not a database " * 100)
    code, lines, _ = cli(capsys, "--lab", str(tmp_path / "lab.toml"), "journal")
    assert code == 2
    assert_one_line(lines, "j.sqlite", "move it aside")
    assert (tmp_path / "j.sqlite").read_text().startswith("not a database")  # never overwritten


@pytest.mark.parametrize(
    "content", [b"", bytes(range(256)) * 4, b"- a\n- b\n", b"services: [a\n"],
    ids=["empty", "binary", "a-list", "bad-yaml"],
)  # fmt: skip
def test_import_compose_bad_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes
) -> None:
    path = tmp_path / "docker-compose.yml"
    path.write_bytes(content)
    code, lines, out = cli(
        capsys, "--lab", str(tmp_path / "none.toml"), "import", "compose", str(path)
    )
    assert code == 2 and out == ""
    assert_one_line(lines, str(path))


def test_import_compose_unknown_host_warns(
    lab_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    compose = tmp_path / "docker-compose.yml"
    compose.write_text("services:\n  web:\n    image: nginx\n    ports: ['8081:80']\n")
    code, lines, out = cli(
        capsys,
        "--lab",
        str(lab_dir / "lab.toml"),
        "import",
        "compose",
        str(compose),
        "--host",
        "bx",
    )
    assert code == 0 and "[services.web]" in out
    assert_one_line(lines, "warning", '--host "bx"', 'did you mean "box"')


def test_output_paths_leave_nothing_half_written(
    lab_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lab = str(lab_dir / "lab.toml")
    blocker = tmp_path / "a-file"
    blocker.write_text("keep me\n")
    code, lines, _ = cli(capsys, "--lab", lab, "export", "prometheus", "--out", str(blocker))
    assert code == 2
    assert_one_line(lines, str(blocker), "not a folder")
    code, lines, _ = cli(capsys, "--lab", lab, "export", "ansible", "--out", str(tmp_path))
    assert code == 2
    assert_one_line(lines, str(tmp_path), "is a folder")
    prom = blocker / "x.prom"  # a file where its folder should be
    code, lines, _ = cli(capsys, "--lab", lab, "backups", "freshness", "--prometheus", str(prom))
    assert code == 2
    assert_one_line(lines, str(blocker))
    assert blocker.read_text() == "keep me\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]  # no temporary files left
    # and a good path still works, replacing the file whole
    good = tmp_path / "inv.yml"
    assert cli(capsys, "--lab", lab, "export", "ansible", "--out", str(good))[0] == 0
    assert "box" in good.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "inv.yml"]


@pytest.mark.parametrize(
    ("breakage", "needles"),
    [
        ("password-missing", ["r/password", "password_file"]),
        ("password-wrong", ["wrong password", "password_file"]),
        ("password-empty", ["password_file"]),
        ("repository-missing", ["r/repo", "no repository there", "restic init"]),
    ],
)
def test_unreadable_repository(
    lab_copy: Path, capsys: pytest.CaptureFixture[str], breakage: str, needles: list[str]
) -> None:
    if breakage == "password-missing":
        (lab_copy / "r/password").unlink()
    elif breakage == "password-wrong":
        (lab_copy / "r/password").write_text("not the password\n")
    elif breakage == "password-empty":
        (lab_copy / "r/password").write_text("")
    else:
        shutil.rmtree(lab_copy / "r/repo")
    lab = str(lab_copy / "lab.toml")
    for argv in (
        ["backups", "snapshots", "--json"],
        ["backups", "freshness", "--json"],
        ["restore-test", "--backup", "nightly", "--json"],
    ):
        code, lines, out = cli(capsys, "--lab", lab, *argv)
        assert code == 1, (argv, lines)
        assert_one_line(lines, "box", *needles)
        assert out == ""
    assert not list((lab_copy / ".homelab-cache").glob("restore-tests/*"))  # no scratch left


def test_locked_repository(lab_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A real exclusive lock: `restic prune` takes it, then blocks reading a FIFO planted among
    the index files, so the lock is held for as long as the test needs."""
    repo = lab_copy / "r/repo"
    os.mkfifo(repo / "index" / ("f" * 64))
    env = {
        **os.environ,
        "RESTIC_REPOSITORY": str(repo),
        "RESTIC_PASSWORD_FILE": str(lab_copy / "r/password"),
    }
    holder = subprocess.Popen(
        ["restic", "prune", "--dry-run"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    target = lab_copy / "restored"
    try:
        deadline = time.monotonic() + 20
        while not any((repo / "locks").iterdir()):
            assert holder.poll() is None and time.monotonic() < deadline, "prune never locked"
            time.sleep(0.01)
        code, lines, _ = cli(
            capsys, "--lab", str(lab_copy / "lab.toml"), "restore-test", "--backup", "nightly",
            "--target", str(target), "--json",
        )  # fmt: skip
    finally:
        holder.kill()
        holder.wait()
    assert code == 1
    assert_one_line(lines, "locked", "restic unlock")
    assert not target.exists()  # nothing half-restored left behind


def test_restic_missing_from_path(lab_dir: Path, tmp_path: Path) -> None:
    """The installed entry point with PATH holding no restic: one line, install hint, exit 1."""
    env = {
        **os.environ,
        "PATH": str(tmp_path),
        "HOMELAB_LAB": str(lab_dir / "lab.toml"),
        "RESTIC_CACHE_DIR": str(tmp_path / "cache"),
    }
    code = "from homelab_kit.cli import run; run()"
    proc = subprocess.run(
        [sys.executable, "-c", code, "backups", "snapshots", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1, proc.stderr
    assert_one_line(proc.stderr.splitlines(), "restic not found", "apt install restic")
    assert proc.stdout == ""


def test_unexpected_error_is_one_line_unless_debugging(
    lab_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from homelab_kit.cli import inventory_cmd

    def broken(args: object, ctx: object) -> int:
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(inventory_cmd, "inventory", broken)
    monkeypatch.delenv("HOMELAB_DEBUG", raising=False)
    code, lines, _ = cli(capsys, "--lab", str(lab_dir / "lab.toml"), "inventory")
    assert code == 3
    assert_one_line(lines, "internal error: RuntimeError: boom", "HOMELAB_DEBUG=1")
    monkeypatch.setenv("HOMELAB_DEBUG", "1")
    code, lines, _ = cli(capsys, "--lab", str(lab_dir / "lab.toml"), "inventory")
    assert code == 3
    text = "\n".join(lines)
    assert "Traceback" in text and "RuntimeError: boom" in text


def test_deploy_action_choices_match_the_engine() -> None:
    from homelab_kit.cli.deploy_cmd import ACTIONS
    from homelab_kit.deploy.steps import ACTIONS as ENGINE_ACTIONS

    assert ACTIONS == ENGINE_ACTIONS
