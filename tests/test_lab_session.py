"""A Lab session owns one SSH connection per host (real sshd test hosts on loopback).

Connections are counted where they really are: sshd's own log ("Accepted publickey" once per
connection) and this process's established TCP sockets (/proc/self/net/tcp + /proc/self/fd).
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import textwrap
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import tomlkit

from homelab_kit.cli import main
from homelab_kit.lab.model import Lab, load_lab
from homelab_kit.testing import SshTestFleet, open_connections, start_ssh_hosts
from homelab_kit.transport.ssh import MAX_CHANNELS


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    with start_ssh_hosts(3, tmp_path_factory.mktemp("sshd"), prefix="ls", first=60) as f:
        yield f


@pytest.fixture
def lab_file(fleet, tmp_path) -> Path:
    path = tmp_path / "lab.toml"
    path.write_text(tomlkit.dumps(fleet.lab_dict()))
    return path


def accepted(fleet: SshTestFleet) -> dict[str, int]:
    """Connections each sshd has accepted so far, from its own log."""
    return {h.name: h.log_path.read_text().count("Accepted publickey") for h in fleet}


def ports(fleet: SshTestFleet) -> set[int]:
    return {h.port for h in fleet}


def test_one_connection_per_host_reused_by_every_call(fleet, lab_file):
    before = accepted(fleet)
    with load_lab(lab_file) as lab:
        assert lab.runner("ls1") is lab.runner("ls1") is lab.runner(lab.hosts["ls1"])
        for i in range(3):
            res = lab.run(["echo", str(i)], progress=False)
            assert {r.stdout for r in res.values()} == {f"{i}\n"}
        facts = lab.facts(progress=False, record=False)  # facts ride the same connections
        assert list(facts["status"]) == ["ok", "ok", "ok"]
        assert lab.runner("ls2").run(["true"]).ok
        assert open_connections(ports(fleet)) == 3
    assert {h: n - before[h] for h, n in accepted(fleet).items()} == {"ls1": 1, "ls2": 1, "ls3": 1}
    assert open_connections(ports(fleet)) == 0  # closed with the session


def test_closed_lab_reconnects_when_used_again(fleet, lab_file):
    lab = load_lab(lab_file)
    assert lab.run(["true"], on="ls1", progress=False).ok
    lab.close()
    assert open_connections(ports(fleet)) == 0
    assert lab.run(["true"], on="ls1", progress=False).ok
    assert open_connections(ports(fleet)) == 1
    lab.close()


def test_threads_share_one_connection_per_host(fleet, lab_file):
    """Many threads ask a fresh session for the same hosts at once: one connect each, no mix-up."""
    before = accepted(fleet)
    with load_lab(lab_file) as lab, ThreadPoolExecutor(12) as pool:
        start = threading.Barrier(12)

        def one(i: int) -> dict[str, str]:
            start.wait()
            res = lab.run(["sh", "-c", f'echo "$HOMELAB_TEST_HOST {i}"'], progress=False)
            return {h: r.stdout for h, r in res.items()}

        outputs = list(pool.map(one, range(12)))
    assert outputs == [{h: f"{h} {i}\n" for h in ("ls1", "ls2", "ls3")} for i in range(12)]
    assert {h: n - before[h] for h, n in accepted(fleet).items()} == {"ls1": 1, "ls2": 1, "ls3": 1}


def test_more_commands_at_once_than_sshd_allows_sessions(tmp_path):
    """sshd's default MaxSessions (10) caps channels per connection; extra commands wait their turn."""
    with start_ssh_hosts(1, tmp_path / "sshd", prefix="cap", first=64) as fleet:
        host = fleet["cap1"]
        host.sshd_options = "MaxSessions 10\nLogLevel DEBUG1"
        host.stop()
        host.start()
        with Lab.from_dict(fleet.lab_dict(), path=tmp_path / "lab.toml") as lab:
            runner = lab.runner("cap1")
            with ThreadPoolExecutor(3 * MAX_CHANNELS) as pool:
                results = list(
                    pool.map(lambda i: runner.run(["sh", "-c", f"sleep 0.3; echo {i}"]), range(24))
                )
        assert [r.stdout for r in results] == [f"{i}\n" for i in range(24)]
        assert accepted(fleet) == {"cap1": 1}


def test_killed_and_restarted_host_is_reconnected_transparently(tmp_path):
    with start_ssh_hosts(1, tmp_path / "sshd", prefix="rs", first=65) as fleet:
        host = fleet["rs1"]
        with Lab.from_dict(fleet.lab_dict(), path=tmp_path / "lab.toml") as lab:
            runner = lab.runner("rs1")
            assert runner.run(["true"]).ok
            first = runner.connection()
            host.kill()  # sshd and the session below it die; the port stays ours
            assert lab.run(["true"], progress=False).statuses() == {"rs1": "unreachable"}
            host.start()
            res = lab.run(["echo", "back"], progress=False)
            assert res["rs1"].stdout == "back\n"
            assert lab.runner("rs1") is runner and runner.connection() is not first
        assert accepted(fleet) == {"rs1": 2}


def test_a_connection_that_still_looks_alive_is_reopened_before_the_command(tmp_path):
    """paramiko's reader thread can lag behind a dead socket; opening the channel then fails.

    The lag is forced (the dead transport is marked active again); sshd, its death and the
    reconnect are real. The command runs exactly once, on the new connection.
    """
    with start_ssh_hosts(1, tmp_path / "sshd", prefix="st", first=66) as fleet:
        host = fleet["st1"]
        marker = tmp_path / "ran"
        with Lab.from_dict(fleet.lab_dict(), path=tmp_path / "lab.toml") as lab:
            runner = lab.runner("st1")
            assert runner.run(["true"]).ok
            stale = runner.connection().transport
            host.kill()
            host.start()
            stale.join(10)  # the reader thread has seen the EOF and closed the socket...
            stale.active = True  # ...but the runner does not know it yet
            tried = []
            real_open = stale.open_session
            stale.open_session = lambda *a, **k: tried.append(1) or real_open(*a, **k)
            res = runner.run(["sh", "-c", f"echo x >> {marker}; echo ok"])
            assert runner.connection().transport is not stale
        assert res.stdout == "ok\n" and tried == [1]
        assert marker.read_text() == "x\n"
        assert accepted(fleet) == {"st1": 2}


def test_rejected_host_key_is_checked_again_on_every_call(tmp_path):
    """A changed key is refused each time (nothing cached as good); the pinned key back works."""
    with start_ssh_hosts(1, tmp_path / "sshd", prefix="hk", first=67) as fleet:
        host = fleet["hk1"]
        pinned = (
            host.host_key_path.read_bytes(),
            host.host_key_path.with_suffix(".pub").read_bytes(),
        )
        with Lab.from_dict(fleet.lab_dict(), path=tmp_path / "lab.toml") as lab:
            assert lab.run(["true"], progress=False).ok
            host.rotate_host_key()  # drops the connection; the host comes back with a new key
            for _ in range(2):
                res = lab.run(["true"], progress=False)
                assert res.statuses() == {"hk1": "host_key_rejected"}
                assert "HOST KEY CHANGED" in res["hk1"].error
            assert open_connections(ports(fleet)) == 0
            host.stop()  # the host restored with its pinned key: the same session connects again
            host.host_key_path.write_bytes(pinned[0])
            host.host_key_path.with_suffix(".pub").write_bytes(pinned[1])
            host.start()
            assert lab.run(["echo", "same key"], progress=False)["hk1"].stdout == "same key\n"


def test_refused_client_key_is_tried_again_on_every_call(tmp_path):
    with start_ssh_hosts(1, tmp_path / "sshd", prefix="au", first=68) as fleet:
        host = fleet["au1"]
        authorized = host.directory / "authorized_keys"
        with Lab.from_dict(fleet.lab_dict(), path=tmp_path / "lab.toml") as lab:
            assert lab.run(["true"], progress=False).ok
            keys = authorized.read_text()
            host.kill()  # the connection dropped...
            host.start()
            authorized.write_text("")  # ...and our key revoked
            for _ in range(2):
                assert lab.run(["true"], progress=False).statuses() == {"au1": "auth_failed"}
            authorized.write_text(keys)
            assert lab.run(["echo", "let in"], progress=False)["au1"].stdout == "let in\n"


def test_dropped_lab_closes_its_connections(fleet, lab_file):
    lab = load_lab(lab_file)
    assert lab.run(["true"], progress=False).ok
    transports = [lab.runner(h).connection().transport for h in lab.hosts]
    del lab
    gc.collect()
    assert not any(t.is_active() for t in transports)
    assert open_connections(ports(fleet)) == 0


def test_exit_without_close_leaves_no_socket_and_does_not_hang(fleet, lab_file, tmp_path):
    """A script that never closes its lab: connections are closed at exit, and exit is prompt."""
    script = tmp_path / "script.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import atexit, sys
            PORTS = {sorted(ports(fleet))!r}
            # registered first, so it runs last: after the finalizers that close the connections
            atexit.register(lambda: print("at exit:", open_connections(PORTS), flush=True))
            from homelab_kit.lab.model import load_lab
            from homelab_kit.testing import open_connections
            lab = load_lab(sys.argv[1])
            assert lab.run(["true"], progress=False).ok
            print("running:", open_connections(PORTS), flush=True)
            """
        )
    )
    done = subprocess.run(
        [sys.executable, str(script), str(lab_file)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "HOMELAB_NO_PROGRESS": "1"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["running: 3", "at exit: 0"]
    assert done.stderr == ""


def test_cli_closes_the_lab_at_the_end_of_a_command(fleet, lab_file, capsys):
    assert main(["--lab", str(lab_file), "run", "--on", "all", "true"]) == 0
    assert open_connections(ports(fleet)) == 0
