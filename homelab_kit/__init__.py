"""homelab_kit: run your homelab from one inventory, real back-ends and notebooks.

Start with `lab = homelab_kit.load_lab("lab.toml")`. Names are imported lazily (PEP 562) so the
CLI's fast paths do not pay for pandas or fabric.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "Backup": "lab.model",
    "CommandFailed": "errors",
    "CommandTimeout": "errors",
    "ConnectError": "errors",
    "DeployPlan": "deploy.planner",
    "DrillReport": "restore.drill_report",
    "ExecError": "errors",
    "HomelabError": "errors",
    "Host": "lab.model",
    "HostKeyError": "errors",
    "HostResults": "transport.fanout",
    "InventoryError": "errors",
    "Journal": "journal",
    "Lab": "lab.model",
    "LocalRunner": "transport.runner",
    "Plan": "plans.plan",
    "PlanError": "errors",
    "Restic": "backups.restic",
    "ResticError": "errors",
    "RestoreReport": "restore.report",
    "Result": "transport.runner",
    "Runner": "transport.runner",
    "Selection": "lab.selection",
    "Service": "lab.model",
    "SshRunner": "transport.ssh",
    "Step": "plans.plan",
    "StepFailed": "errors",
    "UnsafePathError": "errors",
    "build_demo": "demo.build",
    "deploy_plan": "deploy.planner",
    "drill": "restore.drill",
    "drill_history": "restore.history",
    "ensure_safe_target": "plans.safety",
    "execute": "plans.plan",
    "forecast": "capacity.forecast",
    "freshness": "backups.coverage",
    "growth": "backups.analysis",
    "load_lab": "lab.model",
    "parse_compose": "ecosystem.compose.parse",
    "plan_migration": "migrate.planner",
    "restore_history": "restore.history",
    "restore_in_place": "restore.inplace",
    "restore_test": "restore.scratch",
    "run_on": "transport.fanout",
    "service_sizes": "backups.analysis",
    "snapshot_stats": "backups.analysis",
    "snapshots": "backups.analysis",
    "verify_restore": "restore.scratch",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'homelab_kit' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
