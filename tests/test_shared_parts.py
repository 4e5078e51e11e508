"""Queries of one shape share immutable parts: the parser's spans, paths and literals,
and the MongoDB plans' projection and sort. Sharing must never change a result: the
nodes and plans stay equal to what the text alone gives (the differential tests of
test_parser.py check the IR, spans included; these check the sharing itself)."""

from __future__ import annotations

from typing import Any

import pytest

import crossql
from crossql import ir
from crossql.grammar import parse_query
from crossql.grammar import parser as parser_module

E = ('from users where age >= 18 and (status == "active" or tags contains "vip") '
     'and name startswith "A" select name, age order by age desc limit 10')


def _spanned(node: Any) -> list[Any]:
    """Every node with a span, in walk order."""
    return [n for n in ir.walk(node) if getattr(n, "span", None) is not None]


def test_queries_of_one_shape_share_spans_paths_and_literals() -> None:
    one = parse_query(E.replace("18", "1000"))
    two = parse_query(E.replace("18", "1001"))
    pairs = list(zip(_spanned(one), _spanned(two), strict=True))
    for a, b in pairs:
        assert a.span == b.span
        assert a.span is b.span  # one tuple for those offsets
        if isinstance(a, ir.Path) or (isinstance(a, ir.Literal) and a.value != 1000):
            assert a is b
    ages = [(a, b) for a, b in pairs if isinstance(a, ir.Literal) and a.value == 1000]
    assert len(ages) == 1 and ages[0][1].value == 1001


def test_shared_literals_keep_their_kind() -> None:
    # same offsets, texts that differ only in the literal's token
    texts = ["from c where a == 1", "from c where a == true", 'from c where a == "1"',
             "from c where a == TRUE", "from c where a == null", "from c where `a` == 1"]
    for _ in range(2):  # the second round is served by the memos
        got = [parse_query(t).where for t in texts]
        assert [ir.to_dict(w) for w in got] == [
            ir.to_dict(ir.Compare("==", ir.Path(("a",)), ir.Literal(v, k)))
            for v, k in [(1, "int"), (True, "bool"), ("1", "string"), (True, "bool"),
                         (None, "null"), (1, "int")]]
        assert got[5].path.span == (13, 16) and got[0].path.span == (13, 14)


def test_memos_stay_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    memos = (parser_module._SPANS, parser_module._PATHS, parser_module._LITERALS,
             parser_module._ONE_SEGMENT)
    for memo in memos:
        memo.clear()
        monkeypatch.setattr(memo, "limit", 8)
    for i in range(50):
        query = parse_query(f"from c where f{i} == {i} and g{i} == 'x{i}'")
        assert query == parse_query(f"from c where f{i} == {i} and g{i} == 'x{i}'")
        assert all(len(memo) <= 8 for memo in memos)
    assert all(memo for memo in memos)


def test_long_tokens_are_not_memoised() -> None:
    long_name = "n" * (parser_module._MEMO_TEXT_MAX + 1)
    long_text = "s" * (parser_module._MEMO_TEXT_MAX + 1)
    query = parse_query(f'from c where {long_name} == "{long_text}"')
    assert not any(long_name in key for key in parser_module._PATHS)
    assert not any(f'"{long_text}"' in key for key in parser_module._LITERALS)
    assert query.where == ir.Compare("==", ir.Path((long_name,)), ir.Literal(long_text, "string"))


def test_mongodb_plans_share_projection_and_sort() -> None:
    one = crossql.compile(E.replace("18", "1000"), backend="mongodb")
    two = crossql.compile(E.replace("18", "1001"), backend="mongodb")
    assert one.projection == {"name": 1, "age": 1, "_id": 0}  # type: ignore[attr-defined]
    assert one.projection is two.projection  # type: ignore[attr-defined]
    assert one.sort == (("age", -1),) and one.sort is two.sort  # type: ignore[attr-defined]
    other = crossql.compile("from users select age, name, _id order by name",
                            backend="mongodb")
    assert other.projection == {"age": 1, "name": 1, "_id": 1}  # type: ignore[attr-defined]
    assert other.sort == (("name", 1),)  # type: ignore[attr-defined]
    plain = crossql.compile("from users where age > 1", backend="mongodb")
    assert plain.projection is None and plain.sort == ()  # type: ignore[attr-defined]
