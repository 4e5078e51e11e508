"""format ↔ parse round trip: ``parse(format(q)) == q`` for generated IR, and the
canonical text is a fixed point of ``format ∘ parse``."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import crossql
from crossql import ir
from crossql.compiler.checks import check_query
from crossql.compiler.writes import check_write
from crossql.grammar import parse_condition
from crossql.grammar.formatter import format_condition
from tests.budget import examples
from tests.strategies import any_condition, any_query, any_write, queries

ROUNDTRIP = settings(
    max_examples=examples(1000), deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _no_params(q: ir.Query) -> bool:
    return not any(isinstance(n, ir.Param) for n in ir.walk(q))


@ROUNDTRIP
@given(any_query(valid=True))
def test_valid_query_roundtrips(query: ir.Query) -> None:
    text = crossql.format(query)
    parsed = crossql.parse(text)
    assert parsed == query, text
    assert crossql.format(parsed) == text


@ROUNDTRIP
@given(any_query(valid=False))
def test_any_parseable_query_roundtrips(query: ir.Query) -> None:
    text = crossql.format(query)
    parsed = crossql.parse(text)
    assert parsed == query, text
    assert crossql.format(parsed) == text


@ROUNDTRIP
@given(any_condition(valid=False))
def test_condition_roundtrips(cond: ir.Condition) -> None:
    text = format_condition(cond)
    assert parse_condition(text) == cond, text
    assert format_condition(parse_condition(text)) == text


@settings(max_examples=examples(300), deadline=None)
@given(any_query(valid=True))
def test_valid_strategy_passes_the_checks(query: ir.Query) -> None:
    # the strategy promises check-valid IR; the checker must agree, on the IR and
    # on its text (parameters are unbound here: checking does not need them)
    checked = check_query(query)
    assert checked.query is query
    assert check_query(crossql.parse(crossql.format(query))).param_names == checked.param_names


@settings(max_examples=examples(300), deadline=None)
@given(queries(total_order=True))
def test_typed_queries_roundtrip_and_compile(query: ir.Query) -> None:
    text = crossql.format(query)
    assert crossql.parse(text) == query
    assert _no_params(query)
    plan = crossql.compile(text)
    assert plan.to_dict()["text"] == text


@settings(max_examples=examples(300), deadline=None)
@given(any_query(valid=False), st.data())
def test_format_is_idempotent_on_noisy_text(query: ir.Query, data: st.DataObject) -> None:
    # the same query written with other keyword case, extra whitespace and comments
    # formats to the same canonical text
    canonical = crossql.format(query)
    noisy = _noisy(canonical, data)
    assert crossql.format(noisy) == canonical, noisy


def _noisy(text: str, data: st.DataObject) -> str:
    """Re-space the canonical text: after every space outside strings and
    backticks, maybe add newlines, tabs or a comment; upper-case keywords."""
    out: list[str] = []
    quote: str | None = None
    i = 0
    while i < len(text):
        ch = text[i]
        if quote is not None:
            out.append(ch)
            if ch == "\\" and quote == '"':
                out.append(text[i + 1])
                i += 2
                continue
            if ch == quote:
                if quote == "`" and text[i + 1 : i + 2] == "`":
                    out.append("`")
                    i += 2
                    continue
                quote = None
            i += 1
            continue
        if ch in '"`':
            quote = ch
            out.append(ch)
        elif ch == " ":
            out.append(data.draw(st.sampled_from([" ", "  ", "\n", "\t ", " -- note\n"])))
        else:
            out.append(ch)
        i += 1
    noisy = "".join(out)
    if data.draw(st.booleans()):
        noisy = "FROM" + noisy.removeprefix("from")
    return "\n  " + noisy + "  -- trailing comment"


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("FROM users WHERE age >= 18", "from users where age >= 18"),
        ("from u where a = 1", "from u where a == 1"),
        ("from u where (a == 1)", "from u where a == 1"),
        ("from u where a == 1 and (b == 2 and c == 3)",
         "from u where a == 1 and (b == 2 and c == 3)"),
        ("from u where (a == 1 or b == 2) and c == 3",
         "from u where (a == 1 or b == 2) and c == 3"),
        ("from u where not (a == 1 and b == 2)", "from u where not (a == 1 and b == 2)"),
        ("from u where not not a == 1", "from u where not not a == 1"),
        ("from u where `order`.`from` == 'x'", 'from u where `order`.`from` == "x"'),
        ("from u where `first name` == \"A\\\"B\"", 'from u where `first name` == "A\\"B"'),
        ("from u where a == 2e3", "from u where a == 2000.0"),
        ("from u where a == 1e20", "from u where a == 1e+20"),
        ("from u where a == 'tab\\there'", 'from u where a == "tab\\there"'),
        ("from u where a == '\\u00e9'", 'from u where a == "é"'),
        ("from u where a == '\\u0001'", 'from u where a == "\\u0001"'),
        ("from u where x == :from", "from u where x == :from"),
        ("from u order by a ASC, b DESC", "from u order by a, b desc"),
        ("from u where EXISTS(a) and SIZE(b) > 0", "from u where exists(a) and size(b) > 0"),
        ("from u select COUNT() as n", "from u select count() as n"),
        ("from u where a in [[1, 2], []]", "from u where a in [[1, 2], []]"),
        ("from `a``b` select `x``y`", "from `a``b` select `x``y`"),
    ],
)
def test_canonical_text(text: str, canonical: str) -> None:
    assert crossql.format(text) == canonical
    assert crossql.parse(canonical) == crossql.parse(text)


@example("\U0001f600`.x")
@given(st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=8))
@settings(max_examples=examples(300), deadline=None)
def test_any_name_roundtrips(name: str) -> None:
    query = ir.Query(name, where=ir.Exists(ir.Path((name, name))),
                     select=(ir.SelectItem(ir.Path((name,)), name),))
    assert crossql.parse(crossql.format(query)) == query


@ROUNDTRIP
@given(any_write(valid=False))
def test_any_write_roundtrips(statement: ir.Update | ir.Delete) -> None:
    text = crossql.format(statement)
    parsed = crossql.parse(text)
    assert parsed == statement, text
    assert crossql.format(parsed) == text


@settings(max_examples=examples(300), deadline=None)
@given(any_write(valid=True))
def test_valid_write_strategy_passes_the_checks(statement: ir.Update | ir.Delete) -> None:
    checked = check_write(statement)
    assert checked.statement is statement
    parsed = crossql.parse(crossql.format(statement))
    assert isinstance(parsed, ir.Update | ir.Delete)
    assert check_write(parsed).param_names == checked.param_names
