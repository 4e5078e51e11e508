"""Any text → a Plan or a ``QueryError``; never another exception, never a hang.

Three sources of input: arbitrary text, grammar-shaped text (random tokens and
phrases of CrossQL joined by random layout, with random parameter values), and
hand-made pathological inputs (deep nesting, long lists, huge select lists).
Every error must also be well formed (located inside the text, in words, JSON-able).
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, note, settings
from hypothesis import strategies as st

import crossql
from crossql.backends.registry import backend_names
from crossql.limits import (
    MAX_CONDITION_DEPTH,
    MAX_LIST_ITEMS,
    MAX_PARAMETERS,
    MAX_QUERY_LENGTH,
)
from tests.budget import examples
from tests.time_budget import assert_fast

TIME_LIMIT = 1.0  # seconds per call on an idle machine, scaled by the load (time_budget.py)

# Lark's vocabulary must never reach a user (unless the user typed it)
_TERMINAL_WORDS = re.compile(
    r"\$END|__ANON|\b_?(NAME|QUOTED_NAME|PARAM|STRING|INT|FLOAT|COMPARE|LPAR|RPAR|LSQB|RSQB|"
    r"COMMA|DOT|_WHERE|_SELECT|_AND|_OR|_IN)\b|Token\(|Unexpected(Token|Characters|EOF)"
)

# build the parser once, outside any timed call
crossql.parse("from warm_up where a == 1")


def check(text: str, params: dict[str, Any] | None = None) -> crossql.Plan | crossql.QueryError:
    """Compile ``text``; assert the outcome is a Plan or a well-formed QueryError, in time."""
    result = assert_fast(lambda: crossql.compile(text, params=params), TIME_LIMIT, text[:200])
    if isinstance(result, crossql.QueryError):
        check_error(result, text)
    else:
        assert isinstance(result, crossql.Plan)
        # the canonical text of anything that compiles parses back to the same query
        q = crossql.parse(text)
        assert crossql.parse(crossql.format(q)) == q
    return result


def check_error(err: crossql.QueryError, text: str) -> None:
    start, end = err.span
    assert 0 <= start <= end <= len(text), (err.span, len(text))
    before = text[:start]
    assert (err.line, err.column) == (before.count("\n") + 1, start - before.rfind("\n"))
    assert err.code.split(".")[0] in ("syntax", "semantic"), err.code
    for found in _TERMINAL_WORDS.finditer(err.message):
        assert found.group(0) in text, err.message
    rendered = err.render()
    assert rendered == str(err)
    assert f"--> query:{err.line}:{err.column}" in rendered
    assert "^" in rendered
    data = err.to_dict()
    assert json.loads(json.dumps(data)) == data


# --- (a) arbitrary text -----------------------------------------------------------

ANY_CHAR = st.characters(codec=None, exclude_categories=())  # includes lone surrogates


@settings(max_examples=examples(1000), suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(
    st.text(max_size=120),
    st.text(alphabet=ANY_CHAR, max_size=60),
    st.text(alphabet=ANY_CHAR, max_size=60).map(lambda s: "from users where " + s),
    st.text(alphabet="from users where()[]`'\"\\:.,=!<>-_09 \n", max_size=80),
))
@example("")
@example("\ud800")
@example("from users where a == '\ud800'")
@example("from users where `\ud800` == 1")
@example("from users where a == \"\\uDBFF\\uDFFF\"")
@example("from users where a == 1 --")
@example("from users where a == 1 -- \x00\r")
@example("from \x00")
def test_any_text(text: str) -> None:
    note(f"text={text!r}")
    check(text)


# --- (b) grammar-shaped text ----------------------------------------------------------

KEYWORDS = [
    "from", "where", "group", "by", "select", "order", "asc", "desc", "limit", "offset", "as",
    "and", "or", "not", "between", "in", "contains", "any", "all", "startswith", "matches",
    "true", "false", "null", "FROM", "Where", "AND", "Or", "NOT", "IN", "NULL", "True",
]
NAMES = [
    "users", "a", "b", "age", "name", "tags", "address.city", "a.b.c", "_id", "`first name`",
    "`a``b`", "`order`", "``", "`", "count", "size", "exists", "sum", "avg", "min", "max",
    "upper", "fromage", "notes", "a.", ".b",
]
OPERATORS = ["==", "=", "!=", "<", "<=", ">", ">=", "===", "!", "&&", "||", "<>"]
LITERALS = [
    '"x"', "'y'", '""', '"a\\"b"', "'it\\'s'", '"\\\\"', '"\\n\\t"', '"\\u00e9"',
    '"\\uD83D\\uDE00"', '"\\ud800"', '"\\q"', '"\\u12"', '"unterminated', "'also", "0", "1",
    "-1", "42", "9223372036854775807", "-9223372036854775808", "9223372036854775808", "1.5",
    "2e3", "-0.25", "1e400", "1e", ".5", "1.", "007", "[", "]", "[]", "[1, 2]", "[[1], []]",
    '["a", null]', "[1,]", "(", ")", "(", ")", ",", ".", "(?i)",
]
PARAMS = [":p", ":q", ":ids", ":n", ":", ":1", ":from"]
OTHER = ["@", "#", ";", "*", "é", "$", "\\", "`", "\t", "\n", "-- comment\n", "--"]
PHRASES = [
    "from users", "from users where", "a == 1", "age >= :n", "b != null", "x < true",
    "name startswith 'A'", "name startswith 1", "email matches '(a'", "email matches :re",
    "age between 1 and 9", "age between 1 and 'z'", "age between :lo and :hi",
    "tags contains 'vip'", "tags contains any [1, 2]", "tags contains all :ids",
    "status in ['a', 'b']", "status in :ids", "status not in []", "exists(email)",
    "not exists(a.b)", "size(tags) > 1", "size(tags) == 1.5", "size(tags) >= :n",
    "and", "or", "not", "(", ")", "group by a", "group by a, b", "select a", "select a, a.b",
    "select count()", "select count() as n", "select sum(x) as s, a", "select a as x, b as x",
    "select max()", "order by a", "order by n desc", "order by a desc, b", "limit 10",
    "limit :n", "limit -1", "offset 5", "offset :n", "where",
]
VOCABULARY = KEYWORDS + NAMES + OPERATORS + LITERALS + PARAMS + OTHER + PHRASES * 3
SEPARATORS = [" ", " ", " ", "", "\n", "  \t", " -- note\n", "\r\n"]

PARAM_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**64), max_value=2**64)
    | st.floats() | st.text(max_size=10, alphabet=ANY_CHAR)
    | st.sampled_from(["(a", "a{4294967296}", "^x$", ""]),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=3), inner, max_size=2)
    | st.tuples(inner, inner),
    max_leaves=8,
)


@st.composite
def shaped(draw: st.DrawFn) -> tuple[str, dict[str, Any] | None]:
    prefix = draw(st.sampled_from(["", "from users ", "from users where ", "from orders "]))
    parts = draw(st.lists(st.sampled_from(VOCABULARY), max_size=30))
    seps = draw(st.lists(st.sampled_from(SEPARATORS), min_size=len(parts), max_size=len(parts)))
    text = prefix + "".join(p + s for p, s in zip(parts, seps, strict=True))
    names = sorted(set(re.findall(r":([A-Za-z_][A-Za-z0-9_]*)", text)))
    if not draw(st.booleans()):
        return text, None
    params = {n: draw(PARAM_VALUES) for n in names if draw(st.integers(0, 9))}
    if draw(st.integers(0, 9)) == 0:
        params["unused"] = 1
    return text, params


_outcomes: dict[str, int] = {}


@settings(max_examples=examples(1500), suppress_health_check=[HealthCheck.too_slow])
@given(shaped())
@example(("from users where a == :p", {"p": {"$ne": None}}))
@example(("from users where a in :p", {"p": [[[[[[[[[[1]]]]]]]]]]}))
@example(("from users where a == :p", {"p": float("inf")}))
@example(("from users where a matches :p", {"p": "a{4294967296}"}))
@example(("from users where a < :p", {"p": True}))
@example(("from users where a == :from", {"from": 1}))
def test_grammar_shaped_text(case: tuple[str, dict[str, Any] | None]) -> None:
    text, params = case
    note(f"text={text!r}")
    note(f"params={params!r}")
    result = check(text, params)
    kind = "plan" if isinstance(result, crossql.Plan) else result.code.split(".")[0]
    _outcomes[kind] = _outcomes.get(kind, 0) + 1


# --- (b') generated queries, then mutated ---------------------------------------------
# Token soup is mostly syntax errors; queries built from the grammar reach the checks,
# parameter binding and the backend, and a few mutations make near-misses of them.

G_PATHS = st.sampled_from(["a", "age", "name", "tags", "address.city", "`first name`", "_id",
                           "count", "a.b", "`order`.x", "b"])
G_VALUES = st.sampled_from([
    "1", "-2", "0", "1.5", "2e3", '"x"', "'y'", '"\\u00e9"', "true", "false", "null", "[]",
    "[1, 2]", '["a", null]', "[[1], [2, 3]]", ":p", ":q", ":r", "9223372036854775807",
])
G_LISTS = st.sampled_from(["[]", "[1, 2]", '["a", "b"]', "[null, 1.5]", "[[1]]", ":p", ":ids"])
G_OPS = st.sampled_from(["==", "=", "!=", "<", "<=", ">", ">="])
G_PREDICATES = st.one_of(
    st.tuples(G_PATHS, G_OPS, G_VALUES).map(" ".join),
    st.tuples(G_PATHS, G_VALUES, G_VALUES).map(lambda t: f"{t[0]} between {t[1]} and {t[2]}"),
    st.tuples(G_PATHS, st.sampled_from(["in", "not in", "contains any", "contains all"]),
              G_LISTS).map(" ".join),
    st.tuples(G_PATHS, st.sampled_from(["contains", "startswith", "matches"]),
              G_VALUES | st.sampled_from(['"^a"', '"(a"', ":re"])).map(" ".join),
    G_PATHS.map(lambda p: f"exists({p})"),
    st.tuples(G_PATHS, G_OPS, G_VALUES).map(lambda t: f"size({t[0]}) {t[1]} {t[2]}"),
)
G_CONDITIONS = st.recursive(
    G_PREDICATES,
    lambda c: c.map(lambda x: "not " + x) | c.map(lambda x: f"({x})")
    | st.tuples(c, st.sampled_from([" and ", " or "]), c).map("".join),
    max_leaves=6,
)
G_ITEMS = st.one_of(
    G_PATHS,
    st.tuples(st.sampled_from(["count", "sum", "avg", "min", "max"]),
              G_PATHS | st.just("")).map(lambda t: f"{t[0]}({t[1]})"),
    st.tuples(G_PATHS, st.sampled_from(["n", "x", "`as`", "a"])).map(" as ".join),
)
G_COUNTS = st.sampled_from(["0", "10", ":n", "-1", ":p"])


@st.composite
def generated(draw: st.DrawFn) -> tuple[str, dict[str, Any] | None]:
    parts = ["from " + draw(st.sampled_from(["users", "orders", "`my coll`"]))]
    if draw(st.booleans()):
        parts.append("where " + draw(G_CONDITIONS))
    if draw(st.integers(0, 3)) == 0:
        parts.append("group by " + ", ".join(draw(st.lists(G_PATHS, min_size=1, max_size=3))))
    if draw(st.booleans()):
        parts.append("select " + ", ".join(draw(st.lists(G_ITEMS, min_size=1, max_size=4))))
    if draw(st.integers(0, 2)) == 0:
        keys = draw(st.lists(st.tuples(G_PATHS | st.sampled_from(["n", "x"]),
                                       st.sampled_from(["", " asc", " desc"])),
                             min_size=1, max_size=3))
        parts.append("order by " + ", ".join(k + d for k, d in keys))
    for clause in ("limit", "offset"):
        if draw(st.integers(0, 3)) == 0:
            parts.append(f"{clause} {draw(G_COUNTS)}")
    tokens = " ".join(parts).split(" ")
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2]))):  # mutations
        at = draw(st.integers(0, len(tokens)))
        how = draw(st.sampled_from(["drop", "insert", "swap", "duplicate"]))
        if how == "insert":
            tokens.insert(at, draw(st.sampled_from(VOCABULARY)))
        elif at < len(tokens) - 1 and how == "swap":
            tokens[at], tokens[at + 1] = tokens[at + 1], tokens[at]
        elif at < len(tokens):
            tokens[at : at + 1] = [] if how == "drop" else [tokens[at]] * 2
    text = " ".join(tokens)
    names = sorted(set(re.findall(r":([A-Za-z_][A-Za-z0-9_]*)", text)))
    good = st.one_of(st.integers(-5, 5), st.sampled_from(["a", "b", "^x"]), st.floats(0, 9),
                     st.lists(st.integers(-2, 2) | st.just("a"), max_size=3))
    params = {n: draw(good if draw(st.integers(0, 4)) else PARAM_VALUES) for n in names}
    return text, params


@settings(max_examples=examples(600), suppress_health_check=[HealthCheck.too_slow])
@given(generated())
def test_generated_queries(case: tuple[str, dict[str, Any] | None]) -> None:
    text, params = case
    note(f"text={text!r}")
    note(f"params={params!r}")
    result = check(text, params)
    kind = "plan" if isinstance(result, crossql.Plan) else result.code.split(".")[0]
    _outcomes[kind] = _outcomes.get(kind, 0) + 1


# --- (b'') text drawn from crossql.lark itself ----------------------------------------
# hypothesis.extra.lark walks the grammar file's rules: every production is reached, and
# a rule added to the grammar is fuzzed without anyone writing a generator for it.
# Terminals get values of their own (tokens spaced so that they lex as drawn; strings,
# numbers and names that include hostile ones); parameters are bound at random.


def _keyword(word: str) -> st.SearchStrategy[str]:
    return st.sampled_from([word, word.upper(), word.capitalize()]).map(lambda w: f" {w} ")


_STRING_BODIES = st.one_of(
    st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\\\"'"), max_size=8),
    st.sampled_from(["$ne", "$where", "\\u00e9", "\\uD83D\\uDE00", "\\n", "a\\\"b", "(a+)+b",
                     "x" * 300, "\\ud800", "\\q", "#n0", ":v0"]),
)
TERMINALS: dict[str, st.SearchStrategy[str]] = {
    "NAME": st.sampled_from(["a", "age", "tags", "_id", "name", "count", "size", "exists", "sum",
                             "avg", "min", "max", "x1", "fromage", "upper"]).map(
        lambda n: f" {n} "),
    "QUOTED_NAME": st.sampled_from(["`first name`", "`a``b`", "`order`", "`$x`", "`a.b`",
                                    "`\u00e9`"]).map(lambda n: f" {n} "),
    "PARAM": st.sampled_from([":p", ":q", ":r", ":from", ":_"]).map(lambda p: f" {p} "),
    "STRING": st.tuples(st.sampled_from(['"', "'"]), _STRING_BODIES).map(
        lambda t: f" {t[0]}{t[1]}{t[0]} "),
    "INT": st.one_of(st.integers(-(2**63), 2**63 - 1), st.integers(-9, 99),
                     st.sampled_from([0, 2**63, 10**30])).map(lambda i: f" {i} "),
    "FLOAT": st.one_of(st.floats(allow_nan=False, allow_infinity=False).map(repr),
                       st.sampled_from(["1e400", "-0.0", "2e3"])).map(
        lambda f: f" {f if 'e' in f or '.' in f else f + '.0'} "),
    "COMPARE": st.sampled_from(["==", "=", "!=", "<", "<=", ">", ">="]).map(lambda o: f" {o} "),
    "WS": st.just(" "),
    "COMMENT": st.just(" -- c\n"),
    **{t: _keyword(t.strip("_").lower()) for t in (
        "FROM", "_WHERE", "_GROUP", "_BY", "_SELECT", "_ORDER", "ASC", "DESC", "_LIMIT",
        "_OFFSET", "_AS", "_AND", "_OR", "NOT", "_BETWEEN", "_IN", "_CONTAINS", "_ANY", "_ALL",
        "_STARTSWITH", "_MATCHES", "TRUE", "FALSE", "NULL")},
}


@functools.cache
def _grammar_text() -> st.SearchStrategy[str]:
    from hypothesis.extra.lark import from_lark

    from crossql.grammar.generate import build_lark

    return from_lark(build_lark(), start="start", explicit=TERMINALS)


@st.composite
def from_grammar(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    text = draw(_grammar_text())
    names = sorted(set(re.findall(r":([A-Za-z_][A-Za-z0-9_]*)", text)))
    good = st.one_of(st.integers(-5, 5), st.sampled_from(["a", "^x", "$ne"]),
                     st.lists(st.integers(0, 3), max_size=3))
    params = {n: draw(good if draw(st.integers(0, 3)) else PARAM_VALUES) for n in names}
    return text, params


_grammar_outcomes: dict[str, int] = {}


# every draw: the summary below needs the rare capability outcome (6 to 27 in 250)
@settings(max_examples=examples(250, at_least=250),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(from_grammar(), st.sampled_from(backend_names()))
def test_text_from_the_grammar(case: tuple[str, dict[str, Any]], backend: str) -> None:
    text, params = case
    note(f"text={text!r}")
    note(f"params={params!r}")
    result = assert_fast(lambda: crossql.compile(text, backend=backend, params=params),
                         TIME_LIMIT, text[:200])
    if isinstance(result, crossql.QueryError):
        if result.code.startswith("capability"):
            assert isinstance(result, crossql.CapabilityError) and result.backend == backend
        else:
            check_error(result, text)
        kind = result.code.split(".")[0]
    else:
        assert isinstance(result, crossql.Plan) and result.backend == backend
        kind = "plan"
    _grammar_outcomes[kind] = _grammar_outcomes.get(kind, 0) + 1


def test_grammar_text_parses_and_reaches_the_backends() -> None:
    # drawn from the grammar, so (nearly) never a syntax error: the checks, binding and
    # the backend compilers are what this fuzzes
    if not _grammar_outcomes:
        pytest.skip("the grammar-drawn test did not run")
    total = sum(_grammar_outcomes.values())
    # (the syntax errors left: a call of a name that is no function, numbers out of range,
    # invalid escapes; the grammar allows them, the parser's callbacks refuse them)
    # (plans run from about 5% to 12% of the draws: a bound that a run passes by chance
    # is no test; 1 in 50 still fails when the backends stop being reached)
    assert _grammar_outcomes.get("plan", 0) >= total // 50, _grammar_outcomes
    assert _grammar_outcomes.get("syntax", 0) <= total * 3 // 4, _grammar_outcomes
    assert _grammar_outcomes.get("capability", 0) >= 1, _grammar_outcomes  # 6 to 27 seen


def test_generated_text_reaches_every_outcome() -> None:
    # runs after the tests above (file order): the generators must not be all syntax errors
    if not _outcomes:
        pytest.skip("the generated-text tests did not run")
    assert {"plan", "syntax", "semantic"} <= set(_outcomes), _outcomes
    assert min(_outcomes.values()) >= examples(50), _outcomes


# --- (c) pathological inputs ----------------------------------------------------------
# Each stays under TIME_LIMIT. Parsing costs ~7-10 µs a token here (Lark's LALR loop),
# so inputs below hold at most ~40k tokens; denser texts at the length limit are
# checked separately against a looser bound.

W = "from users where "
PATHOLOGICAL: dict[str, str] = {
    "10k open parens": W + "(" * 10_000,
    "10k balanced parens": W + "(" * 10_000 + "a == 1" + ")" * 10_000,
    "10k close parens": W + "a == 1" + ")" * 10_000,
    "10k nots": W + "not " * 10_000 + "a == 1",
    "10k nots, no operand": W + "not " * 10_000,
    "10k not-parens": W + "not (" * 10_000 + "a == 1" + ")" * 10_000,
    "49k balanced parens": W + "(" * 49_000 + "a == 1" + ")" * 49_000,
    "parens past the limit, then an error": W + "(" * 65 + "a @ 1",
    "deep parens mixed with not/and/or": W + "(not (a == 1 or (b == 2 and (" * 3_000
    + "c == 3" + "))))" * 3_000,
    "5k nested ands": W + "a == 1 and (" * 5_000 + "b == 2" + ")" * 5_000,
    "left-nested ors": W + "(" * 5_000 + "a == 1" + " or b == 2)" * 5_000,
    "5k flat ors": W + " or ".join(["a == 1"] * 5_000),
    "10k open brackets": W + "a == " + "[" * 10_000,
    "10k nested lists": W + "a == " + "[" * 10_000 + "]" * 10_000,
    "list at the item limit": W + "a in [" + ",".join(["1"] * MAX_LIST_ITEMS) + "]",
    "list past the item limit": W + "a in [" + ",".join(["1"] * (MAX_LIST_ITEMS + 1)) + "]",
    "nested list past the limit": W + "a in [[" + ",".join(["1"] * (MAX_LIST_ITEMS + 1)) + "]]",
    "list of lists": W + "a in [" + ",".join(["[1, [2]]"] * 3_000) + "]",
    "long list of strings": W + "a in [" + ",".join(['"abcdef"'] * 9_000) + "]",
    "long string": W + "a == '" + "x" * (MAX_QUERY_LENGTH - 30) + "'",
    "long escaped string": W + "a == '" + "\\n" * 49_000 + "'",
    "many surrogate pairs": W + "a == '" + "\\ud83d\\ude00" * 7_000 + "'",
    "long unterminated string": W + "a == '" + "x" * 90_000,
    "long backtick name": W + "`" + "``" * 45_000 + "` == 1",
    "long unterminated name": W + "`" + "x" * 90_000,
    "long path": W + ".".join(["a"] * 10_000) + " == 1",
    "long name": W + "a" * 90_000 + " == 1",
    "long number": W + "a == " + "9" * 90_000,
    "long negative number": W + "a == -" + "0" * 50_000 + "1" * 40_000,
    "long float": W + "a == 1." + "5" * 90_000,
    "long exponent": W + "a == 1e" + "9" * 90_000,
    "5k select items": "from users select " + ", ".join(f"f{i}" for i in range(5_000)),
    "5k nested select items": "from users select " + ", ".join(f"a.b{i}" for i in range(5_000)),
    "5k select, conflict at the end": "from users select "
    + ", ".join(f"a.b{i}" for i in range(5_000)) + ", a",
    "5k aliases": "from users select " + ", ".join(f"x as y{i}" for i in range(5_000)),
    "5k aggregates": "from users select " + ", ".join(f"sum(f{i})" for i in range(5_000)),
    "10k group keys": "from users group by " + ", ".join(f"f{i}" for i in range(10_000)),
    "grouped select": "from users group by " + ", ".join(f"f{i}" for i in range(4_000))
    + " select " + ", ".join(f"f{i}" for i in range(4_000)) + " order by f1",
    "10k order keys": "from users order by " + ", ".join(f"f{i} desc" for i in range(10_000)),
    "too many params": W + " and ".join(f"a{i} == :p{i}" for i in range(MAX_PARAMETERS + 1)),
    "10k comments": "from users" + " -- x\n" * 10_000,
    "whitespace": "from users" + " " * (MAX_QUERY_LENGTH - 10),
    "just too long": "from users" + " " * MAX_QUERY_LENGTH,
    "10M characters": "x" * 10_000_000,
    "deep regex": W + "a matches '" + "(" * 5_000 + ")" * 5_000 + "'",
    "deep non-capturing regex": W + "a matches '" + "(?:" * 5_000 + ")" * 5_000 + "'",
    "huge regex repeat": W + "a matches 'a{99999999999}'",
    "catastrophic regex": W + "a matches '(a*)*b'",
    "long regex": W + "a matches '" + "a|" * 20_000 + "a'",
    "many newlines": "\n" * 50_000 + "from users where a @ 1",
    "long line then error": "from users where a == 1 " + "and a == 1 " * 5_000 + "@",
}


@pytest.mark.parametrize("text", list(PATHOLOGICAL.values()), ids=list(PATHOLOGICAL))
def test_pathological_input(text: str) -> None:
    check(text)


DENSE_LIMIT = 4.0  # seconds: ~100k one-character tokens, on a busy 2-core machine
DENSE: dict[str, str] = {
    "100k open parens": W + "(" * (MAX_QUERY_LENGTH - len(W)),
    "100k open brackets": (W + "a == " + "[" * MAX_QUERY_LENGTH)[:MAX_QUERY_LENGTH],
    "50k path segments": (W + "a." * MAX_QUERY_LENGTH)[: MAX_QUERY_LENGTH - 4] + "a==1",
    "50k list items": (W + "a in [" + "1," * MAX_QUERY_LENGTH)[: MAX_QUERY_LENGTH - 2] + "1]",
    "33k select items": ("from users select " + "a," * MAX_QUERY_LENGTH)[: MAX_QUERY_LENGTH - 1]
    + "a",
    "25k flat ands": (W + "a==1 and " * MAX_QUERY_LENGTH)[: MAX_QUERY_LENGTH - 4] + "a==1",
}


@pytest.mark.parametrize("text", list(DENSE.values()), ids=list(DENSE))
def test_densest_input_at_the_length_limit(text: str) -> None:
    assert len(text) <= MAX_QUERY_LENGTH
    result = assert_fast(lambda: crossql.compile(text), DENSE_LIMIT, text[:60])
    if isinstance(result, crossql.QueryError):
        check_error(result, text)


def test_pathological_params() -> None:
    loop: list[Any] = []
    loop.append(loop)
    deep: list[Any] = []
    cursor = deep
    for _ in range(10_000):
        cursor.append([])
        cursor = cursor[0]
    cases: list[dict[str, Any]] = [
        {"p": loop},
        {"p": deep},
        {"p": list(range(MAX_LIST_ITEMS + 1))},
        {"p": list(range(MAX_LIST_ITEMS))},
        {"p": [[1] * MAX_LIST_ITEMS]},
        {"p": "x" * MAX_QUERY_LENGTH},  # a regex as long as a query may be
        {"p": 10**100},
        {"p": -(10**100)},
        {"p": float("nan")},
        {"p": [float("inf")]},
        {"p": object()},
        {"p": {"$where": "sleep(1000)"}},
        {f"p{i}": i for i in range(5_000)},
    ]
    for params in cases:
        check("from users where a in :p", params)
        check("from users where a == :p", params)
        check("from users where a matches :p", params)
        check("from users limit :p", params)



# --- nesting: parentheses mixed with not/and/or ---------------------------------------
# Each opener nests: (text, its closer, parentheses it leaves open, not/and/or levels it
# adds). A query is refused (`syntax.too-deep`) exactly when either count passes
# MAX_CONDITION_DEPTH; parentheses are refused as they are read.
_OPENERS = [("(", ")", 1, 0), ("not (", ")", 1, 1), ("not not (", ")", 1, 2),
            ("a == 1 and (", ")", 1, 1), ("a == 1 or (", ")", 1, 1),
            ("(a == 1) or not (", ")", 1, 2), ("((", "))", 2, 0)]
_LAST = {"b == 2": (0, 1), "exists(b)": (0, 1), "not b == 2": (0, 2), "(b == 2)": (1, 1)}


@settings(max_examples=examples(150), deadline=None)
@given(st.lists(st.sampled_from(_OPENERS), max_size=3 * MAX_CONDITION_DEPTH),
       st.sampled_from(sorted(_LAST)))
def test_deep_nesting_is_refused_exactly_past_the_limit(
        openers: list[tuple[str, str, int, int]], last: str) -> None:
    text = W + "".join(o[0] for o in openers) + last + "".join(o[1] for o in openers[::-1])
    last_parens, last_levels = _LAST[last]
    parens = sum(o[2] for o in openers) + last_parens
    levels = sum(o[3] for o in openers) + last_levels
    note(f"parentheses {parens}, levels {levels}")
    result = check(text)
    if parens > MAX_CONDITION_DEPTH or levels > MAX_CONDITION_DEPTH:
        assert isinstance(result, crossql.QuerySyntaxError), result
        assert result.code == "syntax.too-deep", result
    else:
        assert not isinstance(result, crossql.QueryError), result
