"""Fan-out over real sshd test hosts: per-host results, fault classification, CLI `run`.

The fault test gives each test host its own `work` script on PATH (homelab_kit.testing puts the
host's bin dir first), so one argv behaves differently per host: healthy hosts echo, one hangs, one
is killed (sshd and its sessions SIGKILLed) while the command runs.
"""

from __future__ import annotations

import json
import threading
import time

import pytest

from homelab_kit.cli import main
from homelab_kit.errors import ExecError
from homelab_kit.lab.model import Lab
from homelab_kit.testing import free_port, keygen, start_ssh_hosts
from homelab_kit.transport.fanout import STATUSES, HostResults, classify, run_on


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    with start_ssh_hosts(3, tmp_path_factory.mktemp("sshd"), prefix="f", first=40) as f:
        for h in f:
            h.add_script("work", 'echo "done on $HOMELAB_TEST_HOST"')
        yield f


@pytest.fixture(scope="module")
def lab(fleet, tmp_path_factory):
    root = tmp_path_factory.mktemp("lab")
    doc = fleet.lab_dict()
    doc["hosts"]["f1"]["roles"] = ["server"]
    doc["hosts"]["f2"]["roles"] = ["server"]
    return Lab.from_dict(doc, path=root / "lab.toml")


def test_every_selected_host_gets_its_own_buffered_result(lab):
    res = lab.run(
        ["sh", "-c", 'for i in 1 2 3; do echo "$HOMELAB_TEST_HOST $i"; sleep 0.05; done'],
        progress=False,
    )
    assert isinstance(res, HostResults)
    assert list(res) == ["f1", "f2", "f3"]
    for name, r in res.items():
        assert r.status == "ok" and r.exit_code == 0
        assert r.stdout == "".join(f"{name} {i}\n" for i in (1, 2, 3))  # never interleaved
    assert res.ok and res.raise_on_failure() is res


def test_selector_and_parallel_one(lab):
    res = run_on(lab, ["work"], on="@server", parallel=1, progress=False)
    assert list(res) == ["f1", "f2"]
    assert [r.stdout for r in res.values()] == ["done on f1\n", "done on f2\n"]


def test_hostile_argv_arrives_literally_on_every_host(lab, tmp_path):
    pwned = tmp_path / "pwned"
    hostile = [f"x; touch {pwned}", f"$(touch {pwned})", "$(id)"]
    res = lab.run(["printf", "%s|", *hostile], progress=False)
    assert {r.stdout for r in res.values()} == {"|".join(hostile) + "|"}
    assert not pwned.exists()


def test_failure_frame_html_and_raise_on_failure(lab):
    res = lab.run(
        ["sh", "-c", 'test "$HOMELAB_TEST_HOST" != f2 || { echo broke >&2; exit 5; }'],
        progress=False,
    )
    assert res.statuses() == {"f1": "ok", "f2": "failed", "f3": "ok"}
    df = res.frame()
    assert list(df.columns) == list(HostResults.COLUMNS)
    assert df.set_index("host").loc["f2", "exit_code"] == 5
    assert "broke" in df.set_index("host").loc["f2", "stderr"]
    html = res._repr_html_()
    assert "f2" in html and "failed" in html and "broke" in html
    with pytest.raises(ExecError) as info:
        res.raise_on_failure()
    assert "1 of 3 hosts failed" in str(info.value) and "f2: failed (exit 5): broke" in str(
        info.value
    )
    assert info.value.results is res


def test_faults_are_classified_in_one_fan_out(fleet, tmp_path):
    """Healthy, killed mid-command, closed port, hang, wrong client key, changed host key — at once."""
    with start_ssh_hosts(3, tmp_path / "bad", prefix="bad", first=50) as bad:
        killed, hang, rotated = bad["bad1"], bad["bad2"], bad["bad3"]
        marker = tmp_path / "killed-started"
        killed.add_script("work", f"touch {marker}; sleep 30; echo survived")
        hang.add_script("work", "sleep 60; echo woke")
        rotated.add_script("work", "echo should never run")
        hosts = {**fleet.entries(), "killed": killed.entry(), "hang": hang.entry()}
        hosts["changed_key"] = rotated.entry()  # pinned now...
        rotated.rotate_host_key()  # ...and the host key changes afterwards
        hosts["closed_port"] = {
            **fleet["f1"].entry(),
            "address": "127.0.0.59",
            "port": free_port("127.0.0.59"),
        }
        hosts["wrong_key"] = {
            **fleet["f1"].entry(),
            "identity_file": str(keygen(tmp_path / "wrong")),
        }
        lab = Lab.from_dict({"lab": {"name": "faults"}, "hosts": hosts}, path=tmp_path / "lab.toml")

        def kill_when_started() -> None:
            deadline = time.monotonic() + 20
            while not marker.exists() and time.monotonic() < deadline:
                time.sleep(0.02)
            killed.kill()

        killer = threading.Thread(target=kill_when_started)
        killer.start()
        timeout = 3.0
        start = time.monotonic()
        res = lab.run(["work"], timeout=timeout, connect_timeout=3.0, progress=False)
        elapsed = time.monotonic() - start
        killer.join()

    assert marker.exists(), "the killed host had started the command"
    assert res.statuses() == {
        "f1": "ok",
        "f2": "ok",
        "f3": "ok",
        "killed": "unreachable",
        "hang": "timeout",
        "changed_key": "host_key_rejected",
        "closed_port": "unreachable",
        "wrong_key": "auth_failed",
    }
    assert res["f2"].stdout == "done on f2\n"
    assert "connection lost" in res["killed"].error
    assert "HOST KEY CHANGED" in res["changed_key"].error
    assert elapsed < timeout + 5, f"fan-out took {elapsed:.1f}s"  # the bound; generous
    with pytest.raises(ExecError) as info:
        res.raise_on_failure()
    for name in ("killed", "hang", "changed_key", "closed_port", "wrong_key"):
        assert f"  {name}: " in str(info.value)


def test_classify_covers_the_vocabulary():
    from homelab_kit.errors import AuthError, CommandTimeout, ConnectError, HostKeyError

    got = {
        classify(e("x"))
        for e in (HostKeyError, AuthError, ConnectError, CommandTimeout, RuntimeError)
    }
    assert got == set(STATUSES) - {"ok"}


def _write_lab(fleet, tmp_path, extra=None) -> str:
    import tomlkit

    doc = fleet.lab_dict()
    if extra:
        doc["hosts"].update(extra)
    path = tmp_path / "lab.toml"
    path.write_text(tomlkit.dumps(doc))
    return str(path)


def test_cli_run_json_and_exit_codes(fleet, tmp_path, capsys):
    lab = _write_lab(fleet, tmp_path)
    assert (
        main(["--lab", lab, "run", "--on", "f1,f3", "--json", "--", "printf", "%s", "$(id); x"])
        == 0
    )
    rows = json.loads(capsys.readouterr().out)
    assert [(r["host"], r["status"], r["stdout"]) for r in rows] == [
        ("f1", "ok", "$(id); x"),
        ("f3", "ok", "$(id); x"),
    ]
    assert set(rows[0]) >= {"host", "status", "exit_code", "stdout", "stderr", "duration"}
    assert main(["--lab", lab, "run", "--timeout", "0.5", "--", "sleep", "5"]) == 1
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:2] == ["HOST", "STATUS"]
    assert out.count("timeout") == 3
    assert main(["--lab", lab, "run"]) == 2
    assert "no command given" in capsys.readouterr().err


def test_cli_keyscan_prints_key_and_never_writes(fleet, tmp_path, capsys):
    t = fleet["f2"]
    entry = {k: v for k, v in t.entry().items() if k != "host_key"}
    lab = _write_lab(fleet, tmp_path, {"unpinned": entry})
    before = (tmp_path / "lab.toml").read_text()
    assert main(["--lab", lab, "hosts", "keyscan", "unpinned"]) == 0
    out = capsys.readouterr().out
    assert f'host_key = "{t.host_key}"' in out and "SHA256:" in out
    assert (tmp_path / "lab.toml").read_text() == before
    assert main(["--lab", lab, "hosts", "keyscan", "f2"]) == 0
    assert "matches" in capsys.readouterr().out
    lab = _write_lab(fleet, tmp_path, {"lying": {**entry, "host_key": fleet["f1"].host_key}})
    assert main(["--lab", lab, "hosts", "keyscan", "lying"]) == 1
    assert "WARNING" in capsys.readouterr().out
