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


NEVER_ARRAY = 1
ALWAYS_THERE = 2
"""Facts of a declared field (``CollectionSchema.guard_facts``): never an array; always
present and never null."""


class _Simplifier:
    def __init__(self, facts: dict[str, int]) -> None:
        self.facts = facts
        self.dropped = 0

    def filter(self, node: Filter) -> Any:
        """The simplified filter (``node`` itself when nothing changed), ``{}`` when
        always true, ``_FALSE`` when never."""
        out: Filter | None = None
        for key, value in node.items():
            part = self.part(key, value)
            if part is _FALSE:
                return _FALSE
            if out is None:
                if len(part) == 1 and part.get(key, _FALSE) is value:
                    continue  # unchanged so far
                out = {}
                for k, v in node.items():  # the keys before this one, as they were
                    if k == key:
                        break
                    out[k] = v
            for k, v in part.items():
                if k in out:  # two parts on one key: keep them apart
                    return {"$and": [{kk: vv} for kk, vv in out.items()] + [part]}
                out[k] = v
        return node if out is None else out

    def part(self, key: str, value: Any) -> Any:
        if key[:1] != "$":
            facts = self.facts.get(key)
            if facts is None or type(value) is not dict:
                return {key: value}
            ops = self.operators(value, facts)
            return ops if ops is _FALSE or not ops else {key: ops}
        if key == "$and":
            return self.conjunction(value)
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
        return {key: value}

    def conjunction(self, parts: list[Filter]) -> Any:
        kept = []
        for sub in parts:
            simple = self.filter(sub)
            if simple is _FALSE:
                return _FALSE
            if simple:
                kept.append(simple)
        if not kept:
            return {}
        merged: Filter = {}
        for sub in kept:  # parts on distinct fields read as one document
            if any(k[:1] == "$" or k in merged for k in sub):
                return kept[0] if len(kept) == 1 else {"$and": kept}
            merged.update(sub)
        return merged

    def operators(self, ops: dict[str, Any], facts: int) -> Any:
        if not all(k[:1] == "$" for k in ops):
            return ops  # a document to equal, not operators
        out = ops
        if facts & NEVER_ARRAY:
            if ops.get("$type") == "array":
                self.dropped += 1
                return _FALSE
            if ops.get("$not") == _ARRAY:
                out = dict(ops)
                del out["$not"]
                self.dropped += 1
        if facts & ALWAYS_THERE:
            if out.get("$exists") is True:
                out = dict(out) if out is ops else out
                del out["$exists"]
                self.dropped += 1
            if out.get("$not") == _NULL:
                out = dict(out) if out is ops else out
                del out["$not"]
                self.dropped += 1
            nin = out.get("$nin")
            if isinstance(nin, list) and None in nin:
                out = dict(out) if out is ops else out
                rest = [v for v in nin if v is not None]
                del out["$nin"]
                self.dropped += 1
                if len(rest) == 1 and "$ne" not in out:
                    out["$ne"] = rest[0]
                elif rest:
                    out["$nin"] = rest
        return out


def without_guards(match: Filter, entry: Any) -> tuple[Filter, int]:
    """``match`` with the guards ``entry`` (a ``CollectionSchema``) proves unnecessary
    taken out, and how many were."""
    walk = _Simplifier(entry.guard_facts)
    simple = walk.filter(match)
    if simple is _FALSE:
        return dict(NEVER), walk.dropped
    return simple, walk.dropped
