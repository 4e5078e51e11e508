"""Cursor pagination in the IR: the order a page walks and the condition that resumes it.

A page walks the query's rows in the query's order with the document id appended
as the last order key, so the order is total. A page after a cursor is the same
query with one more condition: the row is *strictly after* the cursor's row in that
order. The condition is plain IR (``(k > last) or (k == last and _id > last_id)``,
with the reference's order of missing/null and of types spelled out), so each
backend's condition compiler adds its own guards to it (docs/pagination.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cache
from typing import Any

from crossql import ir
from crossql.compiler.shape import resolve_order_key
from crossql.errors import QuerySemanticError
from crossql.semantics.reference import instant, is_nan, type_of

ID = ir.Path(("_id",))

_RANKS = {"null": 0, "number": 1, "string": 2, "bytes": 5, "objectid": 6, "bool": 7,
          "timestamp": 8}
"""The reference's order of the types a cursor can carry (``sort_key``): missing and
null first, then numbers, strings, (maps, arrays and sets,) bytes, object ids, bools,
timestamps."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAN = float("nan")


@dataclass(frozen=True, slots=True)
class WalkKey:
    """One key of the order a page walks: a document path and its direction."""

    path: ir.Path
    descending: bool = False


def walk_keys(query: ir.Query) -> tuple[WalkKey, ...]:
    """The query's order keys as document paths (aliases resolved, repeats dropped),
    then ``_id`` ascending unless the order already holds it (the id makes it total)."""
    keys: list[WalkKey] = []
    for key in query.order_by:
        item = resolve_order_key(query, key)
        path = item.expr if item is not None else key.path
        assert isinstance(path, ir.Path)
        if any(k.path.segments == path.segments for k in keys):
            continue  # a repeated key never changes the order
        keys.append(WalkKey(path, key.descending))
        if path.segments == ID.segments:
            return tuple(keys)  # ids are unique: later keys never decide
    keys.append(WalkKey(ID))
    return tuple(keys)


def refuse_unpageable(query: ir.Query) -> None:
    """A located error for a query that cannot be paged: a grouped one (its rows are
    no documents, so no id makes their order total) and one with ``offset``."""
    source = query.source
    if query.is_aggregate:
        raise QuerySemanticError(
            "`page` walks documents; a query with `group by` or aggregates has no document "
            "id to resume after", code="semantic.page-aggregate", span=query.span,
            source=source, hint="fetch the grouped rows with fetch() (they are few), or page "
            "the documents and aggregate in the client")
    if query.offset is not None:
        raise QuerySemanticError(
            "`offset` cannot be combined with a cursor: the cursor (`after`) already resumes "
            "after the last row served, so the offset would skip that many rows again on "
            "every page", code="semantic.page-offset", span=query.offset.span or query.span,
            source=source, hint="drop `offset` from the paged query; to start further on, "
            "add a condition on the order key to `where`")


def type_rank(value: Any) -> int | None:
    """The place of a cursor value's type in the reference order (None: a map, an array
    or a set, which no ordering comparison resumes after)."""
    return _RANKS.get(type_of(value))


def literal(value: Any) -> ir.Literal:
    """The IR literal of a scalar cursor value (a naive ``datetime`` is UTC's)."""
    if value is None:
        return ir.Literal(None, "null")
    if isinstance(value, bool):
        return ir.Literal(value, "bool")
    if isinstance(value, int):
        return ir.Literal(int(value), "int")
    if isinstance(value, float):
        return ir.Literal(value, "float")
    if isinstance(value, str):
        return ir.Literal(str(value), "string")
    if isinstance(value, datetime):
        value = instant(value)
    kind = ir.native_kind(value)
    assert kind is not None, type(value)
    return ir.Literal(value, kind)


@cache
def _least_object_id() -> Any:
    """The least ``ObjectId`` (None without bson: then no document holds one)."""
    try:
        from bson import ObjectId
    except ImportError:  # pragma: no cover - bson ships with pymongo, a dependency
        return None
    return ObjectId(b"\0" * 12)


def _cmp(op: ir.CompareOp, path: ir.Path, value: Any) -> ir.Compare:
    return ir.Compare(op, path, literal(value))


def _of_type(path: ir.Path, rank: int) -> ir.Condition | None:
    """True exactly when the value at ``path`` is of the type ranked ``rank`` (None: no
    value is, an object id without bson). Each test compares with the least value of
    its type where there is one: ``>= ""``, ``>= b""`` (binary data of subtype 0, the
    least in any order of length, subtype and content), the zero object id."""
    if rank == 0:  # null, or missing (they sort together)
        return ir.Or((_cmp("==", path, None), ir.Not(ir.Exists(path))))
    if rank == _RANKS["number"]:  # NaN compares with no number, but equals NaN
        return ir.Or((_cmp(">=", path, 0), _cmp("<", path, 0), _cmp("==", path, _NAN)))
    if rank == _RANKS["string"]:
        return _cmp(">=", path, "")
    if rank == _RANKS["bytes"]:
        return _cmp(">=", path, b"")
    if rank == _RANKS["objectid"]:
        least = _least_object_id()
        return None if least is None else _cmp(">=", path, least)
    if rank == _RANKS["timestamp"]:
        return ir.Or((_cmp(">=", path, _EPOCH), _cmp("<", path, _EPOCH)))
    return ir.In(path, ir.ListValue((literal(False), literal(True))))


def _of_types(path: ir.Path, ranks: Sequence[int]) -> list[ir.Condition]:
    tests = (_of_type(path, r) for r in ranks)
    return [t for t in tests if t is not None]


_ORDERED_RANKS = sorted(set(_RANKS.values()))


def equal_to(path: ir.Path, value: Any) -> ir.Condition:
    """The key at ``path`` sorts equal to the cursor value ``value``."""
    if value is None:
        return ir.Or((_cmp("==", path, None), ir.Not(ir.Exists(path))))
    return _cmp("==", path, _NAN if is_nan(value) else value)


def strictly_after(key: WalkKey, value: Any) -> ir.Condition | None:
    """The key sorts strictly after ``value`` in the key's direction (None: nothing
    does). Of another type: the types ranked after (before, descending) ``value``'s."""
    rank = type_rank(value)
    assert rank is not None
    path = key.path
    parts: list[ir.Condition] = []
    if rank == _RANKS["bool"]:
        if value is (not key.descending):  # true ascending, false descending: the end
            pass
        else:
            parts.append(_cmp("==", path, key.descending is False))
    elif is_nan(value):  # below every number: ascending, the numbers that are not NaN
        if not key.descending:
            parts.append(ir.Or((_cmp(">=", path, 0), _cmp("<", path, 0))))
    elif rank != 0:
        parts.append(_cmp("<" if key.descending else ">", path, value))
        if rank == _RANKS["number"] and key.descending:
            parts.append(_cmp("==", path, _NAN))  # NaN sorts below every number
    if key.descending:
        parts += _of_types(path, [r for r in _ORDERED_RANKS if r < rank])
    elif rank == 0:
        parts.append(_cmp("!=", path, None))  # present and not null: every later type
    else:
        parts += _of_types(path, [r for r in _ORDERED_RANKS if r > rank])
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else ir.Or(tuple(parts))


def after_condition(keys: Sequence[WalkKey], values: Sequence[Any]) -> ir.Condition:
    """Rows strictly after the row whose walk-key values are ``values``: for some key,
    every earlier key equal and this one strictly after. Never matches: ``_id`` after
    the greatest id is still a condition, so the result is always a condition."""
    branches: list[ir.Condition] = []
    for i, key in enumerate(keys):
        after = strictly_after(key, values[i])
        if after is None:
            continue
        prefix = [equal_to(k.path, v) for k, v in zip(keys[:i], values[:i], strict=True)]
        branches.append(ir.And((*prefix, after)) if prefix else after)
    if not branches:  # the last key is the id, which always has a strictly-after
        raise AssertionError("a walk ends with the document id")
    return branches[0] if len(branches) == 1 else ir.Or(tuple(branches))


def page_query(query: ir.Query, keys: Sequence[WalkKey], after: Sequence[Any] | None,
               read: int) -> ir.Query:
    """The bound query that reads one page: whole documents, in the walk's order, after
    the cursor's row, at most ``read`` of them."""
    where = query.where
    if after is not None:
        resume = after_condition(keys, after)
        where = resume if where is None else ir.And((where, resume))
    order = tuple(ir.OrderKey(k.path, k.descending) for k in keys)
    return replace(query, where=where, select=(), order_by=order,
                   limit=ir.Literal(read, "int"), offset=None)


def resume_template(keys: Sequence[WalkKey]) -> ir.Condition:
    """The resume condition with a parameter for each of the last row's values (for
    ``explain``): the shape every page after the first adds to ``where``."""
    names = ["last_" + "_".join(k.path.segments).lstrip("_") for k in keys]
    branches: list[ir.Condition] = []
    for i, key in enumerate(keys):
        op: ir.CompareOp = "<" if key.descending else ">"
        prefix = [ir.Compare("==", k.path, ir.Param(n))
                  for k, n in zip(keys[:i], names[:i], strict=True)]
        last = ir.Compare(op, key.path, ir.Param(names[i]))
        branches.append(ir.And((*prefix, last)) if prefix else last)
    return branches[0] if len(branches) == 1 else ir.Or(tuple(branches))
