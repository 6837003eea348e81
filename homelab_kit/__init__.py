"""homelab_kit: run your homelab from one inventory, real back-ends and notebooks.

Start with `lab = homelab_kit.load_lab("lab.toml")`. Names are imported lazily (PEP 562) so the
CLI's fast paths do not pay for pandas or fabric.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "Backup": "inventory",
    "CommandFailed": "errors",
    "CommandTimeout": "errors",
    "ConnectError": "errors",
    "DeployPlan": "deploy",
    "ExecError": "errors",
    "HomelabError": "errors",
    "Host": "inventory",
    "HostKeyError": "errors",
    "HostResults": "fanout",
    "InventoryError": "errors",
    "Journal": "journal",
    "Lab": "inventory",
    "LocalRunner": "runner",
    "Plan": "plan",
    "PlanError": "errors",
    "Restic": "restic",
    "ResticError": "errors",
    "RestoreReport": "report",
    "Result": "runner",
    "Runner": "runner",
    "Selection": "inventory",
    "Service": "inventory",
    "SshRunner": "ssh",
    "Step": "plan",
    "StepFailed": "errors",
    "UnsafePathError": "errors",
    "build_demo": "demo",
    "deploy_plan": "deploy",
    "ensure_safe_target": "safety",
    "execute": "plan",
    "forecast": "capacity",
    "freshness": "coverage",
    "growth": "backups",
    "load_lab": "inventory",
    "parse_compose": "compose",
    "plan_migration": "migrate",
    "restore_history": "restore",
    "restore_in_place": "restore",
    "restore_test": "restore",
    "run_on": "fanout",
    "service_sizes": "backups",
    "snapshot_stats": "backups",
    "snapshots": "backups",
    "verify_restore": "restore",
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
