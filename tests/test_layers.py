"""The package's import graph: layers only point down, and the environment, SQLite and the sandbox
each have one way in. Reads the source (ast), so a function-level import counts too."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "outperform_mcp"

# Leaf modules anyone may import: they import nothing of the package but each other.
SHARED = {"settings", "problems", "textsafe", "phones", "logs", "bodies", "__init__"}
# What each layer may import, besides itself and SHARED (api <- store <- guard/inbox <- server <- cli).
ALLOWED: dict[str, set[str]] = {
    "api": set(),
    "store": {"api"},
    "guard": {"api", "store"},
    "inbox": {"api", "store"},
    "mirror": {"api", "store"},
    "server": {"api", "store", "guard", "inbox", "mirror"},
    "sandbox_wiring": {"api", "store", "guard", "inbox", "server", "sandbox"},
    "cli": {"api", "store", "guard", "inbox", "mirror", "server", "sandbox_wiring"},
    "__main__": {"cli"},  # python -m outperform_mcp
    "sandbox": set(),
}


@functools.cache
def modules() -> dict[str, Path]:
    """The package's modules by name (the tree does not change during a run: read once)."""
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


@functools.cache
def _parse(path: Path, mtime_ns: int) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"))


def parsed(path: Path) -> ast.Module:
    """A module's syntax tree, parsed once per version of the file (several checks walk each)."""
    return _parse(path, path.stat().st_mtime_ns)


def imports_of(name: str, path: Path) -> set[str]:
    """Every package module ``name`` imports, relative imports resolved."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(parsed(path)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.add(target)
            found |= {f"{target}.{alias.name}" for alias in node.names}  # `from . import inbox`
    known = modules()
    # `from pkg import name` names a module or something inside one: keep the module.
    resolved = {m if m in known else m.rpartition(".")[0] for m in found}
    return {m for m in resolved if m == "outperform_mcp" or m.startswith("outperform_mcp.")}


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def upward_imports() -> list[str]:
    mods = modules()
    bad = []
    for name, path in sorted(mods.items()):
        own = layer(name)
        for target in sorted(imports_of(name, path)):
            theirs = layer(target)
            if theirs in (own, *SHARED) or theirs in ALLOWED[own]:
                continue
            bad.append(f"{name} imports {target} ({own} may not import {theirs})")
    return bad


def test_every_module_is_in_a_layer() -> None:
    assert {layer(m) for m in modules()} <= set(ALLOWED) | SHARED


def test_layers_only_point_down() -> None:
    assert upward_imports() == []


def test_the_check_catches_an_upward_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The walk itself works: a server module importing the sandbox, or the store importing the
    server, is reported."""
    bad = {
        "outperform_mcp.server.x": "from ..sandbox import app\n",
        "outperform_mcp.store.x": "import outperform_mcp.server.app\n",
    }
    for name, source in bad.items():
        path = tmp_path / f"{name}.py"
        path.write_text(source)
        found = imports_of(name, path)
        target = next(iter(found))
        assert layer(target) not in ALLOWED[layer(name)], (name, found)


def test_shared_modules_import_nothing_of_the_package_but_each_other() -> None:
    mods = modules()
    leaves = {f"outperform_mcp.{leaf}" for leaf in SHARED - {"__init__"}}
    for name in sorted(leaves):
        assert imports_of(name, mods[name]) <= leaves, name


def names_used(path: Path) -> set[str]:
    tree = parsed(path)
    used = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            used |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            used.add(node.module)
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            used.add(f"{node.value.id}.{node.attr}")
    return used


def test_only_settings_reads_the_environment() -> None:
    readers = [
        name
        for name, path in modules().items()
        if {"os.environ", "os.getenv", "os.putenv"} & names_used(path) and layer(name) != "sandbox"
    ]
    assert readers == ["outperform_mcp.settings"]


def test_only_the_store_imports_sqlite() -> None:
    users = sorted(name for name, path in modules().items() if "sqlite3" in names_used(path))
    assert users
    assert all(name.startswith("outperform_mcp.store.") for name in users), users


def test_only_the_wiring_module_imports_the_sandbox() -> None:
    importers = sorted(
        name
        for name, path in modules().items()
        if layer(name) != "sandbox" and any(layer(t) == "sandbox" for t in imports_of(name, path))
    )
    assert importers == ["outperform_mcp.sandbox_wiring"]
