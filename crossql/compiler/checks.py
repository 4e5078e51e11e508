"""Backend-neutral checks of a parsed query, and parameter binding.

``check_query`` validates what does not depend on parameter values (literal
types, aliases, aggregates, limits) and records every parameter *slot*: where a
parameter is used and what kind of value that place needs. ``bind`` then
substitutes values, validating each against its slots, and yields a concrete
query — no ``Param`` left — that backends compile.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from typing import Literal as TLiteral

from crossql import ir
from crossql.compiler.regex_safety import catastrophic
from crossql.compiler.shape import output_key, output_name
from crossql.compiler.templates import HOLE_TYPES
from crossql.errors import QuerySemanticError
from crossql.grammar.parser import INT64_MAX, INT64_MIN, UTC_YEARS_HINT
from crossql.limits import (
    MAX_LIST_DEPTH,
    MAX_LIST_ITEMS,
    MAX_PARAMETERS,
    MAX_PATTERN_LENGTH,
    MAX_STRING_LENGTH,
    MAX_VALUE_ITEMS,
)
from crossql.visitor import ConditionVisitor

SlotKind = TLiteral["value", "orderable", "list", "string", "regex", "int", "count", "number"]

_SLOT_WORDS: dict[str, str] = {
    "value": "a value (null, bool, number, string or list)",
    "orderable": "a number or a string",
    "list": "a list",
    "string": "a string",
    "regex": "a string holding a regular expression",
    "int": "an integer",
    "count": "a non-negative integer",
    "number": "a number (an integer or a float)",
}

_FIRESTORE_ONLY = frozenset({"DocumentReference", "AsyncDocumentReference", "GeoPoint"})
"""Firestore values found in documents that are no parameter (a located refusal says so)."""


@dataclass(frozen=True, slots=True)
class Slot:
    """One place a parameter is used: the node's span and the kind of value it needs."""

    name: str
    kind: SlotKind
    span: ir.Span | None


@dataclass(frozen=True, slots=True)
class CheckedQuery:
    """A query that passed every parameter-independent check."""

    query: ir.Query
    slots: tuple[Slot, ...]
    recheck_betweens: bool = False
    """True when a ``between`` bound is a parameter: ``bind`` checks those nodes again
    once bound (both bounds numbers or both strings)."""

    @property
    def param_names(self) -> frozenset[str]:
        """Names of every parameter the query uses."""
        return frozenset(slot.name for slot in self.slots)


def _error(message: str, code: str, span: ir.Span | None, hint: str | None = None,
           source: str | None = None) -> QuerySemanticError:
    return QuerySemanticError(message, code=f"semantic.{code}", span=span, source=source,
                              hint=hint)


def validate_regex(pattern: str, span: ir.Span | None, source: str | None = None) -> None:
    """Raise a located error when ``pattern`` is not a valid regular expression, is longer
    than ``MAX_PATTERN_LENGTH``, or has a shape that backtracks catastrophically
    (``regex_safety.py``)."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise _error(f"the pattern is {len(pattern)} characters long; the limit is "
                     f"{MAX_PATTERN_LENGTH}", "pattern-too-long", span,
                     hint="match a shorter pattern, or compare with `==`, `in` or `startswith`",
                     source=source)
    try:
        reason = catastrophic(pattern)  # parses only: a costly pattern is never compiled
        if reason is None:
            re.compile(pattern)
    except re.error as err:
        message = err.msg
    # `re` raises these, not re.error, for a huge repeat count or deep nesting
    except OverflowError as err:
        message = str(err)
    except RecursionError:
        message = "the pattern nests too deeply"
    else:
        if reason is None:
            return
        raise _error(f"the pattern may take too long: {reason}", "unsafe-regex", span,
                     hint="rewrite it so that each character can be matched one way only, "
                     "e.g. `(a+)+` as `a+`, `(a|ab)*` as `(ab?)*`; see docs/limits.md",
                     source=source)
    raise _error(f"invalid regular expression: {message}", "invalid-regex", span,
                 hint="patterns use the common subset of PCRE and Python syntax",
                 source=source)


def _list_depth(value: ir.ListValue) -> int:
    return 1 + max((_list_depth(i) for i in value.items if isinstance(i, ir.ListValue)),
                   default=0)


def _check_list(value: ir.ListValue, source: str | None) -> None:
    # every list counts, nested ones too (the parser bounds their depth)
    if len(value.items) > MAX_LIST_ITEMS:
        raise _error(f"the list has {len(value.items)} items; the limit is {MAX_LIST_ITEMS}",
                     "list-too-long", value.span, hint="split the query", source=source)
    for item in value.items:
        if isinstance(item, ir.ListValue):
            _check_list(item, source)


class _Checker:
    def __init__(self, query: ir.Query) -> None:
        self.query = query
        self.source = query.source
        self.slots: list[Slot] = []
        self.param_betweens = False

    def err(self, message: str, code: str, span: ir.Span | None,
            hint: str | None = None) -> QuerySemanticError:
        return _error(message, code, span, hint, self.source)

    # -- values --------------------------------------------------------------
    def value(self, value: ir.Value, kind: SlotKind, what: str) -> None:
        if isinstance(value, ir.Param):
            self.slots.append(Slot(value.name, kind, value.span))
            return
        if isinstance(value, ir.ListValue):
            _check_list(value, self.source)
            if kind not in ("value", "list"):
                raise self.err(f"{what} takes {_SLOT_WORDS[kind]}, not a list",
                               "type-mismatch", value.span)
            return
        if kind == "list":
            raise self.err(f"{what} takes a list, not {_kind_word(value.kind)}",
                           "type-mismatch", value.span, hint="write the values in [ ]")
        if kind == "orderable":
            if value.kind not in _ORDERABLE_KINDS:
                hint = ("to find null or missing fields use `p == null` or `not exists(p)`"
                        if value.kind == "null" else
                        "ordering compares numbers with numbers and strings with strings")
                # words, not "cannot order by null `null`" (which also reads like `order by`)
                shown = "null" if value.kind == "null" else (
                    f"{_kind_word(value.kind)} (`{_show(value)}`)")
                raise self.err(f"{what} compares only numbers or strings, not {shown}",
                               "unorderable-literal", value.span, hint=hint)
        elif kind in ("string", "regex"):
            if value.kind != "string":
                raise self.err(f"{what} takes a string, not {_kind_word(value.kind)}",
                               "type-mismatch", value.span)
            if kind == "regex":
                assert isinstance(value.value, str)
                validate_regex(value.value, value.span, self.source)
        elif kind == "int" and value.kind != "int":
            raise self.err(f"{what} compares with an integer, not {_kind_word(value.kind)}",
                           "type-mismatch", value.span)

    # -- conditions ----------------------------------------------------------
    def condition(self, cond: ir.Condition) -> None:
        # the most frequent node, a comparison with a number or a string, is checked
        # here without dispatch: fine for every operator (a bool for == and != only)
        if type(cond) is ir.Compare:
            value = cond.value
            if type(value) is ir.Literal and value.kind != "null" and (
                    value.kind != "bool" or cond.op not in ir.ORDERING_OPS):
                return
        _CONDITIONS.visit(cond, self)

    # -- clauses -------------------------------------------------------------
    def count(self, value: ir.Literal | ir.Param | None, clause: str) -> None:
        if value is None:
            return
        if isinstance(value, ir.Param):
            self.slots.append(Slot(value.name, "count", value.span))
        elif value.kind != "int" or not isinstance(value.value, int) or value.value < 0:
            raise self.err(f"`{clause}` takes a non-negative integer", "invalid-limit",
                           value.span)

    def shape(self) -> None:
        q = self.query
        seen_groups = self._group_keys()
        grouped = q.is_aggregate  # once: it scans the select list
        aliases = self._outputs(seen_groups, grouped)
        for order_key in q.order_by:
            segs = order_key.path.segments
            if len(segs) == 1 and segs[0] in aliases:
                continue
            if grouped and segs not in seen_groups:
                known = sorted(aliases | {".".join(g) for g in seen_groups})
                raise self.err(
                    f"`{order_key.path.dotted}` is not an output of this query",
                    "unknown-alias", order_key.path.span,
                    hint=("order by one of: " + ", ".join(known)) if known else
                    "name an aggregate with `as` to order by it")

    def _group_keys(self) -> set[tuple[str, ...]]:
        seen_groups: set[tuple[str, ...]] = set()
        for path in self.query.group_by:
            if path.segments in seen_groups:
                raise self.err(f"`{path.dotted}` is grouped twice", "duplicate-group-key",
                               path.span)
            seen_groups.add(path.segments)
        return seen_groups

    def _selected(self, expr: ir.Path | ir.Aggregate, grouped: bool,
                  seen_groups: set[tuple[str, ...]]) -> None:
        """An aggregate has its path; a path of a grouped query is grouped."""
        if isinstance(expr, ir.Aggregate):
            if expr.func != "count" and expr.arg is None:
                raise self.err(f"`{expr.func}()` needs a path", "missing-argument",
                               expr.span, hint=f"write {expr.func}(field)")
        elif grouped and expr.segments not in seen_groups:
            hint = (f"add `group by {expr.dotted}`, or aggregate it, e.g. max({expr.dotted})"
                    if not self.query.group_by else
                    f"select only grouped paths and aggregates, or group by {expr.dotted}")
            raise self.err(f"`{expr.dotted}` is neither grouped nor aggregated",
                           "mixed-aggregate", expr.span, hint=hint)

    def _outputs(self, seen_groups: set[tuple[str, ...]], grouped: bool) -> set[str]:
        """Check the select list: each item, its name, its output key against the others'.
        Returns the aliases (``order by`` may name them)."""
        names: dict[str, ir.SelectItem] = {}
        aliases: set[str] = set()
        # output keys and their proper prefixes, each with the first key that owns it:
        # a set lookup per prefix keeps this linear (a pairwise scan is quadratic)
        outputs: dict[tuple[str, ...], int] = {}
        prefixes: dict[tuple[str, ...], tuple[str, ...]] = {}
        for item in self.query.select:
            expr = item.expr
            if grouped or type(expr) is ir.Aggregate:
                self._selected(expr, grouped, seen_groups)
            if item.alias is None and type(expr) is ir.Path:  # output_name/_key, inline
                key = expr.segments
                name = key[0] if len(key) == 1 else ".".join(key)
            else:
                name, key = output_name(item), output_key(item)
            if name in names:
                raise self.err(f"two select items are named `{name}`", "duplicate-alias",
                               item.span, hint="give one of them another name with `as`")
            names[name] = item
            if item.alias is not None:
                aliases.add(item.alias)
            self._output_key(item, key, outputs, prefixes)
        return aliases

    def _output_key(self, item: ir.SelectItem, key: tuple[str, ...],
                    outputs: dict[tuple[str, ...], int],
                    prefixes: dict[tuple[str, ...], tuple[str, ...]]) -> None:
        """Refuse a key that is, holds or is held by an earlier output; remember it."""
        if len(key) == 1:
            clashes: list[tuple[str, ...]] = [key] if key in outputs else []
        else:
            clashes = [key[:n] for n in range(1, len(key) + 1) if key[:n] in outputs]
        if key in prefixes:
            clashes.append(prefixes[key])
        if clashes:
            other = min(clashes, key=outputs.__getitem__)  # the earliest selected
            raise self.err(
                f"`{'.'.join(key)}` overlaps `{'.'.join(other)}` in the output",
                "conflicting-output", item.span,
                hint="select one of them, or name one with `as`")
        outputs[key] = len(outputs)
        if len(key) > 1:
            for n in range(1, len(key)):
                prefixes.setdefault(key[:n], key)

    def run(self) -> CheckedQuery:
        q = self.query
        if q.where is not None:
            self.condition(q.where)
        self.shape()
        self.count(q.limit, "limit")
        self.count(q.offset, "offset")
        names = {slot.name for slot in self.slots}
        if len(names) > MAX_PARAMETERS:
            raise self.err(f"the query uses {len(names)} parameters; the limit is "
                           f"{MAX_PARAMETERS}", "too-many-parameters", q.span)
        return CheckedQuery(q, tuple(self.slots), self.param_betweens)


def _is_number(kind: str) -> bool:
    return kind in ("int", "float", "decimal")


def _order_class(kind: str) -> str:
    return "number" if _is_number(kind) else kind


def _kind_word(kind: str) -> str:
    return {"null": "null", "bool": "a bool", "int": "an integer", "float": "a float",
            "string": "a string", "timestamp": "a timestamp", "bytes": "bytes",
            "decimal": "an exact number", "objectid": "an object id"}.get(kind, kind)


def _show(value: ir.Literal) -> str:
    if value.kind == "null":
        return "null"
    if value.kind == "bool":
        return "true" if value.value else "false"
    return repr(value.value)


def check_query(query: ir.Query) -> CheckedQuery:
    """Run every check that does not need parameter values; raise ``QuerySemanticError``."""
    return _Checker(query).run()


# --- binding ------------------------------------------------------------------


def _value_kind(value: Any) -> str:
    if value is None:
        return "null"
    native = ir.native_kind(value)
    if native is not None:
        return native
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "list"
    return type(value).__name__


_SURROGATE = re.compile("[\ud800-\udfff]")


def plain_value(value: Any, slot: Slot, source: str | None = None) -> Any:
    """A plain copy of a bound value: ``None``, ``bool``, ``int``, ``float``, ``str`` or a
    list of these, read once (subclasses become their base type, so nothing a caller's
    object does later can change what was checked). Refuses what has no CrossQL literal
    (dicts, sets, NaN, huge ints, ...) and values past the size limits.

    Iterative, with a budget of ``MAX_VALUE_ITEMS`` items and ``MAX_STRING_LENGTH``
    characters, so a deep, cyclic or shared structure costs at most that much work.
    """
    if value is None or value is True or value is False:
        return value
    kind = type(value)
    if kind is int and INT64_MIN <= value <= INT64_MAX:
        return value  # the common case, first
    if kind is str and len(value) <= 64 and (value.isascii() or not _SURROGATE.search(value)):
        return value
    copy = _PlainCopy(slot, source)
    if isinstance(value, set | frozenset) and slot.kind == "list":
        # a set fills a list of values (`in`, `contains any/all`): order is no part of
        # their meaning; sorted, so that one set always gives one plan
        return sorted(copy.lists(list(value)), key=_set_order)
    if not isinstance(value, list | tuple):
        return copy.scalar(value)
    return copy.lists(value)


def _set_order(value: Any) -> tuple[str, str]:
    """Any fixed order will do (a set's has no meaning); this one compares every kind."""
    return (_value_kind(value), repr(value))


class _PlainCopy:
    """``plain_value`` past its fast paths: one value copied, with the budget of
    characters it has spent so far."""

    __slots__ = ("chars", "slot", "source")

    def __init__(self, slot: Slot, source: str | None) -> None:
        self.slot = slot
        self.source = source
        self.chars = 0

    def refuse(self, message: str, code: str = "invalid-parameter",
               hint: str | None = None) -> QuerySemanticError:
        where = f"parameter `:{self.slot.name}`"
        text = f"{where} {message}" if message.startswith("is ") else f"{where}: {message}"
        return _error(text, code, self.slot.span, source=self.source, hint=hint)

    def scalar(self, item: Any) -> Any:
        if item is None or item is True or item is False:
            return item
        if isinstance(item, int):
            number = int.__index__(item)
            if not INT64_MIN <= number <= INT64_MAX:
                shown = str(number) if abs(number) < 10**30 else f"of {number.bit_length()} bits"
                raise self.refuse(f"integer {shown} is out of the 64-bit range")
            return number
        if isinstance(item, float):
            real = float.__float__(item)
            if not math.isfinite(real):
                raise self.refuse(f"{real} is not a finite number",
                                  hint="NaN and infinities have no CrossQL meaning")
            return real
        if isinstance(item, str):
            return self.string(item)
        native = self.native(item)
        if native is not None:
            return native
        if type(item).__name__ in _FIRESTORE_ONLY:
            raise self.refuse(
                f"is bound to a Firestore {type(item).__name__}, which is read and written "
                "back but is not a parameter",
                hint="compare another field of the document, or store the reference's path "
                "(or the point's coordinates) in fields of their own and compare those "
                "(docs/backends/firestore.md, \"Value kinds\")")
        raise self.refuse(f"is bound to a {type(item).__name__}; a parameter is a plain value",
                          hint="bind null, a bool, a number, a string or a list; never a dict "
                          "or operator")

    def native(self, item: Any) -> Any:
        """A native scalar (docs/language.md, "Values") as the query holds it, or None:
        an aware ``datetime`` as UTC, ``bytes`` (a subclass such as bson's ``Binary`` as
        plain bytes), a finite ``Decimal``, an ``ObjectId`` (immutable: kept)."""
        if isinstance(item, datetime):
            if item.utcoffset() is None:
                raise self.refuse(
                    f"is bound to a naive datetime ({item.isoformat()}): an instant needs a "
                    "timezone",
                    hint="attach one, e.g. datetime(..., tzinfo=timezone.utc) or "
                    "dt.replace(tzinfo=timezone.utc) if it is UTC")
            try:
                utc = item.astimezone(UTC)  # a plain datetime, whatever the subclass
            except OverflowError:  # e.g. 0001-01-01T00:30+01:00: its UTC form is year 0
                raise self.refuse(f"is bound to {item.isoformat()}, outside the years 1 to "
                                  "9999 in UTC", hint=UTC_YEARS_HINT) from None
            return datetime(utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second,
                            utc.microsecond, tzinfo=UTC)
        if isinstance(item, bytes | bytearray):
            # a bson Binary of a subtype other than 0 is a value of its own (immutable): kept
            data = item if getattr(item, "subtype", 0) and type(item) is not bytearray \
                else bytes(item)
            self.chars += len(data)
            if self.chars > MAX_STRING_LENGTH:
                raise self.refuse(f"the value holds more than {MAX_STRING_LENGTH:,} bytes",
                                  "value-too-large",
                                  hint="bind less data; the limits are in docs/limits.md")
            return data
        if isinstance(item, Decimal):
            exact = Decimal(item)
            if not exact.is_finite():
                raise self.refuse(f"{exact} is not a finite number",
                                  hint="NaN and infinities have no CrossQL meaning")
            return exact
        if ir.is_object_id(item):
            return item
        return None

    def string(self, item: str) -> str:
        text = str.__str__(item)
        self.chars += len(text)
        if self.chars > MAX_STRING_LENGTH:
            raise self.refuse(f"the value holds more than {MAX_STRING_LENGTH:,} characters of "
                              "text", "value-too-large",
                              hint="bind less text; the limits are in docs/limits.md")
        if not text.isascii() and _SURROGATE.search(text):
            raise self.refuse("the string holds a lone surrogate")
        return text

    def lists(self, value: list[Any] | tuple[Any, ...]) -> list[Any]:
        # (source list, its copy, depth) on an explicit stack: no recursion, and a budget
        items = 0
        root: list[Any] = []
        stack: list[tuple[Any, list[Any], int]] = [(value, root, 1)]
        while stack:
            source_list, copy, depth = stack.pop()
            snapshot = self.snapshot(source_list, depth)
            items += len(snapshot)
            if items > MAX_VALUE_ITEMS:
                raise self.refuse(f"the value holds more than {MAX_VALUE_ITEMS:,} items in all",
                                  "value-too-large",
                                  hint="bind fewer values; the limits are in docs/limits.md")
            for item in snapshot:
                if isinstance(item, list | tuple):
                    inner: list[Any] = []
                    copy.append(inner)
                    stack.append((item, inner, depth + 1))
                else:
                    copy.append(self.scalar(item))
        return root

    def snapshot(self, source_list: Any, depth: int) -> tuple[Any, ...]:
        """The items of one list, read once, within the depth and length limits."""
        if depth > MAX_LIST_DEPTH:
            raise self.refuse(f"lists nest deeper than {MAX_LIST_DEPTH}")
        if len(source_list) > MAX_LIST_ITEMS:
            raise self.refuse(f"the list has {len(source_list)} items; the limit is "
                              f"{MAX_LIST_ITEMS}", "list-too-long")
        snapshot = tuple(source_list)
        if len(snapshot) > MAX_LIST_ITEMS:  # a list whose len() said otherwise
            raise self.refuse(f"the list has more than {MAX_LIST_ITEMS} items",
                              "list-too-long")
        return snapshot


def check_param_value(value: Any, slot: Slot, source: str | None = None) -> Any:
    """Validate one bound value against the slot it fills; return its plain copy (see
    ``plain_value``) or raise ``QuerySemanticError``."""
    need = slot.kind
    of_type = type(value)
    # the common cases first: what plain_value returns as it is, in a slot that takes it
    if of_type is int and need in _INT_SLOTS and INT64_MIN <= value <= INT64_MAX and (
            need != "count" or value >= 0):
        return value
    if of_type is str and need in _STRING_SLOTS and len(value) <= 64 and (
            value.isascii() or not _SURROGATE.search(value)):
        if need == "regex":
            validate_regex(value, slot.span, source)
        return value
    value = plain_value(value, slot, source)
    if need == "value":
        return value
    kind = _value_kind(value)
    if need == "orderable":
        ok = kind in _ORDERABLE_KINDS
    elif need == "string" or need == "regex":
        ok = kind == "string"
    elif need == "count":
        ok = kind == "int" and value >= 0
    elif need == "number":
        ok = kind in ("int", "float", "decimal")
    else:  # list, int
        ok = kind == need
    if not ok:
        raise _error(f"parameter `:{slot.name}` needs {_SLOT_WORDS[need]}, got {kind} "
                     f"{value!r:.40}", "invalid-parameter", slot.span, source=source)
    if need == "regex":
        validate_regex(value, slot.span, source)
    return value


_ORDERABLE_KINDS = frozenset({"int", "float", "string", "timestamp", "bytes", "decimal",
                              "objectid"})
"""What an ordering comparison takes: numbers, strings, timestamps, bytes, object ids."""
_INT_SLOTS = frozenset({"value", "orderable", "int", "count", "number"})
_STRING_SLOTS = frozenset({"value", "orderable", "string", "regex"})

_UNUSED_SHOWN = 10
"""Unused parameter names listed in an error (the others are counted)."""


def bind(checked: CheckedQuery, params: Mapping[str, Any] | None) -> ir.Query:
    """Substitute every parameter with its value; refuse unbound and unused parameters."""
    return substitute(checked, bind_values(checked, params))


def bind_values(checked: CheckedQuery, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Each parameter's value checked against every place it fills, as the plain copy
    the bound query holds; unbound and unused parameters refused."""
    params = params or {}
    source = checked.query.source
    # each value is read once into a plain copy, checked against every place it fills,
    # and that copy is what the query holds
    values: dict[str, Any] = {}
    for slot in checked.slots:
        name = slot.name
        if name in values:
            value = values[name]
        elif name in params:
            value = params[name]
        else:
            raise _error(f"parameter `:{name}` is not bound", "unbound-parameter",
                         slot.span, source=source,
                         hint=f"pass {name}=... when running the query")
        values[name] = check_param_value(value, slot, source)
    if len(params) > len(values):
        unused = sorted(str(n) for n in set(params) - checked.param_names)
        shown = ", ".join(f"`:{n}`" for n in unused[:_UNUSED_SHOWN])
        if len(unused) > _UNUSED_SHOWN:
            shown += f" and {len(unused) - _UNUSED_SHOWN:,} more"
        raise _error("unused parameter" + ("s " if len(unused) > 1 else " ") + shown,
                     "unused-parameter", checked.query.span, source=source,
                     hint="remove it, or use it in the query")
    return values


def substitute(checked: CheckedQuery, values: Mapping[str, Any]) -> ir.Query:
    """The query with each parameter replaced by its checked value (``bind_values``)."""
    query = checked.query
    if not checked.slots:
        return query
    bound = _substitute(query, values)
    assert isinstance(bound, ir.Query)
    # between bounds of different types can only be seen once bound (every other
    # check of a bound value was made against its slot above)
    if checked.recheck_betweens and bound.where is not None:
        checker = _Checker(bound)
        for node in _bound_betweens(query.where, bound.where):
            checker.condition(node)
    return bound


def _bound_betweens(before: Any, after: Any) -> list[ir.Between]:
    """The ``between`` nodes of ``after`` whose bounds were parameters in ``before``."""
    out = []
    stack = [(before, after)]
    while stack:
        old, new = stack.pop()
        kind = type(old)
        if kind is ir.And or kind is ir.Or:
            stack.extend(reversed(list(zip(old.operands, new.operands, strict=True))))
        elif kind is ir.Not:
            stack.append((old.operand, new.operand))
        elif kind is ir.Between and (type(old.low) is ir.Param or type(old.high) is ir.Param):
            out.append(new)
    return out


_KIND_OF_TYPE: dict[type, ir.LiteralKind] = {
    int: "int", str: "string", float: "float", bool: "bool"}

_LITERAL_KINDS: dict[type, ir.LiteralKind] = {
    int: "int", str: "string", float: "float", bool: "bool", type(None): "null",
    **{hole: _KIND_OF_TYPE[of] for of, hole in HOLE_TYPES.items()}}
"""The literal kind of each plain scalar type (``plain_value`` gives exact types), and
of each plan template's hole (``templates.py``)."""


def _value_of(node: Any, params: Mapping[str, Any]) -> Any:
    if type(node) is not ir.Param:
        return node
    value = params[node.name]
    kind = _LITERAL_KINDS.get(type(value))
    if kind is not None:
        return ir.Literal(value, kind, node.span)
    return ir.literal_of(value, node.span)


def _bound(value: ir.Param, params: Mapping[str, Any]) -> ir.Literal | ir.ListValue:
    """The literal of a parameter's value (``_value_of`` for a known parameter)."""
    bound = params[value.name]
    literal_kind = _LITERAL_KINDS.get(type(bound))
    if literal_kind is not None:
        return ir.Literal(bound, literal_kind, value.span)
    return ir.literal_of(bound, value.span)


class _Substitution(ConditionVisitor[Any]):
    """A condition with every parameter replaced by its value; nodes without parameters
    are shared, not copied."""

    NAME = "bind"

    def visit_Compare(self, node: ir.Compare | ir.Size, params: Mapping[str, Any]) -> Any:
        value = node.value
        if type(value) is not ir.Param:
            return node
        return type(node)(node.op, node.path, _bound(value, params), node.span)

    visit_Size = visit_Compare

    def visit_Contains(self, node: ir.Contains | ir.StartsWith | ir.Matches,
                       params: Mapping[str, Any]) -> Any:
        value = node.value
        if type(value) is not ir.Param:
            return node
        return type(node)(node.path, _bound(value, params), node.span)

    visit_StartsWith = visit_Matches = visit_Contains

    def visit_And(self, node: ir.And | ir.Or, params: Mapping[str, Any]) -> Any:
        dispatch = self.DISPATCH
        operands = []
        changed = False
        for op in node.operands:
            new = dispatch[type(op)](self, op, params)
            if new is not op:
                changed = True
            operands.append(new)
        return type(node)(tuple(operands), node.span) if changed else node

    visit_Or = visit_And

    def visit_Not(self, node: ir.Not, params: Mapping[str, Any]) -> Any:
        operand = self.DISPATCH[type(node.operand)](self, node.operand, params)
        return node if operand is node.operand else ir.Not(operand, node.span)

    def visit_Between(self, node: ir.Between, params: Mapping[str, Any]) -> Any:
        low, high = _value_of(node.low, params), _value_of(node.high, params)
        if low is node.low and high is node.high:
            return node
        return ir.Between(node.path, low, high, node.span)

    def visit_In(self, node: ir.In, params: Mapping[str, Any]) -> Any:
        values = _value_of(node.values, params)
        return node if values is node.values else ir.In(node.path, values, node.negated,
                                                         node.span)

    def visit_ContainsAny(self, node: ir.ContainsAny | ir.ContainsAll,
                          params: Mapping[str, Any]) -> Any:
        values = _value_of(node.values, params)
        return node if values is node.values else type(node)(node.path, values, node.span)

    visit_ContainsAll = visit_ContainsAny

    def visit_Exists(self, node: ir.Exists, params: Mapping[str, Any]) -> Any:
        return node


_SUBSTITUTION = _Substitution()


def _substitute(node: Any, params: Mapping[str, Any]) -> Any:
    """``node`` (a query or a condition) with every parameter replaced by its value;
    nodes without parameters are shared, not copied."""
    if type(node) is not ir.Query:
        return _SUBSTITUTION.visit(node, params)
    where = node.where
    if where is not None:
        where = _SUBSTITUTION.visit(where, params)
    limit, offset = node.limit, node.offset
    if type(limit) is ir.Param:
        limit = _value_of(limit, params)
    if type(offset) is ir.Param:
        offset = _value_of(offset, params)
    if where is node.where and limit is node.limit and offset is node.offset:
        return node
    return ir.Query(node.collection, where, node.group_by, node.select, node.order_by,
                    limit, offset, node.span, node.source)


class _ConditionChecks(ConditionVisitor[None]):
    """The value checks of each condition node (the checker holds the slots and the
    source: it is passed along)."""

    NAME = "checks"

    def visit_And(self, node: ir.And, checker: _Checker) -> None:
        for op in node.operands:
            checker.condition(op)

    visit_Or = visit_And

    def visit_Not(self, node: ir.Not, checker: _Checker) -> None:
        checker.condition(node.operand)

    def visit_Compare(self, node: ir.Compare, checker: _Checker) -> None:
        kind: SlotKind = "orderable" if node.op in ir.ORDERING_OPS else "value"
        checker.value(node.value, kind, f"`{node.op}`")

    def visit_Between(self, node: ir.Between, checker: _Checker) -> None:
        low, high = node.low, node.high
        if type(low) is ir.Param or type(high) is ir.Param:
            checker.param_betweens = True
        checker.value(low, "orderable", "`between`")
        checker.value(high, "orderable", "`between`")
        if (isinstance(low, ir.Literal) and isinstance(high, ir.Literal)
                and _order_class(low.kind) != _order_class(high.kind)):
            if low.kind in ir.NATIVE_KINDS or high.kind in ir.NATIVE_KINDS:
                raise checker.err("`between` bounds must be of one kind (two numbers, two "
                                  "strings, two timestamps, ...)", "type-mismatch", node.span)
            raise checker.err("`between` bounds must both be numbers or both be strings",
                              "type-mismatch", node.span)

    def visit_In(self, node: ir.In, checker: _Checker) -> None:
        checker.value(node.values, "list", "`not in`" if node.negated else "`in`")

    def visit_Contains(self, node: ir.Contains, checker: _Checker) -> None:
        checker.value(node.value, "value", "`contains`")

    def visit_ContainsAny(self, node: ir.ContainsAny, checker: _Checker) -> None:
        checker.value(node.values, "list", "`contains any`")

    def visit_ContainsAll(self, node: ir.ContainsAll, checker: _Checker) -> None:
        checker.value(node.values, "list", "`contains all`")

    def visit_StartsWith(self, node: ir.StartsWith, checker: _Checker) -> None:
        checker.value(node.value, "string", "`startswith`")

    def visit_Matches(self, node: ir.Matches, checker: _Checker) -> None:
        checker.value(node.value, "regex", "`matches`")

    def visit_Size(self, node: ir.Size, checker: _Checker) -> None:
        checker.value(node.value, "int", "`size(...)`")

    def visit_Exists(self, node: ir.Exists, checker: _Checker) -> None:
        return None  # a path alone: the name checks cover it


_CONDITIONS = _ConditionChecks()
