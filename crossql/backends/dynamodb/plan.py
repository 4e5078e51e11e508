"""The DynamoDB plan: the exact keyword arguments of one low-level ``query``/``scan`` call."""

from __future__ import annotations

import base64
import json
import pprint
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any, Literal

from crossql._frozen import fast_init
from crossql.backends.base import Plan

Operation = Literal["Query", "Scan"]


def json_value(value: Any) -> Any:
    """A ``B`` value in a plan's JSON: base64 text, as DynamoDB's JSON has it."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


@fast_init
@fast_init
@dataclass(frozen=True, slots=True)
class DynamoPlan(Plan):
    """A ``Query`` (partition key pinned) or ``Scan``, with what the runtime adds.

    ``request`` holds the keyword arguments of ``client.query(**request)`` /
    ``client.scan(**request)`` exactly, values in typed AttributeValue form.
    DynamoDB pages at 1 MB and its ``Limit`` counts *evaluated* items, so the
    runtime follows ``LastEvaluatedKey`` until ``limit`` rows matched or the
    data ends, each page's ``Limit`` grown from ``limit`` by the share of items
    that matched (``store.page_limit``). Plans are shared read-only (plan cache):
    the runtime copies the request before adding ``ExclusiveStartKey`` and ``Limit``.
    """

    operation: Operation
    collection: str
    table: str
    index_name: str | None
    request: dict[str, Any]
    limit: int | None = None
    outputs: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] | None = None
    """For ``select``: (output key, attribute path) pairs; the runtime builds each
    row from the projected item (DynamoDB has no aliases). None: whole items."""
    count_names: tuple[str, ...] | None = None
    """For ``select count()``: the output names of the one row (Count summed over pages)."""
    never: bool = False
    """The condition is true for no item: no request is sent."""
    pk_field: str = "_id"
    """The attribute that holds CrossQL's ``_id``; renamed back to ``_id`` in rows."""
    reason: str = ""
    condition_names: int = 0
    """How many of the request's attribute names (the first ones) its key and filter
    conditions use; the others only the projection does."""
    assumptions: tuple[str, ...] = ()
    """What the plan assumes of the table that no schema said: its key schema when none
    was given, a key's type when the schema gives none. A table that differs may
    reject the plan (a Query whose key value has another type is a
    ValidationException) or deserve another one."""
    backend = "dynamodb"

    @property
    def count_request(self) -> dict[str, Any]:
        """The same read with ``Select=COUNT`` (for ``store.count``): derived from
        ``request`` on use rather than held, since every cached plan would carry it."""
        request = self.request
        if request.get("Select") == "COUNT":
            return request
        out = {key: value for key, value in request.items()
               if key != "ProjectionExpression" and key != "Select" and key != "Limit"}
        names = request.get("ExpressionAttributeNames")
        if names is not None and len(names) > self.condition_names:
            if self.condition_names:
                out["ExpressionAttributeNames"] = dict(islice(names.items(),
                                                              self.condition_names))
            else:
                del out["ExpressionAttributeNames"]
        out["Select"] = "COUNT"
        return out

    @property
    def method(self) -> str:
        """The low-level client method: ``query`` or ``scan``."""
        return "query" if self.operation == "Query" else "scan"

    def summary(self) -> str:
        if self.never:
            return "no request: no item can match"
        target = f"index {self.index_name}" if self.index_name else f"table {self.table}"
        if self.operation == "Query" and self.assumptions:
            # a Scan runs on any table; a Query's key condition only on the assumed one
            return f"{self.operation} on {target}, assuming {'; '.join(self.assumptions)}"
        return f"{self.operation} on {target}"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "backend": "dynamodb",
            "operation": self.operation,
            "table": self.table,
            "index_name": self.index_name,
            "request": self.request,
        }
        if self.limit is not None:
            out["limit"] = self.limit
        if self.outputs is not None:
            out["rows"] = {".".join(key): list(path) for key, path in self.outputs}
        if self.count_names is not None:
            out["rows"] = {name: "Count summed over pages" for name in self.count_names}
        if self.never:
            out["never"] = True
        if self.pk_field != "_id":
            out["pk_field"] = self.pk_field
        if self.assumptions:
            out["assumes"] = list(self.assumptions)
        out["reason"] = self.reason
        result: dict[str, Any] = json.loads(json.dumps(out, default=json_value))
        return result

    def explain(self) -> str:
        where = f"index `{self.index_name}` of table `{self.table}`" if self.index_name \
            else f"table `{self.table}`"
        lines = [f"dynamodb: {self.operation} on {where} — {self.reason}"]
        lines += [f"  assuming {assumption}" for assumption in self.assumptions]
        for key, value in self.request.items():
            if key == "TableName":
                continue
            lines.append(f"  {key}: {json.dumps(value, ensure_ascii=False, default=json_value)}")
        if self.never:
            lines.append("  the condition is true for no item: no request is sent")
        elif self.count_names is not None:
            lines.append("  one row: Count summed over every page (Select=COUNT)")
        else:
            pages = "until the data ends" if self.limit is None else \
                f"until {self.limit} rows matched or the data ends"
            lines.append(f"  pages with LastEvaluatedKey {pages}")
            if self.limit:
                lines.append(f"  each page's Limit (items evaluated, not rows): {self.limit} "
                             "first, then the rows still needed (n, plus 2√n + 1) divided "
                             "by the share of evaluated items that matched so far (x8 "
                             "while none matched)")
        if self.outputs is not None and any(k != p for k, p in self.outputs):
            renames = ", ".join(f"{'.'.join(k)} ← {'.'.join(p)}" for k, p in self.outputs
                                if k != p)
            lines.append(f"  rows are built from the projected items: {renames}")
        if self.pk_field != "_id":
            lines.append(f"  `_id` is the attribute `{self.pk_field}`")
        return "\n".join(lines)

    def to_python(self) -> str:
        return self.python()

    def python(self, then: Sequence[str] = ()) -> str:
        """``to_python()``; with ``then``, those lines run after the read, inside the
        ``async with`` block of the client (a write plan's per-item calls)."""
        request = pprint.pformat(self.request, indent=1, width=88,
                                 sort_dicts=False)
        head = [
            "import aioboto3",
            "",
            f"request = {request}",
        ]
        if self.never or (then and self.limit == 0):
            what = "no item" if self.never else "no item (limit 0)"
            if then:
                return "\n".join([*head, f"# the condition is true for {what}: "
                                   "nothing to read or write"])
            return "\n".join([*head, "rows = []  # the condition is true for no item"])
        call = f"await client.{self.method}(**request)"
        if self.count_names is not None:
            body = [
                "count = 0",
                'async with aioboto3.Session().client("dynamodb") as client:',
                "    while True:",
                f"        page = {call}",
                '        count += page["Count"]',
                '        if "LastEvaluatedKey" not in page:',
                "            break",
                '        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]',
            ]
            if self.limit == 0:
                body = ["rows = []  # limit 0"]
            else:
                row = ", ".join(f"{name!r}: count" for name in self.count_names)
                body.append(f"rows = [{{{row}}}]")
            return "\n".join([*head, *body])
        if self.limit == 0:
            return "\n".join([*head, "rows = []  # limit 0"])
        enough = "" if self.limit is None else f"len(items) >= {self.limit} or "
        body = [
            "items = []",
            'async with aioboto3.Session().client("dynamodb") as client:',
            "    while True:",
            f"        page = {call}",
            '        items += page["Items"]',
            f'        if {enough}"LastEvaluatedKey" not in page:',
            "            break",
            '        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]',
        ]
        if then:
            if self.limit is not None:
                body.append(f"    items = items[:{self.limit}]")
            inner = [f"    {line}" for text in then for line in text.split("\n")]
            return "\n".join([*head, *body, *inner])
        if self.limit is not None:
            body.append(f"items = items[:{self.limit}]")
        if self.outputs is not None:
            shape = ", ".join(f"{'.'.join(k)} = {'.'.join(p)}" for k, p in self.outputs)
            body.append(f"# each row: {shape}")
        elif self.pk_field != "_id":
            body.append(f"# each row: the item, with `{self.pk_field}` renamed `_id`")
        return "\n".join([*head, *body])

