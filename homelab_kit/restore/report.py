"""RestoreReport: what a restore test restored, what it checked, and every difference it found.

Kept free of pandas until `problems` is asked for, so the CLI can print JSON without importing it.
The restore and verify seconds are the RTO figures; `checks` says which checks ran and which were
skipped and why (owners when not root, content with `none`), so "skipped" never reads as "passed".
`apps` (apps.py) says whether each restored database and config opens: a corrupt or inconsistent
one fails the report even when every byte matched.
"""

from __future__ import annotations

import html
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .apps import AppCheck, failing
from .apps import counts as app_counts
from .apps import summary as app_summary

if TYPE_CHECKING:
    import pandas as pd

PROBLEM_COLUMNS = ("path", "kind", "expected", "found")
APP_COLUMNS = ("path", "service", "kind", "status", "detail")
JOURNAL_PROBLEMS = 200  # problems kept in the journal summary (the counts are always complete)
JOURNAL_APPS = 500  # app checks kept in the journal summary (databases first)


@dataclass
class RestoreReport:
    """The outcome of restore_test / verify_restore."""

    backup: str
    host: str
    snapshot_id: str
    target: str
    content: str = "full"
    paths: tuple[str, ...] | None = None
    snapshot_time: str | None = None
    restic_version: str = ""
    problem_list: list[dict[str, str]] = field(default_factory=list)
    files: int = 0
    dirs: int = 0
    symlinks: int = 0
    other: int = 0
    bytes: int = 0
    content_files: int = 0
    content_bytes: int = 0
    checks: dict[str, str] = field(default_factory=dict)
    restore_seconds: float | None = None
    verify_seconds: float = 0.0
    kept: bool = True
    run_id: int | None = None
    kind: str = "restore-test"
    apps: list[AppCheck] = field(default_factory=list)
    app_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problem_list and not failing(self.apps)

    @property
    def app_frame(self) -> pd.DataFrame:
        """One row per database or config found: path, service, kind, status, detail."""
        import pandas as pd

        return pd.DataFrame([a.to_dict() for a in self.apps], columns=list(APP_COLUMNS))

    @property
    def problems(self) -> pd.DataFrame:
        """One row per difference: path, kind, expected, found."""
        import pandas as pd

        return pd.DataFrame(self.problem_list, columns=list(PROBLEM_COLUMNS))

    @property
    def counts(self) -> dict[str, int]:
        """Problems per kind."""
        return dict(Counter(p["kind"] for p in self.problem_list))

    @property
    def throughput(self) -> float | None:
        """Restored megabytes per second (None without a restore)."""
        if not self.restore_seconds:
            return None
        return self.bytes / 1e6 / self.restore_seconds

    def to_dict(self, max_problems: int | None = None) -> dict[str, Any]:
        """JSON-able; `problems` is cut to max_problems (the per-kind counts stay complete)."""
        problems = self.problem_list if max_problems is None else self.problem_list[:max_problems]
        apps = self.apps if max_problems is None else self.apps[:JOURNAL_APPS]
        return {
            "ok": self.ok,
            "kind": self.kind,
            "problems": problems,
            "problem_counts": self.counts,
            "problems_total": len(self.problem_list),
            "files": self.files,
            "dirs": self.dirs,
            "symlinks": self.symlinks,
            "other": self.other,
            "bytes": self.bytes,
            "content_files": self.content_files,
            "content_bytes": self.content_bytes,
            "restore_seconds": self.restore_seconds,
            "verify_seconds": self.verify_seconds,
            "restic_version": self.restic_version,
            "snapshot_id": self.snapshot_id,
            "snapshot_time": self.snapshot_time,
            "backup": self.backup,
            "host": self.host,
            "target": self.target,
            "kept": self.kept,
            "paths": list(self.paths) if self.paths else None,
            "content": self.content,
            "checks": self.checks,
            "run_id": self.run_id,
            "apps": [a.to_dict() for a in apps],
            "app_counts": app_counts(self.apps),
            "app_seconds": self.app_seconds,
        }

    def summary_line(self) -> str:
        bad = failing(self.apps)
        verdict = (
            "verified clean"
            if self.ok
            else f"{len(self.problem_list) + len(bad)} problem(s): "
            + ", ".join(
                [f"{k} {n}" for k, n in sorted(self.counts.items())]
                + [f"app {k} {n}" for k, n in app_counts(bad).items()]
            )
        )
        restore = (
            f"restore {self.restore_seconds:.1f}s, " if self.restore_seconds is not None else ""
        )
        return (
            f"{self.backup} snapshot {self.snapshot_id[:8]}: {verdict} — {self.files} files, "
            f"{self.dirs} dirs, {self.bytes / 1e6:.1f} MB; {restore}verify {self.verify_seconds:.1f}s; "
            f"content {self.content} ({self.content_files} files checked); "
            f"applications {self.checks.get('applications') or app_summary(self.apps)}"
        )

    def __repr__(self) -> str:
        return f"<RestoreReport {self.summary_line()}>"

    def _repr_html_(self) -> str:
        colour = "#1a7f37" if self.ok else "#cf222e"
        bad = len(self.problem_list) + len(failing(self.apps))
        verdict = "verified clean" if self.ok else f"{bad} problem(s)"
        rows = {
            "snapshot": f"{self.snapshot_id[:8]} ({self.snapshot_time or '?'})",
            "backup / host": f"{self.backup} / {self.host}",
            "target": self.target + ("" if self.kept else " (removed)"),
            "restored": f"{self.files} files, {self.dirs} dirs, {self.symlinks} symlinks, "
            f"{self.other} other, {self.bytes / 1e6:.1f} MB",
            "content": f"{self.content}: {self.content_files} files, {self.content_bytes / 1e6:.1f} MB compared",
            "restore time": "-"
            if self.restore_seconds is None
            else f"{self.restore_seconds:.2f} s",
            "verify time": f"{self.verify_seconds:.2f} s",
            "application checks time": f"{self.app_seconds:.2f} s",
            "restic": self.restic_version,
            **{f"check: {k}": v for k, v in self.checks.items()},
        }
        body = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th><td style='text-align:left'>"
            f"{html.escape(str(v))}</td></tr>"
            for k, v in rows.items()
        )
        out = f"<h4 style='color:{colour}'>Restore test: {verdict}</h4><table>{body}</table>"
        if not self.ok:
            shown = self.problems.head(50)
            out += f"<p>Problems ({len(self.problem_list)}; first {len(shown)} shown)</p>"
            out += shown.to_html(index=False)
        if self.apps:
            out += "<p>Applications: does each database and config open?</p>"
            out += self.app_frame.to_html(index=False)
        return out
