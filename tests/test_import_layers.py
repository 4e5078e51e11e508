"""The package's imports point down through its layers and form no cycle, and the
compile-time modules of the backends import no driver and no runtime (docs/architecture.md,
"The import rule").

Module-level means what runs when a module is imported: imports inside functions (the
documented lazy loading of drivers and of heavy libraries) and under ``TYPE_CHECKING``
are not edges of ``GRAPH``; ``DEEP`` counts them too."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "crossql"
DRIVERS = ("pymongo", "motor", "boto3", "botocore", "aioboto3", "aiobotocore", "google",
           "grpc")
STORE_MODULES = ("store", "store_base", "transaction", "_driver", "config", "watch")
"""Module names, in a backend's folder, that run plans or open them (they may import the
runtime and, inside functions, the driver; ``config`` is the configuration block, whose
store factory opens the store); every other module of the folder is compile-time."""


def _name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULE_FILES = {_name(p) for p in PACKAGE.rglob("*.py")}


def _module_level_imports(path: Path, *, deep: bool = False) -> set[str]:
    tree = ast.parse(path.read_text("utf-8"))
    package = _name(path) if path.name == "__init__.py" else _name(path).rpartition(".")[0]
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        for sub in ast.walk(node) if deep or isinstance(node, ast.If | ast.Try) else [node]:
            if isinstance(sub, ast.Import):
                found.update(alias.name for alias in sub.names)
            elif isinstance(sub, ast.ImportFrom):
                base = sub.module or ""
                if sub.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - sub.level + 1]
                                    + ([sub.module] if sub.module else []))
                # `from crossql import ir` imports the module crossql.ir; `from
                # crossql.backends import Plan` a name of the package's __init__
                names = [f"{base}.{alias.name}" for alias in sub.names]
                found.update(n for n in names if n in MODULE_FILES)
                if any(n not in MODULE_FILES for n in names):
                    found.add(base)
    return found


MODULES = {_name(p): p for p in PACKAGE.rglob("*.py")}
GRAPH = {name: {m for m in _module_level_imports(path) if m in MODULES and m != name}
         for name, path in MODULES.items()}
DEEP = {name: {m for m in _module_level_imports(path, deep=True) if m in MODULES and m != name}
        for name, path in MODULES.items()}
"""With the imports inside functions too: what a module needs when it runs."""


def _cycles(graph: dict[str, set[str]] = GRAPH) -> list[list[str]]:
    found, state, stack = [], dict.fromkeys(graph, 0), []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state[nxt] == 1:
                found.append([*stack[stack.index(nxt):], nxt])
            elif state[nxt] == 0:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if state[node] == 0:
            visit(node)
    return found


KNOWN: set[tuple[str, ...]] = set()
"""Cycles through imports inside functions that are still there (issue 14, point 3).
A cycle fixed is a failure here until it leaves this set."""


def test_the_graph_is_read() -> None:
    assert "crossql.backends.dynamodb.compiler" in GRAPH["crossql.backends.dynamodb.writes"]
    assert "crossql.ir" in GRAPH["crossql.grammar.parser"]
    assert len(GRAPH) > 50


def test_module_level_imports_form_no_cycle() -> None:
    assert _cycles() == []


def test_with_the_imports_inside_functions_only_the_known_cycles_are_left() -> None:
    assert {tuple(c) for c in _cycles(DEEP)} == KNOWN


def test_a_cycle_would_be_found() -> None:
    GRAPH["crossql.ir"].add("crossql.api")
    try:
        assert _cycles()
    finally:
        GRAPH["crossql.ir"].discard("crossql.api")


def _compile_time(name: str) -> bool:
    parts = name.split(".")
    return len(parts) >= 3 and parts[1] == "backends" and parts[-1] not in STORE_MODULES \
        and parts[2] not in ("base", "matrix")


def test_compile_time_modules_import_no_driver() -> None:
    assert _compile_time("crossql.backends.dynamodb.expressions")
    assert not _compile_time("crossql.backends.firestore._driver")
    for name, path in MODULES.items():
        if _compile_time(name):
            drivers = {m for m in _module_level_imports(path) if m.split(".")[0] in DRIVERS}
            assert not drivers, f"{name} (compiled for its backend) imports the driver {drivers}"


LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("foundation", ("crossql._frozen", "crossql._generated", "crossql._memo", "crossql._version",
                    "crossql.limits")),
    # the vocabulary every stage shares: the parser builds IR nodes and raises located
    # errors, so the IR sits below the grammar although the grammar runs first
    ("ir", ("crossql.ir", "crossql.errors", "crossql.visitor")),
    ("grammar", ("crossql.grammar", "crossql.grammar.*", "crossql.builder")),
    # the backend interface (Plan, BackendSpec, refuse) and the registry, which finds a
    # backend by name when asked (importlib), so compile_statement imports none
    ("compiler", ("crossql.compiler", "crossql.compiler.*", "crossql.backends",
                  "crossql.backends.base", "crossql.backends.registry")),
    ("reference semantics", ("crossql.semantics", "crossql.semantics.*")),
    # index declarations and rules (issue #20): read IR; a compiler checks against them
    ("indexes", ("crossql.indexes", "crossql.indexes.*")),
    # declared schemas (crossql.Schema) hold the DynamoDB key schema model and are read
    # by the backends' compilers; the checks below them take any object of their shape
    ("backend compilers", ("crossql.backends.*", "crossql.schema")),
    ("runtime", ("crossql.runtime", "crossql.runtime.*", "crossql.config")),
    ("backend stores", tuple(f"crossql.backends.*.{m}" for m in STORE_MODULES)),
    # connect_sync wraps crossql.connect in a thread: API surface kept in runtime/
    ("api and command line", ("crossql", "crossql.__main__", "crossql.api", "crossql.cli",
                              "crossql.portability", "crossql.config_reference",
                              "crossql.runtime.sync", "crossql.queries", "crossql.pytest_plugin",
                              "crossql.testing", "crossql.testing.*")),
)
"""The layers, lowest first: a module imports only modules of its own layer or below."""

KNOWN_UPWARD: set[tuple[str, str]] = set()
"""Imports that still point up, each with its reason (none left: Firestore's write plans
no longer run themselves). A fixed one is a failure here until it leaves this set."""


def _fits(pattern: str, name: str) -> bool:
    """``*`` is one segment; a trailing ``*`` one or more (``crossql.backends.*`` holds
    ``crossql.backends.dynamodb.compiler``)."""
    want, have = pattern.split("."), name.split(".")
    if want[-1] == "*" and len(have) > len(want):
        have = have[: len(want)]
    return len(want) == len(have) and all(w in ("*", h) for w, h in zip(want, have, strict=True))


def layer(name: str) -> int:
    """The rank of the layer holding module ``name``; the most specific pattern wins
    (``crossql.runtime.sync`` is API, ``crossql.backends.mongodb.store`` a store)."""
    fits = [(pattern.count("*"), -pattern.count("."), rank)
            for rank, (_, patterns) in enumerate(LAYERS) for pattern in patterns
            if _fits(pattern, name)]
    assert fits, f"{name} is in no layer: add it to LAYERS in tests/test_import_layers.py"
    return min(fits)[2]


def upward_imports(graph: dict[str, set[str]] = DEEP) -> list[str]:
    """Each import from a module to a module of a higher layer, as a sentence."""
    return [f"{name} ({LAYERS[layer(name)][0]}) imports {target} ({LAYERS[layer(target)][0]}), "
            "a layer above it: move the shared part down or the import up "
            "(docs/architecture.md, 'The import rule')"
            for name in sorted(graph) for target in sorted(graph[name])
            if layer(target) > layer(name) and (name, target) not in KNOWN_UPWARD]


def test_every_module_is_in_a_layer() -> None:
    assert layer("crossql.runtime.sync") == layer("crossql.api")
    assert layer("crossql.backends.mongodb.store") > layer("crossql.runtime.store")
    assert layer("crossql.backends.mongodb.filters") < layer("crossql.runtime.store")
    assert layer("crossql.grammar.parser") < layer("crossql.compiler.checks")
    for name in MODULES:
        layer(name)


def test_imports_point_down_the_layers() -> None:
    # inside functions too: a lazy import that points up is still an upward dependency
    assert upward_imports() == []


def test_the_known_upward_imports_are_still_there() -> None:
    assert all(target in DEEP[name] for name, target in KNOWN_UPWARD), KNOWN_UPWARD


def test_an_upward_import_is_named() -> None:
    DEEP["crossql.backends.mongodb.filters"].add("crossql.runtime.store")
    try:
        assert upward_imports() == [
            "crossql.backends.mongodb.filters (backend compilers) imports "
            "crossql.runtime.store (runtime), a layer above it: move the shared part down "
            "or the import up (docs/architecture.md, 'The import rule')"]
    finally:
        DEEP["crossql.backends.mongodb.filters"].discard("crossql.runtime.store")
