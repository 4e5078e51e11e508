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

Refused (``CapabilityError``): an assignment to a nested path (``a.b``):
DynamoDB's ``SET a.b`` fails where ``a`` is missing, where the reference
creates the map; an assignment to a key attribute of the table (DynamoDB keys
are immutable).
"""

from __future__ import annotations

import json
import pprint
from dataclasses import dataclass
from typing import Any, Literal

from crossql import ir
from crossql.backends.base import Plan, refuse
from crossql.backends.dynamodb.expressions import NEVER, ExpressionWriter, and_
from crossql.backends.dynamodb.plan import DynamoPlan
from crossql.backends.dynamodb.values import UnstorableValue, to_attribute_value

BACKEND = "dynamodb"


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
    backend = "dynamodb"

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
        if self.never:
            out["never"] = True
        result: dict[str, Any] = json.loads(json.dumps(out))
        return result

    def explain(self) -> str:
        write = "UpdateItem" if self.kind == "update" else "DeleteItem"
        lines = [f"dynamodb: {self.read.operation} on table `{self.table}`, then {write} "
                 f"per item — {self.atomic}",
                 "  read: " + self.read.explain().replace("\n", "\n  ")]
        for key, value in self.request.items():
            if key != "TableName":
                lines.append(f"  {write} {key}: {json.dumps(value, ensure_ascii=False)}")
        lines.append("  the ConditionExpression re-checks the where on each item: one changed "
                     "since the read is skipped, never overwritten")
        return "\n".join(lines)

    def to_python(self) -> str:
        request = pprint.pformat(self.request, indent=1, width=88, sort_dicts=False)
        keys = ", ".join(repr(k) for k in self.key_attributes)
        return "\n".join([
            self.read.to_python(),
            f"write = {request}",
            "for item in items:",
            f"    key = {{k: item[k] for k in ({keys},)}}",
            "    try:",
            f"        await client.{self.method}(Key=key, **write)",
            "    except client.exceptions.ConditionalCheckFailedException:",
            "        pass  # the item no longer matches: skipped",
        ])

    def summary(self) -> str:
        return f"{self.read.operation} then {self.method} per item (not atomic across items)"


def compile_dynamodb_write(statement: ir.Update | ir.Delete, *, schema: Any = None,
                           options: Any = None) -> DynamoWritePlan:
    """Compile a bound ``update``/``delete`` into a DynamoDB write plan."""
    from crossql.backends.dynamodb.compiler import _Compiler
    from crossql.backends.dynamodb.schema import TableSchema, dynamo_options, table_schemas

    opts = dynamo_options(options)
    tables = table_schemas(schema)
    table = tables.get(statement.collection) or TableSchema(partition_key=opts.pk_field,
                                                               sort_key=None)
    query = ir.Query(statement.collection, statement.where, limit=statement.limit,
                     span=statement.span, source=statement.source)
    compiler = _Compiler(query, table, opts)
    read = compiler.run()
    builder = compiler.builder

    def fail(node: Any, message: str, hint: str) -> Exception:
        return refuse(BACKEND, "update", node, message, hint=hint, source=statement.source)

    guards = []
    if isinstance(statement, ir.Update):
        for item in statement.assignments:
            attribute = compiler.attribute(item.path)
            if len(attribute) > 1:
                raise fail(item, f"dynamodb cannot write `{item.path.dotted}` below a map: "
                           "`SET a.b` fails where `a` is missing",
                           "set the whole map (`a = ...`) instead")
            if attribute[0] in table.key_attributes:
                raise fail(item, f"dynamodb cannot change the key attribute `{attribute[0]}`",
                           "delete the item and insert it again with the new key")
            if isinstance(item, ir.Increment):
                guards.append(builder.has_type(attribute, "N"))
    pk = (table.partition_key,)
    condition = and_(builder.build(statement.where) if statement.where is not None
                     else and_(), *guards, builder.exists(pk))
    writer = ExpressionWriter()
    request: dict[str, Any] = {"TableName": read.table}
    if condition != NEVER:
        request["ConditionExpression"] = writer.render(condition)
    if isinstance(statement, ir.Update):
        sets: list[str] = []
        removes: list[str] = []
        for item in statement.assignments:
            name = writer.path(compiler.attribute(item.path))
            try:
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
                raise fail(item, f"dynamodb cannot store the value of `{item.path.dotted}`: "
                           f"{err}", "store a value DynamoDB can hold") from None
        parts = []
        if sets:
            parts.append("SET " + ", ".join(sets))
        if removes:
            parts.append("REMOVE " + ", ".join(removes))
        request["UpdateExpression"] = " ".join(parts)
        request["ReturnValues"] = "ALL_OLD"
    if writer.names:
        request["ExpressionAttributeNames"] = writer.names
    if writer.values:
        request["ExpressionAttributeValues"] = writer.values
    return DynamoWritePlan(
        kind="update" if isinstance(statement, ir.Update) else "delete",
        collection=statement.collection, table=read.table, read=read,
        key_attributes=table.key_attributes, request=request, statement=statement,
        never=condition == NEVER or read.never or read.limit == 0)
