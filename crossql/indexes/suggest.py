"""``suggest``: the fewest indexes per backend that serve a set of queries.

Each query becomes its access patterns (``patterns.py``); each backend's rules
(``rules.py``) say which index a pattern needs; ``rules.minimal`` keeps the fewest that
still serve them all (a longer index takes over its prefixes where the backend allows,
Firestore merges equality prefixes over a shared order). Declared indexes (the
schema's) are marked, and each query says what serves it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from crossql import ir
from crossql.errors import ConfigError
from crossql.indexes import rules
from crossql.indexes.model import (
    INDEX_BACKENDS,
    DeclaredIndexes,
    DynamoIndex,
    FirestoreIndex,
    Index,
    MongoIndex,
    parse_schema_indexes,
)
from crossql.indexes.patterns import Pattern, key_pattern, patterns


@dataclass(frozen=True, slots=True)
class Suggestion:
    """One index of a backend's minimal set, the queries it serves, and whether the
    schema already declares it."""

    backend: str
    collection: str
    index: Index
    queries: tuple[str, ...]
    declared: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"collection": self.collection, "index": self.index.definition(),
                "text": self.index.text(), "declared": self.declared,
                "queries": list(self.queries)}


@dataclass(frozen=True, slots=True)
class Unindexed:
    """A query no index of this backend can serve, and why."""

    backend: str
    collection: str
    query: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        """JSON-ready."""
        return {"collection": self.collection, "query": self.query, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class IndexReport:
    """What ``suggest`` found: per backend, the minimal set and what stays unindexed."""

    indexes: Mapping[str, tuple[Suggestion, ...]] = field(default_factory=dict)
    unindexed: Mapping[str, tuple[Unindexed, ...]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{backend: {"indexes": [...], "unindexed": [...]}}``."""
        return {backend: {"indexes": [s.to_dict() for s in self.indexes.get(backend, ())],
                          "unindexed": [u.to_dict() for u in self.unindexed.get(backend, ())]}
                for backend in self.indexes}

    def firestore_json(self) -> dict[str, Any]:
        """The Firestore indexes as a deployable ``firestore.indexes.json`` document
        (https://firebase.google.com/docs/reference/firestore/indexes)."""
        return firestore_json([s.index for s in self.indexes.get("firestore", ())
                               if isinstance(s.index, FirestoreIndex)])


def firestore_json(indexes: Sequence[FirestoreIndex]) -> dict[str, Any]:
    """A ``firestore.indexes.json`` document listing ``indexes`` (no field overrides)."""
    return {"indexes": [i.to_json() for i in indexes], "fieldOverrides": []}


def _as_query(statement: ir.Statement) -> ir.Query:
    if isinstance(statement, ir.Query):
        return statement
    return ir.Query(statement.collection, statement.where)


def _tables(schema: Mapping[str, Any] | None, declared: DeclaredIndexes
            ) -> dict[str, rules.Table]:
    """DynamoDB tables of the schema (keys, key types, declared indexes)."""
    out: dict[str, rules.Table] = {}
    entries = (schema or {}).get("dynamodb") or {}
    for name, entry in entries.items() if isinstance(entries, Mapping) else ():
        if not isinstance(entry, Mapping):
            continue
        out[str(name)] = rules.Table(
            str(entry.get("partition_key", rules.ID)), entry.get("sort_key"),
            [i for i in declared.of("dynamodb", str(name)) if isinstance(i, DynamoIndex)],
            entry.get("attribute_types"))
    return out


def suggest(queries: Sequence[tuple[str, ir.Statement]], schema: Mapping[str, Any] | None = None,
            backends: Sequence[str] = INDEX_BACKENDS) -> IndexReport:
    """The fewest indexes per backend that serve ``queries`` (label, parsed statement).

    ``schema`` is the ``{backend: {collection: entry}}`` mapping of ``--schema FILE``:
    its ``indexes`` lists are the declared indexes (marked in the report), a DynamoDB
    entry's keys say when the table itself gives a Query. Raises ``ConfigError`` for a
    bad declaration."""
    declared = parse_schema_indexes(schema)
    tables = _tables(schema, declared)
    parsed = [(label, _as_query(statement)) for label, statement in queries]
    labelled = [(label, p) for label, query in parsed for p in patterns(query)]
    keyed = [(label, key_pattern(query)) for label, query in parsed]
    found: dict[str, tuple[Suggestion, ...]] = {}
    open_: dict[str, tuple[Unindexed, ...]] = {}
    for backend in backends:
        if backend not in INDEX_BACKENDS:
            raise ConfigError([("backend", f"no index rules for {backend!r} (known: "
                                           f"{', '.join(INDEX_BACKENDS)})")])
        found[backend], open_[backend] = _suggest_one(
            backend, keyed if backend == "dynamodb" else labelled, declared, tables)
    return IndexReport(found, open_)


def _suggest_one(backend: str, labelled: Sequence[tuple[str, Pattern]],
                 declared: DeclaredIndexes, tables: Mapping[str, rules.Table]
                 ) -> tuple[tuple[Suggestion, ...], tuple[Unindexed, ...]]:
    out: list[Suggestion] = []
    unindexed: list[Unindexed] = []
    collections = dict.fromkeys(p.collection for _, p in labelled)
    for collection in collections:
        mine = [(label, p) for label, p in labelled if p.collection == collection]
        table = tables.get(collection, rules.Table())
        candidates: list[Any] = []
        for label, p in mine:
            need = _need(backend, p, table)
            if isinstance(need, str):
                unindexed.append(Unindexed(backend, collection, label,
                                           _REASONS.get(need, need)))
            elif need is not None:
                candidates.append(need)
        served = _served_set(backend, table)
        if backend == "dynamodb":
            candidates = rules.merge_dynamo(candidates)
        kept = rules.minimal(candidates, [p for _, p in mine], served, _size)
        known = declared.of(backend, collection)
        for index in kept:
            others = [k for k in kept if k != index]
            serves = tuple(dict.fromkeys(
                label for label, p in mine
                if (served(kept, p) and not served(others, p))
                or _serves_alone(backend, index, p, table)))
            out.append(Suggestion(backend, collection, index, serves,
                                  _is_declared(index, known)))
    return tuple(out), tuple(unindexed)


_REASONS = {"scan": "a Scan: no field is pinned with `==`, so no index can key it",
            "nested": "a Scan: only nested fields are pinned with `==`, and a key is a "
                      "top-level attribute"}


def _need(backend: str, p: Pattern, table: rules.Table) -> Any:
    if backend == "firestore":
        return rules.firestore_need(p)
    if backend == "mongodb":
        return rules.mongo_need(p)
    return rules.dynamo_need(p, table)


def _served_set(backend: str, table: rules.Table) -> Any:
    if backend == "firestore":
        return rules.firestore_served
    if backend == "mongodb":
        return rules.mongo_served

    def served(indexes: Sequence[DynamoIndex], p: Pattern) -> bool:
        return rules.dynamo_served(indexes, p, table)
    return served


def _serves_alone(backend: str, index: Any, p: Pattern, table: rules.Table) -> bool:
    if backend == "firestore":
        return rules.firestore_shape(p) is not None and rules.firestore_served([index], p)
    if backend == "mongodb":
        return rules.mongo_shape(p) is not None and rules.mongo_serves(index, p)
    return not rules.dynamo_served((), p, table) and rules.dynamo_serves(index, p, table)


def _size(index: Any) -> int:
    if isinstance(index, MongoIndex):
        return len(index.keys)
    if isinstance(index, FirestoreIndex):
        return len(index.fields)
    return 1 + (index.sort_key is not None)


def _is_declared(index: Any, known: Sequence[Index]) -> bool:
    if isinstance(index, MongoIndex):
        return any(isinstance(k, MongoIndex) and k.keys == index.keys for k in known)
    if isinstance(index, DynamoIndex):
        return any(isinstance(k, DynamoIndex) and (k.partition_key, k.sort_key) == (
            index.partition_key, index.sort_key) for k in known)
    return index in known
