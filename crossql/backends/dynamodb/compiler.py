"""Bound CrossQL query → DynamoDB plan (``Query`` or ``Scan``). Pure: no boto.

Access path. DynamoDB reads a table in one of two ways
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Query.html):
a ``Query`` reads one partition — the condition must pin a partition key with
``==`` — optionally narrowed by one condition on the sort key; a ``Scan``
reads the whole table. The planner looks at the top-level ``and`` of the
condition and weighs the table and each secondary index:

- a ``Query`` needs ``pk == v`` with ``v`` of the key's type (and not ``""``);
  a sort key condition is one of ``== < <= > >= between startswith`` (or
  ``>= a and <= b``, merged into ``BETWEEN``);
- key attributes may not appear in a Query's ``FilterExpression``: any other
  conjunct on them rules the path out;
- an index holds only the items that have its key attributes (a sparse
  index), so an index whose sort key is not a table key is used only with a
  condition on that sort key; an index that does not project every attribute
  is used only when the filter (and, for a global index, the rows) need no
  other attribute;
- ``order by`` must be the chosen path's sort key (keys pinned with ``==``
  are constant and may be listed too); more keys after it only where the
  partition and sort key identify one item;
- among the paths left: one with a sort key condition first, then the table,
  then the indexes in schema order. No Query possible: a ``Scan``, unless
  ``allow_scan=False``.

Rows. ``select`` becomes a ``ProjectionExpression``; DynamoDB has no aliases,
so the plan lists (output key, attribute path) pairs and the runtime builds
each row from the projected item. ``select count()`` is ``Select=COUNT``
summed over every page: one row, as in the reference.

Refused (``CapabilityError``): ``group by``, aggregates other than
``count()``, ``matches``, ``offset`` (other than 0), ``order by`` on anything
but the chosen sort key, and what breaks DynamoDB's documented limits
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Constraints.html#limits-expression-parameters):
more than 100 ``IN`` values, an expression over 4 KB, more than 300 operators,
a path nested deeper than 32 levels, a number outside DynamoDB's range.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from sys import intern
from typing import Any

from crossql import ir, visitor
from crossql._memo import Memo
from crossql.backends.base import Capabilities, Completion, refuse
from crossql.backends.completion import ClientSidePlan, complete_client_side
from crossql.backends.dynamodb.expressions import (
    Between,
    Comparison,
    ConditionBuilder,
    Const,
    Expr,
    ExpressionWriter,
    Function,
    Path,
    and_,
    bounds_reversed,
    operator_count,
)
from crossql.backends.dynamodb.plan import DynamoPlan
from crossql.backends.dynamodb.schema import (
    AccessPath,
    DynamoOptions,
    TableSchema,
    default_table,
    dynamo_options,
    table_paths,
    table_schemas,
)
from crossql.backends.dynamodb.values import (
    TIMESTAMP_MAX,
    TIMESTAMP_MIN,
    UnstorableValue,
    query_number_text,
    to_attribute_value,
)
from crossql.compiler.shape import output_key, resolve_order_key
from crossql.compiler.templates import StringHole
from crossql.errors import CapabilityError
from crossql.visitor import ConditionVisitor

BACKEND = "dynamodb"

MAX_EXPRESSION_BYTES = 4096
MAX_OPERATORS = 300
MAX_PATH_DEPTH = 32
MAX_REQUEST_LIMIT = 2**31 - 1
"""The largest ``Limit`` of a Query or Scan (a 32-bit integer)."""
_MAX_PARTITION_KEY_BYTES = 2048
_MAX_SORT_KEY_BYTES = 1024
_TABLE_NAME = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")

CAPABILITIES = Capabilities(
    backend=BACKEND,
    support={
        "==": "native", "!=": "guarded", "<, <=, >, >=": "native", "between": "native",
        "in": "native", "not in": "guarded", "contains": "guarded", "contains any": "guarded",
        "contains all": "guarded", "startswith": "native", "matches": "refused",
        "exists": "native", "not exists": "native", "size": "guarded", "not": "rewritten",
        "and": "native", "or": "native", "group by": "refused", "count()": "native",
        "count(p)": "refused", "sum": "refused", "avg": "refused", "min": "refused",
        "max": "refused", "select": "rewritten", "order by": "native", "limit": "rewritten",
        "offset": "refused",
    },
    notes={
        "==": "`=` is false across types, as the reference's plain false; `== null` is "
              "`attribute_type(p, NULL)`; as a Query key condition when it pins a key",
        "!=": "`<>` also matches missing and NULL attributes: guarded with "
              "`attribute_exists` and `NOT attribute_type(p, NULL)`",
        "<, <=, >, >=": "false across types and on missing attributes in both polarities; "
                        "strings compare by UTF-8 bytes, which is code point order",
        "between": "`BETWEEN` (never emitted with low > high, which DynamoDB rejects)",
        "in": f"`IN` with at most {100} values; null via `attribute_type(p, NULL)`",
        "not in": "guarded like `!=`",
        "contains": "`contains()` is also a substring and set test: guarded with "
                    "`attribute_type(p, L)`",
        "contains any": "`contains()` per value, or-ed, guarded with `attribute_type(p, L)`",
        "contains all": "`contains()` per value, and-ed; `contains all []` is "
                        "`attribute_type(p, L)`",
        "startswith": "`begins_with`; also a sort key condition",
        "matches": "DynamoDB has no regular expressions",
        "size": "`size()` also measures strings, maps and sets: guarded with "
                "`attribute_type(p, L)`",
        "exists": "`attribute_exists` (true for a NULL attribute too)",
        "not exists": "`attribute_not_exists`",
        "not": "pushed down by the three-valued rules; DynamoDB's NOT is two-valued",
        "and": "`AND`; its top level picks the key conditions of a Query",
        "or": "`OR` (a Query needs the partition key pinned outside any `or`)",
        "group by": "DynamoDB does not group",
        "count()": "`Select=COUNT`, summed over every page: one row",
        "count(p)": "DynamoDB only counts items",
        "sum": "DynamoDB has no aggregates", "avg": "DynamoDB has no aggregates",
        "min": "DynamoDB has no aggregates", "max": "DynamoDB has no aggregates",
        "select": "`ProjectionExpression`; aliases are applied to the projected items",
        "order by": "only the sort key of the table or index the Query uses "
                    "(`ScanIndexForward`); a Scan has no order",
        "limit": "rows, not DynamoDB's `Limit` (evaluated items): pages until enough matched",
        "offset": "DynamoDB cannot skip items (only `offset 0` is accepted)",
    },
    limits={"in_values": 100, "expression_bytes": MAX_EXPRESSION_BYTES,
            "operators": MAX_OPERATORS, "path_depth": MAX_PATH_DEPTH},
    values={"exact number": "native", "timestamp": "guarded", "bytes": "guarded",
            "set": "guarded"},
    value_notes={
        "timestamp": "`S` as `YYYY-MM-DDTHH:MM:SS.ffffffZ` (UTC, microseconds: text order "
                     "is time order, so a sort key); an `S` of that form reads back as a "
                     "datetime; `<`, `between` guarded by its width and range",
        "exact number": "`N` text, never through a float (38 digits; more refused), read "
                        "back as `int`, as the `float` whose shortest text it is, else "
                        "`Decimal`; an integral float of 2^53 to 2^63 whose text is not "
                        "its value is refused in a condition",
        "object id": "DynamoDB has no object ids: store the id as a string (`str(oid)`)",
        "set": "SS, NS and BS are arrays without order: `contains`, `size` guarded with "
               "`attribute_type`; `== [..]` also compares the list's elements as a set "
               "where they are distinct and of one kind",
        "bytes": "`B`; a `bson.Binary` with a subtype is refused (DynamoDB keeps none); "
                 "`<`, `between` refused: DynamoDB orders bytewise, CrossQL length first",
    },
)


def _conjuncts(cond: ir.Condition | None) -> list[ir.Condition]:
    """The top-level ``and`` of ``cond`` flattened, without repeats; or ``[cond]`` when
    none of its operands can pin a key (an ``==``; see ``QueryCompiler.choice``) or needs
    flattening: such a condition is only a filter, whose text flattens and declines
    repeats, and whose tree drops them, as this list would."""
    if cond is None:
        return []
    if type(cond) is not ir.And:
        return [cond]
    operands = cond.operands
    for c in operands:
        kind = type(c)
        if kind is ir.And or (kind is ir.Compare and c.op == "=="):  # type: ignore[union-attr]
            break
    else:
        return [cond]
    out: list[ir.Condition] = []
    if len(operands) <= 8:
        for c in operands:
            kind = type(c)
            if kind is ir.And:  # nested: flattened below
                out = []
                break
            for o in out:
                # conditions of two classes are never equal: no need to ask them
                if type(o) is kind and o == c:
                    break
            else:
                out.append(c)
        else:
            return out
    # equal conditions have one class and one path: one seen per path (or shape, for
    # or/not) spares comparing each with every other (quadratic) or hashing whole
    # conditions (a walk of each); only a second one of a path is compared
    _flatten_into(operands, out, {}, {})
    return out


def _flatten_into(operands: tuple[ir.Condition, ...], out: list[ir.Condition],
                  seen: dict[Any, ir.Condition], more: dict[Any, Any]) -> None:
    """Append to ``out`` the conjuncts not equal to one before: ``seen`` holds the
    first of each path (or ``_shape``), ``more`` the others kept of one: a list, or a
    set once it is long (many conditions on one path compared pairwise were
    quadratic; a short list is compared, as a hole of a plan template refuses to be
    hashed)."""
    for c in operands:
        kind = type(c)
        if kind is ir.And:
            _flatten_into(c.operands, out, seen, more)  # type: ignore[union-attr]
            continue
        key = c.path.segments if kind in _PREDICATES else _shape(c)  # type: ignore[union-attr]
        first = seen.setdefault(key, c)
        if first is c:
            out.append(c)
            continue
        if type(first) is kind and first == c:
            continue
        others = more.get(key)
        if others is None:
            more[key] = [c]
        elif type(others) is set:
            size = len(others)
            others.add(c)
            if len(others) == size:
                continue
        else:
            for o in others:
                if type(o) is kind and o == c:
                    break
            else:
                others.append(c)
                out.append(c)
                if len(others) > _SCAN:
                    more[key] = {first, *others}
            continue
        out.append(c)


_SCAN = 8
"""Conditions of one path compared pairwise, at most (then hashed)."""


def _shape(cond: ir.Condition) -> Any:
    """A key equal for equal conditions, and seldom for others: a predicate's path, or
    the class, size and first operand's key of and/or/not."""
    kind = type(cond)
    if kind in _PREDICATES:
        return cond.path.segments  # type: ignore[union-attr]
    if kind is ir.Not:
        return kind, _shape(cond.operand)  # type: ignore[union-attr]
    operands = cond.operands  # type: ignore[union-attr]
    return kind, len(operands), _shape(operands[0])


_PREDICATES = frozenset(ir.PREDICATE_TYPES)


def _predicate_path(cond: ir.Condition) -> ir.Path | None:
    """The path a predicate tests (None for not/and/or)."""
    if isinstance(cond, ir.Not | ir.And | ir.Or):
        return None
    return cond.path


def _leaf_paths(cond: ir.Condition) -> list[ir.Path]:
    return visitor.paths(cond)


_Bad = tuple[ir.Literal, UnstorableValue] | None


class _BadNumber(ConditionVisitor[_Bad]):
    """The first number literal DynamoDB cannot hold, in the order ``ir.walk`` meets
    them, with why (``QueryCompiler.number_refusal``)."""

    NAME = "dynamodb numbers"

    def visit_And(self, node: ir.And | ir.Or) -> _Bad:
        for operand in node.operands:
            if type(operand) is ir.Compare:  # the common case, without a call
                value: Any = operand.value
                if type(value) is ir.Literal and type(value.value) is str:
                    continue
            bad = self.visit(operand)
            if bad is not None:
                return bad
        return None

    visit_Or = visit_And

    def visit_Not(self, node: ir.Not) -> _Bad:
        return self.visit(node.operand)

    def visit_Exists(self, node: ir.Exists) -> _Bad:
        return None

    def visit_Between(self, node: ir.Between) -> _Bad:
        return _bad_value(node.low) or _bad_value(node.high)

    def visit_In(self, node: ir.In | ir.ContainsAny | ir.ContainsAll) -> _Bad:
        return _bad_value(node.values)

    visit_ContainsAny = visit_ContainsAll = visit_In

    def visit_Compare(self, node: ir.Compare | ir.Contains | ir.StartsWith | ir.Matches
                      | ir.Size) -> _Bad:
        return _bad_value(node.value)

    visit_Contains = visit_StartsWith = visit_Matches = visit_Size = visit_Compare


_BAD_NUMBER = _BadNumber()


def _bad_value(value: ir.Value) -> tuple[ir.Literal, UnstorableValue] | None:
    if type(value) is ir.Literal:
        number: Any = value.value
        kind = type(number)
        if kind is str or number is None or kind is bool:
            return None
        if kind is int and -_SAFE_INT < number < _SAFE_INT:
            return None  # of at most 38 digits: always storable
        try:
            if isinstance(number, int | float | Decimal):
                query_number_text(number)
            elif value.kind in ("bytes", "timestamp"):
                to_attribute_value(number)
        except UnstorableValue as err:
            return value, err
        return None
    if type(value) is ir.ListValue:
        for item in value.items:
            if type(item) is ir.Literal:  # the common cases, without a call
                number = item.value
                kind = type(number)
                if kind is str or (kind is int and -_SAFE_INT < number < _SAFE_INT):
                    continue
            bad = _bad_value(item)
            if bad is not None:
                return bad
    return None


_SAFE_INT = 10**38


_COLLECTION = re.compile(r"(?:\s|--[^\n]*)*from(?:\s|--[^\n]*)+(`(?:[^`]|``)*`|\w+)",
                         re.IGNORECASE)


@dataclass(frozen=True)
class _CollectionName:
    """Where the collection's name is, for an error that points at it."""

    span: ir.Span | None


def _collection_span(query: ir.Query) -> ir.Span | None:
    match = _COLLECTION.match(query.source or "")
    return match.span(1) if match else query.span


_SHORT = 4 * MAX_OPERATORS
"""An ASCII expression text this short is within both limits (see ``check_limits``)."""

_TABLE_NAMES: Memo[str, bool] = Memo(1024, "dynamodb table names")
"""Table names already found valid."""


def _valid_table_name(table: str) -> bool:
    if not _TABLE_NAME.match(table):
        return False
    return _TABLE_NAMES.put(table, True)


def _count(value: ir.Literal | ir.Param | None) -> int | None:
    if value is None:
        return None
    assert isinstance(value, ir.Literal) and isinstance(value.value, int)
    return value.value


@dataclass
class _Choice:
    """A Query on one access path: its key conditions and the rest of the condition."""

    path: AccessPath
    partition: ir.Compare
    sort: list[ir.Condition]
    rest: list[ir.Condition]
    forward: bool = True
    order_ok: bool = True
    why_not: list[str] = field(default_factory=list)


_KEYS: Memo[int, tuple[TableSchema, dict[str, str]]] = Memo(256, "dynamodb key types")


def _keys_of(table: TableSchema) -> dict[str, str]:
    """The table's key attributes and their types, ``?`` where the schema gives none:
    on every item, the index's items included (an index projects them); an index's
    own keys are on its items only, and a Query on it may not filter on them anyway.
    Kept per table (a memo): every compile needs them."""
    known = _KEYS.get(id(table))
    if known is not None and known[0] is table:
        return known[1]
    types = table.attribute_types
    keys = {key: types.get(key, "?") for key in table.key_attributes}
    _KEYS.put(id(table), (table, keys))
    return keys


REFUSAL_RULES = frozenset({
    "table-name", "path-depth", "group-by", "aggregate", "offset", "number", "order-by",
    "scan", "expression-bytes", "operators", "in-values", "matches", "nested-increment",
    "key-attribute", "unstorable-value", "bytes-order",
})
"""Why DynamoDB refuses, one name per rule: a refusal's code is
``capability.dynamodb.<rule>`` (docs/backends/dynamodb.md lists them)."""

_RENAMED = frozenset({"_id"})
"""The first path segments ``QueryCompiler.attribute`` renames (``_id`` → ``pk_field``)."""


class QueryCompiler(ConditionBuilder):
    """One compile of a read (``compile_dynamodb``; a write's read subclasses it in
    writes.py): the access path, the conditions, the request, DynamoDB's limits."""

    __slots__ = ("assumed", "keys", "options", "proven", "query", "required", "table")

    renamed = _RENAMED
    max_depth = MAX_PATH_DEPTH

    def __init__(self, query: ir.Query, table: TableSchema, options: DynamoOptions,
                 assumed: bool = False, required: frozenset[str] = frozenset(),
                 proven: Mapping[str, str] | None = None) -> None:
        self.query = query
        self.table = table
        self.options = options
        self.assumed = assumed
        """No schema was given for the collection: ``table`` is ``default_table``."""
        self.keys = _keys_of(table)
        self.proven: Mapping[str, str] = {}
        """Declared attributes (not keys) every item has, never null and never a list or
        a set, with their type as ``keys`` gives it: their guards are left out."""
        if proven:
            self.proven = {k: v for k, v in proven.items() if k not in self.keys}
            self.keys = {**self.keys, **self.proven}
        self.required = required
        """Attributes the declared schema says every item has (never null): a sparse
        index on one holds every item (docs/schemas.md)."""

    @property
    def builder(self) -> ConditionBuilder:
        """The condition builder: the compiler itself (one object per compile)."""
        return self

    # -- errors and names ------------------------------------------------------------
    def refusal(self, construct: str, node: Any, message: str,
                hint: str | None = None, *, rule: str) -> CapabilityError:
        assert rule in REFUSAL_RULES, rule
        return refuse(BACKEND, construct, node, message, hint=hint, source=self.query.source,
                      rule=rule)

    def attribute(self, path: ir.Path) -> Path:
        """The DynamoDB attribute path of a CrossQL path (``_id`` → ``pk_field``)."""
        if len(path.segments) > MAX_PATH_DEPTH:
            raise self.refusal("path depth", path,
                              f"dynamodb cannot address `{path.dotted}`: DynamoDB paths nest "
                              f"at most {MAX_PATH_DEPTH} levels, this one has "
                              f"{len(path.segments)}", rule="path-depth")
        if path.segments[0] == "_id":
            return (self.options.pk_field, *path.segments[1:])
        return path.segments

    # -- what DynamoDB cannot do at all ----------------------------------------------
    def check_shape(self) -> bool:
        """Refuse what DynamoDB cannot do at all; whether the query counts (``select
        count()``, the only aggregate left)."""
        q = self.query
        table = self.options.table_prefix + q.collection
        if table not in _TABLE_NAMES and not _valid_table_name(table):
            raise self.refusal(
                "collection name", _CollectionName(_collection_span(q)),
                f"dynamodb cannot use `{table}` as a table name",
                "table names are 3 to 255 characters of A-Z a-z 0-9 _ - .", rule="table-name")
        if q.group_by:
            raise self.refusal("group by", q.group_by[0],
                              "dynamodb cannot evaluate `group by`: DynamoDB does not group items",
                              "group the rows in your code, or keep per-group counters "
                              "in a table of their own", rule="group-by")
        counting = False
        for item in q.select:
            agg = item.expr
            if type(agg) is ir.Aggregate:
                if agg.func != "count" or agg.arg is not None:
                    construct = "count(p)" if agg.func == "count" else agg.func
                    raise self.refusal(construct, agg,
                                      f"dynamodb cannot evaluate `{construct}`: DynamoDB only "
                                      "counts items (Select=COUNT)",
                                      "select count() alone, or aggregate the rows in your "
                                      "code", rule="aggregate")
                counting = True
        if q.offset is not None and _count(q.offset):
            raise self.refusal("offset", q.offset,
                              "dynamodb cannot evaluate `offset`: DynamoDB cannot skip items",
                              "page with the last key you saw instead "
                              "(a condition on the sort key)", rule="offset")
        return counting

    def number_refusal(self) -> CapabilityError | None:
        """The refusal of the first number DynamoDB cannot hold, if any."""
        if self.query.where is None:
            return None
        bad = _BAD_NUMBER.visit(self.query.where)
        if bad is None:
            return None
        node, err = bad
        if node.kind in ("bytes", "timestamp"):
            return self.refusal("value", node, f"dynamodb cannot hold this value: {err}",
                                "bind a value DynamoDB can hold", rule="unstorable-value")
        return self.refusal("value", node, f"dynamodb cannot hold this number: {err}",
                           "DynamoDB numbers have at most 38 digits and "
                           "magnitudes from 1E-130 to 9.99E+125", rule="number")

    # -- key conditions -----------------------------------------------------------------
    def _key_literal(self, value: ir.Value, attribute: str, max_bytes: int) -> bool:
        """Whether ``value`` can be a key value of ``attribute`` in a key condition: a
        Query with a value of another type is a ValidationException, and a key is
        never an empty string."""
        if not isinstance(value, ir.Literal):
            return False
        declared = self.table.attribute_types.get(attribute)
        if value.kind == "string" and isinstance(value.value, StringHole):
            # a plan template's: a non-empty string of at most StringHole.MAX_BYTES
            return declared in (None, "S") and max_bytes >= StringHole.MAX_BYTES
        if value.kind == "string":
            assert isinstance(value.value, str)
            size = len(value.value.encode("utf-8"))
            return declared in (None, "S") and 0 < size <= max_bytes
        if value.kind in ("int", "float", "decimal"):
            return declared in (None, "N")
        if value.kind == "timestamp":  # its text (values.timestamp_text)
            return declared in (None, "S")
        if value.kind == "bytes":  # (ordered otherwise than CrossQL: see _sort_condition)
            return declared == "B" and getattr(value.value, "subtype", 0) == 0
        return False

    def _sort_condition(self, cond: ir.Condition, sk: str) -> bool:
        limit = _MAX_SORT_KEY_BYTES
        match cond:
            case ir.Compare(op=op, value=value):
                if op != "==" and getattr(value, "kind", None) == "bytes":
                    return False  # refused as a filter (bytes-order)
                return op != "!=" and self._key_literal(value, sk, limit)
            case ir.Between(low=low, high=high):
                if getattr(low, "kind", None) == "bytes":
                    return False  # refused as a filter (bytes-order)
                if not (self._key_literal(low, sk, limit) and self._key_literal(high, sk, limit)):
                    return False
                assert isinstance(low, ir.Literal) and isinstance(high, ir.Literal)
                if (low.kind == "string") != (high.kind == "string"):
                    return False
                # DynamoDB rejects a BETWEEN whose low bound is above its high bound
                return not bounds_reversed(low, high)
            case ir.StartsWith(value=value):
                return self.table.attribute_types.get(sk) in (None, "S") and \
                    self._key_literal(value, sk, limit)
        return False

    def _merge_range(self, conds: list[ir.Condition], sk: str) -> list[ir.Condition] | None:
        """``sk >= a and sk <= b`` as one ``between`` (the only two-sided key condition)."""
        if len(conds) == 1:
            return conds if self._sort_condition(conds[0], sk) else None
        if len(conds) != 2 or not all(isinstance(c, ir.Compare) for c in conds):
            return None
        ops = {c.op: c for c in conds if isinstance(c, ir.Compare)}
        if set(ops) != {">=", "<="}:
            return None
        low, high = ops[">="], ops["<="]
        merged = ir.Between(low.path, low.value, high.value, span=low.span)
        return [merged] if self._sort_condition(merged, sk) else None

    def choice(self, path: AccessPath, conjuncts: list[ir.Condition]) -> _Choice | None:
        """A Query on ``path`` for these conjuncts, or None when it cannot be one."""
        pk, sk = path.partition_key, path.sort_key
        for c in conjuncts:
            # a path of 2 to 32 segments is never a key, and attribute() has nothing to
            # refuse in it
            if type(c) is ir.Compare and c.op == "==" \
                    and not 1 < len(c.path.segments) <= MAX_PATH_DEPTH \
                    and self.attribute(c.path) == (pk,) \
                    and self._key_literal(c.value, pk, _MAX_PARTITION_KEY_BYTES):
                partition = c
                break
        else:
            return None
        others = [c for c in conjuncts if c is not partition]
        sort: list[ir.Condition] = []
        if sk is not None:
            on_sort = [c for c in others if (p := _predicate_path(c)) is not None
                       and self.attribute(p) == (sk,)]
            if on_sort:
                merged = self._merge_range(on_sort, sk)
                if merged is None:
                    return None
                sort = merged
                # by identity: the conjuncts hold no two equal conditions
                taken = {id(c) for c in on_sort}
                others = [c for c in others if id(c) not in taken]
        keys = path.keys
        for c in others:
            if any(self.attribute(p)[0] in keys for p in _leaf_paths(c)):
                return None  # a key attribute in a Query's filter is a ValidationException
        if path.index is not None and sk is not None and not sort \
                and not path.always_present(sk) and sk not in self.required:
            return None  # items without the index's sort key are not in the index
        if path.projected is not None and not self._projected(path, others):
            return None
        return _Choice(path, partition, sort, others)

    def _projected(self, path: AccessPath, rest: list[ir.Condition]) -> bool:
        assert path.projected is not None
        needed = {self.attribute(p)[0] for c in rest for p in _leaf_paths(c)}
        q = self.query
        if not path.local and not q.is_aggregate:
            if not q.select:
                return False  # whole items: a global index holds only its projection
            needed |= {self.attribute(i.expr)[0] for i in q.select
                       if isinstance(i.expr, ir.Path)}
        return needed <= path.projected

    # -- order ------------------------------------------------------------------------
    def order_keys(self) -> list[tuple[ir.OrderKey, Path]]:
        out = []
        for key in self.query.order_by:
            item = resolve_order_key(self.query, key)
            path = item.expr if item is not None else key.path
            assert isinstance(path, ir.Path)
            out.append((key, self.attribute(path)))
        return out

    def fit_order(self, choice: _Choice) -> None:
        """Set ``forward``, or clear ``order_ok`` when the Query cannot give the order."""
        keys = self.order_keys()
        pinned = {choice.path.partition_key}
        if choice.sort and isinstance(choice.sort[0], ir.Compare) and choice.sort[0].op == "==":
            assert choice.path.sort_key is not None
            pinned.add(choice.path.sort_key)
        if pinned >= choice.path.table_keys:
            return  # at most one item
        rest = [(k, p) for k, p in keys if not (len(p) == 1 and p[0] in pinned)]
        if not rest:
            return
        first, path = rest[0]
        if choice.path.sort_key is None or path != (choice.path.sort_key,):
            choice.order_ok = False
            return
        choice.forward = not first.descending
        if len(rest) > 1 and not (pinned | {choice.path.sort_key}) >= choice.path.table_keys:
            choice.order_ok = False  # ties on the sort key come back in no promised order

    def order_refusal(self, choices: list[_Choice]) -> CapabilityError:
        sparse = self.sparse_refusal()
        if sparse is not None:
            return sparse
        keys = self.order_keys()
        key = keys[0][0]
        for choice in choices:
            pinned = {choice.path.partition_key}
            offending = [k for k, p in keys if not (len(p) == 1 and p[0] in pinned)]
            if offending:
                key = offending[0]
                break
        sorts = [f"`{p.sort_key}` (partition key `{p.partition_key}`"
                 + (f", index `{p.index}`)" if p.index else ", the table)")
                 for p in table_paths(self.table) if p.sort_key]
        hint = ("DynamoDB returns a Query's items in the order of its sort key: pin the "
                "partition key with == and order by the sort key"
                + (": " + "; ".join(sorts) if sorts else " (this table has none)"))
        what = "a Scan" if not choices else "this Query"
        return self.refusal("order by", key, f"dynamodb cannot order {what} by "
                           f"`{key.path.dotted}`", hint, rule="order-by")

    def sparse_path(self, conjuncts: list[ir.Condition], ordered: bool) -> AccessPath | None:
        """A sparse index a Query would use for these conjuncts (and the order, when
        ``ordered``), were its sort key declared on every item: the index leaves out
        the items without it, and a declaration lifts that (docs/schemas.md). None
        otherwise."""
        required = self.required
        try:
            for path in table_paths(self.table):
                sk = path.sort_key
                if path.index is None or sk is None or path.always_present(sk) \
                        or sk in required:
                    continue
                self.required = required | {sk}
                choice = self.choice(path, conjuncts)
                if choice is None or choice.sort:
                    continue
                if ordered:
                    self.fit_order(choice)
                    if not choice.order_ok:
                        continue
                return path
        finally:
            self.required = required
        return None

    def sparse_refusal(self) -> CapabilityError | None:
        """The refusal of an order a Query on a sparse index would give, were its sort key
        declared on every item (``sparse_path``), which is the reason. None otherwise."""
        path = self.sparse_path(_conjuncts(self.query.where), True)
        if path is None:
            return None
        sk = path.sort_key
        collection = self.query.collection
        key = self.order_keys()[0][0]
        return self.refusal(
            "order by", key,
            f"dynamodb cannot order by `{key.path.dotted}` with a Query on index "
            f"`{path.index}`: the index is sparse, it holds only the items that have "
            f"`{sk}`, and no schema says every item of `{collection}` has it",
            f"if every item has `{sk}`, declare it required; in the configuration: "
            f"`collections: {{{collection}: {{required: [{sk}]}}}}`",
            rule="order-by")

    def scan_reason(self, conjuncts: list[ir.Condition]) -> str:
        """The reason of a Scan: a sparse index that would serve it, were its sort key
        declared on every item (``sparse_path``), is named with the declaration; only
        a Scan pays for the search, and only when a condition pins something with ==."""
        if not any(type(c) is ir.Compare and c.op == "==" for c in conjuncts):
            return _SCAN_REASON
        path = self.sparse_path(conjuncts, False)
        if path is None:
            return _SCAN_REASON
        sk, collection = path.sort_key, self.query.collection
        return (f"`{path.partition_key}` is pinned with ==, but index `{path.index}` is "
                f"sparse, it holds only the items that have `{sk}`, and no schema says "
                f"every item of `{collection}` has it: a Scan reads the whole table; "
                f"index `{path.index}` would serve it if every item had `{sk}`; declare it "
                f"required, in the configuration: "
                f"`collections: {{{collection}: {{required: [{sk}]}}}}`")

    # -- the plan -----------------------------------------------------------------------
    def filter_guards(self) -> tuple[Expr, ...]:
        """What the read's filter adds to the ``where``: nothing; the read of a write
        adds that its assignments apply (``writes.py``)."""
        return ()

    def run(self) -> DynamoPlan:
        counting = self.check_shape()
        # Numbers are checked where they are used (the builder checks every value of
        # the filter, rendering every key value), not in a walk of their own; a number
        # DynamoDB cannot hold is still the refusal reported before any other but the
        # shape's, as the first of them in the query.
        try:
            return self._run(counting)
        except (CapabilityError, UnstorableValue):
            refusal = self.number_refusal()
            if refusal is not None:
                raise refusal from None
            raise

    def _run(self, counting: bool) -> DynamoPlan:
        q = self.query
        conjuncts = _conjuncts(q.where)
        ordered = bool(q.order_by) and not counting
        choices: list[_Choice] = []
        for c in conjuncts:
            if type(c) is ir.Compare and c.op == "==":  # what every Query needs (see choice)
                for path in table_paths(self.table):
                    choice = self.choice(path, conjuncts)
                    if choice is None:
                        continue
                    if ordered:
                        self.fit_order(choice)
                    choices.append(choice)
                break
        usable = [c for c in choices if c.order_ok] if choices else choices
        if len(usable) > 1:
            usable.sort(key=lambda c: (not c.sort, c.path.index is not None))
        if usable:
            return self.plan(usable[0], conjuncts, counting)
        if ordered:
            raise self.order_refusal(choices)
        if not self.options.allow_scan:
            keys = ", ".join(f"`{p.partition_key}`" + (f" (index `{p.index}`)" if p.index else "")
                             for p in table_paths(self.table))
            raise self.refusal(
                "scan", q.where if q.where is not None else q,
                "dynamodb cannot run this query without a Scan, and allow_scan is off: "
                "it pins no partition key with ==",
                f"add `<partition key> == value` for one of {keys}, or compile with "
                "allow_scan=True", rule="scan")
        return self.plan(None, conjuncts, counting)

    def _key_expr(self, choice: _Choice) -> Expr:
        partition = choice.partition
        assert isinstance(partition.value, ir.Literal)
        parts: list[Expr] = [Comparison("=", (choice.path.partition_key,), partition.value)]
        assert choice.path.sort_key is not None or not choice.sort
        for cond in choice.sort:
            sk: Path = (choice.path.sort_key or "",)
            match cond:
                case ir.Compare(op=op, value=ir.Literal(kind="timestamp") as v) if op != "==":
                    parts.append(_timestamp_key_range(sk, op, v))
                case ir.Compare(op=op, value=ir.Literal() as v):
                    parts.append(Comparison("=" if op == "==" else op, sk, v))
                case ir.Between(low=ir.Literal() as lo, high=ir.Literal() as hi):
                    parts.append(Between(sk, lo, hi))
                case ir.StartsWith(value=ir.Literal() as v):
                    parts.append(Function("begins_with", sk, v))
        return and_(*parts)

    def plan(self, choice: _Choice | None, conjuncts: list[ir.Condition],
             counting: bool) -> DynamoPlan:
        """The plan: a Query on ``choice``, or a Scan (None). Assembled in named parts:
        the key condition, the filter (``filter``), the rows (``rows``), then the read's
        order, what it returns and DynamoDB's ``Limit``."""
        q = self.query
        table = self.options.table_prefix + q.collection
        # The count request (derived by the plan) is the same read without the
        # projection, which is rendered last: its names are the first ones.
        writer = ExpressionWriter()
        req: dict[str, Any] = {"TableName": table}
        key_expr = None
        if choice is not None:
            key_expr = self._key_expr(choice)
            if choice.path.index is not None:
                req["IndexName"] = choice.path.index
            # interned: cached plans of one shape (other values) share their texts
            key_text = req["KeyConditionExpression"] = intern(writer.render(key_expr))
            if len(key_text) > _SHORT or not key_text.isascii():
                self.check_limits("KeyConditionExpression", key_text, key_expr)
        writer, never = self.filter(req, writer, choice.rest if choice is not None
                                    else conjuncts, key_expr)
        # the select's paths are checked after the condition's, as they always were
        outputs, projection = self.rows() if q.select and not counting else (None, [])
        names = writer.names
        condition_names = len(names)
        if projection:
            path_text = writer.path
            text = req["ProjectionExpression"] = intern(
                path_text(projection[0]) if len(projection) == 1
                else ", ".join(map(path_text, projection)))
            if len(text) > _SHORT or not text.isascii():
                self.check_limits("ProjectionExpression", text, None)
        if names:
            req["ExpressionAttributeNames"] = names
        if writer.values:
            req["ExpressionAttributeValues"] = writer.values
        if choice is not None:
            req["ScanIndexForward"] = choice.forward
        limit = _count(q.limit)
        if counting:
            req["Select"] = "COUNT"
        else:
            req["Select"] = "SPECIFIC_ATTRIBUTES" if projection else "ALL_ATTRIBUTES"
            if limit and "FilterExpression" not in req:
                # without a filter every evaluated item is a row: one page is enough;
                # DynamoDB's Limit is a 32-bit integer (2^31 is an InternalFailure), so
                # a larger limit asks for pages of 2^31 - 1, and the runtime still
                # counts rows to the query's limit
                req["Limit"] = limit if limit <= MAX_REQUEST_LIMIT else MAX_REQUEST_LIMIT
        return DynamoPlan(
            "Query" if choice is not None else "Scan",  # operation
            q.collection, table,
            choice.path.index if choice is not None else None,  # index_name
            req, limit,
            _shared_outputs(tuple(outputs)) if outputs is not None else None,
            tuple([output_key(i)[0] for i in q.select]) if counting else None,  # count_names
            never,
            self.options.pk_field,
            self.reason(choice) if choice is not None else self.scan_reason(conjuncts),
            condition_names,
            self.assumptions(choice),
        )

    def filter(self, req: dict[str, Any], writer: ExpressionWriter, rest: list[ir.Condition],
               key_expr: Expr | None) -> tuple[ExpressionWriter, bool]:
        """Add the ``FilterExpression`` of ``rest`` to ``req``: written straight to text,
        the expression tree only where the text cannot be (see ``ConditionBuilder.text``)
        or the limits must be counted on it. The writer of the placeholders, and whether
        the filter is never true."""
        guards = self.filter_guards()
        filter_text = writer.text(self, rest) if rest and not guards else ""
        if filter_text and len(filter_text) > MAX_EXPRESSION_BYTES:
            # the text is what the tree would render (see ConditionBuilder.text), and it
            # is over the size limit already: refused without building the tree
            self.check_limits("FilterExpression", filter_text, None)
        never = False
        if guards or filter_text is None or len(filter_text) > _SHORT \
                or not filter_text.isascii():
            writer, filter_text, never = self.filter_tree(rest, guards, key_expr)
        if filter_text:
            req["FilterExpression"] = intern(filter_text)
        return writer, never

    def filter_tree(self, rest: list[ir.Condition], guards: tuple[Expr, ...],
                    key_expr: Expr | None) -> tuple[ExpressionWriter, str | None, bool]:
        """The filter rendered from its expression tree, with its limits checked: a new
        writer (the text may have numbered placeholders), the text (None when the tree
        folds to a constant), and whether it is never true."""
        build = self.build
        filter_expr = and_(*[build(c) for c in rest], *guards)
        writer = ExpressionWriter()
        if key_expr is not None:
            writer.render(key_expr)  # the same text again
        if type(filter_expr) is Const:
            return writer, None, not filter_expr.value
        filter_text = writer.render(filter_expr)
        if len(filter_text) > _SHORT or not filter_text.isascii():
            self.check_limits("FilterExpression", filter_text, filter_expr)
        return writer, filter_text, False

    def rows(self) -> tuple[list[tuple[Path, Path]], list[Path]]:
        """The rows of a ``select``: (output key, attribute path) pairs, and the paths to
        project (without overlaps, which DynamoDB refuses)."""
        outputs = []
        projection: list[Path] = []
        names_only = True  # every path one name: only a repeat can overlap
        for item in self.query.select:
            path = item.expr
            assert type(path) is ir.Path
            source = path.segments
            if source[0] == "_id" or len(source) > MAX_PATH_DEPTH:
                source = self.attribute(path)
            if len(source) != 1:
                names_only = False
            # output_key(item), for a path
            outputs.append((path.segments if item.alias is None else (item.alias,), source))
            projection.append(source)
        if len(projection) > 1 and not (names_only and len(set(projection)) == len(projection)):
            projection = _without_overlaps(projection)
        return outputs, projection

    def assumptions(self, choice: _Choice | None) -> tuple[str, ...]:
        """What the plan assumes of the table (``DynamoPlan.assumptions``)."""
        guards = self.guards_left_out()
        if self.assumed:
            return _default_assumption(self.options.pk_field, self.query.collection) + guards
        if choice is None:
            return guards
        types = self.table.attribute_types
        sk = choice.path.sort_key
        declared = () if choice.path.index is None or sk is None or choice.sort or \
            choice.path.always_present(sk) or sk not in self.required else (
                f"every item has `{sk}` (the schema declares it required), so index "
                f"`{choice.path.index}` holds every item",)
        keys = [(choice.path.partition_key, choice.partition.value)]
        if choice.sort:
            assert choice.path.sort_key is not None
            sort = choice.sort[0]
            keys.append((choice.path.sort_key, sort.low if isinstance(sort, ir.Between)
                         else sort.value))  # type: ignore[union-attr]
        return declared + tuple(_key_type_assumption(key, value) for key, value in keys
                                if key not in types) + guards

    def guards_left_out(self) -> tuple[str, ...]:
        """The assumption of a plan whose conditions name declared attributes that need
        no ``attribute_exists``/``attribute_type`` guards (``proven``), if any."""
        if not self.proven or self.query.where is None:
            return ()
        named = sorted({p.segments[0] for p in _leaf_paths(self.query.where)
                        if len(p.segments) == 1 and p.segments[0] in self.proven})
        if not named:
            return ()
        return (f"every item has {', '.join(f'`{n}`' for n in named)} (the schema of "
                f"`{self.query.collection}` declares it required, never null, not a list): "
                f"no attribute_exists/attribute_type guards on it",)

    def check_limits(self, name: str, text: str, expr: Expr | None) -> None:
        """Refuse an expression over DynamoDB's size or operator limits."""
        size = len(text) if text.isascii() else len(text.encode("utf-8"))
        # Every operator takes at least 4 characters of the text (`NOT `, ` OR `, the
        # shortest comparison `#n0 = :v0`, `size(#n0) < :v0` for its two), so a text of
        # at most 4 * MAX_OPERATORS characters cannot have too many: not counted.
        operators = operator_count(expr) \
            if expr is not None and len(text) > 4 * MAX_OPERATORS else 0
        if size <= MAX_EXPRESSION_BYTES and operators <= MAX_OPERATORS:
            return
        where = self.query.where if self.query.where is not None else self.query
        node = where if name != "ProjectionExpression" else self.query.select[0]
        if size > MAX_EXPRESSION_BYTES:
            raise self.refusal(
                "expression size", node, f"dynamodb cannot send a {name} of {size} bytes: "
                f"DynamoDB allows {MAX_EXPRESSION_BYTES}", "split the query into several",
                rule="expression-bytes")
        raise self.refusal(
            "expression size", node, f"dynamodb cannot send a {name} of "
            f"{operators} operators: DynamoDB allows {MAX_OPERATORS}",
            "split the query into several, or use `in` for lists of values", rule="operators")

    def reason(self, choice: _Choice | None) -> str:
        if choice is None:
            return _SCAN_REASON
        on = f"index `{choice.path.index}`" if choice.path.index else "the table"
        text = f"`{choice.path.partition_key}` is pinned with == on {on}"
        if choice.sort:
            text += f"; `{choice.path.sort_key}` is a sort key condition"
        return text


_ASSUMED: Memo[tuple[str, str], tuple[str, ...]] = Memo(1024, "dynamodb assumptions")


def _default_assumption(pk_field: str, collection: str) -> tuple[str, ...]:
    """The assumption of a plan compiled without a schema for its collection: one tuple
    for every cached plan of the collection (a memo)."""
    key = (pk_field, collection)
    out = _ASSUMED.get(key)
    if out is None:
        out = _ASSUMED.put(key, (
            f"`{pk_field}` is the table's only key, a string (S) partition key (no key "
            f"schema was given for `{collection}`; create_collection makes such a table)",))
    return out


def _key_type_assumption(key: str, value: ir.Value) -> str:
    """A key condition's value gives the type of a key the schema gives none."""
    kind = value.kind if isinstance(value, ir.Literal) else "string"
    return f"`{key}` is a key of type {'S' if kind in ('string', 'timestamp') else 'N'} " \
           "(the schema gives no type)"


def _timestamp_key_range(sk: Path, op: str, value: ir.Literal) -> Expr:
    """A sort key condition ``sk op t`` for a timestamp ``t``, as a ``BETWEEN`` within the
    texts of timestamps: a key condition takes no ``size`` guard, and a Query's filter
    may not name a key (docs/backends/dynamodb.md, "Values")."""
    instant: Any = value.value
    step = timedelta(microseconds=1)
    try:
        if op == "<":
            instant -= step
        elif op == ">":
            instant += step
    except OverflowError:  # nothing before the first instant (or after the last)
        return Between(sk, _TS_MAX, _TS_MIN)  # pragma: no cover - refused by the caller
    low = value if op[0] == ">" else _TS_MIN
    high = value if op[0] == "<" else _TS_MAX
    if op in ("<", ">"):
        bound = ir.Literal(instant, "timestamp")
        low, high = (bound, high) if op == ">" else (low, bound)
    return Between(sk, low, high)


_TS_MIN = ir.Literal(TIMESTAMP_MIN, "string")
_TS_MAX = ir.Literal(TIMESTAMP_MAX, "string")


_SCAN_REASON = "no partition key of the table or an index is pinned with ==: a Scan " \
               "reads the whole table"

_Outputs = tuple[tuple[Path, Path], ...]
_OUTPUTS: Memo[_Outputs, _Outputs] = Memo(1024, "dynamodb row shapes")


def _shared_outputs(outputs: _Outputs) -> _Outputs:
    """One tuple per row shape for every cached plan that has it (a memo)."""
    shared = _OUTPUTS.get(outputs)
    return shared if shared is not None else _OUTPUTS.put(outputs, outputs)


def _without_overlaps(projection: list[Path]) -> list[Path]:
    """The projection without paths another one covers: DynamoDB refuses overlapping
    paths (`a` and `a.b`, or `a` twice). Linear: each path looks its own prefixes up
    (at most 31), rather than comparing itself with every other path."""
    first: dict[Path, int] = {}
    for i, p in enumerate(projection):
        first.setdefault(p, i)
    return [p for i, p in enumerate(projection)
            if first[p] == i and not any(p[:n] in first for n in range(1, len(p)))]


def compile_dynamodb(query: ir.Query, *, schema: Any = None, options: Any = None
                     ) -> DynamoPlan | ClientSidePlan:
    """Compile a bound query into a DynamoDB plan.

    ``schema`` maps collection names to key schemas (``TableSchema`` or plain
    dicts); a collection without one is assumed to be keyed by ``pk_field`` alone, a
    string (``S``) partition key, as ``create_collection`` makes it, and its plan says
    so (``DynamoPlan.assumptions``). ``options``: ``DynamoOptions`` or a dict (``allow_scan``,
    ``pk_field``, ``table_prefix``, ``client_side``). With ``client_side``, a query refused
    only for what DynamoDB cannot order, group or aggregate is a ``ClientSidePlan``.
    """
    if options is None and schema is None:  # the defaults, validated once
        return QueryCompiler(query, _DEFAULT_TABLE, _DEFAULT_OPTIONS, assumed=True).run()
    opts = dynamo_options(options)
    table = table_schemas(schema).get(query.collection) if schema is not None else None
    assumed = table is None
    if table is None:
        table = default_table(opts.pk_field)
    entry = _entry(schema, query.collection)
    required = frozenset() if entry is None else entry.present_attributes
    proven = None if entry is None else proven_attributes(entry)
    try:
        return QueryCompiler(query, table, opts, assumed, required, proven).run()
    except CapabilityError as err:
        if opts.client_side is None:
            raise
        return complete_client_side(
            err, query, lambda q: QueryCompiler(q, table, opts, assumed, required,
                                                proven).run(),
            opts.client_side, COMPLETION)


COMPLETION = Completion(
    lifts=frozenset({"capability.dynamodb.group-by", "capability.dynamodb.aggregate",
                     "capability.dynamodb.order-by"}),
    riders=frozenset({"capability.dynamodb.offset"}),
    constructs=("group by", "count(p)", "sum", "avg", "min", "max", "order by"),
    rider_constructs=("offset",))
"""What ``client_side`` completes: ``group by``, the aggregates but ``count()``, and an
order no sort key gives; an ``offset`` too, with one of them (alone it stays refused)."""


def _entry(schema: Any, collection: str) -> Any:
    """The declaration of ``collection`` in a declared schema (a ``crossql.Schema``);
    None for a plain key-schema mapping."""
    lookup = getattr(schema, "collection", None)
    return None if lookup is None else lookup(collection)


_SCALAR_TYPES = {"string": "S", "int": "N", "float": "N", "number": "N", "decimal": "N",
                 "bytes": "B", "bool": "BOOL", "timestamp": "?", "objectid": "?",
                 "epoch_seconds": "N", "epoch_millis": "N"}
"""The DynamoDB type of a declared scalar kind, as ``ConditionBuilder.key_type`` reads
it (``?``: stored as text of a form, not told apart from other text here)."""

_PROVEN: Memo[int, tuple[Any, dict[str, str]]] = Memo(256, "dynamodb declared attributes")


def proven_attributes(entry: Any) -> dict[str, str]:
    """The top-level attributes a collection's declaration says every item has, never
    null, of a scalar kind (never a list, set or map): like a key, they need no
    ``attribute_exists``/``attribute_type`` guard (docs/schemas.md). Kept per
    declaration (a memo)."""
    known = _PROVEN.get(id(entry))
    if known is not None and known[0] is entry:
        return known[1]
    out = {}
    for name in entry.present_attributes:
        kind = entry.kind(name)
        if kind in _SCALAR_TYPES:
            out[name] = _SCALAR_TYPES[kind]
    _PROVEN.put(id(entry), (entry, out))
    return out


_DEFAULT_OPTIONS = dynamo_options(None)
_DEFAULT_TABLE = default_table(_DEFAULT_OPTIONS.pk_field)


