"""The package's architecture rules, read from its source (docs/developer.rst):
no import cycle, nothing below the command line imports the package face, ``nn`` is pure
torch, and the estimators never import the benchmark harness."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "minuet_sk"
PACKAGES = {"minuet_sk", "minuet_sk.datasets", "minuet_sk.nn", "minuet_sk.evaluation",
            "minuet_sk._training"}


def _modules():
    modules = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    return modules


def _imports(name, path):
    """(module imported, names) of every import statement of a module, relative ones
    resolved; at any depth (imports inside functions count)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] \
                if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            yield target, [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []


MODULES = _modules()


def _graph():
    graph = {}
    for name, path in MODULES.items():
        deps = set()
        for target, names in _imports(name, path):
            for imported in names or [None]:
                full = f"{target}.{imported}" if imported else target
                deps.add(full if full in MODULES else target)
        graph[name] = {d for d in deps if d in MODULES and d != name and d not in PACKAGES}
    return graph


def test_no_import_cycle():
    graph, state, cycles = _graph(), {}, []

    def visit(node, stack):
        state[node] = "open"
        for dep in graph[node]:
            if state.get(dep) == "open":
                cycles.append(stack[stack.index(dep):] + [dep])
            elif dep not in state:
                visit(dep, [*stack, dep])
        state[node] = "done"

    for module in graph:
        if module not in state:
            visit(module, [module])
    assert cycles == []


@pytest.mark.parametrize("name", sorted(set(MODULES) - {"minuet_sk", "minuet_sk.cli"}))
def test_nothing_below_the_command_line_imports_the_package_face(name):
    for target, names in _imports(name, MODULES[name]):
        if target == "minuet_sk":  # `from minuet_sk import X`: only submodules are fine
            assert all(f"minuet_sk.{n}" in MODULES for n in names), (name, names)


def test_nn_is_pure_torch_and_estimators_never_import_the_harness():
    for name, path in MODULES.items():
        targets = {t for t, _ in _imports(name, path)}
        if name.startswith("minuet_sk.nn"):
            assert not any(t.startswith(("sklearn", "skorch", "minuet_sk.")) and
                           not t.startswith("minuet_sk.nn") for t in targets), name
        if not name.startswith(("minuet_sk.evaluation", "minuet_sk.cli")):
            assert not any(t.startswith("minuet_sk.evaluation") for t in targets), name
