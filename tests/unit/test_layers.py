"""The package's import rules: one direction, bottom to top, and no circle between modules.

Every ``import`` counts, also those inside functions (a lazy import is still a
dependency, and the circle this test was written against was a lazy one).
The order below is the architecture page's; a new package must be placed in it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import airflow_batchtasks

PACKAGE = Path(airflow_batchtasks.__file__).parent
#: Bottom to top: a module may import its own package and any package listed before it.
LAYERS = (
    "compat",
    "config",
    "naming",
    "storage",
    "db",
    "definitions",
    "arguments",
    "formats",
    "transports",
    "assets",
    "notify",
    "scripts",
    "sql",
    "airflow_calls",
    "orchestration",
    "lineage",
    "operators",
    "dag_factory",
    "importers",
    "cli",
    "cli_main",
    "plugins",  # nothing imports the plugin but Airflow
    "get_provider_info",
)
#: Inside ``plugins``, bottom to top: the data layer knows no HTTP; the API knows no page; one module assembles both.
PLUGIN_LAYERS = ("data", "http_guards", "current_user", "csrf", "api", "views", "app", "listeners", "plugin")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path, known: set[str]) -> Iterator[str]:
    """Our modules ``path`` imports (``from pkg import module`` names the module, not the package)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                package = module_name(path).split(".")
                package = package[: len(package) - node.level + (path.name == "__init__.py")]
                base = ".".join([*package, *([base] if base else [])])
            names = [f"{base}.{alias.name}" for alias in node.names]
            names = [n if n in known else base for n in names]
        else:
            continue
        for name in names:
            if name.startswith("airflow_batchtasks.") and name in known:
                yield name


def import_graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    known = set(files)
    return {name: set(imported_modules(path, known)) - {name} for name, path in files.items()}


def layer_of(module: str) -> str:
    return module.split(".")[1] if "." in module else ""


def plugin_layer_of(module: str) -> str:
    return module.split(".")[2] if module.startswith("airflow_batchtasks.plugins.") else ""


def test_every_package_has_a_place_in_the_layers() -> None:
    graph = import_graph()
    from_root = sorted(f"{m} imports {t}" for m, targets in graph.items() for t in targets if not layer_of(t))
    assert not from_root, "import modules, not names re-exported by the package root:\n" + "\n".join(from_root)
    unplaced = {layer_of(m) for m in graph} - set(LAYERS) - {""}
    assert not unplaced, f"place these packages in LAYERS (and on the architecture page): {sorted(unplaced)}"


def test_imports_only_go_down() -> None:
    rank = {layer: i for i, layer in enumerate(LAYERS)}
    upward = [
        f"{module} imports {target}"
        for module, targets in sorted(import_graph().items())
        for target in sorted(targets)
        if layer_of(module) and rank[layer_of(target)] > rank[layer_of(module)]
    ]
    assert not upward, "imports against the layer order:\n" + "\n".join(upward)


def test_plugin_parts_only_import_down() -> None:
    rank = {layer: i for i, layer in enumerate(PLUGIN_LAYERS)}
    graph = {m: t for m, t in import_graph().items() if plugin_layer_of(m)}
    unplaced = {plugin_layer_of(m) for m in graph} - set(rank)
    assert not unplaced, f"place these parts of plugins/ in PLUGIN_LAYERS: {sorted(unplaced)}"
    upward = [
        f"{module} imports {target}"
        for module, targets in sorted(graph.items())
        for target in sorted(targets)
        if plugin_layer_of(target) and rank[plugin_layer_of(target)] > rank[plugin_layer_of(module)]
    ]
    assert not upward, "imports against the plugin's layer order:\n" + "\n".join(upward)


def test_no_import_circle_between_modules() -> None:
    graph = import_graph()
    circles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                circles.append(path[path.index(target):] + [target])
            elif target not in state:
                visit(target)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert not circles, "import circles:\n" + "\n".join(" -> ".join(c) for c in circles)
