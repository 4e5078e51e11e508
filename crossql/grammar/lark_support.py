"""CrossQL's lexer and callbacks plugged into Lark itself.

CrossQL parses with its own driver over Lark's tables (``parser.py``); this
module builds the same parser the Lark way, for the differential tests and for
anyone who wants a ``lark.Lark`` object:

- ``LarkLexer``: the master-regex lexer as a Lark custom lexer (``lexer=LarkLexer``);
- ``lark_parser(lexer)``: ``Lark(crossql.lark, parser="lalr", strict=True, ...)``
  with CrossQL's callbacks as its embedded transformer, and either lexer;
- ``parse_with_lark(text, start, lexer)``: that parser behind the same error
  mapping as ``crossql.parse``.

Importing it imports Lark (~35 ms); ``import crossql`` never does.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from lark import Lark, Token
from lark.common import LexerConf
from lark.exceptions import UnexpectedCharacters, UnexpectedToken
from lark.lexer import Lexer

from crossql import ir
from crossql.grammar.generate import build_lark
from crossql.grammar.lexer import LexError, ParenDepth, tokens
from crossql.grammar.parser import TRANSFORMER, ParseError, _run


def _line_column(text: str, pos: int) -> tuple[int, int]:
    """1-based line and column of an offset, as Lark's line counter gives them."""
    return text.count("\n", 0, pos) + 1, pos - text.rfind("\n", 0, pos)


class LarkLexer(Lexer):
    """The master-regex lexer behind Lark's custom-lexer interface: ``lark.Token``s
    with offsets, lines and columns, ``UnexpectedCharacters`` where nothing matches."""

    def __init__(self, lexer_conf: LexerConf) -> None:
        self.lexer_conf = lexer_conf

    def lex(self, data: str) -> Iterator[Token]:  # type: ignore[override]
        try:
            for kind, value, start, end in tokens(data):
                line, column = _line_column(data, start)
                end_line, end_column = _line_column(data, end)
                yield Token(kind, value, start, line, column, end_line, end_column, end)
        except LexError as err:
            line, column = _line_column(data, err.pos)
            raise UnexpectedCharacters(  # type: ignore[no-untyped-call]
                data, err.pos, line, column) from None


@lru_cache(maxsize=2)
def lark_parser(lexer: str = "crossql") -> Lark:
    """Lark's LALR parser for CrossQL with CrossQL's callbacks; ``lexer`` is
    ``"crossql"`` (``LarkLexer``) or ``"basic"`` (Lark's own)."""
    parser: Lark = build_lark(lexer=LarkLexer if lexer == "crossql" else "basic",
                              transformer=TRANSFORMER)
    return parser


def _parse(text: str, start: str, lexer: str) -> Any:
    try:
        # Lark's parse loop, step by step, so that parentheses are counted as they are
        # read with either lexer (``ParenDepth``), before the parser takes each
        interactive = lark_parser(lexer).parse_interactive(text, start=start)
        parens = ParenDepth()
        previous = ""
        last = None
        try:
            for token in interactive.iter_parse():
                if token.type == "LPAR" or token.type == "RPAR":
                    parens.read(token.type, previous, token.start_pos or 0)
                previous = token.type
                last = token
            return interactive.feed_eof(last)  # type: ignore[no-untyped-call]
        except UnexpectedToken as err:
            # what Lark's own parse loop attaches, so that `accepts` can be computed
            err.interactive_parser = interactive
            raise
    except UnexpectedCharacters as err:
        raise LexError(err.pos_in_stream or 0) from None
    except UnexpectedToken as err:
        raise ParseError(err.token, set(err.expected), set(err.accepts)) from None


def parse_with_lark(text: str, start: str = "start", lexer: str = "crossql") -> Any:
    """What ``crossql.parse`` (``start``) or a condition parse (``condition_only``)
    gives, computed by Lark's parser: the IR, or the same ``QuerySyntaxError``."""
    result = _run(text, start, lambda t, s: _parse(t, s, lexer))
    if start == "start":
        assert isinstance(result, ir.Query)
        object.__setattr__(result, "source", text)
    return result
