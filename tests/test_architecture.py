"""The folder tree is the architecture: rooms, the order they import in, and no circles.

Read from the source with `ast` (nothing imported), so a violation fails here with the module and
line, not as an ImportError somewhere else. docs/architecture.md draws the same rules.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "homelab_kit"

# Bottom to top: a room may import from rooms before it in this list, and from itself.
ORDER = [
    "errors",
    "outfile",
    "progress",
    "logs",
    "journal",
    "lab",
    "transport",
    "facts",
    "plans",
    "backups",
    "restore",
    "capacity",
    "ecosystem",
    "migrate",
    "deploy",
    "watch",
    "demo",
    "workbench",
    "testing",
    "cli",
    "__init__",
]
# The deliberate upward calls: Lab's convenience methods, imported inside the method (lazily).
FACADE = {
    "homelab_kit.lab.model": {
        "homelab_kit.transport.runner",
        "homelab_kit.transport.ssh",
        "homelab_kit.transport.fanout",
        "homelab_kit.facts.gather",
        "homelab_kit.deploy.planner",
        "homelab_kit.watch.run",
    },
}
MAX_LINES = 400


@dataclass(frozen=True)
class Import:
    source: str  # importing module
    target: str  # imported module (or package)
    names: tuple[str, ...]
    line: int
    top_level: bool  # at module level, outside TYPE_CHECKING


def module_name(path: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
    is_pkg = parts[-1] == "__init__"
    return ".".join(parts[:-1] if is_pkg else parts), is_pkg


MODULES = {module_name(p)[0]: p for p in PKG.rglob("*.py")}


def imports_of(path: Path) -> list[Import]:
    name, is_pkg = module_name(path)
    tree = ast.parse(path.read_text())
    top: set[int] = set()

    def visit_body(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                top.add(id(node))
            elif isinstance(node, (ast.If, ast.Try)):
                visit_body(node.body)
                for h in getattr(node, "handlers", []):
                    visit_body(h.body)
                visit_body(node.orelse)

    visit_body(tree.body)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_pkg else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names = tuple(a.name for a in node.names)
        elif isinstance(node, ast.Import):
            target, names = node.names[0].name, ()
        else:
            continue
        if target.split(".")[0] != "homelab_kit":
            continue
        for n in names or ("",):
            sub = f"{target}.{n}"
            found.append(
                Import(
                    name,
                    sub if sub in MODULES else target,
                    (n,) if n and sub not in MODULES else (),
                    node.lineno,
                    id(node) in top,
                )
            )
    return found


ALL = [i for p in sorted(PKG.rglob("*.py")) for i in imports_of(p)]


def room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_the_house_has_rooms_not_a_hall() -> None:
    loose = sorted(p.name for p in PKG.glob("*.py") if p.name != "__init__.py")
    rooms = sorted(p.name for p in PKG.iterdir() if (p / "__init__.py").is_file())
    assert len(loose) <= 8, loose
    assert len(rooms) >= 9, rooms
    for r in [*rooms, *loose]:
        assert r.removesuffix(".py") in ORDER, f"{r}: add it to ORDER (and docs/architecture.md)"


def test_every_room_says_what_it_is_for() -> None:
    for init in PKG.rglob("__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc and len(doc) > 40, f"{init.relative_to(PKG.parent)}: docstring missing"


def test_no_module_is_over_the_size_limit() -> None:
    big = {
        str(p.relative_to(PKG.parent)): n
        for p in PKG.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert not big, f"split by job: {big}"


def test_no_private_name_crosses_a_module() -> None:
    crossing = [
        f"{i.source}:{i.line} imports {n} from {i.target}"
        for i in ALL
        for n in i.names
        if n.startswith("_") and not n.startswith("__")
    ]
    assert not crossing


def test_rooms_import_only_from_below() -> None:
    upward = []
    for i in ALL:
        src, dst = ORDER.index(room(i.source)), ORDER.index(room(i.target))
        if dst <= src or i.target in FACADE.get(i.source, ()) and not i.top_level:
            continue
        upward.append(f"{i.source}:{i.line} imports {i.target}")
    assert not upward, "\n".join(upward)


def test_no_module_level_import_circles() -> None:
    edges: dict[str, set[str]] = {}
    for i in ALL:
        if i.top_level and i.target != i.source:
            edges.setdefault(i.source, set()).add(i.target)
    sys.setrecursionlimit(max(10_000, sys.getrecursionlimit()))
    cycles = strongly_connected(edges)
    assert not cycles, cycles


def strongly_connected(edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan: the strongly connected components with more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while (w := stack.pop()) != v:
                on.discard(w)
                comp.append(w)
            on.discard(v)
            if comp:
                out.append(sorted([v, *comp]))

    for v in list(edges):
        if v not in index:
            visit(v)
    return out


def test_the_circle_check_catches_a_circle() -> None:
    """The checker itself: a two-module circle and a three-module circle are found."""
    found = strongly_connected({"a": {"b"}, "b": {"a", "c"}, "c": {"d"}, "d": {"e"}, "e": {"c"}})
    assert sorted(found) == [["a", "b"], ["c", "d", "e"]]


@pytest.mark.parametrize("facade", sorted(FACADE["homelab_kit.lab.model"]))
def test_facade_calls_are_lazy_and_documented(facade: str) -> None:
    """Each upward call from Lab is imported inside its method and named in the architecture doc."""
    calls = [i for i in ALL if i.source == "homelab_kit.lab.model" and i.target == facade]
    assert calls and not any(i.top_level for i in calls)
    doc = (PKG.parent / "docs" / "architecture.md").read_text()
    assert facade.removeprefix("homelab_kit.") in doc
