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

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

from crossql import ir
from crossql.backends.firestore.plan import ID_FIELD, And, FieldFilter, Filter, FilterOp, Or
from crossql.errors import CapabilityError
from crossql.runtime.reference import freeze

BACKEND = "firestore"

ALWAYS: Filter = And(())
"""The filter every document matches."""

NEVER: Filter = Or(())
"""The filter no document matches."""

_NEGATED: dict[str, FilterOp] = {"<": ">=", "<=": ">", ">": "<=", ">=": "<"}
_RESERVED = re.compile(r"__.*__", re.DOTALL)
_MAX_NAME_BYTES = 1500


def valid_document_id(text: str) -> bool:
    """Whether ``text`` can be a Firestore document id
    (https://firebase.google.com/docs/firestore/quotas#collections_documents_and_fields)."""
    return (bool(text) and "/" not in text and text not in (".", "..")
            and not _RESERVED.fullmatch(text) and len(text.encode("utf-8")) <= _MAX_NAME_BYTES)


def successor(prefix: str) -> str | None:
    """The least string greater than every string that starts with ``prefix`` (None:
    there is none). Strings sort by code point, so this is the prefix with its last
    code point incremented (past U+10FFFF it carries; surrogates are skipped)."""
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
    return isinstance(value, list) and any(isinstance(v, list) for v in value)


def _frozen(value: Any) -> tuple[Any, ...]:
    result: tuple[Any, ...] = freeze(value)
    return result


def _immutable(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_immutable(v) for v in value)
    return value


def _dedupe(values: Iterable[Any]) -> list[Any]:
    seen: set[Any] = set()
    out = []
    for v in values:
        key = _frozen(v)
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


def _is_prefix(prefix: tuple[str, ...], path: tuple[str, ...]) -> bool:
    return len(prefix) <= len(path) and path[: len(prefix)] == prefix


def _leaf_key(leaf: FieldFilter) -> tuple[Any, ...]:
    return (leaf.field, leaf.op, _frozen(_plain_value(leaf.value)))


def _plain_value(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain_value(v) for v in value]
    return value


def and_(parts: Sequence[Node]) -> Node:
    """Conjunction: flattened, constants folded, ``!=``s on one field merged into
    ``not-in``, and ``!= null``/``exists`` dropped where another filter implies them."""
    flat: list[Node] = []
    for part in parts:
        if isinstance(part, And):
            flat.extend(part.filters)
        elif part == NEVER:
            return NEVER
        else:
            flat.append(part)
    # several `!=`/`not-in` on one field: one `not-in` (Firestore allows one per query)
    merged: list[Node] = []
    not_equal: dict[tuple[str, ...], int] = {}
    for part in flat:
        if (isinstance(part, FieldFilter) and part.op in ("!=", "not-in")
                and part.value is not None):
            at = not_equal.get(part.field)
            if at is None:
                not_equal[part.field] = len(merged)
                merged.append(part)
                continue
            prev = merged[at]
            assert isinstance(prev, FieldFilter)
            values = _dedupe(_values(prev) + _values(part))
            merged[at] = _set_filter(prev.field, "!=", "not-in", values, prev.origin)
            continue
        merged.append(part)
    leaves = [p for p in merged if isinstance(p, FieldFilter)]
    out: list[Node] = []
    seen: set[tuple[Any, ...]] = set()
    for part in merged:
        if isinstance(part, Exists):
            if any(_is_prefix(part.field, leaf.field) for leaf in leaves) or any(
                    isinstance(o, Exists) and o.field == part.field for o in out):
                continue
        elif isinstance(part, FieldFilter):
            if part.op == "!=" and part.value is None and any(
                    leaf is not part and _is_prefix(part.field, leaf.field)
                    and not (leaf.field == part.field and leaf.op == "==" and leaf.value is None)
                    and not (leaf.field == part.field and leaf.op == "!=" and leaf.value is None)
                    for leaf in leaves):
                continue  # any other filter on the field (but `== null`) means non-null
            key = _leaf_key(part)
            if key in seen:
                continue
            seen.add(key)
        out.append(part)
    if len(out) == 1:
        return out[0]
    return And(tuple(out))  # type: ignore[arg-type]  # Exists leaves are expanded later


def or_(parts: Sequence[Node], origin: Any) -> Node:
    """Disjunction: flattened, constants folded, ``==``/``in`` on one field merged into
    one ``in`` (so many an ``or`` needs no Or filter at all)."""
    flat: list[Node] = []
    for part in parts:
        if isinstance(part, Or):
            flat.extend(part.filters)
        elif part == ALWAYS:
            return ALWAYS
        else:
            flat.append(part)
    merged: list[Node] = []
    equal: dict[tuple[str, ...], int] = {}
    seen: set[tuple[Any, ...]] = set()
    for part in flat:
        if isinstance(part, FieldFilter) and part.op in ("==", "in") and part.value is not None:
            at = equal.get(part.field)
            if at is not None:
                prev = merged[at]
                assert isinstance(prev, FieldFilter)
                values = _dedupe(_values(prev) + _values(part))
                merged[at] = _set_filter(prev.field, "==", "in", values, prev.origin)
                continue
            equal[part.field] = len(merged)
        if isinstance(part, FieldFilter):
            key = _leaf_key(part)
            if key in seen:
                continue
            seen.add(key)
        merged.append(part)
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


class FilterBuilder:
    """Builds the filter of documents where a condition is true or false.

    ``refuse(code, construct, node, message, hint)`` makes the located error.
    """

    def __init__(self, refuse: Refuse,
                 required: frozenset[tuple[str, ...]] = frozenset()) -> None:
        self.refuse = refuse
        self.required = required
        """Paths present in every document (the schema says so): for them "missing"
        is impossible, so `exists`, `not (p == null)` and `not (p != null)` are exact."""

    def build(self, cond: ir.Condition, truth: bool = True, negation: ir.Not | None = None) -> Node:
        """The filter of documents where ``cond`` evaluates to ``truth``. ``negation`` is
        the innermost ``not`` above ``cond``: errors about a pushed-down form point at it."""
        at = cond if truth or negation is None else negation
        match cond:
            case ir.Not(operand=operand):
                return self.build(operand, not truth, cond)
            case ir.And(operands=ops):
                parts = [self.build(c, truth, negation) for c in ops]
                return and_(parts) if truth else or_(parts, at)
            case ir.Or(operands=ops):
                parts = [self.build(c, truth, negation) for c in ops]
                return or_(parts, cond) if truth else and_(parts)
            case ir.Exists(path=path):
                if path.segments == ("_id",) or path.segments in self.required:
                    return ALWAYS if truth else NEVER
                if not truth:
                    raise self._not_exists(at, path)
                return Exists(path.segments, at)
            case ir.Compare(op="==" | "!=" as op, path=path, value=value):
                return self.equality(op, path, _value(value), truth, at)
            case ir.Compare(op=op, path=path, value=value):
                return self.order(path, op if truth else _NEGATED[op], _value(value), at)
            case ir.Between(path=path, low=low, high=high):
                lo, hi = _value(low), _value(high)
                if truth:
                    return and_([self.order(path, ">=", lo, at), self.order(path, "<=", hi, at)])
                return or_([self.order(path, "<", lo, at), self.order(path, ">", hi, at)], at)
            case ir.In(path=path, values=values, negated=negated):
                return self.in_(path, _value(values), truth != negated, at)
            case ir.Contains(path=path, value=value):
                return self.contains(path, [_value(value)], truth, at, cond, "contains")
            case ir.ContainsAny(path=path, values=values):
                return self.contains(path, _value(values), truth, at, cond, "contains any")
            case ir.ContainsAll(path=path, values=values):
                return self.contains_all(path, _value(values), truth, at, cond)
            case ir.StartsWith(path=path, value=value):
                return self.startswith(path, _value(value), truth, at)
            case ir.Matches():
                raise self.refuse(
                    "matches", "matches", at, "firestore cannot evaluate `matches`",
                    "Firestore has no regular-expression filter; `startswith` is the one "
                    "string test it can answer (as a range)")
            case ir.Size():
                raise self.refuse(
                    "size", "size", at, "firestore cannot evaluate `size(...)`",
                    "Firestore cannot filter on the length of an array; store the length "
                    "in a field of its own and compare that")
        raise TypeError(f"unhandled condition node {type(cond).__name__}")  # pragma: no cover

    def _not_exists(self, at: Any, path: ir.Path) -> CapabilityError:
        return self.refuse(
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
            raise self.refuse(
                "id-value", "_id", at,
                f"firestore cannot compare document ids with {value!r}",
                "Firestore compares ids as document paths; compare `_id` with a valid "
                "document id (no `/`, not `.`/`..`, not `__...__`)")
        return FieldFilter(ID_FIELD, op, value, at)

    def in_(self, path: ir.Path, values: list[Any], true_set: bool, at: Any) -> Node:
        """``path in values`` (true_set) or its false set: present, non-null, none equal."""
        segs = path.segments
        has_null = any(v is None for v in values)
        stored = _dedupe(v for v in values if v is not None and not _holds_array(v))
        if segs == ("_id",):
            ids = [v for v in stored if isinstance(v, str) and valid_document_id(v)]
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
            raise self.refuse(
                "not-contains", f"not {construct}", at,
                f"firestore cannot find arrays that do not match `{construct}`",
                "Firestore has no array-does-not-contain filter")
        if any(v is None for v in values):
            raise self.refuse(
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
            raise self.refuse(
                "contains-all", "contains all", at,
                "firestore cannot evaluate `contains all []`",
                "it is true for every array, and Firestore cannot test that a field is an array")
        if len(elements) > 1:
            raise self.refuse(
                "contains-all", "contains all", at,
                f"firestore cannot evaluate `contains all` with {len(elements)} values",
                "Firestore allows one array-contains per query (or per disjunction); "
                "`contains all` with one value is the form it can answer")
        return FieldFilter(path.segments, "array_contains", _immutable(elements[0]), at)

    def startswith(self, path: ir.Path, prefix: str, truth: bool, at: Any) -> Node:
        """``startswith p`` as the exact range ``>= p and < successor(p)``."""
        upper = successor(prefix)
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


def _value(value: ir.Value) -> Any:
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
    children = [expand_exists(c, allowed, refuse) for c in node.filters]
    out = and_(children) if isinstance(node, And) else or_(children, node.origin)
    assert not isinstance(out, Exists)
    return out


def present_fields(node: Filter) -> frozenset[tuple[str, ...]] | None:
    """Paths every matching document has (None: all of them, for a filter that
    matches nothing). A filter on a field leaves out documents without it."""
    if isinstance(node, FieldFilter):
        return frozenset(node.field[:n] for n in range(1, len(node.field) + 1))
    sets = [present_fields(c) for c in node.filters]
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


def non_null_fields(node: Filter) -> frozenset[tuple[str, ...]] | None:
    """Paths every matching document has with a non-null value (None: all)."""
    if isinstance(node, FieldFilter):
        own = () if node.op == "==" and node.value is None else (node.field,)
        return frozenset((*(node.field[:n] for n in range(1, len(node.field))), *own))
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


def disjunctions(node: Filter) -> int:
    """How many disjunctions the filter has in disjunctive normal form, counting each
    value of ``in`` and ``array-contains-any`` as one (as Firestore does)."""
    if isinstance(node, FieldFilter):
        if node.op in ("in", "array_contains_any"):
            return len(node.value)
        return 1
    counts = [disjunctions(c) for c in node.filters]
    if isinstance(node, And):
        product = 1
        for c in counts:
            product *= c
        return product
    return sum(counts)


def array_filters_per_disjunction(node: Filter) -> int:
    """The most ``array-contains``/``array-contains-any`` filters in one disjunction."""
    if isinstance(node, FieldFilter):
        return 1 if node.op in ("array_contains", "array_contains_any") else 0
    counts = [array_filters_per_disjunction(c) for c in node.filters]
    if isinstance(node, And):
        return sum(counts)
    return max(counts, default=0)
