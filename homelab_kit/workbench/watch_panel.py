"""The watch panel's button: send a test notification to every [notify] URL and say what happened."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from ..errors import HomelabError

if TYPE_CHECKING:
    from ..lab.model import Lab


class NotifyButton(widgets.VBox):
    """Disabled (with the reason) when the lab has no notification URLs."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.button = widgets.Button(
            description="Send test notification", icon="bell", button_style="info",
            disabled=not lab.notify.configured, layout=widgets.Layout(width="auto"),
        )  # fmt: skip
        self.status = widgets.HTML(
            "" if lab.notify.configured else "no [notify] urls in lab.toml: nothing to send to"
        )
        self.button.on_click(self.send)
        super().__init__([self.button, self.status])

    def send(self, *_: Any) -> None:
        from ..watch.notify import test_message

        try:
            d = test_message(self.lab)
        except HomelabError as exc:
            self.status.value = f"<span style='color:#b00'>{html.escape(str(exc))}</span>"
            return
        targets = ", ".join(map(html.escape, d.targets))
        self.status.value = (
            f"sent to {targets}"
            if d.sent
            else f"<span style='color:#b00'>not delivered to {targets}: {html.escape(d.error or '')}</span>"
        )


def notify_button(lab: Lab) -> NotifyButton:
    return NotifyButton(lab)
