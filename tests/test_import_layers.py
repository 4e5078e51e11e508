"""The package's module-level imports form no cycle, and the compile-time modules of the
backends import no driver (docs/architecture.md, "The import rule").

Module-level means what runs when a module is imported: imports inside functions (the
documented lazy loading of drivers and of heavy libraries) and under ``TYPE_CHECKING``
are not edges."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "crossql"
DRIVERS = ("pymongo", "motor", "boto3", "botocore", "aioboto3", "aiobotocore", "google",
           "grpc")
COMPILE_TIME = ("compiler", "filters", "expressions", "plan", "writes", "schema", "values",
                "options")
"""Module names, in a backend's folder, that compiling for it imports."""


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


def test_compile_time_modules_import_no_driver() -> None:
    for name, path in MODULES.items():
        parts = name.split(".")
        if len(parts) == 4 and parts[1] == "backends" and parts[3] in COMPILE_TIME:
            drivers = {m for m in _module_level_imports(path) if m.split(".")[0] in DRIVERS}
            assert not drivers, (name, drivers)
