"""The restore-test launcher: pick a backup, a snapshot, paths and a content check; run; see why.

The launcher calls what it is given — `run(backup, snapshot, paths, content=...)` is
restore.restore_test bound to a lab — and shows the RestoreReport it returns, the history and its
chart. The verification's tqdm bars render in the launcher's `live` area while it runs; results
go to `output` and `history_output` as widget state (`.outputs`), never mixed with captured
output in the same area (the front end would apply a captured clear after the state update).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from ..errors import HomelabError

if TYPE_CHECKING:
    import pandas as pd

    from ..lab.model import Lab

CONTENT_CHOICES = ("full", "sample:5%", "sample:20%", "none")
STAGES = ("ready", "restoring and verifying", "recording history", "done")


def _mb(n: float | None) -> str:
    return "—" if n is None else f"{n / 1e6:,.1f} MB"


def _as_image(fig: Any) -> Any:
    """A matplotlib Figure as a PNG image (independent of the kernel's matplotlib backend)."""
    if not hasattr(fig, "savefig"):
        return fig
    import io

    from IPython.display import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    return Image(data=buf.getvalue(), format="png")


def snapshot_options(records: Sequence[dict[str, Any]]) -> list[tuple[str, str]]:
    """Dropdown entries for snapshots, newest first after 'latest': ('2024-06-01 23:30 · 1a2b3c4d', id)."""
    opts = [("latest", "latest")]
    for r in sorted(records, key=lambda r: r["time"], reverse=True):
        opts.append((f"{r['time']:%Y-%m-%d %H:%M} · {r['short_id']} · {r['host']}", r["id"]))
    return opts


def split_paths(text: str) -> list[str]:
    """Paths typed one per line or comma-separated."""
    return [p.strip() for chunk in text.splitlines() for p in chunk.split(",") if p.strip()]


class RestoreLauncher(widgets.VBox):
    """Run restore tests from a notebook; `.report` is the last RestoreReport, `.error` the last error.

    - `run(backup, snapshot, paths_or_None, content=...)` -> RestoreReport (required);
    - `snapshots(backup)` -> snapshot records, to fill the snapshot list (optional);
    - `history()` -> DataFrame and `chart(history)` -> Figure, shown after each run (optional).
    """

    def __init__(
        self,
        backups: Sequence[str],
        run: Callable[..., Any],
        *,
        snapshots: Callable[[str], Sequence[dict[str, Any]]] | None = None,
        history: Callable[[], pd.DataFrame] | None = None,
        chart: Callable[[pd.DataFrame], Any] | None = None,
        backup: str | None = None,
        content: str = "full",
        paths: Sequence[str] = (),
    ) -> None:
        self._run, self._snapshots, self._history, self._chart = run, snapshots, history, chart
        self.report: Any = None
        self.runs = 0
        self.history: pd.DataFrame | None = None
        self.error: BaseException | None = None
        names = list(backups)
        self.backup = widgets.Dropdown(
            options=names, value=backup or (names[0] if names else None), description="backup"
        )
        self.snapshot = widgets.Dropdown(options=[("latest", "latest")], description="snapshot")
        self.content = widgets.Combobox(
            value=content, options=list(CONTENT_CHOICES), description="content",
            placeholder="full | sample:N% | none", ensure_option=False,
        )  # fmt: skip
        self.paths = widgets.Textarea(
            value="\n".join(paths),
            description="paths",
            placeholder="restore only these snapshot paths (one a line); empty = everything",
            rows=2,
        )
        self.run_button = widgets.Button(
            description="Run restore test", icon="play", button_style="primary",
            disabled=not names,
        )  # fmt: skip
        self.progress = widgets.IntProgress(
            value=0, min=0, max=len(STAGES) - 1, description="ready"
        )
        self.status = widgets.HTML()
        self.live = widgets.Output()
        self.output = widgets.Output()
        self.history_output = widgets.Output()
        self.backup.observe(self._on_backup, names="value")
        self.run_button.on_click(self._on_run)
        form = widgets.VBox([self.backup, self.snapshot, self.content, self.paths])
        super().__init__(
            [form, widgets.HBox([self.run_button, self.progress]), self.status, self.live,
             self.output, self.history_output]
        )  # fmt: skip
        self.load_snapshots()

    def load_snapshots(self) -> None:
        """Fill the snapshot list for the chosen backup (keeps 'latest' if listing fails)."""
        if self._snapshots is None or not self.backup.value:
            return
        try:
            opts = snapshot_options(self._snapshots(self.backup.value))
        except HomelabError as exc:
            self._say("red", f"cannot list snapshots: {exc}")
            opts = [("latest", "latest")]
        self.snapshot.options = opts
        self.snapshot.value = "latest"

    def _on_backup(self, _change: dict[str, Any]) -> None:
        self.load_snapshots()

    def _stage(self, index: int) -> None:
        self.progress.value = index
        self.progress.description = STAGES[index]

    def _say(self, colour: str, text: str) -> None:
        css = {"red": "#cf222e", "green": "#1a7f37", "grey": "#57606a"}[colour]
        self.status.value = f"<span style='color:{css}'>{html.escape(text)}</span>"

    def _on_run(self, *_: Any) -> None:
        """One run; afterwards `.runs` counts it and the box carries the class `hk-runs-N`, a
        completion mark a browser test can wait for."""
        self.run_button.disabled = True
        try:
            self._run_once()
        finally:
            self.run_button.disabled = False
            self.remove_class(f"hk-runs-{self.runs}")
            self.runs += 1
            self.add_class(f"hk-runs-{self.runs}")

    def _run_once(self) -> None:
        self.progress.bar_style = "info"
        self.report, self.error = None, None
        self.live.clear_output()
        self.output.outputs = ()
        backup, snapshot = self.backup.value, self.snapshot.value
        paths = split_paths(self.paths.value) or None
        self._stage(1)
        self._say("grey", f"restoring {snapshot} of {backup} into a scratch folder…")
        # the verification's tqdm bars render in `live`; an unexpected exception's traceback
        # is shown there too (the Output widget swallows it in a kernel)
        with self.live:
            try:
                self.report = self._run(backup, snapshot, paths, content=self.content.value)
            except HomelabError as exc:
                self.error = exc
        if self.report is None:
            if self.error is not None:  # else keep the traceback `live` shows
                self.live.clear_output()
            self.progress.bar_style = "danger"
            self._say("red", f"✘ {self.error or 'the restore test failed; see the traceback'}")
            return
        self.live.clear_output()  # the finished tqdm bars' widgets are closed by now
        self.output.append_display_data(self.report)
        self._show_result(self.report)
        self._stage(2)
        self.show_history()
        self._stage(3)

    def _show_result(self, r: Any) -> None:
        timing = f"restore {r.restore_seconds or 0:.1f} s, verify {r.verify_seconds:.1f} s"
        if r.ok:
            self.progress.bar_style = "success"
            self._say("green", f"✔ {r.files} files, {_mb(r.bytes)} verified clean ({timing})")
        else:
            kinds = ", ".join(f"{n} {k}" for k, n in sorted(r.counts.items()))
            self.progress.bar_style = "danger"
            self._say("red", f"✘ {len(r.problem_list)} problems: {kinds} ({timing})")

    def show_history(self) -> None:
        """Redraw the history table (last 10) and chart, when those callables were given."""
        if self._history is None:
            return
        self.history = self._history()
        self.history_output.outputs = ()
        self.history_output.append_display_data(self.history.tail(10))
        if self._chart is not None:
            self.history_output.append_display_data(_as_image(self._chart(self.history)))


def restore_launcher(lab: Lab, backup: str | None = None, **kwargs: Any) -> RestoreLauncher:
    """A launcher wired to restore.restore_test, the lab's snapshots, history and chart."""
    from functools import partial

    from ..backups import analysis as bk
    from ..restore.history import restore_history
    from ..restore.scratch import restore_test
    from .plots.restore import restore_history_chart

    return RestoreLauncher(
        list(lab.backups),
        partial(restore_test, lab),
        snapshots=partial(bk.snapshot_records, lab),
        history=partial(restore_history, lab),
        chart=restore_history_chart,
        backup=backup,
        **kwargs,
    )
