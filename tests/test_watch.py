"""The watch room: the digest on the demo lab, on real restic snapshots that shrank or lost a path,
over real sshd hosts (one of them down), and the pure change logic behind notifications."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from homelab_kit.backups.restic import Restic
from homelab_kit.lab.model import Lab, load_lab
from homelab_kit.testing import start_ssh_hosts
from homelab_kit.watch.changes import entry, plan
from homelab_kit.watch.checks import run_checks
from homelab_kit.watch.digest import Digest, carry_since, fail, ok, warn
from homelab_kit.watch.heartbeat import BODY_LIMIT, ping_request
from homelab_kit.watch.redact import redact_url, scrub, secrets_of
from tests.watch_helpers import CLI

pytestmark = pytest.mark.timeout(300)
NOW = datetime(2025, 3, 1, 12, tzinfo=UTC)


# -- the demo lab ----------------------------------------------------------------------------


def test_demo_check_names_the_stale_backup_and_the_uncovered_service(demo_lab: Lab) -> None:
    res = subprocess.run(
        [*CLI, "--lab", str(demo_lab.path), "check", "--json", "--no-notify"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 1, res.stderr
    digest = json.loads(res.stdout)
    failing = {
        (r["check"], r["subject"].split(" ")[0]) for r in digest["rows"] if r["status"] == "fail"
    }
    assert ("freshness", "n100-offsite") in failing
    assert ("coverage", "syncthing") in failing
    warned = [r for r in digest["rows"] if r["status"] == "warn"]
    assert {r["code"] for r in warned} >= {"pending_migration"}  # shown, never failing
    fresh = [r for r in digest["rows"] if r["check"] == "freshness" and r["status"] == "ok"]
    assert {r["subject"] for r in fresh} == {"n100-daily", "nas-docker"}
    run = demo_lab.journal.runs("check", 1)[0]
    assert run["status"] == "problems" and len(run["summary"]["rows"]) == len(digest["rows"])
    assert res.stderr == ""


def test_demo_text_digest_and_html(demo_lab: Lab) -> None:
    result = demo_lab.check(on="nas")
    d = result.digest
    assert {r.subject for r in d.rows if r.check == "freshness"} == {"nas-docker"}
    assert not any("syncthing" in r.subject for r in d.rows)  # desk is not in scope
    text = d.text()
    header, *rows, summary = text.splitlines()
    assert header.split() == ["STATUS", "CHECK", "SUBJECT", "SINCE", "MESSAGE"]
    assert summary.startswith("demo: ") and len(rows) == len(d.rows)
    assert rows[0].index(rows[0].split()[1]) == header.index("CHECK")  # aligned columns
    html = result._repr_html_()
    assert "<table" in html and "nas-docker" in html


# -- real restic: a backup that succeeds but saves too little ---------------------------------


def small_lab(base: Path, restic: str) -> Lab:
    for name in ("a", "b"):
        d = base / "srv" / name
        d.mkdir(parents=True)
        for i in range(20):
            (d / f"f{i}.bin").write_bytes(bytes([i]) * 50_000)
    (base / "pw").write_text("pw\n")
    doc = {
        "lab": {"name": "shrink", "journal": str(base / "j.sqlite"), "cache_dir": str(base / "c")},
        "hosts": {"srv": {"transport": "local"}},
        "services": {
            "app": {
                "host": "srv",
                "user": "root",
                "state_dirs": [str(base / "srv/a"), str(base / "srv/b")],
            }
        },
        "backups": {
            "bk": {
                "host": "srv",
                "repository": str(base / "repo"),
                "password_file": str(base / "pw"),
                "restic": restic,
            }
        },
        "watch": {"record_facts": False},
    }
    return Lab.from_dict(doc, base / "lab.toml")


def test_snapshot_much_smaller_than_usual_fails(tmp_path: Path, restic_bin: str) -> None:
    lab = small_lab(tmp_path, restic_bin)
    r = Restic.for_backup(lab.backups["bk"], lab)
    r.init()
    paths = [str(tmp_path / "srv/a"), str(tmp_path / "srv/b")]
    for day in range(1, 5):
        r.backup(paths, time=f"2025-02-2{day} 03:00:00")
    for f in list((tmp_path / "srv/a").iterdir()) + list((tmp_path / "srv/b").iterdir())[2:]:
        f.unlink()  # 38 of 40 files gone: the next backup "succeeds"
    r.backup(paths, time="2025-02-28 03:00:00")
    rows = [x for x in run_checks(lab, now=NOW).rows if x.check == "snapshot"]
    (row,) = rows
    assert row.status == "fail" and row.code == "size_drop", row
    assert "less than usual" in row.message


def test_snapshot_missing_a_path_fails(tmp_path: Path, restic_bin: str) -> None:
    lab = small_lab(tmp_path, restic_bin)
    r = Restic.for_backup(lab.backups["bk"], lab)
    r.init()
    a, b = str(tmp_path / "srv/a"), str(tmp_path / "srv/b")
    r.backup([a, b], time="2025-02-27 03:00:00")
    r.backup([a], time="2025-02-28 03:00:00")  # someone edited the backup's paths
    rows = {x.code: x for x in run_checks(lab, now=NOW).rows if x.status == "fail"}
    assert "missing_paths" in rows and b in rows["missing_paths"].message
    assert "disappeared" in rows  # coverage sees the state dir gone from the newest snapshot too


def test_unreadable_repository_is_a_failing_row_not_a_crash(
    tmp_path: Path, restic_bin: str
) -> None:
    lab = small_lab(tmp_path, restic_bin)  # the repository was never initialised
    d = run_checks(lab, now=NOW)
    (row,) = [x for x in d.rows if x.check == "freshness"]
    assert row.status == "fail" and row.message.startswith("could not check: ")
    assert d.exit_code == 1


# -- real sshd hosts -----------------------------------------------------------------------------


def test_check_over_ssh_reports_the_host_that_is_down(tmp_path: Path) -> None:
    data = tmp_path / "srv" / "app"
    data.mkdir(parents=True)
    (data / "state.db").write_bytes(b"x" * 10_000)
    (tmp_path / "pw").write_text("ssh-watch\n")
    with start_ssh_hosts(2, tmp_path / "sshd", prefix="w", first=110) as fleet:
        doc = fleet.lab_dict(
            "watch-ssh",
            services={"app": {"host": "w1", "user": "root", "state_dirs": [str(data)]}},
            backups={
                "b": {
                    "host": "w1",
                    "repository": str(tmp_path / "repo"),
                    "password_file": str(tmp_path / "pw"),
                    "restic": shutil.which("restic") or "restic",
                }
            },  # fmt: skip
            watch={"record_facts": False},
        )
        doc["lab"]["journal"] = str(tmp_path / "journal.sqlite")
        doc["lab"]["cache_dir"] = str(tmp_path / "cache")
        lab = Lab.from_dict(doc, path=tmp_path / "lab.toml")
        restic = Restic.for_backup(lab.backups["b"], lab)  # runs on w1 over SSH
        restic.init()
        restic.backup([str(data)], host="w1")
        fleet["w2"].stop()
        d = lab.check().digest
    by = {(r.check, r.subject): r for r in d.rows}
    assert by[("host", "w1")].status == "ok"
    assert by[("host", "w2")].status == "fail" and by[("host", "w2")].code == "unreachable"
    assert by[("freshness", "b")].status == "ok"
    assert by[("coverage", f"app {data} in b")].status == "ok"


# -- pure: what is worth telling -----------------------------------------------------------------


def digest(*rows, scope: str = "all", now: datetime = NOW) -> Digest:
    return Digest("lab", now, list(rows), scope=scope)


def test_plan_new_changed_unchanged_resolved() -> None:
    stale = fail("freshness", "b", "3d old", code="overdue")
    first = plan(digest(stale, ok("host", "h")), {})
    assert [r.key for r in first.new] == ["freshness:b"] and first.kind == "failure"
    assert "NEW fail freshness b: 3d old" in first.body()
    again = plan(digest(fail("freshness", "b", "3d 1h old", code="overdue")), first.state,
                 now=NOW + timedelta(hours=1))  # fmt: skip
    assert again.empty  # the age moved, the problem did not
    changed = plan(digest(fail("freshness", "b", "never", code="never")), first.state)
    assert [r.key for r, _ in changed.changed] == ["freshness:b"]
    assert "(was fail: 3d old)" in changed.body()
    fixed = plan(digest(ok("freshness", "b", "1h old")), first.state)
    assert fixed.kind == "success" and "resolved: freshness b: 1h old" in fixed.body()
    assert fixed.state == {}


def test_plan_reminds_failures_not_warnings_after_remind() -> None:
    rows = (
        fail("units", "h", "nginx failed", code="x"),
        warn("coverage", "c", "pending", code="p"),
    )
    state = plan(digest(*rows), {}).state
    later = NOW + timedelta(days=1, minutes=1)
    n = plan(digest(*rows, now=later), state, remind=timedelta(days=1))
    assert [r.key for r in n.reminders] == ["units:h"]
    assert n.state["units:h"]["told"] == later.isoformat()
    assert n.state["coverage:c"] == state["coverage:c"]  # unchanged warning: told once
    assert plan(digest(*rows, now=later), state, remind=None).empty


def test_plan_level_fail_ignores_warnings_and_scope_keeps_the_rest() -> None:
    rows = (warn("capacity", "h:/", "fills in 20 days", code="filling"),)
    assert plan(digest(*rows), {}, level="fail").empty
    told = {"freshness:other": entry(fail("freshness", "other", "old", code="overdue"), NOW)}
    scoped = plan(digest(ok("freshness", "b"), scope="nas"), told)
    assert scoped.empty and "freshness:other" in scoped.state  # not looked at: not resolved
    everything = plan(digest(ok("freshness", "b")), told)
    assert [old["subject"] for old, now in everything.resolved] == ["other"]


def test_since_carries_while_the_state_holds() -> None:
    before = carry_since([fail("freshness", "b", "old", code="overdue")], [], NOW)
    later = NOW + timedelta(hours=5)
    same = carry_since([fail("freshness", "b", "older", code="overdue")], before, later)
    assert same[0].since == NOW
    other = carry_since([ok("freshness", "b")], before, later)
    assert other[0].since == later


def test_digest_exit_codes_and_a_bounded_text() -> None:
    assert digest(warn("lint", "x", "w")).exit_code == 0
    assert digest(warn("lint", "x", "w"), fail("host", "h", "down")).exit_code == 1
    many = digest(
        *[fail("coverage", f"svc{i} /var/lib/{'x' * 200}", "m" * 300) for i in range(2000)]
    )
    text = many.text(limit=BODY_LIMIT)
    assert len(text.encode()) <= BODY_LIMIT and text.endswith(many.summary())


def test_ping_requests() -> None:
    hc = "https://hc.example/ping/abc-uuid?create=1"
    start = ping_request(hc, "start", "", "rid1")
    assert start.full_url == "https://hc.example/ping/abc-uuid/start?create=1&rid=rid1"
    fail_req = ping_request(hc, "fail", "x" * (BODY_LIMIT + 5000), "rid1")
    assert fail_req.get_method() == "POST" and len(fail_req.data) == BODY_LIMIT
    assert ping_request(hc, "success", "ok", "r").full_url.startswith(
        "https://hc.example/ping/abc-uuid?"
    )
    kuma = "https://kuma.example/api/push/tok"
    assert ping_request(kuma, "start", "", "r") is None
    up = ping_request(kuma, "success", "a\nall ok", "r")
    assert up.get_method() == "GET" and "status=up" in up.full_url and "msg=all+ok" in up.full_url


def test_redaction() -> None:
    assert redact_url("ntfy://ntfy.example/homelab") == "ntfy://ntfy.example/…"
    assert redact_url("mailto://me:pw@mail.example") == "mailto://***@mail.example"
    assert redact_url("tgram://123456:ABCdef/987") == "tgram://…"
    assert redact_url("json://127.0.0.1:8080/hook?token=t0ps3cret") == "json://127.0.0.1:8080/…"
    secrets = secrets_of(["https://hc.example/ping/0f4b2c1e-uuid", "discord://webhookid/tokenX"])
    scrubbed = scrub("sent to webhookid with tokenX and /ping/0f4b2c1e-uuid", secrets)
    assert "webhookid" not in scrubbed and "tokenX" not in scrubbed and "0f4b" not in scrubbed


def test_lab_check_in_a_notebook_sends_nothing(tmp_path: Path) -> None:
    """lab.check() records a run but sends no notification and no ping unless asked."""
    lab = load_lab(write_notify_lab(tmp_path))
    result = lab.check()
    assert result.notice is None and result.pings == [] and result.run_id is not None


def write_notify_lab(base: Path) -> Path:
    path = base / "lab.toml"
    path.write_text(
        '[lab]\nname = "n"\n[hosts.h]\ntransport = "local"\n'
        '[notify]\nurls = ["json://127.0.0.1:9/never"]\nheartbeat = "http://127.0.0.1:9/ping/x"\n'
        "[watch]\nrecord_facts = false\n"
    )
    return path


def test_capacity_fits_are_reused_until_their_inputs_change(demo_lab: Lab, monkeypatch) -> None:
    """The hourly check recomputes the forecast for its `now` from cached fits; a new facts row
    (or backup run) brings a fresh fit."""
    from homelab_kit.capacity import cache
    from homelab_kit.capacity.forecast import forecast, lab_series

    now = datetime.now(UTC)
    first, _ = cache.lab_forecast(demo_lab, now=now)
    expected = forecast(lab_series(demo_lab, progress=False), now=now)
    assert first.drop(columns="last_seen").equals(expected.drop(columns="last_seen"))
    calls = []
    monkeypatch.setattr(cache, "lab_series", lambda *a, **k: calls.append(1) or lab_series(*a, **k))
    later = now + timedelta(days=10)
    again, _ = cache.lab_forecast(demo_lab, now=later)
    assert calls == []  # nothing new in the journal: the fits were reused
    assert again.drop(columns="last_seen").equals(
        forecast(lab_series(demo_lab, progress=False), now=later).drop(columns="last_seen")
    )
    demo_lab.journal.record_facts("nas", {"filesystems": []}, now)
    cache.lab_forecast(demo_lab, now=later)
    assert calls == [1]
