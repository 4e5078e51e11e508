"""SQL spellings get a hint with the CrossQL spelling (the error stays located where the
text stops parsing)."""

from __future__ import annotations

import pytest

import crossql

CASES = [
    ("from u where a <> 1", "`<>` is SQL; CrossQL writes `!=`", 16),
    ('from u where name like "A%"', "`like` is SQL; CrossQL writes `startswith", 18),
    ('from u where name ILIKE "a%"', "`ilike` is SQL", 18),
    ("from u where a is null", "`p == null` (an explicit null) or `not exists(p)`", 15),
    ("from u where a IS NOT NULL", "CrossQL writes `p != null`", 15),
    ("from u select count(*)", "CrossQL writes `count()`", 20),
    ("from u group by c select c, count(*) as n", "CrossQL writes `count()`", 34),
    ("from u order by a nulls last", "`nulls first/last` is SQL", 18),
    ("from u order by a desc NULLS FIRST", "`nulls first/last` is SQL", 23),
    ("from u select *", "`select *` is SQL; leave out `select`", 14),
    ("from u where !active", "write `not` for negation, `!=` for inequality", 13),
]


@pytest.mark.parametrize(("text", "hint", "offset"), CASES, ids=[c[0] for c in CASES])
def test_an_sql_habit_gets_the_crossql_spelling(text: str, hint: str, offset: int) -> None:
    with pytest.raises(crossql.QuerySyntaxError) as info:
        crossql.parse(text)
    assert info.value.hint is not None and hint in info.value.hint, info.value.hint
    assert info.value.span[0] == offset, info.value.render()


@pytest.mark.parametrize("text", [
    "from u where is == 1",  # `is` and `nulls` are names where a name fits
    "from u where nulls > 2 order by nulls",
    "from u where a == 1 or like startswith 'x'",
])
def test_the_same_words_as_names_still_parse(text: str) -> None:
    crossql.parse(text)


@pytest.mark.parametrize("text", ["from u where a is 5", "from u order by a nulls"])
def test_no_sql_hint_where_the_habit_is_not_there(text: str) -> None:
    with pytest.raises(crossql.QuerySyntaxError) as info:
        crossql.parse(text)
    assert "is SQL" not in (info.value.hint or "")
