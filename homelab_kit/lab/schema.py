"""Validation of lab.toml's raw data: every problem at once, one line each, with the key path.

Pure: takes the parsed TOML dict and returns normalised tables plus problem lines. Field specs are
data (KEYS below) so a new field is one line, and unknown keys get a "did you mean".
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from typing import Any

from .timespec import parse_duration, schedule_period

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
OS_CHOICES = (
    "nixos",
    "debian",
    "ubuntu",
    "fedora",
    "arch",
    "compose",
    "truenas",
    "synology",
    "other",
)
TRANSPORTS = ("ssh", "local")
KEEP_COUNTS = ("last", "hourly", "daily", "weekly", "monthly", "yearly")
KEEP_WITHIN = (
    "within",
    "within_hourly",
    "within_daily",
    "within_weekly",
    "within_monthly",
    "within_yearly",
)


class Invalid(Exception):
    """A value failed its check; the message says what was expected."""


def show(value: Any) -> str:
    """A value as the user wrote it in TOML, for "got ..." in messages."""
    if isinstance(value, str):
        return '"' + value.replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "[" + ", ".join(show(v) for v in value) + "]"
    return str(value)


def text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f"expected a non-empty string, got {show(value)}")
    return value


def name(value: Any) -> str:
    if not isinstance(value, str) or not NAME_RE.match(value):
        raise Invalid(f"expected a name of letters, digits, '.', '_' or '-', got {show(value)}")
    return value


def port(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise Invalid(f"expected an integer 1-65535, got {show(value)}")
    return value


def positive_number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise Invalid(f"expected a positive number, got {show(value)}")
    return float(value)


def id_number(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise Invalid(f"expected a numeric id (integer ≥ 0), got {show(value)}")
    return value


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise Invalid(f"expected true or false, got {show(value)}")
    return value


def strings(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise Invalid(f"expected a list of strings, got {show(value)}")
    return tuple(value)


def one_of(*choices: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if value not in choices:
            hint = difflib.get_close_matches(str(value), choices, n=1)
            extra = f' (did you mean "{hint[0]}"?)' if hint else ""
            raise Invalid(f"expected one of {', '.join(choices)}, got {show(value)}{extra}")
        return value

    return check


def duration(value: Any) -> str:
    try:
        parse_duration(text(value))
    except ValueError as exc:
        raise Invalid(str(exc)) from None
    return value


def schedule(value: Any) -> str:
    try:
        schedule_period(text(value))
    except ValueError as exc:
        raise Invalid(str(exc)) from None
    return value


def url(value: Any) -> str:
    if not isinstance(value, str) or not re.match(r"^https?://[^\s/]+", value):
        raise Invalid(f"expected an http:// or https:// URL, got {show(value)}")
    return value


def fraction(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
        raise Invalid(f"expected a fraction between 0 and 1 such as 0.5, got {show(value)}")
    return float(value)


def duration_or_never(value: Any) -> str:
    return value if value == "never" else duration(value)


def notify_url(value: Any) -> str:
    """A notification URL's shape (apprise checks the service when the check runs)."""
    if not isinstance(value, str) or not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://\S", value):
        raise Invalid('expected an apprise URL such as "ntfy://ntfy.sh/my-topic"')
    return value


def notify_urls(value: Any) -> tuple[str, ...]:
    urls = strings(value)
    for i, u in enumerate(urls):
        try:
            notify_url(u)
        except Invalid as exc:
            raise Invalid(f"[{i}]: {exc}") from None
    return urls


def keep_policy(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Invalid(f"expected a table such as {{ daily = 7, weekly = 4 }}, got {show(value)}")
    out: dict[str, Any] = {}
    for key, v in value.items():
        if key in KEEP_COUNTS:
            if isinstance(v, bool) or not isinstance(v, int) or v < -1:
                raise Invalid(f"{key}: expected a count (integer, -1 for unlimited), got {show(v)}")
        elif key in KEEP_WITHIN:
            duration(v)
        elif key == "tags":
            strings(v)
        else:
            allowed = (*KEEP_COUNTS, *KEEP_WITHIN, "tags")
            hint = difflib.get_close_matches(key, allowed, n=1)
            extra = f' (did you mean "{hint[0]}"?)' if hint else ""
            raise Invalid(f'unknown keep rule "{key}"{extra}; known: {", ".join(allowed)}')
        out[key] = v
    return out


def path_map(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise Invalid(f'expected a table of "source" = "target" paths, got {show(value)}')
    return dict(value)


Spec = Mapping[str, tuple[Callable[[Any], Any], bool]]  # key -> (check, required)

LAB_KEYS: Spec = {
    "name": (name, True),
    "domain": (text, False),
    "journal": (text, False),
    "cache_dir": (text, False),
    "runs_dir": (text, False),
    "flake": (text, False),
    "build_host": (text, False),
    "known_hosts": (text, False),
    "description": (text, False),
}
HOST_KEYS: Spec = {
    "address": (text, False),
    "user": (text, False),
    "port": (port, False),
    "os": (one_of(*OS_CHOICES), False),
    "roles": (strings, False),
    "transport": (one_of(*TRANSPORTS), False),
    "host_key": (text, False),
    "identity_file": (text, False),
    "connect_timeout": (positive_number, False),
    "compose_dir": (text, False),
    "flake": (text, False),
    "build_host": (text, False),
    "description": (text, False),
    "rto": (duration, False),
    "postgresql": (text, False),
}
SERVICE_KEYS: Spec = {
    "host": (name, True),
    "port": (port, False),
    "subdomain": (text, False),
    "domain": (text, False),
    "user": (text, False),
    "group": (text, False),
    "unit": (text, False),
    "state_dirs": (strings, False),
    "health": (url, False),
    "image": (text, False),
    "description": (text, False),
    "migrate_from": (dict, False),
}
MIGRATE_KEYS: Spec = {
    "host": (name, True),
    "compose_file": (text, True),
    "compose_service": (text, False),
    "puid": (id_number, False),
    "pgid": (id_number, False),
    "paths": (path_map, False),
}
BACKUP_KEYS: Spec = {
    "host": (name, True),
    "repository": (text, True),
    "password_file": (text, False),
    "password_command": (text, False),
    "covers": (strings, False),
    "extra_paths": (strings, False),
    "exclude": (strings, False),
    "schedule": (schedule, False),
    "max_age": (duration, False),
    "keep": (keep_policy, False),
    "restic": (text, False),
    "tags": (strings, False),
    "environment_file": (text, False),
    "description": (text, False),
    "prepare": (text, False),
    "stop_services": (strings, False),
    "restore_test_every": (duration, False),
}
NOTIFY_KEYS: Spec = {
    "urls": (notify_urls, False),
    "urls_file": (text, False),
    "urls_command": (text, False),
    "heartbeat": (url, False),
    "remind": (duration_or_never, False),
    "level": (one_of("warn", "fail"), False),
}
WATCH_KEYS: Spec = {
    "check": (schedule, False),
    "restore_test": (schedule, False),
    "capacity": (schedule, False),
    "randomized_delay": (duration, False),
    "restore_test_every": (duration, False),
    "capacity_warn": (duration, False),
    "size_drop": (fraction, False),
    "record_facts": (boolean, False),
}
TABLES = {"lab": LAB_KEYS, "notify": NOTIFY_KEYS, "watch": WATCH_KEYS}  # one table each
NAMED = {"hosts": HOST_KEYS, "services": SERVICE_KEYS, "backups": BACKUP_KEYS}  # [x.NAME] tables
SECTIONS = {"lab": LAB_KEYS, **NAMED, "notify": NOTIFY_KEYS, "watch": WATCH_KEYS}


def check_table(data: Any, spec: Spec, where: str, problems: list[str]) -> dict[str, Any]:
    """Check one table against its spec; append problems; return the valid fields."""
    if not isinstance(data, dict):
        problems.append(f"{where}: expected a table, got {show(data)}")
        return {}
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key not in spec:
            hint = difflib.get_close_matches(key, list(spec), n=1, cutoff=0.6)
            extra = f' (did you mean "{hint[0]}"?)' if hint else ""
            problems.append(f"{where}.{key}: unknown key{extra}")
            continue
        check, _ = spec[key]
        try:
            out[key] = check(value) if check is not dict else _table(value)
        except Invalid as exc:
            problems.append(f"{where}.{key}: {exc}")
    for key, (_, required) in spec.items():
        if required and key not in data:
            problems.append(f"{where}.{key}: missing (required)")
    return out


def _table(value: Any) -> dict:
    if not isinstance(value, dict):
        raise Invalid(f"expected a table, got {show(value)}")
    return value


def check_document(doc: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Validate the whole document: ({section: {name: fields}}, with lab, notify and watch flat), problems."""
    problems: list[str] = []
    for key in doc:
        if key not in SECTIONS:
            hint = difflib.get_close_matches(key, list(SECTIONS), n=1)
            extra = f' (did you mean "{hint[0]}"?)' if hint else ""
            problems.append(f"{key}: unknown section{extra}; expected {', '.join(SECTIONS)}")
    out: dict[str, Any] = {
        t: check_table(doc.get(t, {}), spec, t, problems) for t, spec in TABLES.items()
    }
    if "lab" not in doc:
        problems.append('lab: missing [lab] table (at least name = "...")')
    for section in NAMED:
        tables = doc.get(section, {})
        out[section] = {}
        if not isinstance(tables, dict):
            problems.append(f"{section}: expected [{section}.NAME] tables, got {show(tables)}")
            continue
        for item, fields in tables.items():
            where = f"{section}.{item}"
            if not NAME_RE.match(item):
                problems.append(f"{where}: name must be letters, digits, '.', '_' or '-'")
            checked = check_table(fields, NAMED[section], where, problems)
            if "migrate_from" in checked:
                checked["migrate_from"] = check_table(
                    checked["migrate_from"], MIGRATE_KEYS, f"{where}.migrate_from", problems
                )
            out[section][item] = checked
    if not out["hosts"] and "hosts" in doc:
        problems.append("hosts: no hosts defined")
    _check_references(out, problems)
    return out, problems


def _check_references(doc: dict[str, Any], problems: list[str]) -> None:
    hosts = doc["hosts"]

    def ref(where: str, value: str | None) -> None:
        if value is not None and value not in hosts:
            hint = difflib.get_close_matches(value, list(hosts), n=1)
            extra = f' (did you mean "{hint[0]}"?)' if hint else ""
            known = ", ".join(sorted(hosts)) or "none"
            problems.append(f'{where}: unknown host "{value}"{extra}; known hosts: {known}')

    for hname, h in hosts.items():
        if h.get("transport", "ssh") == "ssh" and "address" not in h:
            problems.append(f'hosts.{hname}.address: missing (required for transport = "ssh")')
    for sname, s in doc["services"].items():
        ref(f"services.{sname}.host", s.get("host"))
        if "migrate_from" in s:
            ref(f"services.{sname}.migrate_from.host", s["migrate_from"].get("host"))
    for bname, b in doc["backups"].items():
        ref(f"backups.{bname}.host", b.get("host"))
        for i, c in enumerate(b.get("covers", ())):
            ref(f"backups.{bname}.covers[{i}]", c)
        for i, name in enumerate(b.get("stop_services", ())):
            if name not in doc["services"]:
                hint = difflib.get_close_matches(name, list(doc["services"]), n=1)
                extra = f' (did you mean "{hint[0]}"?)' if hint else ""
                problems.append(
                    f'backups.{bname}.stop_services[{i}]: unknown service "{name}"{extra}'
                )
        if ("password_file" in b) == ("password_command" in b):
            problems.append(
                f"backups.{bname}: set exactly one of password_file or password_command"
            )
