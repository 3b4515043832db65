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


def _self_calls(function):
    """Names of the methods that ``function`` calls on ``self`` (``self._x(...)``) or through
    ``super()`` (``super()._x(...)``)."""
    for node in ast.walk(function):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            if (isinstance(owner, ast.Name) and owner.id == "self") or (
                    isinstance(owner, ast.Call) and getattr(owner.func, "id", None) == "super"):
                yield node.func.attr


def _mixins():
    for name, path in MODULES.items():
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ClassDef) and node.name.endswith("Mixin"):
                yield f"{name}.{node.name}", node


MIXINS = dict(_mixins())


def test_the_package_has_mixins_to_check():
    assert {"minuet_sk._persistence.SavedModelMixin",
            "minuet_sk.encoders._latent_features.LatentFeaturesMixin"} <= set(MIXINS)


@pytest.mark.parametrize("name", sorted(MIXINS))
def test_a_mixin_is_a_protocol_that_calls_no_private_method_of_its_host(name):
    # a mixin is a protocol that unrelated classes share: the private methods it calls are
    # its own (the hooks it declares), never a slice of one host class reaching into another
    node = MIXINS[name]
    defined = {f.name for f in node.body if isinstance(f, ast.FunctionDef)}
    called = {c for f in node.body if isinstance(f, ast.FunctionDef) for c in _self_calls(f)}
    private = {c for c in called if c.startswith("_") and not c.startswith("__")}
    assert private <= defined, (name, sorted(private - defined))
