"""Module boundaries (issue 12): no module imports another module's underscore names, and no import cycles."""

from __future__ import annotations

import ast
import pathlib

import marldyn

PACKAGE = pathlib.Path(marldyn.__file__).parent


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(parts), path


def _target(module: str, path: pathlib.Path, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    if path.name != "__init__.py":
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def test_no_module_imports_another_modules_underscore_names():
    offenders = []
    for module, path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    if alias.name.startswith("_") and not alias.name.startswith("__"):
                        offenders.append(f"{module}: from {_target(module, path, node)} import {alias.name}")
            elif isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
                if isinstance(node.value, ast.Name) and node.value.id in {"runner", "checkpoint", "moments", "plots"}:
                    offenders.append(f"{module}: {node.value.id}.{node.attr}")
    assert offenders == []


def test_the_import_graph_has_no_cycles():
    """Every import, at module level or inside a function, counts: a lazy import is still a dependency."""
    modules = dict(_modules())
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for module, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                target = _target(module, path, node)
                for alias in node.names:
                    full = f"{target}.{alias.name}"
                    graph[module].add(full if full in modules else target)
            elif isinstance(node, ast.Import):
                graph[module].update(alias.name for alias in node.names)
    for module in graph:  # a module may use its own package's __init__ (e.g. __version__)
        graph[module] = {t for t in graph[module] if t in modules and t != module and not module.startswith(t + ".")}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(name: str, stack: list[str]) -> None:
        state[name] = 1
        stack.append(name)
        for other in sorted(graph[name]):
            if state.get(other) == 1:
                cycles.append(stack[stack.index(other) :] + [other])
            elif other not in state:
                visit(other, stack)
        stack.pop()
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [])
    assert cycles == [], [" -> ".join(cycle) for cycle in cycles]
