"""ipywidgets panels for the runbook notebooks: small, logic-free, driven by callables.

A panel only wires buttons to the callables it is given and shows what they return; planning and
executing live in the package (plan.py, migrate.py, ...), never here or in a notebook.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets
from IPython.display import display

from ..errors import HomelabError


class PlanPanel(widgets.VBox):
    """Dry-run shows the plan; Apply stays disabled until it was shown and the box is ticked.

    `show()` returns the plan (anything with `_repr_html_` and `len()`); `apply(on_step=...)` runs it
    and calls `on_step(index, step, status)` per step, which drives the progress bar and step list.
    """

    def __init__(
        self, show: Callable[[], Any], apply: Callable[..., Any], *, title: str = ""
    ) -> None:
        self._show, self._apply, self._shown = show, apply, False
        self.dry_run = widgets.Button(description="Dry run", icon="eye", button_style="info")
        self.confirm = widgets.Checkbox(description="I reviewed the plan; apply it", indent=False)
        self.apply_button = widgets.Button(
            description="Apply", icon="play", button_style="danger", disabled=True
        )
        self.progress = widgets.IntProgress(value=0, min=0, max=1, description="steps")
        self.status = widgets.HTML()
        self.output = widgets.Output()
        self.dry_run.on_click(self._on_dry_run)
        self.confirm.observe(self._refresh, names="value")
        self.apply_button.on_click(self._on_apply)
        header = [widgets.HTML(f"<b>{html.escape(title)}</b>")] if title else []
        controls = widgets.HBox([self.dry_run, self.confirm, self.apply_button])
        super().__init__([*header, controls, self.progress, self.status, self.output])

    def _refresh(self, *_: Any) -> None:
        self.apply_button.disabled = not (self._shown and self.confirm.value)

    def _on_dry_run(self, *_: Any) -> None:
        self.output.clear_output()
        with self.output:
            plan = self._show()
            display(plan)
        self.progress.max = max(1, len(plan))
        self.progress.value = 0
        self._shown = True
        self.status.value = f"dry run shown: {len(plan)} steps, nothing executed"
        self._refresh()

    def on_step(self, index: int, step: Any, status: str) -> None:
        """Per-step progress: the bar counts finished steps, the line names the current one."""
        if status != "running":
            self.progress.value = index
        mark = {"running": "▶", "ok": "✔", "skipped": "↷", "failed": "✘"}.get(status, "·")
        self.status.value = f"{mark} step {index}: {html.escape(step.title)} ({status})"

    def _on_apply(self, *_: Any) -> None:
        self.apply_button.disabled = True
        self.confirm.value = False
        self.progress.value = 0
        try:
            self._apply(on_step=self.on_step)
        except HomelabError as exc:
            self.progress.bar_style = "danger"
            self.status.value = f"<span style='color:#b00'>{html.escape(str(exc))}</span>"
            return
        self.progress.bar_style = "success"
        self.status.value = f"done: {self.progress.value} steps"
