"""Runbook templates: committed clean (no outputs), parametrised, thin (no def/class); every one
executes headless with papermill against the demo lab; the CLI keeps run records and reports a
failing cell in one line."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from homelab_kit.cli import main
from homelab_kit.lab.model import Lab
from homelab_kit.workbench.runbooks import (
    list_runbooks,
    notebooks_dir,
    parse_parameter,
    run_runbook,
    select_runbooks,
)

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
IDS = [p.stem for p in NOTEBOOKS]
DEFINES = re.compile(r"^\s*(async\s+def|def|class)\s", re.M)


def test_there_are_notebooks() -> None:
    assert any(p.name == "00_inventory.ipynb" for p in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_template_is_clean_and_thin(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), (
        "commit templates without outputs"
    )
    params = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1, "exactly one cell tagged 'parameters'"
    assert "lab_path" in params[0].source
    offenders = [c.source.splitlines()[0] for c in code if DEFINES.search(c.source)]
    assert not offenders, (
        f"notebooks never define functions or classes; move them into homelab_kit: {offenders}"
    )


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_executes_against_demo_lab(path: Path, demo_lab: Lab, tmp_path: Path) -> None:
    r = run_runbook(demo_lab, path, out_dir=tmp_path)
    assert r.ok, f"{path.name}: {r.error}"
    nb = nbformat.read(r.output, as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and str(demo_lab.path) in injected[0].source
    assert r.html and r.html.read_text().startswith("<!DOCTYPE html>")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_papermill_reads_every_parameter(path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """papermill's parameter parser warns "Unable to parse line" on a second `=`, even in a comment."""
    import papermill

    with caplog.at_level(logging.WARNING, logger="papermill"):
        found = papermill.inspect_notebook(str(path))
    assert "lab_path" in found
    assert not caplog.records, [r.getMessage() for r in caplog.records]


def _cli_run(lab: Path, *args: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    """`homelab-kit notebooks run` as a timer runs it: its own process, stderr not a terminal."""
    tmp.mkdir(exist_ok=True)
    cli = [sys.executable, "-c", "from homelab_kit.cli import run; run()"]
    return subprocess.run(
        [*cli, "--lab", str(lab), "notebooks", *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "TMPDIR": str(tmp)},  # where the kernels' socket folders go
    )


@pytest.mark.slow
def test_cli_run_prints_no_third_party_warnings(demo_lab: Lab, tmp_path: Path) -> None:
    """Kernel over TCP, papermill's parameter parser, kernel shutdown: nothing but our own lines."""
    names = ["00_inventory", "30_migrate_service", "40_capacity_planning"]
    done = _cli_run(
        demo_lab.path, "run", *names, "--out", str(tmp_path / "runs"), tmp=tmp_path / "t"
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [f"running {n} ..." for n in names]
    assert [line.split()[:2] for line in done.stdout.splitlines()] == [["ok", n] for n in names]
    assert not list((tmp_path / "t").iterdir()), "the kernels' socket folders are removed"


@pytest.mark.slow
def test_cli_failing_notebook_still_reports_on_stderr(tmp_path: Path) -> None:
    lab_file = tmp_path / "lab.toml"
    lab_file.write_text('[lab]\nname = "nb"\n[hosts.here]\ntransport = "local"\n')
    books = tmp_path / "books"
    books.mkdir()
    _notebook(books, "bad", "raise ValueError('boom')")
    done = _cli_run(lab_file, "--notebooks", str(books), "run", "bad", tmp=tmp_path / "t")
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "running bad ...",
        "homelab-kit: notebook bad failed: cell 3: ValueError: boom",
    ]


def test_listing_and_selection() -> None:
    books = list_runbooks()
    assert [b.name for b in books] == IDS and books[0].title
    assert [b.name for b in select_runbooks(["inventory"])] == ["00_inventory"]
    assert notebooks_dir() == NOTEBOOKS[0].parent
    with pytest.raises(Exception, match='no notebook "nope"'):
        select_runbooks(["nope"])


def test_parse_parameter() -> None:
    assert parse_parameter("days=30") == ("days", 30)
    assert parse_parameter("name=mealie") == ("name", "mealie")
    assert parse_parameter('x={"a": true}') == ("x", {"a": True})
    with pytest.raises(Exception, match="expected KEY=VALUE"):
        parse_parameter("no-equals")


def _notebook(folder: Path, name: str, source: str) -> Path:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('lab_path = ""\nanswer = 0')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [
        nbformat.v4.new_markdown_cell(f"# {name}"),
        params,
        nbformat.v4.new_code_cell(source),
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    path = folder / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.mark.slow
def test_cli_run_records_and_failures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A small lab of its own, two notebooks: one passes with a -p parameter, one raises."""
    lab_file = tmp_path / "lab.toml"
    lab_file.write_text('[lab]\nname = "nb"\n[hosts.here]\ntransport = "local"\n')
    books = tmp_path / "books"
    books.mkdir()
    _notebook(books, "good", "assert answer == 42 and lab_path.endswith('lab.toml')")
    _notebook(books, "bad", "raise ValueError('boom')")
    args = ["--lab", str(lab_file), "notebooks", "--notebooks", str(books)]
    assert main([*args, "list"]) == 0
    assert "good" in capsys.readouterr().out
    assert main([*args, "run", "good", "-p", "answer=42", "--out", str(tmp_path / "runs")]) == 0
    assert len(list((tmp_path / "runs").glob("*_good.ipynb"))) == 1
    assert len(list((tmp_path / "runs").glob("*_good.html"))) == 1
    capsys.readouterr()
    assert main([*args, "run", "bad"]) == 1
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("homelab-kit:")]
    assert err == ["homelab-kit: notebook bad failed: cell 3: ValueError: boom"]
    # without --out the record goes to the lab's runs_dir (here the same tmp_path / "runs")
    assert len(list((tmp_path / "runs").glob("*_bad.ipynb"))) == 1
    assert len(list((tmp_path / "runs").iterdir())) == 4  # two records, two HTML pages
    from homelab_kit.lab.model import load_lab

    runs = load_lab(lab_file).journal.frame("notebook")
    assert list(runs["status"]) == ["ok", "failed"]
    # cell 3 = execution count [3] in the record: papermill's injected parameters cell runs too
    assert runs.iloc[1]["summary"]["error"] == "cell 3: ValueError: boom"
    assert json.dumps(runs.iloc[0]["parameters"]).count("answer") == 1
