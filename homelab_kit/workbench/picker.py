"""Host and service pickers: a selector box ("@server", "desk*", "a,b", "!x") and the matches.

The selector grammar is the inventory's own (`Selection.select`); a picker only shows what it
matched and lets the user adjust the ticks by hand. `LabPicker` narrows the services to those on
the chosen hosts (`lab.services_on`). Nothing here connects to a host.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from ..errors import InventoryError

if TYPE_CHECKING:
    from ..lab.model import Lab
    from ..lab.selection import Selection


def _label(name: str, obj: Any) -> str:
    """`name — detail` for the list: a host's os and roles, a service's host and port."""
    if hasattr(obj, "roles"):
        detail = " ".join([obj.os, *(f"@{r}" for r in obj.roles)])
    elif hasattr(obj, "state_dirs"):
        detail = f"on {obj.host}" + (f" :{obj.port}" if getattr(obj, "port", None) else "")
    else:
        detail = ""
    return f"{name} — {detail}" if detail else name


class SelectorPicker(widgets.VBox):
    """Type a selector, see what it matches, tick or untick by hand.

    `items` is a Selection (lab.hosts, lab.services, lab.backups); `.value` is the tuple of chosen
    names, `.selected` the chosen objects; `on_change(picker)` is called whenever they change.
    """

    def __init__(
        self,
        items: Selection,
        *,
        kind: str = "host",
        selector: str = "all",
        on_change: Callable[[SelectorPicker], Any] | None = None,
        rows: int = 6,
    ) -> None:
        self.kind, self._items, self._on_change = kind, items, on_change
        self.selector = widgets.Text(
            value=selector,
            description=f"{kind}s",
            placeholder="all, @role, name, glob*, a,b, !x",
            continuous_update=False,
        )
        self.choices = widgets.SelectMultiple(
            options=self._options(items), rows=rows, layout=widgets.Layout(width="auto")
        )
        self.status = widgets.HTML()
        self.selector.observe(self._on_selector, names="value")
        self.choices.observe(self._on_choices, names="value")
        super().__init__([self.selector, self.choices, self.status])
        self.apply_selector(selector)

    @staticmethod
    def _options(items: Mapping[str, Any]) -> list[tuple[str, str]]:
        return [(_label(name, obj), name) for name, obj in items.items()]

    @property
    def items(self) -> Selection:
        return self._items

    @property
    def value(self) -> tuple[str, ...]:
        return tuple(self.choices.value)

    @property
    def selected(self) -> dict[str, Any]:
        return {name: self._items[name] for name in self.choices.value}

    def apply_selector(self, selector: str) -> None:
        """Tick what the selector matches; a selector matching nothing says so and ticks nothing."""
        try:
            matched = list(self._items.select(selector)) if len(self._items) else []
        except InventoryError as exc:
            self.choices.value = ()
            self._say(f"<span style='color:#cf222e'>{html.escape(str(exc))}</span>")
            return
        self.choices.value = tuple(matched)
        self._report()

    def set_items(self, items: Selection) -> None:
        """Offer other items (e.g. the services of other hosts), re-applying the selector."""
        self._items = items
        with self.choices.hold_trait_notifications():
            self.choices.value = ()
            self.choices.options = self._options(items)
        self.apply_selector(self.selector.value)

    def _on_selector(self, change: dict[str, Any]) -> None:
        self.apply_selector(change["new"])

    def _on_choices(self, _change: dict[str, Any]) -> None:
        self._report()

    def _report(self) -> None:
        names = self.value
        shown = ", ".join(names) if names else "none"
        self._say(f"{len(names)} of {len(self._items)} {self.kind}s: {html.escape(shown)}")

    def _say(self, text: str) -> None:
        self.status.value = text
        if self._on_change is not None:
            self._on_change(self)


class LabPicker(widgets.HBox):
    """Hosts on the left, their services on the right; `.hosts`, `.services` are the chosen names."""

    def __init__(
        self,
        lab: Lab,
        *,
        hosts: str = "all",
        services: str = "all",
        on_change: Callable[[LabPicker], Any] | None = None,
    ) -> None:
        self.lab, self._on_change, self._ready = lab, on_change, False
        self.host_picker = SelectorPicker(lab.hosts, kind="host", selector=hosts)
        self.service_picker = SelectorPicker(
            self._services_on(self.host_picker.value), kind="service", selector=services
        )
        self.host_picker._on_change = self._hosts_changed
        self.service_picker._on_change = self._services_changed
        super().__init__([self.host_picker, self.service_picker])
        self._ready = True

    def _services_on(self, hosts: tuple[str, ...]) -> Selection:
        from ..lab.selection import Selection

        names = {s.name for h in hosts for s in self.lab.services_on(h)}
        return Selection({n: s for n, s in self.lab.services.items() if n in names}, "service")

    @property
    def hosts(self) -> tuple[str, ...]:
        return self.host_picker.value

    @property
    def services(self) -> tuple[str, ...]:
        return self.service_picker.value

    def _hosts_changed(self, _picker: SelectorPicker) -> None:
        if self._ready:
            self.service_picker.set_items(self._services_on(self.hosts))

    def _services_changed(self, _picker: SelectorPicker) -> None:
        if self._ready and self._on_change is not None:
            self._on_change(self)
