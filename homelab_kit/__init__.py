"""homelab_kit: run your homelab from one inventory, real back-ends and notebooks.

Start with `lab = homelab_kit.load_lab("lab.toml")`. Names are imported lazily (PEP 562) so the
CLI's fast paths do not pay for pandas or fabric.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # model and records
    "Backup": "inventory",
    "Host": "inventory",
    "Journal": "journal",
    "Lab": "inventory",
    "Selection": "inventory",
    "Service": "inventory",
    "load_lab": "inventory",
    # transport
    "LocalRunner": "runner",
    "Result": "runner",
    "Runner": "runner",
    # errors
    "CommandFailed": "errors",
    "CommandTimeout": "errors",
    "ConnectError": "errors",
    "ExecError": "errors",
    "HomelabError": "errors",
    "HostKeyError": "errors",
    "InventoryError": "errors",
    "PlanError": "errors",
    "ResticError": "errors",
    "StepFailed": "errors",
    "UnsafePathError": "errors",
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
