"""The pieces of one compose service: volumes/mounts, ports, environment and env files.

Pure parsers used by compose.py, each taking the raw YAML value and the key path it came from, so
errors name the file and key (`services.web.ports[1]`). Short and long syntax are both read.
"""

from __future__ import annotations

import os
import posixpath
import re
from dataclasses import dataclass
from typing import Any

from ...errors import InventoryError


@dataclass(frozen=True)
class Mount:
    type: str  # bind | volume | tmpfs
    source: str | None  # absolute host path (bind), volume name (volume), None (anonymous/tmpfs)
    target: str
    read_only: bool = False
    unset: tuple[str, ...] = ()  # variables its source needs but nobody set: source kept as written


@dataclass(frozen=True)
class Port:
    target: str  # "80" or "8000-8005"
    published: str | None = None
    host_ip: str | None = None
    protocol: str = "tcp"

    @property
    def host_port(self) -> int | None:
        if not self.published:
            return None
        return int(self.published.split("-")[0])


class Ctx:
    """Where a value came from (the compose file) and how its relative paths resolve."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.folder = posixpath.dirname(path) or "."

    def error(self, key: str, what: str) -> InventoryError:
        return InventoryError(f"{self.path}: {key}: {what}")

    def host_path(self, source: str) -> str:
        if source.startswith("~"):
            source = os.path.expanduser(source)
        if not source.startswith("/"):
            source = posixpath.join(self.folder, source)
        return posixpath.normpath(source)


def _is_path(source: str) -> bool:
    return source.startswith(("/", ".", "~"))


def parse_mount(ctx: Ctx, key: str, item: Any) -> Mount:
    """A `volumes:` entry, short (`./data:/app:ro`) or long syntax; relative binds resolved."""
    if isinstance(item, str):
        parts = item.split(":")
        if len(parts) == 1:
            return Mount("volume", None, parts[0])
        if len(parts) > 3:
            raise ctx.error(key, f"cannot read volume {item!r} (expected SOURCE:TARGET[:MODE])")
        source, target, mode = parts[0], parts[1], parts[2] if len(parts) == 3 else ""
        ro = "ro" in mode.split(",")
        if _is_path(source):
            return Mount("bind", ctx.host_path(source), target, ro)
        return Mount("volume", source, target, ro)
    if isinstance(item, dict):
        kind = item.get("type", "volume")
        if "target" not in item:
            raise ctx.error(key, "long-syntax volume without 'target'")
        source = item.get("source")
        if kind == "bind":
            if not source:
                raise ctx.error(key, "bind mount without 'source'")
            source = ctx.host_path(str(source))
        return Mount(str(kind), source, str(item["target"]), bool(item.get("read_only", False)))
    raise ctx.error(key, f"expected a string or a mapping, got {type(item).__name__}")


_PORT = re.compile(
    r"^(?:(?P<ip>\[[0-9a-fA-F:.]+\]|[0-9.]+|[0-9a-fA-F:]*:[0-9a-fA-F:]*):)??"
    r"(?:(?P<published>\d+(?:-\d+)?)?:)?(?P<target>\d+(?:-\d+)?)(?:/(?P<proto>tcp|udp|sctp))?$"
)


def parse_port(ctx: Ctx, key: str, item: Any) -> Port:
    """A `ports:` entry: a number, `[IP:][HOST:]CONTAINER[/PROTO]` or the long syntax."""
    if isinstance(item, int):
        return Port(str(item))
    if isinstance(item, str):
        m = _PORT.match(item.strip())
        if not m:
            raise ctx.error(
                key, f"cannot read port {item!r} (expected [IP:][HOST:]CONTAINER[/PROTO])"
            )
        ip = (m.group("ip") or "").strip("[]") or None
        return Port(m.group("target"), m.group("published"), ip, m.group("proto") or "tcp")
    if isinstance(item, dict):
        if "target" not in item:
            raise ctx.error(key, "long-syntax port without 'target'")
        published = item.get("published")
        return Port(
            str(item["target"]),
            None if published in (None, "") else str(published),
            item.get("host_ip"),
            str(item.get("protocol", "tcp")),
        )
    raise ctx.error(key, f"expected a port string, number or mapping, got {type(item).__name__}")


def parse_environment(ctx: Ctx, key: str, raw: Any) -> dict[str, str]:
    """`environment:` as a list of NAME=value or a mapping (YAML booleans as compose writes them)."""
    if raw is None:
        return {}
    if isinstance(raw, dict):
        return {str(k): "" if v is None else _scalar(v) for k, v in raw.items()}
    if isinstance(raw, list):
        env = {}
        for item in raw:
            name, _, value = str(item).partition("=")
            env[name] = value
        return env
    raise ctx.error(key, "expected a list of NAME=value or a mapping")


def _scalar(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def parse_env_files(raw: Any) -> list[tuple[str, bool]]:
    """`env_file:` as (path, required) pairs: a string, a list, or long-syntax mappings."""
    items = raw if isinstance(raw, list) else [] if raw is None else [raw]
    out = []
    for item in items:
        if isinstance(item, dict):
            out.append((str(item.get("path")), bool(item.get("required", True))))
        else:
            out.append((str(item), True))
    return out


def listify(ctx: Ctx, key: str, raw: Any) -> list[Any]:
    """A list-valued key: [] when absent, an error naming the key when it is not a list."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ctx.error(key, f"expected a list, got {type(raw).__name__}")
    return raw


def parse_env_file(text: str) -> dict[str, str]:
    """KEY=VALUE lines, `export` prefixes, comments and single/double quotes."""
    env: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.removeprefix("export ").split("=", 1)
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        env[key.strip()] = value
    return env
