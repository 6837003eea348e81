"""The deploy panel: pick hosts and an action, show the plan, confirm, deploy, watch each host.

Logic-free like ui.py's panels: planning is deploy.deploy_plan, executing is the plan's own
`execute()`; the panel only wires widgets to them. Deploy stays disabled until the plan for the
*current* selection was shown and the confirmation box ticked; changing hosts or the action
withdraws both.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as widgets
from IPython.display import display

from ..deploy.planner import ACTIONS, deploy_plan
from ..errors import HomelabError

MARKS = {
    "planned": "◇",
    "running": "▶",
    "health": "♥",
    "rolling back": "↺",
    "ok": "✔",
    "skipped": "↷",
    "rolled_back": "↺",
}


class DeployPanel(widgets.VBox):
    """Host multi-select, action, Plan button (the plan table), Deploy button, per-host status."""

    def __init__(
        self,
        lab: Any,
        *,
        on: str = "all",
        action: str = "switch",
        dry_run: bool = True,
        **plan_options: Any,
    ) -> None:
        self.lab, self.dry_run, self.plan_options = lab, dry_run, plan_options
        self.plan: Any = None
        self.result: Any = None
        names = list(lab.hosts)
        self.hosts = widgets.SelectMultiple(
            options=names,
            value=tuple(lab.hosts.select(on)),
            description="hosts",
            rows=min(8, len(names)),
        )
        self.action = widgets.Dropdown(options=list(ACTIONS), value=action, description="action")
        self.plan_button = widgets.Button(description="Plan", icon="eye", button_style="info")
        label = "I reviewed the plan; deploy it" + (" (dry run)" if dry_run else "")
        self.confirm = widgets.Checkbox(description=label, indent=False)
        self.deploy_button = widgets.Button(
            description="Deploy", icon="play", button_style="danger", disabled=True
        )
        self.progress = widgets.IntProgress(value=0, min=0, max=1, description="hosts")
        self.status = widgets.HTML()
        self.host_table = widgets.HTML()
        self.output = widgets.Output()
        self._states: dict[str, tuple[str, str]] = {}
        self.plan_button.on_click(self._on_plan)
        self.deploy_button.on_click(self._on_deploy)
        self.confirm.observe(self._refresh, names="value")
        self.hosts.observe(self._withdraw, names="value")
        self.action.observe(self._withdraw, names="value")
        mode = "dry run: Deploy only marks hosts as planned" if dry_run else "live deploy"
        super().__init__(
            [
                widgets.HTML(f"<b>Deploy</b> — {mode}"),
                widgets.HBox([self.hosts, self.action]),
                widgets.HBox([self.plan_button, self.confirm, self.deploy_button]),
                self.progress,
                self.status,
                self.host_table,
                self.output,
            ]
        )

    def _refresh(self, *_: Any) -> None:
        self.deploy_button.disabled = not (self.plan is not None and self.confirm.value)

    def _withdraw(self, *_: Any) -> None:
        """The selection changed: the shown plan no longer applies."""
        self.plan = None
        self.confirm.value = False
        self.status.value = "selection changed: press Plan again"
        self._refresh()

    def _on_plan(self, *_: Any) -> None:
        self.output.clear_output()
        self.confirm.value = False
        self.plan = None
        try:
            plan = deploy_plan(
                self.lab,
                on=list(self.hosts.value) or "all",
                action=self.action.value,
                dry_run=self.dry_run,
                **self.plan_options,
            )
        except HomelabError as exc:
            self.status.value = f"<span style='color:#b00'>{html.escape(str(exc))}</span>"
            self._refresh()
            return
        with self.output:
            display(plan)
        self.plan = plan
        self.progress.max, self.progress.value, self.progress.bar_style = len(plan.hosts), 0, ""
        self._states = {hd.host: ("planned", hd.note) for hd in plan.hosts}
        self._render()
        self.status.value = f"plan shown: {len(plan.hosts)} hosts, nothing executed"
        self._refresh()

    def on_event(self, host: str, status: str, detail: str) -> None:
        """Called by the rollout (from worker threads) whenever a host changes state."""
        self._states[host] = (status, detail)
        busy = ("planned", "running", "health", "rolling back")
        self.progress.value = sum(s not in busy for s, _ in self._states.values())
        self._render()

    def _render(self) -> None:
        rows = "".join(
            f"<tr><td>{html.escape(h)}</td><td>{MARKS.get(s, '✘')} {html.escape(s)}</td>"
            f"<td>{html.escape(d[-200:])}</td></tr>"
            for h, (s, d) in self._states.items()
        )
        self.host_table.value = (
            f"<table><tr><th>host</th><th>status</th><th></th></tr>{rows}</table>"
        )

    def _on_deploy(self, *_: Any) -> None:
        plan = self.plan
        if plan is None:
            return
        self.deploy_button.disabled = True
        self.confirm.value = False
        try:
            self.result = plan.execute(progress=False, on_event=self.on_event)
        except HomelabError as exc:
            self.progress.bar_style = "danger"
            self.status.value = f"<span style='color:#b00'>{html.escape(str(exc))}</span>"
            return
        self.progress.value = self.progress.max
        self.progress.bar_style = "success" if self.result.ok else "danger"
        with self.output:
            display(self.result)
        self.status.value = html.escape(repr(self.result))
        self.plan = None  # one confirmation, one deploy
        self._refresh()
