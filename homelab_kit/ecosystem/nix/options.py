"""NixOS `services.restic.backups.<name>` options → a lab.toml [backups.*] table (pure).

pruneOpts become `keep`, timerConfig.OnCalendar a `schedule` timespec understands, `--tag` arguments
`tags`, backupPrepareCommand `prepare` (the dump that makes a live database safe to copy); a backup's paths inside some service's state dirs stay derived, the rest are `extra_paths`.
What cannot be mapped is a warning for the user, never a silent drop. Also the small value readers
mapping.py shares (evaluated Nix data is untyped JSON).
"""

from __future__ import annotations

import re
import shlex
from typing import Any

from ...lab.paths import within
from ...lab.timespec import schedule_period

KEEP_FLAGS = {
    "last": "last",
    "hourly": "hourly",
    "daily": "daily",
    "weekly": "weekly",
    "monthly": "monthly",
    "yearly": "yearly",
    "within": "within",
    "within-hourly": "within_hourly",
    "within-daily": "within_daily",
    "within-weekly": "within_weekly",
    "within-monthly": "within_monthly",
    "within-yearly": "within_yearly",
}


def as_str(v: Any) -> str | None:
    """A non-empty string, else None."""
    return v if isinstance(v, str) and v else None


def as_port(v: Any) -> int | None:
    """A TCP port number (an int in 1..65535, not a bool), else None."""
    return v if isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 65535 else None


def as_strs(v: Any) -> list[str]:
    """The non-empty strings of a list (anything else: [])."""
    return [x for x in v if isinstance(x, str) and x] if isinstance(v, list) else []


def parse_prune_opts(opts: list[str]) -> tuple[dict[str, Any], list[str]]:
    """restic forget flags ('--keep-daily 7', '--keep-within=30d') -> (keep table, ignored flags)."""
    tokens = [t for o in opts for t in shlex.split(o)]
    keep: dict[str, Any] = {}
    ignored: list[str] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        flag, eq, value = tok.partition("=")
        name = flag[len("--keep-") :] if flag.startswith("--keep-") else None
        if name is None or (name not in KEEP_FLAGS and name != "tag"):
            ignored.append(tok)
            i += 1
            continue
        if not eq:
            i += 1
            value = tokens[i] if i < len(tokens) else ""
        key = KEEP_FLAGS.get(name, "tags")
        if key == "tags":
            keep.setdefault("tags", []).append(value)
        elif key.startswith("within"):
            keep[key] = value
        else:
            try:
                keep[key] = int(value)
            except ValueError:
                ignored.append(f"{flag} {value}")
        i += 1
    return keep, ignored


def normalise_schedule(on_calendar: Any) -> str | None:
    """systemd OnCalendar -> a schedule timespec understands ('00:01' -> '*-*-* 00:01:00')."""
    values = as_strs(on_calendar) if isinstance(on_calendar, list) else [as_str(on_calendar)]
    values = [v for v in values if v]
    if len(values) != 1:
        return None
    s = " ".join(values[0].split())
    if re.fullmatch(r"\d{1,2}:\d{2}(:\d{2})?", s):
        s = f"*-*-* {s}" + (":00" if s.count(":") == 1 else "")
    try:
        schedule_period(s)
    except ValueError:
        return None
    return s


def backup_entry(
    name: str, host: str, b: dict[str, Any], service_dirs: list[str], warnings: list[str]
) -> dict[str, Any] | None:
    """The [backups.NAME] table for one NixOS restic backup; None (with a warning) if incomplete."""
    where = f"backups.{name}"
    if not as_str(b.get("repository")):
        hint = (
            f" (NixOS reads it from repositoryFile {b['repositoryFile']})"
            if as_str(b.get("repositoryFile"))
            else ""
        )
        warnings.append(f"{where}: no repository in the Nix config{hint}; add [{where}] by hand")
        return None
    if not as_str(b.get("passwordFile")):
        warnings.append(
            f"{where}: no passwordFile in the Nix config; add [{where}] with password_command by hand"
        )
        return None
    t: dict[str, Any] = {
        "host": host,
        "repository": b["repository"],
        "password_file": b["passwordFile"],
        "covers": [host],
    }
    paths = as_strs(b.get("paths"))
    extra = [p for p in paths if not any(within(p, d) for d in service_dirs)]
    if extra:
        t["extra_paths"] = extra
    missing = [d for d in service_dirs if not any(within(d, p) for p in paths)]
    if missing:
        warnings.append(f"{where}: does not back up {', '.join(missing)} (lint will show the gap)")
    if as_strs(b.get("exclude")):
        t["exclude"] = as_strs(b["exclude"])
    if as_str(b.get("environmentFile")):
        t["environment_file"] = b["environmentFile"]
    on_calendar = (b.get("timerConfig") or {}).get("OnCalendar")
    schedule = normalise_schedule(on_calendar)
    if schedule:
        t["schedule"] = schedule
    elif on_calendar:
        warnings.append(
            f"{where}: cannot tell the period of OnCalendar {on_calendar!r}; set schedule or max_age by hand"
        )
    keep, ignored = parse_prune_opts(as_strs(b.get("pruneOpts")))
    if keep:
        t["keep"] = keep
    if ignored:
        warnings.append(f"{where}: pruneOpts not mapped: {' '.join(ignored)}")
    tags = [v for a in as_strs(b.get("extraBackupArgs")) for v in _tag_args(a)]
    if tags:
        t["tags"] = tags
    if as_str(b.get("backupPrepareCommand")):
        t["prepare"] = b["backupPrepareCommand"]
    return t


def _tag_args(arg: str) -> list[str]:
    """The tags in one extraBackupArgs entry (`--tag a,b` or `--tag=a`)."""
    tokens = shlex.split(arg)
    out = []
    for i, tok in enumerate(tokens):
        if tok.startswith("--tag="):
            out += tok[6:].split(",")
        elif tok == "--tag" and i + 1 < len(tokens):
            out += tokens[i + 1].split(",")
    return out


__all__ = [
    "KEEP_FLAGS",
    "as_port",
    "as_str",
    "as_strs",
    "backup_entry",
    "normalise_schedule",
    "parse_prune_opts",
]
