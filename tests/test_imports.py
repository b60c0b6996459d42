"""The package's import graph has no cycle, counting imports inside functions."""

from __future__ import annotations

import ast
from pathlib import Path

import polyface

ROOT = Path(polyface.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_only(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and ast.unparse(test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")


def _imports(tree: ast.AST, module: str, is_package: bool, modules: set[str]) -> set[str]:
    """Every polyface module ``tree`` imports, wherever the import stands (not under TYPE_CHECKING).

    ``from pkg import name`` imports the module ``pkg.name`` when there is one, else ``pkg``
    itself. A parent package that Python runs on the way is not counted: it is already running.
    """
    found: set[str] = set()
    stack = [tree]
    while stack:
        node = stack.pop()
        if _type_checking_only(node):
            continue
        stack.extend(ast.iter_child_nodes(node))
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = module.split(".") if is_package else module.split(".")[:-1]
                pkg = pkg[: len(pkg) - node.level + 1]
                base = ".".join(pkg + ([base] if base else []))
            for a in node.names:
                found.add(f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base)
    return {name for name in found if name in modules and name != module}


def import_graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in ROOT.rglob("*.py")}
    graph = {}
    for name, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        graph[name] = _imports(tree, name, path.name == "__init__.py", set(files))
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first == last), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_graph_sees_function_level_imports():
    graph = import_graph()
    assert "polyface.run" in graph["polyface"]  # polyface.evolve imports it inside the function
    assert "polyface.genome" in graph["polyface.search.mutate"]


def test_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_find_cycle_reports_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


# Data flows one way: genome -> render -> detect -> judge -> search -> runio -> run -> engines -> cli.
# A module may import from its own layer and the layers below it, never from a layer above.
LAYERS = [
    ("base", ("polyface._version", "polyface.limits", "polyface.validate", "polyface.atomic", "polyface.interrupt",
              "polyface.data")),
    # The settings (config) sit with the genome: they check palettes, which are genome data.
    ("genome", ("polyface.genome", "polyface.genome_io", "polyface.face_layout",
                "polyface.palettes", "polyface.config")),
    ("render", ("polyface.render",)),
    ("detect", ("polyface.detect",)),
    ("judge", ("polyface.judge", "polyface.score")),
    ("search", ("polyface.search",)),
    ("runio", ("polyface.runio",)),
    ("run", ("polyface.run", "polyface.preset", "polyface.placement")),
    ("engines", ("polyface.engines", "polyface.batch")),
    ("cli", ("polyface.cli", "polyface.cli_export", "polyface.cli_support", "polyface.entry", "polyface.__main__")),
]


def layer_of(module: str) -> int:
    if module == "polyface":
        return len(LAYERS)  # the package's own __init__ may name anything
    for i, (_, prefixes) in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return i
    raise AssertionError(f"{module} is in no layer: add it to LAYERS")


def test_every_import_points_down_the_layers():
    graph = import_graph()
    upward = sorted(
        f"{a} ({LAYERS[layer_of(a)][0]}) imports {b} ({LAYERS[layer_of(b)][0]})"
        for a, deps in graph.items()
        for b in deps
        if layer_of(b) > layer_of(a)
    )
    assert not upward, "imports that point up the layers:\n" + "\n".join(upward)


def test_the_layer_test_sees_an_upward_import():
    graph = {"polyface.genome": {"polyface.search.loop"}, "polyface.search.loop": set()}
    assert [b for a, deps in graph.items() for b in deps if layer_of(b) > layer_of(a)] == ["polyface.search.loop"]
