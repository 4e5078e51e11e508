"""The CrossQL intermediate representation.

Every stage speaks this one namespace (``from crossql import ir``), so a use site
says which layer it talks about: ``ir.Compare``, ``ir.And``.

Nodes are frozen, slotted dataclasses. Each carries the ``span`` of the text it
came from; spans never count in equality or hashing, so a query built by hand
equals the same query parsed from text.

Literals keep their CrossQL type (``kind``) beside the Python value because
Python says ``True == 1 == 1.0`` while CrossQL does not.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol, TypeAlias
from typing import Literal as TLiteral

from crossql._frozen import fast_inits

Span: TypeAlias = tuple[int, int]
"""Start and end offsets (end exclusive) in the query text."""

LiteralKind: TypeAlias = TLiteral["null", "bool", "int", "float", "string", "timestamp", "bytes",
                                   "decimal", "objectid"]
CompareOp: TypeAlias = TLiteral["==", "!=", "<", "<=", ">", ">="]
AggregateFunc: TypeAlias = TLiteral["count", "sum", "avg", "min", "max"]

ORDERING_OPS: frozenset[str] = frozenset({"<", "<=", ">", ">="})
AGGREGATE_FUNCS: tuple[str, ...] = ("count", "sum", "avg", "min", "max")


def _span() -> Any:
    return field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Path:
    """A dotted path into a document: ``address.city`` is ``("address", "city")``."""

    segments: tuple[str, ...]
    span: Span | None = _span()

    @property
    def dotted(self) -> str:
        """The path as plain dotted text (no backticks); for keys and messages."""
        return ".".join(self.segments)


class ObjectIdLike(Protocol):
    """What CrossQL needs of a ``bson.ObjectId`` (typed without importing bson)."""

    @property
    def binary(self) -> bytes:
        """The id's 12 bytes."""


@dataclass(frozen=True, slots=True)
class Literal:
    """A scalar literal: ``null``, a bool, a 64-bit int, a float, a string, or one of the
    native kinds (docs/language.md, "Values"): a timestamp (an aware UTC ``datetime``),
    ``bytes``, an exact number (``Decimal``) or an object id (``bson.ObjectId``)."""

    value: bool | int | float | str | datetime | bytes | Decimal | ObjectIdLike | None
    kind: LiteralKind
    span: Span | None = _span()


@dataclass(frozen=True, slots=True)
class ListValue:
    """A list literal ``[v, ...]``; items are literals or (for equality) lists."""

    items: tuple[Literal | ListValue, ...]
    span: Span | None = _span()


@dataclass(frozen=True, slots=True)
class Param:
    """A parameter ``:name``: always a value, bound before a backend compiles."""

    name: str
    span: Span | None = _span()


Value: TypeAlias = Literal | ListValue | Param


# --- conditions -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Compare:
    """``path op value`` with op one of ``== != < <= > >=``."""

    op: CompareOp
    path: Path
    value: Value
    span: Span | None = _span()


@dataclass(frozen=True, slots=True)
class Between:
    """``path between low and high``: ``low <= path and path <= high``."""

    path: Path
    low: Value
    high: Value
    span: Span | None = _span()


@dataclass(frozen=True, slots=True)
class In:
    """``path in [..]`` / ``path not in [..]``: equality with any / none of the values."""

    path: Path
    values: ListValue | Param
    negated: bool = False
    span: Span | None = _span()


@dataclass(frozen=True, slots=True)
class Contains:
    """``path contains value``: the array at path has an element equal to value."""

    path: Path
    value: Value
    span: Span | None = _span()


@dataclass(frozen=True, slots=True)
class ContainsAny:
    """``path contains any [..]``: the array has at least one listed element."""

    path: Path
    values: ListValue | Param
    span: Span | None = _span()


@dataclass(frozen=True, slots=True)
class ContainsAll:
    """``path contains all [..]``: the array has every listed element."""

    path: Path
    values: ListValue | Param
    span: Span | None = _span()


@dataclass(frozen=True, slots=True)
class StartsWith:
    """``path startswith "prefix"``: a string beginning with the prefix."""

    path: Path
    value: Value
    span: Span | None = _span()


@dataclass(frozen=True, slots=True)
class Matches:
    """``path matches "regex"``: a string in which the pattern is found."""

    path: Path
    value: Value
    span: Span | None = _span()


@dataclass(frozen=True, slots=True)
class Exists:
    """``exists(path)``: the field is present, whatever its value (even null)."""

    path: Path
    span: Span | None = _span()


@dataclass(frozen=True, slots=True)
class Size:
    """``size(path) op n``: path is an array whose length compares with n."""

    op: CompareOp
    path: Path
    value: Value
    span: Span | None = _span()


@dataclass(frozen=True, slots=True)
class Not:
    """``not operand`` (Kleene: not unknown is unknown)."""

    operand: Condition
    span: Span | None = _span()


@dataclass(frozen=True, slots=True)
class And:
    """``a and b and ...`` (two or more operands)."""

    operands: tuple[Condition, ...]
    span: Span | None = _span()


@dataclass(frozen=True, slots=True)
class Or:
    """``a or b or ...`` (two or more operands)."""

    operands: tuple[Condition, ...]
    span: Span | None = _span()


Predicate: TypeAlias = (
    Compare | Between | In | Contains | ContainsAny | ContainsAll | StartsWith | Matches
    | Exists | Size
)
Condition: TypeAlias = Predicate | Not | And | Or

PREDICATE_TYPES: tuple[type, ...] = (
    Compare, Between, In, Contains, ContainsAny, ContainsAll, StartsWith, Matches, Exists, Size,
)


# --- clauses ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Aggregate:
    """``count()``, ``count(p)``, ``sum(p)``, ``avg(p)``, ``min(p)``, ``max(p)``."""

    func: AggregateFunc
    arg: Path | None
    span: Span | None = _span()


@dataclass(frozen=True, slots=True)
class SelectItem:
    """One item of ``select``: a path or an aggregate, with an optional alias."""

    expr: Path | Aggregate
    alias: str | None = None
    span: Span | None = _span()


@dataclass(frozen=True, slots=True)
class OrderKey:
    """One key of ``order by``: a path or a select alias, ascending unless ``desc``."""

    path: Path
    descending: bool = False
    span: Span | None = _span()


@dataclass(frozen=True, slots=True)
class Query:
    """A whole query. ``source`` is the text it was parsed from (for error frames)."""

    collection: str
    where: Condition | None = None
    group_by: tuple[Path, ...] = ()
    select: tuple[SelectItem, ...] = ()
    order_by: tuple[OrderKey, ...] = ()
    limit: Literal | Param | None = None
    offset: Literal | Param | None = None
    span: Span | None = _span()
    source: str | None = field(default=None, compare=False, repr=False)

    @property
    def is_aggregate(self) -> bool:
        """True when the query returns groups (``group by`` or aggregates in select)."""
        return bool(self.group_by) or any(
            isinstance(item.expr, Aggregate) for item in self.select
        )


# --- writes -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SetField:
    """``set path = value``: the field takes the value (missing parent maps are created)."""

    path: Path
    value: Value
    span: Span | None = _span()


@dataclass(frozen=True, slots=True)
class Increment:
    """``set path = path + amount``: add a number to a field that holds a number."""

    path: Path
    amount: Literal | Param
    span: Span | None = _span()


@dataclass(frozen=True, slots=True)
class Unset:
    """``unset path``: remove the field (nothing happens where it is missing)."""

    path: Path
    span: Span | None = _span()


Assignment: TypeAlias = SetField | Increment | Unset


@dataclass(frozen=True, slots=True)
class Update:
    """``update c set ... where ... [limit n]``. ``where`` None is ``where true``: the
    text must spell it, so a bare ``update c set ...`` never parses."""

    collection: str
    assignments: tuple[Assignment, ...]
    where: Condition | None = None
    limit: Literal | Param | None = None
    span: Span | None = _span()
    source: str | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Delete:
    """``delete from c where ... [limit n]``. ``where`` None is ``where true``."""

    collection: str
    where: Condition | None = None
    limit: Literal | Param | None = None
    span: Span | None = _span()
    source: str | None = field(default=None, compare=False, repr=False)


Write: TypeAlias = Update | Delete
Statement: TypeAlias = Query | Update | Delete
"""What ``crossql.parse`` returns: a read query or a write statement."""


Node: TypeAlias = (
    Path | Literal | ListValue | Param | Condition | Aggregate | SelectItem | OrderKey | Query
    | Assignment | Update | Delete
)


# --- construction -----------------------------------------------------------


fast_inits([c for c in list(globals().values())
             if isinstance(c, type) and c.__module__ == __name__ and hasattr(
                 c, "__dataclass_fields__")])


# --- helpers ----------------------------------------------------------------


def literal_of(value: Any, span: Span | None = None) -> Literal | ListValue:
    """Wrap a plain Python value (as bound to a parameter) as a literal node.

    Raises ``TypeError`` for values CrossQL has no literal for (dicts, sets, ...);
    callers turn that into a located ``QuerySemanticError``.
    """
    if value is None:
        return Literal(None, "null", span)
    if isinstance(value, bool):
        return Literal(value, "bool", span)
    if isinstance(value, int):
        return Literal(value, "int", span)
    if isinstance(value, float):
        return Literal(value, "float", span)
    if isinstance(value, str):
        return Literal(value, "string", span)
    if isinstance(value, list | tuple):
        return ListValue(tuple(literal_of(v, span) for v in value), span)
    kind = native_kind(value)
    if kind is not None:
        return Literal(value, kind, span)
    raise TypeError(type(value).__name__)


NATIVE_KINDS: frozenset[str] = frozenset({"timestamp", "bytes", "decimal", "objectid"})
"""The literal kinds beyond JSON's (docs/language.md, "Values")."""


def is_object_id(value: Any) -> bool:
    """Whether ``value`` is a BSON ``ObjectId`` (recognised without importing bson)."""
    kind = type(value)
    return kind.__name__ == "ObjectId" and kind.__module__.startswith("bson")


def native_kind(value: Any) -> LiteralKind | None:
    """The literal kind of a native scalar (an aware ``datetime``, ``bytes``, a ``Decimal``,
    an ``ObjectId``); None for anything else (a naive ``datetime`` too)."""
    if isinstance(value, datetime):
        return "timestamp" if value.utcoffset() is not None else None
    if isinstance(value, bytes):
        return "bytes"
    if isinstance(value, Decimal):
        return "decimal"
    if is_object_id(value):
        return "objectid"
    return None


def native_text(value: Any) -> str:
    """A native scalar as JSON-ready text: ISO-8601 UTC for a timestamp, hex for bytes, the
    digits of a ``Decimal``, the 24 hex digits of an ``ObjectId``."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def python_value(value: Literal | ListValue) -> Any:
    """The plain Python value of a literal (lists become Python lists)."""
    if isinstance(value, Literal):
        return value.value
    return [python_value(item) for item in value.items]


def to_dict(node: Any) -> Any:
    """A deterministic, JSON-ready rendering of an IR node (spans left out)."""
    if isinstance(node, Path):
        return {"path": list(node.segments)}
    if isinstance(node, Literal):
        if node.kind in NATIVE_KINDS:
            return {"literal": native_text(node.value), "kind": node.kind}
        return {"literal": node.value, "kind": node.kind}
    if isinstance(node, ListValue):
        return {"list": [to_dict(item) for item in node.items]}
    if isinstance(node, Param):
        return {"param": node.name}
    if isinstance(node, tuple):
        return [to_dict(item) for item in node]
    if node is None or isinstance(node, bool | int | float | str):
        return node
    out: dict[str, Any] = {"node": type(node).__name__}
    for f in fields(node):
        if f.name in ("span", "source"):
            continue
        out[f.name] = to_dict(getattr(node, f.name))
    return out


_CHILD_FIELDS: dict[type, tuple[str, ...]] = {}
"""Per node class, the fields ``walk`` descends into (all but ``span`` and ``source``)."""
_LEAVES = frozenset({str, int, float, bool, type(None)})


def _child_fields(cls: type) -> tuple[str, ...]:
    names = _CHILD_FIELDS.get(cls)
    if names is None:
        names = tuple(f.name for f in fields(cls) if f.name not in ("span", "source"))
        _CHILD_FIELDS[cls] = names
    return names


def walk(node: Any) -> Any:
    """Yield ``node`` and every IR node below it, depth first."""
    stack = [node]
    pop = stack.pop
    push = stack.append
    while stack:
        current = pop()
        kind = type(current)
        if kind in _LEAVES:
            continue
        if isinstance(current, tuple):
            stack.extend(reversed(current))
            continue
        names = _CHILD_FIELDS.get(kind)
        if names is None:
            if not hasattr(current, "__dataclass_fields__"):
                continue
            names = _child_fields(kind)
        yield current
        for name in reversed(names):
            push(getattr(current, name))
