"""The compiled evaluator (crossql/semantics/compiled.py) against the tree-walking
reference: the same rows in the same order, of the same types, and the same errors,
over generated queries and documents; and it reads only the documents it needs."""

from __future__ import annotations

import math
from collections.abc import Iterator
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import crossql
from crossql import ir
from crossql.compiler.checks import bind, check_query
from crossql.grammar import parse_query
from crossql.semantics import compiled, reference
from tests.budget import examples
from tests.strategies import (
    CROSSING_GROUPS,
    DEFAULT_SCHEMA,
    any_condition,
    any_query,
    crossing_cases,
    crossing_documents,
    crossing_queries,
    documents,
    documents_with_arrays_of_maps,
    native_documents,
    native_queries,
    queries,
    wild_documents,
)

DIFF = settings(max_examples=examples(400), deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def typed(value: Any) -> Any:
    """A value with its types spelt out (so 1, 1.0, True and Decimal(1) differ, and a
    NaN equals a NaN)."""
    if isinstance(value, dict):
        return ("map", tuple((k, typed(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return (type(value).__name__, tuple(typed(v) for v in value))
    if isinstance(value, float) and math.isnan(value):
        return ("float", "nan")
    if isinstance(value, Decimal) and value.is_nan():
        return ("Decimal", str(value))
    return (type(value).__name__, repr(value))


def outcome(run: Any, query: ir.Query, docs: Any) -> Any:
    try:
        return ("rows", typed(run(query, docs)))
    except Exception as err:
        return ("error", type(err).__name__, str(err))


def check_agrees(query: ir.Query, docs: list[Any]) -> None:
    expected = outcome(reference.run, query, docs)
    assert outcome(compiled.run, query, docs) == expected
    # read once (an iterator): the heaps that keep both orders until a Decimal settles it
    assert outcome(lambda q, d: list(compiled.run_streamed(q, iter(d))), query, docs) \
        == expected
    if expected[0] == "rows":
        assert compiled.count_streamed(query, docs) == len(expected[1][1])
        assert compiled.count_streamed(query, iter(docs)) == len(expected[1][1])


@DIFF
@given(queries(DEFAULT_SCHEMA), st.one_of(documents(12), wild_documents(10),
                                          documents_with_arrays_of_maps(10)))
def test_agrees_on_schema_queries(query: ir.Query, docs: list[dict[str, Any]]) -> None:
    check_agrees(query, docs)


@DIFF
@given(native_queries(), native_documents(12))
def test_agrees_on_value_kinds(query: ir.Query, docs: list[dict[str, Any]]) -> None:
    check_agrees(query, docs)


@DIFF
@given(crossing_queries(), crossing_documents(14))
def test_agrees_on_values_crossing_kinds(query: ir.Query, docs: list[dict[str, Any]]) -> None:
    check_agrees(query, docs)


@pytest.mark.parametrize("group", range(CROSSING_GROUPS))
@settings(DIFF, max_examples=examples(500, at_least=200))
@given(data=st.data())
def test_agrees_on_look_alike_values(group: int, data: st.DataObject) -> None:
    # at_least: a mutant that drops one rule of equality across kinds (a float against
    # a Decimal in `in`, a Decimal settling a heap's order) shows within ~100 draws
    check_agrees(*data.draw(crossing_cases(group)))


@DIFF
@given(any_query(valid=False), st.one_of(documents(8), wild_documents(8)))
def test_agrees_on_unchecked_queries_including_errors(
        query: ir.Query, docs: list[dict[str, Any]]) -> None:
    # unchecked IR: unbound parameters, bad patterns, literals of any type
    check_agrees(query, docs)


@DIFF
@given(any_condition(valid=False), wild_documents(8))
def test_condition_truth_agrees(cond: ir.Condition, docs: list[dict[str, Any]]) -> None:
    truth = compiled.compile_condition(cond)
    for doc in docs:
        try:
            expected: Any = reference.evaluate_condition(cond, doc)
        except Exception as err:
            expected = type(err).__name__
        try:
            got: Any = truth(doc)
        except Exception as err:
            got = type(err).__name__
        assert got == expected


# --- examples written out -------------------------------------------------------------

def test_in_uses_crossql_equality_across_number_kinds() -> None:
    docs = [{"_id": i, "p": v} for i, v in enumerate(
        [1, 1.0, Decimal(1), True, 0.1, Decimal("0.1"), float("nan"), "1", None])]
    q = crossql.parse("from d where p in [1, 0.1, null]")
    assert isinstance(q, ir.Query)
    assert [r["_id"] for r in compiled.run(q, docs)] == [0, 1, 2, 4, 5, 8]
    assert compiled.run(q, docs) == reference.run(q, docs)


def test_in_over_ten_thousand_values_agrees() -> None:
    values = list(range(0, 20_000, 2))
    q = bind(check_query(parse_query("from d where n in :vs and not (m in :vs)")),
             {"vs": values})
    docs = [{"_id": i, "n": i, "m": i + 1} for i in range(50)]
    assert compiled.run(q, docs) == reference.run(q, docs)
    assert [r["_id"] for r in compiled.run(q, docs)] == list(range(0, 50, 2))


def test_top_k_decimal_after_floats_settles_the_order() -> None:
    # 0.1 sorts above Decimal("0.1") by exact value, level with it as its shortest
    # text (so the earlier first): the Decimal arrives after the floats were kept
    docs: list[dict[str, Any]] = [{"_id": 0, "p": 0.1}, {"_id": 1, "p": 0.2},
                                  {"_id": 2, "p": Decimal("0.1")}]
    q = crossql.parse("from d order by p limit 2")
    assert isinstance(q, ir.Query)
    assert compiled.run(q, docs) == reference.run(q, docs) == [docs[0], docs[2]]
    assert list(compiled.run_streamed(q, iter(docs))) == [docs[0], docs[2]]


def test_top_k_float_beside_big_int_before_a_decimal() -> None:
    # exactly, 1e23 < 10**23; as shortest texts (once a Decimal is among them) they tie,
    # and the first read wins: the heap must have kept both orders until the Decimal
    docs: list[dict[str, Any]] = [{"_id": 0, "p": 10**23}, {"_id": 1, "p": 1e23},
                                  {"_id": 2, "p": Decimal("1e23")}]
    q = crossql.parse("from d order by p limit 1")
    assert isinstance(q, ir.Query)
    assert compiled.run(q, docs) == reference.run(q, docs) == [docs[0]]
    assert list(compiled.run_streamed(q, iter(docs))) == [docs[0]]
    assert compiled.run(q, docs[:2]) == reference.run(q, docs[:2]) == [docs[1]]


@DIFF
@given(queries(DEFAULT_SCHEMA), documents(8), st.data())
def test_agrees_on_mappings_that_are_not_dicts(
        query: ir.Query, docs: list[dict[str, Any]], data: st.DataObject) -> None:
    # the reference reads no field of a mapping that is not a dict (get_path): as here
    wrapped = [MappingProxyType(d) if data.draw(st.booleans()) else d for d in docs]
    check_agrees(query, wrapped)


@pytest.mark.parametrize("where", [
    "p == 1 and p == 'a'", "p >= 1 and p != 'a' and p < 3", "p == 'a' and p >= 1",
    "p != 1 and p != 'a' and p != true", "p == true and p >= 0",
    "p >= 0 and q == 'a' and p < 10 and q != 'b'",
])
def test_conjunction_of_one_field_in_several_kinds(where: str) -> None:
    # one lookup per field, one type test per kind of literal: a value of one kind
    # still meets the other kinds' comparisons (plainly false or true across kinds)
    docs = [{"_id": i, "p": p, "q": q} for i, (p, q) in enumerate(
        [(1, "a"), ("a", "b"), (2.0, "a"), (True, None), (None, "a"), ([1], "a"), (0, 1)])]
    docs += [{"_id": 9}]
    q = _query(f"from d where {where}")
    assert compiled.run(q, docs) == reference.run(q, docs)


def test_non_document_raises_as_the_reference() -> None:
    q = parse_query("from d limit 1")
    with pytest.raises(TypeError, match="a document is a dict, not int"):
        docs: list[Any] = [{"_id": 1}, 5]
        compiled.run(q, docs)


# --- reading only what is needed --------------------------------------------------------

class Source:
    """Documents that count how many were read."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.read = 0

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for i in range(self.n):
            self.read += 1
            yield {"_id": i, "n": i % 100, "tags": ["a"]}


def _query(text: str) -> ir.Query:
    q = crossql.parse(text)
    assert isinstance(q, ir.Query)
    return q


def test_limit_stops_reading() -> None:
    source = Source(10_000)
    rows = list(compiled.run_streamed(_query("from d where n < 5 limit 10"), source))
    assert [r["_id"] for r in rows] == [0, 1, 2, 3, 4, 100, 101, 102, 103, 104]
    assert source.read == 105


def test_first_row_before_reading_everything() -> None:
    source = Source(10_000)
    stream = compiled.run_streamed(_query("from d where n == 3"), source)
    assert next(stream)["_id"] == 3
    assert source.read == 4


def test_count_with_limit_stops_reading() -> None:
    source = Source(10_000)
    assert compiled.count_streamed(_query("from d where n == 7 limit 3 offset 1"), source) == 3
    assert source.read == 308


def test_rows_are_copies_of_returned_documents_only(monkeypatch: pytest.MonkeyPatch) -> None:
    copied = []
    copy = reference.copy_value

    def counting(value: Any) -> Any:
        copied.append(value)
        return copy(value)
    monkeypatch.setattr(reference, "copy_value", counting)
    docs = [{"_id": i, "n": i % 100, "tags": ["a"]} for i in range(1000)]
    rows = compiled.run(_query("from d order by n desc, _id limit 3"), docs)
    assert [r["_id"] for r in rows] == [99, 199, 299]
    assert [c["_id"] for c in copied if isinstance(c, dict) and "_id" in c] == [99, 199, 299]
    rows[0]["tags"].append("b")
    assert docs[99]["tags"] == ["a"]
