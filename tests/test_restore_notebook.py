"""The restore-test runbook runs headless (papermill) on a small local lab with a real restic repo
— a restore test with its app checks, then a drill onto a spare local host — and its history
charts draw from the journal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from homelab_kit.backups.restic import Restic
from homelab_kit.lab.model import load_lab
from homelab_kit.restore.history import drill_history, restore_history
from homelab_kit.workbench.plots.restore import drill_rto_chart, restore_history_chart
from tests.app_helpers import make_sqlite
from tests.test_restore import DATA, _lab

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "20_restore_test.ipynb"


def test_notebook_is_committed_clean():
    nb = json.loads(NOTEBOOK.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert "parameters" in code[0]["metadata"]["tags"]
    assert "HOMELAB_LAB" in "".join(code[0]["source"])
    assert all(not c["outputs"] and c["execution_count"] is None for c in code)
    assert not any("def " in "".join(c["source"]) for c in code)


@pytest.mark.timeout(240)
def test_notebook_runs_a_restore_test(tmp_path):
    import papermill

    lab = _lab(tmp_path, "restic")
    data = tmp_path / DATA
    data.mkdir(parents=True)
    (data / "app.db").write_bytes(b"\x00" * 5000 + b"state")
    make_sqlite(data / "notes.sqlite3")
    with open(lab.path, "a") as f:
        f.write('\n[hosts.spare]\ntransport = "local"\n')
    restic = Restic.for_backup(lab.backups["b"], lab)
    restic.init()
    restic.backup([str(data)])
    out = tmp_path / "run.ipynb"
    papermill.execute_notebook(
        str(NOTEBOOK),
        str(out),
        parameters={
            "lab_path": str(lab.path),
            "content": "sample:50%",
            "drill_host": "n1",
            "drill_target": "spare",
            "drill_root": str(tmp_path / "drill"),
        },
        progress_bar=False,
        kernel_name="python3",
    )
    text = out.read_text()
    assert "verified clean" in text and "image/png" in text
    assert "integrity_check ok" in text and "drill n1 → spare" in text and "brought back" in text
    assert list(drill_history(load_lab(lab.path))["ok"]) == [True]
    history = restore_history(load_lab(lab.path))
    assert list(history["ok"]) == [True] and history["content"].iloc[0] == "sample:50%"
    fig = restore_history_chart(history)
    assert len(fig.axes) == 2 and fig.axes[0].get_ylabel() == "seconds"


def test_chart_without_history(tmp_path):
    lab = _lab(tmp_path, "restic")
    fig = restore_history_chart(restore_history(lab))
    assert "no restore tests" in fig.axes[0].texts[0].get_text()
    fig = drill_rto_chart(drill_history(lab))
    assert "no drills" in fig.axes[0].texts[0].get_text()
