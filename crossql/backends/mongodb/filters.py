"""CrossQL conditions → MongoDB query filters with exactly the reference semantics.

Three-valued logic is compiled by polarity: for every condition ``c`` we build
``true_filter(c)`` (documents where ``c`` is true) and ``false_filter(c)``
(where it is false); ``not c`` swaps them, ``and``/``or`` follow De Morgan on
the two. Documents where ``c`` is unknown match neither, which is what SQL-like
``not`` needs and what a blanket ``$nor`` would get wrong.

Guards, each against a documented MongoDB behaviour that differs from
LANGUAGE.md (https://www.mongodb.com/docs/manual/tutorial/query-arrays/,
https://www.mongodb.com/docs/manual/tutorial/query-for-null-fields/):

- A field holding an array matches scalar operators element-wise, so scalar
  predicates add ``$not: {$type: "array"}``; a dotted path descends into arrays
  of documents, so each proper prefix of a dotted path is guarded the same way.
- ``{f: null}`` also matches a missing field: ``== null`` uses ``$type: "null"``.
- ``$ne``/``$nin`` match missing and null fields: inequality is built from
  ``$exists`` and explicit exclusions instead.
- ``$all: []`` matches nothing (``contains all []`` is true for every array),
  and ``$all: [x]`` matches the scalar ``x``: both are handled explicitly.
- ``$size`` compares only with equality; other size comparisons use ``$expr``.
"""

from __future__ import annotations

from typing import Any

from crossql import ir
from crossql.backends.base import refuse
from crossql.errors import CapabilityError

Filter = dict[str, Any]

NEVER: Filter = {"$expr": False}
"""A filter no document matches."""

_OPS = {"<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte"}
_NEGATED = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "==": "!=", "!=": "=="}
_EXPR_OPS = {"<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte", "==": "$eq", "!=": "$ne"}
_NOT_ARRAY: Filter = {"$not": {"$type": "array"}}


def and_(*filters: Filter) -> Filter:
    """Conjunction, merging operator documents on the same field when keys do not clash."""
    parts: list[Filter] = []
    for f in filters:
        if not f:
            continue
        if len(f) == 1 and "$and" in f:
            parts.extend(f["$and"])
        else:
            parts.append(f)
    if not parts:
        return {}
    if len(parts) == 1:  # nothing to merge with: the same answer as the loop below
        return dict(parts[0])
    merged: list[Filter] = []
    # indexes keep this linear in the number of parts (a scan of `merged` per part was
    # quadratic: 10,000 values of `contains all` took minutes)
    on_field: dict[str, list[Filter]] = {}
    plain: list[Filter] = []  # the parts that are not operator documents
    seen: set[Any] = set()  # their keys, once there are many of them
    for part in parts:
        ops = _operators(part)
        if ops is None:  # an identical condition is dropped
            if len(plain) < _MERGE_SCAN:
                if any(_same(part, p) for p in plain):
                    continue
            else:
                if not seen:
                    seen.update(_key(p) for p in plain)
                key = _key(part)
                if key in seen:
                    continue
                seen.add(key)
            plain.append(part)
            merged.append(dict(part))
            continue
        field, value = ops
        for prev in on_field.get(field, ())[:_MERGE_SCAN]:
            old = prev[field]
            if all(_same(old[k], v) for k, v in value.items() if k in old):
                prev[field] = {**old, **value}
                break
        else:
            doc = dict(part)
            merged.append(doc)
            on_field.setdefault(field, []).append(doc)
    if NEVER in merged:
        return dict(NEVER)
    if len(merged) == 1:
        return merged[0]
    return {"$and": merged}


_MERGE_SCAN = 4
"""Earlier operator documents on the same field a new one may merge into (merging only
shortens a filter, so bounding the scan keeps ``and_`` linear on long conjunctions); also
how many other conditions are compared one by one before they are hashed."""


def _same(a: Any, b: Any) -> bool:
    """Equality of two plan values as MongoDB sees them: numbers across int and float, but
    ``True`` is not ``1`` (Python's ``==`` says it is, which once merged ``a == 1 and
    a == true`` into ``a == true``)."""
    if type(a) is bool or type(b) is bool:
        return a is b
    if isinstance(a, dict) or isinstance(b, dict):
        return (isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys()
                and all(_same(a[k], b[k]) for k in a))
    if isinstance(a, list) or isinstance(b, list):
        return (isinstance(a, list) and isinstance(b, list) and len(a) == len(b)
                and all(_same(x, y) for x, y in zip(a, b, strict=True)))
    return bool(a == b)


def _key(value: Any) -> Any:
    """A hashable stand-in for a plan value: equal under ``_same`` ⇔ equal keys."""
    if type(value) is bool:
        return ("bool", value)
    if isinstance(value, dict):
        return ("map", tuple(sorted((k, _key(v)) for k, v in value.items())))
    if isinstance(value, list):
        return ("list", tuple(_key(v) for v in value))
    return ("value", value)


def _operators(part: Filter) -> tuple[str, dict[str, Any]] | None:
    """``(field, operators)`` when ``part`` is ``{field: {"$op": ..., ...}}``."""
    if len(part) != 1:
        return None
    for key, value in part.items():
        if key[:1] == "$" or not isinstance(value, dict) or not value:
            return None
        for k in value:
            if k[:1] != "$":
                return None
        return key, value
    return None  # pragma: no cover - len(part) == 1


def or_(*filters: Filter) -> Filter:
    """Disjunction (flattening nested ``$or``; an empty disjunction matches nothing)."""
    parts: list[Filter] = []
    for f in filters:
        if f == NEVER:
            continue
        if len(f) == 1 and "$or" in f:
            parts.extend(f["$or"])
        else:
            parts.append(f)
    if not parts:
        return dict(NEVER)
    if any(not p for p in parts):
        return {}
    if len(parts) == 1:
        return parts[0]
    return {"$or": parts}


def unaddressable(path: ir.Path, segment: str) -> CapabilityError:
    """MongoDB's query language cannot address a field whose name holds a dot or NUL
    or starts with `$` (https://www.mongodb.com/docs/manual/core/dot-dollar-considerations/)."""
    return refuse("mongodb", "field name", path,
                  f"MongoDB queries cannot address the field name `{segment}`",
                  hint="field names with `.` or a leading `$` are not queryable by path")


class FilterBuilder:
    """Builds the true/false filters of conditions; field names are already validated."""

    # -- paths ---------------------------------------------------------------
    @staticmethod
    def field(path: ir.Path) -> str:
        """The MongoDB dotted field name of a path; ``CapabilityError`` for a segment
        MongoDB cannot address (checked here, where every path of a condition passes)."""
        segments = path.segments
        for seg in segments:
            if "." in seg or seg[:1] == "$" or "\x00" in seg:
                raise unaddressable(path, seg)
        return segments[0] if len(segments) == 1 else ".".join(segments)

    @staticmethod
    def _prefixes(path: ir.Path) -> list[str]:
        return [".".join(path.segments[:i]) for i in range(1, len(path.segments))]

    def prefix_guard(self, path: ir.Path) -> Filter:
        """Every proper prefix of a dotted path is not an array (so no traversal)."""
        if len(path.segments) == 1:
            return {}
        # operator documents on distinct fields: and_ would merge nothing
        parts = [{p: dict(_NOT_ARRAY)} for p in self._prefixes(path)]
        return parts[0] if len(parts) == 1 else {"$and": parts}

    def prefix_is_array(self, path: ir.Path) -> list[Filter]:
        """Filters true when some prefix is an array (the reference then sees missing)."""
        if len(path.segments) == 1:
            return []
        return [{p: {"$type": "array"}} for p in self._prefixes(path)]

    def guarded(self, path: ir.Path, core: Filter) -> Filter:
        """``core`` (a fresh, non-empty filter) and the prefix guard of ``path``; a
        one-segment path has no prefix to guard, so that is ``core`` itself."""
        if len(path.segments) == 1:
            return core
        prefixes = self._prefixes(path)
        if len(core) == 1 and not any(key == "$and" or key in prefixes for key in core):
            # the guards and core are on distinct fields: what and_ gives, without it
            return {"$and": [*({p: dict(_NOT_ARRAY)} for p in prefixes), core]}
        return and_(self.prefix_guard(path), core)

    def present_non_null(self, f: str) -> Filter:
        """The field is present and not null (an array holding null counts as non-null)."""
        return or_({f: {"$exists": True, "$not": {"$type": "null"}}}, {f: {"$type": "array"}})

    # -- equality ------------------------------------------------------------
    def eq_true(self, path: ir.Path, value: Any) -> Filter:
        """Where ``path == value`` is true (whole-value equality)."""
        f = self.field(path)
        if value is None:
            core: Filter = {f: {"$type": "null", **_NOT_ARRAY}}
        elif isinstance(value, list):
            # {f: [..]} also matches an array holding [..] as an element
            core = and_({f: {"$eq": value}}, {f: {"$not": {"$elemMatch": {"$eq": value}}}})
        else:
            core = {f: {"$eq": value, **_NOT_ARRAY}}
        return self.guarded(path, core)

    def eq_false(self, path: ir.Path, value: Any) -> Filter:
        """Where ``path == value`` is false."""
        f = self.field(path)
        if value is None:
            return or_({f: {"$not": {"$type": "null"}}}, {f: {"$type": "array"}},
                       *self.prefix_is_array(path))
        if isinstance(value, list):
            return and_(self.prefix_guard(path), self.present_non_null(f),
                        {"$nor": [self.eq_true(path, value)]})
        return and_(self.prefix_guard(path),
                    or_({f: {"$type": "array"}}, {f: {"$exists": True, "$nin": [value, None]}}))

    def not_null(self, path: ir.Path, truth: bool) -> Filter:
        """Where ``path != null`` is true (present, non-null) or false (missing or null)."""
        f = self.field(path)
        if truth:
            return and_(self.prefix_guard(path), self.present_non_null(f))
        return or_({f: {"$exists": False}}, {f: {"$type": "null", **_NOT_ARRAY}},
                   *self.prefix_is_array(path))

    def in_true(self, path: ir.Path, values: list[Any]) -> Filter:
        """Where ``path in values`` is true: any value equal."""
        scalars = [v for v in values if v is not None and not isinstance(v, list)]
        others = [v for v in values if v is None or isinstance(v, list)]
        parts = [self.eq_true(path, v) for v in others]
        if scalars:
            f = self.field(path)
            parts.insert(0, and_(self.prefix_guard(path), {f: {"$in": scalars, **_NOT_ARRAY}}))
        return or_(*parts)

    def in_false(self, path: ir.Path, values: list[Any]) -> Filter:
        """Where ``path in values`` is false: present, non-null, no value equal."""
        f = self.field(path)
        if not values:
            return and_(self.prefix_guard(path), self.present_non_null(f))
        scalars = [v for v in values if v is not None and not isinstance(v, list)]
        others = [v for v in values if v is None or isinstance(v, list)]
        # eq_false(null) admits a missing field, where `in` is unknown: require presence
        parts = [self.eq_false(path, v) for v in others]
        if scalars:
            parts.insert(0, or_({f: {"$type": "array"}},
                                {f: {"$exists": True, "$nin": [*scalars, None]}}))
        return and_(self.prefix_guard(path), {f: {"$exists": True}}, *parts)

    # -- ordering ------------------------------------------------------------
    def order(self, path: ir.Path, op: str, value: Any) -> Filter:
        """``path op value`` for op in < <= > >=; MongoDB brackets types as we need."""
        return self.guarded(path, {self.field(path): {_OPS[op]: value, **_NOT_ARRAY}})

    # -- arrays ----------------------------------------------------------------
    def _array(self, path: ir.Path, extra: Filter) -> Filter:
        f = self.field(path)
        if len(path.segments) == 1 and len(extra) == 1:
            # what and_ makes of it when `extra` is operators on f: one merged document
            ops = extra.get(f)
            if isinstance(ops, dict) and ops and "$type" not in ops and \
                    all(k[:1] == "$" for k in ops):
                return {f: {"$type": "array", **ops}}
        return and_(self.prefix_guard(path), {f: {"$type": "array"}}, extra)

    def contains(self, path: ir.Path, value: Any, truth: bool) -> Filter:
        """``path contains value`` (an element equal to value) true or false."""
        f = self.field(path)
        match = {"$elemMatch": {"$eq": value}}
        return self._array(path, {f: match} if truth else {f: {"$not": match}})

    def contains_any(self, path: ir.Path, values: list[Any], truth: bool) -> Filter:
        """``path contains any values`` true or false."""
        f = self.field(path)
        match = {"$elemMatch": {"$in": values}}
        return self._array(path, {f: match} if truth else {f: {"$not": match}})

    def contains_all(self, path: ir.Path, values: list[Any], truth: bool) -> Filter:
        """``path contains all values`` true or false (``all []`` is true for arrays)."""
        f = self.field(path)
        if truth:
            return self._array(path, and_(*({f: {"$elemMatch": {"$eq": v}}} for v in values)))
        if not values:
            return dict(NEVER)
        return self._array(path, or_(*({f: {"$not": {"$elemMatch": {"$eq": v}}}}
                                      for v in values)))

    def size(self, path: ir.Path, op: str, n: int, truth: bool) -> Filter:
        """``size(path) op n`` true or false."""
        if not truth:
            op = _NEGATED[op]
        f = self.field(path)
        if op == "==":
            return self._array(path, {f: {"$size": n}} if n >= 0 else dict(NEVER))
        if op == "!=":
            return self._array(path, {} if n < 0 else {f: {"$not": {"$size": n}}})
        # $size only tests equality; the others compare the length in an expression
        # guarded by $isArray so $size never sees a non-array
        length = {"$cond": [{"$isArray": f"${f}"}, {"$size": f"${f}"}, 0]}
        return self._array(path, {"$expr": {_EXPR_OPS[op]: [length, n]}})

    # -- strings -----------------------------------------------------------------
    def regex(self, path: ir.Path, pattern: str, truth: bool) -> Filter:
        """A ``$regex`` test on a string field, true or false (non-strings: neither)."""
        f = self.field(path)
        if truth:
            return self.guarded(path, {f: {"$regex": pattern, **_NOT_ARRAY}})
        return and_(self.prefix_guard(path), {f: {"$type": "string", "$not": {"$regex": pattern}}},
                    {f: dict(_NOT_ARRAY)})

    # -- conditions ----------------------------------------------------------------
    def build(self, cond: ir.Condition, truth: bool = True) -> Filter:
        """The filter of documents where ``cond`` evaluates to ``truth``."""
        # dispatch on the exact node type, most frequent first (a `match` on class
        # patterns tries each case in turn and costs several times more)
        kind = type(cond)
        node: Any = cond  # narrowed by `kind` below
        if kind is ir.Compare:
            op, path, v = node.op, node.path, _value(node.value)
            if op == "==":
                return self.eq_true(path, v) if truth else self.eq_false(path, v)
            if op == "!=":
                if v is None:  # `!= null` is two-valued: present non-null, else false
                    return self.not_null(path, truth)
                return self.eq_false(path, v) if truth else self.eq_true(path, v)
            return self.order(path, op if truth else _NEGATED[op], v)
        if kind is ir.And or kind is ir.Or:
            parts = [self.build(c, truth) for c in node.operands]
            return and_(*parts) if (kind is ir.And) == truth else or_(*parts)
        if kind is ir.Not:
            return self.build(node.operand, not truth)
        if kind is ir.Exists:
            path = node.path
            f = self.field(path)
            if truth:
                return self.guarded(path, {f: {"$exists": True}})
            return or_({f: {"$exists": False}}, *self.prefix_is_array(path))
        if kind is ir.Between:
            path = node.path
            lo, hi = _value(node.low), _value(node.high)
            if truth:
                return self.guarded(path, {self.field(path): {
                    "$gte": lo, "$lte": hi, **_NOT_ARRAY}})
            return or_(self.order(path, "<", lo), self.order(path, ">", hi))
        if kind is ir.In:
            vs = _value(node.values)
            return self.in_true(node.path, vs) if truth != node.negated else \
                self.in_false(node.path, vs)
        if kind is ir.Contains:
            return self.contains(node.path, _value(node.value), truth)
        if kind is ir.ContainsAny:
            return self.contains_any(node.path, _value(node.values), truth)
        if kind is ir.ContainsAll:
            return self.contains_all(node.path, _value(node.values), truth)
        if kind is ir.Size:
            return self.size(node.path, node.op, _value(node.value), truth)
        if kind is ir.StartsWith:
            return self.regex(node.path, "^" + escape_regex(_value(node.value)), truth)
        if kind is ir.Matches:
            return self.regex(node.path, _value(node.value), truth)
        raise TypeError(f"unhandled condition node {kind.__name__}")  # pragma: no cover


def _value(value: ir.Value) -> Any:
    if type(value) is ir.Literal:
        return value.value
    if isinstance(value, ir.Param):  # pragma: no cover - plans are compiled from bound IR
        raise ValueError(f"parameter :{value.name} is not bound")
    return ir.python_value(value)


def escape_regex(text: str) -> str:
    """Escape text for a PCRE pattern: every ASCII non-alphanumeric character is
    escaped (PCRE reads ``\\`` + punctuation as the literal), NUL as ``\\x00``."""
    out = []
    for ch in text:
        if ch == "\x00":
            out.append("\\x00")
        elif ch.isascii() and not (ch.isalnum() or ch == "_"):
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)
