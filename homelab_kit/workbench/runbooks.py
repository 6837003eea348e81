"""Living runbooks: execute notebooks/*.ipynb with papermill against a lab and keep run records.

Each run writes a dated executed copy (the run record) and its HTML export next to it, and a
journal run of kind "notebook". A failing cell is reported in one line: notebook, cell, error.
Templates stay clean (no outputs); the executed copies carry the outputs. Kernels run headless
as kernel.py sets them up (private sockets, no interrupt at shutdown), so a timer's log gets no
third-party warnings.
"""

from __future__ import annotations

import fnmatch
import json
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import HomelabError

if TYPE_CHECKING:
    from ..lab.model import Lab


class NotebookNotFound(HomelabError):
    """No notebooks folder, or no notebook by that name."""


@dataclass(frozen=True)
class Runbook:
    """A notebook template: its name (file stem), path and title (its first heading)."""

    name: str
    path: Path
    title: str = ""


@dataclass
class RunbookResult:
    """One execution: where its record and HTML are, and the failing cell's error if any."""

    name: str
    status: str  # ok | failed
    output: Path
    html: Path | None = None
    error: str | None = None
    seconds: float = 0.0
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def notebooks_dir(explicit: str | os.PathLike | None = None) -> Path:
    """--notebooks DIR, else the repository's notebooks/ next to the package, else ./notebooks."""
    candidates = (
        [Path(explicit)]
        if explicit
        else [Path(__file__).resolve().parent.parent / "notebooks", Path("notebooks")]
    )
    for c in candidates:
        if c.is_dir():
            return c.resolve()
    shown = ", ".join(str(c) for c in candidates)
    raise NotebookNotFound(f"no notebooks folder at {shown}; pass --notebooks DIR")


def _title(path: Path) -> str:
    try:
        cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError):
        return ""
    for cell in cells:
        if cell.get("cell_type") == "markdown":
            for line in "".join(cell.get("source", "")).splitlines():
                if line.startswith("#"):
                    return line.lstrip("# ").strip()
    return ""


def list_runbooks(folder: str | os.PathLike | None = None) -> list[Runbook]:
    """Every notebook template in the folder, sorted by name (checkpoints skipped)."""
    root = notebooks_dir(folder)
    return [Runbook(p.stem, p, _title(p)) for p in sorted(root.glob("*.ipynb"))]


def select_runbooks(names: list[str], folder: str | os.PathLike | None = None) -> list[Runbook]:
    """Notebooks by name: a stem ("00_inventory"), a part of it ("inventory") or a glob; all if empty."""
    books = list_runbooks(folder)
    if not names:
        return books
    chosen: list[Runbook] = []
    for n in names:
        stem = Path(n).stem
        found = [b for b in books if b.name == stem] or [
            b for b in books if fnmatch.fnmatchcase(b.name, stem) or stem in b.name
        ]
        if not found:
            known = ", ".join(b.name for b in books) or "none"
            raise NotebookNotFound(f'no notebook "{n}" in {notebooks_dir(folder)}; known: {known}')
        chosen += [b for b in found if b not in chosen]
    return chosen


def parse_parameter(text: str) -> tuple[str, Any]:
    """KEY=VALUE from the command line; VALUE is JSON when it parses (3, true, "x"), else a string."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip().isidentifier():
        raise HomelabError(f"-p {text}: expected KEY=VALUE with KEY a Python name, e.g. -p days=30")
    try:
        return key.strip(), json.loads(value)
    except ValueError:
        return key.strip(), value


def _error_line(exc: Exception) -> str:
    """papermill's PapermillExecutionError → "cell N: Ename: evalue" (one line)."""
    cell = getattr(exc, "exec_count", None) or getattr(exc, "cell_index", None)
    ename, evalue = getattr(exc, "ename", type(exc).__name__), getattr(exc, "evalue", str(exc))
    text = f"{ename}: {evalue}".strip().splitlines()
    where = f"cell {cell}: " if cell is not None else ""
    return where + (text[0] if text else ename)


def export_html(notebook: Path) -> Path:
    """The executed notebook as a standalone HTML page next to it."""
    import nbformat
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_notebook_node(nbformat.read(notebook, as_version=4))
    out = notebook.with_suffix(".html")
    out.write_text(body, encoding="utf-8")
    return out


def run_runbook(
    lab: Lab,
    book: Runbook | str | os.PathLike,
    *,
    out_dir: str | os.PathLike | None = None,
    parameters: dict[str, Any] | None = None,
    now: datetime | None = None,
    html: bool = True,
    kernel: str = "python3",
    timeout: float | None = 1800,
) -> RunbookResult:
    """Execute one notebook against the lab; the run record is `<out>/<UTC stamp>_<name>.ipynb`."""
    import papermill as pm

    from .kernel import headless_kernel

    book = book if isinstance(book, Runbook) else Runbook(Path(book).stem, Path(book))
    from ..outfile import ensure_dir

    out = ensure_dir(Path(out_dir) if out_dir else lab.runs_dir, what="notebook run records")
    stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H%M%SZ")
    output = out / f"{stamp}_{book.name}.ipynb"
    params = {"lab_path": str(lab.path), **(parameters or {})}
    result = RunbookResult(book.name, "ok", output, parameters=params)
    start = time.monotonic()
    with lab.journal.run("notebook", {"notebook": book.name, "parameters": params}) as run:
        try:
            with headless_kernel() as config:
                pm.execute_notebook(
                    str(book.path), str(output), parameters=params, kernel_name=kernel, config=config,
                    cwd=str(book.path.parent), progress_bar=False, log_output=False, execution_timeout=timeout,
                )  # fmt: skip
        except Exception as exc:  # papermill raises PapermillExecutionError, kernels raise others
            result.status, result.error = "failed", _error_line(exc)
        result.seconds = time.monotonic() - start
        if html and output.exists():
            try:
                result.html = export_html(output)
            except Exception as exc:  # an export problem must not hide the run's own result
                result.error = result.error or f"HTML export failed: {exc}"
        run.status = result.status
        run.summary = {"output": str(output), "html": str(result.html) if result.html else None,
                       "error": result.error, "seconds": round(result.seconds, 2)}  # fmt: skip
        run.step(
            book.name, status=result.status, stderr=result.error or "", data={"output": str(output)}
        )
    return result


__all__ = [
    "NotebookNotFound",
    "Runbook",
    "RunbookResult",
    "list_runbooks",
    "notebooks_dir",
    "run_runbook",
    "select_runbooks",
]
