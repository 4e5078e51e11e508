"""The Firestore plan: one query chain (or aggregation query) as data.

A plan is the collection and an ordered list of steps — a filter tree of
``FieldFilter``/``And``/``Or``, ``order_by``, ``offset``, ``limit``,
``select`` — plus aggregations (``count``/``sum``/``avg``) and the mapping from
what Firestore returns to CrossQL rows. It renders as deterministic data
(``to_dict``), as the ``google.cloud.firestore`` code a user would write
(``to_python``). Nothing here imports the driver: the store builds the real
``AsyncQuery`` when the plan runs (``_driver.build``); constructing one costs about
175 µs, so it never happens at compile time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, TypeAlias

from crossql._frozen import fast_init
from crossql.backends.base import Plan
from crossql.backends.firestore.options import FirestoreOptions
from crossql.backends.firestore.values import python_source, value_json
from crossql.grammar.formatter import format_condition

ID_FIELD: tuple[str, ...] = ("__name__",)
"""The field of a filter or order on the document id (``FieldPath.document_id()``)."""

_SIMPLE_NAME = re.compile(r"[_a-zA-Z][_a-zA-Z0-9]*")

FilterOp: TypeAlias = Literal[
    "==", "!=", "<", "<=", ">", ">=", "in", "not-in", "array_contains", "array_contains_any",
]
INEQUALITY_OPS: frozenset[str] = frozenset({"<", "<=", ">", ">=", "!=", "not-in"})
"""Operators Firestore treats as inequalities (``!= null`` included): each field they
filter is implicitly ordered by, so documents without it are left out."""


def field_path(segments: tuple[str, ...]) -> str:
    """Firestore's text form of a field path: simple names bare, others in backticks
    (``address.city``, ```first name```); the document id is ``__name__``."""
    if segments == ID_FIELD:
        return "__name__"
    out = []
    for seg in segments:
        if _SIMPLE_NAME.fullmatch(seg):
            out.append(seg)
        else:
            out.append("`" + seg.replace("\\", "\\\\").replace("`", "\\`") + "`")
    return ".".join(out)




def _plain(value: Any) -> Any:
    """Tuples (how plans keep lists immutable) back to lists, recursively."""
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


# --- filters --------------------------------------------------------------------


@fast_init
@fast_init
@dataclass(frozen=True, slots=True)
class FieldFilter:
    """``FieldFilter(field, op, value)``; ``value`` None means ``IS_NULL`` (``==``) or
    ``IS_NOT_NULL`` (``!=``). On ``__name__`` the values are document ids."""

    field: tuple[str, ...]
    op: FilterOp
    value: Any
    origin: Any = dc_field(default=None, compare=False, repr=False)
    """The IR node this filter answers for (for located errors); not plan data."""

    @property
    def on_id(self) -> bool:
        """True when the filter is on the document id."""
        return self.field == ID_FIELD

    @property
    def is_inequality(self) -> bool:
        """True for the operators Firestore orders by implicitly."""
        return self.op in INEQUALITY_OPS

    def to_dict(self) -> dict[str, Any]:
        """The filter as plain data."""
        value = _plain(self.value)
        if self.on_id:
            value = {"document_id": value} if not isinstance(value, list) else [
                {"document_id": v} for v in value]
        return {"field": field_path(self.field), "op": self.op, "value": value}


@fast_init
@fast_init
@dataclass(frozen=True, slots=True)
class And:
    """All of the filters (``And([])`` matches every document)."""

    filters: tuple[Filter, ...]

    def to_dict(self) -> dict[str, Any]:
        """The filter as plain data."""
        return {"and": [f.to_dict() for f in self.filters]}


@fast_init
@fast_init
@dataclass(frozen=True, slots=True)
class Or:
    """Any of the filters (``Or([])`` matches no document)."""

    filters: tuple[Filter, ...]
    origin: Any = dc_field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The filter as plain data."""
        return {"or": [f.to_dict() for f in self.filters]}


Filter: TypeAlias = FieldFilter | And | Or


def leaves(node: Filter) -> Iterator[FieldFilter]:
    """Every ``FieldFilter`` of a filter tree, in order."""
    if isinstance(node, FieldFilter):
        yield node
        return
    for child in node.filters:
        yield from leaves(child)


def composites(node: Filter) -> Iterator[And | Or]:
    """Every ``And``/``Or`` of a filter tree, in order."""
    if isinstance(node, FieldFilter):
        return
    yield node
    for child in node.filters:
        yield from composites(child)


# --- steps ------------------------------------------------------------------------


@fast_init
@fast_init
@dataclass(frozen=True, slots=True)
class Where:
    """``.where(filter=...)``: the whole condition as one filter tree."""

    filter: Filter


@fast_init
@fast_init
@dataclass(frozen=True, slots=True)
class OrderBy:
    """``.order_by(field, direction=...)``."""

    field: tuple[str, ...]
    descending: bool = False


@fast_init
@fast_init
@dataclass(frozen=True, slots=True)
class Offset:
    """``.offset(n)``."""

    count: int


@fast_init
@fast_init
@dataclass(frozen=True, slots=True)
class Limit:
    """``.limit(n)``."""

    count: int


@fast_init
@fast_init
@dataclass(frozen=True, slots=True)
class Select:
    """``.select([...])``: the projection (empty: document ids only)."""

    fields: tuple[tuple[str, ...], ...]


Step: TypeAlias = Where | OrderBy | Offset | Limit | Select


@fast_init
@fast_init
@dataclass(frozen=True, slots=True)
class Aggregation:
    """One aggregation of an aggregation query: ``count``, ``sum(field)`` or ``avg(field)``."""

    func: Literal["count", "sum", "avg"]
    field: tuple[str, ...] | None
    alias: str


@fast_init
@fast_init
@dataclass(frozen=True, slots=True)
class Output:
    """One key of a row: where it lands (``key``) and where its value comes from: a
    document path (``ID_FIELD`` for the id) or an aggregation alias."""

    key: tuple[str, ...]
    path: tuple[str, ...] | None = None
    aggregation: str | None = None


def _step_dict(step: Step) -> dict[str, Any]:
    if isinstance(step, Where):
        return {"where": step.filter.to_dict()}
    if isinstance(step, OrderBy):
        return {"order_by": field_path(step.field),
                "direction": "DESCENDING" if step.descending else "ASCENDING"}
    if isinstance(step, Offset):
        return {"offset": step.count}
    if isinstance(step, Limit):
        return {"limit": step.count}
    return {"select": [field_path(f) for f in step.fields]}


# --- the plan ---------------------------------------------------------------------


@fast_init
@fast_init
@dataclass(frozen=True, slots=True)
class FirestorePlan(Plan):
    """A Firestore query chain, an aggregation query over one, or a static answer.

    ``static_rows`` set means the compiler proved the answer without a server
    (a condition no document can satisfy, ``limit 0``, an offset past the single
    row of an aggregate): the runtime returns these rows and sends nothing.
    Plans are shared read-only (plan cache).
    """

    collection: str
    steps: tuple[Step, ...] = ()
    aggregations: tuple[Aggregation, ...] = ()
    outputs: tuple[Output, ...] = ()
    """Row shape; empty for whole documents (``_id`` first, then every field)."""
    static_rows: tuple[dict[str, Any], ...] | None = None
    options: FirestoreOptions = dc_field(default_factory=FirestoreOptions)
    notes: tuple[str, ...] = ()
    document: str | None = None
    """Set: no query; the plan gets this document by id (``where _id == "..."``, alone
    or with conditions on the same document) and keeps it when ``condition`` is true."""
    condition: Any = None
    """For a document get: the query's ``where`` (bound IR), evaluated on the document
    with the reference evaluator (exact: one document, nothing else to decide)."""
    backend = "firestore"

    @property
    def whole_documents(self) -> bool:
        """True when each row is a whole document."""
        return not self.outputs and not self.aggregations

    @property
    def filter(self) -> Filter | None:
        """The filter tree, if any."""
        for step in self.steps:
            if isinstance(step, Where):
                return step.filter
        return None

    # -- renderings ---------------------------------------------------------------
    def summary(self) -> str:
        if self.static_rows is not None:
            return "no request: the answer is known"
        if self.document is not None:
            return f"document get ({self.options.profile}): {self.document!r}"
        chain = " → ".join(type(s).__name__.lower() for s in self.steps)
        kind = "aggregation query" if self.aggregations else "query"
        return f"{kind} ({self.options.profile}): {chain or 'whole collection'}"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "backend": "firestore",
            "profile": self.options.profile,
            "collection": self.collection,
        }
        if self.static_rows is not None:
            out["static_rows"] = [dict(r) for r in self.static_rows]
        elif self.document is not None:
            out["get"] = {"document_id": self.document}
            if self.condition is not None:
                out["then"] = ("the query's `where`, evaluated on the document by "
                               "CrossQL's reference evaluator")
        else:
            out["query"] = [_step_dict(s) for s in self.steps]
            if self.aggregations:
                out["aggregations"] = [
                    {a.func: None if a.field is None else field_path(a.field), "alias": a.alias}
                    for a in self.aggregations]
        if self.outputs:
            out["rows"] = {".".join(o.key): (o.aggregation if o.aggregation is not None
                                             else "_id" if o.path == ID_FIELD
                                             else field_path(o.path or ()))
                           for o in self.outputs}
        if self.notes:
            out["notes"] = list(self.notes)
        # a JSON round trip gives a deep copy callers may mutate freely
        result: dict[str, Any] = json.loads(json.dumps(out, ensure_ascii=False,
                                                      default=value_json))
        return result

    def explain(self) -> str:
        profile = ("default (no `!=`, no OR)" if self.options.profile == "default"
                   else self.options.profile)
        lines = [f"firestore: collection `{self.collection}`, profile {profile}"]
        if self.static_rows is not None:
            lines.append(f"  no query is sent; the answer is known: "
                         f"{json.dumps(list(self.static_rows))}")
        elif self.document is not None:
            lines.append(f"  gets one document by id: {self._chain_lines()[0]}")
            if self.condition is not None:
                lines.append(f"  then evaluates `where {_condition_text(self.condition)}` on "
                             "it with CrossQL's reference evaluator (client-side, exact: the "
                             "document is the only candidate); no row when it is missing or "
                             "the condition is not true")
        else:
            kind = "aggregation query" if self.aggregations else "query"
            lines.append(f"  runs one {kind}:")
            lines.extend("    " + line for line in self._chain_lines())
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)

    def to_python(self) -> str:
        return _render_python(self)

    def _chain_lines(self) -> list[str]:
        return _chain(self, "db")


# --- Python rendering ----------------------------------------------------------------


def _literal(value: Any) -> str:
    """Python source for a plain value, strings in double quotes (as people write them)."""
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, datetime | Decimal):
        return python_source(value)
    return repr(value)


def _field_arg(segments: tuple[str, ...]) -> str:
    if segments == ID_FIELD:
        return "FieldPath.document_id()"
    return _literal(field_path(segments))


def _filter_code(node: Filter, coll: str, indent: str) -> str:
    if isinstance(node, FieldFilter):
        if node.on_id:
            def ref(v: Any) -> str:
                return f"{coll}.document({_literal(v)})"
            value = ("[" + ", ".join(ref(v) for v in node.value) + "]"
                     if isinstance(node.value, tuple) else ref(node.value))
        else:
            value = _literal(node.value)
        return f"FieldFilter({_field_arg(node.field)}, {_literal(node.op)}, {value})"
    name = "And" if isinstance(node, And) else "Or"
    inner = indent + "    "
    parts = [inner + _filter_code(f, coll, inner) + "," for f in node.filters]
    return f"{name}([\n" + "\n".join(parts) + f"\n{indent}])"


def _condition_text(condition: Any) -> str:
    return format_condition(condition)


def _chain(plan: FirestorePlan, db: str) -> list[str]:
    coll = f"{db}.collection({_literal(plan.collection)})"
    if plan.document is not None:
        return [f"{coll}.document({_literal(plan.document)}).get()"]
    lines = [coll]
    for step in plan.steps:
        if isinstance(step, Where):
            conjuncts = step.filter.filters if isinstance(step.filter, And) else (step.filter,)
            lines.extend(f".where(filter={_filter_code(f, coll, '    ')})" for f in conjuncts)
        elif isinstance(step, OrderBy):
            direction = ", direction=firestore.Query.DESCENDING" if step.descending else ""
            lines.append(f".order_by({_field_arg(step.field)}{direction})")
        elif isinstance(step, Offset):
            lines.append(f".offset({step.count})")
        elif isinstance(step, Limit):
            lines.append(f".limit({step.count})")
        else:
            lines.append(f".select({_literal([field_path(f) for f in step.fields])})")
    for agg in plan.aggregations:
        if agg.func == "count":
            lines.append(f".count(alias={_literal(agg.alias)})")
        else:
            assert agg.field is not None
            lines.append(f".{agg.func}({_field_arg(agg.field)}, alias={_literal(agg.alias)})")
    return lines


def _imports(plan: FirestorePlan) -> list[str]:
    names: set[str] = set()
    uses_id = uses_time = False
    for step in plan.steps:
        if isinstance(step, Where):
            for node in composites(step.filter):
                names.add(type(node).__name__)
            for leaf in leaves(step.filter):
                names.add("FieldFilter")
                uses_id = uses_id or leaf.on_id
                value = leaf.value
                uses_time = uses_time or isinstance(value, datetime) or (
                    type(value) is tuple and any(isinstance(v, datetime) for v in value))
        if isinstance(step, OrderBy) and step.field == ID_FIELD:
            uses_id = True
    if isinstance(plan.filter, And):
        # the top-level And is written as chained .where() calls
        top_level_only = sum(1 for n in composites(plan.filter) if isinstance(n, And)) == 1
        if top_level_only:
            names.discard("And")
    lines = ["from datetime import datetime, timezone", ""] if uses_time else []
    lines.append("from google.cloud import firestore")
    if names:
        lines.append("from google.cloud.firestore_v1.base_query import "
                     + ", ".join(sorted(names)))
    if uses_id or any(a.field == ID_FIELD for a in plan.aggregations):
        lines.append("from google.cloud.firestore_v1.field_path import FieldPath")
    return lines


def _render_python(plan: FirestorePlan) -> str:
    if plan.static_rows is not None:
        return (f"# no query: the answer is known without reading `{plan.collection}`\n"
                f"rows = {list(plan.static_rows)!r}")
    if plan.document is not None:
        lines = ["from google.cloud import firestore", "", "db = firestore.AsyncClient()",
                 f"doc = await {_chain(plan, 'db')[0]}"]
        if plan.condition is None:
            lines.append('rows = [{"_id": doc.id, **doc.to_dict()}] if doc.exists else []')
        else:
            lines += [f"# kept when `where {_condition_text(plan.condition)}` is true of it "
                      "(CrossQL's reference evaluator)",
                      'rows = [{"_id": doc.id, **doc.to_dict()}] if doc.exists and '
                      "matches(doc) else []"]
        if not plan.whole_documents:
            lines.append("rows = [shape(row) for row in rows]  # the selected fields")
        return "\n".join(lines)
    chain = _chain(plan, "db")
    lines = [*_imports(plan), "", "db = firestore.AsyncClient()"]
    var = "aggregation" if plan.aggregations else "query"
    lines.append(f"{var} = (")
    lines.extend("    " + line for line in chain)
    lines.append(")")
    if plan.aggregations:
        lines.append("(results,) = await aggregation.get()")
        lines.append("values = {result.alias: result.value for result in results}")
        row = ", ".join(f"{_literal('.'.join(o.key))}: values[{_literal(o.aggregation)}]"
                        for o in plan.outputs)
        lines.append(f"rows = [{{{row}}}]")
        return "\n".join(lines)
    if plan.whole_documents:
        lines.append('rows = [{"_id": doc.id, **doc.to_dict()} async for doc in query.stream()]')
        return "\n".join(lines)
    simple = all(o.path is not None and o.path != ID_FIELD and o.key == o.path
                 for o in plan.outputs)
    if simple:
        lines.append("rows = [doc.to_dict() async for doc in query.stream()]")
    else:
        mapping = ", ".join(
            f"{'.'.join(o.key)}: " + ("doc.id" if o.path == ID_FIELD else field_path(o.path or ()))
            for o in plan.outputs)
        lines.append(f"# each row: {mapping} (a field the document lacks stays out of the row)")
        lines.append("rows = [shape(doc) async for doc in query.stream()]")
    return "\n".join(lines)
