"""Index declarations as data: MongoDB compound indexes, DynamoDB GSIs/LSIs, Firestore
composite indexes.

Declarations live in each backend's schema, under a collection's ``indexes`` key (the
shape ``--schema FILE`` and ``crossql.compile(schema=...)`` take)::

    mongodb:
      orders: {indexes: [{keys: {user: 1, created: -1}, unique: false}]}
    dynamodb:
      orders: {partition_key: _id,
               indexes: [{name: by_user, partition_key: user, sort_key: created}]}
    firestore:
      orders: {indexes: [{fields: [{field: user}, {field: created, order: DESCENDING}]}]}

``parse_indexes(entries, backend, collection=...)`` validates one collection's list and
``parse_schema_indexes(schema)`` a whole ``{backend: {collection: entry}}`` mapping; a
bad declaration is a ``ConfigError`` whose paths say where (``firestore.orders.indexes.0
.fields.1.order: ...``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

from crossql.errors import ConfigError

FirestoreMode: TypeAlias = Literal["ASCENDING", "DESCENDING", "CONTAINS"]
FirestoreScope: TypeAlias = Literal["COLLECTION", "COLLECTION_GROUP"]
KeyType: TypeAlias = Literal["S", "N", "B"]
Projection: TypeAlias = Literal["ALL", "KEYS_ONLY"] | tuple[str, ...]

INDEX_BACKENDS: tuple[str, ...] = ("mongodb", "dynamodb", "firestore")
"""The backends whose indexes CrossQL declares, derives and checks."""

_DYNAMO_NAME = re.compile(r"[A-Za-z0-9_.-]{3,255}")


@dataclass(frozen=True, slots=True)
class MongoIndex:
    """A MongoDB (compound) index: keys in order, each ``1`` (ascending) or ``-1``
    (descending) (https://www.mongodb.com/docs/manual/core/indexes/index-types/index-compound/).
    ``partial`` is a ``partialFilterExpression``: such an index serves only queries whose
    filter implies it, which CrossQL does not prove, so it never counts as serving one."""

    keys: tuple[tuple[str, int], ...]
    name: str | None = None
    unique: bool = False
    sparse: bool = False
    partial: Mapping[str, Any] | None = field(default=None, hash=False)

    @property
    def fields(self) -> tuple[str, ...]:
        """The key fields, in order."""
        return tuple(k for k, _ in self.keys)

    def default_name(self) -> str:
        """The name MongoDB gives it when none is set (``user_1_created_-1``)."""
        return self.name or "_".join(f"{k}_{d}" for k, d in self.keys)

    def definition(self) -> dict[str, Any]:
        """The declaration as plain data (the form ``parse_indexes`` reads back)."""
        out: dict[str, Any] = {"keys": dict(self.keys)}
        if self.name is not None:
            out["name"] = self.name
        if self.unique:
            out["unique"] = True
        if self.sparse:
            out["sparse"] = True
        if self.partial is not None:
            out["partial"] = dict(self.partial)
        return out

    def text(self) -> str:
        """One line: ``{user: 1, created: -1}`` and its options."""
        body = "{" + ", ".join(f"{k}: {d}" for k, d in self.keys) + "}"
        extra = [name for name in ("unique", "sparse") if getattr(self, name)]
        if self.partial is not None:
            extra.append("partial " + json.dumps(self.partial, sort_keys=True, default=str))
        return body + "".join(f" {e}" for e in extra)


@dataclass(frozen=True, slots=True)
class DynamoIndex:
    """A DynamoDB secondary index: global (its own partition key) or local (the table's
    partition key, another sort key), with what it projects
    (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/SecondaryIndexes.html)."""

    name: str
    partition_key: str | None
    sort_key: str | None = None
    local: bool = False
    projection: Projection = "ALL"
    partition_key_type: KeyType = "S"
    sort_key_type: KeyType = "S"

    def definition(self) -> dict[str, Any]:
        """The declaration as plain data (the DynamoDB schema's ``indexes`` entry form)."""
        out: dict[str, Any] = {"name": self.name}
        if self.partition_key is not None:
            out["partition_key"] = self.partition_key
        if self.sort_key is not None:
            out["sort_key"] = self.sort_key
        if self.local:
            out["local"] = True
        out["projection"] = (list(self.projection) if isinstance(self.projection, tuple)
                             else self.projection)
        return out

    def text(self) -> str:
        """One line: ``GSI by_user (user S, created S) projecting ALL``."""
        keys = f"{self.partition_key or '(table key)'} {self.partition_key_type}"
        if self.sort_key is not None:
            keys += f", {self.sort_key} {self.sort_key_type}"
        projection = (f"INCLUDE {', '.join(self.projection)}"
                      if isinstance(self.projection, tuple) else self.projection)
        return f"{'LSI' if self.local else 'GSI'} {self.name} ({keys}) projecting {projection}"


@dataclass(frozen=True, slots=True)
class FirestoreField:
    """One field of a Firestore composite index: a dotted field path and its mode."""

    path: str
    mode: FirestoreMode = "ASCENDING"

    def to_json(self) -> dict[str, str]:
        """The ``firestore.indexes.json`` form: ``order`` or ``arrayConfig``."""
        if self.mode == "CONTAINS":
            return {"fieldPath": self.path, "arrayConfig": "CONTAINS"}
        return {"fieldPath": self.path, "order": self.mode}


@dataclass(frozen=True, slots=True)
class FirestoreIndex:
    """A Firestore composite index on a collection (or a collection group)
    (https://firebase.google.com/docs/reference/firestore/indexes)."""

    collection: str
    fields: tuple[FirestoreField, ...]
    scope: FirestoreScope = "COLLECTION"

    def to_json(self) -> dict[str, Any]:
        """One entry of ``firestore.indexes.json``'s ``indexes`` array."""
        return {"collectionGroup": self.collection, "queryScope": self.scope,
                "fields": [f.to_json() for f in self.fields]}

    def definition(self) -> dict[str, Any]:
        """The declaration as plain data (the form ``parse_indexes`` reads back)."""
        out: dict[str, Any] = {"fields": [f.to_json() for f in self.fields]}
        if self.scope != "COLLECTION":
            out["scope"] = self.scope
        return out

    def text(self) -> str:
        """One line: ``orders (user ASC, created DESC)``."""
        short = {"ASCENDING": "ASC", "DESCENDING": "DESC", "CONTAINS": "CONTAINS"}
        body = ", ".join(f"{f.path} {short[f.mode]}" for f in self.fields)
        scope = " collection group" if self.scope == "COLLECTION_GROUP" else ""
        return f"{self.collection}{scope} ({body})"


Index: TypeAlias = MongoIndex | DynamoIndex | FirestoreIndex


@dataclass(frozen=True, slots=True)
class DeclaredIndexes:
    """Every declared index, per backend and collection."""

    mongodb: Mapping[str, tuple[MongoIndex, ...]] = field(default_factory=dict, hash=False)
    dynamodb: Mapping[str, tuple[DynamoIndex, ...]] = field(default_factory=dict, hash=False)
    firestore: Mapping[str, tuple[FirestoreIndex, ...]] = field(default_factory=dict,
                                                                hash=False)

    def of(self, backend: str, collection: str) -> tuple[Index, ...]:
        """The indexes declared on ``backend`` for ``collection``."""
        table: Mapping[str, tuple[Index, ...]] = getattr(self, backend)
        return table.get(collection, ())


# --- parsing ------------------------------------------------------------------------------


class _Problems:
    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, path: str, message: str) -> None:
        self.items.append((path, message))


def _mapping(value: Any, path: str, problems: _Problems, keys: Sequence[str]) -> bool:
    if not isinstance(value, Mapping):
        problems.add(path, f"expected a mapping, got {type(value).__name__}")
        return False
    for key in value:
        if key not in keys:
            problems.add(f"{path}.{key}", f"unknown key (known: {', '.join(keys)})")
    return True


def _text(value: Any, path: str, problems: _Problems) -> str | None:
    if not isinstance(value, str) or not value:
        problems.add(path, "expected a non-empty string")
        return None
    return value


def _flag(entry: Mapping[str, Any], key: str, path: str, problems: _Problems) -> bool:
    value = entry.get(key, False)
    if not isinstance(value, bool):
        problems.add(f"{path}.{key}", "expected true or false")
        return False
    return value


def _mongo_keys(raw: Any, path: str, problems: _Problems) -> tuple[tuple[str, int], ...]:
    pairs: list[tuple[Any, Any]] = []
    if isinstance(raw, Mapping):
        pairs = list(raw.items())
    elif isinstance(raw, list | tuple):
        for i, item in enumerate(raw):
            if isinstance(item, str):
                pairs.append((item, 1))
            elif isinstance(item, Mapping) and len(item) == 1:
                pairs.append(next(iter(item.items())))
            elif isinstance(item, list | tuple) and len(item) == 2:
                pairs.append((item[0], item[1]))
            else:
                problems.add(f"{path}.{i}", "a key is a field name, {field: 1 or -1} or "
                                            "[field, 1 or -1]")
    else:
        problems.add(path, "expected a mapping {field: 1 or -1} or a list of keys")
        return ()
    out: list[tuple[str, int]] = []
    seen: set[str] = set()
    for name, direction in pairs:
        if not isinstance(name, str) or not name:
            problems.add(path, f"a key's field must be a non-empty string, not {name!r}")
            continue
        if isinstance(direction, bool) or direction not in (1, -1):
            problems.add(f"{path}.{name}", f"direction is 1 or -1, not {direction!r}")
            continue
        if name in seen:
            problems.add(f"{path}.{name}", "the field is listed twice")
            continue
        seen.add(name)
        out.append((name, int(direction)))
    if not out and not problems.items:
        problems.add(path, "an index needs at least one key")
    return tuple(out)


def _parse_mongo(entry: Any, path: str, problems: _Problems) -> MongoIndex | None:
    if not _mapping(entry, path, problems, ("keys", "name", "unique", "sparse", "partial")):
        return None
    before = len(problems.items)
    if "keys" not in entry:
        problems.add(path, "missing `keys`")
        return None
    keys = _mongo_keys(entry["keys"], f"{path}.keys", problems)
    name = _text(entry["name"], f"{path}.name", problems) if "name" in entry else None
    unique = _flag(entry, "unique", path, problems)
    sparse = _flag(entry, "sparse", path, problems)
    partial = entry.get("partial")
    if partial is not None and not isinstance(partial, Mapping):
        problems.add(f"{path}.partial", "a partial filter expression is a mapping")
    if len(problems.items) > before:
        return None
    return MongoIndex(keys, name, unique, sparse, dict(partial) if partial else None)


def _parse_dynamo(entry: Any, path: str, problems: _Problems,
                  attribute_types: Mapping[str, Any]) -> DynamoIndex | None:
    if not _mapping(entry, path, problems,
                    ("name", "partition_key", "sort_key", "local", "projection")):
        return None
    before = len(problems.items)
    name = _text(entry.get("name"), f"{path}.name", problems)
    if name is not None and not _DYNAMO_NAME.fullmatch(name):
        problems.add(f"{path}.name", "3 to 255 characters of A-Z, a-z, 0-9, `_`, `-`, `.`")
    local = _flag(entry, "local", path, problems)
    pk = entry.get("partition_key")
    if pk is not None:
        pk = _text(pk, f"{path}.partition_key", problems)
    elif not local:
        problems.add(path, "a global index needs a `partition_key`")
    sk = entry.get("sort_key")
    if sk is not None:
        sk = _text(sk, f"{path}.sort_key", problems)
    elif local:
        problems.add(path, "a local index needs a `sort_key`")
    raw = entry.get("projection", "ALL")
    projection: Projection = "ALL"
    if raw in ("ALL", "KEYS_ONLY"):
        projection = raw
    elif isinstance(raw, list | tuple) and raw and all(isinstance(a, str) and a for a in raw):
        projection = tuple(raw)
    else:
        problems.add(f"{path}.projection", "ALL, KEYS_ONLY or a list of attribute names "
                                           "(INCLUDE)")
    types: list[KeyType] = []
    for key in (pk, sk):
        kind = attribute_types.get(key, "S") if key else "S"
        if kind in ("N", "B"):
            types.append("N" if kind == "N" else "B")
            continue
        if kind != "S":
            problems.add(f"{path}", f"key {key!r} has type {kind!r}: a key is S, N or B")
        types.append("S")
    if len(problems.items) > before or name is None:
        return None
    return DynamoIndex(name, pk, sk, local, projection, types[0], types[1])


_MODES = {"ASCENDING": "ASCENDING", "ASC": "ASCENDING", "DESCENDING": "DESCENDING",
          "DESC": "DESCENDING", "CONTAINS": "CONTAINS"}


def _parse_field(item: Any, path: str, problems: _Problems) -> FirestoreField | None:
    if isinstance(item, str):
        return FirestoreField(item)
    if not _mapping(item, path, problems, ("field", "fieldPath", "order", "mode",
                                           "arrayConfig")):
        return None
    name = item.get("field", item.get("fieldPath"))
    if name is None:
        problems.add(path, "missing `field` (or `fieldPath`)")
        return None
    if _text(name, f"{path}.field", problems) is None:
        return None
    modes = [(k, item[k]) for k in ("order", "mode", "arrayConfig") if k in item]
    if len(modes) > 1:
        problems.add(path, "a field has one mode: `order` or `arrayConfig`, not both")
        return None
    if not modes:
        return FirestoreField(name)
    key, raw = modes[0]
    mode = _MODES.get(raw.upper()) if isinstance(raw, str) else None
    wrong = (key == "arrayConfig" and mode != "CONTAINS") or (key == "order"
                                                              and mode == "CONTAINS")
    if mode is None or wrong:
        allowed = "CONTAINS" if key == "arrayConfig" else "ASCENDING or DESCENDING"
        if key == "mode":
            allowed = "ASCENDING, DESCENDING or CONTAINS"
        problems.add(f"{path}.{key}", f"expected {allowed}, not {raw!r}")
        return None
    return FirestoreField(name, mode)  # type: ignore[arg-type]


def _parse_firestore(entry: Any, path: str, problems: _Problems,
                     collection: str) -> FirestoreIndex | None:
    if not _mapping(entry, path, problems, ("fields", "scope", "queryScope", "collection",
                                            "collectionGroup")):
        return None
    before = len(problems.items)
    owner = entry.get("collection", entry.get("collectionGroup", collection))
    if owner != collection:
        problems.add(f"{path}.collection", f"the index is declared under {collection!r} "
                                           f"but names {owner!r}")
    scope = entry.get("scope", entry.get("queryScope", "COLLECTION"))
    if scope not in ("COLLECTION", "COLLECTION_GROUP"):
        problems.add(f"{path}.scope", f"COLLECTION or COLLECTION_GROUP, not {scope!r}")
    raw = entry.get("fields")
    if not isinstance(raw, list | tuple):
        problems.add(f"{path}.fields", "expected a list of fields")
        return None
    fields: list[FirestoreField] = []
    for i, item in enumerate(raw):
        parsed = _parse_field(item, f"{path}.fields.{i}", problems)
        if parsed is not None:
            fields.append(parsed)
    # a field may be indexed once for array lookups and once in order, not twice alike
    names = [(f.path, f.mode == "CONTAINS") for f in fields]
    for name, _ in sorted({n for n in names if names.count(n) > 1}):
        problems.add(f"{path}.fields", f"{name!r} is listed twice")
    if fields and fields[-1].path == "__name__":
        fields.pop()  # Firestore adds it to every index; comparisons leave it out
    if sum(f.mode == "CONTAINS" for f in fields) > 1:
        problems.add(f"{path}.fields", "at most one field is CONTAINS (Firestore allows one "
                                       "array-contains per query)")
    if len(problems.items) == before and len(fields) < 2:
        problems.add(f"{path}.fields", "a composite index has at least two fields (Firestore "
                                       "makes the single-field ones itself)")
    if len(problems.items) > before:
        return None
    return FirestoreIndex(collection, tuple(fields), scope)


def parse_indexes(entries: Any, backend: str, *, collection: str,
                  where: str | None = None,
                  attribute_types: Mapping[str, Any] | None = None) -> tuple[Index, ...]:
    """One collection's declared indexes for ``backend`` (``mongodb``, ``dynamodb`` or
    ``firestore``) from plain data (a list of mappings, as YAML gives it).

    ``where`` is the path the errors start with (default
    ``<backend>.<collection>.indexes``); ``attribute_types`` are a DynamoDB table's key
    types (``S``, ``N``, ``B``; default ``S``). Raises ``ConfigError`` listing every
    problem with its path."""
    base = where if where is not None else f"{backend}.{collection}.indexes"
    problems = _Problems()
    if backend not in INDEX_BACKENDS:
        raise ConfigError([(base, f"no index declarations for backend {backend!r} (known: "
                                  f"{', '.join(INDEX_BACKENDS)})")])
    if entries is None:
        return ()
    if not isinstance(entries, list | tuple):
        raise ConfigError([(base, f"expected a list of indexes, got {type(entries).__name__}")])
    out: list[Index] = []
    for i, entry in enumerate(entries):
        path = f"{base}.{i}"
        parsed: Index | None
        if backend == "mongodb":
            parsed = _parse_mongo(entry, path, problems)
        elif backend == "dynamodb":
            parsed = _parse_dynamo(entry, path, problems, attribute_types or {})
        else:
            parsed = _parse_firestore(entry, path, problems, collection)
        if parsed is not None:
            out.append(parsed)
    _duplicates(out, base, problems)
    if problems.items:
        raise ConfigError(problems.items)
    return tuple(out)


def _duplicates(indexes: Sequence[Index], base: str, problems: _Problems) -> None:
    seen: dict[Any, int] = {}
    for i, index in enumerate(indexes):
        key: Any = index.name if isinstance(index, DynamoIndex) else index
        if isinstance(index, MongoIndex):
            key = index.keys
        if key in seen:
            problems.add(f"{base}.{i}", f"the same index as {base}.{seen[key]}")
        else:
            seen[key] = i


def parse_schema_indexes(schema: Any) -> DeclaredIndexes:
    """Every declared index of a ``{backend: {collection: entry}}`` schema (the
    ``--schema FILE`` shape): each entry's ``indexes`` list; other keys are left to the
    backends. Raises ``ConfigError`` listing every problem with its path."""
    if schema is None:
        return DeclaredIndexes()
    if not isinstance(schema, Mapping):
        raise ConfigError([("(top)", "expected a mapping of backend names to schemas")])
    found: dict[str, dict[str, tuple[Any, ...]]] = {b: {} for b in INDEX_BACKENDS}
    problems: list[tuple[str, str]] = []
    for backend in INDEX_BACKENDS:
        collections = schema.get(backend)
        if collections is None:
            continue
        if not isinstance(collections, Mapping):
            problems.append((backend, "expected a mapping of collection names to entries"))
            continue
        for name, entry in collections.items():
            if not isinstance(entry, Mapping) or "indexes" not in entry:
                continue
            types = entry.get("attribute_types") or {}
            try:
                found[backend][str(name)] = parse_indexes(
                    entry["indexes"], backend, collection=str(name),
                    attribute_types=types if isinstance(types, Mapping) else {})
            except ConfigError as err:
                problems += err.problems
    if problems:
        raise ConfigError(problems)
    return DeclaredIndexes(found["mongodb"], found["dynamodb"], found["firestore"])


def collection_indexes(schema: Any, backend: str, collection: str) -> tuple[Index, ...]:
    """The indexes one backend's compile schema (``{collection: entry}``, as
    ``crossql.compile(schema=...)`` takes it) declares for ``collection``; an entry may
    be a mapping with an ``indexes`` list or an object with an ``indexes`` attribute."""
    if not isinstance(schema, Mapping):
        return ()
    entry = schema.get(collection)
    raw = entry.get("indexes") if isinstance(entry, Mapping) else getattr(entry, "indexes",
                                                                            None)
    if raw is None:
        return ()
    return parse_indexes(raw, backend, collection=collection,
                         where=f"schema.{collection}.indexes")
