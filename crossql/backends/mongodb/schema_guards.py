"""Guards a declared schema proves unnecessary in a MongoDB filter (docs/schemas.md).

Without a schema a filter guards each field against arrays (``$not: {$type: "array"}``:
MongoDB would otherwise match an array's elements), and a negated comparison against
missing and null fields. A field declared of a kind that is not a list, a set or
``any`` is never an array; one declared required and not nullable is always present
and never null. On documents that follow the declaration, these parts decide nothing,
so they are taken out here, after the filter is built, each where it stands:

- ``$not: {$type: "array"}`` on a field never an array: true, dropped;
- ``{f: {$type: "array"}}`` on such a field: false (an ``$or`` loses the branch);
- ``$exists: true``, ``$not: {$type: "null"}`` and a ``null`` in ``$nin`` on a field
  always present and never null: true, dropped (``$nin: [v]`` becomes ``$ne: v``).

The result is equal to the guarded filter on every document that follows the schema
(the contract of docs/schemas.md): a point lookup or a range on a declared field is
the plain filter a person would write, which the server plans on its indexes.
"""

from __future__ import annotations

from typing import Any

from crossql.backends.mongodb.filters import NEVER

Filter = dict[str, Any]

_ARRAY = {"$type": "array"}
_NULL = {"$type": "null"}
_FALSE: Any = object()
"""A filter no conforming document matches (``NEVER`` once the walk is done)."""


class _Simplifier:
    def __init__(self, entry: Any) -> None:
        self.entry = entry
        self.dropped = 0

    def never_array(self, field: str) -> bool:
        spec = self.entry.field(field)
        return spec is not None and spec.kind not in ("any", "list", "set")

    def always_there(self, field: str) -> bool:
        spec = self.entry.field(field)
        return spec is not None and spec.required and not spec.nullable and \
            spec.kind not in ("any", "null")

    def filter(self, node: Filter) -> Any:
        """The simplified filter, ``{}`` when always true, ``_FALSE`` when never."""
        parts: list[Filter] = []
        for key, value in node.items():
            part = self.part(key, value)
            if part is _FALSE:
                return _FALSE
            if part:
                parts.append(part)
        out: Filter = {}
        for part in parts:
            if any(k in out for k in part):  # two parts on one key: keep them apart
                return {"$and": parts}
            out.update(part)
        return out

    def part(self, key: str, value: Any) -> Any:
        if key == "$and":
            kept = []
            for sub in value:
                simple = self.filter(sub)
                if simple is _FALSE:
                    return _FALSE
                if simple:
                    kept.append(simple)
            if not kept:
                return {}
            merged: Filter = {}
            for sub in kept:  # parts on distinct fields read as one document
                if any(k.startswith("$") or k in merged for k in sub):
                    return kept[0] if len(kept) == 1 else {"$and": kept}
                merged.update(sub)
            return merged
        if key in ("$or", "$nor"):
            kept = []
            for sub in value:
                simple = self.filter(sub)
                if simple == {}:  # one branch always true
                    return {} if key == "$or" else _FALSE
                if simple is not _FALSE:
                    kept.append(simple)
            if not kept:
                return _FALSE if key == "$or" else {}
            if key == "$or" and len(kept) == 1:
                return kept[0]
            return {key: kept}
        if key.startswith("$") or not isinstance(value, dict) or \
                not all(k.startswith("$") for k in value):
            return {key: value}
        ops = self.operators(key, value)
        return ops if ops is _FALSE or not ops else {key: ops}

    def operators(self, field: str, ops: dict[str, Any]) -> Any:
        out = dict(ops)
        if self.never_array(field):
            if out.get("$type") == "array":
                self.dropped += 1
                return _FALSE
            if out.get("$not") == _ARRAY:
                del out["$not"]
                self.dropped += 1
        if self.always_there(field):
            if out.get("$exists") is True:
                del out["$exists"]
                self.dropped += 1
            if out.get("$not") == _NULL:
                del out["$not"]
                self.dropped += 1
            nin = out.get("$nin")
            if isinstance(nin, list) and None in nin:
                rest = [v for v in nin if v is not None]
                del out["$nin"]
                self.dropped += 1
                if len(rest) == 1 and "$ne" not in out:
                    out["$ne"] = rest[0]
                elif rest:
                    out["$nin"] = rest
        if not out and ops:
            return {}
        return out


def without_guards(match: Filter, entry: Any) -> tuple[Filter, int]:
    """``match`` with the guards ``entry`` (a ``CollectionSchema``) proves unnecessary
    taken out, and how many were."""
    walk = _Simplifier(entry)
    simple = walk.filter(match)
    if simple is _FALSE:
        return dict(NEVER), walk.dropped
    return simple, walk.dropped
