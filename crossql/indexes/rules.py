"""Each backend's index rules: the index a pattern needs, and whether indexes serve it.

- **Firestore** (https://firebase.google.com/docs/firestore/query-data/index-overview,
  https://firebase.google.com/docs/firestore/query-data/multiple-range-fields): a
  composite index lists the equality fields (``==``, ``in``; ``array-contains`` as
  ``CONTAINS``), then the ``order by`` fields with their directions, then the other
  inequality fields (Firestore orders by them implicitly, after the explicit orders, in
  the direction of the last one). Single-field indexes are automatic, and Firestore
  merges them for equalities alone, so a query needs a composite index only when it
  orders (or bounds) after an equality or orders by two fields. Index merging also
  lets several composite indexes that end with the same ordered fields serve the
  union of their equality prefixes. ``where _id == ...`` is a document get.
- **MongoDB** (https://www.mongodb.com/docs/manual/tutorial/equality-sort-range-guideline/):
  equality fields, then the sort keys, then the range fields; an index serves a query
  whose keys are its prefix (the sort in the index's direction or wholly reversed).
  ``_id`` has its own index; a partial index is never counted (its filter would have to
  be implied), a sparse one never for a sort.
- **DynamoDB** (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html):
  a Query needs the partition key pinned with ``==``; a query that pins no key of the
  table or of an index, but pins another field with ``==``, is a Scan a GSI on that field
  would make a Query. The GSI's sort key is the ``order by`` field (else a bounded or
  another pinned field), and it projects what the rows and the filter read.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from crossql import ir
from crossql.indexes.model import (
    DynamoIndex,
    FirestoreField,
    FirestoreIndex,
    KeyType,
    MongoIndex,
    Projection,
)
from crossql.indexes.patterns import Pattern, filter_fields

ID = "_id"
FIRESTORE_ID = "__name__"


# --- Firestore -------------------------------------------------------------------------------


def firestore_shape(p: Pattern) -> tuple[tuple[FirestoreField, ...],
                                          tuple[FirestoreField, ...]] | None:
    """The composite index ``p`` needs, as (equality prefix, ordered suffix); None when
    the automatic single-field indexes serve it (or it is a document get)."""
    if ID in p.equal:
        return None
    order: list[FirestoreField] = []
    seen: set[str] = set()
    for name, descending in p.order:
        if name in p.equal or name in seen:
            continue  # pinned to one value: ordering by it changes nothing
        seen.add(name)
        order.append(FirestoreField(_fs(name), "DESCENDING" if descending else "ASCENDING"))
    direction = order[-1].mode if order else "ASCENDING"
    for name in sorted(p.ranges - seen - p.equal):
        seen.add(name)
        order.append(FirestoreField(_fs(name), direction))
    if order and order[-1].path == FIRESTORE_ID:
        order.pop()  # every index ends with the document id
    prefix = [FirestoreField(_fs(n), "CONTAINS") for n in sorted(p.contains)]
    prefix += [FirestoreField(_fs(n)) for n in sorted(p.equalities - seen)]
    if len(order) >= 2 or (order and prefix):
        return tuple(prefix), tuple(order)
    return None


def _fs(name: str) -> str:
    return FIRESTORE_ID if name == ID else name


FIRESTORE_REFUSED = "Firestore refuses it (one array-contains per disjunction)"
"""Why no index is derived for a pattern with several array lookups."""


def firestore_need(p: Pattern) -> FirestoreIndex | str | None:
    """The composite index ``p`` needs (None: automatic indexes serve it; a reason when
    Firestore cannot run it at all)."""
    if len(p.contains) > 1:
        return FIRESTORE_REFUSED
    shape = firestore_shape(p)
    if shape is None:
        return None
    return FirestoreIndex(p.collection, shape[0] + shape[1])


def firestore_served(indexes: Iterable[FirestoreIndex], p: Pattern) -> bool:
    """Whether automatic indexes, or ``indexes`` (merged where Firestore merges them),
    serve ``p``."""
    shape = firestore_shape(p)
    if shape is None or len(p.contains) > 1:
        return True
    prefix, suffix = shape
    # (path, array lookup): a field may be pinned both ways (`a == x and a contains y`)
    wanted = {(f.path, f.mode == "CONTAINS") for f in prefix}
    covered: set[tuple[str, bool]] = set()
    found = False
    for index in indexes:
        if index.collection != p.collection or index.scope != "COLLECTION":
            continue
        cut = len(index.fields) - len(suffix)
        if cut < 0 or index.fields[cut:] != suffix:
            continue
        head = index.fields[:cut]
        keys = {(f.path, f.mode == "CONTAINS") for f in head}
        if keys <= wanted:
            found = True
            covered |= keys
    return found and covered == wanted


# --- MongoDB ---------------------------------------------------------------------------------


def mongo_shape(p: Pattern) -> tuple[frozenset[str], tuple[tuple[str, int], ...],
                                     frozenset[str]] | None:
    """(equality fields, sort keys, range fields) of ``p`` by the ESR rule; None when no
    index is needed (``_id`` pinned, or nothing filtered or sorted)."""
    if ID in p.equal:
        return None
    equal = p.equalities | p.contains
    sort: list[tuple[str, int]] = []
    for name, descending in p.order:
        if name not in equal and name not in (s for s, _ in sort):
            # an equality field orders nothing more (an `in` field's sort merges)
            sort.append((name, -1 if descending else 1))
    ranges = p.ranges - {s for s, _ in sort} - equal
    if not equal and not ranges and (not sort or [s for s, _ in sort] == [ID]):
        return None
    return equal, tuple(sort), ranges


def mongo_need(p: Pattern) -> MongoIndex | None:
    """The compound index ``p`` needs (None: none)."""
    shape = mongo_shape(p)
    if shape is None:
        return None
    equal, sort, ranges = shape
    keys = [(n, 1) for n in sorted(equal)] + list(sort) + [(n, 1) for n in sorted(ranges)]
    return MongoIndex(tuple(keys))


def mongo_serves(index: MongoIndex, p: Pattern) -> bool:
    """Whether one index serves ``p`` by the ESR rule (a prefix of it does)."""
    shape = mongo_shape(p)
    if shape is None:
        return True
    if index.partial is not None:
        return False
    equal, sort, ranges = shape
    if index.sparse and sort:
        return False
    keys = index.keys
    n, s, r = len(equal), len(sort), len(ranges)
    if len(keys) < n + s + r or {k for k, _ in keys[:n]} != equal:
        return False
    middle = keys[n:n + s]
    if middle != sort and middle != tuple((k, -d) for k, d in sort):
        return False
    return {k for k, _ in keys[n + s:n + s + r]} == ranges


def mongo_served(indexes: Iterable[MongoIndex], p: Pattern) -> bool:
    """Whether ``p`` needs no index or one of ``indexes`` serves it."""
    return mongo_shape(p) is None or any(mongo_serves(i, p) for i in indexes)


# --- DynamoDB --------------------------------------------------------------------------------


class Table:
    """What the DynamoDB rules know of a table: its keys, key types and indexes."""

    def __init__(self, partition_key: str = ID, sort_key: str | None = None,
                 indexes: Sequence[DynamoIndex] = (),
                 attribute_types: Any = None) -> None:
        self.partition_key = partition_key
        self.sort_key = sort_key
        self.indexes = tuple(indexes)
        self.attribute_types = dict(attribute_types or {})

    @property
    def keys(self) -> frozenset[str]:
        """The table's own key attributes."""
        return frozenset(k for k in (self.partition_key, self.sort_key) if k)


def _key_type(p: Pattern, name: str, table: Table) -> KeyType:
    known = table.attribute_types.get(name)
    if known in ("S", "N", "B"):
        return known  # type: ignore[no-any-return]
    node = p.node(name)
    value = getattr(node, "value", None)
    if isinstance(value, ir.Literal):
        if value.kind in ("int", "float", "decimal"):
            return "N"
        if value.kind == "bytes":
            return "B"
    return "S"


def _projection(p: Pattern, keys: frozenset[str]) -> Projection:
    if p.needs is None:
        return "ALL"
    attrs = (p.needs | filter_fields(p) | {n.split(".")[0] for n, _ in p.order}) - keys
    return tuple(sorted(attrs)) if attrs else "KEYS_ONLY"


_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def _order_key(p: Pattern) -> str | None:
    """The field a Query's sort key must be for the rows to come in order: the first
    ``order by`` field not pinned by ``==``; None when there is none or it is nested (no
    index orders by a nested field)."""
    first = next((n for n, _ in p.order if n not in p.equal), None)
    return first if first is not None and "." not in first else None


def dynamo_need(p: Pattern, table: Table) -> DynamoIndex | str | None:
    """The GSI ``p`` needs; None when the table (or a declared index) already gives it a
    Query; ``"scan"`` when nothing is pinned with ``==`` (no index can help), ``"nested"``
    when only nested fields are (a key is a top-level attribute)."""
    if dynamo_served(table.indexes, p, table):
        return None
    pinned = sorted(n for n in p.equal if "." not in n)
    if not pinned:
        return "scan" if not p.equal else "nested"
    pk = pinned[0]
    sk = _order_key(p)
    if sk is not None:
        pass
    elif p.ranges:
        sk = next((n for n in sorted(p.ranges) if "." not in n), None)
    elif len(pinned) > 1:
        sk = pinned[1]
    name = "by_" + _UNSAFE.sub("_", pk) + ("" if sk is None else "_" + _UNSAFE.sub("_", sk))
    keys = table.keys | {pk} | ({sk} if sk else set())
    return DynamoIndex(name[:255], pk, sk, False, _projection(p, frozenset(keys)),
                       _key_type(p, pk, table), _key_type(p, sk, table) if sk else "S")


def dynamo_serves(index: DynamoIndex, p: Pattern, table: Table) -> bool:
    """Whether a Query on ``index`` answers ``p``: its partition key pinned with ``==``,
    rows in the order asked (by its sort key), every attribute read projected."""
    pk = index.partition_key if not index.local else table.partition_key
    if pk is None or pk not in p.equal:
        return False
    wanted_order = _order_key(p)
    if wanted_order is not None and index.sort_key != wanted_order:
        return False
    if index.projection == "ALL":
        return True
    if p.needs is None:
        return False
    keys = table.keys | {pk} | ({index.sort_key} if index.sort_key else set())
    wanted = (p.needs | filter_fields(p) | {n.split(".")[0] for n, _ in p.order}) - keys
    projected = set(index.projection) if isinstance(index.projection, tuple) else set()
    return wanted <= projected


def dynamo_served(indexes: Iterable[DynamoIndex], p: Pattern, table: Table) -> bool:
    """Whether the table itself or one of ``indexes`` gives ``p`` a Query."""
    if table.partition_key in p.equal:
        return True  # a Query (or a get) on the table itself
    return any(dynamo_serves(i, p, table) for i in indexes)


def merge_dynamo(candidates: Sequence[DynamoIndex]) -> list[DynamoIndex]:
    """GSIs on the same keys as one, projecting what each projected; a GSI without a sort
    key folded into one with the same partition key."""
    by_keys: dict[tuple[str | None, str | None], DynamoIndex] = {}
    for c in candidates:
        key = (c.partition_key, c.sort_key)
        known = by_keys.get(key)
        by_keys[key] = c if known is None else _wider(known, c)
    for (pk, sk), c in list(by_keys.items()):
        if sk is not None:
            continue
        host = next((k for k in by_keys if k[0] == pk and k[1] is not None), None)
        if host is not None:
            by_keys[host] = _wider(by_keys[host], c)
            del by_keys[(pk, sk)]
    return list(by_keys.values())


def _wider(a: DynamoIndex, b: DynamoIndex) -> DynamoIndex:
    projection: Projection
    if a.projection == "ALL" or b.projection == "ALL":
        projection = "ALL"
    else:
        both = set(a.projection if isinstance(a.projection, tuple) else ()) | set(
            b.projection if isinstance(b.projection, tuple) else ())
        projection = tuple(sorted(both)) if both else "KEYS_ONLY"
    return DynamoIndex(a.name, a.partition_key, a.sort_key, a.local, projection,
                       a.partition_key_type, a.sort_key_type)


# --- the minimal set ---------------------------------------------------------------------------


T = TypeVar("T")


def minimal(candidates: Sequence[T], patterns: Sequence[Pattern],
            served: Callable[[Sequence[T], Pattern], bool],
            size: Callable[[T], int]) -> list[T]:
    """The fewest of ``candidates`` that still serve every pattern they serve together:
    each is dropped, smallest first, when the others serve all its patterns (a longer
    index whose prefix the rules accept takes over from a shorter one)."""
    kept: list[T] = list(dict.fromkeys(candidates))
    wanted = [p for p in patterns if served(kept, p)]
    for c in sorted(kept, key=size):
        rest = [x for x in kept if x != c]
        if all(served(rest, p) for p in wanted):
            kept = rest
    return kept
