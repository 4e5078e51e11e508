"""Testing an application's queries with pytest: plan snapshots, portability, a seeded
embedded store (docs/testing.md).

The pytest plugin (``crossql.pytest_plugin``, registered as a ``pytest11`` entry point)
gives the fixtures and the ``crossql_plans`` marker; this module holds what they use,
for tests that call it directly::

    from crossql.testing import assert_portable, crossql_plans, memory_store

``PlanSnapshotExtension`` (the syrupy extension) needs syrupy, installed by the
``crossql[testing]`` extra; nothing else here does.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from crossql.backends import BACKEND_NAMES, Plan
from crossql.errors import CapabilityError
from crossql.queries import NamedQuery, QueryFile, load_queries
from crossql.testing.plans import plan_text

if TYPE_CHECKING:
    from collections.abc import Callable

    from crossql.backends.memory.store import MemoryStore
    from crossql.builder import QueryBuilder
    from crossql.testing.snapshot import PlanSnapshotExtension

__all__ = ["PlanCase", "PlanSnapshotExtension", "assert_portable", "crossql_plans",
           "load_data", "memory_store", "plan_cases", "plan_text"]

DATA_SUFFIXES = (".json", ".jsonl", ".ndjson", ".yaml", ".yml")
"""The fixture files ``load_data`` reads."""


@dataclass(frozen=True, slots=True)
class PlanCase:
    """One query of a query file compiled for one backend: a test of ``crossql_plans``."""

    query: NamedQuery
    backend: str
    schema: Any = None
    options: Any = None

    @property
    def id(self) -> str:
        """The test's id: ``query-backend``."""
        return f"{self.query.name}-{self.backend}"

    def plan(self) -> Plan:
        """The plan, with the query's ``-- example:`` values; a refusal raises its
        ``CapabilityError`` rendered against the query file."""
        return self.query.plan(self.backend, schema=self.schema, options=self.options)


def _per_backend(value: Mapping[str, Any] | None, backend: str) -> Any:
    return None if value is None else value.get(backend)


def plan_cases(path: str | os.PathLike[str] | QueryFile,
               backends: Sequence[str] = ("mongodb", "dynamodb", "firestore"), *,
               schema: Mapping[str, Any] | None = None,
               options: Mapping[str, Any] | None = None,
               base: str | os.PathLike[str] | None = None) -> list[PlanCase]:
    """Every query of a query file by every backend named, in file order (a relative
    ``path`` is read from ``base``, default the current directory). ``schema`` and
    ``options`` map a backend's name to its schema or options."""
    unknown = [b for b in backends if b not in BACKEND_NAMES]
    if unknown:
        raise ValueError(f"unknown backend {unknown[0]!r}; the backends are "
                         f"{', '.join(BACKEND_NAMES)}")
    if isinstance(path, QueryFile):
        queries = path
    else:
        full = Path(base or ".") / path
        queries = load_queries(full if base is not None else path)
    return [PlanCase(query, backend, _per_backend(schema, backend),
                     _per_backend(options, backend))
            for query in queries for backend in backends]


def crossql_plans(path: str | os.PathLike[str],
                  backends: Sequence[str] = ("mongodb", "dynamodb", "firestore"), *,
                  schema: Mapping[str, Any] | None = None,
                  options: Mapping[str, Any] | None = None) -> Callable[[Any], Any]:
    """A decorator: the test runs once per query of the file and backend, its
    ``crossql_plan`` argument that query's plan (ids ``query-backend``); a relative
    ``path`` is read from the test module's folder. The same as the
    ``@pytest.mark.crossql_plans(...)`` marker of the plugin."""
    caller = sys._getframe(1).f_globals.get("__file__")
    base = Path(caller).parent if caller else Path(".")
    cases = plan_cases(path, backends, schema=schema, options=options, base=base)
    decorate: Callable[[Any], Any] = pytest.mark.parametrize(
        "crossql_plan", cases, ids=[c.id for c in cases], indirect=True)
    return decorate


def assert_portable(query: str | NamedQuery | QueryBuilder,
                    backends: Iterable[str] = ("mongodb", "dynamodb", "firestore"), *,
                    params: Mapping[str, Any] | None = None,
                    schema: Mapping[str, Any] | None = None,
                    options: Mapping[str, Any] | None = None) -> dict[str, Plan]:
    """Fail the test unless every backend named compiles ``query``; the failure
    message is each refusal's located frame (against the query file for a query of
    one). Returns the plans by backend. A query of a file uses its ``-- example:``
    values unless ``params`` are given."""
    __tracebackhide__ = True
    plans: dict[str, Plan] = {}
    refusals: list[tuple[str, CapabilityError]] = []
    for backend in backends:
        try:
            plans[backend] = _compile(query, backend, params, _per_backend(schema, backend),
                                      _per_backend(options, backend))
        except CapabilityError as err:
            refusals.append((backend, err))
    if refusals:
        name = f"query `{query.name}`" if isinstance(query, NamedQuery) else "the query"
        names = ", ".join(backend for backend, _ in refusals)
        frames = "\n\n".join(err.render() for _, err in refusals)
        pytest.fail(f"{name} is not portable to {names}:\n\n{frames}", pytrace=False)
    return plans


def _compile(query: str | NamedQuery | QueryBuilder, backend: str,
             params: Mapping[str, Any] | None, schema: Any, options: Any) -> Plan:
    if isinstance(query, NamedQuery):
        return query.plan(backend, schema=schema, options=options, **(params or {}))
    import crossql

    return crossql.compile(query, backend=backend, params=params, schema=schema,
                           options=options)


def load_data(*paths: str | os.PathLike[str]) -> dict[str, list[dict[str, Any]]]:
    """Collections from fixture files: JSON or YAML holding an object that maps
    collection names to lists of documents, or a list of documents (the collection is
    the file's stem); ``.jsonl`` holds a document a line (the stem names it too)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for path in map(Path, paths):
        found = _read_data(path)
        for name, docs in found.items():
            if name in out:
                raise ValueError(f"{path}: collection `{name}` comes from two files")
            if not isinstance(docs, list) or not all(isinstance(d, dict) for d in docs):
                raise ValueError(f"{path}: collection `{name}` is not a list of documents")
            out[name] = docs
    return out


def _read_data(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    suffix = path.suffix.lower()
    if suffix not in DATA_SUFFIXES:
        raise ValueError(f"{path}: a fixture file is {', '.join(DATA_SUFFIXES)}")
    if suffix in (".jsonl", ".ndjson"):
        return {path.stem: [json.loads(line) for line in text.splitlines() if line.strip()]}
    if suffix in (".yaml", ".yml"):
        import yaml

        data = yaml.safe_load(text)
    else:
        data = json.loads(text)
    if isinstance(data, list):
        return {path.stem: data}
    if isinstance(data, dict):
        return data
    raise ValueError(f"{path}: holds neither collections (an object of lists) nor a list "
                     "of documents")


def memory_store(*paths: str | os.PathLike[str],
                 data: Mapping[str, Sequence[Mapping[str, Any]]] | None = None
                 ) -> MemoryStore:
    """An embedded store (the reference semantics, no server) holding the documents of
    the fixture files ``paths`` and of ``data``. Call it outside a running event loop
    (a fixture, a plain test): it fills the store on a loop of its own."""
    from crossql.backends.memory.store import MemoryStore

    collections: dict[str, list[Any]] = {**load_data(*paths)}
    for name, docs in (data or {}).items():
        collections.setdefault(name, []).extend(docs)
    store = MemoryStore()

    async def fill() -> None:
        for name, docs in collections.items():
            await store.collection(name).insert_many(docs)

    asyncio.run(fill())
    return store


def __getattr__(name: str) -> Any:
    if name == "PlanSnapshotExtension":
        from crossql.testing.snapshot import PlanSnapshotExtension

        return PlanSnapshotExtension
    raise AttributeError(f"module 'crossql.testing' has no attribute {name!r}")
