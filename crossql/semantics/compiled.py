"""The compiled evaluator: the reference semantics, compiled once per bound query.

``reference.py`` is the specification: it walks the IR for every document. This module
turns a bound query into Python closures once (no source text is generated: every
closure is written here, only its constants come from the query) and runs them over
documents with exactly the reference's answers — three-valued logic, null against
missing, the type rules, the value kinds and their NaN rules — and its errors.

What the compilation buys:

- literals are converted once; ``x in [k values]`` looks a number, a string, a bool, an
  exact number or a timestamp up in hashed sets (1 == 1.0 == Decimal(1), True is not 1,
  0.1 is Decimal("0.1")), so its cost per document does not depend on k;
- a comparison of a plain field with a number or a string is a type check and one
  Python comparison; anything else calls the reference's own helpers;
- ``where`` at the top is compiled as two-valued "is it true" / "is it false"
  predicates, which short-circuit (an ``and`` stops at its first operand that is not
  true);
- rows are produced as documents match (``stream``), ``limit`` stops reading,
  ``order by … limit n`` keeps the best n in a heap (ties broken by input order, as
  the reference's stable sort), ``count`` counts without building rows, and only the
  rows returned are copied.

A query the fast paths do not promise to keep exact — a parameter left unbound, a
pattern that does not compile, a literal of an unexpected type in ``starts with`` or
``size``, a negative or non-integer ``limit`` — is run by the reference itself, so its
error (or answer) is the reference's.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from datetime import datetime
from decimal import Decimal
from itertools import islice
from typing import Any, Final

from crossql import ir
from crossql._generated import exec_generated
from crossql._memo import Memo
from crossql.compiler.shape import output_key, resolve_order_key
from crossql.semantics import reference as ref
from crossql.semantics.reference import MISSING, Truth, get_path, instant, values_equal

Doc = Mapping[str, Any]
Pred = Callable[[Any], Any]
"""A compiled condition on a ``dict`` document: three-valued, or "is true"/"is false"."""

_NUMBERS: Final = frozenset({int, float})
_INT_EXACT: Final = 2 ** 53
"""Past this magnitude a float's shortest text may differ from its exact value (the
order of a float beside a Decimal is then not its order beside an int)."""


class _Fallback(Exception):
    """The query leaves the fast paths' promises: the reference runs it."""


# --- leaves ------------------------------------------------------------------------


def _value(node: ir.Value) -> Any:
    if isinstance(node, ir.Param):
        raise _Fallback
    return ir.python_value(node)


def _getter(segments: tuple[str, ...]) -> Callable[[dict[str, Any]], Any]:
    if len(segments) == 1:
        (name,) = segments

        def get_one(doc: dict[str, Any]) -> Any:
            return doc.get(name, MISSING)
        return get_one
    return lambda doc: get_path(doc, segments)


class _Leaf:
    """A leaf compiled three ways: its truth value, "is true" and "is false"."""

    __slots__ = ("false", "inline", "true", "truth")

    def __init__(self, truth: Pred, true: Pred | None = None,
                 false: Pred | None = None) -> None:
        self.truth = truth
        self.true = true or (lambda doc: truth(doc) is True)
        self.false = false or (lambda doc: truth(doc) is False)
        self.inline: _Inline | None = None
        """What "is true" is when the field is a plain value: written into the body of
        a conjunction (``_conjunction``)."""


class _Inline:
    """``doc[name] <op> value`` for a field of one of ``fast`` types, ``slow(v)`` (is the
    leaf true on ``v``) otherwise."""

    __slots__ = ("fast", "name", "op", "slow", "value")

    def __init__(self, name: str, op: str, value: Any, fast: frozenset[type],
                 slow: Callable[[Any], bool]) -> None:
        self.name, self.op, self.value, self.fast, self.slow = name, op, value, fast, slow


def _inlined(leaf: _Leaf, inline: _Inline) -> _Leaf:
    leaf.inline = inline
    return leaf


_FLIP = {"<": ">=", "<=": ">", ">": "<=", ">=": "<"}


def _plain_number(value: Any) -> bool:
    return type(value) in _NUMBERS and value == value


def _compare(node: ir.Compare) -> _Leaf:
    value = _value(node.value)
    segments = node.path.segments
    if node.op == "==":
        return _equals(segments, value)
    if node.op == "!=":
        return _not_equals(segments, value)
    return _ordering(segments, node.op, value)


def _fast_types(value: Any) -> frozenset[type] | None:
    """Field types on which ``==``/ordering against ``value`` is Python's own operator."""
    if _plain_number(value):
        return _NUMBERS
    if type(value) is str:
        return frozenset({str})
    if type(value) is bool:
        return frozenset({bool})
    return None


def _equals(segments: tuple[str, ...], value: Any) -> _Leaf:
    if len(segments) == 1:
        (name,) = segments
        if value is None:
            def is_null(doc: dict[str, Any]) -> bool:
                return doc.get(name, MISSING) is None

            def not_null(doc: dict[str, Any]) -> bool:
                return doc.get(name, MISSING) is not None
            return _Leaf(is_null, is_null, not_null)
        fast = _fast_types(value)
        if fast is not None:
            def truth(doc: dict[str, Any]) -> Truth:
                v = doc.get(name, MISSING)
                if type(v) in fast:
                    return v == value  # type: ignore[no-any-return]
                if v is MISSING or v is None:
                    return None
                return values_equal(v, value)

            def true(doc: dict[str, Any]) -> bool:
                v = doc.get(name, MISSING)
                if type(v) in fast:
                    return v == value  # type: ignore[no-any-return]
                return v is not MISSING and v is not None and values_equal(v, value)

            def false(doc: dict[str, Any]) -> bool:
                v = doc.get(name, MISSING)
                if type(v) in fast:
                    return v != value  # type: ignore[no-any-return]
                return v is not MISSING and v is not None and not values_equal(v, value)
            return _inlined(_Leaf(truth, true, false), _Inline(
                name, "==", value, fast,
                lambda v: v is not MISSING and v is not None and values_equal(v, value)))
    get = _getter(segments)
    return _Leaf(lambda doc: ref._equals(get(doc), value))


def _not_equals(segments: tuple[str, ...], value: Any) -> _Leaf:
    get = _getter(segments)
    if len(segments) == 1 and _fast_types(value) is not None:
        (name,) = segments
        fast = _fast_types(value)
        assert fast is not None

        def truth(doc: dict[str, Any]) -> Truth:
            v = doc.get(name, MISSING)
            if type(v) in fast:
                return v != value  # type: ignore[no-any-return]
            if v is MISSING or v is None:
                return None
            return not values_equal(v, value)

        def true(doc: dict[str, Any]) -> bool:
            v = doc.get(name, MISSING)
            if type(v) in fast:
                return v != value  # type: ignore[no-any-return]
            return v is not MISSING and v is not None and not values_equal(v, value)

        def false(doc: dict[str, Any]) -> bool:
            v = doc.get(name, MISSING)
            if type(v) in fast:
                return v == value  # type: ignore[no-any-return]
            return v is not MISSING and v is not None and values_equal(v, value)
        return _inlined(_Leaf(truth, true, false), _Inline(
            name, "!=", value, fast,
            lambda v: v is not MISSING and v is not None and not values_equal(v, value)))
    return _Leaf(lambda doc: ref._not_equals(get(doc), value))


def _ordering(segments: tuple[str, ...], op: str, value: Any) -> _Leaf:
    if ref.type_of(value) not in ref._ORDERED_TYPES or (
            ref.type_of(value) == "number" and ref.is_nan(value)):
        def unknown(doc: dict[str, Any]) -> Truth:
            return None
        return _Leaf(unknown, _never, _never)
    get = _getter(segments)
    fast = _fast_types(value)
    if fast is None or len(segments) != 1:
        return _Leaf(lambda doc: ref._ordering(op, get(doc), value))
    (name,) = segments
    cmp = ref._ORDER_OPS[op]

    def truth(doc: dict[str, Any]) -> Truth:
        v = doc.get(name, MISSING)
        if type(v) in fast and v == v:  # a NaN compares with nothing
            return cmp(v, value)
        return ref._ordering(op, v, value)

    # a NaN fails both the comparison and its flip: neither true nor false, as unknown
    slow = lambda v: ref._ordering(op, v, value) is True  # noqa: E731
    true = _ordered_test(op, name, value, fast, slow)
    false = _ordered_test(_FLIP[op], name, value, fast,
                          lambda v: ref._ordering(op, v, value) is False)
    return _inlined(_Leaf(truth, true, false), _Inline(name, op, value, fast, slow))


def _ordered_test(op: str, name: str, value: Any, fast: frozenset[type],
                  slow: Callable[[Any], bool]) -> Pred:
    """``doc[name] <op> value`` where the field's type is in ``fast`` (Python's operator
    written out: this is the hottest closure), ``slow`` on any other value."""
    if op == "<":
        def lt(doc: dict[str, Any]) -> bool:
            v = doc.get(name, MISSING)
            return v < value if type(v) in fast else slow(v)
        return lt
    if op == "<=":
        def le(doc: dict[str, Any]) -> bool:
            v = doc.get(name, MISSING)
            return v <= value if type(v) in fast else slow(v)
        return le
    if op == ">":
        def gt(doc: dict[str, Any]) -> bool:
            v = doc.get(name, MISSING)
            return v > value if type(v) in fast else slow(v)
        return gt

    def ge(doc: dict[str, Any]) -> bool:
        v = doc.get(name, MISSING)
        return v >= value if type(v) in fast else slow(v)
    return ge


def _never(doc: dict[str, Any]) -> bool:
    return False


def _between(node: ir.Between) -> _Leaf:
    low, high = _value(node.low), _value(node.high)
    get = _getter(node.path.segments)

    def general(v: Any) -> Truth:
        return ref._kleene_and((ref._ordering(">=", v, low), ref._ordering("<=", v, high)))
    if not (_plain_number(low) and _plain_number(high)):
        return _Leaf(lambda doc: general(get(doc)))

    def truth(doc: dict[str, Any]) -> Truth:
        v = get(doc)
        if type(v) in _NUMBERS and v == v:
            return bool(low <= v <= high)
        return general(v)
    return _Leaf(truth)


class _Members:
    """The values of an ``in`` list, looked up by hashing where the field's type allows
    (equal by ``values_equal`` ⇔ equal keys in one set), by the reference's equality
    (one by one) otherwise."""

    __slots__ = ("bools", "decimals", "empty", "has_null", "nan", "numbers", "of_decimal",
                 "present", "strings", "times")

    def __init__(self, values: list[Any]) -> None:
        self.empty = not values
        self.has_null = any(v is None for v in values)
        self.present = [v for v in values if v is not None]
        self.strings = {v for v in self.present if type(v) is str}
        self.bools = {v for v in self.present if type(v) is bool}
        plain = [v for v in self.present if _plain_number(v)]
        decimals = [v for v in self.present if type(v) is Decimal and not v.is_nan()]
        self.nan = any(ref.is_nan(v) for v in self.present if ref.type_of(v) == "number")
        self.numbers = set(plain)
        self.decimals = set(decimals)
        # a Decimal field: an int as it is, a float as its shortest text (exact_pair)
        self.of_decimal = {*decimals, *(Decimal(repr(v)) if type(v) is float else Decimal(v)
                                        for v in plain)}
        self.times = {instant(v) for v in self.present if type(v) is datetime}

    def has(self, v: Any) -> bool:
        """Whether the present, non-null ``v`` equals a listed value."""
        t = type(v)
        if t is str:
            return v in self.strings
        if t is int:
            return v in self.numbers or v in self.decimals
        if t is float:
            if v != v:
                return self.nan
            return v in self.numbers or (bool(self.decimals) and Decimal(repr(v)) in self.decimals)
        if t is bool:
            return v in self.bools
        if t is Decimal:
            return self.nan if v.is_nan() else v in self.of_decimal
        if t is datetime:
            return instant(v) in self.times
        return any(values_equal(v, x) for x in self.present)

    def truth(self, v: Any) -> Truth:
        """``v in values`` as the reference's ``_in``."""
        if v is MISSING:
            return None
        if self.empty:
            return None if v is None else False
        if v is None:
            return True if self.has_null else None
        return self.has(v)


def _in(node: ir.In) -> _Leaf:
    members = _Members(_value(node.values))
    get = _getter(node.path.segments)
    has, strings, numbers = members.has, members.strings, members.numbers
    if node.negated:
        return _Leaf(lambda doc: ref._kleene_not(members.truth(get(doc))))
    if members.empty:
        return _Leaf(lambda doc: members.truth(get(doc)))

    ints = numbers | members.decimals  # an int equals a Decimal by exact value
    segments = node.path.segments
    name = segments[0]
    single = len(segments) == 1

    def true(doc: dict[str, Any]) -> bool:
        v = doc.get(name, MISSING) if single else get(doc)
        t = type(v)
        if t is str:
            return v in strings
        if t is int:
            return v in ints
        if v is MISSING:
            return False
        if v is None:
            return members.has_null
        return has(v)
    return _Leaf(lambda doc: members.truth(get(doc)), true)


def _collection_leaf(segments: tuple[str, ...], test: Callable[[Any], Truth]) -> _Leaf:
    get = _getter(segments)

    def truth(doc: dict[str, Any]) -> Truth:
        v = get(doc)
        if type(v) is list or ref.type_of(v) in ref._COLLECTIONS:
            return test(v)
        return None
    return _Leaf(truth)


def _contains(node: ir.Contains) -> _Leaf:
    value = _value(node.value)
    return _collection_leaf(node.path.segments, lambda v: ref._element_in(v, value))


def _contains_any(node: ir.ContainsAny) -> _Leaf:
    values = _value(node.values)
    return _collection_leaf(node.path.segments,
                            lambda v: any(ref._element_in(v, x) for x in values))


def _contains_all(node: ir.ContainsAll) -> _Leaf:
    values = _value(node.values)
    return _collection_leaf(node.path.segments,
                            lambda v: all(ref._element_in(v, x) for x in values))


def _size(node: ir.Size) -> _Leaf:
    value = _value(node.value)
    if ref.type_of(value) not in ("number", "bool"):
        raise _Fallback  # the reference raises TypeError on a collection field
    cmp = ref._ORDER_OPS[node.op]
    return _collection_leaf(node.path.segments, lambda v: cmp(len(v), value))


def _string_leaf(segments: tuple[str, ...], test: Callable[[str], bool]) -> _Leaf:
    get = _getter(segments)

    def truth(doc: dict[str, Any]) -> Truth:
        v = get(doc)
        if type(v) is str or ref.type_of(v) == "string":
            return test(v)
        return None
    return _Leaf(truth)


def _starts_with(node: ir.StartsWith) -> _Leaf:
    value = _value(node.value)
    if type(value) is not str:
        raise _Fallback
    return _string_leaf(node.path.segments, lambda v: bool(v.startswith(value)))


def _matches(node: ir.Matches) -> _Leaf:
    value = _value(node.value)
    if type(value) is not str:
        raise _Fallback
    try:
        search = ref._regex(value).search
    except Exception:  # the reference raises it on the first string field: so will it
        raise _Fallback from None
    return _string_leaf(node.path.segments, lambda v: search(v) is not None)


def _exists(node: ir.Exists) -> _Leaf:
    get = _getter(node.path.segments)

    def present(doc: dict[str, Any]) -> bool:
        return get(doc) is not MISSING

    def absent(doc: dict[str, Any]) -> bool:
        return get(doc) is MISSING
    return _Leaf(present, present, absent)


_LEAVES: dict[type, Callable[[Any], _Leaf]] = {
    ir.Compare: _compare, ir.Between: _between, ir.In: _in, ir.Contains: _contains,
    ir.ContainsAny: _contains_any, ir.ContainsAll: _contains_all, ir.Size: _size,
    ir.StartsWith: _starts_with, ir.Matches: _matches, ir.Exists: _exists,
}


# --- combinators ----------------------------------------------------------------------


def _all(preds: list[Pred]) -> Pred:
    if len(preds) == 1:
        return preds[0]
    if len(preds) == 2:
        a, b = preds
        return lambda doc: a(doc) and b(doc)

    def every(doc: Any) -> bool:
        for p in preds:  # noqa: SIM110 - a loop: half the cost of all() over a generator
            if not p(doc):
                return False
        return True
    return every


def _any(preds: list[Pred]) -> Pred:
    if len(preds) == 1:
        return preds[0]
    if len(preds) == 2:
        a, b = preds
        return lambda doc: a(doc) or b(doc)

    def some(doc: Any) -> bool:
        for p in preds:  # noqa: SIM110 - a loop: half the cost of any() over a generator
            if p(doc):
                return True
        return False
    return some


_TYPE_TESTS: Final = {_NUMBERS: "t is int or t is float", frozenset({str}): "t is str",
                      frozenset({bool}): "t is bool"}
_OPERATORS: Final = frozenset({"==", "!=", "<", "<=", ">", ">="})


def _conjunction(leaves: list[_Leaf | Pred]) -> Pred:
    """One function testing that every operand is true, the plain comparisons written
    into its body (a call per operand costs more than the comparison). Operands are
    pure and, here, cannot raise, so their order is free: the comparisons on one field
    share one lookup and one type test, the other operands follow as calls.

    The source is the project's own: operators from a closed set and names it makes
    up (``n0``, ``c0``, ``s0``, ``p1``); every field name and literal of the query is a
    value in the function's namespace, never text. Documents are ``dict``s."""
    namespace: dict[str, Any] = {"MISSING": MISSING}
    fields: dict[str, dict[frozenset[type], list[tuple[int, _Inline]]]] = {}
    calls = []
    for i, part in enumerate(leaves):
        inline = part.inline if isinstance(part, _Leaf) else None
        if inline is None or inline.op not in _OPERATORS or inline.fast not in _TYPE_TESTS:
            namespace[f"p{i}"] = part.true if isinstance(part, _Leaf) else part
            calls.append(i)
            continue
        fields.setdefault(inline.name, {}).setdefault(inline.fast, []).append((i, inline))
    lines = ["def conjunction(doc):"]
    for f, kinds in enumerate(fields.values()):
        first = next(iter(kinds.values()))[0][1]
        namespace[f"n{f}"] = first.name
        lines += ["    try:", f"        v = doc[n{f}]", "    except KeyError:",
                  "        v = MISSING", "    t = type(v)"]
        for g, (fast, tests) in enumerate(kinds.items()):
            for i, inline in tests:
                namespace.update({f"c{i}": inline.value, f"s{i}": inline.slow})
            fast_test = " and ".join(f"v {inline.op} c{i}" for i, inline in tests)
            lines += [f"    {'if' if g == 0 else 'elif'} {_TYPE_TESTS[fast]}:",
                      f"        if not ({fast_test}):", "            return False"]
            if len(kinds) > 1:  # the other kinds' tests take the slow way on this type
                others = " and ".join(f"s{i}(v)" for k, ts in kinds.items() if k != fast
                                      for i, _ in ts)
                lines += [f"        if not ({others}):", "            return False"]
        every = " and ".join(f"s{i}(v)" for ts in kinds.values() for i, _ in ts)
        lines += ["    else:", f"        if not ({every}):", "            return False"]
    for i in calls:
        lines += [f"    if not p{i}(doc):", "        return False"]
    lines.append("    return True")
    exec_generated("\n".join(lines) + "\n", namespace, "evaluator", bounded=True)
    return namespace["conjunction"]  # type: ignore[no-any-return]


class _Compiler:
    """Compiles a condition tree; each leaf once (``true``/``false`` share it)."""

    def __init__(self) -> None:
        self.leaves: dict[int, _Leaf] = {}

    def leaf(self, node: ir.Condition) -> _Leaf:
        leaf = self.leaves.get(id(node))
        if leaf is None:
            make = _LEAVES.get(type(node))
            if make is None:
                raise _Fallback
            leaf = self.leaves[id(node)] = make(node)
        return leaf

    def true(self, node: ir.Condition) -> Pred:
        """A predicate: the condition is true on the document."""
        if isinstance(node, ir.And):
            return _all([self.true(c) for c in node.operands])
        if isinstance(node, ir.Or):
            return _any([self.true(c) for c in node.operands])
        if isinstance(node, ir.Not):
            return self.false(node.operand)
        return self.leaf(node).true

    def false(self, node: ir.Condition) -> Pred:
        """A predicate: the condition is false on the document."""
        if isinstance(node, ir.And):
            return _any([self.false(c) for c in node.operands])
        if isinstance(node, ir.Or):
            return _all([self.false(c) for c in node.operands])
        if isinstance(node, ir.Not):
            return self.true(node.operand)
        return self.leaf(node).false

    def truth(self, node: ir.Condition) -> Pred:
        """The three-valued truth of the condition."""
        if isinstance(node, ir.And | ir.Or):
            parts = [self.truth(c) for c in node.operands]
            combine = ref._kleene_and if isinstance(node, ir.And) else ref._kleene_or
            return lambda doc: combine(p(doc) for p in parts)
        if isinstance(node, ir.Not):
            inner = self.truth(node.operand)
            return lambda doc: ref._kleene_not(inner(doc))
        return self.leaf(node).truth


def compile_condition(cond: ir.Condition) -> Callable[[Doc], Truth]:
    """The three-valued truth of a bound condition on a document, as
    ``reference.evaluate_condition`` gives it (that function runs a condition the fast
    paths leave, and any document that is not a ``dict``)."""
    try:
        truth = _Compiler().truth(cond)
    except _Fallback:
        return lambda doc: ref.evaluate_condition(cond, doc)

    def evaluate(doc: Doc) -> Truth:
        if type(doc) is dict:
            return truth(doc)  # type: ignore[no-any-return]
        return ref.evaluate_condition(cond, doc)
    return evaluate


def compile_filter(cond: ir.Condition | None) -> Callable[[Doc], bool]:
    """Whether a bound condition is true on a document (``None``: always), as
    ``reference.evaluate_condition(cond, doc) is True``."""
    if cond is None:
        return lambda doc: True
    try:
        true = _Compiler().true(cond)
    except _Fallback:
        return lambda doc: ref.evaluate_condition(cond, doc) is True

    def test(doc: Doc) -> bool:
        if type(doc) is dict:
            return bool(true(doc))
        return ref.evaluate_condition(cond, doc) is True
    return test


# --- order ------------------------------------------------------------------------------


class _Desc:
    """A sort key in reverse (for a descending key beside ascending ones)."""

    __slots__ = ("key",)

    def __init__(self, key: Any) -> None:
        self.key = key

    def __lt__(self, other: _Desc) -> bool:
        return bool(other.key < self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Desc) and bool(self.key == other.key)

    __hash__ = None  # type: ignore[assignment]


class _Worse:
    """A heap entry of an ascending order: the heap's first is the worst (largest) of
    the best n kept so far."""

    __slots__ = ("doc", "key", "values")

    def __init__(self, key: Any, values: tuple[Any, ...], doc: Any) -> None:
        self.key, self.values, self.doc = key, values, doc

    def __lt__(self, other: _Worse) -> bool:
        return bool(other.key < self.key)


class _WorseDesc(_Worse):
    """A heap entry of a descending order: the heap's first is the smallest kept."""

    __slots__ = ()

    def __lt__(self, other: _Worse) -> bool:
        return bool(self.key < other.key)


def _fast_sort_key(value: Any, decimals: bool) -> Any:
    t = type(value)
    if t is int:
        return (1, 1, value)
    if t is str:
        return (2, value)
    return ref.sort_key(value, decimals)


_PLAIN_SORT_TYPES: Final = frozenset({str, bool, type(None), type(MISSING)})
_CONTAINERS: Final = (list, tuple, dict, set, frozenset)


class _TopK:
    """The best ``n`` of the matched documents in the reference's order, kept in heaps.

    The reference sorts each key with ``decimals`` set when a ``Decimal`` is among that
    key's values (a float then sorts as its shortest text): known only at the end. The
    two orders of a key differ only when it holds a float beside a Decimal, or beside a
    number past 2**53 (or values nested in a collection): until then one heap serves
    both; when a key becomes ambiguous (float and big number, no Decimal yet) the heaps
    fork into one per choice, and the first Decimal settles the key's choice (re-keying
    the kept entries is exact: until then both orders agreed)."""

    def __init__(self, n: int, getters: list[Callable[[Any], Any]],
                 descending: list[bool]) -> None:
        self.n = n
        self.getters = getters
        self.descending = descending
        self.mixed = any(descending) and not all(descending)
        # all keys descending: keep the largest (ties: earlier first, so index negated)
        self.largest = not self.mixed and descending[0]
        self.entry: type[_Worse] = _WorseDesc if self.largest else _Worse
        self.keys = len(getters)
        self.decimal = [False] * self.keys
        self.floats = [False] * self.keys
        self.big = [False] * self.keys
        self.forked = [False] * self.keys
        self.heaps: dict[tuple[bool, ...], list[_Worse]] = {(False,) * self.keys: []}
        self.index = 0

    def _key(self, values: tuple[Any, ...], flags: tuple[bool, ...], index: int) -> Any:
        parts: list[Any] = [_fast_sort_key(v, f) for v, f in zip(values, flags, strict=True)]
        if self.mixed:
            parts = [_Desc(p) if d else p for p, d in zip(parts, self.descending, strict=True)]
        return (*parts, -index if self.largest else index)

    def _note(self, i: int, v: Any) -> None:
        t = type(v)
        if t is int:
            if -_INT_EXACT < v < _INT_EXACT:
                return
            self.big[i] = True
        elif isinstance(v, Decimal):
            if not self.decimal[i]:
                self.decimal[i] = True
                self._settle(i)
            return
        elif t is float:
            self.floats[i] = True
            if not -_INT_EXACT < v < _INT_EXACT:
                self.big[i] = True
        elif isinstance(v, int) and not isinstance(v, bool):
            self.big[i] = self.big[i] or not -_INT_EXACT < v < _INT_EXACT
        elif isinstance(v, _CONTAINERS):
            self.floats[i] = self.big[i] = True
        else:
            return
        if self.floats[i] and self.big[i] and not self.decimal[i] and not self.forked[i]:
            self._fork(i)

    def _rekeyed(self, heap: list[_Worse], flags: tuple[bool, ...]) -> list[_Worse]:
        sign = -1 if self.largest else 1
        out = [self.entry(self._key(e.values, flags, sign * e.key[-1]), e.values, e.doc)
               for e in heap]
        heapq.heapify(out)
        return out

    def _fork(self, i: int) -> None:
        self.forked[i] = True
        for flags, heap in list(self.heaps.items()):
            other = (*flags[:i], True, *flags[i + 1:])
            self.heaps[other] = self._rekeyed(heap, other)

    def _settle(self, i: int) -> None:
        if self.forked[i]:
            self.heaps = {f: h for f, h in self.heaps.items() if f[i]}
            return
        settled = {}
        for flags, heap in self.heaps.items():
            new = (*flags[:i], True, *flags[i + 1:])
            settled[new] = self._rekeyed(heap, new)
        self.heaps = settled

    def add(self, doc: Any) -> None:
        """Consider one matched document."""
        values = tuple(get(doc) for get in self.getters)
        for i, v in enumerate(values):
            if type(v) not in _PLAIN_SORT_TYPES:
                self._note(i, v)
        index = self.index
        self.index += 1
        for flags, heap in self.heaps.items():
            key = self._key(values, flags, index)
            if len(heap) < self.n:
                heapq.heappush(heap, self.entry(key, values, doc))
            elif (key > heap[0].key) if self.largest else (key < heap[0].key):
                heapq.heapreplace(heap, self.entry(key, values, doc))

    def result(self) -> list[Any]:
        """The kept documents, best first."""
        flags = tuple(self.decimal)
        heap = self.heaps.get(flags)
        if heap is None:  # a key never forked keeps the flag it started with
            heap = next(iter(self.heaps.values()))
        entries = sorted(heap, key=lambda e: e.key, reverse=self.largest)
        return [e.doc for e in entries]


# --- queries ----------------------------------------------------------------------------


def _not_a_document(doc: Any) -> TypeError:
    return TypeError(f"a document is a dict, not {type(doc).__name__}")


def _count(value: ir.Literal | ir.Param | None) -> int | None:
    if value is None:
        return None
    number = _value(value)
    if type(number) is not int or number < 0:
        raise _Fallback  # the reference's slicing decides what it means (or raises)
    return number


def _projection(query: ir.Query) -> Callable[[Any], dict[str, Any]]:
    """A matched document's row under a plain query: a copy of it, or of its selected
    paths (a missing one left out), as the reference builds it."""
    if not query.select:
        return lambda doc: ref.copy_value(dict(doc))
    items = []
    for item in query.select:
        assert isinstance(item.expr, ir.Path)
        items.append((item.expr.segments, output_key(item)))

    def row(doc: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for segments, key in items:
            value = get_path(doc, segments)
            if value is not MISSING:
                ref._set_path(out, key, ref.copy_value(value))
        return out
    return row


class _Seen:
    """What one sort key met that ``decimals`` would sort otherwise: a Decimal, and a
    float (or a collection, which may hold one)."""

    __slots__ = ("decimal", "float")

    def __init__(self) -> None:
        self.decimal = self.float = False


def _key_of(segments: tuple[str, ...], seen: _Seen, dicts: bool) -> Callable[[Any], Any]:
    """The reference's sort key of a document's value at ``segments`` (``decimals``
    off), noting what it met in ``seen``; ``dicts``: every document is a ``dict``."""
    name = segments[0] if len(segments) == 1 and dicts else None

    def key(doc: Any) -> Any:
        v = doc.get(name, MISSING) if name is not None else get_path(doc, segments)
        t = type(v)
        if t is int:
            return (1, 1, v)
        if t is float:
            seen.float = True
            return (1, 1, v) if v == v else (1, 0)
        if t is str:
            return (2, v)
        if isinstance(v, Decimal):
            seen.decimal = True
        elif isinstance(v, _CONTAINERS):
            seen.float = True
        return ref.sort_key(v)
    return key


def _sort_key_fn(paths: list[tuple[str, ...]], descending: list[bool],
                 seen: list[_Seen], dicts: bool) -> Callable[[Any], Any]:
    """The sort key of a document under every order key (a descending key beside
    ascending ones reversed by ``_Desc``)."""
    keys = [_key_of(p, s, dicts) for p, s in zip(paths, seen, strict=True)]
    if len(keys) == 1:
        return keys[0]
    if any(descending) and not all(descending):
        def wrapped(make: Callable[[Any], Any], desc: bool) -> Callable[[Any], Any]:
            return (lambda doc: _Desc(make(doc))) if desc else make
        keys = [wrapped(k, d) for k, d in zip(keys, descending, strict=True)]
    return lambda doc: tuple([k(doc) for k in keys])


def _top_by_field(docs: Iterator[Any], name: str, n: int, descending: bool,
                  key: Callable[[Any], Any], seen: _Seen) -> list[Any]:
    """``heapq.nsmallest(n, docs, key)`` (``nlargest`` when ``descending``) for one
    top-level field: a document whose field is a plain number no better than the worst
    kept is passed over without its key (ties go to the earlier document, which is
    kept already), so most documents cost a lookup and a comparison."""
    entry = _WorseDesc if descending else _Worse
    heap: list[_Worse] = []
    bound: Any = None  # the worst kept's number, when its key is a plain number's
    for index, doc in enumerate(docs):
        v = doc.get(name, MISSING)
        t = type(v)
        if t is float:
            seen.float = True
        if bound is not None and (t is int or t is float) and v == v and (
                v <= bound if descending else v >= bound):
            continue
        k = (key(doc), -index if descending else index)
        if len(heap) < n:
            heapq.heappush(heap, entry(k, (), doc))
        elif (k > heap[0].key) if descending else (k < heap[0].key):
            heapq.heapreplace(heap, entry(k, (), doc))
        else:
            continue
        if len(heap) == n:
            worst = heap[0].key[0]
            bound = worst[2] if len(worst) == 3 and worst[:2] == (1, 1) \
                and type(worst[2]) in _NUMBERS else None
    heap.sort(key=lambda e: e.key, reverse=descending)
    return [e.doc for e in heap]


class CompiledQuery:
    """A bound query compiled once: ``rows``, ``stream`` and ``count`` over documents
    give what ``reference.run`` gives (its rows, its errors), reading no more documents
    and copying no more rows than the query needs."""

    __slots__ = ("exact", "filters", "grouped", "limit", "offset", "order", "paths", "query",
                 "row", "where")

    def __init__(self, query: ir.Query) -> None:
        self.query = query
        self.where = query.where
        self.exact = True
        self.filters: list[Pred] = []
        try:
            if isinstance(query.where, ir.And):
                compiler = _Compiler()
                self.filters = [_conjunction([
                    compiler.true(c) if isinstance(c, ir.And | ir.Or | ir.Not)
                    else compiler.leaf(c) for c in query.where.operands])]
            elif query.where is not None:
                self.filters = [_Compiler().true(query.where)]
            self.limit = _count(query.limit)
            self.offset = _count(query.offset) or 0
        except _Fallback:
            self.exact = False
        self.grouped = query.is_aggregate
        self.order: list[tuple[Callable[[Any], Any], bool]] = []
        self.paths: list[tuple[str, ...]] = []
        if not self.grouped:
            for key in query.order_by:
                item = resolve_order_key(query, key)
                path = item.expr if item is not None else key.path
                assert isinstance(path, ir.Path)
                self.order.append((ref._path_getter(path.segments), key.descending))
                self.paths.append(path.segments)
            self.row = _projection(query)

    def matched(self, documents: Iterable[Doc], *, dicts: bool = False) -> Iterator[Doc]:
        """The documents on which ``where`` is true, in their order, read one by one (a
        document that is not a mapping raises ``TypeError`` when it is read).
        ``dicts``: the caller knows every document is a ``dict`` (filtered in C)."""
        if dicts:
            out: Iterator[Doc] = iter(documents)
            for test in self.filters:
                out = filter(test, out)
            return out
        return self._checked(documents)

    def _checked(self, documents: Iterable[Doc]) -> Iterator[Doc]:
        filters, where = self.filters, self.where
        for doc in documents:
            if type(doc) is dict:
                for test in filters:
                    if not test(doc):
                        break
                else:
                    yield doc
            elif not isinstance(doc, Mapping):
                raise _not_a_document(doc)
            elif where is None or ref.evaluate_condition(where, doc) is True:
                yield doc

    def _ordered(self, documents: Iterable[Doc], dicts: bool) -> list[Doc]:
        """The matched documents in the query's order, paged."""
        getters = [g for g, _ in self.order]
        descending = [d for _, d in self.order]
        if self.limit is None:
            return ref._sort(list(self.matched(documents, dicts=dicts)), self.order)[self.offset:]
        n = self.offset + self.limit
        if n == 0:
            return []
        if not isinstance(documents, Collection):  # read once: heaps for every choice
            top = _TopK(n, getters, descending)
            for doc in self.matched(documents, dicts=dicts):
                top.add(doc)
            return top.result()[self.offset:]
        # heapq.nsmallest/nlargest are sorted(...)[:n], stable: the reference's ties
        seen = [_Seen() for _ in getters]
        key = _sort_key_fn(self.paths, descending, seen, dicts)
        if dicts and len(self.paths) == 1 and len(self.paths[0]) == 1:
            best = _top_by_field(self.matched(documents, dicts=True), self.paths[0][0], n,
                                 descending[0], key, seen[0])
        else:
            pick = heapq.nlargest if all(descending) else heapq.nsmallest
            best = pick(n, self.matched(documents, dicts=dicts), key=key)
        if any(s.decimal and s.float for s in seen):
            # a float beside a Decimal under one key: the reference sorts that key by
            # shortest texts; read again and sort as it does (rare)
            every = list(self.matched(documents, dicts=dicts))
            best = ref._sort(every, self.order)[:n]
        return best[self.offset:]

    def stream(self, documents: Iterable[Doc], *, dicts: bool = False
               ) -> Iterator[dict[str, Any]]:
        """The rows, each a copy, produced as they are known: without ``order by`` or
        ``group by``, as documents match (reading stops after the ``limit``-th row);
        with ``order by … limit n``, after one pass keeping the best ``offset + n``.
        ``dicts``: every document is known to be a ``dict``."""
        if not self.exact:
            yield from ref.run(self.query, documents)
            return
        if self.grouped:
            yield from ref._grouped_rows(self.query, list(self.matched(documents, dicts=dicts)))
            return
        if self.order:
            yield from map(self.row, self._ordered(documents, dicts))
            return
        if self.limit == 0:
            return
        matched = self.matched(documents, dicts=dicts)
        stop = None if self.limit is None else self.offset + self.limit
        yield from map(self.row, islice(matched, self.offset, stop))

    def rows(self, documents: Iterable[Doc], *, dicts: bool = False) -> list[dict[str, Any]]:
        """Every row, as ``reference.run`` returns them."""
        return list(self.stream(documents, dicts=dicts))

    def count(self, documents: Iterable[Doc], *, dicts: bool = False) -> int:
        """How many rows the query gives, without building them (a grouped query
        counts its groups); reading stops once the page is full."""
        if not self.exact or self.grouped:
            return len(self.rows(documents, dicts=dicts))
        matched = self.matched(documents, dicts=dicts)
        if self.limit is not None:
            matched = islice(matched, self.offset + self.limit)
        counted = deque(enumerate(matched, 1), maxlen=1)  # counts in C, keeps one
        total = counted[0][0] if counted else 0
        return max(0, total - self.offset)


_COMPILED: Memo[ir.Query, CompiledQuery] = Memo(256, "compiled queries")


def compile_query(query: ir.Query) -> CompiledQuery:
    """The compiled form of a bound query (memoised by the query)."""
    try:
        hit = _COMPILED.get(query)
    except TypeError:  # an unhashable literal (a signalling NaN): compiled each time
        return CompiledQuery(query)
    return hit if hit is not None else _COMPILED.put(query, CompiledQuery(query))


def run(query: ir.Query, documents: Iterable[Doc]) -> list[dict[str, Any]]:
    """The rows of a bound query over documents: ``reference.run``'s answer and errors,
    compiled. Every document is checked to be a mapping first (as the reference does)."""
    docs = documents if isinstance(documents, list | tuple) else list(documents)
    kinds = set(map(type, docs))
    if kinds - {dict}:
        for doc in docs:
            if not isinstance(doc, Mapping):
                raise _not_a_document(doc)
    return compile_query(query).rows(docs, dicts=not kinds - {dict})


def run_streamed(query: ir.Query, documents: Iterable[Doc]) -> Iterator[dict[str, Any]]:
    """The rows of a bound query over documents **read one at a time** — the entry point
    for completing a query over rows streamed from elsewhere (client-side completion).

    The rows and their order are ``reference.run``'s. Documents are read as needed:
    without ``order by``/``group by``, each row is yielded as its document matches and
    reading stops after the ``limit``-th row; ``order by … limit n`` keeps only the best
    ``offset + n`` documents while it reads (memory bounded by n, not by the input);
    ``order by`` without a limit and ``group by`` read everything first. Unlike ``run``,
    a document that is not a mapping raises ``TypeError`` only when it is read."""
    return compile_query(query).stream(documents)


def count_streamed(query: ir.Query, documents: Iterable[Doc]) -> int:
    """How many rows ``run_streamed`` would yield, counted without building them."""
    return compile_query(query).count(documents)
