"""The CrossQL lexer: one master regular expression with a named group per terminal.

It yields exactly the tokens of Lark's basic lexer for ``crossql.lark`` (same
terminal names, same values, same offsets), only faster: Lark tries its
terminals one compiled pattern at a time and builds a ``lark.Token`` for every
match; here one ``re`` scanner finds the next token, and a plain word is one
group whose keyword-ness is a dictionary lookup.

Lark's order decides which terminal wins where two could match: ``FLOAT``
(priority 3), the keywords (priority 2, longest first), then the rest. Keywords
are case-insensitive *and* reserved, whole words only. The ``WORD`` group is the
fast path for an ASCII word: a keyword when its lower-case text is one, a
``NAME`` otherwise. That is what Lark decides too, unless one of the four
non-ASCII characters that Python's case-insensitive matching folds onto an
ASCII letter (U+0130, U+0131, U+017F, U+212A) follows or starts the word: ``a``
followed by U+017F (long s) is the keyword ``as`` to Lark. Then ``WORD`` steps
aside and the ``KEYWORD`` group (every keyword pattern of the grammar, with
Lark's case-insensitive flag and whole-word look-ahead), followed by ``NAME``,
decides, exactly as Lark's keyword terminals and ``NAME`` would: at most one
keyword can match at a place, so trying them in one alternation is the same as
trying them one by one.

``tests/test_lexer.py`` checks the tokens against Lark's basic lexer on the
whole corpus and on generated text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from crossql.limits import MAX_CONDITION_DEPTH

KEYWORD_TERMINALS: dict[str, str] = {
    "from": "FROM", "where": "_WHERE", "group": "_GROUP", "by": "_BY", "select": "_SELECT",
    "order": "_ORDER", "asc": "ASC", "desc": "DESC", "limit": "_LIMIT", "offset": "_OFFSET",
    "as": "_AS", "and": "_AND", "or": "_OR", "not": "NOT", "between": "_BETWEEN", "in": "_IN",
    "contains": "_CONTAINS", "any": "_ANY", "all": "_ALL", "startswith": "_STARTSWITH",
    "matches": "_MATCHES", "true": "TRUE", "false": "FALSE", "null": "NULL",
}
"""Each reserved word (lower case) and the grammar's terminal for it."""

FOLDING_CHARACTERS = "\u0130\u0131\u017f\u212a"
"""The non-ASCII characters that ``re.IGNORECASE`` matches against ASCII letters
(U+0130 and U+0131 against ``i``, U+017F against ``s``, U+212A against ``k``)."""

# Keywords in Lark's order for equal priority: longest pattern first, then by name.
_KEYWORD_ORDER = sorted(KEYWORD_TERMINALS, key=lambda k: (-len(k), KEYWORD_TERMINALS[k]))

_SKIP = r"(?:[ \t\r\n\f]++|--[^\n]*+)*+"
"""Blanks and comments (``WS`` and ``COMMENT``, which the grammar ignores), skipped in
front of each token: no other terminal can start where they do. Possessive, so that a
failed match never backtracks into a comment to find a token there."""

# The terminals in an order that gives Lark's answer: only the word-like ones can
# match at the same place (FLOAT never starts like a word), and among them `WORD`
# (see above) comes first, then the keywords, then NAME, as in Lark.
_PATTERNS: list[tuple[str, str]] = [
    # a word that begins `timestamp` followed by a string is one token (as Lark's
    # TIMESTAMP, priority 2: above NAME), so it goes before WORD
    # (letter classes, not (?i:...): a case-sensitive first letter fails fast at every
    # other token; the classes hold the folding characters that (?i) matches too)
    ("TIMESTAMP", "[tT][iI\u0130\u0131][mM][eE][sS\u017f][tT][aA][mM][pP]"
                  r"[ \t\r\n\f]*"
                  r"(?:\"(?:[^\"\\]|\\[\s\S])*\"|'(?:[^'\\]|\\[\s\S])*')"),
    ("WORD", rf"[A-Za-z_][A-Za-z0-9_]*+(?![{FOLDING_CHARACTERS}])"),
    ("FLOAT", r"-?[0-9]+(?:\.[0-9]+(?:[eE][+-]?[0-9]+)?|[eE][+-]?[0-9]+)"),
    ("INT", r"-?[0-9]+"),
    ("STRING", r"\"(?:[^\"\\]|\\[\s\S])*\"|'(?:[^'\\]|\\[\s\S])*'"),
    ("COMPARE", r"==|!=|<=|>=|<|>|="),
    ("COMMA", r","),
    ("DOT", r"\."),
    ("LPAR", r"\("),
    ("RPAR", r"\)"),
    ("LSQB", r"\["),
    ("RSQB", r"\]"),
    ("PLUS", r"\+"),
    ("PARAM", r":[A-Za-z_][A-Za-z0-9_]*"),
    ("QUOTED_NAME", r"`(?:[^`]|``)*`"),
    ("KEYWORD", "(?i:(?:" + "|".join(_KEYWORD_ORDER) + ")(?![A-Za-z0-9_]))"),
    ("NAME", r"[A-Za-z_][A-Za-z0-9_]*"),
]

MASTER = re.compile(_SKIP + "(?:" + "|".join(f"(?P<{name}>{pattern})"
                                            for name, pattern in _PATTERNS) + ")")
"""Blanks and comments, then one token (the group named after its terminal)."""

_FOLD = str.maketrans({"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"})
"""Maps each folding character to its ASCII letter: a ``KEYWORD`` match, so
translated and lower-cased, is the keyword."""

_TRAILER = re.compile(_SKIP + r"\Z")
_SKIP_RE = re.compile(_SKIP)


class LexError(Exception):
    """No terminal matches at ``pos`` (Lark: ``UnexpectedCharacters``)."""

    def __init__(self, pos: int) -> None:
        super().__init__(f"no token at offset {pos}")
        self.pos = pos


class ParenthesisTooDeep(Exception):
    """The ``(`` at ``pos`` opens more than ``MAX_CONDITION_DEPTH`` parentheses."""

    def __init__(self, pos: int) -> None:
        super().__init__(f"parentheses too deep at offset {pos}")
        self.pos = pos


class ParenDepth:
    """Counts the open parentheses of a condition as tokens are read, so that the first
    one past ``MAX_CONDITION_DEPTH`` is refused before anything after it is lexed (the
    parser would otherwise shift every ``(`` before building a node to check).

    A call's parenthesis (``exists(``: a ``(`` right after a name) opens no nesting;
    calls hold a path at most, so the next ``)`` closes it."""

    __slots__ = ("in_call", "open")

    def __init__(self) -> None:
        self.open = 0
        self.in_call = False

    def read(self, kind: str, previous: str, pos: int) -> None:
        """Account for the ``LPAR`` or ``RPAR`` at ``pos`` (``previous``: the terminal of
        the token before it)."""
        if kind == "LPAR":
            if previous == "NAME":
                self.in_call = True
                return
            self.open += 1
            if self.open > MAX_CONDITION_DEPTH:
                raise ParenthesisTooDeep(pos)
        elif self.in_call:
            self.in_call = False
        elif self.open:
            self.open -= 1


def scanner(text: str) -> Callable[[], re.Match[str] | None]:
    """``MASTER``'s matches one after another from the start of ``text``, each starting
    where the last one ended (None where none does)."""
    return MASTER.scanner(text).match  # type: ignore[attr-defined, no-any-return]


def tokens(text: str) -> Iterator[tuple[str, str, int, int]]:
    """``(terminal, text, start, end)`` of every token of ``text``, ignored ones left out;
    raises ``LexError`` at the offset where no terminal matches."""
    match = scanner(text)
    keyword = KEYWORD_TERMINALS.get
    pos = 0
    end = len(text)
    previous = ""
    parens = ParenDepth()
    while pos < end:
        m = match()
        if m is None:
            trailer = _TRAILER.match(text, pos)
            if trailer is not None:
                return
            raise LexError(_SKIP_RE.match(text, pos).end())  # type: ignore[union-attr]
        kind = m.lastgroup
        assert kind is not None
        start, pos = m.start(kind), m.end()
        value = text[start:pos]
        if kind == "WORD":
            kind = keyword(value.lower(), "NAME")
        elif kind == "KEYWORD":
            kind = KEYWORD_TERMINALS[value.translate(_FOLD).lower()]
        elif kind == "LPAR" or kind == "RPAR":
            parens.read(kind, previous, start)
        previous = kind
        yield kind, value, start, pos
