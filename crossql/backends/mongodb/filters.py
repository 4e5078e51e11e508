"""CrossQL conditions → MongoDB query filters with exactly the reference semantics.

Three-valued logic is compiled by polarity: for every condition ``c`` we build
``true_filter(c)`` (documents where ``c`` is true) and ``false_filter(c)``
(where it is false); ``not c`` swaps them, ``and``/``or`` follow De Morgan on
the two (``FilterBuilder``: a ``crossql.visitor`` with one handler per node).
Documents where ``c`` is unknown match neither, which is what SQL-like ``not``
needs and what a blanket ``$nor`` would get wrong.

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

One field needs none of the array and presence guards: ``_id`` is never an array and
never missing (https://www.mongodb.com/docs/manual/core/document/#the-_id-field: it
may hold any type but an array, and the server adds one to every inserted document),
so predicates on it are the plain operators and ``_id == v`` is ``{_id: v}``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeAlias

from crossql import ir
from crossql._memo import Memo
from crossql.backends.base import refuse
from crossql.backends.mongodb.values import PLAIN, check_value, ordering, type_test
from crossql.compiler.templates import Hole
from crossql.errors import CapabilityError
from crossql.visitor import ConditionVisitor

Filter = dict[str, Any]

NEVER: Filter = {"$expr": False}
"""A filter no document matches."""

_OPS = {"<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte"}
_NEGATED = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "==": "!=", "!=": "=="}
_OPS_NEGATED = {op: _OPS[_NEGATED[op]] for op in _OPS}
_EXPR_OPS = {"<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte", "==": "$eq", "!=": "$ne"}
_ARRAY: Filter = {"$type": "array"}
_NOT_ARRAY: Filter = {"$not": _ARRAY}
"""Constant sub-documents are shared, not copied, by every filter that holds them: a
filter is never mutated once built (``and_`` merges into new documents, copy on write,
and pymongo only reads the filters it is given)."""
_NOT_NULL: Filter = {"$not": {"$type": "null"}}
ID = "_id"
"""The field that is never an array and never missing (see the module's docstring)."""


def _id_operators(ops: dict[str, Any]) -> dict[str, Any]:
    """The operators ``ops`` on ``_id`` without the array guard it never needs."""
    if ops.get("$not") is _NOT_ARRAY["$not"]:
        return {k: v for k, v in ops.items() if k != "$not"}
    return ops


def and_(*filters: Filter) -> Filter:
    """Conjunction, merging operator documents on the same field when keys do not clash."""
    return conjoin(filters)


def conjoin(filters: Iterable[Filter]) -> Filter:
    """``and_`` of the filters of an iterable. No input is mutated, and the result may
    hold the inputs' documents (filters are immutable by convention)."""
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
    conj = _Conjunction()
    add = conj.add
    for part in parts:
        add(part)
    return conj.result()


class _Conjunction:
    """The parts of a conjunction being merged: operator documents on the same field
    merge when their keys do not clash, an identical other condition is dropped.

    Merging is copy on write: a merge puts a new document in place of the old one, so
    no input is ever mutated and constant sub-documents can be shared."""

    __slots__ = ("merged", "never", "on_field", "plain", "seen")

    def __init__(self) -> None:
        self.merged: list[Filter] = []
        # indexes keep this linear in the number of parts (a scan of `merged` per part
        # was quadratic: 10,000 values of `contains all` took minutes)
        # field -> where its documents sit: one index, or a list once there are more
        self.on_field: dict[str, int | list[int]] = {}
        self.plain: list[Filter] = []  # the parts that are not operator documents
        self.seen: set[Any] = set()  # their keys, once there are many of them
        self.never = False

    def add(self, part: Filter) -> None:
        """Add one part (not itself an ``$and``)."""
        if len(part) == 1:  # an operator document `{field: {"$op": ..., ...}}`?
            ((field, value),) = part.items()
            if field[:1] != "$" and isinstance(value, dict) and value:
                for k in value:
                    if k[:1] != "$":
                        break
                else:
                    self.add_operators(field, value, part)
                    return
        plain = self.plain
        if len(plain) < _MERGE_SCAN:
            for p in plain:
                if _same(part, p):
                    return
        else:
            seen = self.seen
            if not seen:
                seen.update(_key(p) for p in plain)
            key = _key(part)
            if key in seen:
                return
            seen.add(key)
        plain.append(part)
        self.merged.append(part)
        if part == NEVER:
            self.never = True

    def add_operators(self, field: str, ops: dict[str, Any], part: Filter | None = None
                      ) -> None:
        """Add the operator document ``part``, ``{field: ops}`` (built when needed)."""
        merged = self.merged
        at = self.on_field.get(field)
        if at is None:
            self.on_field[field] = len(merged)
        else:
            for i in ((at,) if type(at) is int else at[:_MERGE_SCAN]):  # type: ignore[index]
                old = merged[i][field]
                if _agree(old, ops):
                    merged[i] = {field: {**old, **ops}}
                    return
            if type(at) is int:
                self.on_field[field] = [at, len(merged)]
            else:
                at.append(len(merged))  # type: ignore[union-attr]
        merged.append({field: ops} if part is None else part)

    def add_simple(self, simple: Simple) -> None:
        """Add a ``Simple``: the prefix guards of its path, then its operator document."""
        segments, f, ops = simple
        merged, on_field = self.merged, self.on_field
        # a field met for the first time is appended here, ``add_operators`` is called
        # only when there is something to merge with: this runs for most predicates of a
        # query, and calling it every time cost 3 to 5% of Q30's compile
        if len(segments) > 1:
            for prefix in _prefixes(segments):
                if prefix in on_field:
                    self.add_operators(prefix, _NOT_ARRAY)
                else:
                    on_field[prefix] = len(merged)
                    merged.append({prefix: _NOT_ARRAY})
        if f in on_field:
            self.add_operators(f, ops)
        else:
            on_field[f] = len(merged)
            merged.append({f: ops})

    def result(self) -> Filter:
        """The conjunction of every part added."""
        merged = self.merged
        if self.never:
            return dict(NEVER)
        if len(merged) == 1:
            return merged[0]
        if not merged:
            return {}
        return {"$and": merged}


_MERGE_SCAN = 4
"""Earlier operator documents on the same field a new one may merge into (merging only
shortens a filter, so bounding the scan keeps ``and_`` linear on long conjunctions); also
how many other conditions are compared one by one before they are hashed."""


def _agree(old: dict[str, Any], ops: dict[str, Any]) -> bool:
    """True when the operators both documents hold have the same operands."""
    for k, v in ops.items():
        if k in old:
            mine = old[k]
            if mine is not v and not _same(mine, v):
                return False
    return True


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


def or_(*filters: Filter) -> Filter:
    """Disjunction (flattening nested ``$or``; an empty disjunction matches nothing)."""
    return disjoin(filters)


def disjoin(filters: Iterable[Filter]) -> Filter:
    """``or_`` of the filters of an iterable."""
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
    for p in parts:
        if not p:
            return {}
    if len(parts) == 1:
        return parts[0]
    return {"$or": parts}


def unaddressable(path: ir.Path, segment: str) -> CapabilityError:
    """MongoDB's query language cannot address a field whose name holds a dot or NUL
    or starts with `$` (https://www.mongodb.com/docs/manual/core/dot-dollar-considerations/)."""
    return refuse("mongodb", "field name", path,
                  f"MongoDB queries cannot address the field name `{segment}`",
                  hint="field names with `.` or a leading `$` are not queryable by path",
                  rule="field-name")


def check_collection(name: str, node: Any) -> None:
    """Refuse a collection name MongoDB does not allow (`$` or NUL inside, or the
    reserved ``system.`` prefix: https://www.mongodb.com/docs/manual/reference/limits/#naming-restrictions)."""
    if "$" in name or "\x00" in name or name.startswith("system."):
        raise refuse("mongodb", "collection name", node,
                     f"`{name}` is not a valid MongoDB collection name",
                     hint="collection names cannot hold `$` or NUL or start with `system.`",
                     rule="collection-name")


def field_name(path: ir.Path) -> str:
    """The MongoDB dotted field name of a path; ``CapabilityError`` for a segment
    MongoDB cannot address."""
    segments = path.segments
    if len(segments) == 1:
        name = segments[0]
        if "." in name or name[:1] == "$" or "\x00" in name:
            raise unaddressable(path, name)
        return name
    name = _DOTTED.get(segments)  # type: ignore[assignment]
    if name is None:
        name = ".".join(segments)
        # one test of the whole name; the segments one by one only to say which is wrong
        if "$" in name or "\x00" in name or name.count(".") != len(segments) - 1:
            for seg in segments:
                if "." in seg or seg[:1] == "$" or "\x00" in seg:
                    raise unaddressable(path, seg)
        _DOTTED.put(segments, name)
    return name


def _prefixes(segments: tuple[str, ...]) -> tuple[str, ...]:
    """The dotted proper prefixes of a path of two or more segments."""
    out = _PREFIXES.get(segments)
    if out is None:
        prefix = segments[0]
        found = [prefix]
        for seg in segments[1:-1]:
            prefix = f"{prefix}.{seg}"
            found.append(prefix)
        out = _PREFIXES.put(segments, tuple(found))
    return out


_MEMO_SIZE = 4096
"""Dotted paths whose name and prefixes are remembered (applications query the same
fields over and over)."""
_DOTTED: Memo[tuple[str, ...], str] = Memo(_MEMO_SIZE, "mongodb dotted names")
_PREFIXES: Memo[tuple[str, ...], tuple[str, ...]] = Memo(_MEMO_SIZE, "mongodb path prefixes")


def _guarded(segments: tuple[str, ...], core: Filter) -> Filter:
    """``core``, one document on the (checked) dotted field of ``segments``, with the
    prefix guards: what ``and_`` makes of them, since all are on distinct fields."""
    if len(segments) == 1:
        return core
    if len(segments) == 2:
        return {"$and": [{segments[0]: _NOT_ARRAY}, core]}
    return {"$and": [*[{p: _NOT_ARRAY} for p in _prefixes(segments)], core]}


class FilterBuilder(ConditionVisitor["Part"]):
    """Builds the true/false filters of conditions (``build``); the paths' field names are
    checked as they are met."""

    NAME = "mongodb"

    # -- paths ---------------------------------------------------------------
    field = staticmethod(field_name)
    """The MongoDB dotted field name of a path; ``CapabilityError`` for a segment
    MongoDB cannot address (checked here, where every path of a condition passes)."""

    def prefix_guard(self, path: ir.Path) -> Filter:
        """Every proper prefix of a dotted path is not an array (so no traversal)."""
        if len(path.segments) == 1:
            return {}
        # operator documents on distinct fields: and_ would merge nothing
        parts = [{p: _NOT_ARRAY} for p in _prefixes(path.segments)]
        return parts[0] if len(parts) == 1 else {"$and": parts}

    def prefix_is_array(self, path: ir.Path) -> list[Filter]:
        """Filters true when some prefix is an array (the reference then sees missing)."""
        if len(path.segments) == 1:
            return []
        return [{p: {"$type": "array"}} for p in _prefixes(path.segments)]

    def present_non_null(self, f: str) -> Filter:
        """The field is present and not null (an array holding null counts as non-null)."""
        return {"$or": [{f: {"$exists": True, "$not": {"$type": "null"}}}, {f: {"$type": "array"}}]}

    # -- equality ------------------------------------------------------------
    def eq_true(self, path: ir.Path, value: Any) -> Filter:
        """Where ``path == value`` is true (whole-value equality)."""
        f = field_name(path)
        if f == ID and not isinstance(value, list):
            return {f: {"$type": "null"}} if value is None else {f: value}
        if value is None:
            core: Filter = {f: {"$type": "null", "$not": _ARRAY}}
        elif isinstance(value, list):
            # {f: [..]} also matches an array holding [..] as an element (the two
            # operator documents of and_ merged)
            core = {f: {"$eq": value, "$not": {"$elemMatch": {"$eq": value}}}}
        else:
            core = {f: {"$eq": value, "$not": _ARRAY}}
        return _guarded(path.segments, core)

    def eq_false(self, path: ir.Path, value: Any) -> Filter:
        """Where ``path == value`` is false."""
        f = field_name(path)
        if f == ID and not isinstance(value, list):
            return {f: _NOT_NULL} if value is None else {f: {"$nin": [value, None]}}
        if value is None:
            return or_({f: {"$not": {"$type": "null"}}}, {f: {"$type": "array"}},
                       *self.prefix_is_array(path))
        if isinstance(value, list):
            return and_(self.prefix_guard(path), self.present_non_null(f),
                        {"$nor": [self.eq_true(path, value)]})
        ne = {"$or": [{f: {"$type": "array"}}, {f: {"$exists": True, "$nin": [value, None]}}]}
        if len(path.segments) == 1:
            return ne
        return and_(self.prefix_guard(path), ne)

    def not_null(self, path: ir.Path, truth: bool) -> Filter:
        """Where ``path != null`` is true (present, non-null) or false (missing or null)."""
        f = field_name(path)
        if f == ID:
            return {f: _NOT_NULL} if truth else {f: {"$type": "null"}}
        if truth:
            if len(path.segments) == 1:
                return self.present_non_null(f)
            return and_(self.prefix_guard(path), self.present_non_null(f))
        return or_({f: {"$exists": False}}, {f: {"$type": "null", "$not": _ARRAY}},
                   *self.prefix_is_array(path))

    def in_true(self, path: ir.Path, values: list[Any]) -> Filter:
        """Where ``path in values`` is true: any value equal."""
        scalars = [v for v in values if v is not None and not isinstance(v, list)]
        others = [v for v in values if v is None or isinstance(v, list)]
        parts = [self.eq_true(path, v) for v in others]
        if scalars:
            f = field_name(path)
            parts.insert(0, {f: {"$in": scalars}} if f == ID else
                         _guarded(path.segments, {f: {"$in": scalars, "$not": _ARRAY}}))
        return disjoin(parts)

    def in_false(self, path: ir.Path, values: list[Any]) -> Filter:
        """Where ``path in values`` is false: present, non-null, no value equal."""
        f = field_name(path)
        if not values:
            return and_(self.prefix_guard(path), self.present_non_null(f))
        scalars = [v for v in values if v is not None and not isinstance(v, list)]
        others = [v for v in values if v is None or isinstance(v, list)]
        if f == ID and not others:
            return {f: {"$nin": [*scalars, None]}}
        # eq_false(null) admits a missing field, where `in` is unknown: require presence
        parts = [self.eq_false(path, v) for v in others]
        if scalars:
            parts.insert(0, {"$or": [{f: {"$type": "array"}},
                                     {f: {"$exists": True, "$nin": [*scalars, None]}}]})
        return and_(self.prefix_guard(path), {f: {"$exists": True}}, *parts)

    # -- ordering ------------------------------------------------------------
    def order(self, path: ir.Path, op: str, value: Any) -> Filter:
        """``path op value`` for op in < <= > >=; MongoDB brackets types as we need."""
        f = field_name(path)
        mongo_op = _OPS[op]
        if type(value) not in PLAIN:
            mongo_op, value = ordering(mongo_op, value)
        if f == ID:
            return {f: {mongo_op: value}}
        return _guarded(path.segments, {f: {mongo_op: value, "$not": _ARRAY}})

    # -- arrays ----------------------------------------------------------------
    def _array(self, path: ir.Path, extra: Filter) -> Filter:
        f = field_name(path)
        if len(path.segments) == 1 and len(extra) == 1:
            # what and_ makes of it when `extra` is operators on f: one merged document
            ops = extra.get(f)
            if isinstance(ops, dict) and ops and "$type" not in ops and \
                    all(k[:1] == "$" for k in ops):
                return {f: {"$type": "array", **ops}}
        return and_(self.prefix_guard(path), {f: {"$type": "array"}}, extra)

    def contains(self, path: ir.Path, value: Any, truth: bool) -> Filter:
        """``path contains value`` (an element equal to value) true or false."""
        f = field_name(path)
        match = {"$elemMatch": {"$eq": value}}
        if len(path.segments) == 1:  # what _array makes of it
            return {f: {"$type": "array", "$elemMatch": match["$elemMatch"]} if truth else
                    {"$type": "array", "$not": match}}
        return self._array(path, {f: match} if truth else {f: {"$not": match}})

    def contains_any(self, path: ir.Path, values: list[Any], truth: bool) -> Filter:
        """``path contains any values`` true or false."""
        f = field_name(path)
        match = {"$elemMatch": {"$in": values}}
        return self._array(path, {f: match} if truth else {f: {"$not": match}})

    def contains_all(self, path: ir.Path, values: list[Any], truth: bool) -> Filter:
        """``path contains all values`` true or false (``all []`` is true for arrays)."""
        f = field_name(path)
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
        f = field_name(path)
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
        f = field_name(path)
        if truth:
            return _guarded(path.segments, {f: {"$regex": pattern, "$not": _ARRAY}})
        if f == ID:
            return {f: {"$type": "string", "$not": {"$regex": pattern}}}
        return and_(self.prefix_guard(path), {f: {"$type": "string", "$not": {"$regex": pattern}}},
                    {f: _NOT_ARRAY})

    # -- conditions ----------------------------------------------------------------
    # One handler per node (``crossql.visitor``), called with the truth being built. A
    # predicate whose filter is one operator document on its path (and the path's prefix
    # guards), the most frequent case, answers a ``Simple`` rather than a filter: a
    # conjunction merges its operators without building a filter first, and ``build``
    # makes the filter of a lone one. The two walks below call the handler from
    # ``DISPATCH`` themselves: ``visit``'s own frame cost 15% of Q30's compile.

    def build(self, cond: ir.Condition, truth: bool = True) -> Filter:
        """The filter of documents where ``cond`` evaluates to ``truth``."""
        part = self.DISPATCH[type(cond)](self, cond, truth)
        return part if type(part) is dict else _lone(part)

    def visit_Not(self, node: ir.Not, truth: bool) -> Part:
        return self.build(node.operand, not truth)

    def visit_And(self, node: ir.And, truth: bool) -> Part:
        if truth:
            return self._conjunction(node.operands, truth)
        return disjoin([self.build(c, truth) for c in node.operands])  # De Morgan

    def visit_Or(self, node: ir.Or, truth: bool) -> Part:
        if truth:
            return disjoin([self.build(c, truth) for c in node.operands])
        return self._conjunction(node.operands, truth)  # De Morgan

    def _conjunction(self, operands: tuple[ir.Condition, ...], truth: bool) -> Filter:
        """The filter where every one of ``operands`` evaluates to ``truth``: each part
        goes straight into the merge."""
        conj = _Conjunction()
        add, add_simple = conj.add, conj.add_simple
        handlers = self.DISPATCH
        for c in operands:
            part = handlers[type(c)](self, c, truth)
            if type(part) is not dict:
                add_simple(part)
            elif len(part) == 1 and "$and" in part:
                for p in part["$and"]:
                    add(p)
            elif part:
                add(part)
        return conj.result()

    def visit_Compare(self, node: ir.Compare, truth: bool) -> Part:
        op, path, value = node.op, node.path, node.value
        v = value.value if type(value) is ir.Literal else _value(value)
        mongo_op = (_OPS if truth else _OPS_NEGATED).get(op)
        if type(v) not in PLAIN:
            check_value(node, v, equality=mongo_op is None,
                        ordered=mongo_op is not None and not type_test(mongo_op, v))
            if mongo_op is not None:
                mongo_op, v = ordering(mongo_op, v)
        if mongo_op is not None:
            return _one(path, {mongo_op: v, "$not": _ARRAY})
        if (op == "==") == truth and (op == "==" or v is not None):
            return _one(path, _eq_operators(v))
        if op == "==":  # false
            return self.eq_false(path, v)
        if v is None:  # `!= null` is two-valued: present non-null, else false
            return self.not_null(path, truth)
        return self.eq_false(path, v)  # `!=` true

    def visit_Between(self, node: ir.Between, truth: bool) -> Part:
        path, lo, hi = node.path, _value(node.low), _value(node.high)
        if type(lo) not in PLAIN or type(hi) not in PLAIN:
            check_value(node, [lo, hi], equality=False, ordered=True)
            if truth:
                (lo_op, lo), (hi_op, hi) = ordering("$gte", lo), ordering("$lte", hi)
                return _one(path, {lo_op: lo, hi_op: hi, "$not": _ARRAY})
        if truth:
            return _one(path, {"$gte": lo, "$lte": hi, "$not": _ARRAY})
        return or_(self.order(path, "<", lo), self.order(path, ">", hi))

    def visit_In(self, node: ir.In, truth: bool) -> Part:
        path, values = node.path, _value(node.values)
        _check_values(node, values)
        if truth == node.negated:
            return self.in_false(path, values)
        if truth and values:
            for v in values:
                if v is None or isinstance(v, list):
                    break
            else:  # scalars only
                return _one(path, {"$in": values, "$not": _ARRAY})
        return self.in_true(path, values)

    def visit_Contains(self, node: ir.Contains, truth: bool) -> Part:
        path, value = node.path, _value(node.value)
        if type(value) not in PLAIN:
            check_value(node, value)
        if len(path.segments) == 1:
            return _one(path, {"$type": "array", "$elemMatch": {"$eq": value}} if truth else
                        {"$type": "array", "$not": {"$elemMatch": {"$eq": value}}})
        return self.contains(path, value, truth)

    def visit_ContainsAny(self, node: ir.ContainsAny, truth: bool) -> Part:
        values = _value(node.values)
        _check_values(node, values)
        return self.contains_any(node.path, values, truth)

    def visit_ContainsAll(self, node: ir.ContainsAll, truth: bool) -> Part:
        values = _value(node.values)
        _check_values(node, values)
        return self.contains_all(node.path, values, truth)

    def visit_Size(self, node: ir.Size, truth: bool) -> Part:
        return self.size(node.path, node.op, _value(node.value), truth)

    def visit_StartsWith(self, node: ir.StartsWith, truth: bool) -> Part:
        pattern = prefix_pattern(_value(node.value))
        if truth:
            return _one(node.path, {"$regex": pattern, "$not": _ARRAY})
        return self.regex(node.path, pattern, truth)

    def visit_Matches(self, node: ir.Matches, truth: bool) -> Part:
        pattern = bson_pattern(_value(node.value))
        if truth:
            return _one(node.path, {"$regex": pattern, "$not": _ARRAY})
        return self.regex(node.path, pattern, truth)

    def visit_Exists(self, node: ir.Exists, truth: bool) -> Part:
        path = node.path
        if truth:
            return _one(path, {"$exists": True})
        return or_({field_name(path): {"$exists": False}}, *self.prefix_is_array(path))


Simple: TypeAlias = tuple[tuple[str, ...], str, dict[str, Any]]
"""A predicate's filter that is one operator document on its path and that path's prefix
guards: ``(segments, field, operators)``."""
Part: TypeAlias = "Filter | Simple"
"""What a condition handler answers: a filter, or a ``Simple`` (see ``FilterBuilder``)."""


def _check_values(node: ir.Condition, values: Any) -> None:
    """``check_value`` of a list's items, skipped without a call when all are plain."""
    if type(values) is list:
        for v in values:
            if type(v) not in PLAIN:
                check_value(node, values)
                return


def _one(path: ir.Path, ops: dict[str, Any]) -> Simple:
    """The ``Simple`` of the operators ``ops`` on ``path`` (``_id`` needs no array guard)."""
    f = field_name(path)
    if f == ID:
        return path.segments, f, _id_operators(ops)
    return path.segments, f, ops


def _lone(simple: Simple) -> Filter:
    """The filter of a ``Simple`` alone: its operator document and the prefix guards."""
    segments, f, ops = simple
    if f == ID and len(ops) == 1 and "$eq" in ops and not isinstance(ops["$eq"], list):
        return {f: ops["$eq"]}  # a point lookup: the hand-written find({_id: v})
    return _guarded(segments, {f: ops})


def _eq_operators(v: Any) -> dict[str, Any]:
    """The operators of ``path == v`` being true (whole-value equality)."""
    if v is None:
        return {"$type": "null", "$not": _ARRAY}
    if isinstance(v, list):
        # {f: [..]} also matches an array holding [..] as an element
        return {"$eq": v, "$not": {"$elemMatch": {"$eq": v}}}
    return {"$eq": v, "$not": _ARRAY}


def _value(value: ir.Value) -> Any:
    if type(value) is ir.Literal:
        return value.value
    if isinstance(value, ir.Param):  # pragma: no cover - plans are compiled from bound IR
        raise ValueError(f"parameter :{value.name} is not bound")
    return ir.python_value(value)


_ESCAPES = {c: "\\" + chr(c) for c in range(128) if not (chr(c).isalnum() or chr(c) == "_")}
_ESCAPES[0] = "\\x00"


def bson_pattern(pattern: str) -> str:
    """``pattern`` with each raw NUL written as the escape ``\\x00``, which PCRE and Python
    read as the same character: a BSON regular expression is a C string and cannot hold
    a NUL byte (the server refuses it). An escaped NUL (backslash, NUL) becomes the
    escape alone."""
    if "\x00" not in pattern:
        return pattern
    out: list[str] = []
    backslashes = 0
    for ch in pattern:
        if ch == "\x00":
            if backslashes % 2:
                out.pop()  # `\<NUL>` is the literal NUL too
            out.append("\\x00")
            backslashes = 0
            continue
        backslashes = backslashes + 1 if ch == "\\" else 0
        out.append(ch)
    return "".join(out)


def prefix_pattern(prefix: Any) -> Any:
    """The anchored pattern of a ``startswith`` prefix (of a plan template's hole: the
    pattern is made from the value when the template is filled)."""
    if isinstance(prefix, Hole):
        return prefix.then(prefix_pattern)
    return "^" + escape_regex(prefix)


def escape_regex(text: str) -> str:
    """Escape text for a PCRE pattern: every ASCII non-alphanumeric character is
    escaped (PCRE reads ``\\`` + punctuation as the literal), NUL as ``\\x00``."""
    return text.translate(_ESCAPES)
