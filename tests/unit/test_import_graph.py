"""The package's import graph: no cycle through the queue, and settings that never import
the code they configure. Every import counts, also those inside functions."""

from __future__ import annotations

import ast
from pathlib import Path

import micromailer

PACKAGE_ROOT = Path(micromailer.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Each micromailer module → the micromailer modules it imports anywhere in its code."""
    modules = {module_name(path): path for path in PACKAGE_ROOT.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        imported: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add(node.module)
                # ``from package import module`` imports the module
                imported.update(f"{node.module}.{alias.name}" for alias in node.names)
        graph[name] = {target for target in imported if target in modules and target != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_runs_through_the_queue_or_the_settings() -> None:
    through = [
        sorted(component) for component in cycles(import_graph())
        if any(m.startswith("micromailer.queue") or m == "micromailer.config" for m in component)
    ]
    assert through == [], f"import cycles: {through}"


def test_settings_never_import_the_health_package() -> None:
    health = {m for m in import_graph()["micromailer.config"] if m.startswith("micromailer.health")}
    assert health == set(), f"config.py imports {sorted(health)}"
