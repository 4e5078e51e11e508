"""Parameter binding and prepared queries: every parameter is bound with a plain value
of the kind its place needs, once per execution; a parameterless plan is shared."""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from bson import ObjectId
from hypothesis import given, settings
from hypothesis import strategies as st

import crossql
from crossql import ir
from crossql.compiler.checks import bind, check_query
from crossql.grammar.formatter import format_value
from crossql.limits import MAX_LIST_DEPTH, MAX_LIST_ITEMS
from crossql.runtime.prepared import PlanCache, PreparedQuery
from tests.budget import examples

DOCS = [{"_id": 1, "n": 5, "s": "abc", "t": ["x", "y"]}, {"_id": 2, "n": 9, "s": "b", "t": []}]


def compile_error(text: str, **params: Any) -> crossql.QueryError:
    with pytest.raises(crossql.QueryError) as info:
        crossql.compile(text, params=params)
    return info.value


# --- unbound and unused ---------------------------------------------------------------


def test_unbound_parameter_is_named_and_located() -> None:
    text = "from c where n > :min and s == :name"
    err = compile_error(text, min=1)
    assert isinstance(err, crossql.QuerySemanticError)
    assert err.code == "semantic.unbound-parameter"
    assert ":name" in err.message
    assert err.span == (text.index(":name"), text.index(":name") + len(":name"))
    assert (err.line, err.column) == (1, text.index(":name") + 1)
    assert err.hint is not None and "name=" in err.hint


def test_every_parameter_must_be_bound_even_when_used_twice() -> None:
    text = "from c where n > :v or n < :v limit :lim"
    assert compile_error(text, v=1).code == "semantic.unbound-parameter"
    assert compile_error(text, lim=1).code == "semantic.unbound-parameter"
    assert crossql.compile(text, params={"v": 1, "lim": 3}) is not None


@pytest.mark.parametrize(
    ("text", "params", "unused"),
    [
        ("from c", {"x": 1}, ["x"]),
        ("from c where n > :a", {"a": 1, "b": 2}, ["b"]),
        ("from c where n > :a", {"a": 1, "zz": 2, "b": None}, ["b", "zz"]),
    ],
)
def test_unused_parameter(text: str, params: dict[str, Any], unused: list[str]) -> None:
    err = compile_error(text, **params)
    assert isinstance(err, crossql.QuerySemanticError)
    assert err.code == "semantic.unused-parameter"
    for name in unused:
        assert f":{name}" in err.message


def test_compile_binds_everything() -> None:
    plan = crossql.compile("from c where n between :lo and :hi and t contains any :ts "
                           "limit :n offset :o",
                           params={"lo": 1, "hi": 2.5, "ts": ["x"], "n": 3, "o": 0})
    assert "param" not in plan.to_json()
    assert "Param" not in repr(plan)


# --- values per slot ------------------------------------------------------------------------

# one query per kind of place a parameter can fill
SLOTS = {
    "value": "from c where n == :v",
    "orderable": "from c where n > :v",
    "between": "from c where n between :v and 10",
    "list": "from c where n in :v",
    "contains any": "from c where t contains any :v",
    "string": "from c where s startswith :v",
    "regex": "from c where s matches :v",
    "int": "from c where size(t) == :v",
    "limit": "from c limit :v",
    "offset": "from c offset :v",
    "contains": "from c where t contains :v",
}

OK, BAD = True, False


@pytest.mark.parametrize(
    ("slot", "value", "accepted"),
    [
        # anything plain fits an equality
        ("value", None, OK), ("value", True, OK), ("value", 5, OK), ("value", 5.5, OK),
        ("value", "x", OK), ("value", [1, "a", None, [2]], OK), ("value", (1, 2), OK),
        ("value", [], OK),
        # never a dict, a set, a non-finite float, a huge int, an object
        ("value", {"$gt": 1}, BAD), ("value", {1, 2}, BAD), ("value", frozenset(), BAD),
        ("value", math.nan, BAD), ("value", math.inf, BAD), ("value", -math.inf, BAD),
        ("value", 2**63, BAD), ("value", -(2**63) - 1, BAD), ("value", object(), BAD),
        ("value", b"bytes", OK), ("value", [1, {"a": 1}], BAD), ("value", [math.nan], BAD),
        ("value", "\ud800", BAD), ("value", 2**63 - 1, OK), ("value", -(2**63), OK),
        ("value", 1e308, OK),
        # the native kinds (docs/language.md, "Values"): an aware datetime, exact numbers,
        # bytes, object ids; never a naive datetime or a non-finite Decimal
        ("value", datetime(2026, 1, 2, tzinfo=UTC), OK),
        ("value", datetime(2026, 1, 2), BAD), ("value", Decimal("1.25"), OK),
        ("value", Decimal("NaN"), BAD), ("value", Decimal("-Infinity"), BAD),
        ("value", bytearray(b"x"), OK), ("value", ObjectId("5f0000000000000000000001"), OK),
        ("orderable", datetime(2026, 1, 2, tzinfo=UTC), OK),
        ("orderable", Decimal("2"), OK), ("orderable", b"ab", OK),
        ("orderable", datetime(2026, 1, 2), BAD),
        # ordering: numbers and strings only
        ("orderable", 3, OK), ("orderable", 3.5, OK), ("orderable", "m", OK),
        ("orderable", None, BAD), ("orderable", True, BAD), ("orderable", [1], BAD),
        ("orderable", {"a": 1}, BAD), ("orderable", math.nan, BAD),
        ("between", 1, OK), ("between", 1.5, OK), ("between", "a", BAD),  # 10 is a number
        ("between", None, BAD), ("between", False, BAD),
        # lists
        ("list", [1, 2], OK), ("list", [], OK), ("list", (1,), OK), ("list", [None], OK),
        ("list", 1, BAD), ("list", "ab", BAD), ("list", None, BAD), ("list", {1}, OK),
        ("list", frozenset({"a", "b"}), OK), ("list", {1, object()}, BAD),
        ("list", {"a": 1}, BAD),
        ("contains any", ["x"], OK), ("contains any", "x", BAD),
        ("contains", "x", OK), ("contains", [1], OK), ("contains", None, OK),
        ("contains", {"a": 1}, BAD),
        # strings
        ("string", "ab", OK), ("string", "", OK), ("string", 1, BAD), ("string", None, BAD),
        ("string", ["a"], BAD),
        ("regex", "^a.c$", OK), ("regex", "(", BAD), ("regex", "[", BAD),
        ("regex", 1, BAD), ("regex", None, BAD),
        # size compares with an int
        ("int", 2, OK), ("int", 0, OK), ("int", 2.0, BAD), ("int", True, BAD),
        ("int", "2", BAD), ("int", None, BAD), ("int", 2**63, BAD),
        # limit and offset: non-negative ints
        ("limit", 0, OK), ("limit", 10, OK), ("limit", -1, BAD), ("limit", 1.0, BAD),
        ("limit", True, BAD), ("limit", "3", BAD), ("limit", None, BAD), ("limit", 2**64, BAD),
        ("offset", 0, OK), ("offset", 3, OK), ("offset", -3, BAD), ("offset", False, BAD),
    ],
)
def test_parameter_value_per_slot(slot: str, value: Any, accepted: bool) -> None:
    text = SLOTS[slot]
    if accepted:
        plan = crossql.compile(text, params={"v": value})
        assert plan.backend == "memory"
        crossql.evaluate(text, DOCS, params={"v": value})
        return
    err = compile_error(text, v=value)
    assert isinstance(err, crossql.QuerySemanticError), err
    assert err.code in ("semantic.invalid-parameter", "semantic.invalid-regex",
                        "semantic.type-mismatch"), err.code
    assert ":v" in err.message or "regular expression" in err.message or "between" in err.message
    # the error points at the parameter (or, for between, at the whole predicate)
    start = text.index(":v")
    assert err.span[0] <= start < err.span[1]
    # the evaluator refuses the same value the same way
    with pytest.raises(crossql.QuerySemanticError):
        crossql.evaluate(text, DOCS, params={"v": value})


def test_list_parameter_limits() -> None:
    text = "from c where n in :v"
    crossql.compile(text, params={"v": list(range(MAX_LIST_ITEMS))})
    err = compile_error(text, v=list(range(MAX_LIST_ITEMS + 1)))
    assert isinstance(err, crossql.QuerySemanticError)
    deep: Any = 1
    for _ in range(MAX_LIST_DEPTH):
        deep = [deep]
    crossql.compile(text, params={"v": deep})  # 8 levels is fine
    assert isinstance(compile_error(text, v=[deep]), crossql.QuerySemanticError)


def test_between_parameters_of_different_kinds() -> None:
    text = "from c where n between :lo and :hi"
    assert crossql.compile(text, params={"lo": 1, "hi": 2.5}) is not None
    assert crossql.compile(text, params={"lo": "a", "hi": "b"}) is not None
    err = compile_error(text, lo=1, hi="z")
    assert isinstance(err, crossql.QuerySemanticError)
    assert "between" in err.message


def test_one_parameter_in_several_places_must_suit_all() -> None:
    text = "from c where n > :v and s == :v"
    assert crossql.compile(text, params={"v": 3}) is not None
    assert isinstance(compile_error(text, v=None), crossql.QuerySemanticError)
    text = "from c where t contains any :v and n in :v"
    assert crossql.compile(text, params={"v": [1]}) is not None
    assert isinstance(compile_error(text, v=1), crossql.QuerySemanticError)


def test_a_bound_value_is_only_ever_a_value() -> None:
    # text that looks like CrossQL stays a string: no injection
    rows = crossql.evaluate("from c where s == :v", DOCS, params={"v": 'abc" or n > 0'})
    assert rows == []
    rows = crossql.evaluate("from c where s == :v", DOCS, params={"v": "abc"})
    assert [r["_id"] for r in rows] == [1]
    query = bind(check_query(crossql.parse("from c where s == :v")), {"v": ") or (1 == 1"})
    assert query.where == ir.Compare("==", ir.Path(("s",)), ir.Literal(") or (1 == 1", "string"))


def test_bound_values_keep_their_crossql_type() -> None:
    query = bind(check_query(crossql.parse("from c where a == :b and c == :i and d == :f "
                                           "and e in :l")),
                 {"b": True, "i": 1, "f": 1.0, "l": [None, "x", [2]]})
    assert isinstance(query.where, ir.And)
    b, i, f, lst = (op.value if isinstance(op, ir.Compare) else op.values
                    for op in query.where.operands)
    assert b == ir.Literal(True, "bool")
    assert i == ir.Literal(1, "int")
    assert f == ir.Literal(1.0, "float")
    assert lst == ir.ListValue((ir.Literal(None, "null"), ir.Literal("x", "string"),
                                ir.ListValue((ir.Literal(2, "int"),))))
    # and they mean what the type says: true is not 1
    docs = [{"_id": 1, "a": 1}, {"_id": 2, "a": True}]
    assert crossql.evaluate("from c where a == :v", docs, params={"v": True}) == [docs[1]]


@settings(max_examples=examples(200), deadline=None)
@given(st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1),
              st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=5)),
    lambda inner: st.lists(inner, max_size=3), max_leaves=6))
def test_binding_a_plain_value_equals_writing_it(value: Any) -> None:
    # `a == :v` bound to v means exactly what the literal text means
    literal = ir.literal_of(value)
    bound = bind(check_query(crossql.parse("from c where a == :v")), {"v": value})
    assert bound.where == ir.Compare("==", ir.Path(("a",)), literal)
    written = crossql.parse(f"from c where a == {format_value(literal)}")
    assert written.where == bound.where


# --- prepared queries -----------------------------------------------------------------------


def test_prepared_query_binds_per_call() -> None:
    prepared = PreparedQuery("from c where n > :min order by _id")
    assert prepared.param_names == frozenset({"min"})
    p1, p2 = prepared.plan({"min": 1}), prepared.plan({"min": 6})
    assert p1 is not p2
    assert p1.to_dict() != p2.to_dict()
    # the prepared query itself is not changed by binding
    assert any(isinstance(n, ir.Param) for n in ir.walk(prepared.query))
    with pytest.raises(crossql.QuerySemanticError, match="not bound"):
        prepared.plan({})
    with pytest.raises(crossql.QuerySemanticError, match="not bound"):
        prepared.plan(None)
    with pytest.raises(crossql.QuerySemanticError):
        prepared.plan({"min": "x", "extra": 1})


def test_parameterless_plan_is_compiled_once_and_shared() -> None:
    prepared = PreparedQuery("from c where n > 1")
    assert prepared.plan() is prepared.plan()
    assert prepared.plan({}) is prepared.plan(None)
    with pytest.raises(crossql.QuerySemanticError, match="unused"):
        prepared.plan({"x": 1})


def test_plan_cache_returns_the_same_shared_plan() -> None:
    cache = PlanCache(8)
    a = cache.get("from c where n > 1", "memory")
    assert cache.get("from c where n > 1", "memory") is a
    assert a.plan() is cache.get("from c where n > 1", "memory").plan()
    assert len(cache) == 1
    # a different text is a different entry (no normalisation of the key)
    assert cache.get("from c where n > 1 ", "memory") is not a
    assert len(cache) == 2


def test_store_plan_cache_shares_plans_and_binds_parameters() -> None:
    async def body() -> None:
        store = crossql.connect({"driver": "memory"})
        async with store:
            await store.collection("c").insert_many(DOCS)
            text = "from c where n > 1"
            plan = store.plan(text)
            assert store.plan(text) is plan
            assert store.prepare(text).plan() is plan
            assert store.prepare(text).prepared is store.prepare(text).prepared
            # parameterised: one prepared query, a fresh plan per binding
            ptext = "from c where n > :min order by _id"
            prepared = store.prepare(ptext)
            assert store.prepare(ptext).prepared is prepared.prepared
            assert [r["_id"] for r in await prepared.fetch(min=6)] == [2]
            assert [r["_id"] for r in await prepared.fetch(min=0)] == [1, 2]
            assert [r["_id"] for r in await store.fetch(ptext, min=6)] == [2]
            assert await store.count(ptext, min=100) == 0
            assert prepared.plan(min=1) is not prepared.plan(min=1)
            assert prepared.plan(min=1).to_dict() == prepared.plan(min=1).to_dict()

    asyncio.run(body())


def test_shared_plans_are_immutable() -> None:
    plan = PreparedQuery("from c where n > 1").plan()
    with pytest.raises((AttributeError, TypeError)):
        plan.query = None  # type: ignore[attr-defined,misc]
