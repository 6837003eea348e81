"""Widgets, headless: built against a small real lab (real files, real restic), driven by
`Button.click()` and trait changes, asserting what they show and what they called."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

import pytest

from homelab_kit.backups import analysis as bk
from homelab_kit.backups.coverage import coverage, freshness
from homelab_kit.errors import HomelabError
from homelab_kit.restore.history import restore_history
from homelab_kit.restore.scratch import restore_test
from homelab_kit.workbench.board import FreshnessBoard, freshness_board
from homelab_kit.workbench.picker import LabPicker, SelectorPicker
from homelab_kit.workbench.restore_panel import (
    RestoreLauncher,
    restore_launcher,
    snapshot_options,
    split_paths,
)
from tests.ui_lab import NOW, build_ui_lab


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        tmp = tmp_path_factory.mktemp("ui-lab")
        mp.setenv("RESTIC_CACHE_DIR", str(tmp / "restic-cache"))
        yield build_ui_lab(tmp, tmp_path_factory.getbasetemp())


# --- pickers ---------------------------------------------------------------------------------


def test_selector_picker_ticks_what_the_selector_matches(lab):
    seen = []
    picker = SelectorPicker(lab.hosts, kind="host", selector="@server", on_change=seen.append)
    assert picker.value == ("n100",)
    assert list(picker.selected) == ["n100"] and picker.selected["n100"].os == "nixos"
    picker.selector.value = "all,!n100"
    assert picker.value == ("desk",)
    assert seen and seen[-1] is picker
    assert "1 of 2 hosts: desk" in picker.status.value


def test_selector_picker_reports_a_bad_selector_and_ticks_nothing(lab):
    picker = SelectorPicker(lab.hosts, kind="host")
    assert picker.value == ("n100", "desk")
    picker.selector.value = "@printer"
    assert picker.value == ()
    assert "matches no host" in picker.status.value


def test_lab_picker_offers_only_the_services_of_the_chosen_hosts(lab):
    changes = []
    picker = LabPicker(lab, on_change=changes.append)
    assert set(picker.services) == {"vault", "wiki", "sync"}
    picker.host_picker.selector.value = "desk"
    assert picker.hosts == ("desk",)
    assert picker.services == ("sync",)
    assert [v for _, v in picker.service_picker.choices.options] == ["sync"]
    assert changes and changes[-1] is picker
    picker.host_picker.selector.value = "n100"
    picker.service_picker.selector.value = "w*"
    assert picker.services == ("wiki",)


# --- freshness board -------------------------------------------------------------------------


def _frames(lab, now):
    return freshness(lab, now), coverage(lab, now)


def test_board_levels_per_backup_and_service(lab):
    fresh, cover = _frames(lab, NOW)
    board = FreshnessBoard(fresh, cover)
    levels = dict(zip(board.backups["backup"], board.backups["level"]))
    # main: fresh, but wiki's state dir was never backed up; offsite: eight days old
    assert levels == {"main": "red", "offsite": "red"}
    main = board.backups.set_index("backup").loc["main", "detail"]
    assert "never backed up" in main and "wiki" in main
    assert "overdue" in board.backups.set_index("backup").loc["offsite", "detail"]
    svc = dict(zip(board.services["service"], board.services["level"]))
    # vault: fresh and complete in main, but its off-site copy is stale -> amber
    assert svc == {"vault": "amber", "wiki": "red", "sync": "red"}
    assert list(board.services["level"]) == ["red", "red", "amber"]  # worst first
    why = board.services.set_index("service")["detail"]
    assert "no backup covers host desk" in why["sync"]
    assert board.level == "red"
    html = board.board.value
    assert html.count("class='hk-board-backup'") == 2
    assert "data-level='amber'" in html and "<table class='hk-board'>" in html


def test_board_turns_amber_when_a_run_looks_missed(lab):
    # main's newest snapshot is NOW-1d; max_age 30h: at NOW+4h it is 28h old (> 80% of 30h)
    fresh, cover = _frames(lab, NOW + timedelta(hours=4))
    board = FreshnessBoard(fresh[fresh["backup"] == "main"], cover[cover["backup"] == "main"])
    fresh_only = board.backups.set_index("backup").loc["main"]
    assert fresh_only["level"] == "red"  # still red: wiki is not covered
    cells = board.cells.set_index("service")
    assert cells.loc["vault", "level"] == "amber"
    assert "a run looks missed" in cells.loc["vault", "detail"]


def test_board_refresh_button_asks_again(lab):
    calls = []

    def refresh():
        calls.append(1)
        return _frames(lab, NOW - timedelta(days=7, hours=12))

    fresh, cover = _frames(lab, NOW)
    board = FreshnessBoard(fresh, cover, services=list(lab.services), refresh=refresh)
    assert board.backups.set_index("backup").loc["offsite", "level"] == "red"
    board.refresh_button.click()
    assert calls == [1]
    # half a day after the off-site snapshot it is fresh again
    assert "overdue" not in board.backups.set_index("backup").loc["offsite", "detail"]
    assert board.status.value.startswith("checked")
    assert not board.refresh_button.disabled


def test_board_refresh_shows_an_error_instead_of_raising(lab):
    def broken():
        raise HomelabError("repo unreachable")

    fresh, cover = _frames(lab, NOW)
    board = FreshnessBoard(fresh, cover, refresh=broken)
    board.refresh_button.click()
    assert "repo unreachable" in board.status.value
    assert board.level == "red"  # the old picture stays


def test_freshness_board_for_a_lab(lab):
    board = freshness_board(lab, NOW)
    assert set(board.services["service"]) == {"vault", "wiki", "sync"}
    assert "Backups of ui" in board.board.value
    only = freshness_board(lab, NOW, "main")
    assert "sync" not in set(only.services["service"])  # not judged on a one-backup board
    named = FreshnessBoard(*_frames(lab, NOW), services=["vault", "ghost"])
    assert (
        named.services.set_index("service").loc["ghost", "detail"]
        == "no backup: no backup covers it"
    )


# --- restore launcher ------------------------------------------------------------------------


def test_snapshot_options_and_paths():
    from datetime import UTC, datetime

    recs = [
        {
            "time": datetime(2024, 6, 1, 3, tzinfo=UTC),
            "short_id": "aaaa",
            "id": "a" * 64,
            "host": "h",
        },
        {
            "time": datetime(2024, 6, 2, 3, tzinfo=UTC),
            "short_id": "bbbb",
            "id": "b" * 64,
            "host": "h",
        },
    ]
    opts = snapshot_options(recs)
    assert opts[0] == ("latest", "latest")
    assert opts[1] == ("2024-06-02 03:00 · bbbb · h", "b" * 64)
    assert split_paths("/a, /b\n/c d\n\n") == ["/a", "/b", "/c d"]


def test_restore_launcher_runs_a_real_restore_test(lab):
    launcher = restore_launcher(lab, backup="main", content="full")
    snaps = bk.snapshot_records(lab, "main")
    assert [v for _, v in launcher.snapshot.options] == ["latest", snaps[1]["id"], snaps[0]["id"]]
    launcher.snapshot.value = snaps[0]["id"]
    launcher.run_button.click()
    report = launcher.report
    assert report is not None and report.ok, report.problem_list
    assert report.snapshot_id == snaps[0]["id"] and report.files == 2
    assert "verified clean" in launcher.status.value
    assert launcher.progress.value == launcher.progress.max
    assert launcher.progress.bar_style == "success"
    assert not launcher.run_button.disabled
    assert launcher.runs == 1 and "hk-runs-1" in launcher._dom_classes
    hist = restore_history(lab)
    assert hist.iloc[-1]["snapshot_id"] == snaps[0]["id"] and bool(hist.iloc[-1]["ok"])
    assert launcher.history is not None and len(launcher.history) == len(hist)
    kinds = [set(o["data"]) for o in launcher.history_output.outputs]
    assert "text/html" in kinds[0] and "image/png" in kinds[1]  # table, then chart
    assert "verified clean" in launcher.output.outputs[-1]["data"]["text/html"]


def test_restore_launcher_shows_a_failure(lab):
    launcher = restore_launcher(lab, backup="main")
    launcher.paths.value = "/no/such/path"
    launcher.run_button.click()
    assert launcher.report is None
    assert isinstance(launcher.error, HomelabError)
    assert launcher.status.value.count("✘") == 1
    assert launcher.progress.bar_style == "danger"
    assert not launcher.run_button.disabled


def test_restore_launcher_passes_its_form_to_the_callable(lab):
    calls = []

    def run(backup, snapshot, paths, content):
        calls.append((backup, snapshot, paths, content))
        return restore_test(lab, backup, snapshot, paths, content=content, progress=False)

    launcher = RestoreLauncher(
        ["offsite", "main"], run, snapshots=partial(bk.snapshot_records, lab)
    )
    assert launcher.backup.value == "offsite"
    assert len(launcher.snapshot.options) == 2  # latest + the one off-site snapshot
    launcher.backup.value = "main"
    assert len(launcher.snapshot.options) == 3
    vault = lab.services["vault"].state_dirs[0]
    launcher.paths.value = f"{vault}/db.sqlite3"
    launcher.content.value = "sample:50%"
    launcher.run_button.click()
    assert calls == [("main", "latest", [f"{vault}/db.sqlite3"], "sample:50%")]
    assert launcher.report.ok and launcher.report.files == 1
