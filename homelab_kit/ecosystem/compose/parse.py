"""Read real-world docker-compose files: services, mounts, ports, environment, users.

Real files are messy: unquoted `8080:80` (YAML 1.1 reads it as a base-60 integer), `${VAR:-default}`
interpolation from `.env`, anchors and `<<` merges, short and long volume/port syntax, env lists and
mappings, `env_file` lists. Parsing is pure (text in, dataclasses out); errors name the file and key.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ...errors import InventoryError
from .parts import (
    Ctx,
    Mount,
    Port,
    listify,
    parse_env_file,
    parse_env_files,
    parse_environment,
    parse_mount,
    parse_port,
)  # Mount, Port, parse_env_file re-exported: importable from here


class _Loader(yaml.SafeLoader):
    """SafeLoader without YAML 1.1's sexagesimal ints/floats (`22:22` stays the string "22:22")."""


_Loader.yaml_implicit_resolvers = {
    key: [
        (tag, rx)
        for tag, rx in resolvers
        if tag not in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
    ]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^[-+]?(0|[1-9][0-9_]*|0x[0-9a-fA-F_]+|0[0-7_]+)$"),
    list("-+0123456789"),
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?([0-9][0-9_]*)?\.[0-9]+([eE][-+]?[0-9]+)?$"),
    list("-+0123456789."),
)


@dataclass(frozen=True)
class ComposeService:
    name: str
    image: str | None = None
    container_name: str | None = None
    mounts: tuple[Mount, ...] = ()
    ports: tuple[Port, ...] = ()
    environment: Mapping[str, str] = field(default_factory=dict)
    env_files: tuple[str, ...] = ()
    user: str | None = None
    depends_on: tuple[str, ...] = ()

    @property
    def binds(self) -> tuple[Mount, ...]:
        return tuple(m for m in self.mounts if m.type == "bind")

    @property
    def puid(self) -> int | None:
        keys = ("PUID", "USER_UID", "USERMAP_UID", "UID")  # USERMAP_*: paperless-ngx
        return _first_int(self.environment, keys) or _user_part(self.user, 0)

    @property
    def pgid(self) -> int | None:
        keys = ("PGID", "USER_GID", "USERMAP_GID", "GID")
        return _first_int(self.environment, keys) or _user_part(self.user, 1)


@dataclass(frozen=True)
class ComposeFile:
    path: str
    project: str
    services: Mapping[str, ComposeService]
    volumes: Mapping[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def volume_path(self, name: str) -> str:
        """Where docker keeps a named volume's data on the host."""
        spec = self.volumes.get(name) or {}
        real = spec.get("name") if isinstance(spec, dict) else None
        return f"/var/lib/docker/volumes/{real or f'{self.project}_{name}'}/_data"


def _first_int(env: Mapping[str, str], keys: tuple[str, ...]) -> int | None:
    for key in keys:
        if str(env.get(key, "")).isdigit():
            return int(env[key])
    return None


def _user_part(user: str | None, index: int) -> int | None:
    parts = (user or "").split(":")
    return int(parts[index]) if len(parts) > index and parts[index].isdigit() else None


_VAR = re.compile(r"\$(?:\$|\{(?P<braced>[^}]*)\}|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))")


def interpolate(
    text: str,
    env: Mapping[str, str],
    warnings: list[str],
    where: str,
    missing: dict[str, list[str]] | None = None,
) -> str:
    """Compose's `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?err}`, `$VAR` and `$$`.

    A variable that is not set (and has no default) becomes "" as in compose, with a warning;
    `missing` collects its name under `where`, so a mount built from it is not silently lost."""

    def sub(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        expr = match.group("braced") if match.group("braced") is not None else match.group("plain")
        m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])(.*))?", expr, re.S)
        if not m:
            raise InventoryError(f"{where}: invalid interpolation {match.group(0)!r}")
        name, op, arg = m.group(1), m.group(2), m.group(3) or ""
        value = env.get(name)
        unset = value is None or (value == "" and op is not None and op.startswith(":"))
        if op in ("-", ":-"):
            return arg if unset else value
        if op in ("?", ":?"):
            if unset:
                raise InventoryError(f"{where}: required variable {name} is not set: {arg}")
            return value
        if op in ("+", ":+"):
            return "" if unset else arg
        if value is None:
            warnings.append(f"{where}: variable {name} is not set; using an empty string")
            if missing is not None:
                missing.setdefault(where, []).append(name)
            return ""
        return value

    return _VAR.sub(sub, text)


def _interpolate_tree(
    node: Any, env: Mapping[str, str], warnings: list[str], where: str, unset: dict
) -> Any:
    if isinstance(node, str):
        return interpolate(node, env, warnings, where, unset)
    if isinstance(node, list):
        return [
            _interpolate_tree(v, env, warnings, f"{where}[{i}]", unset) for i, v in enumerate(node)
        ]
    if isinstance(node, dict):
        return {
            k: _interpolate_tree(v, env, warnings, f"{where}.{k}" if where else str(k), unset)
            for k, v in node.items()
        }
    return node


def _project_name(path: str, data: Mapping[str, Any]) -> str:
    name = str(data.get("name") or posixpath.basename(posixpath.dirname(path)) or "default")
    return re.sub(r"[^a-z0-9_-]", "", name.lower())


def _service(
    ctx: Ctx, name: str, spec: Any, read_file: Any, raw: Any, unset: dict[str, list[str]]
) -> ComposeService:
    key = f"services.{name}"
    if not isinstance(spec, dict):
        raise ctx.error(key, "expected a mapping")
    raw_volumes = (raw.get("volumes") if isinstance(raw, dict) else None) or []
    mounts = tuple(
        _mount(ctx, f"{key}.volumes[{i}]", v, raw_volumes[i] if i < len(raw_volumes) else v, unset)
        for i, v in enumerate(listify(ctx, f"{key}.volumes", spec.get("volumes")))
    )
    ports = tuple(
        parse_port(ctx, f"{key}.ports[{i}]", p)
        for i, p in enumerate(listify(ctx, f"{key}.ports", spec.get("ports")))
    )
    env: dict[str, str] = {}
    files = parse_env_files(spec.get("env_file"))
    for path, _required in files:
        # an unreadable env_file is not an error here: it may live only on the source host
        env.update(parse_env_file(read_file(ctx.host_path(path)) or ""))
    env.update(parse_environment(ctx, f"{key}.environment", spec.get("environment")))
    deps = spec.get("depends_on") or []
    if not isinstance(deps, (list, dict)):
        raise ctx.error(f"{key}.depends_on", "expected a list or a mapping")
    user = spec.get("user")
    return ComposeService(
        name=name,
        image=None if spec.get("image") is None else str(spec["image"]),
        container_name=spec.get("container_name"),
        mounts=mounts,
        ports=ports,
        environment=env,
        env_files=tuple(ctx.host_path(p) for p, _ in files),
        user=None if user is None else str(user),
        depends_on=tuple(str(d) for d in deps),
    )


def _mount(ctx: Ctx, key: str, item: Any, raw: Any, unset: dict[str, list[str]]) -> Mount:
    """A volume entry; a bind source built from an unset variable is kept as written, with the
    variable's name (`${UPLOAD_LOCATION}`), so the photo library cannot vanish from a proposal."""
    names = unset.get(key, []) + unset.get(f"{key}.source", [])
    source = _raw_source(raw)
    if not (names and source and "$" in source):
        return parse_mount(ctx, key, item)
    if isinstance(item, dict):
        target, ro = str(item.get("target", "")), bool(item.get("read_only", False))
    else:
        target, _, mode = raw[len(source) + 1 :].partition(":")
        ro = "ro" in mode.split(",")
    return Mount("bind", source, target, ro, tuple(dict.fromkeys(names)))


def _raw_source(raw: Any) -> str | None:
    """The source part of a volume entry as written, before interpolation (`${X:-a:b}` intact)."""
    if isinstance(raw, dict):
        return None if raw.get("source") is None else str(raw["source"])
    if not isinstance(raw, str):
        return None
    depth = 0
    for i, ch in enumerate(raw):
        if raw.startswith("${", i):
            depth += 1
        elif ch == "}" and depth:
            depth -= 1
        elif ch == ":" and not depth:
            return raw[:i]
    return None


def _read_local(path: str) -> str | None:
    try:
        return Path(path).read_text()
    except OSError:
        return None


def parse_compose(
    text: str,
    *,
    path: str = "docker-compose.yml",
    env: Mapping[str, str] | None = None,
    read_file: Any = _read_local,
) -> ComposeFile:
    """Parse compose YAML `text` that lives at `path` (relative mounts resolve against its folder).

    Variables come from `env` (default: the `.env` next to the file, if readable, under os.environ).
    `read_file(path) -> str | None` reads `.env`/`env_file`s; pass `lambda p: None` to read nothing.
    """
    path = posixpath.normpath(path)
    ctx = Ctx(path)
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "YAML"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InventoryError(f"{path}: {where}: not valid YAML ({problem})") from None
    if not isinstance(data, dict):
        raise ctx.error("(top level)", "expected a mapping with a 'services' key")
    if env is None:
        env = {**parse_env_file(read_file(posixpath.join(ctx.folder, ".env")) or ""), **os.environ}
    warnings: list[str] = []
    unset: dict[str, list[str]] = {}
    raw_data = data
    try:
        data = _interpolate_tree(data, env, warnings, "", unset)
    except InventoryError as exc:
        raise InventoryError(f"{path}: {exc}") from None
    warnings = [f"{path}: {w}" for w in warnings]
    services = data.get("services")
    if not isinstance(services, dict) or not services:
        raise ctx.error("services", "missing or empty (expected a mapping of service names)")
    volumes = data.get("volumes") or {}
    if not isinstance(volumes, dict):
        raise ctx.error("volumes", "expected a mapping of volume names")
    raw_services = raw_data.get("services") if isinstance(raw_data.get("services"), dict) else {}
    parsed = {
        str(n): _service(ctx, str(n), s, read_file, raw_services.get(n), unset)
        for n, s in services.items()
    }
    return ComposeFile(
        path, _project_name(path, data), parsed, volumes, tuple(dict.fromkeys(warnings))
    )


def load_compose(path: str | os.PathLike, *, env: Mapping[str, str] | None = None) -> ComposeFile:
    """Read and parse a compose file on this machine."""
    p = Path(path).absolute()
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise InventoryError(f"{p}: cannot read the compose file ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise InventoryError(
            f"{p}: not UTF-8 text; give the docker-compose.yml itself (a YAML file)"
        ) from None
    return parse_compose(text, path=str(p), env=env)


__all__ = [
    "ComposeFile",
    "ComposeService",
    "Mount",
    "Port",
    "interpolate",
    "load_compose",
    "parse_compose",
    "parse_env_file",
]
