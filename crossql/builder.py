"""Composable queries: build a query from Python objects instead of concatenating text.

>>> from crossql import and_, field, query
>>> status, min_total = "paid", None           # optional filters from user input
>>> q = query("orders").where(
...     field("status") == status if status is not None else None,
...     field("total") >= min_total if min_total is not None else None,
... ).order_by("created_at", desc=True).limit(10)
>>> q.format()
'from orders where status == :p0 order by created_at desc limit :p1'
>>> q.params
{'p0': 'paid', 'p1': 10}

Every value becomes a parameter (``:p0``, ``:p1``, ... in the order of the text), so
user input never becomes query text; every name (a field, a sort key, a collection)
passes the text's own name rules or is refused with a located ``QuerySemanticError``.
A builder renders to canonical text (``format()``) and is accepted wherever text is:
``crossql.compile``, ``crossql.evaluate``, ``store.fetch``/``stream``/``count``/
``plan``/``prepare`` and, for ``update``/``delete_from``, ``store.execute``.
The choices are written down in docs/builder.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar, Literal, TypeAlias, Union

from crossql import ir
from crossql.errors import QuerySemanticError
from crossql.grammar.formatter import format_condition, format_path, format_statement
from crossql.grammar.lexer import KEYWORD_TERMINALS, LexError, tokens

__all__ = [
    "Condition",
    "DeleteBuilder",
    "Field",
    "OrderKey",
    "Param",
    "QueryBuilder",
    "SelectItem",
    "Size",
    "UpdateBuilder",
    "and_",
    "delete_from",
    "field",
    "not_",
    "or_",
    "param",
    "query",
    "update",
]

Scalar: TypeAlias = str | int | float | bool | datetime | bytes | Decimal | ir.ObjectIdLike | None
"""A value the language has a literal for, or a native kind (an aware ``datetime``,
``bytes``, a ``Decimal``, a ``bson.ObjectId``: docs/language.md, "Values")."""
ValueArg: TypeAlias = Union[Scalar, Sequence["ValueArg"], "Param"]
"""What a comparison takes: a scalar, a list of values, or a named ``param``."""
ListArg: TypeAlias = Union[Sequence[Scalar | Sequence[Any]], "Param"]
"""What ``in_``, ``contains_any`` and ``contains_all`` take: a list, or a named ``param``."""

_AUTO_NAME = re.compile(r"p[0-9]+\Z")
_PARAM_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


# -- names --------------------------------------------------------------------------------------


def _name_error(message: str, text: str, span: tuple[int, int], hint: str) -> QuerySemanticError:
    return QuerySemanticError(message, code="semantic.invalid-name", span=span, source=text,
                              hint=hint)


_NAME_HINT = ("a name is letters, digits and _, segments joined by `.`; backtick any other "
              "segment (`first name`) and keywords (`order`)")


def parse_path(text: str) -> tuple[str, ...]:
    """The segments of a path written as in the query text (``address.city``,
    ```first name```, ```order```), refused with a located ``QuerySemanticError``
    when it is not exactly one path: no blanks, comments, operators or keywords."""
    if not isinstance(text, str):
        raise TypeError(f"a field name is text, not {type(text).__name__}")
    if not text:
        raise _name_error("an empty field name", text, (0, 0), _NAME_HINT)
    segments: list[str] = []
    expect_name = True
    pos = 0
    try:
        for kind, value, start, end in tokens(text):
            if start != pos:  # blanks or a comment: not part of any name
                raise _name_error(f"{text!r} is not a field name: a name has no blanks",
                                  text, (pos, start), _NAME_HINT)
            pos = end
            if expect_name and kind == "NAME":
                segments.append(value)
            elif expect_name and kind == "QUOTED_NAME":
                segment = value[1:-1].replace("``", "`")
                if not segment:
                    raise _name_error("an empty name ``", text, (start, end),
                                      "a backticked name needs at least one character")
                segments.append(segment)
            elif not expect_name and kind == "DOT":
                pass
            else:
                hint = (f"`{value.lower()}` is a keyword; to use it as a name, put it in "
                        "backticks" if value.lower() in _KEYWORDS and expect_name
                        else _NAME_HINT)
                raise _name_error(f"{text!r} is not a field name: unexpected {value!r}",
                                  text, (start, end), hint)
            expect_name = not expect_name
    except LexError as err:
        raise _name_error(f"{text!r} is not a field name", text, (err.pos, err.pos + 1),
                          _NAME_HINT) from None
    if pos != len(text):  # a comment or blanks at the end
        raise _name_error(f"{text!r} is not a field name: unexpected {text[pos:]!r}", text,
                          (pos, len(text)), _NAME_HINT)
    if expect_name:
        raise _name_error(f"{text!r} is not a field name: it ends with `.`", text,
                          (pos, len(text)), _NAME_HINT)
    return tuple(segments)


_KEYWORDS = frozenset(KEYWORD_TERMINALS)


def _dotted(segments: tuple[str, ...]) -> str:
    return format_path(ir.Path(segments))


def model_fields(model: type) -> frozenset[tuple[str, ...]]:
    """The paths a pydantic model declares: each field under its alias (its name where it
    has none), and the fields of a nested model below it; ``_id`` always."""
    out: set[tuple[str, ...]] = {("_id",)}

    def visit(cls: type, prefix: tuple[str, ...], seen: frozenset[type]) -> None:
        declared = getattr(cls, "model_fields", None)
        if not isinstance(declared, Mapping):
            raise TypeError(f"model= takes a pydantic model class, not {cls!r}")
        for name, info in declared.items():
            path = (*prefix, getattr(info, "alias", None) or name)
            out.add(path)
            for sub in _models_in(getattr(info, "annotation", None)):
                if sub not in seen:
                    visit(sub, path, seen | {sub})

    visit(model, (), frozenset({model}))
    return frozenset(out)


def _models_in(annotation: Any) -> list[type]:
    """The pydantic model classes in an annotation (``Address``, ``Address | None``)."""
    if isinstance(annotation, type):
        return [annotation] if isinstance(getattr(annotation, "model_fields", None),
                                          Mapping) else []
    return [m for arg in getattr(annotation, "__args__", ()) for m in _models_in(arg)]


@dataclass(frozen=True, slots=True)
class _Schema:
    """The declared paths of a collection; a name outside them is refused."""

    paths: frozenset[tuple[str, ...]]

    def check(self, segments: tuple[str, ...], text: str | None = None) -> None:
        if segments in self.paths:
            return
        shown = text if text is not None else _dotted(segments)
        known = sorted(_dotted(p) for p in self.paths if len(p) == 1)
        listed = ", ".join(known[:12]) + (", ..." if len(known) > 12 else "")
        raise QuerySemanticError(
            f"{shown!r} is not a declared field", code="semantic.undeclared-field",
            span=(0, len(shown)), source=shown, hint=f"declared fields: {listed}")


def _schema(fields: Iterable[str] | None, model: type | None) -> _Schema | None:
    if fields is None and model is None:
        return None
    paths: set[tuple[str, ...]] = set()
    if model is not None:
        paths |= model_fields(model)
    if fields is not None:
        if isinstance(fields, str):
            raise TypeError("fields= takes a list of names, not one string")
        paths |= {parse_path(name) for name in fields}
    return _Schema(frozenset(paths))


# -- values -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Param:
    """A named parameter (``param("min")`` is ``:min``): its value is given when the query
    runs, so a prepared builder query runs with different values."""

    name: str


def param(name: str) -> Param:
    """The named parameter ``:name``; ``p`` followed by digits is kept for the values the
    builder names itself."""
    if not isinstance(name, str) or not _PARAM_NAME.match(name):
        raise ValueError(f"a parameter name is letters, digits and _, not {name!r}")
    if _AUTO_NAME.match(name):
        raise ValueError(f"{name!r} is reserved for the builder's own parameters "
                         "(:p0, :p1, ...); choose another name")
    return Param(name)


class _Render:
    """Names the values of one statement ``p0``, ``p1``, ... in the order of its text."""

    __slots__ = ("values",)

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def value(self, value: Any) -> ir.Param:
        if isinstance(value, Param):
            return ir.Param(value.name)
        if isinstance(value, Field | Condition):
            raise TypeError("a value is a constant or param(...); the language compares a "
                            "field with a value, not with another field or a condition")
        name = f"p{len(self.values)}"
        self.values[name] = list(value) if isinstance(value, tuple) else value
        return ir.Param(name)


# -- conditions ---------------------------------------------------------------------------------


Kind: TypeAlias = Literal["compare", "between", "in", "not in", "contains", "contains any",
                          "contains all", "startswith", "matches", "exists", "size", "and",
                          "or", "not", "empty"]


class Condition:
    """A condition: a predicate on a field, or ``and_``/``or_``/``not_`` of conditions
    (also ``a & b``, ``a | b``, ``~a``). ``and_()`` is the empty condition: it adds
    nothing, and a ``where`` of only empty conditions is left out. Made by ``Field``'s
    methods and operators and by ``and_``/``or_``/``not_``, not directly."""

    __slots__ = ("_field", "_kind", "_op", "_operands", "_values")
    __hash__ = None  # type: ignore[assignment]  # conditions are not set members

    def __init__(self, kind: Kind, field: Field | None = None, values: tuple[Any, ...] = (),
                 op: ir.CompareOp | None = None,
                 operands: tuple[Condition, ...] = ()) -> None:
        self._kind = kind
        self._field = field
        self._values = values
        self._op = op
        self._operands = operands

    @property
    def is_empty(self) -> bool:
        """True for the empty condition (``and_()``, ``or_()``, ``not_()``)."""
        return self._kind == "empty"

    def __and__(self, other: Condition) -> Condition:
        return and_(self, other)

    def __or__(self, other: Condition) -> Condition:
        return or_(self, other)

    def __invert__(self) -> Condition:
        return not_(self)

    def __bool__(self) -> bool:
        # `a and b` / `x < y < z` on conditions would silently drop one: refuse
        raise TypeError("a condition has no truth value: combine with and_(), or_(), not_() "
                        "(or &, |, ~), and write `a <= x <= b` as x.between(a, b)")

    def paths(self) -> Iterable[tuple[str, ...]]:
        """The paths of the fields this condition names."""
        if self._field is not None:
            yield self._field.segments
        for operand in self._operands:
            yield from operand.paths()

    def to_ir(self, render: _Render | None = None) -> ir.Condition | None:
        """The IR of this condition (None for the empty one); values become parameters."""
        r = render if render is not None else _Render()
        kind = self._kind
        if kind == "empty":
            return None
        if kind in ("and", "or", "not"):
            parts = [c for c in (o.to_ir(r) for o in self._operands) if c is not None]
            if kind == "not":
                return ir.Not(parts[0])
            return ir.And(tuple(parts)) if kind == "and" else ir.Or(tuple(parts))
        assert self._field is not None
        path = self._field.path
        if kind == "exists":
            return ir.Exists(path)
        values = [r.value(v) for v in self._values]
        if kind == "compare":
            assert self._op is not None
            return ir.Compare(self._op, path, values[0])
        if kind == "size":
            assert self._op is not None
            return ir.Size(self._op, path, values[0])
        if kind == "between":
            return ir.Between(path, values[0], values[1])
        if kind in ("in", "not in"):
            return ir.In(path, values[0], negated=kind == "not in")
        if kind == "contains":
            return ir.Contains(path, values[0])
        if kind == "contains any":
            return ir.ContainsAny(path, values[0])
        if kind == "contains all":
            return ir.ContainsAll(path, values[0])
        if kind == "startswith":
            return ir.StartsWith(path, values[0])
        assert kind == "matches"
        return ir.Matches(path, values[0])

    def format(self) -> str:
        """The condition as canonical text (values as ``:p0``, ``:p1``, ...; empty: ``""``)."""
        node = self.to_ir()
        return "" if node is None else format_condition(node)

    def __repr__(self) -> str:
        return f"<Condition {self.format() or '(empty)'}>"


_EMPTY = Condition("empty")


def _operands(kind: Literal["and", "or"],
              conditions: tuple[Condition | None, ...]) -> list[Condition]:
    out: list[Condition] = []
    for cond in conditions:
        if cond is None or (isinstance(cond, Condition) and cond.is_empty):
            continue
        if not isinstance(cond, Condition):
            raise TypeError(f"{kind}_() takes conditions (or None), not "
                            f"{type(cond).__name__}")
        # `(a and b) and c` is `a and b and c`: one flat list, as the text would write it
        out.extend(cond._operands if cond._kind == kind else (cond,))
    return out


def and_(*conditions: Condition | None) -> Condition:
    """All of the conditions. ``None`` and empty conditions are left out; with none left
    it is the empty condition (no filter), with one it is that one."""
    ops = _operands("and", conditions)
    if not ops:
        return _EMPTY
    return ops[0] if len(ops) == 1 else Condition("and", operands=tuple(ops))


def or_(*conditions: Condition | None) -> Condition:
    """Any of the conditions. ``None`` and empty conditions are left out; with none left
    it is the empty condition (no filter — not "false"), with one it is that one."""
    ops = _operands("or", conditions)
    if not ops:
        return _EMPTY
    return ops[0] if len(ops) == 1 else Condition("or", operands=tuple(ops))


def not_(condition: Condition | None = None) -> Condition:
    """The negation of a condition (Kleene: not unknown is unknown); of ``None`` or the
    empty condition, the empty condition."""
    if not isinstance(condition, Condition | None):
        raise TypeError(f"not_() takes a condition, not {type(condition).__name__}")
    if condition is None or condition.is_empty:
        return _EMPTY
    return Condition("not", operands=(condition,))


# -- fields -------------------------------------------------------------------------------------


class Field:
    """A reference to a field. Comparing it with a value gives a ``Condition``:
    ``field("age") >= 18``, ``field("tags").contains("vip")``."""

    __slots__ = ("segments",)
    __hash__ = None  # type: ignore[assignment]  # `==` builds a condition

    def __init__(self, segments: tuple[str, ...]) -> None:
        if not segments or not all(isinstance(s, str) and s for s in segments):
            raise ValueError(f"a field path is one or more non-empty names, not {segments!r}")
        self.segments = segments

    @classmethod
    def of(cls, *segments: str) -> Field:
        """The field with these segments taken as they are (no text rules: ``Field.of("first
        name")`` is ```first name```); for names that come from code, not from users."""
        return cls(tuple(segments))

    @property
    def path(self) -> ir.Path:
        """The IR path."""
        return ir.Path(self.segments)

    def __repr__(self) -> str:
        return f"field({_dotted(self.segments)!r})"

    def _cmp(self, op: ir.CompareOp, value: Any) -> Condition:
        if isinstance(value, Field | Size | Condition):
            raise TypeError("the language compares a field with a value (or a param), not "
                            "with another field or a condition")
        return Condition("compare", self, (value,), op=op)

    def __eq__(self, value: ValueArg) -> Condition:  # type: ignore[override]
        return self._cmp("==", value)

    def __ne__(self, value: ValueArg) -> Condition:  # type: ignore[override]
        return self._cmp("!=", value)

    def __lt__(self, value: Scalar | Param) -> Condition:
        return self._cmp("<", value)

    def __le__(self, value: Scalar | Param) -> Condition:
        return self._cmp("<=", value)

    def __gt__(self, value: Scalar | Param) -> Condition:
        return self._cmp(">", value)

    def __ge__(self, value: Scalar | Param) -> Condition:
        return self._cmp(">=", value)

    def is_null(self) -> Condition:
        """``field == null``: an explicit null (a missing field is not null)."""
        return self._cmp("==", None)

    def between(self, low: Scalar | Param, high: Scalar | Param) -> Condition:
        """``field between low and high`` (both ends included)."""
        return Condition("between", self, (low, high))

    def in_(self, values: ListArg) -> Condition:
        """``field in [...]``: equal to one of the values."""
        return Condition("in", self, (_list(values, "in_"),))

    def not_in(self, values: ListArg) -> Condition:
        """``field not in [...]``."""
        return Condition("not in", self, (_list(values, "not_in"),))

    def contains(self, value: ValueArg) -> Condition:
        """``field contains value``: an array with an element equal to value."""
        return Condition("contains", self, (value,))

    def contains_any(self, values: ListArg) -> Condition:
        """``field contains any [...]``."""
        return Condition("contains any", self, (_list(values, "contains_any"),))

    def contains_all(self, values: ListArg) -> Condition:
        """``field contains all [...]``."""
        return Condition("contains all", self, (_list(values, "contains_all"),))

    def startswith(self, prefix: str | Param) -> Condition:
        """``field startswith "prefix"``."""
        return Condition("startswith", self, (prefix,))

    def matches(self, pattern: str | Param) -> Condition:
        """``field matches "regex"`` (the pattern is checked as in the text: docs/limits.md)."""
        return Condition("matches", self, (pattern,))

    def exists(self) -> Condition:
        """``exists(field)``: present, whatever its value."""
        return Condition("exists", self)

    def size(self) -> Size:
        """``size(field)``, to compare: ``field("tags").size() >= 2``."""
        return Size(self)

    def asc(self) -> OrderKey:
        """An ascending sort key."""
        return OrderKey(self, False)

    def desc(self) -> OrderKey:
        """A descending sort key."""
        return OrderKey(self, True)

    def as_(self, alias: str) -> SelectItem:
        """A select item under another name (``select total as amount``)."""
        if not isinstance(alias, str) or not alias:
            raise ValueError(f"an alias is a non-empty name, not {alias!r}")
        return SelectItem(self, alias)


def _list(values: Any, method: str) -> Any:
    if isinstance(values, Param):
        return values
    if isinstance(values, str | bytes) or not isinstance(values, Sequence):
        raise TypeError(f"{method}() takes a list of values (or a param), not "
                        f"{type(values).__name__}")
    return list(values)


class Size:
    """``size(field)``: compare it with a number to get a condition."""

    __slots__ = ("field",)
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, field: Field) -> None:
        self.field = field

    def _cmp(self, op: ir.CompareOp, value: int | Param) -> Condition:
        return Condition("size", self.field, (value,), op=op)

    def __eq__(self, value: int | Param) -> Condition:  # type: ignore[override]
        return self._cmp("==", value)

    def __ne__(self, value: int | Param) -> Condition:  # type: ignore[override]
        return self._cmp("!=", value)

    def __lt__(self, value: int | Param) -> Condition:
        return self._cmp("<", value)

    def __le__(self, value: int | Param) -> Condition:
        return self._cmp("<=", value)

    def __gt__(self, value: int | Param) -> Condition:
        return self._cmp(">", value)

    def __ge__(self, value: int | Param) -> Condition:
        return self._cmp(">=", value)


@dataclass(frozen=True, slots=True, eq=False)
class OrderKey:
    """A sort key: ``field("total").desc()``."""

    field: Field
    descending: bool = False


@dataclass(frozen=True, slots=True, eq=False)
class SelectItem:
    """A select item: ``field("total").as_("amount")``."""

    field: Field
    alias: str | None = None


def field(name: str) -> Field:
    """A field named as in the query text: ``field("address.city")``, ``field("`order`")``.
    A name that is not exactly one path (``"total desc"``, ``"a or b"``) raises a located
    ``QuerySemanticError``, so a name from user input cannot add query text."""
    return Field(parse_path(name))


# -- statements ---------------------------------------------------------------------------------


FieldArg: TypeAlias = str | Field


class _Statement:
    """What the three builders share: a collection, a schema, a where and a limit."""

    __slots__ = ()
    collection: str
    schema: _Schema | None
    conditions: tuple[Condition, ...]
    limit_value: Any

    def _field(self, name: FieldArg, also: frozenset[tuple[str, ...]] = frozenset()) -> Field:
        """``name`` as a field, checked against the schema (``also``: names accepted besides
        the declared ones, such as select aliases)."""
        if isinstance(name, Field):
            if self.schema is not None and name.segments not in also:
                self.schema.check(name.segments)
            return name
        segments = parse_path(name)
        if self.schema is not None and segments not in also:
            self.schema.check(segments, name)
        return Field(segments)

    def field(self, name: FieldArg) -> Field:
        """A field of this collection: refused unless declared, where a schema is given."""
        return self._field(name)

    def _where(self, conditions: tuple[Condition | None, ...]) -> tuple[Condition, ...]:
        added = and_(*conditions)
        if self.schema is not None:
            for path in added.paths():
                self.schema.check(path)
        return (*self.conditions, added)

    def _where_ir(self, render: _Render) -> ir.Condition | None:
        return and_(*self.conditions).to_ir(render)

    def to_ir(self) -> ir.Statement:
        """The IR statement (values as parameters ``:p0``, ...)."""
        return self._render()[0]

    def _render(self) -> tuple[ir.Statement, dict[str, Any]]:
        raise NotImplementedError

    @property
    def params(self) -> dict[str, Any]:
        """The values of the parameters the builder named (``p0``, ``p1``, ...)."""
        return self._render()[1]

    def format(self) -> str:
        """The canonical text, values as parameters: for logs and ``explain``."""
        return format_statement(self._render()[0])

    def __str__(self) -> str:
        return self.format()

    def __repr__(self) -> str:
        try:
            return f"<{type(self).__name__} {self.format()}>"
        except QuerySemanticError as err:  # an update that sets nothing, say
            return f"<{type(self).__name__} of {self.collection}: {err.message}>"

    def text_and_params(self, params: Mapping[str, Any] | None = None
                        ) -> tuple[str, dict[str, Any]]:
        """The canonical text and the parameters: the builder's values merged with
        ``params`` (the values of named ``param(...)``s); a name in both is an error."""
        statement, values = self._render()
        for name in params or ():
            if name in values:
                raise QuerySemanticError(
                    f"parameter `:{name}` is named by the builder and given again",
                    code="semantic.duplicate-parameter", hint="the builder names its own "
                    "values p0, p1, ...; pass only the values of param(...)s")
        return format_statement(statement), {**values, **(params or {})}


def _count(value: int | Param | None, what: str) -> int | Param | None:
    if value is None or isinstance(value, Param):
        return value
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what}() takes an int (or a param), not {type(value).__name__}")
    return value


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class QueryBuilder(_Statement):
    """A read query. Each method returns a new builder (the old one is unchanged), so a
    base query can be shared and refined."""

    collection: str
    schema: _Schema | None = None
    conditions: tuple[Condition, ...] = ()
    selected: tuple[SelectItem, ...] = ()
    ordering: tuple[OrderKey, ...] = ()
    limit_value: int | Param | None = None
    offset_value: int | Param | None = None

    kind: ClassVar[str] = "query"

    def where(self, *conditions: Condition | None) -> QueryBuilder:
        """Add conditions (all must hold; ``None`` and empty ones are left out). A query
        whose conditions are all empty has no ``where`` at all."""
        return replace(self, conditions=self._where(conditions))

    def select(self, *items: FieldArg | SelectItem) -> QueryBuilder:
        """Add fields to return (names as in the text, or ``field(...).as_(alias)``)."""
        out = list(self.selected)
        for item in items:
            if isinstance(item, SelectItem):
                out.append(SelectItem(self._field(item.field), item.alias))
            else:
                out.append(SelectItem(self._field(item)))
        return replace(self, selected=tuple(out))

    def order_by(self, *keys: FieldArg | OrderKey, desc: bool = False) -> QueryBuilder:
        """Add sort keys: names (each ``desc`` when ``desc=True``) or
        ``field(...).desc()``/``.asc()``. A name from user input passes the text's name
        rules and, with a schema, must be declared (or be an alias of ``select``)."""
        out = list(self.ordering)
        aliases = frozenset((i.alias,) for i in self.selected if i.alias is not None)
        for key in keys:
            if isinstance(key, OrderKey):
                out.append(OrderKey(self._field(key.field, aliases), key.descending))
            else:
                out.append(OrderKey(self._field(key, aliases), bool(desc)))
        return replace(self, ordering=tuple(out))

    def limit(self, n: int | Param | None) -> QueryBuilder:
        """At most ``n`` rows (None: no limit)."""
        return replace(self, limit_value=_count(n, "limit"))

    def offset(self, n: int | Param | None) -> QueryBuilder:
        """Skip ``n`` rows first (None: none)."""
        return replace(self, offset_value=_count(n, "offset"))

    def _render(self) -> tuple[ir.Query, dict[str, Any]]:
        r = _Render()
        where = self._where_ir(r)
        limit = None if self.limit_value is None else r.value(self.limit_value)
        offset = None if self.offset_value is None else r.value(self.offset_value)
        return ir.Query(
            self.collection, where=where,
            select=tuple(ir.SelectItem(i.field.path, i.alias) for i in self.selected),
            order_by=tuple(ir.OrderKey(k.field.path, k.descending) for k in self.ordering),
            limit=limit, offset=offset), r.values

    def to_ir(self) -> ir.Query:
        """The IR query (values as parameters ``:p0``, ...)."""
        return self._render()[0]


@dataclass(frozen=True, slots=True, eq=False)
class _Assign:
    how: Literal["set", "increment", "unset"]
    field: Field
    value: Any = None


def _require_where(conditions: tuple[Condition, ...], everything: bool, what: str) -> None:
    if not everything and and_(*conditions).is_empty:
        raise QuerySemanticError(
            f"this {what} has no condition: it would write every document",
            code="semantic.write-without-condition",
            hint=f"add .where(...), or call .everything() to {what} every document")


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class UpdateBuilder(_Statement):
    """``update C set ... where ... [limit n]``; run with ``store.execute``."""

    collection: str
    schema: _Schema | None = None
    conditions: tuple[Condition, ...] = ()
    assignments: tuple[_Assign, ...] = ()
    limit_value: int | Param | None = None
    all_documents: bool = False

    def set(self, name: FieldArg, value: ValueArg) -> UpdateBuilder:
        """``set name = value``."""
        return self._assign(_Assign("set", self._field(name), value))

    def increment(self, name: FieldArg, amount: int | float | Param) -> UpdateBuilder:
        """``set name = name + amount``."""
        return self._assign(_Assign("increment", self._field(name), amount))

    def unset(self, name: FieldArg) -> UpdateBuilder:
        """``unset name``."""
        return self._assign(_Assign("unset", self._field(name)))

    def _assign(self, item: _Assign) -> UpdateBuilder:
        return replace(self, assignments=(*self.assignments, item))

    def where(self, *conditions: Condition | None) -> UpdateBuilder:
        """Add conditions; an update whose conditions are all empty is refused unless
        ``everything()`` says so."""
        return replace(self, conditions=self._where(conditions))

    def everything(self) -> UpdateBuilder:
        """Update every document when no condition is left (``where true``)."""
        return replace(self, all_documents=True)

    def limit(self, n: int | Param | None) -> UpdateBuilder:
        """Update at most ``n`` documents."""
        return replace(self, limit_value=_count(n, "limit"))

    def _render(self) -> tuple[ir.Update, dict[str, Any]]:
        if not self.assignments:
            raise QuerySemanticError("an update sets nothing", code="semantic.empty-update",
                                     hint="add .set(...), .increment(...) or .unset(...)")
        _require_where(self.conditions, self.all_documents, "update")
        r = _Render()
        items: list[ir.Assignment] = []
        for a in self.assignments:
            if a.how == "set":
                items.append(ir.SetField(a.field.path, r.value(a.value)))
            elif a.how == "increment":
                items.append(ir.Increment(a.field.path, r.value(a.value)))
            else:
                items.append(ir.Unset(a.field.path))
        where = self._where_ir(r)
        limit = None if self.limit_value is None else r.value(self.limit_value)
        return ir.Update(self.collection, tuple(items), where=where, limit=limit), r.values


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class DeleteBuilder(_Statement):
    """``delete from C where ... [limit n]``; run with ``store.execute``."""

    collection: str
    schema: _Schema | None = None
    conditions: tuple[Condition, ...] = ()
    limit_value: int | Param | None = None
    all_documents: bool = False

    def where(self, *conditions: Condition | None) -> DeleteBuilder:
        """Add conditions; a delete whose conditions are all empty is refused unless
        ``everything()`` says so."""
        return replace(self, conditions=self._where(conditions))

    def everything(self) -> DeleteBuilder:
        """Delete every document when no condition is left (``where true``)."""
        return replace(self, all_documents=True)

    def limit(self, n: int | Param | None) -> DeleteBuilder:
        """Delete at most ``n`` documents."""
        return replace(self, limit_value=_count(n, "limit"))

    def _render(self) -> tuple[ir.Delete, dict[str, Any]]:
        _require_where(self.conditions, self.all_documents, "delete")
        r = _Render()
        where = self._where_ir(r)
        limit = None if self.limit_value is None else r.value(self.limit_value)
        return ir.Delete(self.collection, where=where, limit=limit), r.values


Builder: TypeAlias = QueryBuilder | UpdateBuilder | DeleteBuilder
"""Any builder statement."""


def _collection(name: str) -> str:
    segments = parse_path(name)
    if len(segments) != 1:
        raise _name_error(f"{name!r} is not a collection name: it has a `.`", name,
                          (0, len(name)), "a collection is one name; backtick it if it "
                          "holds a dot")
    return segments[0]


def query(collection: str, *, fields: Iterable[str] | None = None,
          model: type | None = None) -> QueryBuilder:
    """A read query on ``collection`` (a name as in the text). With ``fields=`` (names) or
    ``model=`` (a pydantic model class), only declared fields are accepted anywhere in it."""
    return QueryBuilder(_collection(collection), _schema(fields, model))


def update(collection: str, *, fields: Iterable[str] | None = None,
           model: type | None = None) -> UpdateBuilder:
    """An ``update`` of ``collection``: ``update("users").set("status", s).where(...)``."""
    return UpdateBuilder(_collection(collection), _schema(fields, model))


def delete_from(collection: str, *, fields: Iterable[str] | None = None,
                model: type | None = None) -> DeleteBuilder:
    """A ``delete from collection``: ``delete_from("sessions").where(...)``."""
    return DeleteBuilder(_collection(collection), _schema(fields, model))


def as_text(text: str | Builder, params: Mapping[str, Any] | None
            ) -> tuple[str, Mapping[str, Any] | None]:
    """Text and parameters as the stores take them: a builder's canonical text and its
    values merged with ``params``; anything else (text) and ``params`` as they are."""
    if isinstance(text, _Statement):
        return text.text_and_params(params)
    return text, params
