"""CrossQL writes → DynamoDB: a ``Query``/``Scan`` for the items, then one ``UpdateItem``
or ``DeleteItem`` per item.

DynamoDB has no update-by-query. The plan reads the items the ``where`` selects
(the read plan of ``from <c> where <cond> [limit n]``, so the same Query/Scan
choice), then writes each by its key with a ``ConditionExpression`` that
re-checks, on the item as it is at write time, the whole ``where`` (the read's
three-valued expression, ``expressions.ConditionBuilder``), the guards of the
reference semantics (``p = p + n`` needs ``attribute_type(p, N)``) and
``attribute_exists`` of the partition key (a deleted item is not re-created).
An item that changed in between fails the condition and is skipped, never
overwritten.

Atomicity: each item is written atomically; the statement is not atomic across
items (a failure part-way leaves the items before it written), nor between the
read and the writes.

Assignments below a map (``set a.b = v``, ``unset a.b``) are planned per item,
from the item as read: DynamoDB's ``SET a.b`` fails where ``a`` is missing,
where the reference creates the map. Where ``a`` is a map: ``SET a.b = v`` with
``attribute_type(a, M)``; where ``a`` is missing: ``SET a = {b: v}`` with
``attribute_not_exists(a)``; where ``a`` is anything else the item is skipped
(the reference's ``assignment_applies``). The condition re-checks that choice
at write time: an item whose ``a`` changed in between is skipped, like one whose
``where`` no longer holds.

Refused (``CapabilityError``): an increment below a map (``a.b = a.b + n``:
DynamoDB fails the whole request, not its condition, where ``a`` is missing);
an assignment to a key attribute of the table (DynamoDB keys are immutable).
"""

from __future__ import annotations

import json
import pprint
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from crossql import ir
from crossql._frozen import fast_init
from crossql.backends.base import WRITE_CONSTRUCTS, Capabilities, Plan
from crossql.backends.dynamodb.compiler import MAX_EXPRESSION_BYTES, MAX_OPERATORS, QueryCompiler
from crossql.backends.dynamodb.expressions import (
    NEVER,
    Expr,
    ExpressionWriter,
    and_,
    operator_count,
    or_,
)
from crossql.backends.dynamodb.plan import DynamoPlan, json_value
from crossql.backends.dynamodb.schema import (
    DynamoOptions,
    TableSchema,
    dynamo_options,
    table_schemas,
)
from crossql.backends.dynamodb.values import UnstorableValue, to_attribute_value
from crossql.errors import CapabilityError
from crossql.semantics.reference import MISSING, get_path
from crossql.semantics.writes import updated


@fast_init
@dataclass(frozen=True, slots=True)
class NestedWrite:
    """An assignment below a map (``set a.b = v`` or ``unset a.b``), planned per item
    from the item as read (``DynamoWritePlan.item_request``)."""

    kind: Literal["set", "unset"]
    path: tuple[str, ...]
    """The attribute path (at least two segments)."""

    def describe(self) -> str:
        """How each item is written, for ``explain`` and ``to_dict``."""
        dotted = ".".join(self.path)
        parent = ".".join(self.path[:-1])
        if self.kind == "unset":
            return (f"REMOVE {dotted} where {parent} is a map (attribute_type M); nothing "
                    f"where a map above it is missing (attribute_not_exists); the item is "
                    f"skipped where one is not a map")
        return (f"SET {dotted} where {parent} is a map (attribute_type M); where a map on "
                f"the way is missing, SET it to the maps and value below it "
                f"(attribute_not_exists); the item is skipped where one is not a map")


@fast_init
@dataclass(frozen=True, slots=True)
class DynamoWritePlan(Plan):
    """Read the items (``read``), then one ``UpdateItem``/``DeleteItem`` per item with
    ``request`` plus the item's ``Key``."""

    kind: Literal["update", "delete"]
    collection: str
    table: str
    read: DynamoPlan
    key_attributes: tuple[str, ...]
    request: dict[str, Any]
    statement: ir.Update | ir.Delete
    never: bool = False
    nested: tuple[NestedWrite, ...] = ()
    """Assignments below a map: each item's request adds them (``item_request``)."""
    sets: tuple[str, ...] = ()
    """With ``nested``: the ``SET`` clauses of ``request`` (written on every item)."""
    removes: tuple[str, ...] = ()
    """With ``nested``: the ``REMOVE`` clauses of ``request``."""
    backend = "dynamodb"

    def item_request(self, doc: Mapping[str, Any]) -> dict[str, Any] | None:
        """The request that writes one item, read as ``doc`` (a document, ``_id`` for
        the partition key): ``request`` itself, or with ``nested`` the assignments below
        a map as this item needs them; None where the reference skips the item (a map
        on an assigned path is something else). Without an ``UpdateExpression`` when
        nothing is left to write (an ``unset`` below a missing map)."""
        if not self.nested:
            return self.request
        statement = self.statement
        assert isinstance(statement, ir.Update)
        missing = _missing_maps(self.nested, doc)
        if missing is None:
            return None  # the reference skips the item (assignment_applies)
        # the new maps and values below them, as the reference writes them (only the
        # assignments below a map: the others are the request's own)
        after = updated(ir.Update(statement.collection, tuple(
            a for a in statement.assignments
            if isinstance(a, ir.SetField) and len(a.path.segments) > 1)), doc)
        w = _ItemWriter()
        sets, removes = list(self.sets), list(self.removes)
        conditions: list[str] = []
        written: set[tuple[str, ...]] = set()
        for write, first in zip(self.nested, missing, strict=True):
            target = w.nested(write, first, conditions, removes)
            if target is None or target in written:
                continue  # `set a.b, a.c` below a missing `a`: one SET of the new map
            written.add(target)
            new = get_path(after, target)
            sets.append(f"{w.path(target)} = {w.value(to_attribute_value(new))}")
        return self._with(w, sets, removes, conditions)

    def _with(self, w: _ItemWriter, sets: list[str], removes: list[str],
              conditions: list[str]) -> dict[str, Any]:
        """``request`` with this item's clauses, conditions and placeholders."""
        request = {k: v for k, v in self.request.items() if k != "UpdateExpression"}
        parts = []
        if sets:
            parts.append("SET " + ", ".join(sets))
        if removes:
            parts.append("REMOVE " + ", ".join(removes))
        if parts:
            request["UpdateExpression"] = " ".join(parts)
        request["ConditionExpression"] = " AND ".join(
            [f"({self.request['ConditionExpression']})", *dict.fromkeys(conditions)])
        request["ExpressionAttributeNames"] = {
            **self.request.get("ExpressionAttributeNames", {}), **w.names}
        if w.values:
            request["ExpressionAttributeValues"] = {
                **self.request.get("ExpressionAttributeValues", {}), **w.values}
        return request

    @property
    def method(self) -> str:
        """The low-level client method of each write."""
        return "update_item" if self.kind == "update" else "delete_item"

    atomic = "each item atomically; not atomic across items, nor between the read and the writes"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"backend": "dynamodb", "operation": f"{self.read.operation} then "
               f"{'UpdateItem' if self.kind == 'update' else 'DeleteItem'} per item",
               "table": self.table, "read": self.read.to_dict(),
               "key": list(self.key_attributes), "write": self.request,
               "atomic": self.atomic}
        if self.nested:
            out["per_item"] = [w.describe() for w in self.nested]
        if self.never:
            out["never"] = True
        result: dict[str, Any] = json.loads(json.dumps(out, default=json_value))
        return result

    def explain(self) -> str:
        write = "UpdateItem" if self.kind == "update" else "DeleteItem"
        lines = [f"dynamodb: {self.read.operation} on table `{self.table}`, then {write} "
                 f"per item — {self.atomic}",
                 "  read: " + self.read.explain().replace("\n", "\n  ")]
        for key, value in self.request.items():
            if key != "TableName":
                text = json.dumps(value, ensure_ascii=False, default=json_value)
                lines.append(f"  {write} {key}: {text}")
        lines += [f"  per item: {nested.describe()}" for nested in self.nested]
        lines.append("  the ConditionExpression re-checks the where on each item: one changed "
                     "since the read is skipped, never overwritten")
        return "\n".join(lines)

    def to_python(self) -> str:
        request = pprint.pformat(self.request, indent=1, width=88, sort_dicts=False)
        keys = ", ".join(repr(k) for k in self.key_attributes)
        per_item = [
            "    # below a map, per item (crossql's DynamoWritePlan.item_request):",
            *(f"    #   {w.describe()}" for w in self.nested),
        ] if self.nested else []
        # the per-item calls run inside the read's `async with` block: the client is
        # closed after it
        return self.read.python(then=[
            f"write = {request}",
            "for item in items:",
            f"    key = {{k: item[k] for k in ({keys},)}}",
            *per_item,
            "    try:",
            f"        await client.{self.method}(Key=key, **write)",
            "    except client.exceptions.ConditionalCheckFailedException:",
            "        pass  # the item no longer matches: skipped",
        ])

    def summary(self) -> str:
        return f"{self.read.operation} then {self.method} per item (not atomic across items)"


def _missing_maps(nested: tuple[NestedWrite, ...], doc: Mapping[str, Any]
                  ) -> list[int | None] | None:
    """The depth of the first missing map above each nested write's path (None: every
    map is there); None where a map on a path is something else (the item is skipped)."""
    missing: list[int | None] = []
    for write in nested:
        first = None
        for depth in range(1, len(write.path)):
            parent = get_path(doc, write.path[:depth])
            if parent is MISSING:
                first = depth
                break
            if not isinstance(parent, dict):
                return None
        missing.append(first)
    return missing


class _ItemWriter:
    """The ``#wK`` and ``:wK`` placeholders of one item's nested writes."""

    __slots__ = ("_map_type", "_name_of", "names", "values")

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}
        self._name_of: dict[str, str] = {}
        self._map_type: str | None = None

    def path(self, attribute: tuple[str, ...]) -> str:
        name_of = self._name_of
        for segment in attribute:
            if segment not in name_of:
                name_of[segment] = f"#w{len(name_of)}"
                self.names[name_of[segment]] = segment
        return ".".join(name_of[segment] for segment in attribute)

    def value(self, av: Any) -> str:
        placeholder = f":w{len(self.values)}"
        self.values[placeholder] = av
        return placeholder

    def is_map(self, attribute: tuple[str, ...]) -> str:
        if self._map_type is None:
            self._map_type = self.value({"S": "M"})
        return f"attribute_type({self.path(attribute)}, {self._map_type})"

    def nested(self, write: NestedWrite, first: int | None, conditions: list[str],
               removes: list[str]) -> tuple[str, ...] | None:
        """Add the conditions (and an unset's ``REMOVE``) of one nested write, given the
        depth of its first missing map; the path to ``SET`` (None: nothing to set)."""
        if first is None:
            conditions.append(self.is_map(write.path[:-1]))
            if write.kind == "unset":
                removes.append(self.path(write.path))
                return None
            return write.path
        target = write.path[:first]
        conditions.append(f"attribute_not_exists({self.path(target)})")
        if first > 1:
            conditions.append(self.is_map(target[:-1]))
        return None if write.kind == "unset" else target


class _WriteRead(QueryCompiler):
    """The compiler of a write's read: with ``limit n``, its filter also says that
    every assignment applies (the reference's ``assignment_applies``), so the limit
    counts only items that are written: each map above an assigned path is missing or
    a map, an incremented attribute a number. Without them the read would return items
    the write's condition then refuses, and spend the limit on them. Without a limit
    the write's condition alone skips them (and the read stays as short as the
    ``where``)."""

    __slots__ = ("assignments",)

    def __init__(self, query: ir.Query, table: TableSchema, options: DynamoOptions,
                 assignments: tuple[ir.Assignment, ...]) -> None:
        super().__init__(query, table, options)
        self.assignments = assignments

    def filter_guards(self) -> tuple[Expr, ...]:
        if self.query.limit is None:
            return ()
        guards: list[Expr] = []
        for item in self.assignments:
            try:
                attribute = self.attribute(item.path)
            except CapabilityError:
                continue  # refused with the assignments, after the read's own refusals
            for depth in range(1, len(attribute)):
                parent = attribute[:depth]
                guards.append(or_(self.missing(parent), self.has_type(parent, "M")))
            if isinstance(item, ir.Increment):
                guards.append(self.has_type(attribute, "N"))
        return tuple(guards)


def compile_dynamodb_write(statement: ir.Update | ir.Delete, *, schema: Any = None,
                           options: Any = None) -> DynamoWritePlan:
    """Compile a bound ``update``/``delete`` into a DynamoDB write plan: the read (a
    ``_WriteRead``), the assignments checked, the condition that re-checks the ``where``,
    the write's request, DynamoDB's limits on it."""
    opts = dynamo_options(options)
    tables = table_schemas(schema)
    table = tables.get(statement.collection) or TableSchema(partition_key=opts.pk_field,
                                                               sort_key=None)
    query = ir.Query(statement.collection, statement.where, limit=statement.limit,
                     span=statement.span, source=statement.source)
    compiler = _WriteRead(query, table, opts, statement.assignments
                          if isinstance(statement, ir.Update) else ())
    read = compiler.run()
    guards = _assignment_guards(compiler, statement, table)
    pk = (table.partition_key,)
    condition = and_(compiler.build(statement.where) if statement.where is not None
                     else and_(), *guards, compiler.exists(pk))
    writer = ExpressionWriter()
    request: dict[str, Any] = {"TableName": read.table}
    if condition != NEVER:
        request["ConditionExpression"] = writer.render(condition)
    sets: list[str] = []
    removes: list[str] = []
    nested: list[NestedWrite] = []
    if isinstance(statement, ir.Update):
        _assignments(compiler, statement, writer, sets, removes, nested)
        parts = []
        if sets:
            parts.append("SET " + ", ".join(sets))
        if removes:
            parts.append("REMOVE " + ", ".join(removes))
        if parts:
            request["UpdateExpression"] = " ".join(parts)
        request["ReturnValues"] = "ALL_OLD"
    if writer.names:
        request["ExpressionAttributeNames"] = writer.names
    if writer.values:
        request["ExpressionAttributeValues"] = writer.values
    _check_write_limits(compiler, statement, request, condition, nested)
    return DynamoWritePlan(
        kind="update" if isinstance(statement, ir.Update) else "delete",
        collection=statement.collection, table=read.table, read=read,
        key_attributes=table.key_attributes, request=request, statement=statement,
        never=condition == NEVER or read.never or read.limit == 0, nested=tuple(nested),
        sets=tuple(sets) if nested else (), removes=tuple(removes) if nested else ())


def _assignment_guards(compiler: QueryCompiler, statement: ir.Update | ir.Delete,
                       table: TableSchema) -> list[Expr]:
    """Refuse the assignments DynamoDB cannot make (an increment below a map, a key
    attribute); the guards of the others (an incremented attribute is a number)."""
    guards: list[Expr] = []
    if not isinstance(statement, ir.Update):
        return guards
    for item in statement.assignments:
        attribute = compiler.attribute(item.path)
        if len(attribute) > 1 and isinstance(item, ir.Increment):
            raise compiler.refusal(
                "update", item, f"dynamodb cannot increment `{item.path.dotted}` below a "
                "map: `SET a.b = a.b + n` fails the whole request where `a` is missing",
                "read the value and set it (`a.b = :new`) instead", rule="nested-increment")
        if attribute[0] in table.key_attributes:
            raise compiler.refusal(
                "update", item, f"dynamodb cannot change the key attribute `{attribute[0]}`",
                "delete the item and insert it again with the new key", rule="key-attribute")
        if isinstance(item, ir.Increment):
            guards.append(compiler.has_type(attribute, "N"))
    return guards


def _assignments(compiler: QueryCompiler, statement: ir.Update, writer: ExpressionWriter,
                 sets: list[str], removes: list[str], nested: list[NestedWrite]) -> None:
    """The ``SET`` and ``REMOVE`` clauses of the assignments (their placeholders in
    ``writer``), and those below a map, planned per item (``nested``); a value DynamoDB
    cannot store is refused."""
    for item in statement.assignments:
        attribute = compiler.attribute(item.path)
        try:
            if len(attribute) > 1:
                if isinstance(item, ir.SetField):
                    assert not isinstance(item.value, ir.Param)
                    to_attribute_value(ir.python_value(item.value))
                nested.append(NestedWrite("set" if isinstance(item, ir.SetField) else "unset",
                                          attribute))
                continue
            name = writer.path(attribute)
            if isinstance(item, ir.SetField):
                assert not isinstance(item.value, ir.Param)
                to_attribute_value(ir.python_value(item.value))
                sets.append(f"{name} = {writer.value(item.value)}")
            elif isinstance(item, ir.Increment):
                assert isinstance(item.amount, ir.Literal)
                to_attribute_value(item.amount.value)
                sets.append(f"{name} = {name} + {writer.value(item.amount)}")
            else:
                removes.append(name)
        except UnstorableValue as err:
            raise compiler.refusal(
                "update", item, f"dynamodb cannot store the value of `{item.path.dotted}`: "
                f"{err}", "store a value DynamoDB can hold", rule="unstorable-value") from None


@fast_init
@dataclass(frozen=True, slots=True)
class _Assignments:
    """Where a refusal of the ``UpdateExpression`` points: every assignment."""

    span: ir.Span | None


def _path_bytes(depth: int, placeholder: int) -> int:
    """The most bytes of a path of ``depth`` segments, each a placeholder of at most
    ``placeholder`` bytes, joined by dots."""
    return depth * placeholder + depth - 1


def _check_write_limits(compiler: QueryCompiler, statement: ir.Update | ir.Delete,
                        request: Mapping[str, Any], condition: Expr,
                        nested: list[NestedWrite]) -> None:
    """Refuse a write whose ``UpdateItem``/``DeleteItem`` passes DynamoDB's expression
    limits (4 KB of text, 300 operators). The read's expressions were checked when it
    was compiled, but the write's condition adds guards to the same ``where``, so a
    filter just under 4 KB makes a condition over it (a ``ValidationException`` at run
    time, after the read). With assignments below a map, the per-item request
    (``DynamoWritePlan.item_request``) is bounded by its longest form: every
    placeholder as wide as the widest, each write the longer of its two branches."""
    text = request.get("ConditionExpression")
    if text is None:
        return  # nothing is sent: no item can match
    condition_size = len(text.encode("utf-8"))
    update_size = len(request.get("UpdateExpression", "").encode("utf-8"))
    operators = operator_count(condition)
    if nested:
        segments = len({segment for write in nested for segment in write.path})
        name = len(f"#w{segments - 1}")
        value = len(f":w{len(nested)}")
        condition_size += len("()")  # "(" base ")", then " AND " and each write's
        update_size += len("SET  REMOVE ")
        for write in nested:
            depth = len(write.path)
            is_map = len(" AND attribute_type(, )") + value
            present = is_map + _path_bytes(depth - 1, name)
            missing = len(" AND attribute_not_exists()") + _path_bytes(depth - 1, name) + \
                (is_map + _path_bytes(depth - 2, name) if depth > 2 else 0)
            condition_size += max(present, missing)
            update_size += len(", ") + _path_bytes(depth, name) + \
                (len(" = ") + value if write.kind == "set" else 0)
        operators += 4 * len(nested)  # two functions, two AND operands at most
    bound = "at most " if nested else ""
    where = statement.where if statement.where is not None else statement
    if condition_size > MAX_EXPRESSION_BYTES:
        raise compiler.refusal(
            "expression size", where, f"dynamodb cannot send the ConditionExpression of "
            f"each write: {bound}{condition_size} bytes (the where and the write's guards), "
            f"DynamoDB allows {MAX_EXPRESSION_BYTES}", "split the write into several",
            rule="expression-bytes")
    if operators > MAX_OPERATORS:
        raise compiler.refusal(
            "expression size", where, f"dynamodb cannot send the ConditionExpression of each "
            f"write: {bound}{operators} operators (the where and the write's guards), "
            f"DynamoDB allows {MAX_OPERATORS}",
            "split the write into several, or use `in` for lists of values", rule="operators")
    if update_size > MAX_EXPRESSION_BYTES and isinstance(statement, ir.Update):
        first, last = statement.assignments[0].span, statement.assignments[-1].span
        span = (first[0], last[1]) if first is not None and last is not None else None
        raise compiler.refusal(
            "expression size", _Assignments(span), f"dynamodb cannot send the "
            f"UpdateExpression of each write: {bound}{update_size} bytes for "
            f"{len(statement.assignments)} assignments, DynamoDB allows "
            f"{MAX_EXPRESSION_BYTES}", "split the assignments into several updates",
            rule="expression-bytes")


WRITE_CAPABILITIES = Capabilities(
    backend="dynamodb",
    constructs=WRITE_CONSTRUCTS,
    support={"set p = v": "rewritten", "set a.b = v": "guarded", "p = p + n": "guarded",
             "unset p": "rewritten", "delete": "rewritten", "limit (writes)": "native",
             "transaction": "rewritten"},
    notes={
        "set p = v": "no update-by-query: the read's Query/Scan, then `UpdateItem` per item "
                     "with a `ConditionExpression` re-checking the `where` (an item changed "
                     "since is skipped, never overwritten); key attributes are refused",
        "set a.b = v": "planned per item from the item read: `SET a.b` under "
                       "`attribute_type(a, M)`, or `SET a = {b: v}` under "
                       "`attribute_not_exists(a)`; another `a` is not matched",
        "p = p + n": "`SET p = p + :n` under `attribute_type(p, N)`; an increment below a "
                     "map (`a.b = a.b + n`) is refused",
        "unset p": "`REMOVE` per item, as `set`",
        "delete": "`DeleteItem` per item, with the re-checking condition",
        "limit (writes)": "the read stops after `n` matching items",
        "transaction": "writes collected into one `TransactWriteItems` (at most 100 items, "
                       "reads included; more is refused before anything is written); "
                       "reads re-checked at the commit; a read after a write it could see "
                       "is refused",
    },
)
