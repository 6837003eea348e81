"""Browser fixtures: a JupyterLab server on loopback and Debian's Chromium driven by Playwright.

Playwright's own browser download does not work here and is never called: we launch
/usr/bin/chromium through `executable_path`.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from homelab_kit.workbench.labserver import LabServer, start_lab_server

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "tests" / "output" / "browser"
# the runbooks to test: notebooks/, or $HOMELAB_BROWSER_NOTEBOOKS (try edited copies first)
SOURCE = Path(os.environ.get("HOMELAB_BROWSER_NOTEBOOKS") or ROOT / "notebooks")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def browser_output() -> Path:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    return OUTPUT


@pytest.fixture(scope="session")
def notebook_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of notebooks/ so saving executed notebooks never touches the committed templates."""
    target = tmp_path_factory.mktemp("browser") / "notebooks"
    shutil.copytree(SOURCE, target)
    return target


@pytest.fixture(scope="session")
def browser_lab(request: pytest.FixtureRequest) -> Path:
    """lab.toml the notebooks run on: $HOMELAB_BROWSER_LAB (an already built demo lab, to save the
    build when iterating on these tests), else the session's demo lab."""
    given = os.environ.get("HOMELAB_BROWSER_LAB")
    if given:
        return Path(given).resolve()
    return request.getfixturevalue("demo_lab").path


@pytest.fixture(scope="session")
def lab_server(
    browser_lab: Path, notebook_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LabServer]:
    state = tmp_path_factory.mktemp("jupyter-state")
    server = start_lab_server(notebook_dir, state, env={"HOMELAB_LAB": str(browser_lab)})
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            "Debian's chromium is missing: `make test` installs it (apt-get install chromium)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item, so the page fixture knows a test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def page(
    request: pytest.FixtureRequest, browser, lab_server: LabServer, browser_output: Path
) -> Iterator[object]:
    """A fresh browser context per test; on failure a screenshot and the server log's tail are
    kept under tests/output/browser/; afterwards the test's kernels are shut down."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(30_000)
    pg = context.new_page()
    yield pg
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        stem = re.sub(r"[^\w.-]+", "_", request.node.name)
        try:
            pg.screenshot(path=str(browser_output / f"FAILED-{stem}.png"))
        except Exception as exc:  # the page may be gone; the log still helps
            print(f"no failure screenshot: {exc}")
        tail = lab_server.log.read_text(errors="replace").splitlines()[-40:]
        print("--- jupyter log (tail) ---", *tail, sep="\n")
    context.close()
    lab_server.shutdown_kernels()
