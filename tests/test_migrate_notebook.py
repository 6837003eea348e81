"""The migration runbook runs headless (papermill) on a local lab, and its widgets panel gates Apply.

`docker`, `systemctl` and `nixos-rebuild` are recording scripts first on PATH (migrate_helpers);
files, users, rsync, chown, restic and the HTTP health endpoint are real.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from homelab_kit.lab.model import load_lab
from homelab_kit.migrate.planner import plan_migration
from homelab_kit.plans.plan import execute
from homelab_kit.workbench.panel import PlanPanel
from tests import migrate_helpers as mh
from tests.test_migrate import build, fake_path, health, user  # noqa: F401 - fixtures

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "30_migrate_service.ipynb"


def test_notebook_is_committed_clean():
    nb = json.loads(NOTEBOOK.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert "parameters" in code[0]["metadata"]["tags"]
    assert all(not c["outputs"] and c["execution_count"] is None for c in code)
    assert not any("def " in "".join(c["source"]) for c in code)


@pytest.mark.timeout(300)
def test_notebook_dry_run_then_apply(tmp_path, user, health, fake_path):  # noqa: F811
    import papermill

    lab_path, source, target, state = build(tmp_path, user, health)
    out = tmp_path / "dry.ipynb"
    papermill.execute_notebook(
        str(NOTEBOOK),
        str(out),
        parameters={"lab_path": str(lab_path)},
        progress_bar=False,
        kernel_name="python3",
    )
    text = out.read_text()
    assert "dry run: nothing has been executed" in text and not target.exists()
    assert mh.calls(state) == []
    out2 = tmp_path / "apply.ipynb"
    papermill.execute_notebook(
        str(NOTEBOOK),
        str(out2),
        parameters={"lab_path": str(lab_path), "service": "mealie", "dry_run": False},
        progress_bar=False,
        kernel_name="python3",
    )
    assert (target / "mealie.db").read_bytes() == (source / "mealie.db").read_bytes()
    assert list(load_lab(lab_path).journal.frame("migrate")["status"]) == ["ok"]


def test_panel_gates_apply_and_shows_progress(tmp_path, user, health, fake_path):  # noqa: F811
    lab_path, source, target, state = build(tmp_path, user, health)
    lab = load_lab(lab_path)
    plan = plan_migration(lab, "mealie")
    panel = PlanPanel(
        show=lambda: plan, apply=lambda on_step: execute(plan, lab, progress=False, on_step=on_step)
    )
    assert panel.apply_button.disabled
    panel.confirm.value = True
    assert panel.apply_button.disabled  # ticked, but the plan was not shown yet
    panel.confirm.value = False
    panel.dry_run.click()
    assert panel.apply_button.disabled and "nothing executed" in panel.status.value
    panel.confirm.value = True
    assert not panel.apply_button.disabled
    panel.apply_button.click()
    assert panel.progress.value == len(plan) and panel.progress.bar_style == "success"
    assert (target / "mealie.db").exists() and panel.apply_button.disabled
    (state / "fail-systemctl").touch()
    (target / "mealie.db").unlink()
    panel.confirm.value = True
    panel.apply_button.click()
    assert (
        panel.progress.bar_style == "danger"
        and "step" in panel.status.value
        and "mealie.service" in panel.status.value
    )
