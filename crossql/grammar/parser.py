"""Text → IR: the Lark LALR parser and the transformer that builds IR nodes.

The transformer runs inside the parser (no intermediate parse tree), so every
callback builds its IR node directly and computes its span from its children.
Lark's errors are turned into ``QuerySyntaxError`` with expectations in words.
"""

from __future__ import annotations

import re
from dataclasses import replace
from functools import lru_cache
from importlib import resources
from typing import Any, TypeVar

from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from crossql import ir
from crossql.errors import QuerySyntaxError
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


def _span_of(item: Any) -> ir.Span:
    if isinstance(item, Token):
        assert item.start_pos is not None and item.end_pos is not None
        return (item.start_pos, item.end_pos)
    span: ir.Span = item.span
    return span


def _join(first: Any, last: Any) -> ir.Span:
    return (_span_of(first)[0], _span_of(last)[1])


def _syntax(message: str, span: ir.Span, hint: str | None = None) -> QuerySyntaxError:
    return QuerySyntaxError(message, code="syntax.invalid-literal", span=span, hint=hint)


def decode_string(token: Token) -> str:
    """The value of a string literal: strip quotes, apply escapes, join surrogate pairs."""
    body = token[1:-1]
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
    if any("\ud800" <= ch <= "\udfff" for ch in value):
        try:
            value = value.encode("utf-16", "surrogatepass").decode("utf-16")
        except UnicodeDecodeError:
            raise _syntax(
                "a string holds a lone UTF-16 surrogate (\\uD800-\\uDFFF)",
                _span_of(token),
                hint="write a character above U+FFFF as a surrogate pair, or as itself",
            ) from None
    return value


def decode_name(token: Token) -> str:
    """The text of a name segment; backticked names drop the ticks and undouble ``````."""
    if token.type == "QUOTED_NAME":
        text = token[1:-1].replace("``", "`")
        if not text:
            raise QuerySyntaxError(
                "an empty name ``", code="syntax.empty-name", span=_span_of(token),
                hint="a backticked name needs at least one character",
            )
        return text
    return str(token)


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


def _deep_checked(node: _Bool) -> _Bool:
    """Refuse a condition nested past ``MAX_CONDITION_DEPTH`` as soon as it is built.

    The parser builds bottom-up, so the first node past the limit raises and no
    deeper tree ever exists; each check walks at most the limit's worth of levels.
    """
    depth = condition_depth(node)
    if depth > MAX_CONDITION_DEPTH:
        raise QuerySyntaxError(
            f"the condition nests more than {MAX_CONDITION_DEPTH} levels deep",
            code="syntax.too-deep", span=node.span,
            hint="flatten it: `not not c` is `c`, and `a and (b and c)` is `a and b and c`",
        )
    return node


class _ToIR(Transformer[Token, Any]):
    """Builds IR nodes while the LALR parser reduces (Lark's embedded transformer)."""

    # --- values ---
    def string(self, children: list[Token]) -> ir.Literal:
        (tok,) = children
        return ir.Literal(decode_string(tok), "string", _span_of(tok))

    def integer(self, children: list[Token]) -> ir.Literal:
        (tok,) = children
        # a 64-bit integer has at most 19 digits; longer text must not reach int(), which
        # refuses more than 4300 digits with a ValueError
        value = int(tok) if len(tok.lstrip("-0")) <= 20 else INT64_MAX + 1
        if not INT64_MIN <= value <= INT64_MAX:
            shown = tok if len(tok) <= 30 else f"{tok[:24]}... ({len(tok)} characters)"
            raise QuerySyntaxError(
                f"integer {shown} is out of the 64-bit range", code="syntax.integer-out-of-range",
                span=_span_of(tok), hint="integers are 64-bit signed; write a float (e.g. 1e20)",
            )
        return ir.Literal(value, "int", _span_of(tok))

    def decimal(self, children: list[Token]) -> ir.Literal:
        (tok,) = children
        value = float(tok)
        if value in (float("inf"), float("-inf")):
            shown = tok if len(tok) <= 30 else f"{tok[:24]}... ({len(tok)} characters)"
            raise QuerySyntaxError(
                f"number {shown} is too large for a 64-bit float",
                code="syntax.float-out-of-range",
                span=_span_of(tok),
            )
        return ir.Literal(value, "float", _span_of(tok))

    def true(self, children: list[Token]) -> ir.Literal:
        return ir.Literal(True, "bool", _span_of(children[0]))

    def false(self, children: list[Token]) -> ir.Literal:
        return ir.Literal(False, "bool", _span_of(children[0]))

    def null(self, children: list[Token]) -> ir.Literal:
        return ir.Literal(None, "null", _span_of(children[0]))

    def param(self, children: list[Token]) -> ir.Param:
        (tok,) = children
        return ir.Param(tok[1:], _span_of(tok))

    def array(self, children: list[Any]) -> ir.ListValue:
        items = tuple(c for c in children[1:-1] if c is not None)
        node = ir.ListValue(items, _join(children[0], children[-1]))
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
    def path(self, children: list[Token]) -> ir.Path:
        return ir.Path(tuple(decode_name(t) for t in children), _join(children[0], children[-1]))

    # --- predicates ---
    def compare(self, children: list[Any]) -> ir.Compare:
        path, op, value = children
        return ir.Compare(_COMPARE_OPS[op], path, value, _join(path, value))

    def between(self, children: list[Any]) -> ir.Between:
        path, low, high = children
        return ir.Between(path, low, high, _join(path, high))

    def in_(self, children: list[Any]) -> ir.In:
        path, values = children
        return ir.In(path, values, False, _join(path, values))

    def not_in(self, children: list[Any]) -> ir.In:
        path, _not, values = children
        return ir.In(path, values, True, _join(path, values))

    def contains(self, children: list[Any]) -> ir.Contains:
        path, value = children
        return ir.Contains(path, value, _join(path, value))

    def contains_any(self, children: list[Any]) -> ir.ContainsAny:
        path, values = children
        return ir.ContainsAny(path, values, _join(path, values))

    def contains_all(self, children: list[Any]) -> ir.ContainsAll:
        path, values = children
        return ir.ContainsAll(path, values, _join(path, values))

    def startswith(self, children: list[Any]) -> ir.StartsWith:
        path, value = children
        return ir.StartsWith(path, value, _join(path, value))

    def matches(self, children: list[Any]) -> ir.Matches:
        path, value = children
        return ir.Matches(path, value, _join(path, value))

    def call(self, children: list[Any]) -> tuple[Token, ir.Path | None, ir.Span]:
        name, path, rpar = children
        return (name, path, _join(name, rpar))

    def call_predicate(self, children: list[Any]) -> ir.Exists:
        ((name, path, span),) = children
        fname = str(name).lower()
        if fname != "exists":
            raise QuerySyntaxError(
                f"`{name}(...)` is not a condition", code="syntax.unknown-function", span=span,
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
        fname = str(name).lower()
        if fname != "size":
            hint = "`exists(path)` is a condition by itself" if fname == "exists" else (
                "the only function compared in a condition is `size(path)`"
            )
            raise QuerySyntaxError(
                f"`{name}(...)` cannot be compared", code="syntax.unknown-function",
                span=span, hint=hint,
            )
        if path is None:
            raise QuerySyntaxError(
                "`size()` needs a path", code="syntax.missing-argument", span=span,
                hint="write size(field) > 0",
            )
        return ir.Size(_COMPARE_OPS[op], path, value, (span[0], _span_of(value)[1]))

    # --- boolean structure ---
    def paren(self, children: list[Any]) -> Any:
        # `( c )` builds no node, but its span covers the parentheses so that an `and`
        # or `or` starting or ending with one underlines balanced text
        lpar, cond, rpar = children
        return replace(cond, span=_join(lpar, rpar))

    def not_(self, children: list[Any]) -> ir.Not:
        tok, operand = children
        return _deep_checked(ir.Not(operand, _join(tok, operand)))

    def and_cond(self, children: list[Any]) -> ir.And:
        return _deep_checked(ir.And(tuple(children), _join(children[0], children[-1])))

    def or_cond(self, children: list[Any]) -> ir.Or:
        return _deep_checked(ir.Or(tuple(children), _join(children[0], children[-1])))

    # --- clauses ---
    def where(self, children: list[Any]) -> Any:
        return children[0]

    def group(self, children: list[ir.Path]) -> tuple[ir.Path, ...]:
        return tuple(children)

    def select_item(self, children: list[Any]) -> ir.SelectItem:
        expr, alias = children
        if isinstance(expr, tuple):
            name, arg, span = expr
            fname = str(name).lower()
            if fname not in ir.AGGREGATE_FUNCS:
                raise QuerySyntaxError(
                    f"unknown function `{name}`", code="syntax.unknown-function", span=span,
                    hint="select takes a path or count(), count(p), sum(p), avg(p), min(p), max(p)",
                )
            expr = ir.Aggregate(fname, arg, span)  # type: ignore[arg-type]
        end = alias if alias is not None else expr
        return ir.SelectItem(
            expr, decode_name(alias) if alias is not None else None, _join(expr, end)
        )

    def select(self, children: list[ir.SelectItem]) -> tuple[ir.SelectItem, ...]:
        return tuple(children)

    def order_key(self, children: list[Any]) -> ir.OrderKey:
        path, direction = children
        descending = direction is not None and direction.type == "DESC"
        return ir.OrderKey(path, descending, _join(path, direction if direction else path))

    def order(self, children: list[ir.OrderKey]) -> tuple[ir.OrderKey, ...]:
        return tuple(children)

    def limit(self, children: list[Any]) -> Any:
        return children[0]

    def offset(self, children: list[Any]) -> Any:
        return children[0]

    def query(self, children: list[Any]) -> ir.Query:
        from_tok, name, where, group, select, order, limit, offset = children
        parts = [p for p in (where, group, select, order, limit, offset) if p is not None]
        last = parts[-1] if parts else name
        if isinstance(last, tuple):
            last = last[-1]
        return ir.Query(
            collection=decode_name(name), where=where, group_by=group or (),
            select=select or (), order_by=order or (), limit=limit, offset=offset,
            span=_join(from_tok, last),
        )

    def start(self, children: list[Any]) -> Any:
        return children[0]

    def condition_only(self, children: list[Any]) -> Any:
        return children[0]


@lru_cache(maxsize=1)
def _parser() -> Lark:
    grammar = resources.files("crossql.grammar").joinpath("crossql.lark").read_text("utf-8")
    return Lark(
        grammar,
        parser="lalr",
        lexer="basic",
        strict=True,
        start=["start", "condition_only"],
        maybe_placeholders=True,
        transformer=_ToIR(),
        # the built parser is cached in the temp dir (keyed by the grammar's hash):
        # building it takes ~0.4 s, loading it ~6 ms
        cache=True,
    )


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
    "$END": "the end of the query",
}
_ORDER = [
    "NAME", "QUOTED_NAME", "COMPARE", "STRING", "INT", "FLOAT", "TRUE", "FALSE", "NULL",
    "PARAM", "LSQB", "LPAR", "RPAR", "RSQB", "COMMA", "DOT",
]
_CLAUSES = {"WHERE", "GROUP", "SELECT", "ORDER", "LIMIT", "OFFSET"}
_VALUE_TERMINALS = {"STRING", "INT", "FLOAT", "TRUE", "FALSE", "NULL", "PARAM", "LSQB"}


def _word(terminal: str) -> str:
    name = terminal.lstrip("_")
    if terminal in _WORDS:
        return _WORDS[terminal]
    if name.upper() == name and name.isalpha():
        return f"`{name.lower()}`"
    return f"`{terminal}`"


def _describe_expected(expected: set[str]) -> str:
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


def _describe_token(token: Token) -> str:
    if token.type == "$END":
        return "the end of the query"
    return f"`{token}`"


def _syntax_error(err: UnexpectedInput, text: str) -> QuerySyntaxError:
    if isinstance(err, UnexpectedCharacters):
        pos = err.pos_in_stream or 0
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
        return QuerySyntaxError(
            f"unexpected character `{char}`", code="syntax.unexpected-character",
            span=(pos, pos + 1), source=text, hint=hint,
        )
    if isinstance(err, UnexpectedToken):
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
        return QuerySyntaxError(
            f"unexpected {_describe_token(token)}; expected {_describe_expected(expected)}",
            code="syntax.unexpected-token", span=span, source=text, hint=hint,
        )
    if isinstance(err, UnexpectedEOF):  # pragma: no cover - LALR reports $END as a token
        return QuerySyntaxError(
            "the query ends too early", code="syntax.unexpected-end",
            span=(len(text), len(text)), source=text,
        )
    raise err  # pragma: no cover


def _run(text: str, start: str) -> Any:
    if not isinstance(text, str):
        raise TypeError(f"a query is text, not {type(text).__name__}")
    if len(text) > MAX_QUERY_LENGTH:
        raise QuerySyntaxError(
            f"the query is {len(text)} characters long; the limit is {MAX_QUERY_LENGTH}",
            code="syntax.too-long", span=(MAX_QUERY_LENGTH, len(text)), source=text,
            hint="pass large value lists as a parameter",
        )
    try:
        return _parser().parse(text, start=start)
    except UnexpectedInput as err:
        raise _syntax_error(err, text) from None
    except QuerySyntaxError as err:
        raise err.with_source(text) from None
    except RecursionError:
        raise QuerySyntaxError(
            "the query nests too deeply to parse", code="syntax.too-deep", span=(0, len(text)),
            source=text, hint="flatten nested parentheses",
        ) from None


def parse_query(text: str) -> ir.Query:
    """Parse a whole query (``from ...``) into IR; raises ``QuerySyntaxError``."""
    query: ir.Query = _run(text, "start")
    object.__setattr__(query, "source", text)
    return query


def parse_condition(text: str) -> ir.Condition:
    """Parse a bare condition (the text of a ``where`` clause) into IR."""
    cond: ir.Condition = _run(text, "condition_only")
    return cond
