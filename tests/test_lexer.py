"""The master-regex lexer against Lark's basic lexer: same tokens, same offsets,
lines and columns, and the same failure position, on the corpus and generated text."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from crossql.grammar.generate import build_lark
from crossql.grammar.lark_support import LarkLexer
from crossql.grammar.lexer import FOLDING_CHARACTERS, KEYWORD_TERMINALS, MASTER, LexError, tokens
from crossql.grammar.parser import KEYWORDS
from tests.budget import examples
from tests.test_fuzz_text import SEPARATORS, VOCABULARY

CORPUS = yaml.safe_load((Path(__file__).parent / "corpus" / "queries.yaml").read_text("utf-8"))
BASIC = build_lark()  # Lark's parser with its own basic lexer, for the grammar's terminals
BASIC_LEXER = BASIC._build_lexer()  # built once: Lark.lex() builds (and checks) one per call
ATTRIBUTES = ("type", "value", "start_pos", "end_pos", "line", "column", "end_line", "end_column")


def _lark_tokens(text: str) -> list[tuple[Any, ...]] | int:
    """Lark's basic lexer: every token's attributes, or the offset where it fails."""
    from lark.exceptions import UnexpectedCharacters
    from lark.lexer import LexerThread

    try:
        stream = LexerThread.from_text(BASIC_LEXER, text).lex(None)
        return [tuple(getattr(t, a) for a in ATTRIBUTES) for t in stream]
    except UnexpectedCharacters as err:
        return int(err.pos_in_stream)


def _our_tokens(text: str) -> list[tuple[Any, ...]] | int:
    """The master-regex lexer, through its Lark adapter (which adds lines and columns)."""
    from lark.exceptions import UnexpectedCharacters

    try:
        lexer = LarkLexer(BASIC.lexer_conf)
        return [tuple(getattr(t, a) for a in ATTRIBUTES) for t in lexer.lex(text)]
    except UnexpectedCharacters as err:
        return int(err.pos_in_stream)


def _same(text: str) -> None:
    assert _our_tokens(text) == _lark_tokens(text), text


@pytest.mark.parametrize("entry", CORPUS, ids=[e["name"] for e in CORPUS])
def test_corpus_tokens_match_lark(entry: dict[str, Any]) -> None:
    _same(entry["query"])


WORDISH = st.text(alphabet=st.sampled_from(
    ["a", "S", "_", "0", "9", "-", "-", ".", "e", "E", "+", " ", "\n", '"', "'", "\\", "`",
     ":", "(", ")", "[", "]", ",", "=", "!", "<", ">", "é", "\t", "\r", "\f", "\v",
     *FOLDING_CHARACTERS]), max_size=40)
KEYWORDY = st.lists(st.one_of(
    st.sampled_from(sorted(KEYWORDS)),
    st.sampled_from(sorted(KEYWORDS)).map(str.upper),
    st.sampled_from(sorted(KEYWORDS)).map(
        lambda k: k.replace("s", "\u017f").replace("i", "\u0131")),
    st.sampled_from(["x", "x1", "_", "k", "\u212a", "\u0130", "as_", "in1", "notnull"]),
    st.sampled_from([*SEPARATORS, "", "", "(", ")", ",", ".", "-", "--", "1", "1.5e3"]),
), max_size=20).map("".join)


@settings(max_examples=examples(600), suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=60), WORDISH, KEYWORDY,
                 st.lists(st.sampled_from(VOCABULARY + SEPARATORS), max_size=25).map("".join)))
@example("a\u017f")  # `as` to Lark: U+017F (long s) folds onto s
@example("\u017felect x")
@example("from\u212a")
@example("-- only a comment")
@example("a -- comment\n b")
@example("'unterminated")
@example("x `a``b` y")
@example("1.5e 2e3 -0.25 --5")
def test_generated_text_tokens_match_lark(text: str) -> None:
    _same(text)


def test_folding_characters_are_every_non_ascii_letter_of_ignorecase() -> None:
    """The WORD fast path steps aside exactly for these characters: every non-ASCII
    character that ``(?i)[A-Za-z0-9_]`` matches."""
    letter = re.compile(r"(?i)[A-Za-z0-9_]")
    found = "".join(chr(c) for c in range(128, sys.maxunicode + 1) if letter.match(chr(c)))
    assert found == FOLDING_CHARACTERS


def test_keywords_are_the_grammar_keywords() -> None:
    assert set(KEYWORD_TERMINALS) == set(KEYWORDS)
    terminals = {t.name for t in BASIC.terminals}
    assert set(KEYWORD_TERMINALS.values()) <= terminals
    groups = set(MASTER.groupindex) - {"WORD", "KEYWORD"}
    assert groups | set(KEYWORD_TERMINALS.values()) == terminals - {"WS", "COMMENT"}


@pytest.mark.parametrize(("text", "expected"), [
    ("from Users WHERE a==1", [("FROM", "from", 0, 4), ("NAME", "Users", 5, 10),
                               ("_WHERE", "WHERE", 11, 16), ("NAME", "a", 17, 18),
                               ("COMPARE", "==", 18, 20), ("INT", "1", 20, 21)]),
    ("fromage from_x -- from\n`from`", [("NAME", "fromage", 0, 7), ("NAME", "from_x", 8, 14),
                                        ("QUOTED_NAME", "`from`", 23, 29)]),
    (":min -3 1.5 2e3", [("PARAM", ":min", 0, 4), ("INT", "-3", 5, 7),
                         ("FLOAT", "1.5", 8, 11), ("FLOAT", "2e3", 12, 15)]),
    ("a\u017f", [("_AS", "a\u017f", 0, 2)]),
    ("", []),
    ("  -- nothing", []),
])
def test_tokens(text: str, expected: list[tuple[str, str, int, int]]) -> None:
    assert list(tokens(text)) == expected


@pytest.mark.parametrize(("text", "pos"), [("a ? b", 2), ("  'open", 2), ("x -- c\n  @", 9),
                                           ("\u017f", 0), ("ab\u017f", 2)])
def test_lex_error_position(text: str, pos: int) -> None:
    with pytest.raises(LexError) as info:
        list(tokens(text))
    assert info.value.pos == pos
    assert _lark_tokens(text) == pos
