"""Checks of a statement against a declared schema (docs/schemas.md).

With a collection declared *closed*, a name it does not declare is an error
(``semantic.unknown-field``, located on the name, with the closest declared name);
with the set of collections closed, so is a collection it does not declare
(``semantic.unknown-collection``). A literal whose kind the field's declared kind can
never equal (``age == "18"`` for an ``int``) is ``semantic.kind-mismatch``; a
parameter in such a place is checked the same way when it is bound (``ParamUses``).

The schema is any object shaped like ``crossql.schema.Schema`` (``collection(name)``,
``collections``, ``closed``, ``checks_names``): this module sits below the
declarations, which the backends' compilers read too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast, get_args

from crossql import ir
from crossql._memo import Memo
from crossql.compiler.checks import _kind_word, _show, _value_kind
from crossql.errors import QuerySemanticError
from crossql.visitor import ConditionVisitor

_LITERAL_KINDS = frozenset(get_args(ir.LiteralKind))
_NUMBERS = frozenset({"int", "float", "decimal"})
ACCEPTS: dict[str, frozenset[str]] = {
    "string": frozenset({"string"}),
    "int": _NUMBERS, "float": _NUMBERS, "number": _NUMBERS, "decimal": _NUMBERS,
    "bool": frozenset({"bool"}),
    # a timestamp may be stored as ISO-8601 text by another writer; an object id is often
    # passed as its hex text: neither is refused here
    "timestamp": frozenset({"timestamp", "string"}),
    "objectid": frozenset({"objectid", "string"}),
    "bytes": frozenset({"bytes"}),
    # an instant stored as a number: a timestamp is converted to it (``epoch_value``)
    "epoch_seconds": _NUMBERS | {"timestamp"},
    "epoch_millis": _NUMBERS | {"timestamp"},
}
"""Declared kind → the literal kinds a comparison with it can match (``null`` always
may: a missing or null field). Kinds not listed (any, list, set, map) accept all."""

_DECLARED_WORD = {"int": "integers", "float": "floats", "number": "numbers",
                  "decimal": "exact numbers", "string": "strings", "bool": "bools",
                  "timestamp": "timestamps", "objectid": "object ids", "bytes": "bytes",
                  "epoch_seconds": "numbers or timestamps",
                  "epoch_millis": "numbers or timestamps"}

EPOCH_KINDS = frozenset({"epoch_seconds", "epoch_millis"})
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_UNITS = {"epoch_seconds": timedelta(seconds=1), "epoch_millis": timedelta(milliseconds=1)}


def epoch_value(kind: str, instant: datetime) -> int | float:
    """``instant`` as the number a field of ``kind`` (an epoch kind) stores: an int
    when the instant is a whole number of units, else a float. A naive datetime is
    taken as UTC."""
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    unit = _UNITS[kind]
    whole, rest = divmod(instant - _EPOCH, unit)
    return whole if not rest else (instant - _EPOCH) / unit


@dataclass(frozen=True, slots=True)
class ParamUse:
    """A parameter compared with a declared field: checked when it is bound."""

    field: str
    kind: str
    span: ir.Span | None
    what: str
    listed: bool
    """The parameter is a list of values (``in``, ``contains any``): each is checked."""
    converts: bool = True
    """For an epoch kind: a timestamp bound here may become the field's number when it
    is bound. False when the parameter also appears elsewhere (another epoch kind, a
    timestamp field, an undeclared one): its value stays a timestamp, and the bound
    statement's literals are converted per use (``convert_epochs``)."""


ParamUses = Mapping[str, tuple[ParamUse, ...]]
"""Parameter name → where it meets a declared field."""

_NO_USES: ParamUses = {}


def check_statement(statement: ir.Query | ir.Update | ir.Delete, schema: Any) -> ParamUses:
    """Check ``statement``'s collection and names against ``schema``, and its literals
    against the declared kinds; return the parameters to check once bound. Raises
    ``QuerySemanticError``."""
    if schema is None or not getattr(schema, "checks_names", False):
        return _NO_USES
    entry = schema.collection(statement.collection)
    if entry is None:
        if schema.closed:
            raise _unknown_collection(statement, schema)
        return _NO_USES
    walk = _Walk(entry, statement.source)
    if statement.where is not None:
        _CONDITIONS.visit(statement.where, walk)
    if isinstance(statement, ir.Query):
        _clauses(statement, walk)
    elif isinstance(statement, ir.Update):
        for assignment in statement.assignments:
            walk.assignment(assignment)
    if walk.epochs:
        _mark_shared(statement, walk.uses)
    return walk.uses or _NO_USES


def _mark_shared(statement: ir.Query | ir.Update | ir.Delete,
                 uses: dict[str, tuple[ParamUse, ...]]) -> None:
    """Mark the epoch uses of a parameter that appears anywhere but in uses of one
    epoch kind: converting its value would be wrong for the other places."""
    counts: dict[str, int] = {}
    for node in ir.walk(statement):
        if type(node) is ir.Param:
            counts[node.name] = counts.get(node.name, 0) + 1
    for name, places in uses.items():
        kinds = {use.kind for use in places}
        if (kinds & EPOCH_KINDS) and (len(kinds) > 1 or counts.get(name, 0) > len(places)):
            uses[name] = tuple(replace(use, converts=False) for use in places)


def _clauses(query: ir.Query, walk: _Walk) -> None:
    for path in query.group_by:  # in the text's order: `group by` comes before `select`
        walk.name(path)
    aliases = set()
    for item in query.select:
        if item.alias is not None:
            aliases.add(item.alias)
        expr = item.expr
        if isinstance(expr, ir.Path):
            walk.name(expr)
        elif expr.arg is not None:
            walk.name(expr.arg)
    for key in query.order_by:
        if not (len(key.path.segments) == 1 and key.path.segments[0] in aliases):
            walk.name(key.path)


_Values = TypeVar("_Values", bound=Mapping[str, Any])


def check_params(uses: ParamUses, values: _Values, source: str | None) -> _Values:
    """Check bound parameter values against the declared kinds they meet; return the
    values to bind: ``values`` itself, or a copy where a timestamp compared with an
    epoch field (``EPOCH_KINDS``) is that field's number."""
    converted: dict[str, Any] | None = None
    for name, places in uses.items():
        if name not in values:
            continue
        value = values[name]
        for use in places:
            items = value if use.listed and isinstance(value, list | tuple) else (value,)
            for item in items:
                kind = _value_kind(item)
                if kind == "null" or kind not in _LITERAL_KINDS or kind in ACCEPTS[use.kind]:
                    continue
                _refuse_param(name, item, kind, use, source)
            if use.converts and use.kind in EPOCH_KINDS and any(
                    isinstance(i, datetime) for i in items):
                if converted is None:
                    converted = dict(values)
                numbers = [epoch_value(use.kind, i) if isinstance(i, datetime) else i
                           for i in items]
                converted[name] = numbers if value is items else numbers[0]
    return values if converted is None else cast(_Values, converted)


def _refuse_param(name: str, item: Any, kind: str, use: ParamUse,
                  source: str | None) -> None:
    if use.what in ("`set`", "`+=`"):
        raise QuerySemanticError(
            f"parameter `:{name}` is {_kind_word(kind)} ({item!r}), but "
            f"`{use.field}` is declared {use.kind}: {use.what} would store it",
            code="semantic.schema-violation", span=use.span, source=source,
            hint="writes through CrossQL keep documents as the schema declares "
                 f"them; pass {_DECLARED_WORD[use.kind]} for `:{name}`")
    raise QuerySemanticError(
        f"parameter `:{name}` is {_kind_word(kind)} ({item!r}), but "
        f"`{use.field}` is declared {use.kind}: {use.what} never matches",
        code="semantic.kind-mismatch", span=use.span, source=source,
        hint=f"pass {_DECLARED_WORD[use.kind]} for `:{name}`, or declare "
             f"`{use.field}` with the kind it holds")


_Statement = TypeVar("_Statement", bound=ir.Query | ir.Update | ir.Delete)


def convert_epochs(statement: _Statement, schema: Any) -> _Statement:
    """``statement`` with each timestamp literal compared with (or assigned to) a field
    declared ``epoch_seconds``/``epoch_millis`` replaced by that field's number; the
    statement itself when the collection declares no such field."""
    entry = schema.collection(statement.collection) if schema is not None else None
    if entry is None or not _has_epochs(entry):
        return statement
    where = statement.where
    if where is not None:
        statement = replace(statement, where=_epoch_condition(where, entry))
    if isinstance(statement, ir.Update):
        statement = replace(statement, assignments=tuple(
            replace(a, value=_epoch_assigned(a.value, entry, a.path))
            if isinstance(a, ir.SetField) else a for a in statement.assignments))
    return statement


def _epoch_assigned(value: ir.Value, entry: Any, path: ir.Path) -> ir.Value:
    """What ``set path = value`` stores: a list of timestamps set on a
    ``list[epoch_seconds]`` becomes a list of numbers too."""
    if type(value) is ir.ListValue:
        kind = _element_kind(entry, path)
        if kind in EPOCH_KINDS:
            return replace(value, items=tuple(_epoch_literal(v, kind) for v in value.items))
        return value
    converted: ir.Value = _epoch_literal(value, entry.kind(path.segments))
    return converted


_EPOCHS: Memo[int, tuple[Any, bool]] = Memo(256, "declarations with epoch fields")


def _has_epochs(entry: Any) -> bool:
    """Whether a collection's declaration has an epoch field; kept per declaration (a
    memo): every compile with a schema asks."""
    known = _EPOCHS.get(id(entry))
    if known is not None and known[0] is entry:
        return known[1]
    has = any(f.kind in EPOCH_KINDS or f.items in EPOCH_KINDS for f in entry.fields.values())
    _EPOCHS.put(id(entry), (entry, has))
    return has


def _epoch_literal(value: Any, kind: str) -> Any:
    if kind in EPOCH_KINDS and type(value) is ir.Literal and value.kind == "timestamp":
        assert isinstance(value.value, datetime)
        number = epoch_value(kind, value.value)
        return ir.Literal(number, "int" if isinstance(number, int) else "float", value.span)
    return value


def _epoch_condition(node: ir.Condition, entry: Any) -> ir.Condition:
    match node:
        case ir.And() | ir.Or():
            return replace(node, operands=tuple(_epoch_condition(o, entry)
                                                for o in node.operands))
        case ir.Not():
            return replace(node, operand=_epoch_condition(node.operand, entry))
        case ir.Compare():
            return replace(node, value=_epoch_literal(node.value,
                                                      entry.kind(node.path.segments)))
        case ir.Between():
            kind = entry.kind(node.path.segments)
            return replace(node, low=_epoch_literal(node.low, kind),
                           high=_epoch_literal(node.high, kind))
        case ir.In(values=ir.ListValue() as values):
            kind = entry.kind(node.path.segments)
            return replace(node, values=replace(values, items=tuple(
                _epoch_literal(v, kind) for v in values.items)))
        # a list of epoch numbers (`list[epoch_seconds]`): its elements are compared
        case ir.Contains():
            return replace(node, value=_epoch_literal(node.value,
                                                      _element_kind(entry, node.path)))
        case ir.ContainsAny(values=ir.ListValue() as values) | \
                ir.ContainsAll(values=ir.ListValue() as values):
            kind = _element_kind(entry, node.path)
            return replace(node, values=replace(values, items=tuple(
                _epoch_literal(v, kind) for v in values.items)))
    return node


def _element_kind(entry: Any, path: ir.Path) -> str:
    spec = entry.field(path.segments)
    return "any" if spec is None or spec.items is None else str(spec.items)


class _Walk:
    """The names and values of one statement, against one collection's declaration."""

    def __init__(self, entry: Any, source: str | None) -> None:
        self.entry = entry
        self.source = source
        self.uses: dict[str, tuple[ParamUse, ...]] = {}
        self.epochs = False
        """Whether a parameter meets an epoch field (``_mark_shared`` then looks)."""

    def name(self, path: ir.Path) -> None:
        entry = self.entry
        if entry.known(path.segments):
            return
        close = entry.suggest(path.segments)
        hint = (f"did you mean `{close}`?" if close is not None else
                "declared: " + ", ".join(f"`{p}`" for p in sorted(entry.fields)[:12]))
        raise QuerySemanticError(
            f"unknown field `{path.dotted}`: the schema of this collection declares no "
            "such field", code="semantic.unknown-field", span=path.span,
            source=self.source, hint=hint)

    def assignment(self, node: ir.Assignment) -> None:
        """An update's assignment: a declared name, and what it stores may be stored
        (a required field is never unset, a non-nullable one never set to null)."""
        path = node.path
        self.name(path)
        spec = self.entry.field(path.segments)
        if isinstance(node, ir.Unset):
            if spec is not None and spec.required:
                raise self._violation(path, node.span, f"`unset {path.dotted}` removes a "
                                      "field the schema declares required")
            return
        value = node.value if isinstance(node, ir.SetField) else node.amount
        if spec is not None and type(value) is ir.Literal and value.kind == "null" \
                and not self.entry.nullable(path.segments):
            raise self._violation(path, value.span, f"`{path.dotted}` may not be null: the "
                                  "schema does not declare it nullable")
        self.value(path, value, "`set`" if isinstance(node, ir.SetField) else "`+=`")

    def _violation(self, path: ir.Path, span: ir.Span | None,
                   message: str) -> QuerySemanticError:
        return QuerySemanticError(
            message, code="semantic.schema-violation", span=span, source=self.source,
            hint="writes through CrossQL keep documents as the schema declares them; "
                 f"change the declaration of `{path.dotted}` if the data differs")

    def kind_of(self, path: ir.Path, element: bool = False) -> str | None:
        """The declared kind values at ``path`` must match, or None: nothing to check."""
        spec = self.entry.field(path.segments)
        if spec is None:
            return None
        kind = spec.items if element and spec.kind in ("list", "set") else (
            None if element else spec.kind)
        return kind if kind in ACCEPTS else None

    def value(self, path: ir.Path, value: ir.Value, what: str, element: bool = False
              ) -> None:
        kind = self.kind_of(path, element)
        if kind is None:
            return
        if type(value) is ir.Param:
            self._use(value, path, kind, what, listed=False)
        elif type(value) is ir.Literal:
            self._literal(value, path, kind, what, element)

    def values(self, path: ir.Path, values: ir.ListValue | ir.Param, what: str,
               element: bool = False) -> None:
        kind = self.kind_of(path, element)
        if kind is None:
            return
        if isinstance(values, ir.Param):
            self._use(values, path, kind, what, listed=True)
            return
        for item in values.items:
            if type(item) is ir.Literal:
                self._literal(item, path, kind, what, element)

    def _use(self, param: ir.Param, path: ir.Path, kind: str, what: str, *,
             listed: bool) -> None:
        use = ParamUse(path.dotted, kind, param.span, what, listed)
        if kind in EPOCH_KINDS:
            self.epochs = True
        self.uses[param.name] = (*self.uses.get(param.name, ()), use)

    def _literal(self, value: ir.Literal, path: ir.Path, kind: str, what: str,
                 element: bool = False) -> None:
        if value.kind == "null" or value.kind in ACCEPTS[kind]:
            return
        if element:
            raise QuerySemanticError(
                f"the elements of `{path.dotted}` are declared {kind}; {what} with "
                f"{_kind_word(value.kind)} (`{_show(value)}`) never matches",
                code="semantic.kind-mismatch", span=value.span, source=self.source,
                hint=f"compare with {_DECLARED_WORD[kind]}, or declare `{path.dotted}` "
                     "with the kind it holds")
        if what in ("`set`", "`+=`"):
            raise self._violation(path, value.span, f"`{path.dotted}` is declared {kind}; "
                                  f"{what} would store {_kind_word(value.kind)} "
                                  f"(`{_show(value)}`)")
        raise QuerySemanticError(
            f"`{path.dotted}` is declared {kind}; {what} with {_kind_word(value.kind)} "
            f"(`{_show(value)}`) never matches", code="semantic.kind-mismatch",
            span=value.span, source=self.source,
            hint=f"compare `{path.dotted}` with {_DECLARED_WORD[kind]}, or declare it "
                 "with the kind it holds")


class _Conditions(ConditionVisitor[None]):
    """Each condition's names, then its values against the declared kinds."""

    NAME = "schema checks"

    def visit_predicate(self, node: Any, walk: _Walk) -> None:
        walk.name(node.path)

    def visit_And(self, node: ir.And | ir.Or, walk: _Walk) -> None:
        for operand in node.operands:
            self.visit(operand, walk)

    visit_Or = visit_And

    def visit_Not(self, node: ir.Not, walk: _Walk) -> None:
        self.visit(node.operand, walk)

    def visit_Compare(self, node: ir.Compare, walk: _Walk) -> None:
        walk.name(node.path)
        walk.value(node.path, node.value, f"`{node.op}`")

    def visit_Between(self, node: ir.Between, walk: _Walk) -> None:
        walk.name(node.path)
        walk.value(node.path, node.low, "`between`")
        walk.value(node.path, node.high, "`between`")

    def visit_In(self, node: ir.In, walk: _Walk) -> None:
        walk.name(node.path)
        walk.values(node.path, node.values, "`not in`" if node.negated else "`in`")

    def visit_Contains(self, node: ir.Contains, walk: _Walk) -> None:
        walk.name(node.path)
        walk.value(node.path, node.value, "`contains`", element=True)

    def visit_ContainsAny(self, node: ir.ContainsAny | ir.ContainsAll, walk: _Walk) -> None:
        walk.name(node.path)
        what = "`contains any`" if type(node) is ir.ContainsAny else "`contains all`"
        walk.values(node.path, node.values, what, element=True)

    visit_ContainsAll = visit_ContainsAny

    def visit_StartsWith(self, node: ir.StartsWith | ir.Matches, walk: _Walk) -> None:
        walk.name(node.path)
        kind = walk.kind_of(node.path)
        if kind is not None and kind not in ("string", "timestamp", "objectid"):
            word = "`startswith`" if type(node) is ir.StartsWith else "`matches`"
            raise QuerySemanticError(
                f"{word} tests text, but `{node.path.dotted}` is declared {kind}",
                code="semantic.kind-mismatch", span=node.path.span, source=walk.source,
                hint=f"compare `{node.path.dotted}` with ==, <, between, ...")

    visit_Matches = visit_StartsWith


_CONDITIONS = _Conditions()

_FROM = re.compile(r"(?:from|update|delete\s+from)\s+(`[^`]*`|[A-Za-z_][A-Za-z0-9_.-]*)",
                   re.IGNORECASE)


def _collection_span(statement: ir.Query | ir.Update | ir.Delete) -> ir.Span | None:
    """Where the collection is named in the statement's text (the IR keeps no span for
    it): the first name after `from` / `update` that is the collection."""
    source = statement.source
    if source is None:
        return statement.span
    for match in _FROM.finditer(source):
        name = match.group(1)
        if name.strip("`") == statement.collection:
            return match.start(1), match.end(1)
    return statement.span


def _unknown_collection(statement: ir.Query | ir.Update | ir.Delete,
                        schema: Any) -> QuerySemanticError:
    declared: Sequence[str] = sorted(schema.collections)
    import difflib  # only for an error's hint: not at start-up

    close = difflib.get_close_matches(statement.collection, declared, n=1, cutoff=0.6)
    hint = (f"did you mean `{close[0]}`?" if close else
            "declared: " + ", ".join(f"`{c}`" for c in declared[:12]))
    return QuerySemanticError(
        f"unknown collection `{statement.collection}`: the schema declares no such "
        "collection", code="semantic.unknown-collection", span=_collection_span(statement),
        source=statement.source, hint=hint)
