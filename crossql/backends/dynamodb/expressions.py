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
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeAlias

from crossql import ir
from crossql.backends.dynamodb.values import AttributeValue, to_attribute_value
from crossql.errors import CapabilityError

Path: TypeAlias = tuple[str, ...]
"""A DynamoDB document path: top-level attribute name, then map keys."""

Lit: TypeAlias = ir.Literal | ir.ListValue

MAX_IN_VALUES = 100
"""Operands of one ``IN`` (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Constraints.html#limits-expression-parameters)."""

_NEGATED = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "=": "<>", "<>": "=", "==": "!=",
            "!=": "=="}
_DYNAMO_OP = {"==": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


# --- the expression tree -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Const:
    """A constant truth value; folded away before rendering."""

    value: bool


ALWAYS = Const(True)
NEVER = Const(False)


@dataclass(frozen=True, slots=True)
class Comparison:
    """``path op :value`` with op one of ``= <> < <= > >=``."""

    op: str
    path: Path
    value: Lit


@dataclass(frozen=True, slots=True)
class Between:
    """``path BETWEEN :low AND :high`` (low <= high)."""

    path: Path
    low: Lit
    high: Lit


@dataclass(frozen=True, slots=True)
class InList:
    """``path IN (:v1, ...)`` with at most 100 values."""

    path: Path
    values: tuple[Lit, ...]


@dataclass(frozen=True, slots=True)
class Function:
    """``attribute_exists``, ``attribute_not_exists``, ``attribute_type``,
    ``begins_with`` or ``contains`` on a path (with an operand for the last three)."""

    name: str
    path: Path
    value: Lit | None = None


@dataclass(frozen=True, slots=True)
class SizeComparison:
    """``size(path) op :n``."""

    op: str
    path: Path
    value: Lit


@dataclass(frozen=True, slots=True)
class Not:
    """``NOT operand`` (only ever around a function or comparison)."""

    operand: Expr


@dataclass(frozen=True, slots=True)
class And:
    """``a AND b AND ...``."""

    operands: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Or:
    """``a OR b OR ...``."""

    operands: tuple[Expr, ...]


Expr: TypeAlias = Const | Comparison | Between | InList | Function | SizeComparison | Not | And \
    | Or


def and_(*parts: Expr) -> Expr:
    """Conjunction: flattened, duplicates dropped, constants folded."""
    out: list[Expr] = []
    for part in parts:
        for p in part.operands if isinstance(part, And) else (part,):
            if p == NEVER:
                return NEVER
            if p != ALWAYS and p not in out:
                out.append(p)
    if not out:
        return ALWAYS
    return out[0] if len(out) == 1 else And(tuple(out))


def or_(*parts: Expr) -> Expr:
    """Disjunction: flattened, duplicates dropped, constants folded."""
    out: list[Expr] = []
    for part in parts:
        for p in part.operands if isinstance(part, Or) else (part,):
            if p == ALWAYS:
                return ALWAYS
            if p != NEVER and p not in out:
                out.append(p)
    if not out:
        return NEVER
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


def _type(name: str) -> ir.Literal:
    return ir.Literal(name, "string")


def _lit(value: ir.Value) -> Lit:
    if isinstance(value, ir.Param):  # pragma: no cover - plans are compiled from bound IR
        raise ValueError(f"parameter :{value.name} is not bound")
    return value


def _items(value: ir.Value) -> tuple[Lit, ...]:
    lit = _lit(value)
    assert isinstance(lit, ir.ListValue)
    return lit.items


def _is_null(value: Lit) -> bool:
    return isinstance(value, ir.Literal) and value.kind == "null"


def _order_key(value: ir.Literal) -> Any:
    return value.value


Refuse = Callable[[str, Any, str, str], CapabilityError]
"""``refuse(construct, node, message, hint)`` → the error to raise."""


class ConditionBuilder:
    """Builds ``true(c)`` / ``false(c)`` expressions of CrossQL conditions."""

    def __init__(self, attribute: Callable[[ir.Path], Path], refuse: Refuse) -> None:
        self.attribute = attribute
        self.refuse = refuse

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
        return and_(self.exists(p), not_(self.has_type(p, "NULL")))

    # -- equality -----------------------------------------------------------------------
    def equals(self, p: Path, value: Lit, truth: bool) -> Expr:
        """Where ``p == value`` is ``truth`` (for a non-null value)."""
        if truth:
            return Comparison("=", p, value)
        # `<>` alone is also true on a missing or NULL attribute, where `==` is unknown
        return and_(self.present_non_null(p), Comparison("<>", p, value))

    def in_list(self, p: Path, values: tuple[Lit, ...], truth: bool, node: ir.In) -> Expr:
        """Where ``p in values`` is ``truth``."""
        plain: list[Lit] = []
        for v in values:
            if not _is_null(v) and v not in plain:
                plain.append(v)
        if len(plain) > MAX_IN_VALUES:
            raise self.refuse(
                "in", node, f"dynamodb cannot evaluate `in` with {len(plain)} values: "
                f"DynamoDB's IN takes at most {MAX_IN_VALUES}",
                "split the list into several queries of at most 100 values each")
        if not truth:  # present, non-null, equal to none of the values
            if not plain:
                return self.present_non_null(p)
            return and_(self.present_non_null(p), not_(self._any_equal(p, plain)))
        parts = [self._any_equal(p, plain)] if plain else []
        if any(_is_null(v) for v in values):
            parts.append(self.has_type(p, "NULL"))
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
        if _order_key(low) > _order_key(high):
            # DynamoDB rejects such a BETWEEN; it is true for no value
            return NEVER
        return Between(p, low, high)

    # -- arrays -----------------------------------------------------------------------
    def _array(self, p: Path, inner: Expr) -> Expr:
        # contains() and size() also work on strings, sets and maps: arrays only
        return and_(self.has_type(p, "L"), inner) if inner != NEVER else NEVER

    def contains(self, p: Path, values: tuple[Lit, ...], truth: bool, mode: str) -> Expr:
        """``contains`` (one value), ``contains any`` or ``contains all``, true or false."""
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
        return and_(self.has_type(p, "S"), not_(test))

    # -- conditions ---------------------------------------------------------------------
    def build(self, cond: ir.Condition, truth: bool = True) -> Expr:
        """The expression of items where ``cond`` evaluates to ``truth``."""
        match cond:
            case ir.And(operands=operands):
                parts = [self.build(c, truth) for c in operands]
                return and_(*parts) if truth else or_(*parts)
            case ir.Or(operands=operands):
                parts = [self.build(c, truth) for c in operands]
                return or_(*parts) if truth else and_(*parts)
            case ir.Not(operand=operand):
                return self.build(operand, not truth)
            case ir.Matches():
                raise self.refuse(
                    "matches", cond,
                    "dynamodb cannot evaluate `matches`: DynamoDB has no regular expressions",
                    "use startswith for a prefix, or filter the rows in your code")
        p = self.attribute(cond.path)
        match cond:
            case ir.Exists():
                return self.exists(p) if truth else self.missing(p)
            case ir.Compare(op="==" | "!=" as op, value=value):
                v = _lit(value)
                positive = truth == (op == "==")
                if _is_null(v):
                    # `== null` is two-valued: an explicit NULL, never a missing attribute
                    if op == "==":
                        return self.has_type(p, "NULL") if truth else \
                            not_(self.has_type(p, "NULL"))
                    return self.present_non_null(p) if truth else \
                        or_(self.missing(p), self.has_type(p, "NULL"))
                return self.equals(p, v, positive)
            case ir.Compare(op=op, value=value):
                return Comparison(op if truth else _NEGATED[op], p, _lit(value))
            case ir.Between(low=low, high=high):
                lo, hi = _lit(low), _lit(high)
                assert isinstance(lo, ir.Literal) and isinstance(hi, ir.Literal)
                return self.between(p, lo, hi, truth)
            case ir.In(values=values, negated=negated):
                return self.in_list(p, _items(values), truth != negated, cond)
            case ir.Contains(value=value):
                return self.contains(p, (_lit(value),), truth, "all")
            case ir.ContainsAny(values=values):
                return self.contains(p, _items(values), truth, "any")
            case ir.ContainsAll(values=values):
                return self.contains(p, _items(values), truth, "all")
            case ir.Size(op=op, value=value):
                return self.size(p, op, _lit(value), truth)
            case ir.StartsWith(value=value):
                prefix = _lit(value)
                assert isinstance(prefix, ir.Literal)
                return self.starts_with(p, prefix, truth)
        raise TypeError(f"unhandled condition node {type(cond).__name__}")  # pragma: no cover


# --- rendering -------------------------------------------------------------------------

_OR, _AND, _NOT, _ATOM = 1, 2, 3, 4


class ExpressionWriter:
    """Renders expressions with ``#nK`` name and ``:vK`` value placeholders, numbered
    in order of first use (so a plan's text is deterministic), each name and each
    value written once however often it is used."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, AttributeValue] = {}
        self._name_of: dict[str, str] = {}
        self._value_of: dict[str, str] = {}

    def name(self, attribute: str) -> str:
        """The placeholder of one attribute name (or map key)."""
        placeholder = self._name_of.get(attribute)
        if placeholder is None:
            placeholder = f"#n{len(self._name_of)}"
            self._name_of[attribute] = placeholder
            self.names[placeholder] = attribute
        return placeholder

    def path(self, path: Path) -> str:
        """A document path as placeholders joined by dots."""
        return ".".join(self.name(segment) for segment in path)

    def value(self, value: Lit) -> str:
        """The placeholder of one value, in typed AttributeValue form."""
        av = to_attribute_value(ir.python_value(value))
        key = json.dumps(av, sort_keys=True)
        placeholder = self._value_of.get(key)
        if placeholder is None:
            placeholder = f":v{len(self._value_of)}"
            self._value_of[key] = placeholder
            self.values[placeholder] = av
        return placeholder

    def render(self, expr: Expr) -> str:
        """The expression text."""
        text, _ = self._render(expr)
        return text

    def _wrap(self, expr: Expr, level: int) -> str:
        text, own = self._render(expr)
        return f"({text})" if own < level else text

    def _render(self, expr: Expr) -> tuple[str, int]:
        match expr:
            case Or(operands=ops):
                # AND binds tighter than OR, but the parentheses spare the reader the rule
                return " OR ".join(self._wrap(o, _NOT) for o in ops), _OR
            case And(operands=ops):
                return " AND ".join(self._wrap(o, _NOT) for o in ops), _AND
            case Not(operand=op):
                return "NOT " + self._wrap(op, _ATOM), _NOT
            case Comparison(op=op, path=p, value=v):
                return f"{self.path(p)} {op} {self.value(v)}", _ATOM
            case Between(path=p, low=lo, high=hi):
                # parenthesized so its AND never reads as the conjunction's
                return f"({self.path(p)} BETWEEN {self.value(lo)} AND {self.value(hi)})", _ATOM
            case InList(path=p, values=vs):
                return f"{self.path(p)} IN ({', '.join(self.value(v) for v in vs)})", _ATOM
            case Function(name=name, path=p, value=None):
                return f"{name}({self.path(p)})", _ATOM
            case Function(name=name, path=p, value=v):
                assert v is not None
                return f"{name}({self.path(p)}, {self.value(v)})", _ATOM
            case SizeComparison(op=op, path=p, value=v):
                return f"size({self.path(p)}) {op} {self.value(v)}", _ATOM
        raise ValueError(f"cannot render {expr!r}")  # pragma: no cover - constants are folded
