"""CrossQL conditions → Firestore filter trees with exactly the reference semantics.

Three-valued logic is compiled by polarity, as for MongoDB: ``build(c, True)`` is
the filter of documents where ``c`` is true, ``build(c, False)`` where it is
false; ``not`` swaps them and ``and``/``or`` follow De Morgan. Documents where
``c`` is unknown match neither. Firestore's own semantics make most of this
exact (https://firebase.google.com/docs/firestore/query-data/queries):

- Every filter leaves out documents that lack the field, and ``<``, ``<=``,
  ``>``, ``>=`` compare only values of the operand's type (numbers with numbers
  across ints and doubles, strings with strings by code point). So
  ``not (age > 5)`` is exactly ``age <= 5``.
- ``== null`` matches an explicit null only; ``!=``, ``not-in`` and ``!= null``
  leave out missing *and* null fields, like our ``!=``.
- ``==`` and ``in`` compare whole values; scalars never match array elements.

Where Firestore differs we rewrite or refuse (each checked on the emulator):

- ``in``/``not-in``/``array-contains(-any)`` never match a null (``in [null]``
  matches nothing): ``in [.., null]`` becomes ``in [..] or == null``; a null
  element cannot be searched for at all, so ``contains null`` is refused.
- A ``not-in`` list holding null matches nothing: null is dropped from it (a
  null field is excluded anyway, and no present value equals null).
- Arrays cannot hold arrays in Firestore, so a test for an array element or an
  equality with a value that holds one is decided at compile time.
- There is no ``exists``, ``not exists``, "not contains", regex or size filter.

``_id`` is the document id: always a present, non-null string, compared with
``FieldPath.document_id()`` and document references.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

from crossql import ir
from crossql._memo import Memo
from crossql.backends.firestore.plan import (
    ID_FIELD,
    INEQUALITY_OPS,
    And,
    FieldFilter,
    Filter,
    FilterOp,
    Or,
    leaves,
)
from crossql.compiler.templates import Hole, HoleInspected, Refill
from crossql.errors import CapabilityError
from crossql.semantics.reference import freeze
from crossql.visitor import ConditionVisitor

BACKEND = "firestore"

ALWAYS: Filter = And(())
"""The filter every document matches."""

NEVER: Filter = Or(())
"""The filter no document matches."""

_NEGATED: dict[str, FilterOp] = {"<": ">=", "<=": ">", ">": "<=", ">=": "<"}
_MAX_NAME_BYTES = 1500


def valid_document_id(text: str) -> bool:
    """Whether ``text`` can be a Firestore document id
    (https://firebase.google.com/docs/firestore/quotas#collections_documents_and_fields)."""
    return (bool(text) and "/" not in text and text != "." and text != ".."
            and not _reserved(text) and len(text.encode("utf-8")) <= _MAX_NAME_BYTES)


def _reserved(name: str) -> bool:
    """Names like ``__x__`` (``__.*__``, so at least four characters) are Firestore's."""
    return len(name) >= 4 and name.startswith("__") and name.endswith("__")


def successor(prefix: str) -> str | None:
    """The least string greater than every string that starts with ``prefix`` (None:
    there is none). Strings sort by code point, so this is the prefix with its last
    code point incremented (past U+10FFFF it carries; surrogates are skipped)."""
    if prefix:
        code = ord(prefix[-1]) + 1
        if code < 0xD800:  # the common case: no surrogate to skip, nothing to carry
            return prefix[:-1] + chr(code)
    chars = list(prefix)
    while chars:
        code = ord(chars.pop()) + 1
        if 0xD800 <= code <= 0xDFFF:
            code = 0xE000
        if code <= 0x10FFFF:
            return "".join(chars) + chr(code)
    return None


def _holds_array(value: Any) -> bool:
    """True for a list with a list inside: Firestore cannot store one, so no field
    equals it and no array holds it."""
    return type(value) is list and any(type(v) is list for v in value)


_KEY_TAGS: dict[type, str] = {str: "string", int: "number", float: "number", bool: "bool"}


_PLAIN_KEYS = frozenset({str, int, float, type(None)})
"""Types of plan values that are their own dedupe key: no two of them are equal unless
the CrossQL values are (1 == 1.0 in both; ``True == 1`` is why bool is not here)."""


def _key(value: Any) -> Any:
    """``freeze(value)`` (equal CrossQL values, 1 and 1.0 but not 1 and true, key
    alike), without its type dispatch for the common scalars."""
    tag = _KEY_TAGS.get(type(value))
    if tag is not None:
        return (tag, value)
    return freeze(value)


def _immutable(value: Any) -> Any:
    if type(value) is list:
        return tuple(_immutable(v) for v in value)
    return value


def _dedupe(values: Iterable[Any]) -> list[Any]:
    seen: set[Any] = set()
    out = []
    for v in values:
        key = _key(v)
        if key not in seen:
            seen.add(key)
            out.append(v)
    return out


@dataclass(frozen=True, slots=True)
class Exists:
    """``exists(field)`` while the tree is built: dropped when another filter on the
    field already implies it, otherwise expanded (``== null or != null``)."""

    field: tuple[str, ...]
    origin: Any = dc_field(default=None, compare=False, repr=False)


Node = Filter | Exists


# --- and / or with simplification ----------------------------------------------------


def _plain_value(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain_value(v) for v in value]
    return value


def and_(parts: Sequence[Node]) -> Node:
    """Conjunction: flattened, constants folded, ``!=``s on one field merged into
    ``not-in``, and ``!= null``/``exists`` dropped where another filter implies them."""
    if len(parts) == 2:
        a, b = parts
        if (type(a) is FieldFilter and type(b) is FieldFilter and a.field != b.field
                and not (a.value is None and a.op == "!=")
                and not (b.value is None and b.op == "!=")):
            return And((a, b))  # nothing to merge, repeat or imply
    # one pass: flatten, and look for the common case: no two filters with one field and
    # one operator, no `!=` or `not-in`: nothing to merge or repeat, so the conjunction
    # is ``flat`` less the `exists` another filter implies (``general`` otherwise)
    flat: list[Node] = []
    add = flat.append
    seen: set[tuple[tuple[str, ...], str]] = set()
    exists: list[int] = []
    general = False
    for part in parts:
        kind = type(part)
        if kind is FieldFilter:
            if not general:  # (mypy does not narrow on `kind`)
                op = part.op  # type: ignore[union-attr]
                key = (part.field, op)  # type: ignore[union-attr]
                if key in seen or op in _NOT_EQUAL_OPS:
                    general = True
                else:
                    seen.add(key)
            add(part)
        elif kind is And:
            general = _flatten(part.filters, flat, seen, exists, general)  # type: ignore[union-attr]
        elif kind is Or and not part.filters:  # type: ignore[union-attr]
            return NEVER
        else:
            if kind is Exists:
                exists.append(len(flat))
            add(part)
    if general:
        return _and_general(flat)
    if exists:
        _drop_implied(flat, exists)
    if len(flat) == 1:
        return flat[0]
    return And(tuple(flat))  # type: ignore[arg-type]  # Exists leaves are expanded later


def _flatten(children: Sequence[Node], flat: list[Node],
             seen: set[tuple[tuple[str, ...], str]], exists: list[int], general: bool) -> bool:
    """``and_``'s pass over the children of an ``And`` among its parts (no ``And``, no
    empty ``Or``: ``and_`` made it): each appended to ``flat``; whether ``general`` now."""
    for child in children:
        if type(child) is FieldFilter:
            if not general:
                op = child.op
                key = (child.field, op)
                if key in seen or op in _NOT_EQUAL_OPS:
                    general = True
                else:
                    seen.add(key)
        elif type(child) is Exists:
            exists.append(len(flat))
        flat.append(child)
    return general


_NOT_EQUAL_OPS = frozenset({"!=", "not-in"})


_PAIRWISE = 8
"""Filters on one field compared pair by pair before a set of their keys takes over: a
plan template's hole refuses to be hashed, and most fields have one or two filters."""


def _and_general(flat: list[Node]) -> Node:
    """``and_`` of its flattened parts, some of which may merge, repeat or imply another."""
    out: list[Node] = []
    add = out.append
    # per field: its first filter, or the list of its filters once there are two (most
    # fields have one filter; a filter repeats one with its operator only if their keys
    # are equal, and most fields with two have two operators: a range)
    on_field: dict[tuple[str, ...], Any] = {}
    keys_on_field: dict[tuple[str, ...], set[tuple[Any, ...]]] = {}
    first = on_field.setdefault
    not_equal = 0
    implied: list[int] = []  # where a `!= null` or an `exists` another filter may imply is
    for part in flat:
        if type(part) is FieldFilter:
            op = part.op
            prev = first(part.field, part)
            if prev is not part:
                if type(prev) is FieldFilter:
                    kept = on_field[part.field] = [prev]
                else:
                    kept = prev
                if _repeats(part, kept, keys_on_field):
                    continue
                kept.append(part)
            if op == "!=" or op == "not-in":
                if part.value is None:
                    implied.append(len(out))
                else:
                    not_equal += 1
        elif type(part) is Exists:
            implied.append(len(out))
        add(part)
    if not_equal > 1:
        return _and_merged(flat)
    if implied:
        _drop_implied(out, implied)
    if len(out) == 1:
        return out[0]
    return And(tuple(out))  # type: ignore[arg-type]  # Exists leaves are expanded later


def _repeats(part: FieldFilter, kept: list[FieldFilter],
             keys_on_field: dict[tuple[str, ...], set[tuple[Any, ...]]]) -> bool:
    """Whether ``part`` repeats one of ``kept``, the filters on its field so far (by
    their keys, in ``keys_on_field``, once there are many)."""
    if len(kept) < _PAIRWISE:
        op, key = part.op, _leaf_key(part)
        return any(other.op == op and _leaf_key(other) == key for other in kept)
    # many filters on one field: by hash, or the and is quadratic
    keys = keys_on_field.get(part.field)
    if keys is None:
        keys = keys_on_field[part.field] = {_leaf_key(o) for o in kept}
    key = _leaf_key(part)
    if key in keys:
        return True
    keys.add(key)
    return False


def _drop_implied(parts: list[Node], candidates: list[int]) -> None:
    """Remove from ``parts`` (deduplicated) each ``!= null`` or ``exists`` (at the
    ``candidates`` indices) that another filter implies, and each repeated ``exists``."""
    if len(candidates) > _PAIRWISE:
        _drop_implied_indexed(parts, candidates)
        return
    drop: list[int] = []
    exists: set[tuple[str, ...]] = set()
    for i in candidates:
        part = parts[i]
        if type(part) is Exists:
            if part.field in exists or _implied_exists(part.field, parts):
                drop.append(i)
            else:
                exists.add(part.field)
        elif _implied_non_null(part, parts):  # type: ignore[arg-type]  # a `!= null`
            drop.append(i)  # any other filter on the field (but `== null`) means non-null
    for i in reversed(drop):
        del parts[i]


def _drop_implied_indexed(parts: list[Node], candidates: list[int]) -> None:
    """``_drop_implied`` for many candidates: the filters' paths indexed once (asking
    ``_implied_exists`` of each candidate scans every part: quadratic)."""
    tested: set[tuple[str, ...]] = set()  # a filter tests it or a path under it
    under: set[tuple[str, ...]] = set()  # a filter tests a path under it
    non_null: set[tuple[str, ...]] = set()  # a filter on it other than == / != null
    for leaf in parts:
        if type(leaf) is FieldFilter:
            path = leaf.field
            tested.update(path[:n] for n in range(1, len(path) + 1))
            under.update(path[:n] for n in range(1, len(path)))
            if not (leaf.value is None and leaf.op in ("==", "!=")):
                non_null.add(path)
    exists: set[tuple[str, ...]] = set()
    dropped: set[int] = set()
    for i in candidates:
        part = parts[i]
        if isinstance(part, Exists):
            if part.field in exists or part.field in tested:
                dropped.add(i)
            else:
                exists.add(part.field)
        elif isinstance(part, FieldFilter) and (part.field in under
                                                or part.field in non_null):  # `!= null`
            dropped.add(i)
    parts[:] = [part for i, part in enumerate(parts) if i not in dropped]


def _and_merged(flat: list[Node]) -> Node:
    """``and_`` of flattened parts with several ``!=``/``not-in`` filters: those on
    one field merge into one ``not-in``."""
    merged = _merge_not_equal(flat)
    out: list[Node] = []
    seen: set[tuple[Any, ...]] = set()
    implied: list[int] = []
    for part in merged:
        if type(part) is FieldFilter:
            key = _leaf_key(part)
            if key in seen:
                continue
            seen.add(key)
            if part.op == "!=" and part.value is None:
                implied.append(len(out))
        elif type(part) is Exists:
            implied.append(len(out))
        out.append(part)
    if implied:
        _drop_implied(out, implied)
    if len(out) == 1:
        return out[0]
    return And(tuple(out))  # type: ignore[arg-type]  # Exists leaves are expanded later


def _leaf_key(leaf: FieldFilter) -> tuple[Any, ...]:
    """Equal for filters that are the same filter (their values equal as CrossQL's)."""
    value = leaf.value
    return (leaf.field, leaf.op, value if type(value) in _PLAIN_KEYS else _key(value))


def _implied_exists(field: tuple[str, ...], parts: list[Node]) -> bool:
    """Whether a filter among ``parts`` tests ``field`` or a path under it (so the
    field exists in every document they match)."""
    n = len(field)
    head = field[0]
    for leaf in parts:
        if type(leaf) is not FieldFilter:
            continue
        path = leaf.field
        if path[0] == head and (path == field or (len(path) > n and path[:n] == field)):
            return True
    return False


def _implied_non_null(part: FieldFilter, parts: list[Node]) -> bool:
    """Whether another filter among ``parts`` makes ``part``'s field (``!= null``)
    non-null: any filter on it or under it, but ``== null``/``!= null`` on it."""
    field = part.field
    n = len(field)
    for leaf in parts:
        if type(leaf) is not FieldFilter:
            continue
        path = leaf.field
        if path == field:
            if leaf is not part and not (leaf.value is None and leaf.op in ("==", "!=")):
                return True
        elif len(path) > n and path[:n] == field:
            return True
    return False


def _merge_not_equal(flat: list[Node]) -> list[Node]:
    """Several ``!=``/``not-in`` on one field: one ``not-in`` (Firestore allows one
    per query)."""
    merged: list[Node] = []
    not_equal: dict[tuple[str, ...], int] = {}
    values: dict[int, list[Any]] = {}  # at a merged filter's place: all its values
    for part in flat:
        if (type(part) is FieldFilter and part.op in ("!=", "not-in")
                and part.value is not None):
            at = not_equal.get(part.field)
            if at is None:
                not_equal[part.field] = len(merged)
                merged.append(part)
                continue
            _more_values(values, merged, at, part)
            continue
        merged.append(part)
    _merge_values(values, merged, "!=", "not-in")
    return merged


def _more_values(values: dict[int, list[Any]], merged: list[Node], at: int,
                 part: FieldFilter) -> None:
    """Add ``part``'s values to the filter at ``merged[at]`` (merged once, at the end:
    merging as they come re-deduplicates the growing list, quadratic in its length)."""
    kept = values.get(at)
    if kept is None:
        prev = merged[at]
        assert isinstance(prev, FieldFilter)
        kept = values[at] = _values(prev)
    kept += _values(part)


def _merge_values(values: dict[int, list[Any]], merged: list[Node], one: FilterOp,
                  many: FilterOp) -> None:
    for at, kept in values.items():
        prev = merged[at]
        assert isinstance(prev, FieldFilter)
        merged[at] = _set_filter(prev.field, one, many, _dedupe(kept), prev.origin)


def or_(parts: Sequence[Node], origin: Any) -> Node:
    """Disjunction: flattened, constants folded, ``==``/``in`` on one field merged into
    one ``in`` (so many an ``or`` needs no Or filter at all)."""
    if len(parts) == 2:
        a, b = parts
        if type(a) is FieldFilter and type(b) is FieldFilter and a.field != b.field:
            return Or((a, b), origin)  # nothing to merge or repeat
    flat: list[Node] = []
    for part in parts:
        if type(part) is Or:
            flat.extend(part.filters)
        elif type(part) is And and not part.filters:
            return ALWAYS
        else:
            flat.append(part)
    merged: list[Node] = []
    equal: dict[tuple[str, ...], int] = {}
    values: dict[int, list[Any]] = {}
    seen: set[tuple[Any, ...]] = set()
    for part in flat:
        if type(part) is FieldFilter:
            op = part.op
            value = part.value
            if (op == "==" or op == "in") and value is not None:
                # (no other part has its key: one with it would be merged here)
                at = equal.get(part.field)
                if at is not None:
                    _more_values(values, merged, at, part)
                    continue
                equal[part.field] = len(merged)
            else:
                key = _leaf_key(part)
                if key in seen:
                    continue
                seen.add(key)
        merged.append(part)
    if values:
        _merge_values(values, merged, "==", "in")
    if not merged:
        return NEVER
    if len(merged) == 1:
        return merged[0]
    return Or(tuple(merged), origin)  # type: ignore[arg-type]  # Exists expanded later


def _values(leaf: FieldFilter) -> list[Any]:
    if leaf.op in ("in", "not-in", "array_contains_any"):
        return [_plain_value(v) for v in leaf.value]
    return [_plain_value(leaf.value)]


def _set_filter(path: tuple[str, ...], one: FilterOp, many: FilterOp, values: list[Any],
                origin: Any) -> FieldFilter:
    """``path one v`` for a single value, ``path many [..]`` for several."""
    if len(values) == 1:
        return FieldFilter(path, one, _immutable(values[0]), origin)
    return FieldFilter(path, many, tuple(_immutable(v) for v in values), origin)


# --- the builder ----------------------------------------------------------------------


Refuse = Callable[..., CapabilityError]

GOOD_NAMES: Memo[str | tuple[str, ...], bool] = Memo(4096, "firestore good names")
"""Collection names and field paths (segments) found valid (the compiler's name check):
checking a name again is a lookup. Bounded: names come from queries."""
GOOD_NAMES.put(("_id",), True)

_REFUSED: dict[type, tuple[str, str, str, str]] = {
    ir.Matches: ("matches", "matches", "firestore cannot evaluate `matches`",
                 "Firestore has no regular-expression filter; `startswith` is the one "
                 "string test it can answer (as a range)"),
    ir.Size: ("size", "size", "firestore cannot evaluate `size(...)`",
              "Firestore cannot filter on the length of an array; store the length "
              "in a field of its own and compare that"),
}
"""The predicates Firestore has no filter for: (rule, construct, message, hint)."""


class FilterBuilder(ConditionVisitor[Node]):
    """Builds the filter of documents where a condition is true or false.

    ``refusal(rule, construct, node, message, hint)`` makes the located error. One
    ``visit_<Node>`` per condition node, each called as ``(node, truth, at, negation)``:
    ``at`` is the node errors point at (the innermost `not` when the form is pushed
    down), ``negation`` the innermost ``not`` above the node."""

    NAME = BACKEND
    UNSUPPORTED = frozenset(_REFUSED)

    def __init__(self, refusal: Refuse,
                 required: frozenset[tuple[str, ...]] = frozenset()) -> None:
        self.refusal = refusal
        self.required = required
        """Paths present in every document (the schema says so): for them "missing"
        is impossible, so `exists`, `not (p == null)` and `not (p != null)` are exact."""
        self.made_exists = 0
        """How many ``Exists`` the builder made: the tree holds at most as many (with any,
        ``expand_exists`` must run)."""
        self.made_id = False
        """Whether the tree may hold a filter on the document id."""
        self.new_names = False
        """Whether the condition has a path not in ``GOOD_NAMES`` (not checked before):
        each leaf handler looks, so the names check needs no walk of its own."""

    def build(self, cond: ir.Condition, truth: bool = True, negation: ir.Not | None = None) -> Node:
        """The filter of documents where ``cond`` evaluates to ``truth``. ``negation`` is
        the innermost ``not`` above ``cond``: errors about a pushed-down form point at it."""
        at = cond if truth or negation is None else negation
        try:
            handler = self.DISPATCH[type(cond)]  # visit(), less a call: each compile's first
        except KeyError:
            return self.visit(cond, truth, at, negation)  # not a condition node: its error
        built: Node = handler(self, cond, truth, at, negation)
        return built

    def refuse(self, node: ir.Condition, *args: Any) -> Node:
        """A predicate of ``UNSUPPORTED``: its located refusal (at ``args[1]``, ``at``)."""
        rule, construct, message, hint = _REFUSED[type(node)]
        raise self.refusal(rule, construct, args[1], message, hint)

    def visit_Not(self, cond: ir.Not, truth: bool, at: Any, negation: ir.Not | None) -> Node:
        operand = cond.operand
        truth = not truth
        # build(operand, truth, cond), without its checks
        built: Node = self.DISPATCH[type(operand)](self, operand, truth,
                                                   operand if truth else cond, cond)
        return built

    # `and`/`or` build their operands inline (``build`` of each): the hottest loop
    # (loops, not list comprehensions: in Python 3.11 each comprehension is a function
    # call of its own, dear next to two or three operands). Two methods, not one for both:
    # one would read `.operands` of two classes, which 3.11 cannot specialise (measured:
    # 2% more instructions for E)
    def visit_And(self, cond: ir.And, truth: bool, at: Any, negation: ir.Not | None) -> Node:
        handlers = self.DISPATCH
        parts: list[Node] = []
        add = parts.append
        if truth:
            for c in cond.operands:
                add(handlers[type(c)](self, c, True, c, negation))
            return and_(parts)
        if negation is None:
            for c in cond.operands:
                add(handlers[type(c)](self, c, False, c, None))
        else:
            for c in cond.operands:
                add(handlers[type(c)](self, c, False, negation, negation))
        return or_(parts, at)

    def visit_Or(self, cond: ir.Or, truth: bool, at: Any, negation: ir.Not | None) -> Node:
        handlers = self.DISPATCH
        parts: list[Node] = []
        add = parts.append
        if truth:
            for c in cond.operands:
                add(handlers[type(c)](self, c, True, c, negation))
            return or_(parts, cond)
        if negation is None:
            for c in cond.operands:
                add(handlers[type(c)](self, c, False, c, None))
        else:
            for c in cond.operands:
                add(handlers[type(c)](self, c, False, negation, negation))
        return and_(parts)

    def visit_Exists(self, cond: ir.Exists, truth: bool, at: Any, negation: ir.Not | None) -> Node:
        path = cond.path
        if path.segments not in GOOD_NAMES:
            self.new_names = True
        if path.segments == ("_id",) or path.segments in self.required:
            return ALWAYS if truth else NEVER
        if not truth:
            raise self._not_exists(at, path)
        self.made_exists += 1
        return Exists(path.segments, at)

    def visit_Compare(self, cond: ir.Compare, truth: bool, at: Any,
                      negation: ir.Not | None) -> Node:
        op = cond.op
        literal = cond.value
        value = literal.value if type(literal) is _LITERAL else _value(literal)
        segments = cond.path.segments
        if segments not in GOOD_NAMES:
            self.new_names = True
        if op == "==" or op == "!=":
            if value is None or segments == ("_id",) or type(value) is list:
                return self.equality(op, cond.path, value, truth, at)
            return FieldFilter(segments, "==" if (op == "==") == truth else "!=", value, at)
        if segments == ("_id",):
            return self.order(cond.path, op if truth else _NEGATED[op], value, at)
        return FieldFilter(segments, op if truth else _NEGATED[op], value, at)

    def visit_Between(self, cond: ir.Between, truth: bool, at: Any,
                      negation: ir.Not | None) -> Node:
        path = cond.path
        lo, hi = _value(cond.low), _value(cond.high)
        segments = path.segments
        if segments not in GOOD_NAMES:
            self.new_names = True
        if segments != ("_id",):  # and_/or_ would return these two as they are
            if truth:
                return And((FieldFilter(segments, ">=", lo, at),
                            FieldFilter(segments, "<=", hi, at)))
            return Or((FieldFilter(segments, "<", lo, at), FieldFilter(segments, ">", hi, at)),
                      at)
        if truth:
            return and_([self.order(path, ">=", lo, at), self.order(path, "<=", hi, at)])
        return or_([self.order(path, "<", lo, at), self.order(path, ">", hi, at)], at)

    def visit_In(self, cond: ir.In, truth: bool, at: Any, negation: ir.Not | None) -> Node:
        listed = cond.values
        segments = cond.path.segments
        if segments not in GOOD_NAMES:
            self.new_names = True
        if type(listed) is ir.ListValue and listed.items and segments != ("_id",):
            values: list[Any] = []
            for item in listed.items:
                if type(item) is not _LITERAL or item.value is None:
                    break
                values.append(item.value)
            else:  # no null, no list: what in_ makes of them, less its general cases
                stored = _dedupe(values)
                if truth != cond.negated:
                    return _set_filter(segments, "==", "in", stored, at)
                return _set_filter(segments, "!=", "not-in", stored, at)
        return self.in_(cond.path, _value(listed), truth != cond.negated, at)

    def visit_Contains(self, cond: ir.Contains, truth: bool, at: Any,
                  negation: ir.Not | None) -> Node:
        literal = cond.value
        value = literal.value if type(literal) is _LITERAL else _value(literal)
        segments = cond.path.segments
        if segments not in GOOD_NAMES:
            self.new_names = True
        if truth and value is not None and type(value) is not list and segments != ("_id",):
            return FieldFilter(segments, "array_contains", value, at)  # `contains` as it is
        return self.contains(cond.path, [value], truth, at, cond, "contains")

    def visit_ContainsAny(self, cond: ir.ContainsAny, truth: bool, at: Any,
                      negation: ir.Not | None) -> Node:
        if cond.path.segments not in GOOD_NAMES:
            self.new_names = True
        return self.contains(cond.path, _value(cond.values), truth, at, cond, "contains any")

    def visit_ContainsAll(self, cond: ir.ContainsAll, truth: bool, at: Any,
                      negation: ir.Not | None) -> Node:
        if cond.path.segments not in GOOD_NAMES:
            self.new_names = True
        return self.contains_all(cond.path, _value(cond.values), truth, at, cond)

    def visit_StartsWith(self, cond: ir.StartsWith, truth: bool, at: Any,
                    negation: ir.Not | None) -> Node:
        segments = cond.path.segments
        if segments not in GOOD_NAMES:
            self.new_names = True
        literal = cond.value
        prefix: Any = literal.value if type(literal) is _LITERAL else _value(literal)
        if isinstance(prefix, Hole):  # a plan template's: the range made when filled
            if truth and segments != ("_id",):
                return And((FieldFilter(segments, ">=", prefix, at),
                            FieldFilter(segments, "<", prefix.then(_successor), at)))
            raise HoleInspected(prefix.name)
        if truth and prefix and segments != ("_id",):
            code = ord(prefix[-1]) + 1
            if code < 0xD800:  # successor(prefix) without a carry: what startswith makes
                return And((FieldFilter(segments, ">=", prefix, at),
                            FieldFilter(segments, "<", prefix[:-1] + chr(code), at)))
        return self.startswith(cond.path, prefix, truth, at)

    def _not_exists(self, at: Any, path: ir.Path) -> CapabilityError:
        return self.refusal(
            "not-exists", "not exists", at,
            f"firestore cannot find documents without `{path.dotted}`",
            "Firestore indexes only the fields a document has, so no filter matches a "
            f"missing field; store an explicit null and test `{path.dotted} == null`")

    # -- predicates ----------------------------------------------------------------------
    def equality(self, op: str, path: ir.Path, value: Any, truth: bool, at: Any) -> Node:
        """``path == value`` / ``path != value`` true or false."""
        segs = path.segments
        if value is None:
            # both are two-valued: `== null` is true on an explicit null only, `!= null` on
            # a present non-null value only; so each is false on a missing field
            is_null = (op == "==") == truth
            if segs == ("_id",):
                return NEVER if is_null else ALWAYS
            if not truth and segs not in self.required:
                raise self._not_exists(at, path)
            return FieldFilter(segs, "==" if is_null else "!=", None, at)
        equal = (op == "==") == truth
        if segs == ("_id",):
            if not (isinstance(value, str) and valid_document_id(value)):
                return NEVER if equal else ALWAYS  # no id equals it; every id differs
            self.made_id = True
            return FieldFilter(ID_FIELD, "==" if equal else "!=", value, at)
        if _holds_array(value):
            return NEVER if equal else FieldFilter(segs, "!=", None, at)
        return FieldFilter(segs, "==" if equal else "!=", _immutable(value), at)

    def order(self, path: ir.Path, op: FilterOp, value: Any, at: Any) -> Node:
        """``path op value`` for op in < <= > >= (Firestore brackets types as we need)."""
        segs = path.segments
        if segs != ("_id",):
            return FieldFilter(segs, op, value, at)
        if not isinstance(value, str):
            return NEVER  # a string id against a number: unknown either way
        if value == "":
            return ALWAYS if op in (">", ">=") else NEVER
        if not valid_document_id(value):
            raise self.refusal(
                "id-value", "value", at,
                f"firestore cannot compare document ids with {value!r}",
                "Firestore compares ids as document paths; compare `_id` with a valid "
                "document id (no `/`, not `.`/`..`, not `__...__`)")
        self.made_id = True
        return FieldFilter(ID_FIELD, op, value, at)

    def in_(self, path: ir.Path, values: list[Any], true_set: bool, at: Any) -> Node:
        """``path in values`` (true_set) or its false set: present, non-null, none equal."""
        segs = path.segments
        has_null = any(v is None for v in values)
        stored = _dedupe(v for v in values if v is not None and not _holds_array(v))
        if segs == ("_id",):
            ids = [v for v in stored if isinstance(v, str) and valid_document_id(v)]
            self.made_id = self.made_id or bool(ids)
            if true_set:
                return _set_filter(ID_FIELD, "==", "in", ids, at) if ids else NEVER
            return _set_filter(ID_FIELD, "!=", "not-in", ids, at) if ids else ALWAYS
        if true_set:
            # Firestore's `in` never matches null: the null goes to an `== null` of its own
            parts: list[Node] = []
            if stored:
                parts.append(_set_filter(segs, "==", "in", stored, at))
            if has_null:
                parts.append(FieldFilter(segs, "==", None, at))
            return or_(parts, at)
        if not stored:
            return FieldFilter(segs, "!=", None, at)
        # a null in `not-in` makes it match nothing; null fields are left out anyway
        return _set_filter(segs, "!=", "not-in", stored, at)

    def _array_refusals(self, path: ir.Path, values: list[Any], truth: bool, at: Any,
                        construct: str) -> None:
        if not truth:
            raise self.refusal(
                "not-contains", construct, at,
                f"firestore cannot find arrays that do not match `{construct}`",
                "Firestore has no array-does-not-contain filter")
        if any(v is None for v in values):
            raise self.refusal(
                "contains-null", construct, at,
                f"firestore cannot find a null element with `{construct}`",
                "Firestore's array-contains filters never match a null element")

    def contains(self, path: ir.Path, values: list[Any], truth: bool, at: Any, node: Any,
                 construct: str) -> Node:
        """``contains v`` (one value) or ``contains any [..]``."""
        if path.segments == ("_id",):
            return NEVER  # an id is a string, not an array: unknown
        self._array_refusals(path, values, truth, at, construct)
        elements = _dedupe(v for v in values if not isinstance(v, list))
        return _set_filter(path.segments, "array_contains", "array_contains_any", elements,
                           at) if elements else NEVER

    def contains_all(self, path: ir.Path, values: list[Any], truth: bool, at: Any,
                     node: Any) -> Node:
        """``contains all [..]``: exact only as one ``array_contains``."""
        if path.segments == ("_id",):
            return NEVER
        self._array_refusals(path, values, truth, at, "contains all")
        if any(isinstance(v, list) for v in values):
            return NEVER  # no Firestore array holds an array
        elements = _dedupe(values)
        if not elements:
            raise self.refusal(
                "contains-all", "contains all", at,
                "firestore cannot evaluate `contains all []`",
                "it is true for every array, and Firestore cannot test that a field is an array")
        if len(elements) > 1:
            raise self.refusal(
                "contains-all", "contains all", at,
                f"firestore cannot evaluate `contains all` with {len(elements)} values",
                "Firestore allows one array-contains per query (or per disjunction); "
                "`contains all` with one value is the form it can answer")
        return FieldFilter(path.segments, "array_contains", _immutable(elements[0]), at)

    def startswith(self, path: ir.Path, prefix: str, truth: bool, at: Any) -> Node:
        """``startswith p`` as the exact range ``>= p and < successor(p)``."""
        upper = successor(prefix)
        segments = path.segments
        if truth and prefix and upper is not None and segments != ("_id",):
            # what and_ makes of the two (their operators differ)
            return And((FieldFilter(segments, ">=", prefix, at),
                        FieldFilter(segments, "<", upper, at)))
        if prefix == "":
            if not truth:
                return NEVER  # every string starts with ""
            if path.segments == ("_id",):
                return ALWAYS
            return FieldFilter(path.segments, ">=", "", at)
        if truth:
            parts = [self.order(path, ">=", prefix, at)]
            if upper is not None:
                parts.append(self.order(path, "<", upper, at))
            return and_(parts)
        parts = [self.order(path, "<", prefix, at)]
        if upper is not None:
            parts.append(self.order(path, ">=", upper, at))
        return or_(parts, at)



_LITERAL = ir.Literal


def _value(value: ir.Value) -> Any:
    if type(value) is _LITERAL:
        return value.value
    if isinstance(value, ir.Param):  # pragma: no cover - plans are compiled from bound IR
        raise ValueError(f"parameter :{value.name} is not bound")
    return ir.python_value(value)


# --- after building: exists, options, limits ------------------------------------------------


def expand_exists(node: Node, allowed: bool, refuse: Refuse) -> Filter:
    """Replace each remaining ``Exists`` with ``== null or != null`` (needs both options)."""
    if isinstance(node, Exists):
        if not allowed:
            dotted = ".".join(node.field)
            raise refuse(
                "exists", "exists", node.origin, "firestore cannot evaluate `exists(...)`",
                f"Firestore has no exists filter; FirestoreOptions(native_not_equal=True, "
                f"native_or=True) runs it as `{dotted} == null or {dotted} != null`, or "
                f"test `{dotted} != null` if nulls need not match")
        return Or((FieldFilter(node.field, "==", None, node.origin),
                   FieldFilter(node.field, "!=", None, node.origin)), node.origin)
    if isinstance(node, FieldFilter):
        return node
    children: list[Filter] | None = None
    simple = type(node) is And  # only Ors replace children (see below)
    for i, child in enumerate(node.filters):
        if type(child) is FieldFilter:
            continue
        new = expand_exists(child, allowed, refuse)
        if new is not child:
            if children is None:
                children = list(node.filters)
            children[i] = new
            simple = simple and type(new) is Or and bool(new.filters)
    if children is None:
        return node  # and_/or_ would give it back: it is their own output
    if simple:
        return And(tuple(children))  # an And never merges, drops or flattens an Or
    out = or_(children, node.origin) if isinstance(node, Or) else and_(children)
    assert not isinstance(out, Exists)
    return out


def expand_top_exists(node: And, made: int, allowed: bool, refuse: Refuse) -> Filter | None:
    """``expand_exists(node, allowed, refuse)`` when the ``made`` ``Exists`` (all the
    builder made) are children of ``node``, the top ``And``, without a walk of the tree
    under it; None when fewer are there (some dropped or deeper): ``expand_exists`` then."""
    kinds = list(map(type, node.filters))
    if kinds.count(Exists) != made:
        return None
    children = list(node.filters)
    at = -1
    for _ in range(made):
        at = kinds.index(Exists, at + 1)
        children[at] = expand_exists(children[at], allowed, refuse)
    return And(tuple(children))  # as expand_exists: each Exists became an Or


def scan(node: Filter, inequalities: list[FieldFilter], special: list[FieldFilter],
         present: set[tuple[str, ...]], large: list[FieldFilter] | None = None
         ) -> tuple[int, int, int]:
    """One walk over a filter tree, for the compiler's checks: appends the leaves with an
    inequality to ``inequalities`` and those with limits of their own (a list of values,
    ``!=``) to ``special``, in order; adds to ``present`` the fields of the inequalities
    at the top of the tree (every matching document has them; ``has_field`` finds the
    others). Returns how many leaves the tree has, and its disjunctive normal form: how
    many disjunctions it has (each value of ``in`` and ``array-contains-any`` counting
    as one, as Firestore counts them) and the most ``array-contains``/
    ``array-contains-any`` filters in one of them. ``large`` (when given) gets the leaves
    whose value is neither a number, a bool, null nor a string of at most
    ``SHORT_STRING`` characters: the only ones that can pass Firestore's query value
    limit (the compiler sizes just those, when there are any)."""
    if large is None:
        large = []
    if isinstance(node, FieldFilter):
        if not fits(node.value):
            large.append(node)
        present.add(node.field)
        kind = _LEAF_KINDS[node.op]
        if kind & _INEQUALITY:
            inequalities.append(node)
        if kind & _SPECIAL:
            special.append(node)
        return 1, len(node.value) if kind & _LISTED else 1, 1 if kind & _ARRAY else 0
    return (_walk_and if type(node) is And else _walk_or)(
        node, True, inequalities, special, present, large)  # type: ignore[arg-type]


SHORT_STRING = (1500 - 1) // 4
"""Strings of at most this many characters fit Firestore's query value limit of 1,500
bytes (4 UTF-8 bytes at most each, plus one)."""
_FITS = frozenset({int, float, bool, type(None)})


def fits(value: Any) -> bool:
    """Whether a query value surely fits the 1,500-byte limit without sizing it."""
    kind = type(value)
    return kind in _FITS or (kind is str and len(value) <= SHORT_STRING)


def _walk_and(node: And, top: bool, inequalities: list[FieldFilter],
              special: list[FieldFilter], present: set[tuple[str, ...]],
              large: list[FieldFilter]) -> tuple[int, int, int]:
    """``scan`` of an ``And`` (``top``: the tree's root). Its normal form is the product of
    its children's disjunctions; their array filters add up."""
    kinds = _LEAF_KINDS
    small, short = _FITS, SHORT_STRING  # fits(), inline: one test per leaf
    children = node.filters
    found = len(children)  # leaves; each composite child adds its own less itself
    count, arrays = 1, 0
    for child in children:
        if type(child) is not FieldFilter:
            below, n, per = (_walk_and if type(child) is And else _walk_or)(
                child, False, inequalities, special, present, large)  # type: ignore[arg-type]
            found += below - 1
            count *= n
            arrays += per
            continue
        value = child.value
        if type(value) not in small and (type(value) is not str or len(value) > short):
            large.append(child)
        kind = kinds[child.op]
        if not kind:  # `==`, the common case: one disjunction, no array filter
            continue
        if kind == 1:  # _INEQUALITY alone (a range): as `==`, and an inequality
            inequalities.append(child)
            if top:
                present.add(child.field)
            continue
        if kind & _INEQUALITY:
            inequalities.append(child)
            if top:
                present.add(child.field)
        if kind & _SPECIAL:
            special.append(child)
        if kind & _LISTED:
            count *= len(child.value)
        if kind & _ARRAY:
            arrays += 1
    return found, count, arrays


def _walk_or(node: Or, top: bool, inequalities: list[FieldFilter],
             special: list[FieldFilter], present: set[tuple[str, ...]],
             large: list[FieldFilter]) -> tuple[int, int, int]:
    """``scan`` of an ``Or``: its normal form is the sum of its children's disjunctions;
    arrays, the most in one of them (``top`` is unused: below an ``Or``, no field is
    present in every document)."""
    kinds = _LEAF_KINDS
    small, short = _FITS, SHORT_STRING
    children = node.filters
    found = len(children)
    count = arrays = 0
    for child in children:
        if type(child) is not FieldFilter:
            below, n, per = (_walk_and if type(child) is And else _walk_or)(
                child, False, inequalities, special, present, large)  # type: ignore[arg-type]
            found += below - 1
            count += n
            if per > arrays:
                arrays = per
            continue
        value = child.value
        if type(value) not in small and (type(value) is not str or len(value) > short):
            large.append(child)
        kind = kinds[child.op]
        if not kind:
            count += 1
            continue
        if kind & _INEQUALITY:
            inequalities.append(child)
        if kind & _SPECIAL:
            special.append(child)
        count += len(child.value) if kind & _LISTED else 1
        if kind & _ARRAY and not arrays:
            arrays = 1
    return found, count, arrays


class Scan:
    """``scan`` as an object, with the tree's leaves in order (for tests and tools)."""

    __slots__ = ("arrays_per_disjunction", "disjunctions", "inequalities", "leaves", "present",
                 "special")

    def __init__(self, node: Filter) -> None:
        self.inequalities: list[FieldFilter] = []
        self.special: list[FieldFilter] = []
        self.present: set[tuple[str, ...]] = set()
        count, self.disjunctions, self.arrays_per_disjunction = scan(
            node, self.inequalities, self.special, self.present)
        self.leaves = list(leaves(node))
        assert len(self.leaves) == count


_INEQUALITY, _SPECIAL, _LISTED, _ARRAY = 1, 2, 4, 8  # (_walk_and tests `kind == 1`)
_LEAF_KINDS: dict[str, int] = {
    op: (_INEQUALITY if op in INEQUALITY_OPS else 0)
    | (_SPECIAL if op in ("in", "not-in", "array_contains_any", "!=") else 0)
    | (_LISTED if op in ("in", "array_contains_any") else 0)
    | (_ARRAY if op in ("array_contains", "array_contains_any") else 0)
    for op in ("==", "!=", "<", "<=", ">", ">=", "in", "not-in", "array_contains",
               "array_contains_any")}
"""Per filter operator: whether it is an inequality, whether it has limits of its own,
whether each of its values counts as a disjunction, whether it tests array elements."""


def has_field(node: Filter, field: tuple[str, ...]) -> bool:
    """Whether every document ``node`` matches has ``field``: a filter on it or on a path
    under it (an ``And`` needs one such child, an ``Or`` needs it in every branch; a
    filter that matches nothing has every field)."""
    n = len(field)
    if isinstance(node, FieldFilter):
        return node.field == field or node.field[:n] == field
    if type(node) is And:
        head = field[0]  # most children differ there: no slice to build
        for child in node.filters:
            if type(child) is FieldFilter:
                path = child.field
                if path[0] == head and (path == field or path[:n] == field):
                    return True
            elif has_field(child, field):
                return True
        return False
    for child in node.filters:  # an Or: every branch must have it
        if type(child) is FieldFilter:
            if not (child.field == field or child.field[:n] == field):
                return False
        elif not has_field(child, field):
            return False
    return True


def fields_present(node: Filter) -> frozenset[tuple[str, ...]] | None:
    """Every ``field`` for which ``has_field(node, field)`` holds, in one walk (None: all
    of them, for a filter that matches nothing): asking ``has_field`` for each of many
    fields walks the tree once per field."""
    if isinstance(node, FieldFilter):
        path = node.field
        return frozenset(path[:n] for n in range(1, len(path) + 1))
    sets = [fields_present(c) for c in node.filters]
    if type(node) is And:
        if any(s is None for s in sets):
            return None
        return frozenset().union(*(s for s in sets if s is not None))
    known = [s for s in sets if s is not None]  # an Or: in every branch
    if not known:
        return None
    return frozenset.intersection(*known)


def non_null_fields(node: Filter) -> frozenset[tuple[str, ...]] | None:
    """Paths every matching document has with a non-null value (None: all of them, for
    a filter that matches nothing). A filter on a field leaves out documents without
    it; all but ``== null`` leave out a null too."""
    if isinstance(node, FieldFilter):
        field = node.field
        if node.op == "==" and node.value is None:
            field = field[:-1]  # an explicit null: its parents are present
        return frozenset(field[:n] for n in range(1, len(field) + 1))
    sets = [non_null_fields(c) for c in node.filters]
    if isinstance(node, And):
        out: set[tuple[str, ...]] = set()
        for s in sets:
            if s is None:
                return None
            out |= s
        return frozenset(out)
    known = [s for s in sets if s is not None]
    if not known:
        return None
    result = known[0]
    for s in known[1:]:
        result &= s
    return result


def _successor(prefix: str) -> str:
    """The first string after every string that starts with ``prefix`` (a non-empty
    string), when it needs no carry: the range ``_startswith`` makes."""
    code = ord(prefix[-1]) + 1
    if code >= 0xD800:
        raise Refill(prefix)  # the compiler makes another filter for this prefix
    return prefix[:-1] + chr(code)
