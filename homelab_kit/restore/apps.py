"""Does the application open its restored data? Pure verdicts over what probe.py found.

Byte-identical is not yet openable: a SQLite file copied while the service wrote is faithfully
backed up, faithfully restored, and still torn. One `AppCheck` per database or config found under
a restored tree: `{path, service, kind, status, detail}` with status ok, corrupt, inconsistent or
unknown (could not tell, or a warning: a PostgreSQL cluster copied while it ran). corrupt and
inconsistent fail a restore test even when every byte matched (FAILING).

Kinds: sqlite, postgresql (data directory), pg_dump, sql.gz, json, yaml, toml. Paths are the
paths inside the snapshot (the restored root stripped), so they read like the live ones.
"""

from __future__ import annotations

import base64
import functools
import json
import re
import tomllib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

STATUSES = ("ok", "corrupt", "inconsistent", "unknown")
FAILING = frozenset({"corrupt", "inconsistent"})
DATABASE_KINDS = frozenset({"sqlite", "postgresql"})
CLEAN_CLUSTER_STATES = frozenset({"shut down", "shut down in recovery"})
_CRC = re.compile(r"CRC checksum does not match", re.I)
_TOO_NEW = re.compile(r"unsupported version|newer than|incompatible", re.I)


@dataclass(frozen=True)
class AppCheck:
    """One database or config found under a restored tree, and whether its application can open it."""

    path: str
    service: str | None
    kind: str
    status: str
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else ""


# --- one verdict per kind: (status, detail) ------------------------------------------------


def sqlite_verdict(item: Mapping[str, Any], snapshot_had_wal: bool = False) -> tuple[str, str]:
    """integrity_check rows (or the error opening the file) → a verdict; a lost -wal is inconsistent."""
    with_wal = " with its " + "/".join(item["companions"]) if item.get("companions") else ""
    if "error" in item:
        err = str(item["error"])
        if re.search(r"malformed|not a database|corrupt|disk image", err, re.I):
            return "corrupt", f"cannot open{with_wal}: {err}"
        return "unknown", f"cannot check{with_wal}: {err}"
    rows = list(item.get("rows") or [])
    if rows != ["ok"]:
        shown = "; ".join(rows[:3]) + (f" (+{len(rows) - 3} more)" if len(rows) > 3 else "")
        return "corrupt", f"integrity_check{with_wal}: {shown}"
    if snapshot_had_wal and "-wal" not in (item.get("companions") or []):
        return (
            "inconsistent",
            "the snapshot has its -wal but the restored tree does not: committed transactions "
            "are missing; restore the -wal beside it",
        )
    return "ok", f"integrity_check ok{with_wal} ({item.get('pages', '?')} pages)"


def parse_controldata(text: str) -> dict[str, str]:
    """`pg_controldata` output (run with LC_ALL=C) → {label: value}."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        label, sep, value = line.partition(":")
        if sep and value.strip() and not label.startswith(("WARNING", "pg_controldata")):
            out[label.strip()] = value.strip()
    return out


def postgres_verdict(item: Mapping[str, Any]) -> tuple[str, str]:
    """PG_VERSION + pg_controldata → a verdict; a cluster copied while running is a warning."""
    if "error" in item:
        return "unknown", str(item["error"])
    major = item.get("version") or "?"
    name = f"PostgreSQL {major}"
    if not item.get("pg_wal", True):
        return "inconsistent", f"{name} data directory without pg_wal: it cannot start"
    cd = item.get("controldata")
    if not cd:
        return "unknown", f"{name}; pg_controldata not on the host: cluster state not checked"
    text = (cd.get("out") or "") + "\n" + (cd.get("err") or "")
    if _CRC.search(text):
        return "corrupt", f"{name}: pg_control fails its CRC check ({cd.get('tool')})"
    if cd.get("rc") != 0:
        return "unknown", f"{name}: pg_controldata failed: {last_line(text)}"
    state = parse_controldata(cd.get("out") or "").get("Database cluster state", "")
    if not state:
        return "unknown", f"{name}: pg_controldata shows no cluster state"
    if state in CLEAN_CLUSTER_STATES:
        return "ok", f"{name}, cluster state: {state}"
    return (
        "unknown",
        f"warning: {name} cluster state '{state}': the snapshot was taken while PostgreSQL ran, "
        "so a restore needs WAL replay and may not start; dumps are safer (pg_dump in the "
        "backup's prepare)",
    )


def tool_verdict(item: Mapping[str, Any], what: str) -> tuple[str, str]:
    """pg_restore / gzip -t read-through → a verdict; without the tool, the header is all we know."""
    check = item.get("check")
    if not check:
        return "ok", f"{what} header ok (no tool on the host to read it through)"
    if check.get("rc") == 0:
        return "ok", f"{what} reads through ({check.get('tool')})"
    err = last_line(check.get("err") or check.get("out") or "") or f"exit {check.get('rc')}"
    if check.get("rc") is None or _TOO_NEW.search(err):
        return "unknown", f"{check.get('tool')} cannot read it: {err}"
    return "corrupt", f"{check.get('tool')}: {err}"


@functools.cache
def any_tag_loader() -> Any:
    """A SafeLoader that reads unknown tags (Home Assistant's `!include`, `!secret`) as plain values."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def plain(loader: Any, suffix: str, node: Any) -> Any:
        if isinstance(node, yaml.MappingNode):
            return loader.construct_mapping(node)
        if isinstance(node, yaml.SequenceNode):
            return loader.construct_sequence(node)
        return loader.construct_scalar(node)

    Loader.add_multi_constructor("!", plain)
    return Loader


def _json(text: str) -> str:
    try:
        json.loads(text)
        return "parses (JSON)"
    except json.JSONDecodeError as exc:
        if exc.msg != "Extra data":
            raise
    lines = [ln for ln in text.splitlines() if ln.strip()]
    for ln in lines:
        json.loads(ln)  # JSON Lines (a query log, say): every line must parse
    return f"parses (JSON Lines, {len(lines)} records)"


def _yaml(text: str) -> str:
    import yaml

    docs = list(yaml.load_all(text, Loader=any_tag_loader()))  # noqa: S506 - SafeLoader subclass
    return "parses (YAML)" + (f", {len(docs)} documents" if len(docs) > 1 else "")


def _toml(text: str) -> str:
    tomllib.loads(text)
    return "parses (TOML)"


PARSERS: dict[str, Callable[[str], str]] = {"json": _json, "yaml": _yaml, "toml": _toml}


def config_verdict(kind: str, item: Mapping[str, Any]) -> tuple[str, str]:
    """A config's bytes → parses or not (a service does not start on a config it cannot read)."""
    if "error" in item:
        return "unknown", f"cannot read: {item['error']}"
    raw = base64.b64decode(item.get("data") or "")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return "corrupt", f"not UTF-8 text ({kind})"
    if not text.strip():
        return "ok", "empty"
    try:
        return "ok", PARSERS[kind](text)
    except Exception as exc:  # each parser has its own error type; all mean "does not parse"
        where = getattr(exc, "problem_mark", None)
        at = f"line {where.line + 1}, column {where.column + 1}: " if where else ""
        msg = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        return "corrupt", f"does not parse as {kind.upper()}: {at}{msg}"


# --- from probe output to checks ------------------------------------------------------------


def snapshot_path(host_path: str, root: str) -> str:
    """A restored path → the path inside the snapshot (restic's layout: root + snapshot path)."""
    base = root.rstrip("/")
    return host_path[len(base) :] if base and host_path.startswith(base + "/") else host_path


def verdict(item: Mapping[str, Any], wal_files: frozenset[str], path: str) -> tuple[str, str]:
    kind = item["kind"]
    if kind == "sqlite":
        return sqlite_verdict(item, snapshot_had_wal=path + "-wal" in wal_files)
    if kind == "postgresql":
        return postgres_verdict(item)
    if kind == "pg_dump":
        return tool_verdict(item, "pg_dump archive")
    if kind == "sql.gz":
        return tool_verdict(item, "gzip")
    if kind == "unreadable":
        return "unknown", f"cannot read the folder: {item.get('error')}"
    return config_verdict(kind, item)


def build_checks(
    items: Iterable[Mapping[str, Any]],
    root: str,
    owner: Callable[[str], str | None],
    wal_files: Iterable[str] = (),
) -> list[AppCheck]:
    """probe() items under `root` → AppChecks with snapshot paths and their services, sorted."""
    wal = frozenset(wal_files)
    out = []
    for item in items:
        path = snapshot_path(str(item["path"]), root)
        status, detail = verdict(item, wal, path)
        out.append(AppCheck(path, owner(path), str(item["kind"]), status, detail))
    return sorted(out, key=lambda a: (a.kind not in DATABASE_KINDS, a.path))


def failing(apps: Iterable[AppCheck | Mapping[str, Any]]) -> list[AppCheck | Mapping[str, Any]]:
    """The checks that fail a restore test (corrupt or inconsistent)."""
    return [a for a in apps if _get(a, "status") in FAILING]


def counts(apps: Iterable[AppCheck | Mapping[str, Any]]) -> dict[str, int]:
    """Checks per status, in STATUSES order."""
    c = Counter(_get(a, "status") for a in apps)
    return {s: c[s] for s in STATUSES if c[s]}


def summary(apps: list[AppCheck] | list[dict[str, Any]]) -> str:
    """'20 found (8 databases): 19 ok, 1 corrupt' (or 'no databases or configs found')."""
    if not apps:
        return "no databases or configs found"
    parts = ", ".join(f"{n} {s}" for s, n in counts(apps).items())
    dbs = sum(_get(a, "kind") in DATABASE_KINDS for a in apps)
    return f"{len(apps)} found ({dbs} databases): {parts}"


def _get(a: AppCheck | Mapping[str, Any], key: str) -> Any:
    return a[key] if isinstance(a, Mapping) else getattr(a, key)
