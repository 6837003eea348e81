"""SshRunner against real OpenSSH sshd test hosts on loopback (homelab_kit.testing)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import paramiko
import pytest
from paramiko.common import cMSG_CHANNEL_EOF

from homelab_kit.errors import AuthError, CommandFailed, CommandTimeout, ConnectError, HostKeyError
from homelab_kit.lab.model import Host, Lab
from homelab_kit.testing import free_port, keygen, start_ssh_hosts
from homelab_kit.transport.hostkeys import fingerprint, keyscan, parse_host_key
from homelab_kit.transport.ssh import SshRunner


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    with start_ssh_hosts(3, tmp_path_factory.mktemp("sshd"), prefix="s", first=20) as f:
        yield f


@pytest.fixture(scope="module")
def lab(fleet, tmp_path_factory):
    root = tmp_path_factory.mktemp("lab")
    return Lab.from_dict(fleet.lab_dict(), path=root / "lab.toml")


@pytest.fixture
def runner(lab):
    with lab.runner("s1") as r:
        yield r


def host_of(fleet, name="s1", **changes) -> Host:
    t = fleet[name]
    base = Host(
        name=t.name, address=t.address, port=t.port, user=t.user, host_key=t.host_key,
        identity_file=t.client_key, connect_timeout=5.0,
    )  # fmt: skip
    return dataclasses.replace(base, **changes)


def test_lab_runner_is_ssh_runner_with_the_inventory_host(lab, fleet):
    r = lab.runner("s2")
    assert isinstance(r, SshRunner)
    assert r.host == "s2"
    assert r.spec.port == fleet["s2"].port


def test_hostile_argv_arrives_literally(runner, tmp_path):
    pwned = tmp_path / "pwned"
    hostile = [
        f"x; touch {pwned}",
        f"$(touch {pwned})",
        f"`touch {pwned}`",
        "a b",
        "'\"",
        "*",
        "$HOME",
    ]
    res = runner.run(["printf", "%s\\n", *hostile])
    assert res.ok
    assert res.stdout.splitlines() == hostile
    assert not pwned.exists()
    assert res.argv == ("printf", "%s\\n", *hostile)


def test_exit_code_and_stderr_are_kept_and_check_raises(runner):
    res = runner.run(["sh", "-c", "echo out; echo oops >&2; exit 3"])
    assert (res.exit_code, res.stdout, res.stderr) == (3, "out\n", "oops\n")
    with pytest.raises(CommandFailed) as info:
        res.check()
    assert "s1" in str(info.value) and "exited 3" in str(info.value) and "oops" in str(info.value)
    assert info.value.result is res


def test_missing_binary_is_exit_127(runner):
    assert runner.run(["no-such-binary-here"]).exit_code == 127


def test_env_cwd_and_stdin(runner, tmp_path):
    res = runner.run(
        ["sh", "-c", 'echo "$GREETING"; pwd'], env={"GREETING": "hi $(id) ;"}, cwd=str(tmp_path)
    )
    assert res.stdout.splitlines() == ["hi $(id) ;", str(tmp_path)]
    assert runner.run(["cat"], stdin=b"\x00binary\xff").stdout == "\x00binary\ufffd"
    with pytest.raises(ValueError):
        runner.run(["true"], env={"BAD NAME": "x"})


def test_timeout_raises_command_timeout(runner):
    with pytest.raises(CommandTimeout, match="did not finish within 0.5s"):
        runner.run(["sleep", "20"], timeout=0.5)
    assert runner.run(["echo", "still usable"]).stdout == "still usable\n"


def test_timed_out_command_is_killed_on_the_host_with_its_children(fleet, runner):
    """Root logins refuse SSH "signal" requests, so the runner kills the reported process group."""
    fleet["s1"].add_script("slowjob", "sleep 41.25; echo late")
    with pytest.raises(CommandTimeout):
        runner.run(["slowjob"], timeout=0.5)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _running("sleep 41.25"):
        time.sleep(0.05)
    assert not _running("sleep 41.25")


def _running(cmdline: str) -> bool:
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if (p / "cmdline").read_bytes().replace(b"\0", b" ").strip() == cmdline.encode():
                    return True
            except OSError:
                pass
    return False


def test_stream_yields_stdout_and_raises_after_failure(runner):
    with runner.stream(["seq", "1", "20000"]) as out:
        lines = out.read().decode().splitlines()
    assert lines[0] == "1" and lines[-1] == "20000"
    with (
        pytest.raises(CommandFailed, match="exited 4"),
        runner.stream(["sh", "-c", "echo part; exit 4"]) as out,
    ):
        assert out.read() == b"part\n"


def test_put_and_get_copy_files(runner, tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(bytes(range(256)) * 100)
    runner.put(src, str(tmp_path / "remote.bin"))
    runner.get(str(tmp_path / "remote.bin"), tmp_path / "back.bin")
    assert (tmp_path / "back.bin").read_bytes() == src.read_bytes()


def test_unknown_host_key_is_refused_with_fingerprint_and_line(fleet, tmp_path):
    known = tmp_path / "known_hosts"
    runner = SshRunner(host_of(fleet, host_key=None), known_hosts=known)
    with pytest.raises(HostKeyError) as info:
        runner.run(["true"])
    pub = fleet["s1"].host_key_path.with_suffix(".pub")
    real_fp = subprocess.run(
        ["ssh-keygen", "-lf", str(pub)], capture_output=True, text=True
    ).stdout.split()[1]
    msg = str(info.value)
    assert "unknown host key ssh-ed25519" in msg and real_fp in msg
    assert f'host_key = "{fleet["s1"].host_key}"' in msg
    assert info.value.fingerprint == real_fp
    assert not known.exists(), "a refused key must never be written (no AutoAddPolicy)"


def test_known_hosts_entry_is_trusted(fleet, tmp_path):
    t = fleet["s1"]
    known = tmp_path / "known_hosts"
    known.write_text(f"[{t.address}]:{t.port} {t.host_key}\n")
    with SshRunner(host_of(fleet, host_key=None), known_hosts=known) as r:
        assert r.run(["echo", "ok"]).stdout == "ok\n"
    assert known.read_text() == f"[{t.address}]:{t.port} {t.host_key}\n"


def test_known_hosts_mismatch_is_refused_loudly(fleet, tmp_path):
    t, other = fleet["s1"], fleet["s2"]
    known = tmp_path / "known_hosts"
    known.write_text(f"[{t.address}]:{t.port} {other.host_key}\n")
    with pytest.raises(HostKeyError, match="HOST KEY CHANGED") as info:
        SshRunner(host_of(fleet, host_key=None), known_hosts=known).run(["true"])
    assert str(known) in str(info.value)


def test_pinned_key_wins_over_known_hosts(fleet, tmp_path):
    t, other = fleet["s1"], fleet["s2"]
    known = tmp_path / "known_hosts"
    known.write_text(f"[{t.address}]:{t.port} {t.host_key}\n")  # known_hosts would accept it...
    with pytest.raises(HostKeyError, match="HOST KEY CHANGED"):  # ...but the pin says otherwise
        SshRunner(host_of(fleet, host_key=other.host_key), known_hosts=known).run(["true"])


def test_rotated_host_key_is_rejected(tmp_path):
    with start_ssh_hosts(1, tmp_path / "rot", prefix="rot", first=29) as f:
        t = f["rot1"]
        host = Host(
            name="rot1",
            address=t.address,
            port=t.port,
            user=t.user,
            host_key=t.host_key,
            identity_file=t.client_key,
        )
        assert SshRunner(host).run(["true"]).ok
        old = t.host_key
        new = t.rotate_host_key()
        assert new != old
        with pytest.raises(HostKeyError) as info:
            SshRunner(host).run(["true"])
        assert fingerprint(parse_host_key(new)) in str(info.value)
        assert f'host_key = "{new}"' in str(info.value)


def test_wrong_client_key_is_auth_error(fleet, tmp_path):
    wrong = keygen(tmp_path / "wrong_key")
    with pytest.raises(AuthError, match="refused our key"):
        SshRunner(host_of(fleet, identity_file=wrong)).run(["true"])
    with pytest.raises(AuthError, match="does not exist"):
        SshRunner(host_of(fleet, identity_file=tmp_path / "nope")).run(["true"])


def test_closed_port_is_connect_error():
    host = Host(
        name="gone", address="127.0.0.31", port=free_port("127.0.0.31"), connect_timeout=2.0
    )
    with pytest.raises(ConnectError, match="cannot connect") as info:
        SshRunner(host).run(["true"])
    assert not isinstance(info.value, (AuthError, HostKeyError))


def test_bad_pinned_key_is_an_inventory_error(fleet):
    from homelab_kit.errors import InventoryError

    with pytest.raises(InventoryError, match="hosts.s1.host_key"):
        SshRunner(host_of(fleet, host_key="ssh-ed25519 not-base64!")).run(["true"])


def test_keyscan_returns_the_real_key(fleet):
    t = fleet["s3"]
    keys = keyscan(t.address, t.port, timeout=5)
    assert [k.line for k in keys] == [t.host_key]
    pub = t.host_key_path.with_suffix(".pub")
    real_fp = subprocess.run(
        ["ssh-keygen", "-lf", str(pub)], capture_output=True, text=True
    ).stdout.split()[1]
    assert keys[0].fingerprint == real_fp


def test_testing_entries_load_as_a_lab(fleet, tmp_path):
    import tomlkit

    doc = fleet.lab_dict()
    (tmp_path / "lab.toml").write_text(tomlkit.dumps(doc))
    from homelab_kit.lab.model import load_lab

    lab = load_lab(tmp_path / "lab.toml")
    assert sorted(lab.hosts) == ["s1", "s2", "s3"]
    assert lab.hosts["s3"].identity_file == Path(fleet.client_key)
    assert lab.runner("s3").run(["sh", "-c", "echo $HOMELAB_TEST_HOST"]).stdout == "s3\n"


# -- many commands on one connection under load (the flaky facts test) -------------------------


@pytest.fixture
def cpu_load():
    """Two busy-looping processes: the loaded 2-core machine the facts test lost output on."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    yield
    for p in procs:
        p.kill()
        p.wait()


def _descheduled_after_empty_poll(monkeypatch):
    """After paramiko says "nothing buffered", the reader thread loses the CPU for 2 ms.

    That is what a loaded machine does at random; doing it every time makes the race
    (output + EOF arriving between the reader's poll and its "has it ended?" check) reproducible.
    """
    for name in ("recv_ready", "recv_stderr_ready"):
        real = getattr(paramiko.Channel, name)

        def slow(self, _real=real):
            ready = _real(self)
            if not ready:
                time.sleep(0.002)
            return ready

        monkeypatch.setattr(paramiko.Channel, name, slow)


def _expected(i: int) -> tuple[list[str], str, str]:
    """Every 3rd command prints ~60 KB on stdout and ~15 KB on stderr (many packets)."""
    if i % 3 == 0:
        n = 10_000 + i
        script = f"seq 1 {n}; seq 1 {n // 4} >&2"
        return (
            script,
            "".join(f"{k}\n" for k in range(1, n + 1)),
            "".join(f"{k}\n" for k in range(1, n // 4 + 1)),
        )
    return f"echo out{i}; echo err{i} >&2", f"out{i}\n", f"err{i}\n"


def test_concurrent_commands_on_one_connection_lose_no_output_under_load(
    runner, monkeypatch, cpu_load
):
    _descheduled_after_empty_poll(monkeypatch)
    runner.run(["true"])  # one connection, shared by every command below

    def one(i: int) -> str | None:
        script, out, err = _expected(i)
        res = runner.run(["sh", "-c", script], timeout=None if i % 2 else 30)
        if (res.exit_code, res.stdout, res.stderr) == (0, out, err):
            return None
        return f"#{i}: exit {res.exit_code}, stdout {len(res.stdout)}/{len(out)} B, stderr {len(res.stderr)}/{len(err)} B"

    with ThreadPoolExecutor(8) as pool:
        bad = [b for b in pool.map(one, range(240)) if b]
    assert not bad, f"{len(bad)}/240 commands lost output: {bad[:5]}"


def test_eof_never_follows_close_so_the_shared_connection_survives(runner, monkeypatch):
    """Our EOF delayed 50 ms (a descheduled thread) must still reach sshd before our CLOSE.

    Otherwise sshd drops the whole connection ("ieof packet referred to nonexistent channel")
    and every command sharing it fails.
    """
    real = paramiko.Transport._send_user_message

    def late_eof(self, data):
        if threading.current_thread() is not self and data.asbytes()[:1] == cMSG_CHANNEL_EOF:
            time.sleep(0.05)
        return real(self, data)

    monkeypatch.setattr(paramiko.Transport, "_send_user_message", late_eof)
    conn = runner.connection()
    with ThreadPoolExecutor(4) as pool:
        slow = pool.submit(runner.run, ["sh", "-c", "sleep 1; echo slow"])
        fast = list(pool.map(lambda i: runner.run(["echo", str(i)]).stdout, range(12)))
        assert slow.result().stdout == "slow\n"
    assert fast == [f"{i}\n" for i in range(12)]
    assert runner.connection() is conn and conn.transport.is_active()
