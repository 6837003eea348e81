"""FakeRunner (homelab_kit.testing): scripted answers, recorded calls, loud on the unexpected.

Pure: nothing here runs a command. FakeRunner exists for step-builder tests only; the rest of the
suite drives real parts.
"""

from __future__ import annotations

import pytest

from homelab_kit.errors import CommandFailed, CommandTimeout
from homelab_kit.testing import Call, FakeRunner
from homelab_kit.transport.runner import Result, Runner


def test_is_a_runner_and_answers_every_form():
    fake = FakeRunner(
        "n100",
        {
            ("true",): 0,
            ("false",): 1,
            ("cat", "/etc/hostname"): "n100\n",
            ("sh", "-c", "echo err >&2; exit 3"): (3, "", "err\n"),
            ("id", "-u", "web"): (0, "990\n"),
            ("given",): Result("elsewhere", ("given",), 5, "o", "e", 1.5),
        },
    )
    assert isinstance(fake, Runner)
    assert fake.run(["true"]).ok and fake.run(["false"]).exit_code == 1
    r = fake.run(["cat", "/etc/hostname"])
    assert (r.host, r.argv, r.exit_code, r.stdout) == (
        "n100",
        ("cat", "/etc/hostname"),
        0,
        "n100\n",
    )
    r = fake.run(["sh", "-c", "echo err >&2; exit 3"])
    assert (r.exit_code, r.stderr) == (3, "err\n")
    assert fake.run(("id", "-u", "web")).stdout == "990\n"
    assert fake.run(["given"]).host == "elsewhere"  # a Result is returned as it is
    assert fake.run(["true"]).ok  # a mapping answers every time


def test_records_every_call_with_its_options():
    fake = FakeRunner("box", {("systemctl", "start", "web.service"): 0})
    fake.run(
        ["systemctl", "start", "web.service"],
        sudo=True,
        env={"A": "1"},
        cwd="/srv",
        timeout=5,
        stdin="x",
    )
    fake.put("/tmp/local", "/remote")
    fake.get("/remote", "/tmp/back")
    assert fake.calls == [
        Call(("systemctl", "start", "web.service"), "run", True, {"A": "1"}, "/srv", 5, "x"),
        Call(("/tmp/local", "/remote"), "put"),
        Call(("/remote", "/tmp/back"), "get"),
    ]
    assert fake.argvs == [("systemctl", "start", "web.service")]


def test_unexpected_command_fails_loudly_naming_the_argv():
    fake = FakeRunner("n100", {("test", "-d", "/var/lib/web"): 0})
    with pytest.raises(AssertionError) as err:
        fake.run(["rm", "-rf", "/var/lib/web"])
    msg = str(err.value)
    assert "n100: unexpected command `rm -rf /var/lib/web`" in msg
    assert "('rm', '-rf', '/var/lib/web')" in msg and "test -d /var/lib/web" in msg
    assert fake.argvs == [("rm", "-rf", "/var/lib/web")]  # recorded even so
    # an argument that differs is a different command
    with pytest.raises(AssertionError, match="unexpected command `test -d /var/lib/web/`"):
        fake.run(["test", "-d", "/var/lib/web/"])


def test_queued_answers_are_used_once_in_turn():
    post = ["test", "-e", "/srv/done"]
    fake = FakeRunner("h", [(post, 1), (["touch", "/srv/done"], 0), (post, 0), (post, 0)])
    assert [fake.run(post).exit_code, fake.run(["touch", "/srv/done"]).exit_code] == [1, 0]
    assert fake.run(post).ok
    assert fake.unused == [(tuple(post), 0)]
    fake.run(post)
    assert fake.unused == []
    with pytest.raises(AssertionError, match="all its queued answers were used"):
        fake.run(post)
    # once() answers come before a standing always() answer
    fake.always(post, 7).once(post, 0)
    assert [fake.run(post).exit_code, fake.run(post).exit_code] == [0, 7]


def test_exceptions_are_raised_and_stream_checks_afterwards():
    fake = FakeRunner(
        "h",
        {
            ("sleep", "60"): CommandTimeout("h: `sleep 60` did not finish within 1s"),
            ("restic", "dump"): "file contents",
            ("restic", "ls"): (1, "partial", "repository is locked"),
        },
    )
    with pytest.raises(CommandTimeout, match="did not finish"):
        fake.run(["sleep", "60"], timeout=1)
    with fake.stream(["restic", "dump"]) as out:
        assert out.read() == b"file contents"
    seen = []
    with (
        pytest.raises(CommandFailed, match="repository is locked"),
        fake.stream(["restic", "ls"]) as out,
    ):
        seen.append(out.read())
    assert seen == [b"partial"]  # the output is there; the failure comes after the block
    assert [c.kind for c in fake.calls] == ["run", "stream", "stream"]
    with pytest.raises(TypeError, match="not an answer"):
        FakeRunner("h", {("x",): True}).run(["x"])
