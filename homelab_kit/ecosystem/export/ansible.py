"""The lab as an Ansible YAML inventory: a group per role and os, host vars, services and backups.

Pure: a Lab in, a dict or YAML text out (`ansible-inventory --list` accepts it).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ...lab.model import Lab


def ansible_group(name: str) -> str:
    """A valid Ansible group name (letters, digits, underscores; not starting with a digit)."""
    g = re.sub(r"[^A-Za-z0-9_]", "_", name)
    return f"_{g}" if g[:1].isdigit() else g


def ansible_inventory(lab: Lab) -> dict[str, Any]:
    """The inventory as a dict: all.hosts with connection vars and homelab_* host vars, and a child
    group per role and per os (the same names `@role` selects)."""
    hosts: dict[str, Any] = {}
    groups: dict[str, dict[str, Any]] = {}
    for h in lab.hosts.values():
        v: dict[str, Any] = {
            "ansible_host": h.address,
            "ansible_user": h.user,
            "ansible_port": h.port,
        }
        if h.transport == "local":
            v["ansible_connection"] = "local"
        if h.identity_file:
            v["ansible_ssh_private_key_file"] = str(h.identity_file)
        if lab.known_hosts:
            v["ansible_ssh_common_args"] = (
                f"-o UserKnownHostsFile={lab.known_hosts} -o StrictHostKeyChecking=yes"
            )
        v["homelab_os"] = h.os
        v["homelab_roles"] = list(h.roles)
        if h.flake:
            v["homelab_flake"] = h.flake
        services = {s.name: _service_vars(s) for s in lab.services_on(h.name)}
        if services:
            v["homelab_services"] = services
        backups = {b.name: _backup_vars(b) for b in lab.backups.values() if b.host == h.name}
        if backups:
            v["homelab_backups"] = backups
        hosts[h.name] = v
        for g in (*h.roles, h.os):
            groups.setdefault(ansible_group(g), {"hosts": {}})["hosts"][h.name] = None
    # Ansible shares one namespace for hosts and groups: a role named like a host gets "_hosts".
    groups = {(f"{g}_hosts" if g in hosts else g): v for g, v in groups.items()}
    inv: dict[str, Any] = {"all": {"hosts": hosts}}
    if lab.domain:
        inv["all"]["vars"] = {"homelab_lab": lab.name, "homelab_domain": lab.domain}
    else:
        inv["all"]["vars"] = {"homelab_lab": lab.name}
    if groups:
        inv["all"]["children"] = dict(sorted(groups.items()))
    return inv


def _service_vars(s: Any) -> dict[str, Any]:
    keys = ("port", "fqdn", "user", "group", "unit", "health", "image")
    out = {k: getattr(s, k) for k in keys if getattr(s, k) is not None}
    out["state_dirs"] = list(s.state_dirs)
    return out


def _backup_vars(b: Any) -> dict[str, Any]:
    """No password_command: it may carry a secret's location or a token; the file path is fine."""
    out = {
        "repository": b.repository,
        "schedule": b.schedule,
        "covers": list(b.covers),
        "max_age_seconds": int(b.max_age.total_seconds()),
    }
    if b.password_file:
        out["password_file"] = b.password_file
    if b.extra_paths:
        out["extra_paths"] = list(b.extra_paths)
    if b.keep:
        out["keep"] = dict(b.keep)
    return out


def ansible_yaml(lab: Lab) -> str:
    import yaml

    header = f"# Ansible inventory for lab {lab.name}, from {lab.path.name} by `homelab-kit export ansible`\n"
    return header + yaml.safe_dump(
        ansible_inventory(lab), sort_keys=False, default_flow_style=False
    )
