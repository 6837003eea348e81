"""`homelab-kit check` end to end: a real restic repository, the real CLI, a real HTTP receiver.

The receiver (tests/watch_helpers.py) plays apprise's `json://` endpoint and a healthchecks-style
ping server on 127.0.0.1; every request it gets is asserted on. Staleness is real (a snapshot
taken with `restic backup --time` three days ago); the fix is a real fresh `restic backup`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from homelab_kit.lab.model import load_lab
from homelab_kit.restore.scratch import restore_test
from tests.watch_helpers import (
    HC_UUID,
    PASSWORD_CANARY,
    TOKEN_CANARY,
    Receiver,
    check,
    init_and_backup,
    journal_text,
    notifications,
    pings,
    write_lab,
)

pytestmark = pytest.mark.timeout(600)


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.stop()


def iso(t: datetime) -> str:
    return t.isoformat(timespec="seconds")


def test_notifies_on_change_only_resolves_reminds_and_survives_a_dead_receiver(
    tmp_path: Path, receiver: Receiver, restic_bin: str
) -> None:
    lab_path = write_lab(tmp_path, restic_bin, receiver.port)
    start = datetime.now(UTC)
    init_and_backup(lab_path, time=(start - timedelta(days=3)).strftime("%Y-%m-%d %H:%M:%S"))
    assert restore_test(load_lab(lab_path), "b", progress=False).ok
    outputs: list[str] = []

    def run(*args: str) -> tuple[int, list]:
        res = check(lab_path, *args)
        outputs.extend([res.stdout, res.stderr])
        return res.returncode, receiver.take()

    # 1. the backup stopped three days ago: one notification naming it, start + fail pings
    code, reqs = run()
    assert code == 1, outputs[-1]
    (note,) = notifications(reqs)
    assert note["type"] == "failure" and note["title"].startswith("homelab testlab: 1 failing")
    assert "NEW fail freshness b: newest snapshot is 3d" in note["message"]
    assert pings(reqs) == ["start", "fail"]
    fail_ping = next(r for r in reqs if r.path.endswith("/fail"))
    assert "FAIL    freshness" in fail_ping.text and "testlab: 1 failing" in fail_ping.text
    start_ping = next(r for r in reqs if r.path.endswith("/start"))
    assert start_ping.query["rid"] == fail_ping.query["rid"]  # one run id: the server times it

    # 2. unchanged: no notification, the heartbeat still says fail
    code, reqs = run()
    assert code == 1 and notifications(reqs) == [] and pings(reqs) == ["start", "fail"]

    # 3. fixed by a real fresh backup: one "resolved" notification and a success ping
    init_and_backup(lab_path)
    code, reqs = run()
    assert code == 0, outputs[-2]
    (note,) = notifications(reqs)
    assert note["type"] == "success" and "resolved: freshness b" in note["message"]
    assert pings(reqs) == ["start", "success"]

    # 4.–6. stale again three days later; unchanged an hour after; a reminder once `remind` passed
    later = start + timedelta(days=3)
    code, reqs = run("--now", iso(later))
    assert code == 1 and "NEW fail freshness b" in notifications(reqs)[0]["message"]
    code, reqs = run("--now", iso(later + timedelta(hours=1)))
    assert code == 1 and notifications(reqs) == []
    code, reqs = run("--now", iso(later + timedelta(days=1, hours=1)))
    (note,) = notifications(reqs)
    assert "STILL fail freshness b" in note["message"]

    # 7. the receiver is down: stderr says so, the exit code still tells the truth
    receiver.stop()
    res = check(lab_path, "--now", iso(later + timedelta(days=2, hours=2)))
    outputs.extend([res.stdout, res.stderr])
    assert res.returncode == 1
    assert "homelab-kit: notification not delivered:" in res.stderr
    assert "homelab-kit: heartbeat fail to http://127.0.0.1:" in res.stderr
    assert "Traceback" not in res.stderr
    last = load_lab(lab_path).journal.runs("check", 1)[0]["summary"]
    assert last["notification"]["sent"] is False and last["notification"]["error"]
    assert not last["heartbeat"][-1]["ok"]

    # 8. nothing lost: the undelivered reminder goes out once a receiver is back
    back = Receiver()
    try:
        write_lab(tmp_path, restic_bin, back.port)
        res = check(lab_path, "--now", iso(later + timedelta(days=2, hours=3)))
        outputs.extend([res.stdout, res.stderr])
        assert "STILL fail freshness b" in notifications(back.take())[0]["message"]
    finally:
        back.stop()

    # secrets: the restic password nowhere; the URL's token only in the path it was sent to
    journal = journal_text(lab_path)
    for text in [*outputs, journal]:
        assert PASSWORD_CANARY not in text and TOKEN_CANARY not in text and HC_UUID not in text
    assert "json://127.0.0.1:" in journal  # shown redacted: where it went, not its token


def test_every_request_is_free_of_the_password(
    tmp_path: Path, receiver: Receiver, restic_bin: str
) -> None:
    lab_path = write_lab(tmp_path, restic_bin, receiver.port)
    (tmp_path / "password").write_text(PASSWORD_CANARY + "\n")
    init_and_backup(lab_path, time="2020-01-01 00:00:00")
    res = check(lab_path, "--json")
    reqs = receiver.take()
    assert res.returncode == 1 and len(reqs) == 3  # start, notification, fail
    for r in reqs:
        assert PASSWORD_CANARY not in r.text + r.path + json.dumps(r.headers)
    digest = json.loads(res.stdout)
    assert digest["counts"]["fail"] >= 2  # stale, and no restore test ever
    assert {r["check"] for r in digest["rows"] if r["status"] == "fail"} >= {
        "freshness",
        "restore_test",
    }


def test_uptime_kuma_push_url(tmp_path: Path, receiver: Receiver, restic_bin: str) -> None:
    """A push monitor gets `?status=down&msg=…` (a GET), and no start ping."""
    lab_path = write_lab(
        tmp_path,
        restic_bin,
        receiver.port,
        notify=f'[notify]\nheartbeat = "http://127.0.0.1:{receiver.port}/api/push/kumaTok"\n',
    )
    init_and_backup(lab_path, time="2020-01-01 00:00:00")
    res = check(lab_path)
    (ping,) = receiver.take()
    assert res.returncode == 1 and ping.method == "GET" and ping.path == "/api/push/kumaTok"
    assert ping.query["status"] == ["down"] and "failing" in ping.query["msg"][0]
    assert "kumaTok" not in res.stdout + res.stderr


@pytest.mark.parametrize(
    ("notify", "expected"),
    [
        ('[notify]\nurl = ["json://x"]', 'notify.url: unknown key (did you mean "urls"?)'),
        ('[notify]\nurls = ["not a url"]', "notify.urls: [0]: expected an apprise URL"),
        ('[notify]\nurls = ["nosuchservice://host/x"]', "notify.urls[0]: apprise cannot use"),
        ('[notify]\nremind = "often"', 'notify.remind: expected a duration such as "26h"'),
        ('[notify]\nurls_file = "missing.txt"', "notify.urls_file: cannot read"),
        ('[notify]\nurls_command = "false"', "notify.urls_command: `false` exited 1"),
    ],
)
def test_bad_notify_config_is_one_line_and_exit_2(
    tmp_path: Path, receiver: Receiver, notify: str, expected: str
) -> None:
    heartbeat = f'\nheartbeat = "http://127.0.0.1:{receiver.port}/ping/{HC_UUID}"\n'
    lab_path = write_lab(tmp_path, "restic", receiver.port, notify=notify + heartbeat)
    res = check(lab_path)
    assert res.returncode == 2, res.stderr
    (line,) = res.stderr.strip().splitlines()
    assert line.startswith("homelab-kit: ") and expected in line, line
    assert pings(receiver.take())[-1] == "fail"  # a watcher that could not run says so outside


def test_urls_from_a_file_and_a_command_stay_secret(
    tmp_path: Path, receiver: Receiver, restic_bin: str
) -> None:
    url = f"json://127.0.0.1:{receiver.port}/notify/{TOKEN_CANARY}"
    (tmp_path / "urls.txt").write_text(f"# my notification targets\n{url}\n")
    (tmp_path / "print-url.sh").write_text(f"#!/bin/sh\necho '{url}'\n")
    (tmp_path / "print-url.sh").chmod(0o755)
    notify = f'[notify]\nurls_file = "urls.txt"\nurls_command = "{tmp_path}/print-url.sh"\n'
    lab_path = write_lab(tmp_path, restic_bin, receiver.port, notify=notify)
    init_and_backup(lab_path, time="2020-01-01 00:00:00")
    res = check(lab_path)
    assert res.returncode == 1
    assert len(notifications(receiver.take())) == 2  # one per target, one message per run
    assert TOKEN_CANARY not in res.stdout + res.stderr + journal_text(lab_path)


def test_no_notify_sends_nothing_and_forgets_nothing(
    tmp_path: Path, receiver: Receiver, restic_bin: str
) -> None:
    """`--no-notify` records the check but keeps the told-state, so the next run still tells."""
    lab_path = write_lab(tmp_path, restic_bin, receiver.port)
    init_and_backup(lab_path, time="2020-01-01 00:00:00")
    assert check(lab_path, "--no-notify", "--no-heartbeat").returncode == 1
    assert receiver.take() == []
    assert check(lab_path).returncode == 1
    assert len(notifications(receiver.take())) == 1
