"""Render imported Nix entries as lab.toml text, or merge them into an existing lab.toml.

tomlkit keeps the user's comments, ordering and hand-made entries; a merge only adds entries and
updates the keys Nix declares (never the "soft" guesses the user already set). The merged document
is validated with the same schema as load_lab before anyone writes it.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from typing import Any

import tomlkit
from tomlkit.items import Table

from ...errors import InventoryError
from ...lab.schema import check_document
from .mapping import SECTIONS, ImportResult

INLINE_KEYS = {"keep"}


@dataclass(frozen=True)
class Change:
    """One entry of a merge: added, updated (with the keys) or unchanged."""

    action: str
    section: str
    name: str
    keys: tuple[str, ...] = ()

    def __str__(self) -> str:
        keys = f" ({', '.join(self.keys)})" if self.keys else ""
        return f"{self.action:9} {self.section}.{self.name}{keys}"


def _value(key: str, value: Any) -> Any:
    if isinstance(value, dict) and key in INLINE_KEYS:
        t = tomlkit.inline_table()
        t.update(value)
        return t
    return value


def _table(fields: dict[str, Any]) -> Table:
    t = tomlkit.table()
    for k, v in fields.items():
        t.add(k, _value(k, v))
    return t


def to_toml(result: ImportResult, lab_name: str = "home") -> str:
    """A complete lab.toml for review: warnings as comments on top, then lab, hosts, services, backups."""
    doc = tomlkit.document()
    doc.add(tomlkit.comment("Imported from Nix by `homelab-kit import nix`; review before use."))
    for w in result.warnings:
        doc.add(tomlkit.comment(f"CHECK: {w}"))
    lab = tomlkit.table()
    lab.add("name", lab_name)
    for k, v in result.lab.items():
        lab.add(k, v)
    doc.add("lab", lab)
    for section in SECTIONS:
        entries = getattr(result, section)
        if not entries:
            continue
        sup = tomlkit.table(is_super_table=True)
        for name, fields in entries.items():
            sup.add(name, _table(fields))
        doc.add(section, sup)
    return tomlkit.dumps(doc)


def _same(a: Any, b: Any) -> bool:
    unwrap = getattr(a, "unwrap", None)
    return (unwrap() if unwrap else a) == b


def merge_document(doc: tomlkit.TOMLDocument, result: ImportResult) -> list[Change]:
    """Merge in place; returns what changed. Entries only in the document stay untouched."""
    changes: list[Change] = []
    if "lab" not in doc:
        doc.add("lab", tomlkit.table())
    for k, v in result.lab.items():
        if k not in doc["lab"]:
            doc["lab"][k] = v
            changes.append(Change("updated", "lab", k))
    for section in SECTIONS:
        entries: dict[str, dict[str, Any]] = getattr(result, section)
        if not entries:
            continue
        if section not in doc:
            doc.add(section, tomlkit.table(is_super_table=True))
        current = doc[section]
        for name, fields in entries.items():
            if name not in current:
                current.add(name, _table(fields))
                changes.append(Change("added", section, name))
                continue
            table = current[name]
            updated = []
            for k, v in fields.items():
                if k in table and ((section, name, k) in result.soft or _same(table[k], v)):
                    continue
                table[k] = _value(k, v)
                updated.append(k)
            changes.append(
                Change("updated" if updated else "unchanged", section, name, tuple(updated))
            )
    return changes


def merge_toml(
    text: str, result: ImportResult, where: str = "lab.toml"
) -> tuple[str, list[Change]]:
    """The merged lab.toml text and the changes; InventoryError if the result would not load."""
    try:
        doc = tomlkit.parse(text)
    except tomlkit.exceptions.ParseError as exc:
        raise InventoryError(f"{where}: invalid TOML: {exc}") from None
    changes = merge_document(doc, result)
    merged = tomlkit.dumps(doc)
    _, problems = check_document(tomllib.loads(merged))
    if problems:
        raise InventoryError([f"{where} after merging the Nix import: {p}" for p in problems])
    return merged, changes


__all__ = ["Change", "merge_document", "merge_toml", "to_toml"]
