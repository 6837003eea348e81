"""Map evaluated Nix data (from nix.EXTRACT) to lab.toml entries; render or merge them as TOML.

Pure: no nix, no files. The homelab module pattern: `homelab.services.<name>` (or `homelab.<name>`)
declares a service with its port, user and config dir; modules add their state to
`homelab.backup.stateDirs`; `services.restic.backups.<name>` backs those up. A backup's paths that are
some service's state dirs stay derived (never listed twice); the rest become `extra_paths`.
Values nix only guessed (an address from the host name, user root) are "soft": a merge fills them
in but never overwrites what the user wrote.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ...lab.paths import within
from .options import (
    as_port,
    as_str,
    as_strs,
    backup_entry,
    normalise_schedule,
    parse_prune_opts,
)  # normalise_schedule, parse_prune_opts re-exported: importable from here

SERVICE_DIR_KEYS = ("stateDirs", "configDir", "baseDir", "dataDir", "stateDir")
DOMAIN_KEYS = ("domain", "url", "fqdn", "hostname")
NOT_SERVICES = {"services", "backup"}
SECTIONS = ("hosts", "services", "backups")


@dataclass
class ImportResult:
    """lab.toml tables from Nix, the keys that were only guessed, and what the user should check."""

    lab: dict[str, Any] = field(default_factory=dict)
    hosts: dict[str, dict[str, Any]] = field(default_factory=dict)
    services: dict[str, dict[str, Any]] = field(default_factory=dict)
    backups: dict[str, dict[str, Any]] = field(default_factory=dict)
    soft: set[tuple[str, str, str]] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)

    def tables(self) -> dict[str, Any]:
        return {
            "lab": self.lab,
            "hosts": self.hosts,
            "services": self.services,
            "backups": self.backups,
        }


def _threw(data: Any, path: str, out: list[str]) -> Any:
    """Replace the extractor's {__threw} markers by None, noting where nix threw."""
    if isinstance(data, dict):
        if data.get("__threw") is True and len(data) == 1:
            out.append(path)
            return None
        return {k: _threw(v, f"{path}.{k}" if path else k, out) for k, v in data.items()}
    if isinstance(data, list):
        return [_threw(v, f"{path}[{i}]", out) for i, v in enumerate(data)]
    return data


def _fqdn(value: str) -> str:
    """'https://pass.example.org:443/x' -> 'pass.example.org'."""
    return re.sub(r"^[a-z]+://", "", value).split("/", 1)[0].split(":", 1)[0]


def _host_entry(h: dict[str, Any], name: str, flake: str | None, r: ImportResult) -> dict[str, Any]:
    dep = h.get("deployment") or {}
    hl = h.get("homelab") or {}
    t: dict[str, Any] = {}
    address = as_str(dep.get("targetHost"))
    if not address:
        for iface in (h.get("interfaces") or {}).values():
            addrs = ((iface or {}).get("ipv4") or {}).get("addresses") or []
            address = next((as_str(a.get("address")) for a in addrs if isinstance(a, dict)), None)
            if address:
                break
    if address != as_str(dep.get("targetHost")):
        r.soft.add(("hosts", name, "address"))  # a guess at how to reach it; the user's value wins
    if not address:
        hostname = as_str(h.get("hostName")) or name
        address = f"{hostname}.{h['domain']}" if as_str(h.get("domain")) else hostname
        r.soft.add(("hosts", name, "address"))
    t["address"] = address
    t["user"] = as_str(dep.get("targetUser")) or "root"
    if not as_str(dep.get("targetUser")):
        r.soft.add(("hosts", name, "user"))
    port = as_port(dep.get("targetPort")) or next(
        iter(p for p in map(as_port, h.get("sshPorts") or []) if p), None
    )
    if port and port != 22:
        t["port"] = port
    t["os"] = "nixos"
    roles = as_strs(hl.get("roles")) or as_strs(dep.get("tags"))
    if roles:
        t["roles"] = roles
    if flake and h.get("attrName"):
        t["flake"] = f"{flake}#{h['attrName']}"
    if as_str(h.get("postgresql")):
        t["postgresql"] = h[
            "postgresql"
        ]  # services.postgresql.package.version: migrations check it
    return t


def _declared_services(hl: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = {n: s for n, s in (hl.get("services") or {}).items() if isinstance(s, dict)}
    for n, s in hl.items():
        if n not in NOT_SERVICES and isinstance(s, dict) and isinstance(s.get("enable"), bool):
            found.setdefault(n, s)
    return {n: s for n, s in found.items() if s.get("enable", True) is not False}


def _service_entry(
    name: str, s: dict[str, Any], nixos: dict[str, Any], hl: dict[str, Any], domain: str | None
) -> tuple[dict[str, Any], list[str]]:
    """A service table and the dirs it declares (before attributing homelab.backup.stateDirs)."""
    t: dict[str, Any] = {}
    port = as_port(s.get("port")) or as_port(s.get("listenPort")) or as_port(nixos.get("port"))
    if port:
        t["port"] = port
    fqdn = next((_fqdn(s[k]) for k in DOMAIN_KEYS if as_str(s.get(k))), None)
    if as_str(s.get("subdomain")):
        t["subdomain"] = s["subdomain"]
    elif fqdn and domain and fqdn.endswith("." + domain):
        t["subdomain"] = fqdn[: -len(domain) - 1]
    elif fqdn:
        t["domain"] = fqdn
    user = as_str(s.get("user")) or as_str(nixos.get("user"))
    group = as_str(s.get("group")) or as_str(nixos.get("group"))
    if user and not group and user == hl.get("user"):
        group = as_str(hl.get("group"))
    if user:
        t["user"] = user
    if group:
        t["group"] = group
    health = as_str(s.get("health")) or as_str(s.get("healthCheck"))
    if health and re.match(r"^https?://", health):
        t["health"] = health
    if as_str(s.get("description")):
        t["description"] = s["description"]
    dirs = as_strs(s.get("stateDirs"))
    if not dirs:
        dirs = [d for k in SERVICE_DIR_KEYS[1:] if (d := as_str(s.get(k)))][:1]
    if not dirs:
        dirs = [d for k in ("dataDir", "stateDir") if (d := as_str(nixos.get(k)))][:1]
    return t, [d for d in dirs if d.startswith("/")]


def _attribute(
    state_dirs: list[str], declared: dict[str, list[str]]
) -> tuple[dict[str, list[str]], list[str]]:
    """homelab.backup.stateDirs entries -> the service they belong to (by dir or /var/lib/<name>)."""
    owned: dict[str, list[str]] = {}
    rest: list[str] = []
    for p in state_dirs:
        owner = next(
            (n for n, ds in declared.items() if any(within(p, d) or within(d, p) for d in ds)),
            None,
        )
        owner = owner or next((n for n in declared if within(p, f"/var/lib/{n}")), None)
        if owner:
            owned.setdefault(owner, []).append(p)
        else:
            rest.append(p)
    return owned, rest


def from_eval(
    data: dict[str, Any], *, flake: str | None = None, default_name: str | None = None
) -> ImportResult:
    """The lab.toml entries in nix.EXTRACT's output (see the module docstring for the rules)."""
    r = ImportResult()
    threw: list[str] = []
    hosts = _threw(data.get("hosts") or {}, "", threw)
    r.warnings += [
        f"{p}: nix threw while evaluating it (skipped); check that option" for p in threw
    ]
    per_host: list[tuple[str, dict[str, Any]]] = []
    for key, h in hosts.items():
        name = key or as_str(h.get("hostName")) or default_name or "nixos"
        per_host.append((name, h))
    domains = {
        d
        for _, h in per_host
        if (
            d := as_str((h.get("homelab") or {}).get("baseDomain"))
            or as_str((h.get("homelab") or {}).get("domain"))
        )
    }
    domain = sorted(domains)[0] if domains else None
    if domain:
        r.lab["domain"] = domain
    if len(domains) > 1:
        r.warnings.append(
            f"hosts use several base domains ({', '.join(sorted(domains))}); lab.domain = {domain}"
        )
    svc_names = [n for _, h in per_host for n in _declared_services(h.get("homelab") or {})]
    bak_names = [n for _, h in per_host for n, b in (h.get("restic") or {}).items() if b]

    for hname, h in per_host:
        hl = h.get("homelab") or {}
        if not h.get("attrName") and default_name:
            h = {**h, "attrName": default_name}
        r.hosts[hname] = _host_entry(h, hname, flake, r)
        entries: dict[str, dict[str, Any]] = {}
        declared: dict[str, list[str]] = {}
        for sname, s in _declared_services(hl).items():
            entry, dirs = _service_entry(
                sname, s, (h.get("nixos") or {}).get(sname) or {}, hl, domain
            )
            entries[sname], declared[sname] = {"host": hname, **entry}, dirs
        owned, unowned = _attribute(as_strs((hl.get("backup") or {}).get("stateDirs")), declared)
        for sname, entry in entries.items():
            dirs = owned.get(sname) or declared[sname]
            if dirs:
                entry["state_dirs"] = list(dict.fromkeys(dirs))
            full = sname if svc_names.count(sname) == 1 else f"{sname}-{hname}"
            r.services[full] = entry
        if unowned:
            r.warnings.append(
                f"hosts.{hname}: homelab.backup.stateDirs without a service: {', '.join(unowned)} "
                "(kept as the backups' extra_paths)"
            )
        service_dirs = [d for e in entries.values() for d in e.get("state_dirs", [])]
        for bname, b in (h.get("restic") or {}).items():
            if not b:
                continue  # a backup switched off with mkIf
            full = bname if bak_names.count(bname) == 1 else f"{bname}-{hname}"
            entry = backup_entry(full, hname, b, service_dirs, r.warnings)
            if entry:
                r.backups[full] = entry
    return r


__all__ = ["ImportResult", "from_eval", "normalise_schedule", "parse_prune_opts"]
