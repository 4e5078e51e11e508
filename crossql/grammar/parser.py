"""Text → IR: an LALR(1) parser over Lark's tables, and the callbacks that build IR nodes.

The grammar is ``crossql.lark``; Lark turns it into LALR tables (``strict=True``,
so a conflict is an error), which ``generate.py`` writes to ``_tables.py``. Here a
small loop drives those tables with the master-regex lexer of ``lexer.py``,
exactly as Lark's own parser would (same reductions, same children for each
callback, same errors) without importing Lark: ``import crossql`` stays light
and a parse costs about half of Lark's. ``lark_support.py`` plugs the same
lexer and callbacks into Lark itself; the tests check that both agree.

The callbacks run as the parser reduces (no intermediate parse tree), so each
builds its IR node directly and computes its span from its children. Errors
are turned into ``QuerySyntaxError`` with expectations in words.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from sys import intern
from typing import Any, TypeVar

from crossql import ir
from crossql._memo import Memo
from crossql.errors import QuerySyntaxError
from crossql.grammar import _tables
from crossql.grammar.lexer import (
    _FOLD,
    _SKIP_RE,
    _TRAILER,
    KEYWORD_TERMINALS,
    LexError,
    ParenDepth,
    ParenthesisTooDeep,
    scanner,
)
from crossql.limits import MAX_CONDITION_DEPTH, MAX_LIST_DEPTH, MAX_QUERY_LENGTH

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

KEYWORDS: frozenset[str] = frozenset({
    "from", "where", "group", "by", "select", "order", "asc", "desc", "limit", "offset", "as",
    "and", "or", "not", "between", "in", "contains", "any", "all", "startswith", "matches",
    "true", "false", "null",
})
"""Reserved words: a name spelled like one of these (any case) needs backticks."""

_COMPARE_OPS: dict[str, ir.CompareOp] = {
    "==": "==", "=": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">=",
}

_ESCAPE = re.compile(r"\\(u[0-9A-Fa-f]{4}|[\s\S])")
_SIMPLE_ESCAPES = {'"': '"', "'": "'", "\\": "\\", "n": "\n", "t": "\t"}
_SURROGATE = re.compile("[\ud800-\udfff]")


class Token:
    """A token handed to a callback: its terminal, text and offsets.

    The callbacks read only these four attributes, which ``lark.Token`` has too,
    so they serve Lark's parser unchanged (``lark_support.py``).
    """

    __slots__ = ("end_pos", "start_pos", "type", "value")

    def __init__(self, type: str, value: str, start_pos: int, end_pos: int | None) -> None:
        self.type = type
        self.value = value
        self.start_pos = start_pos
        self.end_pos = end_pos

    def __str__(self) -> str:
        return self.value

    def __repr__(self) -> str:
        return f"Token({self.type!r}, {self.value!r}, {self.start_pos}, {self.end_pos})"


class ParseError(Exception):
    """A token the grammar does not allow here (Lark: ``UnexpectedToken``).

    ``expected``: every terminal of the state's table; ``accepts``: those that the
    parser would really shift after its pending reductions.
    """

    def __init__(self, token: Any, expected: set[str], accepts: set[str]) -> None:
        super().__init__(f"unexpected {token.type}")
        self.token = token
        self.expected = expected
        self.accepts = accepts


def _span_of(item: Any) -> ir.Span:
    span: ir.Span | None = getattr(item, "span", None)
    if span is None:  # a token
        return (item.start_pos, item.end_pos)
    return span


def _join(first: Any, last: Any) -> ir.Span:
    return (_span_of(first)[0], _span_of(last)[1])


def _with_span(node: Any, span: ir.Span) -> Any:
    """A copy of an IR node with another span (``dataclasses.replace`` is ~3x slower)."""
    cls = type(node)
    new = object.__new__(cls)
    for name in cls.__slots__:
        object.__setattr__(new, name, getattr(node, name))
    object.__setattr__(new, "span", span)
    return new


def _syntax(message: str, span: ir.Span, hint: str | None = None) -> QuerySyntaxError:
    return QuerySyntaxError(message, code="syntax.invalid-literal", span=span, hint=hint)


def decode_string(token: Any) -> str:
    """The value of a string literal: strip quotes, apply escapes, join surrogate pairs."""
    body: str = token.value[1:-1]
    start = token.start_pos or 0

    def replace(match: re.Match[str]) -> str:
        esc = match.group(1)
        if esc in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[esc]
        if esc[0] == "u" and len(esc) == 5:
            return chr(int(esc[1:], 16))
        pos = start + 1 + match.start()
        if esc == "u":
            raise _syntax(
                "`\\u` in a string needs four hex digits", (pos, pos + 2),
                hint="write a character as \\uXXXX, e.g. \\u00e9 for é",
            )
        raise _syntax(
            f"unknown escape `\\{esc}` in a string",
            (pos, pos + 2),
            hint='the escapes are \\" \\\' \\\\ \\n \\t and \\uXXXX',
        )

    value = _ESCAPE.sub(replace, body) if "\\" in body else body
    if not value.isascii() and _SURROGATE.search(value):
        try:
            value = value.encode("utf-16", "surrogatepass").decode("utf-16")
        except UnicodeDecodeError:
            raise _syntax(
                "a string holds a lone UTF-16 surrogate (\\uD800-\\uDFFF)",
                _span_of(token),
                hint="write a character above U+FFFF as a surrogate pair, or as itself",
            ) from None
    return value


def parse_timestamp(text: str, span: ir.Span) -> datetime:
    """The instant an ISO-8601 text with a timezone names, as an aware UTC ``datetime``
    (``timestamp "2026-01-02T03:04:05Z"``); a located error otherwise."""
    hint = 'write an ISO-8601 instant with its timezone, e.g. "2026-01-02T03:04:05Z"'
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise _timestamp_error(f"`{text[:40]}` is not an ISO-8601 timestamp", span,
                               hint) from None
    if value.utcoffset() is None:
        raise _timestamp_error(f"the timestamp `{text[:40]}` has no timezone", span,
                               'end it with "Z" (UTC) or an offset such as "+02:00"')
    try:
        value = value.astimezone(UTC)
    except OverflowError:
        raise _timestamp_error(f"the timestamp `{text[:40]}` is outside the years 1 to 9999 "
                               "in UTC", span, UTC_YEARS_HINT) from None
    return value


UTC_YEARS_HINT = ("an instant is held as a UTC datetime, years 1 to 9999: move it inside "
                  "that range (its offset can carry it past either end)")


def _timestamp_error(message: str, span: ir.Span, hint: str) -> QuerySyntaxError:
    return QuerySyntaxError(message, code="syntax.invalid-timestamp", span=span, hint=hint)


def decode_name(token: Any) -> str:
    """The text of a name segment; backticked names drop the ticks and undouble ``````."""
    if token.type == "QUOTED_NAME":
        text: str = token.value[1:-1].replace("``", "`")
        if not text:
            raise QuerySyntaxError(
                "an empty name ``", code="syntax.empty-name", span=_span_of(token),
                hint="a backticked name needs at least one character",
            )
        return text
    value: str = token.value
    return value


def condition_depth(cond: Any) -> int:
    """Nesting depth of a condition (a predicate is 1), computed without recursion."""
    depth = 0
    stack = [(cond, 1)]
    while stack:
        node, level = stack.pop()
        depth = max(depth, level)
        if isinstance(node, ir.Not):
            stack.append((node.operand, level + 1))
        elif isinstance(node, ir.And | ir.Or):
            stack.extend((op, level + 1) for op in node.operands)
    return depth


_Bool = TypeVar("_Bool", ir.Not, ir.And, ir.Or)

_DEPTHS: Memo[int, tuple[Any, int]] = Memo(65_536, "parser condition depths")
"""The depth of each not/and/or node built by the parse under way past two levels, by
``id`` (with the node, so an id is never mistaken for another's): a new node's depth is
one more than its operands', without walking them again. Emptied after each parse
(and when full: Lark's parser of ``lark_support`` may be used directly, without
``_run``); a node missing from it (another thread's parse emptied it, or it was full)
is walked instead."""


def _depth_of(operand: Any) -> int:
    if type(operand) not in _BOOL_TYPES:
        return 1
    entry = _DEPTHS.get(id(operand))
    if entry is not None and entry[0] is operand:
        return entry[1]
    return condition_depth(operand)  # two levels (never recorded), or a forgotten node


def _deep_checked(node: _Bool) -> _Bool:
    """Refuse a condition nested past ``MAX_CONDITION_DEPTH`` as soon as it is built.

    The parser builds bottom-up, so the first node past the limit raises and no
    deeper tree ever exists; each node's depth comes from its operands' (``_DEPTHS``),
    so the checks of a whole condition cost one look at each node.
    """
    bool_node: Any = node
    if type(node) is ir.Not:
        depth = 1 + _depth_of(bool_node.operand)
    else:
        depth = 1 + max(map(_depth_of, bool_node.operands))
    if depth > MAX_CONDITION_DEPTH:
        raise QuerySyntaxError(
            f"the condition nests more than {MAX_CONDITION_DEPTH} levels deep",
            code="syntax.too-deep", span=node.span,
            hint="flatten it: `not not c` is `c`, and `a and (b and c)` is `a and b and c`",
        )
    _DEPTHS.put(id(node), (node, depth))
    return node


def too_deep_parenthesis(pos: int) -> QuerySyntaxError:
    """The error for the ``(`` at ``pos`` that opens one more than ``MAX_CONDITION_DEPTH``
    parentheses (raised as it is read: nothing past it is lexed or parsed)."""
    return QuerySyntaxError(
        f"parentheses nest more than {MAX_CONDITION_DEPTH} deep", code="syntax.too-deep",
        span=(pos, pos + 1), hint="flatten nested parentheses: `((c))` is `c`",
    )


_BOOL_TYPES = (ir.Not, ir.And, ir.Or)


class _Shared(Memo[ir.Span, ir.Span]):
    """A memo of values that are their own keys: ``memo[span]`` is the equal span seen
    before, or ``span``, now remembered (a hit is the dict's own lookup; only a miss
    costs a Python call, ``__missing__``)."""

    __slots__ = ()

    def __missing__(self, key: ir.Span) -> ir.Span:
        return self.put(key, key)


_MEMO_MAX = 4096
"""Entries each memo of the parser holds at most; past it, the memo starts again empty."""
_SPANS = _Shared(_MEMO_MAX, "parser spans")
"""The spans of IR nodes, shared: queries of one shape hold spans at the same offsets,
so cached queries share them instead of holding a tuple per node each (spans are
immutable). A callback builds a span and keeps ``_SPANS[span]``, the equal one seen
before."""
_PATHS: Memo[tuple[Any, ...], ir.Path] = Memo(_MEMO_MAX, "parser paths")
"""Paths by their tokens' text and offsets (which make the segments and the span)."""
_LITERALS: Memo[tuple[Any, ...], ir.Literal] = Memo(_MEMO_MAX, "parser literals")
"""Literals by their token's terminal, text and offsets."""
_MEMO_TEXT_MAX = 64
"""Characters of the longest text whose node a memo keeps (longer ones are rare and
would make the memos hold large strings)."""


def _by_token(build: Callable[[Any, list[Any]], ir.Literal]
              ) -> Callable[[Any, list[Any]], ir.Literal]:
    """A literal's callback, memoised: a token's terminal, text and offsets decide the
    node (value, kind, span), so queries of one shape with the same literals in the same
    places share the nodes (immutable) instead of holding copies; a hit skips decoding."""

    @wraps(build)
    def callback(self: Any, children: list[Any]) -> ir.Literal:
        tok = children[0]
        key = (tok.type, tok.value, tok.start_pos, tok.end_pos)
        node = _LITERALS.get(key)
        if node is None:
            node = build(self, children)
            if tok.end_pos - tok.start_pos <= _MEMO_TEXT_MAX:
                _LITERALS.put(key, node)
        return node

    return callback


_ONE_SEGMENT: Memo[str, tuple[str]] = Memo(_MEMO_MAX, "parser one-segment paths")


def _segments(name: str) -> tuple[str]:
    """The segments of a one-segment path, shared: field names recur across queries,
    and each cached query would otherwise hold its own copies (names are interned)."""
    segments = _ONE_SEGMENT.get(name)
    if segments is None:
        segments = _ONE_SEGMENT.put(name, (intern(name),))
    return segments


def _shallow(operands: tuple[Any, ...]) -> bool:
    """No operand is itself a not/and/or: the node is two levels deep at most."""
    return all(type(op) not in _BOOL_TYPES for op in operands)


class _Everything:
    """The condition of ``where true``, before it becomes ``where=None`` in the IR."""

    __slots__ = ("span",)

    def __init__(self) -> None:
        self.span = (0, 0)


_EVERYTHING: Any = _Everything()


def _require_where(where: Any, verb: str, span: ir.Span, last: Any) -> None:
    """Refuse a write without ``where``: one that means every document says ``where true``."""
    if where is None:
        end = _span_of(last)[1]
        raise QuerySyntaxError(
            f"`{verb}` needs a `where` clause", code="syntax.missing-where",
            span=(span[0], end),
            hint=f"write `where true` to {verb} every document of the collection")


class _ToIR:
    """The callbacks: one per rule (or alias) of the grammar, each building an IR node.

    Each gets the children Lark's tree builder would give it (filtered tokens
    left out, ``None`` for an absent ``[x]``). Tokens are read through ``type``,
    ``value``, ``start_pos`` and ``end_pos`` only.
    """

    # --- values ---
    @_by_token
    def string(self, children: list[Any]) -> ir.Literal:
        (tok,) = children
        span = (tok.start_pos, tok.end_pos)
        return ir.Literal(decode_string(tok), "string", _SPANS[span])

    @_by_token
    def integer(self, children: list[Any]) -> ir.Literal:
        (tok,) = children
        text: str = tok.value
        # a 64-bit integer has at most 19 digits; longer text must not reach int(), which
        # refuses more than 4300 digits with a ValueError
        value = int(text) if len(text) <= 19 or len(text.lstrip("-0")) <= 20 else INT64_MAX + 1
        if not INT64_MIN <= value <= INT64_MAX:
            shown = text if len(text) <= 30 else f"{text[:24]}... ({len(text)} characters)"
            raise QuerySyntaxError(
                f"integer {shown} is out of the 64-bit range", code="syntax.integer-out-of-range",
                span=_span_of(tok), hint="integers are 64-bit signed; write a float (e.g. 1e20)",
            )
        span = (tok.start_pos, tok.end_pos)
        return ir.Literal(value, "int", _SPANS[span])

    @_by_token
    def decimal(self, children: list[Any]) -> ir.Literal:
        (tok,) = children
        text: str = tok.value
        value = float(text)
        if value in (float("inf"), float("-inf")):
            shown = text if len(text) <= 30 else f"{text[:24]}... ({len(text)} characters)"
            raise QuerySyntaxError(
                f"number {shown} is too large for a 64-bit float",
                code="syntax.float-out-of-range",
                span=_span_of(tok),
            )
        span = (tok.start_pos, tok.end_pos)
        return ir.Literal(value, "float", _SPANS[span])

    @_by_token
    def timestamp(self, children: list[Any]) -> ir.Literal:
        (tok,) = children
        text: str = tok.value
        quote = min(i for i in (text.find('"'), text.find("'")) if i >= 0)
        inner = Token("STRING", text[quote:], tok.start_pos + quote, tok.end_pos)
        span = (tok.start_pos, tok.end_pos)
        return ir.Literal(parse_timestamp(decode_string(inner), _span_of(inner)), "timestamp",
                          _SPANS[span])

    @_by_token
    def true(self, children: list[Any]) -> ir.Literal:
        tok = children[0]
        span = (tok.start_pos, tok.end_pos)
        return ir.Literal(True, "bool", _SPANS[span])

    @_by_token
    def false(self, children: list[Any]) -> ir.Literal:
        tok = children[0]
        span = (tok.start_pos, tok.end_pos)
        return ir.Literal(False, "bool", _SPANS[span])

    @_by_token
    def null(self, children: list[Any]) -> ir.Literal:
        tok = children[0]
        span = (tok.start_pos, tok.end_pos)
        return ir.Literal(None, "null", _SPANS[span])

    def param(self, children: list[Any]) -> ir.Param:
        (tok,) = children
        span = (tok.start_pos, tok.end_pos)
        return ir.Param(tok.value[1:], _SPANS[span])

    def array(self, children: list[Any]) -> ir.ListValue:
        items = tuple(c for c in children[1:-1] if c is not None)
        span = (children[0].start_pos, children[-1].end_pos)
        node = ir.ListValue(items, _SPANS[span])
        # depth is checked as lists are built, so nothing deeper ever exists
        depth = self._list_depth(node)
        if depth > MAX_LIST_DEPTH:
            raise QuerySyntaxError(
                f"lists nest {depth} deep; the limit is {MAX_LIST_DEPTH}",
                code="syntax.too-deep", span=node.span, hint="flatten the list",
            )
        return node

    def _list_depth(self, node: ir.ListValue) -> int:
        inner = [self._list_depth(i) for i in node.items if isinstance(i, ir.ListValue)]
        return 1 + max(inner, default=0)

    # --- names ---
    def path(self, children: list[Any]) -> ir.Path:
        # the text of the name tokens (backticks included) and the offsets make the Path
        first, last = children[0], children[-1]
        one = len(children) == 1
        key: tuple[Any, ...] = (first.value, first.start_pos, first.end_pos) if one else \
            (*[t.value for t in children], first.start_pos, last.end_pos)
        node = _PATHS.get(key)
        if node is None:
            segments: tuple[str, ...] = _segments(
                first.value if first.type == "NAME" else decode_name(first)) if one else \
                tuple([intern(t.value if t.type == "NAME" else decode_name(t))
                       for t in children])
            span = (first.start_pos, last.end_pos)
            node = ir.Path(segments, _SPANS[span])
            if last.end_pos - first.start_pos <= _MEMO_TEXT_MAX:
                _PATHS.put(key, node)
        return node

    # --- predicates ---
    def compare(self, children: list[Any]) -> ir.Compare:
        path, op, value = children
        span = (path.span[0], value.span[1])
        return ir.Compare(_COMPARE_OPS[op.value], path, value, _SPANS[span])

    def between(self, children: list[Any]) -> ir.Between:
        path, low, high = children
        span = (path.span[0], high.span[1])
        return ir.Between(path, low, high, _SPANS[span])

    def in_(self, children: list[Any]) -> ir.In:
        path, values = children
        span = (path.span[0], values.span[1])
        return ir.In(path, values, False, _SPANS[span])

    def not_in(self, children: list[Any]) -> ir.In:
        path, _not, values = children
        span = (path.span[0], values.span[1])
        return ir.In(path, values, True, _SPANS[span])

    def contains(self, children: list[Any]) -> ir.Contains:
        path, value = children
        span = (path.span[0], value.span[1])
        return ir.Contains(path, value, _SPANS[span])

    def contains_any(self, children: list[Any]) -> ir.ContainsAny:
        path, values = children
        span = (path.span[0], values.span[1])
        return ir.ContainsAny(path, values, _SPANS[span])

    def contains_all(self, children: list[Any]) -> ir.ContainsAll:
        path, values = children
        span = (path.span[0], values.span[1])
        return ir.ContainsAll(path, values, _SPANS[span])

    def startswith(self, children: list[Any]) -> ir.StartsWith:
        path, value = children
        span = (path.span[0], value.span[1])
        return ir.StartsWith(path, value, _SPANS[span])

    def matches(self, children: list[Any]) -> ir.Matches:
        path, value = children
        span = (path.span[0], value.span[1])
        return ir.Matches(path, value, _SPANS[span])

    def call(self, children: list[Any]) -> tuple[Any, ir.Path | None, ir.Span]:
        name, path, rpar = children
        span = (name.start_pos, rpar.end_pos)
        return (name, path, _SPANS[span])

    def call_predicate(self, children: list[Any]) -> ir.Exists:
        ((name, path, span),) = children
        fname = name.value.lower()
        if fname != "exists":
            raise QuerySyntaxError(
                f"`{name.value}(...)` is not a condition", code="syntax.unknown-function",
                span=span,
                hint="a condition call is `exists(path)`; `size(path)` needs a comparison",
            )
        if path is None:
            raise QuerySyntaxError(
                "`exists()` needs a path", code="syntax.missing-argument", span=span,
                hint="write exists(field)",
            )
        return ir.Exists(path, span)

    def call_compare(self, children: list[Any]) -> ir.Size:
        (name, path, span), op, value = children
        fname = name.value.lower()
        if fname != "size":
            hint = "`exists(path)` is a condition by itself" if fname == "exists" else (
                "the only function compared in a condition is `size(path)`"
            )
            raise QuerySyntaxError(
                f"`{name.value}(...)` cannot be compared", code="syntax.unknown-function",
                span=span, hint=hint,
            )
        if path is None:
            raise QuerySyntaxError(
                "`size()` needs a path", code="syntax.missing-argument", span=span,
                hint="write size(field) > 0",
            )
        span = (span[0], value.span[1])  # from the call's to the value's end
        return ir.Size(_COMPARE_OPS[op.value], path, value, _SPANS[span])

    # --- boolean structure ---
    def paren(self, children: list[Any]) -> Any:
        # `( c )` builds no node, but its span covers the parentheses so that an `and`
        # or `or` starting or ending with one underlines balanced text
        lpar, cond, rpar = children
        span = (lpar.start_pos, rpar.end_pos)
        node = _with_span(cond, _SPANS[span])
        entry = _DEPTHS.get(id(cond))
        if entry is not None and entry[0] is cond:
            _DEPTHS.put(id(node), (node, entry[1]))
        return node

    def not_(self, children: list[Any]) -> ir.Not:
        tok, operand = children
        span = (tok.start_pos, operand.span[1])
        node = ir.Not(operand, _SPANS[span])
        return node if type(operand) not in _BOOL_TYPES else _deep_checked(node)

    def and_cond(self, children: list[Any]) -> ir.And:
        operands = tuple(children)
        span = (operands[0].span[0], operands[-1].span[1])
        node = ir.And(operands, _SPANS[span])
        return node if _shallow(operands) else _deep_checked(node)

    def or_cond(self, children: list[Any]) -> ir.Or:
        operands = tuple(children)
        span = (operands[0].span[0], operands[-1].span[1])
        node = ir.Or(operands, _SPANS[span])
        return node if _shallow(operands) else _deep_checked(node)

    # --- clauses ---
    def where(self, children: list[Any]) -> Any:
        return children[0]

    def group(self, children: list[ir.Path]) -> tuple[ir.Path, ...]:
        return tuple(children)

    def select_item(self, children: list[Any]) -> ir.SelectItem:
        expr, alias = children
        if type(expr) is tuple:
            name, arg, span = expr
            fname = name.value.lower()
            if fname not in ir.AGGREGATE_FUNCS:
                raise QuerySyntaxError(
                    f"unknown function `{name.value}`", code="syntax.unknown-function",
                    span=span,
                    hint="select takes a path or count(), count(p), sum(p), avg(p), min(p), max(p)",
                )
            expr = ir.Aggregate(fname, arg, span)
        if alias is None:
            return ir.SelectItem(expr, None, expr.span)
        span = (expr.span[0], alias.end_pos)
        return ir.SelectItem(expr, decode_name(alias), _SPANS[span])

    def select(self, children: list[ir.SelectItem]) -> tuple[ir.SelectItem, ...]:
        return tuple(children)

    def order_key(self, children: list[Any]) -> ir.OrderKey:
        path, direction = children
        if direction is None:
            return ir.OrderKey(path, False, path.span)
        span = (path.span[0], direction.end_pos)
        return ir.OrderKey(path, direction.type == "DESC", _SPANS[span])

    def order(self, children: list[ir.OrderKey]) -> tuple[ir.OrderKey, ...]:
        return tuple(children)

    def limit(self, children: list[Any]) -> Any:
        return children[0]

    def offset(self, children: list[Any]) -> Any:
        return children[0]

    def query(self, children: list[Any]) -> ir.Query:
        from_tok, name, where, group, select, order, limit, offset = children
        last: Any = name
        for part in (offset, limit, order, select, group, where):
            if part is not None:
                last = part[-1] if type(part) is tuple else part
                break
        span = (from_tok.start_pos, _span_of(last)[1])
        return ir.Query(
            collection=intern(decode_name(name)), where=where, group_by=group or (),
            select=select or (), order_by=order or (), limit=limit, offset=offset,
            span=_SPANS[span],
        )

    # --- writes ---
    def set_field(self, children: list[Any]) -> ir.SetField:
        path, op, value = children
        if op.value != "=":
            raise QuerySyntaxError(
                f"unexpected `{op.value}`; an assignment is written `path = value`",
                code="syntax.invalid-assignment", span=_span_of(op),
                hint=f"write `{path.dotted} = ...`")
        span = (path.span[0], value.span[1])
        return ir.SetField(path, value, _SPANS[span])

    def increment(self, children: list[Any]) -> ir.Increment:
        path, op, other, _plus, amount = children
        if op.value != "=":
            raise QuerySyntaxError(
                f"unexpected `{op.value}`; an assignment is written `path = value`",
                code="syntax.invalid-assignment", span=_span_of(op),
                hint=f"write `{path.dotted} = {path.dotted} + n`")
        if other.segments != path.segments:
            raise QuerySyntaxError(
                f"`{path.dotted} = {other.dotted} + ...` adds to another field",
                code="syntax.invalid-assignment", span=(path.span[0], amount.span[1]),
                hint=f"an increment adds to the field it sets: `{path.dotted} = "
                     f"{path.dotted} + n`")
        span = (path.span[0], amount.span[1])
        return ir.Increment(path, amount, _SPANS[span])

    def unset(self, children: list[Any]) -> ir.Unset:
        word, path = children
        if word.value.lower() != "unset":
            raise QuerySyntaxError(
                f"unexpected `{word.value}`; expected `unset <path>` or `<path> = <value>`",
                code="syntax.invalid-assignment", span=_span_of(word),
                hint="an update sets fields with `set a = 1, b = b + 1, unset c`")
        span = (word.start_pos, path.span[1])
        return ir.Unset(path, _SPANS[span])

    def write_where(self, children: list[Any]) -> Any:
        (cond,) = children
        return _EVERYTHING if getattr(cond, "type", None) == "TRUE" else cond

    def update(self, children: list[Any]) -> ir.Update:
        word, name, set_word, *assignments, where, limit = children
        if set_word.value.lower() != "set":
            raise QuerySyntaxError(
                f"unexpected `{set_word.value}`; expected `set`", code="syntax.unexpected-token",
                span=_span_of(set_word),
                hint="an update is written `update <collection> set <path> = <value> "
                     "where <condition>`")
        end = _span_of(limit if limit is not None else where if where is not None
                       else assignments[-1])[1]
        span = (word.start_pos, end)
        span = _SPANS[span]
        _require_where(where, "update", span, assignments[-1])
        return ir.Update(intern(decode_name(name)), tuple(assignments),
                         None if where is _EVERYTHING else where, limit, span)

    def delete(self, children: list[Any]) -> ir.Delete:
        word, _from, name, where, limit = children
        if word.value.lower() != "delete":
            raise QuerySyntaxError(
                f"unexpected `{_from.value}` after `{word.value}`",
                code="syntax.unexpected-token", span=_span_of(_from),
                hint="an update is written `update <collection> set ...`; a delete "
                     "`delete from <collection> where ...`")
        end = _span_of(limit if limit is not None else where if where is not None else name)[1]
        span = (word.start_pos, end)
        span = _SPANS[span]
        _require_where(where, "delete", span, name)
        return ir.Delete(intern(decode_name(name)), None if where is _EVERYTHING else where,
                         limit, span)

    def write(self, children: list[Any]) -> Any:
        return children[0]

    def start(self, children: list[Any]) -> Any:
        return children[0]

    def condition_only(self, children: list[Any]) -> Any:
        return children[0]


TRANSFORMER = _ToIR()
"""The callbacks, shared by this parser and Lark's (``lark_support.py``)."""


# --- the LALR driver ---------------------------------------------------------

_Reduce = Callable[[list[Any]], Any]
_IDENTITY: Any = None
"""A rule whose node is its only child (``?rule`` with one child): no call at all."""


def _child_filter(include: tuple[tuple[int, bool, int], ...], append_none: int,
                  expand1: bool, build: _Reduce) -> _Reduce:
    """Lark's ``ChildFilterLALR`` (+ ``ExpandSingleChild``): keep, inline, pad with None."""
    if not append_none and not any(x or n for _, x, n in include):
        keep = [i for i, _, _ in include]
        if len(keep) == 1 and not expand1:
            (only,) = keep
            return lambda children: build([children[only]])
        if len(keep) == 1:
            (only,) = keep
            return lambda children: children[only]

    def run(children: list[Any]) -> Any:
        filtered: list[Any] = []
        for i, inline, nones in include:
            if nones:
                filtered += [None] * nones
            if inline:
                if filtered:
                    filtered += children[i]
                else:  # left recursion: take the list over, as Lark does
                    filtered = children[i]
            else:
                filtered.append(children[i])
        if append_none:
            filtered += [None] * append_none
        if expand1 and len(filtered) == 1:
            return filtered[0]
        return build(filtered)

    return run


def _listing(children: list[Any]) -> list[Any]:
    return children


def _expand1(build: _Reduce) -> _Reduce:
    return lambda children: children[0] if len(children) == 1 else build(children)


def _reducers(transformer: Any) -> tuple[tuple[str, int, _Reduce | None], ...]:
    """``(origin, length, reduce)`` per rule, ``reduce`` None where the node is the
    only child; what Lark's ``ParseTreeBuilder`` would call for each rule."""
    out = []
    for origin, size, callback, expand1, include, append_none in _tables.RULES:
        method = getattr(transformer, callback, None)
        build: _Reduce
        if origin.startswith("_"):  # an inlined rule (``_rule``, ``x*``): its children
            build = _listing
        elif method is not None:
            build = method
        else:
            # a `?rule` without a callback has exactly one child; anything else would
            # need a parse tree, which this parser never builds
            single = (include is None and size == 1) or (
                include is not None and len(include) == 1 and not append_none
                and not include[0][1] and not include[0][2])
            assert expand1 and single, callback
            build = _listing
        reduce: _Reduce | None
        if include is None:
            if expand1 and size == 1:
                reduce = _IDENTITY
            elif expand1:
                reduce = _expand1(build)
            else:
                reduce = build
        else:
            reduce = _child_filter(include, append_none, expand1, build)
        out.append((origin, size, reduce))
    return tuple(out)


_RULES = _reducers(TRANSFORMER)
_STATES = _tables.STATES
_KEPT = frozenset(_tables.KEPT_TERMINALS)


def _accepts(stack: list[int], end_state: int) -> set[str]:
    """The terminals the parser would shift in this state after its reductions, and
    ``$END`` where the input may end (Lark's ``InteractiveParser.accepts``, on the
    states alone)."""
    out = set()
    for terminal in _STATES[stack[-1]]:
        if not terminal.isupper():
            continue
        states = list(stack)
        while True:
            action = _STATES[states[-1]].get(terminal)
            if action is None:
                break
            if action >= 0:
                out.add(terminal)
                break
            origin, size, _ = _RULES[~action]
            if size:
                del states[-size:]
            goto = _STATES[states[-1]][origin]
            states.append(goto)
            if terminal == "$END" and goto == end_state:
                out.add(terminal)
                break
    return out


def _unexpected(stack: list[int], end_state: int, token: Token) -> ParseError:
    expected = {t for t in _STATES[stack[-1]] if t.isupper()}
    return ParseError(token, expected, _accepts(stack, end_state))


def _unexpected_token(stack: list[int], end_state: int, token: Token | None, text: str,
                      kind: str, offsets: tuple[int, int, int | None]) -> ParseError:
    """The error for ``kind`` read where the tables have no action for it."""
    first, pos, last = offsets
    if kind == "$END":  # Lark's $END borrows the offsets of the last token
        token = Token(kind, "", first, last) if last is not None else Token(kind, "", 0, None)
    elif token is None:
        token = Token(kind, text[first:pos], first, pos)
    return _unexpected(stack, end_state, token)


def _lalr(text: str, start: str) -> Any:
    """Lex and parse ``text`` from ``start``: Lark's ``feed_token`` loop over its tables."""
    states = _STATES
    rules = _RULES
    kept = _KEPT
    keyword = KEYWORD_TERMINALS.get
    end_state = _tables.END_STATES[start]
    state_stack = [_tables.START_STATES[start]]
    value_stack: list[Any] = []
    match = scanner(text)
    pos = 0
    size_of_text = len(text)
    first = -1  # offsets of the last token, for the end of input
    last: int | None = None
    previous = ""  # the last token's terminal
    parens = ParenDepth()
    while True:
        kind = "$END"
        if pos < size_of_text:
            m = match()
            if m is None:
                if _TRAILER.match(text, pos) is None:
                    raise LexError(_SKIP_RE.match(text, pos).end())  # type: ignore[union-attr]
            else:
                kind = m.lastgroup  # type: ignore[assignment]
                first = m.start(kind)
                pos = last = m.end()
                if kind == "WORD":
                    kind = keyword(text[first:pos].lower(), "NAME")
                elif kind == "KEYWORD":
                    kind = KEYWORD_TERMINALS[text[first:pos].translate(_FOLD).lower()]
                elif kind == "LPAR" or kind == "RPAR":
                    parens.read(kind, previous, first)
                previous = kind
        token = Token(kind, text[first:pos], first, pos) if kind in kept else None
        is_end = kind == "$END"
        while True:
            action = states[state_stack[-1]].get(kind)
            if action is None:
                raise _unexpected_token(state_stack, end_state, token, text, kind,
                                        (first, pos, last))
            if action >= 0:
                assert not is_end, "the tables never shift the end of input"
                state_stack.append(action)
                value_stack.append(token)
                break
            origin, size, reduce = rules[~action]
            if reduce is None:
                del state_stack[-1]
            elif size:
                children = value_stack[-size:]
                del state_stack[-size:]
                del value_stack[-size:]
                value_stack.append(reduce(children))
            else:
                value_stack.append(reduce([]))
            goto = states[state_stack[-1]][origin]
            state_stack.append(goto)
            if is_end and goto == end_state:
                return value_stack[-1]


# --- errors in words -------------------------------------------------------

_WORDS: dict[str, str] = {
    "NAME": "a name",
    "QUOTED_NAME": "a `backticked name`",
    "PARAM": "a parameter (:name)",
    "STRING": "a string",
    "INT": "an integer",
    "FLOAT": "a number",
    "TRUE": "`true`",
    "FALSE": "`false`",
    "NULL": "`null`",
    "COMPARE": "a comparison (==, !=, <, <=, >, >=)",
    "LPAR": "`(`",
    "RPAR": "`)`",
    "LSQB": "`[`",
    "RSQB": "`]`",
    "COMMA": "`,`",
    "DOT": "`.`",
    "PLUS": "`+`",
    "$END": "the end of the query",
}
_ORDER = [
    "NAME", "QUOTED_NAME", "COMPARE", "STRING", "INT", "FLOAT", "TRUE", "FALSE", "NULL",
    "PARAM", "LSQB", "LPAR", "RPAR", "RSQB", "COMMA", "DOT",
]
_CLAUSES = {"WHERE", "GROUP", "SELECT", "ORDER", "LIMIT", "OFFSET"}
_VALUE_TERMINALS = {"STRING", "INT", "FLOAT", "TRUE", "FALSE", "NULL", "PARAM", "LSQB"}
_UNNAMED = {"TIMESTAMP"}
"""Terminals an error's expectations leave out: a timestamp is one kind of value among
several, and naming it beside every other would only lengthen the message."""


def _word(terminal: str) -> str:
    name = terminal.lstrip("_")
    if terminal in _WORDS:
        return _WORDS[terminal]
    if name.upper() == name and name.isalpha():
        return f"`{name.lower()}`"
    return f"`{terminal}`"


def _describe_expected(expected: set[str]) -> str:
    expected = expected - _UNNAMED
    if expected & _VALUE_TERMINALS == {"STRING", "INT", "FLOAT", "TRUE", "FALSE", "NULL", "PARAM",
                                       "LSQB"}:
        expected = (expected - _VALUE_TERMINALS) | {"<value>"}
    ranked = sorted(
        expected,
        key=lambda t: (
            _ORDER.index(t) if t in _ORDER else (len(_ORDER) + 1 if t == "$END" else len(_ORDER)),
            t,
        ),
    )
    words = ["a value" if t == "<value>" else _word(t) for t in ranked]
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " or " + words[-1]


def _describe_token(token: Any) -> str:
    if token.type == "$END":
        return "the end of the query"
    return f"`{token}`"


_IS_NULL = re.compile(r"is\s+(not\s+)?null\b", re.IGNORECASE)
_NULLS_ORDER = re.compile(r"nulls\s+(first|last)\b", re.IGNORECASE)


def _sql_habit(text: str, pos: int, word: str) -> str | None:
    """A hint in CrossQL's spelling for an SQL habit at ``pos`` (``word`` is the token
    or character found there), or None."""
    lower = word.lower()
    before = text[:pos].rstrip().lower()
    if word == ">" and text[pos - 1 : pos] == "<":
        return "`<>` is SQL; CrossQL writes `!=`"
    if lower in ("like", "ilike"):
        return (f"`{lower}` is SQL; CrossQL writes `startswith \"A\"` for a prefix and "
                "`matches \"^A.*z$\"` for a pattern (a regular expression)")
    m = _IS_NULL.match(text, pos) if lower == "is" else None
    if m is not None and m.group(1):
        return ("`is not null` is SQL; CrossQL writes `p != null` (present and not null) "
                "or `exists(p)` (present, null or not)")
    if m is not None:
        return ("`is null` is SQL; CrossQL writes `p == null` (an explicit null) or "
                "`not exists(p)` (a missing field)")
    if lower == "nulls" and _NULLS_ORDER.match(text, pos):
        return ("`nulls first/last` is SQL; in CrossQL missing and null keys always sort first "
                "in ascending order and last in descending order")
    if word == "*" and before.endswith("count("):
        return "`count(*)` is SQL; CrossQL writes `count()` to count documents"
    if word == "*" and before.endswith("select"):
        return "`select *` is SQL; leave out `select` to get whole documents"
    return None


def _syntax_error(err: LexError | ParseError, text: str) -> QuerySyntaxError:
    if isinstance(err, LexError):
        pos = err.pos
        char = text[pos]
        if char in "\"'":
            return QuerySyntaxError(
                "unterminated string", code="syntax.unterminated-string",
                span=(pos, len(text)), source=text,
                hint=f"close the string with {char}", label="this string never ends",
            )
        if char == "`":
            return QuerySyntaxError(
                "unterminated backticked name", code="syntax.unterminated-name",
                span=(pos, len(text)), source=text, hint="close the name with `",
            )
        two = text[pos : pos + 2]
        hint = None
        if two in ("&&", "||"):
            hint = f"write `{'and' if two == '&&' else 'or'}`"
        elif char == "!":
            hint = "write `not` for negation, `!=` for inequality"
        elif char == ":":
            hint = "a parameter is `:` followed by a name, e.g. :min_age"
        elif char == "-" or char == ".":
            hint = "numbers are written like 12, -3, 1.5 or 2e3"
        else:
            hint = "names are letters, digits and _ (backtick any other name: `my name`)"
        hint = _sql_habit(text, pos, char) or hint
        return QuerySyntaxError(
            f"unexpected character `{char}`", code="syntax.unexpected-character",
            span=(pos, pos + 1), source=text, hint=hint,
        )
    if isinstance(err, ParseError):
        token = err.token
        expected = set(err.accepts or err.expected)
        if token.type == "$END":
            # Lark's $END borrows the position of the last token: point at its last
            # character (not at a trailing comment, which is no token)
            end = token.end_pos
            span = (end - 1, end) if end else (0, 0)
            return QuerySyntaxError(
                f"the query ends too early; expected {_describe_expected(expected)}",
                code="syntax.unexpected-end", span=span, source=text,
                hint="complete the query" if "FROM" not in expected else
                "a query starts with `from <collection>`",
            )
        span = _span_of(token)
        hint = None
        tname = token.type.lstrip("_")
        if token.type not in ("NAME", "QUOTED_NAME") and str(token).lower() in KEYWORDS and (
            "NAME" in expected
        ):
            hint = f"`{str(token).lower()}` is a keyword; to use it as a name, put it in backticks"
        elif tname in _CLAUSES:
            hint = ("clauses go in this order, each at most once: from, where, group by, select, "
                    "order by, limit, offset")
        elif "FROM" in expected:
            hint = "a query starts with `from <collection>`"
        hint = _sql_habit(text, token.start_pos, str(token)) or hint
        return QuerySyntaxError(
            f"unexpected {_describe_token(token)}; expected {_describe_expected(expected)}",
            code="syntax.unexpected-token", span=span, source=text, hint=hint,
        )
    raise err  # pragma: no cover


def _run(text: str, start: str, parse: Callable[[str, str], Any] = _lalr) -> Any:
    if not isinstance(text, str):
        raise TypeError(f"a query is text, not {type(text).__name__}")
    if len(text) > MAX_QUERY_LENGTH:
        raise QuerySyntaxError(
            f"the query is {len(text)} characters long; the limit is {MAX_QUERY_LENGTH}",
            code="syntax.too-long", span=(MAX_QUERY_LENGTH, len(text)), source=text,
            hint="pass large value lists as a parameter",
        )
    try:
        return parse(text, start)
    except ParenthesisTooDeep as err:
        raise too_deep_parenthesis(err.pos).with_source(text) from None
    except (LexError, ParseError) as err:
        raise _syntax_error(err, text) from None
    except QuerySyntaxError as err:
        raise err.with_source(text) from None
    except RecursionError:
        raise QuerySyntaxError(
            "the query nests too deeply to parse", code="syntax.too-deep", span=(0, len(text)),
            source=text, hint="flatten nested parentheses",
        ) from None
    finally:
        if _DEPTHS:
            _DEPTHS.clear()


def parse_query(text: str) -> ir.Query:
    """Parse a whole query (``from ...``) into IR; raises ``QuerySyntaxError``."""
    query: ir.Query = _run(text, "start")
    object.__setattr__(query, "source", text)
    return query


def parse_statement(text: str) -> ir.Statement:
    """Parse a read query (``from ...``) or a write (``update ...``, ``delete from ...``)."""
    if not isinstance(text, str):
        raise TypeError(f"a query is text, not {type(text).__name__}")
    m = scanner(text)() if len(text) <= MAX_QUERY_LENGTH else None
    if m is None or m.lastgroup != "WORD" or \
            text[m.start("WORD"):m.end()].lower() not in ("update", "delete"):
        return parse_query(text)
    statement: ir.Update | ir.Delete = _run(text, "write")
    object.__setattr__(statement, "source", text)
    return statement


def parse_condition(text: str) -> ir.Condition:
    """Parse a bare condition (the text of a ``where`` clause) into IR."""
    cond: ir.Condition = _run(text, "condition_only")
    return cond
