"""CrossQL writes → MongoDB ``update_many``/``update_one``/``delete_many``/``delete_one``.

The filter is the read filter of the ``where`` (``filters.FilterBuilder``: exactly
the three-valued reference semantics), and with it the guards of
``crossql.semantics.writes``: each proper prefix of an assigned path is missing or a
map (never an array: MongoDB would traverse it), and the field of ``p = p + n``
holds a number (``$inc`` would create a missing field and refuse a string). So a
document the reference does not write is not matched here either.

``limit``: none → the ``_many`` forms; 1 → the ``_one`` forms (MongoDB picks the
first match in its natural order, which may differ from the memory engine's);
``n > 1`` → ``find`` the ids of ``n`` matches, then a ``_many`` write on those ids
that re-checks the filter (not atomic: a document changed in between is skipped,
never overwritten); 0 → nothing.

Atomicity: each document is written atomically; a ``_many`` write is not atomic
across documents (a failure part-way, e.g. an int64 overflow of ``$inc``, leaves
the documents before it written). Inside ``store.transaction()`` it is: the store
runs the same plan in the transaction's session, so the write (with the ``find``
of ``find_then_*``) lands in full at the commit or not at all, and a document
changed concurrently in between is a ``TransactionConflict``, not skipped. The
plan's wording is the plan's alone (plans are cached for both uses), so it keeps
saying what holds outside a transaction.
"""

from __future__ import annotations

import json
import math
import pprint
import struct
import sys
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from crossql import ir
from crossql._frozen import fast_init
from crossql.backends.base import WRITE_CONSTRUCTS, Capabilities, Plan
from crossql.backends.mongodb.filters import (
    NEVER,
    Filter,
    FilterBuilder,
    and_,
    check_collection,
    or_,
)
from crossql.backends.mongodb.values import as_written, check_value, extended_json
from crossql.grammar.parser import INT64_MAX, INT64_MIN

WriteKind = Literal["update_many", "update_one", "delete_many", "delete_one", "find_then_update",
                    "find_then_delete", "nothing"]


@fast_init
@dataclass(frozen=True, slots=True)
class MongoWritePlan(Plan):
    """One write call (or a ``find`` of ids then one), with its filter and update."""

    kind: WriteKind
    collection: str
    filter: dict[str, Any]
    update: dict[str, Any] | None = None
    limit: int | None = None
    overflow: dict[str, Any] | None = None
    """The matched documents on which an increment would leave the finite numbers (or
    an integer the 64-bit range): the store looks for one first, and writes nothing
    when there is one, as the reference (``$inc`` alone writes inf or NaN)."""
    backend = "mongodb"

    @property
    def atomic(self) -> str:
        """What is atomic, in words."""
        if self.kind in ("update_one", "delete_one"):
            return "atomic (one document)"
        if self.kind == "nothing":
            return "writes nothing"
        return "each document atomically; not atomic across documents"

    def arguments(self) -> dict[str, Any]:
        """The arguments of the write call (``find_then_*``: of the ``find``, whose ids
        are then added to the filter as ``_id: {$in: ids}``)."""
        args: dict[str, Any] = {"filter": self.filter}
        if self.update is not None:
            args["update"] = self.update
        if self.limit is not None:
            args["limit"] = self.limit
        return args

    def to_dict(self) -> dict[str, Any]:
        out = {"backend": "mongodb", "operation": self.kind, "collection": self.collection,
               "arguments": self.arguments(), "atomic": self.atomic}
        if self.overflow is not None:
            out["refused_if_found"] = self.overflow
        result: dict[str, Any] = json.loads(json.dumps(out, default=extended_json))
        return result

    def explain(self) -> str:
        lines = [f"mongodb: {self.kind} on collection `{self.collection}` — {self.atomic}"]
        for key, value in self.arguments().items():
            lines.append(f"  {key}: "
                         f"{json.dumps(value, ensure_ascii=False, default=extended_json)}")
        if self.kind.startswith("find_then"):
            lines.append("  then the write on those ids re-checks the filter (a document "
                         "changed in between is skipped)")
        if self.overflow is not None:
            lines.append("  first, nothing is written if a document matches "
                         f"{json.dumps(self.overflow, ensure_ascii=False)} (an increment "
                         "would leave the finite numbers or the 64-bit range)")
        return "\n".join(lines)

    def to_python(self) -> str:
        def fmt(value: Any) -> str:
            return pprint.pformat(as_written(value), indent=1, width=88, sort_dicts=False)

        coll = f"db[{self.collection!r}]"
        if self.kind == "nothing":
            return "# limit 0: nothing to write"
        if self.kind.startswith("find_then"):
            verb = "update_many" if self.kind == "find_then_update" else "delete_many"
            extra = f", {fmt(self.update)}" if self.update is not None else ""
            return (f"ids = [d['_id'] async for d in {coll}.find({fmt(self.filter)}, "
                    f"{{'_id': 1}}).limit({self.limit})]\n"
                    f"result = await {coll}.{verb}({{'$and': [{{'_id': {{'$in': ids}}}}, "
                    f"{fmt(self.filter)}]}}{extra})")
        extra = f", {fmt(self.update)}" if self.update is not None else ""
        return f"result = await {coll}.{self.kind}({fmt(self.filter)}{extra})"

    def summary(self) -> str:
        return f"{self.kind} ({self.atomic})"


def _guards(fb: FilterBuilder, statement: ir.Update) -> list[Filter]:
    guards: list[Filter] = []
    seen: set[str] = set()
    for item in statement.assignments:
        segments = item.path.segments
        for n in range(1, len(segments)):
            prefix = ".".join(segments[:n])
            if prefix not in seen:
                seen.add(prefix)
                guards.append(or_({prefix: {"$exists": False}},
                                  {prefix: {"$type": "object", "$not": {"$type": "array"}}}))
        if isinstance(item, ir.Increment):
            guards.append({fb.field(item.path): {"$type": "number",
                                                 "$not": {"$type": "array"}}})
    return guards


_MAX = sys.float_info.max


def _finite_sum_bound(amount: float) -> float:
    """The double ``p`` furthest from zero, on the side ``amount`` moves it away from,
    such that ``p + amount`` (IEEE, as the server adds) is finite."""
    sign = 1.0 if amount >= 0 else -1.0
    low, high = 0, struct.unpack("<q", struct.pack("<d", _MAX))[0]  # bit patterns of |p|
    while low < high:  # finiteness is monotone in |p|: the last finite pattern
        mid = (low + high + 1) // 2
        p = sign * struct.unpack("<d", struct.pack("<q", mid))[0]
        if math.isfinite(p + amount):
            low = mid
        else:
            high = mid - 1
    return sign * float(struct.unpack("<d", struct.pack("<q", low))[0])


def _overflow_filter(field: str, amount: Any) -> Filter:
    """The documents where ``field + amount`` is not what the reference writes: a double
    that is NaN or whose sum leaves the finite numbers; an integer whose sum leaves the
    64-bit range (the server fails part-way on those)."""
    if isinstance(amount, Decimal):
        return {field: {"$type": "double", "$not": {"$gte": -_MAX, "$lte": _MAX}}}
    bound = _finite_sum_bound(float(amount))
    lo, hi = (-_MAX, bound) if amount >= 0 else (bound, _MAX)
    parts: list[Filter] = [{field: {"$type": "double", "$not": {"$gte": lo, "$lte": hi}}}]
    if isinstance(amount, int) and amount != 0:
        limit = INT64_MAX - amount if amount > 0 else INT64_MIN - amount
        parts.append({field: {"$type": ["int", "long"], "$gt" if amount > 0 else "$lt": limit}})
    return or_(*parts)


def _overflow(fb: FilterBuilder, statement: ir.Update) -> Filter | None:
    parts = []
    for item in statement.assignments:
        if isinstance(item, ir.Increment):
            assert isinstance(item.amount, ir.Literal)
            parts.append(_overflow_filter(fb.field(item.path), item.amount.value))
    return or_(*parts) if parts else None


def _update_document(fb: FilterBuilder, statement: ir.Update) -> dict[str, Any]:
    sets: dict[str, Any] = {}
    incs: dict[str, Any] = {}
    unsets: dict[str, Any] = {}
    for item in statement.assignments:
        field = fb.field(item.path)
        if isinstance(item, ir.SetField):
            assert not isinstance(item.value, ir.Param)
            sets[field] = ir.python_value(item.value)
            check_value(item, sets[field], written=True)
        elif isinstance(item, ir.Increment):
            assert isinstance(item.amount, ir.Literal)
            incs[field] = item.amount.value
            check_value(item, incs[field], written=True)
        else:
            unsets[field] = ""
    update: dict[str, Any] = {}
    for op, part in (("$set", sets), ("$inc", incs), ("$unset", unsets)):
        if part:
            update[op] = part
    return update


def compile_mongodb_write(statement: ir.Update | ir.Delete, *, schema: Any = None,
                          options: Any = None) -> MongoWritePlan:
    """Compile a bound ``update``/``delete`` into a MongoDB write plan."""
    check_collection(statement.collection, statement)
    fb = FilterBuilder()
    match = fb.build(statement.where) if statement.where is not None else {}
    update = None
    overflow = None
    if isinstance(statement, ir.Update):
        update = _update_document(fb, statement)
        match = and_(match, *_guards(fb, statement))
        bad = _overflow(fb, statement)
        if bad is not None:
            overflow = and_(match, bad)
    limit = statement.limit
    n = limit.value if isinstance(limit, ir.Literal) else None
    assert n is None or isinstance(n, int)
    verb = "update" if update is not None else "delete"
    if n == 0:
        return MongoWritePlan("nothing", statement.collection, dict(NEVER), update)
    if n is None:
        return MongoWritePlan(f"{verb}_many", statement.collection, match, update,  # type: ignore[arg-type]
                              overflow=overflow)
    if n == 1:
        return MongoWritePlan(f"{verb}_one", statement.collection, match, update,  # type: ignore[arg-type]
                              overflow=overflow)
    return MongoWritePlan(f"find_then_{verb}", statement.collection, match, update, n,  # type: ignore[arg-type]
                          overflow)


WRITE_CAPABILITIES = Capabilities(
    backend="mongodb",
    constructs=WRITE_CONSTRUCTS,
    support={"set p = v": "guarded", "set a.b = v": "guarded", "p = p + n": "guarded",
             "unset p": "native", "delete": "native", "limit (writes)": "rewritten",
             "transaction": "native"},
    notes={
        "set p = v": "`update_many` with `$set` and the read filter of the `where`; guards "
                     "keep out documents where a parent of the path is not a map",
        "set a.b = v": "`$set` on the dotted path; a parent holding an array or a scalar "
                       "is not matched (MongoDB would write into the array, or fail)",
        "p = p + n": "`$inc` with a guard that `p` holds a number (`$inc` would create a "
                     "missing field and fail on a string)",
        "limit (writes)": "`limit 1`: `update_one`/`delete_one`; `limit n > 1`: `find` the "
                          "ids of `n` matches, then a `_many` write on them that re-checks "
                          "the filter",
        "transaction": "a client session with a multi-document transaction (snapshot read "
                       "concern, majority writes); `TransientTransactionError` → "
                       "`TransactionConflict`",
    },
)
