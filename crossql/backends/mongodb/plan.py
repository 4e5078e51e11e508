"""The MongoDB plan: the exact arguments of one pymongo call, as data."""

from __future__ import annotations

import json
import pprint
from dataclasses import dataclass
from typing import Any, Literal

from crossql._frozen import fast_init
from crossql.backends.base import Plan
from crossql.backends.mongodb.values import as_written, extended_json


@fast_init
@dataclass(frozen=True, slots=True)
class MongoPlan(Plan):
    """A ``find`` (filter, projection, sort, skip, limit) or an ``aggregate`` (pipeline).

    Plans are shared read-only between executions (plan cache); the runtime
    never mutates the dicts it hands to the driver.
    """

    kind: Literal["find", "aggregate"]
    collection: str
    filter: dict[str, Any] | None = None
    projection: dict[str, Any] | None = None
    sort: tuple[tuple[str, int], ...] = ()
    skip: int | None = None
    limit: int | None = None
    pipeline: tuple[dict[str, Any], ...] = ()
    empty_row: dict[str, Any] | None = None
    """For aggregates without ``group by``: the row to return when no document
    matched (``$group`` emits none; the reference returns one)."""
    reason: str = ""
    backend = "mongodb"

    def arguments(self) -> dict[str, Any]:
        """The keyword arguments of ``collection.find(...)`` / ``.aggregate(...)``."""
        if self.kind == "aggregate":
            return {"pipeline": list(self.pipeline)}
        args: dict[str, Any] = {"filter": self.filter or {}}
        if self.projection is not None:
            args["projection"] = self.projection
        if self.sort:
            args["sort"] = [list(s) for s in self.sort]
        if self.skip:
            args["skip"] = self.skip
        if self.limit is not None:
            args["limit"] = self.limit
        return args

    def summary(self) -> str:
        if self.kind == "find":
            return "find"
        stages = " → ".join(next(iter(stage)) for stage in self.pipeline)
        return f"aggregate: {stages}"

    def count_pipeline(self) -> list[dict[str, Any]]:
        """An aggregate pipeline that counts this plan's rows."""
        return [*self.pipeline, {"$count": "n"}]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "backend": "mongodb",
            "operation": self.kind,
            "collection": self.collection,
            "arguments": self.arguments(),
        }
        if self.empty_row is not None:
            out["empty_row"] = self.empty_row
        # a JSON round trip gives a deep copy callers may mutate freely
        result: dict[str, Any] = json.loads(json.dumps(out, default=extended_json))
        return result

    def explain(self) -> str:
        lines = [f"mongodb: {self.kind} on collection `{self.collection}` — {self.reason}"]
        for key, value in self.arguments().items():
            lines.append(f"  {key}: "
                         f"{json.dumps(value, ensure_ascii=False, default=extended_json)}")
        if self.empty_row is not None:
            lines.append(f"  when nothing matches, one row: {json.dumps(self.empty_row)}")
        return "\n".join(lines)

    def to_python(self) -> str:
        def fmt(value: Any) -> str:
            return pprint.pformat(as_written(value), indent=1, width=88, sort_dicts=False)

        coll = f"db[{self.collection!r}]"
        if self.kind == "aggregate":
            return f"rows = await (await {coll}.aggregate({fmt(list(self.pipeline))})).to_list()"
        call = f"{coll}.find({fmt(self.filter or {})}"
        if self.projection is not None:
            call += f", {fmt(self.projection)}"
        call += ")"
        if self.sort:
            call += f".sort({fmt([tuple(s) for s in self.sort])})"
        if self.skip:
            call += f".skip({self.skip})"
        if self.limit is not None:
            call += f".limit({self.limit})"
        return f"rows = await {call}.to_list()"
