"""Driving a notebook in JupyterLab through its own command registry (the server is started with
`expose_app_in_browser`, so `window.jupyterapp` is there): open, wait for the kernel, run all
cells, wait until every cell has finished and the kernel is idle, save, read errors back.

Commands instead of menu clicks: a menu that moves or a toast over it cannot break the suite, and
`notebook:run-all-cells` resolves only when the last cell finished.
"""

from __future__ import annotations

import json
from pathlib import Path

IDLE = ".jp-Notebook-ExecutionIndicator[data-status='idle']"
BUSY_PROMPT = ".jp-CodeCell .jp-InputArea-prompt:has-text('[*]')"

_KERNEL_READY = """async () => {
  const w = window.jupyterapp.shell.currentWidget;
  await w.context.ready;
  await w.sessionContext.ready;
  return w.sessionContext.session?.kernel?.name ?? null;
}"""

_START = """(command) => {
  window.__hkDone = undefined;
  window.jupyterapp.commands.execute(command).then(
    () => { window.__hkDone = 'ok'; },
    (e) => { window.__hkDone = 'error: ' + e; });
}"""


def open_notebook(page, server, name: str, timeout: float = 120) -> None:
    """Open `name` in its own tab of the lab and wait until its kernel is started and idle."""
    # `reset`: start from an empty workspace, not the layout the previous test left behind
    page.goto(server.url(f"lab/tree/{name}?reset"))
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell", timeout=60_000)
    page.wait_for_function(
        "(n) => window.jupyterapp.shell.currentWidget?.context?.path?.endsWith(n)",
        arg=name,
        timeout=60_000,
    )
    page.wait_for_selector(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell", timeout=60_000)
    kernel = page.evaluate(_KERNEL_READY)
    assert kernel, f"{name}: no kernel started"
    wait_idle(page, timeout)


def command(page, name: str, timeout: float = 60) -> None:
    """Run a JupyterLab command and wait for its promise (e.g. run-all resolves when done)."""
    page.evaluate(_START, name)
    page.wait_for_function("() => window.__hkDone !== undefined", timeout=timeout * 1000)
    done = page.evaluate("() => window.__hkDone")
    assert done == "ok", f"{name}: {done}"


def wait_idle(page, timeout: float = 60) -> None:
    """Kernel idle and no cell running or queued."""
    page.wait_for_selector(IDLE, timeout=timeout * 1000)
    page.wait_for_function(
        "() => ![...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')]"
        ".some(p => p.textContent.includes('*'))",
        timeout=timeout * 1000,
    )
    page.wait_for_selector(IDLE, timeout=timeout * 1000)


def run_all(page, timeout: float = 300) -> None:
    """Run every cell top to bottom and wait until all finished and the kernel is idle."""
    command(page, "notebook:run-all-cells", timeout)
    wait_idle(page, timeout)


def save(page) -> None:
    command(page, "docmanager:save")


def error_outputs(path: Path) -> list[str]:
    """Error outputs of a saved notebook: 'cell N: Ename: value' lines."""
    nb = json.loads(path.read_text())
    found = []
    for i, cell in enumerate(nb["cells"]):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                found.append(f"cell {i}: {out.get('ename')}: {out.get('evalue')}")
    return found


def unexecuted_cells(path: Path) -> list[int]:
    """Indexes of non-empty code cells without an execution count (a run that stopped early)."""
    nb = json.loads(path.read_text())
    return [
        i
        for i, c in enumerate(nb["cells"])
        if c["cell_type"] == "code"
        and "".join(c["source"]).strip()
        and not c.get("execution_count")
    ]


def png_outputs(path: Path) -> int:
    """How many charts (image/png outputs) a saved notebook holds."""
    nb = json.loads(path.read_text())
    return sum(
        "image/png" in out.get("data", {}) for c in nb["cells"] for out in c.get("outputs", [])
    )
