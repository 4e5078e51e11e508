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
import pprint
from dataclasses import dataclass
from typing import Any, Literal

from crossql import ir
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

WriteKind = Literal["update_many", "update_one", "delete_many", "delete_one", "find_then_update",
                    "find_then_delete", "nothing"]


@dataclass(frozen=True, slots=True)
class MongoWritePlan(Plan):
    """One write call (or a ``find`` of ids then one), with its filter and update."""

    kind: WriteKind
    collection: str
    filter: dict[str, Any]
    update: dict[str, Any] | None = None
    limit: int | None = None
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
    if isinstance(statement, ir.Update):
        update = _update_document(fb, statement)
        match = and_(match, *_guards(fb, statement))
    limit = statement.limit
    n = limit.value if isinstance(limit, ir.Literal) else None
    assert n is None or isinstance(n, int)
    verb = "update" if update is not None else "delete"
    if n == 0:
        return MongoWritePlan("nothing", statement.collection, dict(NEVER), update)
    if n is None:
        return MongoWritePlan(f"{verb}_many", statement.collection, match, update)  # type: ignore[arg-type]
    if n == 1:
        return MongoWritePlan(f"{verb}_one", statement.collection, match, update)  # type: ignore[arg-type]
    return MongoWritePlan(f"find_then_{verb}", statement.collection, match, update, n)  # type: ignore[arg-type]


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
