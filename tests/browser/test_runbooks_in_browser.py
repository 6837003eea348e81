"""Every runbook, opened and run top to bottom in JupyterLab in a real Chromium.

The server serves a copy of notebooks/ with HOMELAB_LAB pointing at the demo lab; each notebook is
run with the lab's own "Run All Cells" command, saved, and its saved outputs are checked: no error
output, every code cell executed. A full-length screenshot of each runbook goes to
tests/output/browser/. The migration and deploy runbooks' plan panels are then clicked through:
the preview shows a plan table and Apply/Deploy stays disabled until the plan was shown and the
confirmation box is ticked (it is never clicked: that would change the demo lab).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .conftest import SOURCE
from .jlab import (
    error_outputs,
    open_notebook,
    png_outputs,
    run_all,
    save,
    unexecuted_cells,
    wait_idle,
)
from .shots import compact_png, screenshot_element, screenshot_notebook, screenshot_section

NOTEBOOKS = sorted(p.name for p in SOURCE.glob("*.ipynb"))

pytestmark = pytest.mark.browser

# the README's picture: tests/output/browser/workbench-small.png, copied to docs/workbench.png
README_SHOT = ("10_backup_analysis.ipynb", "Freshness")
PANELS = {
    # notebook: (preview button, apply button) as case-insensitive patterns of their labels
    "30_migrate_service.ipynb": (r"dry.?run", r"^\s*apply"),
    "50_deploy.ipynb": (r"^\s*plan", r"^\s*deploy"),
}


def test_notebooks_exist():
    assert NOTEBOOKS, "no runbooks in notebooks/"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_runbook_runs_clean_in_browser(name, page, lab_server, notebook_dir, browser_output):
    open_notebook(page, lab_server, name)
    run_all(page)
    save(page)
    saved = notebook_dir / name
    assert error_outputs(saved) == [], f"{name} shows errors in JupyterLab"
    assert unexecuted_cells(saved) == [], f"{name}: some cells never ran"
    outputs = page.locator(".jp-OutputArea-output")
    assert outputs.count() > 0, "the runbook rendered no output"
    assert page.locator(".jp-OutputArea-output table").count() > 0, "no table rendered"
    charts = png_outputs(saved)
    shown = page.locator(".jp-OutputArea-output img").count()
    assert shown >= charts, f"{charts} charts in the outputs, {shown} rendered"
    source = saved.read_text()
    for module, check in WIDGET_CHECKS.items():
        if f"homelab_kit.{module}" in source:
            check(page)
    screenshot_notebook(page, browser_output / f"{Path(name).stem}.png")
    if name == README_SHOT[0]:
        shot = screenshot_section(page, README_SHOT[1], browser_output / "workbench.png")
        compact_png(shot, browser_output / "workbench-small.png")  # cp to docs/workbench.png


def _check_board(page) -> None:
    """The freshness board rendered: backup tiles and a service grid, each with a level."""
    board = page.locator("table.hk-board")
    board.first.wait_for()
    assert page.locator(".hk-board-backup[data-level]").count() >= 1
    assert board.first.locator("tr.hk-board-service[data-level]").count() >= 1


def _check_restore_launcher(page) -> None:
    """Click the launcher's Run button (twice: a second run must replace the first one's
    results): a real restore test runs and its report and history show in the widget."""
    run = page.locator(".widget-button").filter(has_text=re.compile("run restore test", re.I))
    launcher = page.locator(".widget-vbox", has=run.first).last
    status = launcher.locator(".widget-html").filter(has_text=re.compile("verified clean|✘"))
    for n in (1, 2):
        run.first.scroll_into_view_if_needed()
        run.first.click()
        page.locator(f".hk-runs-{n}").wait_for(timeout=240_000)  # set when the run is over
        assert "verified clean" in status.first.inner_text(), status.first.inner_text()
        assert run.first.is_enabled()
        report = launcher.locator(".widget-output").filter(has_text="Restore test")
        assert report.count() == 1, "the report is not shown (or shown twice)"
        assert launcher.locator(".widget-output img").count() == 1, "no history chart"
    wait_idle(page)


def _check_notify_button(page) -> None:
    """The demo lab has no [notify] URLs: the test-notification button is there, disabled, and
    says why."""
    button = page.locator(".widget-button").filter(has_text="Send test notification")
    button.first.wait_for()
    assert button.first.is_disabled()
    assert page.locator(".widget-html").filter(has_text="no [notify] urls").count() == 1


WIDGET_CHECKS = {
    "workbench.board": _check_board,
    "workbench.restore_panel": _check_restore_launcher,
    "workbench.watch_panel": _check_notify_button,
}


def test_harness_sees_errors(page, lab_server, notebook_dir):
    """The check above would pass vacuously if errors went unseen: a failing notebook must fail."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [
        nbformat.v4.new_code_cell("x = 1"),
        nbformat.v4.new_code_cell("raise ValueError('seen in the browser')"),
        nbformat.v4.new_code_cell("x + 1"),
    ]
    name = "zz_harness_selftest.ipynb"
    nbformat.write(nb, notebook_dir / name)
    try:
        open_notebook(page, lab_server, name)
        run_all(page)
        save(page)
        assert error_outputs(notebook_dir / name) == ["cell 1: ValueError: seen in the browser"]
        assert unexecuted_cells(notebook_dir / name) == [2]  # run-all stops at the error
    finally:
        (notebook_dir / name).unlink()


def _panel(page, preview_pattern: str):
    """The innermost widget box holding the preview button: the plan panel."""
    preview = page.locator(".widget-button").filter(has_text=re.compile(preview_pattern, re.I))
    assert preview.count() >= 1, "no preview button rendered"
    return page.locator(".widget-vbox", has=preview.first).last, preview.first


@pytest.mark.parametrize("name", sorted(PANELS))
def test_plan_panel_needs_preview_and_confirmation(name, page, lab_server, browser_output):
    if name not in NOTEBOOKS:
        pytest.skip(f"{name} does not exist yet")
    preview_pattern, apply_pattern = PANELS[name]
    open_notebook(page, lab_server, name)
    run_all(page)
    panel, preview = _panel(page, preview_pattern)
    apply = panel.locator(".widget-button").filter(has_text=re.compile(apply_pattern, re.I)).last
    confirm = panel.locator(".widget-checkbox input").last
    panel.scroll_into_view_if_needed()
    assert apply.is_disabled(), "apply must stay disabled before the plan was shown"
    assert panel.locator("table").count() == 0, "the panel shows a plan before the preview"
    confirm.check()
    page.wait_for_timeout(300)
    assert apply.is_disabled(), "ticking the box alone must not enable apply"
    confirm.uncheck()

    preview.click()
    panel.locator("table").first.wait_for(timeout=60_000)
    wait_idle(page)
    assert panel.locator("table tr").count() > 2, "the plan table has no steps"
    assert apply.is_disabled(), "apply must stay disabled until the confirmation is ticked"

    confirm.check()
    page.wait_for_function("(el) => !el.disabled", arg=apply.element_handle(), timeout=10_000)
    assert apply.is_enabled(), "apply must be enabled once the plan was shown and confirmed"
    confirm.uncheck()
    page.wait_for_function("(el) => el.disabled", arg=apply.element_handle(), timeout=10_000)
    confirm.check()
    page.wait_for_timeout(300)
    screenshot_element(panel, browser_output / f"{Path(name).stem}-panel.png")
