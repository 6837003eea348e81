"""Capacity planning against the demo lab (real restic history, ~90 days of facts): the CLI and
notebooks/40_capacity_planning.ipynb headless under papermill."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from homelab_kit.cli import main

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "40_capacity_planning.ipynb"


def test_cli_on_the_demo_lab(demo_lab, capsys):
    lab = str(demo_lab.path)
    code = main(["--lab", lab, "capacity", "--json"])
    rows = json.loads(capsys.readouterr().out)
    by = {(r["kind"], r["host"], r["name"]): r for r in rows}
    filling = [r for r in rows if r["days_to_full"] is not None and r["within_horizon"]]
    assert filling, "the demo must have a filesystem that fills within the horizon"
    first = rows[0]
    assert first["kind"] in ("filesystem", "zpool") and 0 < first["days_to_full"] <= 365
    assert first["days_to_80"] < first["days_to_full"] and first["growth_bytes_per_day"] > 0
    assert code == (1 if first["days_to_full"] <= 30 else 0)
    assert {b for k, _, b in by if k == "repository"} == set(demo_lab.backups)
    flat = [r for r in rows if r["status"] == "not growing"]
    assert flat and all(r["days_to_full"] is None for r in flat)
    # a warning window past the first full date makes it an alert
    window = f"{int(first['days_to_full']) + 2}d"
    assert main(["--lab", lab, "capacity", "--warn", window]) == 1
    out = capsys.readouterr().out
    assert f"WARNING: {first['kind']} {first['host']}:{first['name']} fills in" in out


def test_notebook_is_a_thin_template():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", [])
    assert 'os.environ.get("HOMELAB_LAB"' in code[0].source
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code)
    assert not any("def " in c.source or "lambda" in c.source for c in code)


@pytest.mark.slow
def test_notebook_runs_headless_on_the_demo_lab(demo_lab, tmp_path: Path):
    import papermill as pm

    out = tmp_path / "40_capacity_planning.out.ipynb"
    pm.execute_notebook(
        str(NOTEBOOK),
        str(out),
        parameters={
            "lab_path": str(demo_lab.path),
            "target": "",
            "retention_keep": {"daily": 7, "weekly": 2},
        },
        cwd=str(NOTEBOOK.parent),
        kernel_name="python3",
        progress_bar=False,
    )
    nb = nbformat.read(out, as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    pngs = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(pngs) == 3  # the forecast grid and two what-if charts
    text = "\n".join(o.get("data", {}).get("text/plain", "") for o in outputs)
    assert "as is" in text and "add immich" in text and "keep daily=7 weekly=2" in text
    assert "current_bytes" in text and "after_bytes" in text
