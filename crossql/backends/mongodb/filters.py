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
        if list(f) == ["$and"]:
            parts.extend(f["$and"])
        else:
            parts.append(f)
    merged: list[Filter] = []
    for part in parts:
        if _merge_into(merged, part):
            continue
        merged.append(dict(part))
    if not merged:
        return {}
    if NEVER in merged:
        return dict(NEVER)
    if len(merged) == 1:
        return merged[0]
    return {"$and": merged}


def _operators(part: Filter) -> tuple[str, dict[str, Any]] | None:
    """``(field, operators)`` when ``part`` is ``{field: {"$op": ..., ...}}``."""
    if len(part) != 1:
        return None
    ((key, value),) = part.items()
    if key.startswith("$") or not isinstance(value, dict) or not value:
        return None
    if not all(k.startswith("$") for k in value):
        return None
    return key, value


def _merge_into(merged: list[Filter], part: Filter) -> bool:
    """Fold ``part`` into an earlier operator document on the same field when no
    operator clashes (identical operators are simply dropped)."""
    ops = _operators(part)
    if ops is None:
        return part in merged
    key, value = ops
    for prev in merged:
        prev_ops = _operators(prev)
        if prev_ops is None or prev_ops[0] != key:
            continue
        clash = {k for k in set(prev_ops[1]) & set(value) if prev_ops[1][k] != value[k]}
        if not clash:
            prev[key] = {**prev_ops[1], **value}
            return True
    return False


def or_(*filters: Filter) -> Filter:
    """Disjunction (flattening nested ``$or``; an empty disjunction matches nothing)."""
    parts: list[Filter] = []
    for f in filters:
        if f == NEVER:
            continue
        if list(f) == ["$or"]:
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


class FilterBuilder:
    """Builds the true/false filters of conditions; field names are already validated."""

    # -- paths ---------------------------------------------------------------
    @staticmethod
    def field(path: ir.Path) -> str:
        """The MongoDB dotted field name of a path."""
        return ".".join(path.segments)

    @staticmethod
    def _prefixes(path: ir.Path) -> list[str]:
        return [".".join(path.segments[:i]) for i in range(1, len(path.segments))]

    def prefix_guard(self, path: ir.Path) -> Filter:
        """Every proper prefix of a dotted path is not an array (so no traversal)."""
        return and_(*({p: dict(_NOT_ARRAY)} for p in self._prefixes(path)))

    def prefix_is_array(self, path: ir.Path) -> list[Filter]:
        """Filters true when some prefix is an array (the reference then sees missing)."""
        return [{p: {"$type": "array"}} for p in self._prefixes(path)]

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
        return and_(self.prefix_guard(path), core)

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
        return and_(self.prefix_guard(path),
                    {self.field(path): {_OPS[op]: value, **_NOT_ARRAY}})

    # -- arrays ----------------------------------------------------------------
    def _array(self, path: ir.Path, extra: Filter) -> Filter:
        f = self.field(path)
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
            return and_(self.prefix_guard(path), {f: {"$regex": pattern, **_NOT_ARRAY}})
        return and_(self.prefix_guard(path), {f: {"$type": "string", "$not": {"$regex": pattern}}},
                    {f: dict(_NOT_ARRAY)})

    # -- conditions ----------------------------------------------------------------
    def build(self, cond: ir.Condition, truth: bool = True) -> Filter:
        """The filter of documents where ``cond`` evaluates to ``truth``."""
        match cond:
            case ir.And(operands=ops):
                parts = [self.build(c, truth) for c in ops]
                return and_(*parts) if truth else or_(*parts)
            case ir.Or(operands=ops):
                parts = [self.build(c, truth) for c in ops]
                return or_(*parts) if truth else and_(*parts)
            case ir.Not(operand=op):
                return self.build(op, not truth)
            case ir.Exists(path=path):
                f = self.field(path)
                if truth:
                    return and_(self.prefix_guard(path), {f: {"$exists": True}})
                return or_({f: {"$exists": False}}, *self.prefix_is_array(path))
            case ir.Compare(op="==", path=path, value=value):
                v = _value(value)
                return self.eq_true(path, v) if truth else self.eq_false(path, v)
            case ir.Compare(op="!=", path=path, value=value):
                v = _value(value)
                if v is None:  # `!= null` is two-valued: present non-null, else false
                    return self.not_null(path, truth)
                return self.eq_false(path, v) if truth else self.eq_true(path, v)
            case ir.Compare(op=op, path=path, value=value):
                return self.order(path, op if truth else _NEGATED[op], _value(value))
            case ir.Between(path=path, low=low, high=high):
                lo, hi = _value(low), _value(high)
                if truth:
                    return and_(self.prefix_guard(path), {self.field(path): {
                        "$gte": lo, "$lte": hi, **_NOT_ARRAY}})
                return or_(self.order(path, "<", lo), self.order(path, ">", hi))
            case ir.In(path=path, values=values, negated=negated):
                vs = _value(values)
                return self.in_true(path, vs) if truth != negated else self.in_false(path, vs)
            case ir.Contains(path=path, value=value):
                return self.contains(path, _value(value), truth)
            case ir.ContainsAny(path=path, values=values):
                return self.contains_any(path, _value(values), truth)
            case ir.ContainsAll(path=path, values=values):
                return self.contains_all(path, _value(values), truth)
            case ir.Size(op=op, path=path, value=value):
                return self.size(path, op, _value(value), truth)
            case ir.StartsWith(path=path, value=value):
                return self.regex(path, "^" + escape_regex(_value(value)), truth)
            case ir.Matches(path=path, value=value):
                return self.regex(path, _value(value), truth)
        raise TypeError(f"unhandled condition node {type(cond).__name__}")  # pragma: no cover


def _value(value: ir.Value) -> Any:
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
