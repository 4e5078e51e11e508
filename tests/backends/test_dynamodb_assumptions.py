"""DynamoDB Local: a plan compiled without a schema is the plan the store makes on the
table ``create_collection`` makes by default, and it runs there (issue #15, item 4);
a ``limit`` past DynamoDB's 32-bit ``Limit`` reads every row (item 2)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import crossql
from crossql import ir
from crossql.backends.dynamodb import DynamoPlan
from tests.backends.conftest import same_rows
from tests.budget import examples
from tests.strategies import DEFAULT_SCHEMA, ID_DOMAIN, queries

pytestmark = pytest.mark.integration

DOCS: list[dict[str, Any]] = [
    {"_id": "a", "v": 1, "tags": ["x"]},
    {"_id": "b", "v": 2},
    {"_id": "5", "v": 3, "tags": []},
    {"_id": "0.2", "v": None},
    {"_id": "c"},
]

QUERIES = [
    "from items where _id == 'a'",
    "from items where _id == 5",  # a number never pins a string key: a Scan
    "from items where _id == 0.2",
    "from items where _id == 'a' select _id order by v",
    "from items where _id == 5 select _id order by v",  # a Scan has no order: refused
    "from items where _id == 'a' and v == 1",
    "from items where _id in ['a', 'b'] or v > 1",
    "from items where _id != 'a' and not exists(v)",
    "from items where _id startswith 'a' or _id > 'b'",
    "from items where _id == '5' select count() as n",
    "from items where v >= 1 limit 2",
    "from items limit 3",
]


@pytest.fixture(scope="module")
def items(runner: asyncio.Runner, dynamo_store: Any) -> Any:
    runner.run(dynamo_store.drop_collection("items"))
    runner.run(dynamo_store.create_collection("items"))  # `_id` a string partition key
    runner.run(dynamo_store.collection("items").insert_many(DOCS))
    return dynamo_store


def _outcome(plan_of: Any) -> Any:
    try:
        plan = plan_of()
    except crossql.CapabilityError as err:
        return ("refused", err.construct, err.message)
    assert isinstance(plan, DynamoPlan)
    shown = plan.to_dict()
    shown.pop("assumes", None)
    return shown


@pytest.mark.parametrize("text", QUERIES)
def test_compile_without_a_schema_agrees_with_the_store(runner: asyncio.Runner, items: Any,
                                                        text: str) -> None:
    options = {"table_prefix": items.options.table_prefix}
    compiled = _outcome(lambda: crossql.compile(text, backend="dynamodb", options=options))
    assert compiled == _outcome(lambda: items.plan(text))
    if isinstance(compiled, tuple):  # refused by both
        return
    plan = crossql.compile(text, backend="dynamodb", options=options)
    assert isinstance(plan, DynamoPlan)
    assert plan.assumptions and "assuming `_id` is the table's only key" in plan.explain()
    assert items.plan(text).assumptions == ()  # the store knows the table's keys

    async def run() -> list[dict[str, Any]]:
        return [row async for row in items.run_plan(plan)]

    want = crossql.evaluate(text, DOCS)
    got = runner.run(run())
    if "limit" in text:  # which rows a limit keeps is the backend's: only how many
        assert len(got) == len(want)
    else:
        assert same_rows(got, want, ordered="order by" in text), text


@st.composite
def _pinned_queries(draw: st.DrawFn) -> ir.Query:
    """Generated queries, half of them with ``_id`` pinned by a string, a number or a
    float (what only the assumed key type tells apart)."""
    query = draw(queries(DEFAULT_SCHEMA, total_order=True))
    if draw(st.booleans()):
        value = draw(st.sampled_from([ir.Literal(ID_DOMAIN[0], "string"), ir.Literal(5, "int"),
                                      ir.Literal(0.2, "float"), ir.Literal("", "string")]))
        pin = ir.Compare("==", ir.Path(("_id",)), value)
        query = replace(query, where=pin if query.where is None
                        else ir.And((pin, query.where)))
    return replace(query, collection="items")


@settings(max_examples=examples(150), deadline=None, suppress_health_check=list(HealthCheck))
@given(_pinned_queries())
def test_generated_queries_plan_alike_with_and_without_the_schema(items: Any,
                                                                  query: ir.Query) -> None:
    text = crossql.format(query)
    options = {"table_prefix": items.options.table_prefix}
    assert _outcome(lambda: crossql.compile(text, backend="dynamodb", options=options)) \
        == _outcome(lambda: items.plan(text)), text


@pytest.mark.parametrize("limit", [2**31 - 1, 2**31, 2**63 - 1])
def test_a_limit_past_32_bits_reads_every_row(runner: asyncio.Runner, items: Any,
                                              limit: int) -> None:
    text = f"from items limit {limit}"
    plan = items.plan(text)
    assert plan.request["Limit"] == 2**31 - 1
    rows = runner.run(items.fetch(text))
    assert same_rows(rows, DOCS, ordered=False)
    assert runner.run(items.count(text)) == len(DOCS)
