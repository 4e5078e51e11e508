"""The reference evaluator: LANGUAGE.md as code.

Every backend is tested against this module, so it favours being obviously
right over being fast. It takes a *bound* query (no parameters left) and an
iterable of documents (plain dicts) and returns the rows.

Truth values are ``True``, ``False`` and ``None`` (unknown); a field that is not
in a document is ``MISSING``, distinct from a present ``None`` (null).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any, Final

from crossql import ir
from crossql.compiler.shape import output_key, resolve_order_key
from crossql.visitor import ConditionVisitor

Truth = bool | None


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()
"""The value of a path that is not in the document (not the same as null)."""

_ORDER_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
    "==": operator.eq, "!=": operator.ne,
}


# --- values ---------------------------------------------------------------


MAX_DOCUMENT_DEPTH = 100
"""Maps and lists nested in a stored document, at most (as MongoDB): every stage that
walks a document recurses, so a deeper one would end in a RecursionError."""


def document_depth(value: Any) -> int:
    """How deep maps and lists nest in ``value`` (iteratively; stops past the limit)."""
    deepest = 0
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list | tuple):
            depth += 1
            deepest = max(deepest, depth)
            if depth > MAX_DOCUMENT_DEPTH:
                return depth
            stack.extend((v, depth) for v in (item.values() if isinstance(item, dict) else item)
                         if isinstance(v, dict | list | tuple))
    return deepest


def get_path(doc: Any, segments: tuple[str, ...]) -> Any:
    """The value at a dotted path, or ``MISSING``; never looks inside arrays."""
    current = doc
    for seg in segments:
        if not isinstance(current, dict) or seg not in current:
            return MISSING
        current = current[seg]
    return current


def type_of(value: Any) -> str:
    """The CrossQL type of a present value: null, bool, number (``int``, ``float`` or
    ``Decimal``), string, timestamp (a ``datetime``), bytes, objectid, array, set
    (``set``/``frozenset``), map; any other type's own name."""
    if value is None:
        return "null"
    kind = _TYPES.get(type(value))
    if kind is not None:
        return kind
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float | Decimal):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, dict):
        return "map"
    if isinstance(value, datetime):
        return "timestamp"
    if isinstance(value, bytes):
        return "bytes"
    if isinstance(value, set | frozenset):
        return "set"
    if ir.is_object_id(value):
        return "objectid"
    name = type(value).__name__
    if name in _FIRESTORE_TYPES and type(value).__module__.startswith("google.cloud.firestore"):
        return _FIRESTORE_TYPES[name]
    return name


_FIRESTORE_TYPES = {"DocumentReference": "reference", "AsyncDocumentReference": "reference",
                    "GeoPoint": "geopoint"}
"""Firestore's references and geopoints, recognised without importing the client: equal
by value (a reference by its path, a geopoint by its latitude and longitude), whichever
client made them (docs/decisions.md, "Value kinds")."""


_TYPES: dict[type, str] = {
    bool: "bool", int: "number", float: "number", Decimal: "number", str: "string",
    list: "array", tuple: "array", dict: "map", datetime: "timestamp", bytes: "bytes",
    set: "set", frozenset: "set"}

_ORDERED_TYPES = frozenset({"number", "string", "timestamp", "bytes", "objectid"})
"""The types an ordering comparison (``<``, ``between``) compares within."""


def is_nan(value: Any) -> bool:
    """Whether ``value`` is a NaN (a float's or a ``Decimal``'s)."""
    if type(value) is float:
        return value != value
    return isinstance(value, Decimal) and value.is_nan()


def instant(value: datetime) -> datetime:
    """A stored ``datetime`` as an aware one: a naive datetime in a document is UTC (as
    the drivers that write them mean it)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def exact_pair(a: Any, b: Any) -> tuple[Any, Any]:
    """Two numbers as compared: a float beside a ``Decimal`` counts as its shortest
    decimal text (``0.1`` is ``Decimal("0.1")``), as MongoDB compares a double with a
    Decimal128; any other pair as it is (by exact value)."""
    if type(a) is float and isinstance(b, Decimal):
        return Decimal(repr(a)), b
    if type(b) is float and isinstance(a, Decimal):
        return a, Decimal(repr(b))
    return a, b


def bson_bytes_order(value: bytes) -> tuple[int, int, bytes]:
    """The order of binary data: length first, then the bson subtype, then bytewise (as
    BSON orders it: https://www.mongodb.com/docs/manual/reference/bson-type-comparison-order/)."""
    return (len(value), getattr(value, "subtype", 0), bytes(value))


def _same_elements(a: Any, b: Any) -> bool:
    """A set against a set or an array: the same elements, order left aside."""
    items = list(b)
    return len(a) == len(items) and all(any(values_equal(x, y) for y in items) for x in a) \
        and all(any(values_equal(y, x) for x in a) for y in items)


def values_equal(a: Any, b: Any) -> bool:
    """Whole-value equality of two present values: numbers by value across
    int/float/Decimal (NaN equals NaN, as in MongoDB), no bool/number mixing, timestamps
    as instants, arrays element-wise in order, a set with a set or an array by its
    elements without order, maps key-wise."""
    ta, tb = type_of(a), type_of(b)
    if ta != tb:
        if {ta, tb} == {"set", "array"}:
            return _same_elements(a, b) if ta == "set" else _same_elements(b, a)
        return False
    if ta == "array":
        return len(a) == len(b) and all(values_equal(x, y) for x, y in zip(a, b, strict=True))
    if ta == "map":
        return a.keys() == b.keys() and all(values_equal(a[k], b[k]) for k in a)
    if ta == "set":
        return _same_elements(a, b)
    if ta == "number":
        if is_nan(a) or is_nan(b):
            return is_nan(a) and is_nan(b)
        a, b = exact_pair(a, b)
    if ta == "timestamp":
        return instant(a) == instant(b)
    if ta == "bytes":  # a bson Binary's subtype is part of its value (0: plain bytes)
        return getattr(a, "subtype", 0) == getattr(b, "subtype", 0) and bytes(a) == bytes(b)
    if ta == "reference" or ta == "geopoint":
        return _firestore_value(a) == _firestore_value(b)
    return bool(a == b)


def _firestore_value(value: Any) -> tuple[Any, ...]:
    """A Firestore reference's path segments, or a geopoint's latitude and longitude (as
    Firestore orders them)."""
    if hasattr(value, "latitude"):
        return (value.latitude, value.longitude)
    return tuple(value.path.split("/"))


_SORT_RANK = {"number": 1, "string": 2, "map": 3, "array": 4, "set": 4, "bytes": 5,
              "objectid": 6, "bool": 7, "timestamp": 8, "reference": 9, "geopoint": 10}
"""BSON's order of types: null (and missing) first, then numbers, strings, maps, arrays,
bytes, object ids, bools, timestamps; then Firestore's references and geopoints (BSON
has neither); any other type last."""


def sort_key(value: Any, decimals: bool = False) -> tuple[Any, ...]:
    """A total order over values: missing/null first, then numbers (NaN below every
    other number), strings, maps, arrays and sets, bytes, object ids, bools, timestamps
    (MongoDB's order of types). Only same-typed fields are promised to sort alike on
    every backend. ``decimals``: a float counts as its shortest decimal text (as beside
    a ``Decimal``: ``exact_pair``), for values among which a ``Decimal`` is."""
    if value is MISSING or value is None:
        return (0,)
    t = type_of(value)
    rank = _SORT_RANK.get(t, 11)
    if t == "number":
        if is_nan(value):
            return (1, 0)
        return (1, 1, Decimal(repr(value)) if decimals and type(value) is float else value)
    if t == "map":
        return (3, tuple((k, sort_key(v, decimals)) for k, v in value.items()))
    if t == "array":
        return (4, tuple(sort_key(v, decimals) for v in value))
    if t == "set":
        return (4, tuple(sorted(sort_key(v, decimals) for v in value)))
    if t == "timestamp":
        return (8, instant(value))
    if t == "objectid":
        return (6, bytes(value.binary))
    if t == "bytes":
        return (5, bson_bytes_order(value))
    if rank == 9 or rank == 10:
        return (rank, _firestore_value(value))
    if rank == 11:
        return (11, repr(value))
    return (rank, value)


def holds_decimal(values: Iterable[Any]) -> bool:
    """Whether a ``Decimal`` is among ``values`` (then ``sort_key(v, decimals=True)``)."""
    return any(isinstance(v, Decimal) for v in values)


def freeze(value: Any) -> Any:
    """A hashable stand-in for a value such that equal values freeze alike."""
    if value is MISSING or value is None:
        return ("null",)
    t = type_of(value)
    if t == "array":
        return ("array", tuple(freeze(v) for v in value))
    if t == "set":
        return ("set", frozenset(freeze(v) for v in value))
    if t == "map":
        return ("map", tuple(sorted((k, freeze(v)) for k, v in value.items())))
    if t == "number" and is_nan(value):
        return ("number", "NaN")
    if t == "timestamp":
        return (t, instant(value))
    if t == "bytes":
        return (t, getattr(value, "subtype", 0), bytes(value))
    if t == "reference" or t == "geopoint":
        return (t, _firestore_value(value))
    return (t, value)


@lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


# --- conditions --------------------------------------------------------------


def _kleene_not(v: Truth) -> Truth:
    return None if v is None else not v


def _kleene_and(values: Iterable[Truth]) -> Truth:
    result: Truth = True
    for v in values:
        if v is False:
            return False
        if v is None:
            result = None
    return result


def _kleene_or(values: Iterable[Truth]) -> Truth:
    result: Truth = False
    for v in values:
        if v is True:
            return True
        if v is None:
            result = None
    return result


def _lit(value: ir.Value) -> Any:
    if isinstance(value, ir.Param):
        raise ValueError(f"parameter :{value.name} is not bound")
    return ir.python_value(value)


def _ordering(op: str, field: Any, value: Any) -> Truth:
    """An ordering comparison: within one ordered type only; a NaN compares with nothing
    (unknown, so that ``not (f > 1)`` and ``f <= 1`` agree on it)."""
    if field is MISSING or field is None:
        return None
    tf, tv = type_of(field), type_of(value)
    if tf != tv or tf not in _ORDERED_TYPES:
        return None
    if tf == "number":
        if is_nan(field) or is_nan(value):
            return None
        field, value = exact_pair(field, value)
    elif tf == "timestamp":
        field, value = instant(field), instant(value)
    elif tf == "objectid":
        field, value = bytes(field.binary), bytes(value.binary)
    elif tf == "bytes":
        field, value = bson_bytes_order(field), bson_bytes_order(value)
    return _ORDER_OPS[op](field, value)


def _equals(field: Any, value: Any) -> Truth:
    """``field == value`` under the null/missing rules."""
    if field is MISSING:
        return False if value is None else None
    if field is None:
        return True if value is None else None
    if value is None:
        return False
    return values_equal(field, value)


def _not_equals(field: Any, value: Any) -> Truth:
    """``field != value``: only present values compare; ``!= null`` means present, non-null."""
    if field is MISSING or field is None:
        return False if value is None else None
    if value is None:
        return True
    return not values_equal(field, value)


def _in(field: Any, values: list[Any]) -> Truth:
    """``field in values``: unknown on a missing field (rule 1, even with null listed,
    so that ``not in`` never returns a document without the field); a null field is
    true when null is listed, else unknown."""
    if field is MISSING:
        return None
    if not values:
        return None if field is None else False
    return _kleene_or(_equals(field, v) for v in values)


class _Truth(ConditionVisitor[Truth]):
    """The truth value of each condition node on a document (LANGUAGE.md, Semantics)."""

    NAME = "reference evaluator"

    def visit_And(self, node: ir.And, doc: Mapping[str, Any]) -> Truth:
        return _kleene_and(self.visit(c, doc) for c in node.operands)

    def visit_Or(self, node: ir.Or, doc: Mapping[str, Any]) -> Truth:
        return _kleene_or(self.visit(c, doc) for c in node.operands)

    def visit_Not(self, node: ir.Not, doc: Mapping[str, Any]) -> Truth:
        return _kleene_not(self.visit(node.operand, doc))

    def visit_Exists(self, node: ir.Exists, doc: Mapping[str, Any]) -> Truth:
        return get_path(doc, node.path.segments) is not MISSING

    def visit_Compare(self, node: ir.Compare, doc: Mapping[str, Any]) -> Truth:
        field = get_path(doc, node.path.segments)
        if node.op == "==":
            return _equals(field, _lit(node.value))
        if node.op == "!=":
            return _not_equals(field, _lit(node.value))
        return _ordering(node.op, field, _lit(node.value))

    def visit_Between(self, node: ir.Between, doc: Mapping[str, Any]) -> Truth:
        field = get_path(doc, node.path.segments)
        return _kleene_and((_ordering(">=", field, _lit(node.low)),
                            _ordering("<=", field, _lit(node.high))))

    def visit_In(self, node: ir.In, doc: Mapping[str, Any]) -> Truth:
        result = _in(get_path(doc, node.path.segments), _lit(node.values))
        return _kleene_not(result) if node.negated else result

    def visit_Contains(self, node: ir.Contains, doc: Mapping[str, Any]) -> Truth:
        field = get_path(doc, node.path.segments)
        if type_of(field) not in _COLLECTIONS:
            return None
        return _element_in(field, _lit(node.value))

    def visit_ContainsAny(self, node: ir.ContainsAny, doc: Mapping[str, Any]) -> Truth:
        field = get_path(doc, node.path.segments)
        if type_of(field) not in _COLLECTIONS:
            return None
        return any(_element_in(field, v) for v in _lit(node.values))

    def visit_ContainsAll(self, node: ir.ContainsAll, doc: Mapping[str, Any]) -> Truth:
        field = get_path(doc, node.path.segments)
        if type_of(field) not in _COLLECTIONS:
            return None
        return all(_element_in(field, v) for v in _lit(node.values))

    def visit_Size(self, node: ir.Size, doc: Mapping[str, Any]) -> Truth:
        field = get_path(doc, node.path.segments)
        if type_of(field) not in _COLLECTIONS:
            return None
        return _ORDER_OPS[node.op](len(field), _lit(node.value))

    def visit_StartsWith(self, node: ir.StartsWith, doc: Mapping[str, Any]) -> Truth:
        field = get_path(doc, node.path.segments)
        if type_of(field) != "string":
            return None
        return bool(field.startswith(_lit(node.value)))

    def visit_Matches(self, node: ir.Matches, doc: Mapping[str, Any]) -> Truth:
        field = get_path(doc, node.path.segments)
        if type_of(field) != "string":
            return None
        return _regex(_lit(node.value)).search(field) is not None


_TRUTH = _Truth()


def evaluate_condition(cond: ir.Condition, doc: Mapping[str, Any]) -> Truth:
    """The truth value (True, False or None for unknown) of a condition on a document."""
    return _TRUTH.visit(cond, doc)


_COLLECTIONS = frozenset({"array", "set"})
"""What ``contains`` and ``size`` look into: an array, or a set (an array without order)."""


def _element_in(array: Iterable[Any], value: Any) -> bool:
    return any(values_equal(e, value) for e in array)


# --- rows --------------------------------------------------------------------


def _set_path(row: dict[str, Any], key: tuple[str, ...], value: Any) -> None:
    target = row
    for seg in key[:-1]:
        target = target.setdefault(seg, {})
    target[key[-1]] = value


def copy_value(value: Any) -> Any:
    """A deep copy of a plain JSON-like value (much faster than copy.deepcopy); the
    native scalars are immutable and shared, a set is copied."""
    if isinstance(value, dict):
        return {k: copy_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_value(v) for v in value]
    if isinstance(value, set):
        return set(value)
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _sum(numbers: list[Any]) -> Any:
    """``sum``: exact over ``Decimal`` when one is summed (a float counted as its shortest
    decimal text); an integer total past the 64-bit range becomes a float (as MongoDB's
    ``$sum`` of 64-bit integers does)."""
    if any(isinstance(n, Decimal) for n in numbers):
        return sum((n if isinstance(n, Decimal) else Decimal(repr(n)) if isinstance(n, float)
                    else Decimal(n) for n in numbers), Decimal(0))
    total = sum(numbers)
    if isinstance(total, int) and not -(2**63) <= total <= 2**63 - 1:
        return float(total)
    return total


def aggregate(agg: ir.Aggregate, docs: list[Mapping[str, Any]]) -> Any:
    """One aggregate over a group of documents (missing and null are skipped)."""
    if agg.arg is None:
        return len(docs)
    values = [get_path(d, agg.arg.segments) for d in docs]
    present = [v for v in values if v is not MISSING and v is not None]
    if agg.func == "count":
        return len(present)
    if agg.func in ("sum", "avg"):
        numbers = [v for v in present if _is_number(v)]
        if agg.func == "sum":
            return _sum(numbers) if numbers else 0
        return _sum(numbers) / len(numbers) if numbers else None
    if not present:
        return None
    pick = min if agg.func == "min" else max
    decimals = holds_decimal(present)
    return pick(present, key=lambda v: sort_key(v, decimals))


def _sort(records: list[Any], keys: list[tuple[Callable[[Any], Any], bool]]) -> list[Any]:
    # stable sorts from the last key to the first give a multi-key sort with
    # per-key direction; reverse=True keeps ties in their original order
    for get, descending in reversed(keys):
        decimals = holds_decimal(get(r) for r in records)
        records.sort(key=_sort_key_of(get, decimals), reverse=descending)
    return records


def _sort_key_of(get: Callable[[Any], Any], decimals: bool) -> Callable[[Any], Any]:
    return lambda record: sort_key(get(record), decimals)


def _path_getter(segments: tuple[str, ...]) -> Callable[[Any], Any]:
    return lambda doc: get_path(doc, segments)


def _output_getter(index: int) -> Callable[[Any], Any]:
    return lambda record: record[1][index]


def _group_getter(segments: tuple[str, ...]) -> Callable[[Any], Any]:
    return lambda record: record[0][segments]


def _page(query: ir.Query, rows: list[Any]) -> list[Any]:
    offset = int(_lit(query.offset)) if query.offset is not None else 0
    if offset:
        rows = rows[offset:]
    if query.limit is not None:
        rows = rows[: int(_lit(query.limit))]
    return rows


def _plain_rows(query: ir.Query, docs: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    keys: list[tuple[Callable[[Any], Any], bool]] = []
    for key in query.order_by:
        item = resolve_order_key(query, key)
        path = item.expr if item is not None else key.path
        assert isinstance(path, ir.Path)
        keys.append((_path_getter(path.segments), key.descending))
    ordered = _page(query, _sort(list(docs), keys))
    if not query.select:
        return [copy_value(dict(d)) for d in ordered]
    rows = []
    for doc in ordered:
        row: dict[str, Any] = {}
        for item in query.select:
            assert isinstance(item.expr, ir.Path)
            value = get_path(doc, item.expr.segments)
            if value is not MISSING:
                _set_path(row, output_key(item), copy_value(value))
        rows.append(row)
    return rows


def _grouped_rows(query: ir.Query, docs: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    groups: dict[Any, tuple[list[Any], list[Mapping[str, Any]]]] = {}
    if not query.group_by:  # aggregates over everything: one row, even for no documents
        groups[()] = ([], docs)
        docs = []
    for doc in docs:
        values = [get_path(doc, p.segments) for p in query.group_by]
        values = [None if v is MISSING else v for v in values]
        frozen = tuple(freeze(v) for v in values)
        if frozen not in groups:
            groups[frozen] = (values, [])
        groups[frozen][1].append(doc)
    # a record: (group values by path, aggregate values by select index)
    records = []
    for values, members in groups.values():
        by_path = {p.segments: v for p, v in zip(query.group_by, values, strict=True)}
        outs = [
            aggregate(item.expr, members) if isinstance(item.expr, ir.Aggregate)
            else by_path[item.expr.segments]
            for item in query.select
        ]
        records.append((by_path, outs))
    keys: list[tuple[Callable[[Any], Any], bool]] = []
    for key in query.order_by:
        item = resolve_order_key(query, key)
        if item is not None:
            index = query.select.index(item)
            keys.append((_output_getter(index), key.descending))
        else:
            keys.append((_group_getter(key.path.segments), key.descending))
    rows = []
    for by_path, outs in _page(query, _sort(records, keys)):
        row: dict[str, Any] = {}
        if query.select:
            for item, value in zip(query.select, outs, strict=True):
                _set_path(row, output_key(item), copy_value(value))
        else:
            for segments, value in by_path.items():
                _set_path(row, segments, copy_value(value))
        rows.append(row)
    return rows


def run(query: ir.Query, documents: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rows of a bound query over documents, exactly as LANGUAGE.md defines them."""
    docs: list[Mapping[str, Any]] = []
    for doc in documents:
        if not isinstance(doc, Mapping):
            raise TypeError(f"a document is a dict, not {type(doc).__name__}")
        if query.where is None or evaluate_condition(query.where, doc) is True:
            docs.append(doc)
    if query.is_aggregate:
        return _grouped_rows(query, docs)
    return _plain_rows(query, docs)
