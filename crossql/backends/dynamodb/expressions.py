"""CrossQL conditions → DynamoDB condition expressions with exactly the reference semantics.

DynamoDB evaluates a ``FilterExpression`` in two-valued logic: a comparison
with a missing attribute, or between values of different types, is simply
false, so ``NOT (#a < :v)`` is *true* on an item without ``a``
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.OperatorsAndFunctions.html).
CrossQL's logic has three values (LANGUAGE.md rule 1). So conditions are
compiled by polarity, as for MongoDB: for every condition ``c`` we build
``true(c)`` (items where ``c`` is true) and ``false(c)`` (items where it is
false), each an ordinary two-valued DynamoDB expression; ``not`` swaps them,
``and``/``or`` follow De Morgan. Items where ``c`` is unknown match neither.
``NOT`` is only ever emitted right in front of a function or comparison.

Guards, each against a documented DynamoDB behaviour, and only where the
reference semantics need them:

- ``<>`` is true for a missing attribute and for a ``NULL`` one, where
  ``p != v`` is unknown: the false side of ``==`` (so ``!=``, ``not in`` and
  ``not (p == v)``) adds ``attribute_exists(p) AND NOT attribute_type(p, NULL)``.
  A present value of another type is plainly unequal, as in DynamoDB.
- ``=`` is false between different types (``"5" = 5``, ``true = 1``): that is
  the reference's "plainly false" already, no guard.
- ``<``, ``<=``, ``>``, ``>=``, ``BETWEEN`` are false across types and on a
  missing attribute, in both polarities: ``p < v`` is true where ``#p < :v``,
  false where ``#p >= :v``, unknown where neither. No guard.
- ``contains(p, v)`` is also a substring test on a string and membership in a
  set, and ``size(p)`` also measures strings, maps and sets
  (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.OperatorsAndFunctions.html#Expressions.OperatorsAndFunctions.Functions):
  both get ``attribute_type(p, L)``, since CrossQL's ``contains`` and
  ``size`` are about arrays only.
- ``begins_with`` is false on a non-string: exact as the true side; the false
  side adds ``attribute_type(p, S)``.
- ``BETWEEN`` with a lower bound above the upper one is a ``ValidationException``,
  not an empty match: such a ``between`` is never true, so it is not emitted.
- A dotted path ``a.b`` only descends maps in DynamoDB, never lists (a list
  element needs ``a[0]``), which is what the reference does: no guard.
- A key attribute of the table is on every item, of its key type, never ``NULL``
  and never a list (``ConditionBuilder.key_type``): on it, none of these guards
  is needed, and ``exists``, ``== null``, ``contains`` and ``size`` fold.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar, Generic, TypeAlias, TypeVar

from crossql import ir
from crossql._frozen import fast_init
from crossql._memo import Memo
from crossql.backends.dynamodb.values import (
    TIMESTAMP_MAX,
    TIMESTAMP_MIN,
    TIMESTAMP_WIDTH,
    AttributeValue,
    query_number_text,
    to_attribute_value,
)
from crossql.compiler.templates import Hole
from crossql.errors import CapabilityError
from crossql.visitor import ConditionVisitor

R = TypeVar("R")

Path: TypeAlias = tuple[str, ...]
"""A DynamoDB document path: top-level attribute name, then map keys."""

Lit: TypeAlias = ir.Literal | ir.ListValue

MAX_IN_VALUES = 100
"""Operands of one ``IN`` (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Constraints.html#limits-expression-parameters)."""

_NEGATED = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "=": "<>", "<>": "=", "==": "!=",
            "!=": "=="}
_DYNAMO_OP = {"==": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


# --- the expression tree -----------------------------------------------------------


@fast_init
@dataclass(frozen=True, slots=True)
class Const:
    """A constant truth value; folded away before rendering."""

    value: bool


ALWAYS = Const(True)
NEVER = Const(False)


@fast_init
@dataclass(frozen=True, slots=True)
class Comparison:
    """``path op :value`` with op one of ``= <> < <= > >=``."""

    op: str
    path: Path
    value: Lit


@fast_init
@dataclass(frozen=True, slots=True)
class Between:
    """``path BETWEEN :low AND :high`` (low <= high)."""

    path: Path
    low: Lit
    high: Lit


@fast_init
@dataclass(frozen=True, slots=True)
class InList:
    """``path IN (:v1, ...)`` with at most 100 values."""

    path: Path
    values: tuple[Lit, ...]


@fast_init
@dataclass(frozen=True, slots=True)
class Function:
    """``attribute_exists``, ``attribute_not_exists``, ``attribute_type``,
    ``begins_with`` or ``contains`` on a path (with an operand for the last three)."""

    name: str
    path: Path
    value: Lit | None = None


@fast_init
@dataclass(frozen=True, slots=True)
class SizeComparison:
    """``size(path) op :n``."""

    op: str
    path: Path
    value: Lit


@fast_init
@dataclass(frozen=True, slots=True)
class Not:
    """``NOT operand`` (only ever around a function or comparison)."""

    operand: Expr


@fast_init
@dataclass(frozen=True, slots=True)
class And:
    """``a AND b AND ...``."""

    operands: tuple[Expr, ...]


@fast_init
@dataclass(frozen=True, slots=True)
class Or:
    """``a OR b OR ...``."""

    operands: tuple[Expr, ...]


Expr: TypeAlias = Const | Comparison | Between | InList | Function | SizeComparison | Not | And \
    | Or

_PATHED = frozenset({Comparison, Between, InList, Function, SizeComparison})


_SCAN = 8
"""Up to this many items of one group are compared pairwise; past it, by hash."""


def _group(expr: Expr) -> Any:
    """A key equal for equal expressions, and seldom for others: an atom's path, or the
    class, size and first operand's key of and/or/not."""
    kind = type(expr)
    if kind in _PATHED:
        return expr.path  # type: ignore[union-attr]
    if kind is Not:
        return kind, _group(expr.operand)  # type: ignore[union-attr]
    if kind is And or kind is Or:
        operands = expr.operands  # type: ignore[union-attr]
        return kind, len(operands), _group(operands[0])
    return kind


def _unique(items: list[Expr]) -> list[Expr]:
    """``items`` without repeats (the first of equal ones kept, in order)."""
    out: list[Expr] = []
    if len(items) <= _SCAN:
        for p in items:
            kind = type(p)
            for o in out:
                # nodes of two classes are never equal: no need to ask them
                if type(o) is kind and o == p:
                    break
            else:
                out.append(p)
        return out
    # equal expressions have one path (or shape): compare only within groups of one;
    # hashing every expression would walk each, and a hole of a plan template refuses
    # to be hashed, so a group is hashed only once it is large (many values of one
    # path: `contains all` of a long list), which keeps this linear
    groups: dict[Any, list[Expr]] = {}
    hashed: dict[Any, set[Expr]] = {}
    for p in items:
        key = _group(p)
        same = groups.get(key)
        if same is None:
            groups[key] = [p]
            out.append(p)
            continue
        members = hashed.get(key)
        if members is not None:
            size = len(members)
            members.add(p)
            if len(members) != size:
                out.append(p)
            continue
        kind = type(p)
        for o in same:
            if type(o) is kind and o == p:
                break
        else:
            same.append(p)
            out.append(p)
            if len(same) > _SCAN:
                hashed[key] = set(same)
    return out


def and_(*parts: Expr) -> Expr:
    """Conjunction: flattened, duplicates dropped, constants folded."""
    items: list[Expr] = []
    for part in parts:
        for p in part.operands if type(part) is And else (part,):
            if type(p) is Const:
                if not p.value:
                    return NEVER
            else:
                items.append(p)
    if len(items) < 2:
        return items[0] if items else ALWAYS
    out = _unique(items)
    return out[0] if len(out) == 1 else And(tuple(out))


def or_(*parts: Expr) -> Expr:
    """Disjunction: flattened, duplicates dropped, constants folded."""
    items: list[Expr] = []
    for part in parts:
        for p in part.operands if type(part) is Or else (part,):
            if type(p) is Const:
                if p.value:
                    return ALWAYS
            else:
                items.append(p)
    if len(items) < 2:
        return items[0] if items else NEVER
    out = _unique(items)
    return out[0] if len(out) == 1 else Or(tuple(out))


def not_(expr: Expr) -> Expr:
    """Negation of an atom (constants fold; ``NOT NOT a`` is ``a``)."""
    if isinstance(expr, Const):
        return Const(not expr.value)
    if isinstance(expr, Not):
        return expr.operand
    return Not(expr)


def operator_count(expr: Expr) -> int:
    """Operators and functions as DynamoDB counts them toward its limit of 300:
    each comparison, ``BETWEEN``, ``IN``, function and ``NOT`` is one, ``size(p) < n``
    is two, and ``n`` operands of ``AND``/``OR`` take ``n - 1`` (measured on
    DynamoDB Local's "operator count" error)."""
    match expr:
        case And(operands=ops) | Or(operands=ops):
            return len(ops) - 1 + sum(operator_count(o) for o in ops)
        case Not(operand=op):
            return 1 + operator_count(op)
        case SizeComparison():
            return 2
        case Const():
            return 0
    return 1


def paths_of(expr: Expr) -> Iterable[Path]:
    """Every document path an expression reads."""
    match expr:
        case And(operands=ops) | Or(operands=ops):
            for op in ops:
                yield from paths_of(op)
        case Not(operand=op):
            yield from paths_of(op)
        case Const():
            return
        case _:
            yield expr.path


# --- conditions → expressions, by polarity ------------------------------------------------


_TYPES = {name: ir.Literal(name, "string")
          for name in ("NULL", "L", "S", "N", "SS", "NS", "BS")}


def _type(name: str) -> ir.Literal:
    literal = _TYPES.get(name)
    return literal if literal is not None else ir.Literal(name, "string")


def _lit(value: ir.Value) -> Lit:
    if isinstance(value, ir.Param):  # pragma: no cover - plans are compiled from bound IR
        raise ValueError(f"parameter :{value.name} is not bound")
    return value


_SAFE_INT = 10**38


def storable(value: ir.Value) -> None:
    """Raise ``UnstorableValue`` for a number (in a list too) DynamoDB cannot hold."""
    if type(value) is ir.Literal:
        number: Any = value.value
        kind = type(number)
        if kind is str or number is None or kind is bool or (
                kind is int and -_SAFE_INT < number < _SAFE_INT):
            return  # ints of at most 38 digits are always storable
        if isinstance(number, int | float | Decimal):
            query_number_text(number)
    elif type(value) is ir.ListValue:
        for item in value.items:
            if type(item) is ir.Literal:  # the common case, without a call
                number = item.value
                kind = type(number)
                if kind is str or (kind is int and -_SAFE_INT < number < _SAFE_INT):
                    continue
            storable(item)


def _items(value: ir.Value) -> tuple[Lit, ...]:
    lit = _lit(value)
    assert isinstance(lit, ir.ListValue)
    return lit.items


def distinct_values(values: Sequence[Lit]) -> tuple[list[Lit], bool]:
    """The values of an ``in`` list other than null, without repeats (the first of equal
    ones kept, in order), and whether null is among them. Linear in the list: a long
    list is deduplicated by hash (a bound list may hold 10,000 values; comparing each
    with every other took seconds), a short one pairwise (a hole of a plan template
    refuses to be hashed)."""
    plain: list[Lit] = []
    nulls = False
    if len(values) <= _SCAN:
        for v in values:
            if type(v) is ir.Literal and v.kind == "null":
                nulls = True
            elif v not in plain:
                plain.append(v)
        return plain, nulls
    seen: set[Any] = set()
    for v in values:
        key: Any = v
        if type(v) is ir.Literal:
            kind = v.kind
            if kind == "null":
                nulls = True
                continue
            key = (v.value, kind)  # what Literal's __eq__ and __hash__ compare, without a call
        size = len(seen)
        seen.add(key)
        if len(seen) != size:
            plain.append(v)
    return plain, nulls


def bounds_reversed(low: ir.Literal, high: ir.Literal) -> bool:
    """Whether ``low`` is above ``high`` as DynamoDB compares them (a ``BETWEEN`` so is a
    ValidationException): numbers as the decimals sent, which Python's comparison of an
    int or a ``Decimal`` with a float is not (a float counts as its shortest text)."""
    a: Any = low.value
    b: Any = high.value
    kinds = {type(a), type(b)}
    if float in kinds and kinds <= _NUMBERS and len(kinds) == 2:
        return Decimal(query_number_text(a)) > Decimal(query_number_text(b))
    return bool(a > b)


_NUMBERS = frozenset({int, float, Decimal})


class _Polarity(Generic[R]):
    """``not``, ``and`` and ``or`` of a walk by polarity, written once for DynamoDB's two
    visitors (the tree, ``ConditionBuilder``, and the text, ``ExpressionWriter``): each visit
    takes ``truth``, the side wanted; ``not`` swaps it, and ``and``/``or`` go to the
    target's ``junction``, an AND where ``(node is and) == truth`` (De Morgan), else an
    OR. A mixin, not a visitor: the visitors list it after ``ConditionVisitor``."""

    __slots__ = ()

    def visit(self, node: ir.Condition, *args: Any) -> R:
        """``ConditionVisitor.visit`` (first in the visitors' bases); for the checker."""
        raise NotImplementedError

    def junction(self, operands: tuple[ir.Condition, ...], conj: bool, truth: bool) -> R:
        """The AND (``conj``) or OR of ``operands``, each visited for ``truth``."""
        raise NotImplementedError

    def visit_Not(self, node: ir.Not, truth: bool) -> R:
        return self.visit(node.operand, not truth)

    def visit_And(self, node: ir.And, truth: bool) -> R:
        return self.junction(node.operands, truth, truth)

    def visit_Or(self, node: ir.Or, truth: bool) -> R:
        return self.junction(node.operands, not truth, truth)


class ConditionBuilder(ConditionVisitor[Expr], _Polarity[Expr]):
    """Builds ``true(c)`` / ``false(c)`` expressions of CrossQL conditions: a condition
    visitor (``crossql.visitor``) whose ``visit(cond, truth)`` is the expression of the
    items where ``cond`` is ``truth``. A number DynamoDB cannot hold raises
    ``UnstorableValue``, even where its predicate folds away. A compiler subclasses it:
    it says how a CrossQL path is addressed (``attribute``) and how a refusal is made
    (``refusal``)."""

    __slots__ = ()
    NAME = "dynamodb"
    UNSUPPORTED = frozenset({ir.Matches})

    renamed: ClassVar[frozenset[str] | None] = None
    """With ``max_depth``, when set, a promise that ``attribute`` returns a path's own
    segments when its first is not in ``renamed`` and it has at most ``max_depth`` (so
    the text path need not call it)."""
    max_depth: ClassVar[int] = 0
    keys: Mapping[str, str] = {}
    """The table's key attributes and their types (see ``key_type``); a compiler sets
    its own."""

    def attribute(self, path: ir.Path) -> Path:
        """The DynamoDB attribute path of a CrossQL path."""
        raise NotImplementedError

    def key_type(self, p: Path) -> str:
        """For a key attribute of the table (on every item, of its key type: never
        missing, NULL or a list): its type, ``S``, ``N`` or ``B``, or ``?`` when the
        schema does not say; ``""`` for any other path. The guards such an attribute
        needs no longer are dropped (a builder knowing no table says ``""``)."""
        return self.keys.get(p[0], "") if len(p) == 1 else ""

    def refusal(self, construct: str, node: Any, message: str,
                hint: str | None = None, *, rule: str) -> CapabilityError:
        """The error to raise for what DynamoDB cannot evaluate (``rule`` names why: the
        code is ``capability.dynamodb.<rule>``)."""
        raise NotImplementedError

    def refuse(self, node: ir.Condition, *args: Any) -> Expr:
        """What DynamoDB cannot evaluate at all (``UNSUPPORTED``): ``matches``."""
        raise self.refusal(
            "matches", node,
            "dynamodb cannot evaluate `matches`: DynamoDB has no regular expressions",
            "use startswith for a prefix, or filter the rows in your code", rule="matches")

    # -- atoms ------------------------------------------------------------------------
    @staticmethod
    def exists(p: Path) -> Expr:
        """``attribute_exists(p)``."""
        return Function("attribute_exists", p)

    @staticmethod
    def missing(p: Path) -> Expr:
        """``attribute_not_exists(p)``."""
        return Function("attribute_not_exists", p)

    @staticmethod
    def has_type(p: Path, type_name: str) -> Expr:
        """``attribute_type(p, :type)``."""
        return Function("attribute_type", p, _type(type_name))

    def present_non_null(self, p: Path) -> Expr:
        """The attribute is present and not ``NULL``."""
        if self.key_type(p):
            return ALWAYS
        return and_(self.exists(p), not_(self.has_type(p, "NULL")))

    def is_null(self, p: Path) -> Expr:
        """The attribute is ``NULL``."""
        if self.key_type(p):
            return NEVER
        return self.has_type(p, "NULL")

    # -- equality -----------------------------------------------------------------------
    def equals(self, p: Path, value: Lit, truth: bool) -> Expr:
        """Where ``p == value`` is ``truth`` (for a non-null value)."""
        if truth:
            return Comparison("=", p, value)
        # `<>` alone is also true on a missing or NULL attribute, where `==` is unknown
        return and_(self.present_non_null(p), Comparison("<>", p, value))

    def in_list(self, p: Path, values: tuple[Lit, ...], truth: bool, node: ir.In) -> Expr:
        """Where ``p in values`` is ``truth``."""
        plain, nulls = distinct_values(values)
        if len(plain) > MAX_IN_VALUES:
            raise self.refusal(
                "in", node, f"dynamodb cannot evaluate `in` with {len(plain)} values: "
                f"DynamoDB's IN takes at most {MAX_IN_VALUES}",
                "split the list into several queries of at most 100 values each",
                rule="in-values")
        if not truth:  # present, non-null, equal to none of the values
            if not plain:
                return self.present_non_null(p)
            return and_(self.present_non_null(p), not_(self._any_equal(p, plain)))
        parts = [self._any_equal(p, plain)] if plain else []
        if nulls:
            parts.append(self.is_null(p))
        return or_(*parts)

    @staticmethod
    def _any_equal(p: Path, values: list[Lit]) -> Expr:
        if len(values) == 1:
            return Comparison("=", p, values[0])
        return InList(p, tuple(values))

    # -- ordering -------------------------------------------------------------------------
    @staticmethod
    def between(p: Path, low: ir.Literal, high: ir.Literal, truth: bool) -> Expr:
        """Where ``low <= p <= high`` is ``truth`` (bounds of one kind, checked before)."""
        if not truth:
            return or_(Comparison("<", p, low), Comparison(">", p, high))
        if bounds_reversed(low, high):
            # DynamoDB rejects such a BETWEEN; it is true for no value
            return NEVER
        return Between(p, low, high)

    # -- timestamps ---------------------------------------------------------------------
    # A timestamp is an S of exactly TIMESTAMP_WIDTH characters in the canonical form
    # (values.timestamp_text), so text order is time order; an ordering comparison with
    # one must not match an ordinary string the text comparison would: the guard keeps
    # strings of that width within the canonical range (what it cannot tell apart, a
    # string of that width and range not of that form, is in docs/backends/dynamodb.md).
    @staticmethod
    def timestamp_order(p: Path, op: str, value: ir.Literal) -> Expr:
        """Where ``p op value`` holds for a stored timestamp (``op``: ``< <= > >=``)."""
        bound = Comparison(">=", p, _TIMESTAMP_MIN) if op[0] == "<" \
            else Comparison("<=", p, _TIMESTAMP_MAX)
        return And((SizeComparison("=", p, _TIMESTAMP_WIDTH), bound, Comparison(op, p, value)))

    def timestamp_between(self, p: Path, low: ir.Literal, high: ir.Literal,
                          truth: bool) -> Expr:
        """Where ``low <= p <= high`` is ``truth`` for timestamp bounds."""
        width = SizeComparison("=", p, _TIMESTAMP_WIDTH)
        if truth:
            inner = self.between(p, low, high, True)
            return NEVER if inner is NEVER else And((width, inner))
        return and_(width, Between(p, _TIMESTAMP_MIN, _TIMESTAMP_MAX),
                    or_(Comparison("<", p, low), Comparison(">", p, high)))

    def bytes_order(self, value: ir.Literal, construct: str) -> CapabilityError:
        """The refusal of an ordering comparison with bytes."""
        return self.refusal(
            construct, value, "dynamodb orders binary values bytewise, where CrossQL orders "
            "bytes length first (BSON's order): `<` and `between` with bytes would answer "
            "otherwise", "compare bytes with `==` or `in`", rule="bytes-order")

    # -- arrays -----------------------------------------------------------------------
    def list_equals(self, p: Path, value: ir.ListValue, truth: bool) -> Expr:
        """Where ``p == [..]`` is ``truth``: a list equal in order, or a set (SS, NS, BS)
        of the same elements (an array without order: a list with a repeat never
        equals a set, nor does one of mixed kinds or an empty one)."""
        same_set = _set_literal(value)
        if same_set is None:
            return Comparison("=", p, value) if truth else self.equals(p, value, False)
        if truth:
            return or_(Comparison("=", p, value), Comparison("=", p, same_set))
        return and_(self.present_non_null(p), Comparison("<>", p, value),
                    Comparison("<>", p, same_set))

    def _array(self, p: Path, inner: Expr) -> Expr:
        # contains() and size() also work on strings, sets and maps: arrays only
        if (type(inner) is Const and not inner.value) or self.key_type(p):
            return NEVER  # (a key is never a list)
        return and_(self.list_or_set(p), inner)

    @staticmethod
    def list_or_set(p: Path) -> Expr:
        """The attribute is a list or a set (SS, NS, BS: an array without order, as the
        language has it; ``contains`` and ``size`` work on both, and a set's
        ``contains`` of a value of another type is false). One shared node per path, so
        that the dedup of a long conjunction finds repeats by identity."""
        found = _KINDS_OF.get(p)
        if found is None:
            found = _KINDS_OF.put(p, or_(*(Function("attribute_type", p, _TYPES[t])
                                          for t in _LIST_OR_SET)))
        return found

    def contains(self, p: Path, values: tuple[Lit, ...], truth: bool, mode: str) -> Expr:
        """``contains`` (one value), ``contains any`` or ``contains all``, true or false."""
        if len(values) == 1 and not self.key_type(p):
            # what the general case gives for one value, without its folding machinery
            test: Expr = Function("contains", p, values[0])
            return And((self.list_or_set(p), test if truth else Not(test)))
        tests = [Function("contains", p, v) for v in values]
        if (mode == "any" and truth) or (mode == "all" and not truth):
            test = or_(*(t if truth else not_(t) for t in tests))
        else:
            test = and_(*(t if truth else not_(t) for t in tests))
        return self._array(p, test)

    def size(self, p: Path, op: str, n: Lit, truth: bool) -> Expr:
        """``size(p) op n`` true or false."""
        dynamo_op = _DYNAMO_OP[op if truth else _NEGATED[op]]
        return self._array(p, SizeComparison(dynamo_op, p, n))

    # -- strings -----------------------------------------------------------------------
    def starts_with(self, p: Path, prefix: ir.Literal, truth: bool) -> Expr:
        """``p startswith prefix`` true or false (non-strings: neither)."""
        test = Function("begins_with", p, prefix)
        if truth:
            return test
        key = self.key_type(p)
        if key == "S":
            return not_(test)
        if key and key != "?":
            return NEVER  # a number or binary key is never a string
        return and_(self.has_type(p, "S"), not_(test))

    # -- conditions ---------------------------------------------------------------------
    def build(self, cond: ir.Condition, truth: bool = True) -> Expr:
        """The expression of items where ``cond`` evaluates to ``truth``."""
        return self.visit(cond, truth)

    def junction(self, operands: tuple[ir.Condition, ...], conj: bool, truth: bool) -> Expr:
        visit = self.visit
        parts = [visit(c, truth) for c in operands]
        return and_(*parts) if conj else or_(*parts)

    def visit_Exists(self, cond: ir.Exists, truth: bool) -> Expr:
        p = self.attribute(cond.path)
        if self.key_type(p):
            return ALWAYS if truth else NEVER
        return Function("attribute_exists" if truth else "attribute_not_exists", p)

    def visit_Compare(self, cond: ir.Compare, truth: bool) -> Expr:
        p = self.attribute(cond.path)
        op = cond.op
        v = cond.value
        if type(v) is ir.Param:  # pragma: no cover - plans are compiled from bound IR
            raise ValueError(f"parameter :{v.name} is not bound")
        if type(v) is not ir.Literal or type(v.value) is not str:
            storable(v)
        if op != "==" and op != "!=":
            if v.kind in _TREE_KINDS:  # type: ignore[union-attr]
                if v.kind == "bytes":  # type: ignore[union-attr]
                    raise self.bytes_order(v, "<, <=, >, >=")  # type: ignore[arg-type]
                return self.timestamp_order(p, op if truth else _NEGATED[op], v)  # type: ignore[arg-type]
            return Comparison(op if truth else _NEGATED[op], p, v)  # type: ignore[arg-type]
        if type(v) is ir.Literal and v.kind == "null":
            # `== null` is two-valued: an explicit NULL, never a missing attribute
            if self.key_type(p):  # a key is never missing or NULL
                return ALWAYS if truth == (op == "!=") else NEVER
            if op == "==":
                return self.has_type(p, "NULL") if truth else not_(self.has_type(p, "NULL"))
            return self.present_non_null(p) if truth else \
                or_(self.missing(p), self.has_type(p, "NULL"))
        if type(v) is ir.ListValue:
            return self.list_equals(p, v, truth == (op == "=="))
        if truth == (op == "=="):
            return Comparison("=", p, v)  # type: ignore[arg-type]
        return self.equals(p, v, False)  # type: ignore[arg-type]

    def visit_Between(self, cond: ir.Between, truth: bool) -> Expr:
        p = self.attribute(cond.path)
        lo, hi = _lit(cond.low), _lit(cond.high)
        assert isinstance(lo, ir.Literal) and isinstance(hi, ir.Literal)
        storable(lo)
        storable(hi)
        if lo.kind == "timestamp":
            return self.timestamp_between(p, lo, hi, truth)
        if lo.kind == "bytes":
            raise self.bytes_order(lo, "between")
        return self.between(p, lo, hi, truth)

    def visit_In(self, cond: ir.In, truth: bool) -> Expr:
        p = self.attribute(cond.path)
        storable(cond.values)
        return self.in_list(p, _items(cond.values), truth != cond.negated, cond)

    def visit_Contains(self, cond: ir.Contains, truth: bool) -> Expr:
        p = self.attribute(cond.path)
        value = cond.value
        if type(value) is ir.Param:  # pragma: no cover - plans are compiled from bound IR
            _lit(value)
        storable(value)
        if self.key_type(p):
            return NEVER  # a key is never a list
        # contains() of one value, as self.contains gives it
        test: Expr = Function("contains", p, value)  # type: ignore[arg-type]
        return And((self.list_or_set(p), test if truth else Not(test)))

    def visit_ContainsAny(self, cond: ir.ContainsAny, truth: bool) -> Expr:
        p = self.attribute(cond.path)
        storable(cond.values)
        return self.contains(p, _items(cond.values), truth, "any")

    def visit_ContainsAll(self, cond: ir.ContainsAll, truth: bool) -> Expr:
        p = self.attribute(cond.path)
        storable(cond.values)
        return self.contains(p, _items(cond.values), truth, "all")

    def visit_Size(self, cond: ir.Size, truth: bool) -> Expr:
        p = self.attribute(cond.path)
        storable(cond.value)
        return self.size(p, cond.op, _lit(cond.value), truth)

    def visit_StartsWith(self, cond: ir.StartsWith, truth: bool) -> Expr:
        p = self.attribute(cond.path)
        prefix = cond.value
        if type(prefix) is not ir.Literal:
            prefix = _lit(prefix)
            assert isinstance(prefix, ir.Literal)
        if type(prefix.value) is not str:
            storable(prefix)
        if truth:
            return Function("begins_with", p, prefix)
        return self.starts_with(p, prefix, truth)


    # -- straight to text ---------------------------------------------------------------
    def text(self, conds: list[ir.Condition], writer: ExpressionWriter) -> str | None:
        """The text of ``and_(*[self.build(c) for c in conds])`` rendered by ``writer``,
        written while walking the conditions (``ExpressionWriter.text``), without the expression
        tree; None (with ``writer`` partly used) where only the tree gives it."""
        return writer.text(self, conds)


Text: TypeAlias = "str | tuple[bool, list[str]] | None"
"""What ``ExpressionWriter.text`` gives a condition: an atom's text, or (True for AND / False for
OR, the texts of its parts), or None where it declines."""


def _null_text(p: str, equal: bool, truth: bool, w: ExpressionWriter) -> Text:
    """The text of ``p == null`` (``equal``) or ``p != null`` where it is ``truth``."""
    if equal:
        test = f"attribute_type({p}, {w.value(_NULL)})"
        return test if truth else "NOT " + test
    if truth:
        return True, [f"attribute_exists({p})", f"NOT attribute_type({p}, {w.value(_NULL)})"]
    return False, [f"attribute_not_exists({p})", f"attribute_type({p}, {w.value(_NULL)})"]


def _equal_text(p: str, plain: list[Lit], w: ExpressionWriter) -> str:
    """The text of ``ConditionBuilder._any_equal`` on the path text ``p``."""
    if len(plain) == 1:
        return f"{p} = {w.value(plain[0])}"
    return f"{p} IN ({', '.join([w.value(v) for v in plain])})"


_TREE_KINDS = frozenset({"timestamp", "bytes"})
"""The kinds whose ordering comparisons only the tree writes (guarded or refused)."""


def _set_literal(value: ir.ListValue) -> ir.Literal | None:
    """The set a list of literals equals, as a stored set (SS, NS or BS) would: its
    elements all strings, all numbers or all bytes, none repeated (by value); None for
    any other list (no set equals it)."""
    items = value.items
    if not items or any(type(i) is not ir.Literal for i in items):
        return None
    raw = [i.value for i in items]  # type: ignore[union-attr]
    kinds = {i.kind for i in items}  # type: ignore[union-attr]
    if kinds == {"string"} or kinds == {"bytes"}:
        distinct: set[Any] = set(raw)
    elif kinds <= {"int", "float", "decimal"}:
        distinct = {Decimal(query_number_text(v)) for v in raw}  # type: ignore[arg-type]
    else:
        return None
    if len(distinct) != len(raw):
        return None
    return ir.Literal(frozenset(raw), "set")  # type: ignore[arg-type]


_NULL, _LIST, _STRING = _TYPES["NULL"], _TYPES["L"], _TYPES["S"]
_TIMESTAMP_MIN = ir.Literal(TIMESTAMP_MIN, "string")
_TIMESTAMP_MAX = ir.Literal(TIMESTAMP_MAX, "string")
_TIMESTAMP_WIDTH = ir.Literal(TIMESTAMP_WIDTH, "int")
_LIST_OR_SET = ("L", "SS", "NS", "BS")
_TYPE_VALUES = {t: {"S": t} for t in _LIST_OR_SET}
_KINDS_OF: Memo[Any, Expr] = Memo(4096, "dynamodb list-or-set guards")

# --- rendering -------------------------------------------------------------------------

_SHARED = 64
_NAMES = tuple(f"#n{n}" for n in range(_SHARED))
_VALUES = tuple(f":v{n}" for n in range(_SHARED))
"""Placeholders, one string each however many plans hold them (plans are cached)."""
_PLAIN: Memo[str | int, AttributeValue] = Memo(4096, "dynamodb plain values")
"""AttributeValues of strings and short ints, keyed by the value itself: one for every
plan that holds that value (plans are read-only and cached, and a one-entry dict is as
big as a small plan's text), like ``sys.intern`` for strings."""
_SCALARS: Memo[tuple[str, Any], AttributeValue] = Memo(4096, "dynamodb scalar values")
"""The same for other scalars, keyed by (type, text)."""


class ExpressionWriter(ConditionVisitor[Text], _Polarity[Text]):
    """Renders expressions with ``#nK`` name and ``:vK`` value placeholders, numbered
    in order of first use (so a plan's text is deterministic), each name and each
    value written once however often it is used.

    It also writes a read's filter straight from the conditions (``text``): a
    condition visitor whose results are the texts the tree (``ConditionBuilder``)
    would render, with the same guards in the same order, so the same placeholders,
    for the conditions that need no tree. It declines (None) what only the tree
    handles: folding (a part always true or false: a key attribute's guards,
    ``between`` with low > high, ``in []``), repeated parts, ``contains any/all``,
    ``size``, ``matches``, lists compared with ``==``, more than 100 ``in`` values,
    unbound parameters. Why two renderers, measured: docs/architecture.md, "DynamoDB:
    two renderers"."""

    __slots__ = ("_name_of", "_value_of", "builder", "names", "values")
    NAME = "dynamodb text"
    builder: ConditionBuilder

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, AttributeValue] = {}
        # placeholders of names, by name
        self._name_of: dict[str, str] = {}
        # placeholders of values: by the string or short int itself, or by a (type,
        # text) tuple
        self._value_of: dict[Any, str] = {}

    def name(self, attribute: str) -> str:
        """The placeholder of one attribute name (or map key)."""
        placeholder = self._name_of.get(attribute)
        if placeholder is None:
            n = len(self.names)
            placeholder = _NAMES[n] if n < _SHARED else f"#n{n}"
            self._name_of[attribute] = placeholder
            self.names[placeholder] = attribute
        return placeholder

    def path(self, path: Path) -> str:
        """A document path as placeholders joined by dots."""
        name_of = self._name_of
        if len(path) == 1:  # most paths: one name, whose placeholder is the path's text
            segment = path[0]
            text = name_of.get(segment)
            if text is None:  # self.name(segment), inlined
                n = len(self.names)
                text = name_of[segment] = _NAMES[n] if n < _SHARED else f"#n{n}"
                self.names[text] = segment
            return text
        # a dotted path is joined again at each use: most are used once, and keeping
        # its text would cost a tuple's hash and a store each time
        parts = []
        for segment in path:  # self.name(segment), inlined
            placeholder = name_of.get(segment)
            if placeholder is None:
                n = len(self.names)
                placeholder = name_of[segment] = _NAMES[n] if n < _SHARED else f"#n{n}"
                self.names[placeholder] = segment
            parts.append(placeholder)
        return ".".join(parts)

    def value(self, value: Lit) -> str:
        """The placeholder of one value, in typed AttributeValue form."""
        raw = value.value if type(value) is ir.Literal else value
        kind = type(raw)
        # equal keys exactly where the AttributeValues are equal: a string, or an int of
        # at most 38 digits, is its own key (no str equals an int, and bools, which equal
        # ints, are keyed below); another scalar its type and text, a list its JSON text
        if kind is str or (kind is int and -_SAFE_INT < raw < _SAFE_INT):  # type: ignore[operator]
            placeholder = self._value_of.get(raw)
            if placeholder is None:
                n = len(self.values)
                placeholder = self._value_of[raw] = _VALUES[n] if n < _SHARED else f":v{n}"
                av = _PLAIN.get(raw)  # type: ignore[arg-type]
                if av is None:
                    # str(raw) is number_text's own first case
                    av = _PLAIN.put(raw, {"S": raw} if kind is str  # type: ignore[arg-type]
                                    else {"N": str(raw)})
                self.values[placeholder] = av
            return placeholder
        if isinstance(raw, Hole):  # a plan template's: never shared with another value
            n = len(self.values)
            placeholder = _VALUES[n] if n < _SHARED else f":v{n}"
            self.values[placeholder] = raw.then(scalar_attribute_value)
            return placeholder
        av = None
        key: Any
        if kind is int or kind is float:
            key = ("N", query_number_text(raw))  # type: ignore[arg-type]
        elif kind is bool:
            key = ("BOOL", raw)
        elif raw is None:
            key = ("NULL", True)
        elif kind is bytes:
            key = ("B", raw)
        else:
            av = to_attribute_value(ir.python_value(value))
            key = ("JSON", json.dumps(av, sort_keys=True, default=_json_bytes))
        placeholder = self._value_of.get(key)
        if placeholder is None:
            n = len(self.values)
            placeholder = _VALUES[n] if n < _SHARED else f":v{n}"
            self._value_of[key] = placeholder
            if av is None:
                av = _SCALARS.get(key) or _SCALARS.put(key, {key[0]: key[1]})
            self.values[placeholder] = av
        return placeholder

    def render(self, expr: Expr) -> str:
        """The expression text."""
        kind = type(expr)
        e: Any = expr  # its class is known in each branch
        path = self.path(e.path) if kind in _PATHED else None
        if kind is Comparison:
            return f"{path} {e.op} {self.value(e.value)}"
        if kind is Function:
            if e.value is None:
                return f"{e.name}({path})"
            return f"{e.name}({path}, {self.value(e.value)})"
        if kind is And or kind is Or:
            ops: tuple[Expr, ...] = e.operands
            render = self.render
            # AND binds tighter than OR, but the parentheses spare the reader the rule
            parts = [f"({render(op)})" if type(op) is And or type(op) is Or else render(op)
                     for op in ops]
            return (" AND " if kind is And else " OR ").join(parts)
        if kind is Not:
            op = e.operand
            text = self.render(op)
            return f"NOT ({text})" if type(op) is And or type(op) is Or or type(op) is Not \
                else "NOT " + text
        if kind is Between:
            # parenthesized so its AND never reads as the conjunction's
            return f"({path} BETWEEN {self.value(e.low)} AND {self.value(e.high)})"
        if kind is InList:
            return f"{path} IN ({', '.join([self.value(v) for v in e.values])})"
        if kind is SizeComparison:
            return f"size({path}) {e.op} {self.value(e.value)}"
        raise ValueError(f"cannot render {expr!r}")  # pragma: no cover - constants are folded

    # -- conditions straight to text ------------------------------------------------------
    def text(self, builder: ConditionBuilder, conds: list[ir.Condition]) -> str | None:
        """The text of the AND of ``conds`` as ``builder`` builds them (see
        ``ConditionBuilder.text``).

        Every part of one predicate starts with its path, and parts are written in
        the order the tree renders them, so the placeholders are numbered alike."""
        self.builder = builder
        if len(conds) == 1:
            cond = conds[0]
            one = self.DISPATCH[type(cond)](self, cond, True)  # self.visit, inlined
            if one is None or type(one) is str:
                return one
            return (" AND " if one[0] else " OR ").join(one[1])
        items = self.parts(conds, True, True)
        return None if items is None else " AND ".join(items)

    def junction(self, operands: tuple[ir.Condition, ...], conj: bool, truth: bool) -> Text:
        if len(operands) == 1:
            return self.visit(operands[0], truth)
        items = self.parts(operands, conj, truth)
        return None if items is None else (conj, items)

    def parts(self, conds: Sequence[ir.Condition], conj: bool, truth: bool
              ) -> list[str] | None:
        """The texts of the parts of an AND (``conj``) or OR of ``conds``: a nested one of
        the same kind flattened, of the other kind in parentheses; None where a part
        declines, or where a part repeats (``and_``/``or_`` would drop the repeats)."""
        items: list[str] = []
        dispatch = self.DISPATCH  # self.visit, inlined: the operands are conditions
        for cond in conds:
            part = dispatch[type(cond)](self, cond, truth)
            if part is None:
                return None
            if type(part) is str:
                items.append(part)
            elif part[0] == conj:
                items.extend(part[1])
            else:
                items.append("(" + (" AND " if part[0] else " OR ").join(part[1]) + ")")
        if len(set(items)) != len(items):
            return None
        return items

    def attribute(self, path: ir.Path) -> str | None:
        """The placeholder text of a predicate's path; None for a key attribute, whose
        guards the tree folds (``ConditionBuilder.key_type``)."""
        builder = self.builder
        segments = path.segments
        renamed = builder.renamed
        if renamed is None or segments[0] in renamed or len(segments) > builder.max_depth:
            segments = builder.attribute(path)
        if len(segments) != 1:
            return self.path(segments)
        segment = segments[0]
        if segment in builder.keys:
            return None
        # self.path(segments), inlined for one name (most predicates' paths)
        name_of = self._name_of
        text = name_of.get(segment)
        if text is None:
            n = len(self.names)
            text = name_of[segment] = _NAMES[n] if n < _SHARED else f"#n{n}"
            self.names[text] = segment
        return text

    def decline(self, cond: ir.Condition, truth: bool) -> Text:
        """A predicate only the tree writes."""
        return None

    visit_ContainsAny = visit_ContainsAll = visit_Size = visit_Matches = decline

    def visit_Compare(self, cond: ir.Compare, truth: bool) -> Text:
        p = self.attribute(cond.path)
        if p is None:
            return None
        v: Any = cond.value
        if type(v) is not ir.Literal:
            return None
        op = cond.op
        w = self
        # every branch writes v: its number_text raises for what storable(v) would
        if op != "==" and op != "!=":
            if v.kind in _TREE_KINDS:
                return None  # guarded or refused: the tree writes it
            return f"{p} {op if truth else _NEGATED[op]} {w.value(v)}"
        if v.value is None:
            return _null_text(p, op == "==", truth, w)
        if truth == (op == "=="):
            return f"{p} = {w.value(v)}"
        return True, [f"attribute_exists({p})", f"NOT attribute_type({p}, {w.value(_NULL)})",
                      f"{p} <> {w.value(v)}"]

    def visit_Exists(self, cond: ir.Exists, truth: bool) -> Text:
        p = self.attribute(cond.path)
        if p is None:
            return None
        return f"attribute_exists({p})" if truth else f"attribute_not_exists({p})"

    def visit_StartsWith(self, cond: ir.StartsWith, truth: bool) -> Text:
        p = self.attribute(cond.path)
        if p is None:
            return None
        prefix: Any = cond.value
        if type(prefix) is not ir.Literal or type(prefix.value) is not str:
            return None
        w = self
        if truth:
            return f"begins_with({p}, {w.value(prefix)})"
        return True, [f"attribute_type({p}, {w.value(_STRING)})",
                      f"NOT begins_with({p}, {w.value(prefix)})"]

    def list_or_set_text(self, p: str) -> str:
        """``ConditionBuilder.list_or_set``'s text: the four type names are placed as
        ``value`` would place them (one call instead of four: ``contains`` is common)."""
        value_of, values = self._value_of, self.values
        names = []
        for t in _LIST_OR_SET:
            placeholder = value_of.get(t)
            if placeholder is None:
                n = len(values)
                placeholder = value_of[t] = _VALUES[n] if n < _SHARED else f":v{n}"
                values[placeholder] = _TYPE_VALUES[t]
            names.append(placeholder)
        a, b, c, d = names
        return (f"(attribute_type({p}, {a}) OR attribute_type({p}, {b}) OR "
                f"attribute_type({p}, {c}) OR attribute_type({p}, {d}))")

    def visit_Contains(self, cond: ir.Contains, truth: bool) -> Text:
        p = self.attribute(cond.path)
        if p is None:
            return None
        value: Any = cond.value
        if type(value) is ir.Param:
            return None
        if type(value) is not ir.Literal or type(value.value) is not str:
            storable(value)
        w = self
        return True, [self.list_or_set_text(p),
                      f"contains({p}, {w.value(value)})" if truth
                      else f"NOT contains({p}, {w.value(value)})"]

    def visit_Between(self, cond: ir.Between, truth: bool) -> Text:
        p = self.attribute(cond.path)
        if p is None:
            return None
        lo: Any = cond.low
        hi: Any = cond.high
        if type(lo) is not ir.Literal or type(hi) is not ir.Literal:
            return None
        if lo.kind in _TREE_KINDS:
            return None  # guarded or refused: the tree writes it
        w = self
        # both are written (number_text raises as storable would) unless folded, which
        # the tree does, checking them
        if not truth:
            return False, [f"{p} < {w.value(lo)}", f"{p} > {w.value(hi)}"]
        if bounds_reversed(lo, hi):
            return None  # never true: folded by the tree
        return f"({p} BETWEEN {w.value(lo)} AND {w.value(hi)})"

    def visit_In(self, cond: ir.In, truth: bool) -> Text:
        p = self.attribute(cond.path)
        if p is None:
            return None
        values: Any = cond.values
        if type(values) is not ir.ListValue:
            return None
        if len(values.items) > MAX_IN_VALUES:
            # over 100 values unless repeats: the tree's builder deduplicates them once,
            # and refuses past 100
            return None
        storable(values)
        plain, nulls = distinct_values(values.items)
        w = self
        if truth != cond.negated:
            if not plain:
                if not nulls:
                    return None  # never true: folded by the tree
                return f"attribute_type({p}, {w.value(_NULL)})"
            equal = _equal_text(p, plain, w)
            if not nulls:
                return equal
            return False, [equal, f"attribute_type({p}, {w.value(_NULL)})"]
        guard = [f"attribute_exists({p})", f"NOT attribute_type({p}, {w.value(_NULL)})"]
        if plain:  # written after the guard, as the tree renders it
            guard.append("NOT " + _equal_text(p, plain, w))
        return True, guard


def _json_bytes(value: Any) -> str:
    """``B`` values in a placeholder's key (``ExpressionWriter.value``)."""
    if isinstance(value, bytes):
        return "b:" + value.hex()
    raise TypeError(type(value).__name__)  # pragma: no cover - AttributeValues only


def scalar_attribute_value(raw: str | int | float | bool) -> dict[str, Any]:
    """The AttributeValue ``ExpressionWriter.value`` gives a string, number or bool."""
    kind = type(raw)
    if kind is str:
        return {"S": raw}
    if kind is bool:
        return {"BOOL": raw}
    if kind is int and -_SAFE_INT < raw < _SAFE_INT:  # type: ignore[operator]
        return {"N": str(raw)}
    return {"N": query_number_text(raw)}  # type: ignore[arg-type]
