"""The demo's planted problems show up where a user looks: freshness, coverage and their CLI.

Real restic repositories of the demo lab (built once per session by the `demo_lab` fixture).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from homelab_kit.backups.coverage import PROBLEM_STATUSES, coverage, freshness
from homelab_kit.cli import main
from homelab_kit.lab.model import Lab


def test_freshness_flags_the_stale_backup_only(demo_lab: Lab) -> None:
    df = freshness(demo_lab, datetime.now(UTC))
    status = dict(zip(df["backup"], df["status"]))
    assert status == {"n100-daily": "ok", "n100-offsite": "overdue", "nas-docker": "ok"}


def test_coverage_names_gap_pending_migrations_and_the_partial_run(demo_lab: Lab) -> None:
    df = coverage(demo_lab, datetime.now(UTC))
    named = df[df["service"].notna()]
    by = {
        (b if isinstance(b, str) else None, s): st
        for b, s, st in zip(named.backup, named.service, named.status)
    }
    assert by[(None, "syncthing")] == "uncovered"
    assert by[("n100-daily", "mealie")] == "pending_migration"
    assert by[("n100-daily", "vaultwarden")] == "ok"
    partial = df[df["status"].isin(["partial", "was_partial"])]
    assert list(partial["backup"]) == ["n100-daily"] and "exited 3" in partial.iloc[0]["message"]
    problems = df[df["status"].isin(PROBLEM_STATUSES)]
    assert list(problems["service"]) == ["syncthing"]


def test_cli_exit_codes_for_timers(demo_lab: Lab, capsys) -> None:
    lab = str(demo_lab.path)
    assert main(["--lab", lab, "backups", "freshness", "--json"]) == 1
    rows = json.loads(capsys.readouterr().out)
    assert {r["backup"] for r in rows if r["status"] == "overdue"} == {"n100-offsite"}
    assert main(["--lab", lab, "backups", "coverage", "--backup", "nas-docker"]) == 0
    capsys.readouterr()
    assert main(["--lab", lab, "backups", "coverage", "--json"]) == 1
    rows = json.loads(capsys.readouterr().out)
    assert any(r["service"] == "syncthing" and r["status"] == "uncovered" for r in rows)
