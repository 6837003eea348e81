"""The backup freshness board: green / amber / red per backup and per service, at a glance.

Input is what coverage.py already computes: `freshness(lab, now)` and `coverage(lab, now)`. The
pure functions here only map their statuses to three levels; `FreshnessBoard` draws them.

Levels:
- backup: red when a covered host's newest snapshot is overdue or missing, or a covered state dir
  is missing/empty in the newest snapshot; amber when a run seems missed (age past 80 % of max_age,
  which with the default max_age of 1.25 × the schedule is one whole period), a partial snapshot
  (restic exit 3) or a sudden size drop; green otherwise.
- service: per backup that covers it, the worse of that backup's freshness for the service's host
  and the service's coverage rows; overall the best of those, turned amber when another of its
  backups is worse. So red: no backup holds it fresh and complete (or none covers it at all);
  amber: one does, but another has a problem, or it waits for its migration.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from ..lab.timespec import format_duration

if TYPE_CHECKING:
    import pandas as pd

    from ..lab.model import Lab

LEVELS = ("green", "amber", "red")
COLOURS = {"green": "#2da44e", "amber": "#d4a72c", "red": "#cf222e"}
TINTS = {"green": "#dafbe1", "amber": "#fff8c5", "red": "#ffebe9"}
FRESHNESS_LEVEL = {"ok": "green", "overdue": "red", "never": "red"}
COVERAGE_LEVEL = {  # statuses of coverage.coverage(); anything new and unknown shows red
    "ok": "green",
    "pending_migration": "amber",
    "was_partial": "amber",
    "size_drop": "amber",
    "partial": "amber",
    "empty": "red",
    "disappeared": "red",
    "never": "red",
    "uncovered": "red",
}
DUE_FRACTION = 0.8  # of max_age: past this, a scheduled run was (probably) missed


def worst(levels: Iterable[str]) -> str:
    return max(levels, key=LEVELS.index, default="green")


def _age(td: Any) -> str:
    """'3d 4h', '5h 10m', '12m' — or '—' for a missing age."""
    try:
        return format_duration(td.total_seconds())
    except (AttributeError, ValueError):
        return "—"


def freshness_level(row: Any) -> tuple[str, str]:
    """(level, detail) for one freshness row (backup × covered host)."""
    level = FRESHNESS_LEVEL.get(row.status, "red")
    if row.status == "never":
        return level, f"{row.host}: no snapshot"
    detail = f"{row.host}: {_age(row.age)} old (max {_age(row.max_age)})"
    if level == "green" and row.age > row.max_age * DUE_FRACTION:
        return "amber", detail + ", a run looks missed"
    return level, detail + (", overdue" if level == "red" else "")


def coverage_level(row: Any, who: bool = True) -> tuple[str, str]:
    """(level, detail) for one coverage row; `who` prefixes the service (or the path)."""
    level = COVERAGE_LEVEL.get(row.status, "red")
    text = row.message or row.status
    if not who:
        return level, text
    where = next((w for w in (row.service, row.path, row.backup) if isinstance(w, str)), "?")
    return level, f"{where}: {text}"


def backup_levels(fresh: pd.DataFrame, cover: pd.DataFrame) -> pd.DataFrame:
    """One row per backup: level, status words and the details behind them."""
    import pandas as pd

    rows = []
    names = [b for b in [*fresh["backup"], *cover["backup"]] if isinstance(b, str)]
    for name in dict.fromkeys(names):
        found = [freshness_level(r) for r in fresh[fresh["backup"] == name].itertuples()]
        found += [
            coverage_level(r)
            for r in cover[cover["backup"] == name].itertuples()
            if r.status != "ok"
        ]
        level = worst(lvl for lvl, _ in found)
        details = list(dict.fromkeys(d for lvl, d in found if lvl != "green")) or [
            d for _, d in found[:1]
        ]
        rows.append({"backup": name, "level": level, "detail": "; ".join(details)})
    return pd.DataFrame(rows, columns=["backup", "level", "detail"])


def service_cells(
    fresh: pd.DataFrame, cover: pd.DataFrame, services: Iterable[str] = ()
) -> pd.DataFrame:
    """One row per (service, backup): level and detail. Coverage's `uncovered` rows (no backup
    covers the host) and `services` missing from `cover` altogether get a red row, backup None."""
    import pandas as pd

    fresh_by = {(r.backup, r.host): freshness_level(r) for r in fresh.itertuples()}
    svc_rows = cover[cover["service"].notna()]
    rows = []
    for (svc, backup), part in svc_rows.groupby(["service", "backup"], sort=False, dropna=False):
        found = [coverage_level(r, who=False) for r in part.itertuples()]
        host = part["host"].iloc[0]
        if (backup, host) in fresh_by:
            found.append(fresh_by[(backup, host)])
        level = worst(lvl for lvl, _ in found)
        details = list(dict.fromkeys(d for lvl, d in found if lvl != "green"))
        rows.append(
            {
                "service": svc,
                "backup": backup if isinstance(backup, str) else None,
                "level": level,
                "detail": "; ".join(details) or "ok",
            }
        )
    seen = set(svc_rows["service"])
    for svc in services:
        if svc not in seen:
            rows.append(
                {"service": svc, "backup": None, "level": "red", "detail": "no backup covers it"}
            )
    return pd.DataFrame(rows, columns=["service", "backup", "level", "detail"])


def service_levels(cells: pd.DataFrame) -> pd.DataFrame:
    """Per service: the best level any of its backups gives it, turned amber when another of its
    backups is worse (protected, but something needs a look). Worst services first."""
    import pandas as pd

    rows = []
    for svc, part in cells.groupby("service", sort=False):
        levels = list(part["level"])
        best = min(levels, key=LEVELS.index)
        level = best if worst(levels) == best else worst([best, "amber"])
        details = [
            f"{b if isinstance(b, str) else 'no backup'}: {d}"
            for b, lvl, d in zip(part["backup"], levels, part["detail"])
            if lvl != "green"
        ]
        rows.append({"service": svc, "level": level, "detail": "; ".join(details) or "ok"})
    out = pd.DataFrame(rows, columns=["service", "level", "detail"])
    rank = out["level"].map(LEVELS.index)
    return out.iloc[rank.sort_values(ascending=False, kind="stable").index].reset_index(drop=True)


def _dot(level: str, title: str = "") -> str:
    return (
        f"<span title='{html.escape(title, quote=True)}' style='display:inline-block;width:0.9em;"
        f"height:0.9em;border-radius:50%;background:{COLOURS[level]};vertical-align:middle'></span>"
    )


def board_html(
    backups: pd.DataFrame, cells: pd.DataFrame, services: pd.DataFrame, title: str = ""
) -> str:
    """The board as HTML: backup tiles, then a services × backups grid with an overall column."""
    counts = lambda df: " · ".join(  # noqa: E731
        f"{int((df['level'] == lvl).sum())} {lvl}" for lvl in LEVELS[::-1]
    )
    tiles = "".join(
        f"<div class='hk-board-backup' data-level='{r.level}' style='display:inline-block;"
        f"margin:2px 6px 6px 0;padding:6px 10px;border-left:6px solid {COLOURS[r.level]};"
        f"background:{TINTS[r.level]};max-width:28em;vertical-align:top;line-height:1.35'>"
        f"<b>{html.escape(r.backup)}</b> {_dot(r.level)}<br><small>{html.escape(r.detail)}</small></div>"
        for r in backups.itertuples()
    )
    names = [b for b in backups["backup"]]
    head = "".join(f"<th>{html.escape(b)}</th>" for b in names)
    body = []
    cell_at = {(c.service, c.backup): c for c in cells.itertuples()}
    for s in services.itertuples():
        tds = []
        for b in names:
            c = cell_at.get((s.service, b))
            tds.append(
                f"<td style='text-align:center'>{_dot(c.level, c.detail)}</td>"
                if c
                else "<td></td>"
            )
        body.append(
            f"<tr class='hk-board-service' data-level='{s.level}' style='background:{TINTS[s.level]}'>"
            f"<th style='text-align:left'>{html.escape(s.service)}</th>"
            f"<td style='text-align:center'>{_dot(s.level, s.detail)}</td>{''.join(tds)}"
            f"<td style='text-align:left'><small>{html.escape(s.detail)}</small></td></tr>"
        )
    heading = f"<h4>{html.escape(title)}</h4>" if title else ""
    return (
        f"{heading}<p><b>Backups</b> ({counts(backups)})</p>{tiles}"
        f"<p><b>Services</b> ({counts(services)})</p>"
        f"<table class='hk-board'><thead><tr><th>service</th><th>overall</th>{head}<th>why</th>"
        f"</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )


class FreshnessBoard(widgets.VBox):
    """Draws freshness + coverage frames as a traffic-light board; Refresh re-asks `refresh()`.

    `refresh` returns a new (fresh, cover) pair (e.g. re-running the checks at the current time).
    `.backups`, `.cells`, `.services` are the frames behind the picture.
    """

    def __init__(
        self,
        fresh: pd.DataFrame,
        cover: pd.DataFrame,
        *,
        services: Iterable[str] = (),
        refresh: Callable[[], tuple[pd.DataFrame, pd.DataFrame]] | None = None,
        title: str = "Backup freshness",
    ) -> None:
        self._services_all, self._refresh, self.title = tuple(services), refresh, title
        self.board = widgets.HTML()
        self.status = widgets.HTML()
        self.refresh_button = widgets.Button(
            description="Refresh", icon="refresh", disabled=refresh is None
        )
        self.refresh_button.on_click(self._on_refresh)
        controls = [self.refresh_button, self.status] if refresh is not None else [self.status]
        super().__init__([widgets.HBox(controls), self.board])
        self.update(fresh, cover)

    def update(self, fresh: pd.DataFrame, cover: pd.DataFrame) -> None:
        self.fresh, self.cover = fresh, cover
        self.backups = backup_levels(fresh, cover)
        self.cells = service_cells(fresh, cover, self._services_all)
        self.services = service_levels(self.cells)
        self.board.value = board_html(self.backups, self.cells, self.services, self.title)

    @property
    def level(self) -> str:
        """The board's worst level (for a one-word summary or a test)."""
        return worst([*self.backups["level"], *self.services["level"]])

    def _on_refresh(self, *_: Any) -> None:
        self.refresh_button.disabled = True
        self.status.value = "checking…"
        try:
            fresh, cover = self._refresh()
            self.update(fresh, cover)
            self.status.value = f"checked {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
        except Exception as exc:  # shown, not raised: a board must survive an unreachable repo
            self.status.value = f"<span style='color:#cf222e'>{html.escape(str(exc))}</span>"
        finally:
            self.refresh_button.disabled = False


def freshness_board(
    lab: Lab,
    now: datetime | None = None,
    backups: str = "all",
    *,
    snaps: dict[str, list] | None = None,
    fresh: pd.DataFrame | None = None,
    cover: pd.DataFrame | None = None,
) -> FreshnessBoard:
    """The board for a lab: freshness and coverage at `now` (given frames are reused as they are);
    Refresh re-checks at the time of the click."""
    from ..backups.coverage import coverage, freshness

    at = now or datetime.now(UTC)

    def check(when: datetime | None = None, snaps: dict[str, list] | None = None):
        when = when or datetime.now(UTC)
        return freshness(lab, when, backups, snaps=snaps), coverage(lab, when, backups, snaps=snaps)

    if fresh is None or cover is None:
        f, c = check(at, snaps)
        fresh = f if fresh is None else fresh
        cover = c if cover is None else cover
    return FreshnessBoard(fresh, cover, refresh=check, title=f"Backups of {lab.name}")
