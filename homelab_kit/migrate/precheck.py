"""Before copying: do the source's databases open, and will the target's PostgreSQL open its data?

`check_source(lab, service)` runs the restore room's application checks (SQLite integrity,
PostgreSQL clusters and dumps, configs) on the migration's source folders on the compose host, and
compares each PostgreSQL data dir's major version with the target's `postgresql` (NixOS
`services.postgresql.package`, read by `import nix`): data dirs do not downgrade, and a newer server
needs pg_upgrade first. `migrate plan` shows it; `migrate apply` refuses a corrupt source. The
plan itself stays pure (planning connects to nothing); this is the one look at the source.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import PlanError
from ..restore.appcheck import check_apps
from ..restore.apps import AppCheck, failing, summary
from .planner import migration_paths

if TYPE_CHECKING:
    from ..lab.model import Host, Lab


@dataclass
class SourceCheck:
    """The application checks of a migration source, and the version warnings."""

    service: str
    host: str
    apps: list[AppCheck] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    note: str = ""

    @property
    def ok(self) -> bool:
        return not failing(self.apps)

    def lines(self) -> list[str]:
        """What `migrate plan` prints: the verdict, what is not ok, the warnings."""
        out = [f"app checks on {self.host} (the source): {self.note or summary(self.apps)}"]
        out += [
            f"  {a.status}: {a.path} ({a.kind}): {a.detail}" for a in self.apps if a.status != "ok"
        ]
        out += [f"  warning: {w}" for w in self.warnings]
        return out

    def _repr_html_(self) -> str:
        colour = "#1a7f37" if self.ok else "#cf222e"
        items = "".join(f"<li>{html.escape(line.strip())}</li>" for line in self.lines()[1:])
        return f"<p style='color:{colour}'>{html.escape(self.lines()[0])}</p>" + (
            f"<ul>{items}</ul>" if items else ""
        )


def postgres_warnings(versions: dict[str, str], target: Host) -> list[str]:
    """Pure: one warning per data dir whose major differs from the target's PostgreSQL."""
    out = []
    for path, major in sorted(versions.items()):
        if not target.postgresql:
            if target.os == "nixos":
                out.append(
                    f"{path} is a PostgreSQL {major} data dir; set hosts.{target.name}.postgresql "
                    "(`import nix` reads services.postgresql) to check the target can open it"
                )
            continue
        want = target.postgresql.split(".")[0]
        if not (major.isdigit() and want.isdigit()) or major == want:
            continue
        if int(major) > int(want):
            why = "data dirs do not downgrade"
        else:
            why = f"it will not start on it without pg_upgrade (or pin postgresql_{major})"
        out.append(
            f"{path} is a PostgreSQL {major} data dir but {target.name} runs PostgreSQL "
            f"{target.postgresql}: {why}; safer: pg_dump on the source, restore the dump there"
        )
    return out


def check_source(lab: Lab, service: str) -> SourceCheck:
    """The app checks of `service`'s migration source folders, on its compose host."""
    svc = lab.services[service]
    mf = svc.migrate_from
    if mf is None:
        raise PlanError(f"services.{service}: no migrate_from table; nothing to check")
    sources = [s for s, _ in migration_paths(lab, svc)]
    found = check_apps(lab.runner(mf.host), "/", sources, [svc])
    return SourceCheck(
        service,
        mf.host,
        found.apps,
        postgres_warnings(found.versions, lab.hosts[svc.host]),
        found.note,
    )
