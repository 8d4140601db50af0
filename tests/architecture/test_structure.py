"""The shape of the code, held by tests: small functions, imports that run one way, built-in
plugins that use only the plugin surface, and update math that never sees the recipe."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import ganfw.plugin
from tests.helpers.cli import REPO

SRC = REPO / "src" / "ganfw"
PLUGINS = REPO / "plugins" / "ganfw_plugins"
MAX_LINES = 60


def modules(root: Path, package: str) -> dict[str, ast.Module]:
    """Every module under ``root`` by dotted name, parsed."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        name = ".".join((package, *parts[:-1])) if parts[-1] == "__init__" else ".".join((package, *parts))
        found[name] = ast.parse(path.read_text(encoding="utf-8"), str(path))
    return found


def imported(module: str, tree: ast.Module, known: set[str] | dict[str, ast.Module] = frozenset()) -> Iterator[str]:
    """The modules ``tree`` imports anywhere (inside functions and ``TYPE_CHECKING`` blocks too):
    ``from a.b import c`` imports ``a.b.c`` when that is one of the ``known`` modules, else ``a.b``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's own package
                package = module.split(".")[: -node.level] if module not in PACKAGES else module.split(".")
                base = ".".join([*package, *([base] if base else [])])
            for alias in node.names:
                yield f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base


#: The packages (their ``__init__`` modules) of src/ganfw.
PACKAGES = {".".join(("ganfw", *p.parent.relative_to(SRC).parts)) for p in SRC.rglob("__init__.py")}


def test_no_function_in_src_is_over_60_lines():
    long = []
    for name, tree in modules(SRC, "ganfw").items():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1  # type: ignore[operator]
                if lines > MAX_LINES:
                    long.append(f"{name}.{node.name}: {lines} lines")
    assert not long, long


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` (module -> modules it imports), or ``None``."""
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return [*path[path.index(nxt) :], nxt] if nxt in path else [node, nxt]
            if nxt not in state and (found := visit(nxt, [*path, nxt])):
                return found
        state[node] = "done"
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start, [start])):
            return found
    return None


def test_no_import_cycle_inside_ganfw_type_checking_imports_included():
    trees = modules(SRC, "ganfw")
    graph = {name: {m for m in imported(name, tree, trees) if m in trees and m != name} for name, tree in trees.items()}
    assert cycle(graph) is None, " -> ".join(cycle(graph) or [])


def test_the_cycle_finder_finds_a_cycle():
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_built_in_plugins_import_from_ganfw_only_through_its_plugin_surface():
    stray = []
    for name, tree in modules(PLUGINS, "ganfw_plugins").items():
        for module in imported(name, tree):
            if (module == "ganfw" or module.startswith("ganfw.")) and not module.startswith("ganfw.plugin"):
                stray.append(f"{name} imports {module}")
    assert not stray, stray


def test_every_name_of_the_plugin_surface_resolves():
    for name in ganfw.plugin.__all__:
        assert getattr(ganfw.plugin, name) is not None, name


@pytest.mark.parametrize("module", ["ganfw.training.update", "ganfw.training.loop"])
def test_the_update_and_the_loop_never_see_the_recipe(module):
    tree = modules(SRC, "ganfw")[module]
    assert not [m for m in imported(module, tree) if m in ("ganfw.recipe.Recipe", "ganfw.config")]
