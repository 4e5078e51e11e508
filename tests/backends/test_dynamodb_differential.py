"""DynamoDB Local against the reference evaluator on generated data.

Hypothesis draws a typed collection (tests/strategies.py, LANGUAGE.md rule 7),
loads it once into a table keyed by ``_id`` with two global indexes, then
draws many queries of two families:

- *generated*: queries as tests/strategies.py writes them (total orders, paging,
  groups, every condition form): most need a Scan, many are refused;
- *keyed*: the same queries with the string field ``g`` pinned with ``==`` (and
  sometimes a condition on ``n``), ordered by ``_id`` when ordered at all, so
  the planner picks a Query on an index, or ``_id`` pinned for a Query on the table;
- *unordered*: the same queries without ``order by``, ``limit`` and ``offset``,
  so that nearly every condition reaches DynamoDB as a Scan filter.

Every plan the compiler accepts must return exactly the reference rows (in
order: every generated order is total) and the reference count. The session
summary prints, per family, how many queries became a Query, a Scan, or were
refused (and why).

DynamoDB refuses ``NULL`` in an index key attribute, so ``g`` and ``n`` (the
index keys) are never null here; they may be missing, which keeps the indexes
sparse.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import crossql
from crossql import ir
from tests.backends.conftest import canonical
from tests.backends.differential import STATS, compare_client_side
from tests.budget import examples, skip_unless_ran
from tests.strategies import (
    DEFAULT_SCHEMA,
    ID_DOMAIN,
    MAX_DOCS,
    Field,
    Schema,
    documents,
    drop_paging,
    key_conditions,
    queries,
)

pytestmark = pytest.mark.integration

QUERIES_PER_FAMILY = 30
G_DOMAIN = ("a", "b", "c")
N_DOMAIN = (-1, 0, 1, 2, 3)

SCHEMA = Schema((
    *(replace(f, nullable=False) if f.name == "n" else f for f in DEFAULT_SCHEMA.fields),
    Field("g", "string", G_DOMAIN, nullable=False),
))
INDEXES = [
    {"name": "by_g", "partition_key": "g", "sort_key": "n"},
    {"name": "by_g_id", "partition_key": "g", "sort_key": "_id"},
]


def _load(runner: asyncio.Runner, store: Any, docs: list[dict[str, Any]]) -> None:
    async def load() -> None:
        await store.drop_collection("docs")
        await store.create_collection("docs", indexes=INDEXES,
                                      attribute_types={"_id": "S", "g": "S", "n": "N"})
        if docs:
            await store.collection("docs").insert_many(docs)

    runner.run(load())


@st.composite
def keyed_queries(draw: st.DrawFn) -> ir.Query:
    """A generated query with a key pinned, so that a Query can answer it."""
    query = draw(queries(SCHEMA, total_order=True))
    if draw(st.integers(0, 4)) == 0:
        pins: list[ir.Condition] = [ir.Compare("==", ir.Path(("_id",)), ir.Literal(
            draw(st.sampled_from(ID_DOMAIN[:MAX_DOCS])), "string"))]
    else:
        pins = [ir.Compare("==", ir.Path(("g",)), ir.Literal(draw(st.sampled_from(G_DOMAIN)),
                                                              "string"))]
        if draw(st.booleans()):
            n = ir.Path(("n",))
            low, high = sorted(draw(st.lists(st.sampled_from(N_DOMAIN), min_size=2,
                                             max_size=2)))
            pins.append(draw(st.sampled_from([
                ir.Compare(draw(st.sampled_from(["==", "<", "<=", ">", ">="])), n,
                           ir.Literal(low, "int")),
                ir.Between(n, ir.Literal(low, "int"), ir.Literal(high, "int")),
            ])))
    where = ir.And((*pins, query.where)) if query.where is not None else (
        ir.And(tuple(pins)) if len(pins) > 1 else pins[0])
    order_by = query.order_by
    if not query.is_aggregate and (order_by or query.limit is not None):
        order_by = (ir.OrderKey(ir.Path(("_id",)), draw(st.booleans())),)
    return replace(query, where=where, order_by=order_by, offset=None)


def _compare(runner: asyncio.Runner, store: Any, family: str, docs: list[dict[str, Any]],
             query_list: list[ir.Query]) -> None:
    stats = STATS.setdefault(f"dynamodb ({family})", Counter())
    for query in query_list:
        text = crossql.format(query)
        want = crossql.evaluate(query, docs)
        try:
            plan = store.plan(text)
        except crossql.CapabilityError as err:
            stats["refused"] += 1
            stats[f"refused:{err.construct}"] += 1
            continue

        async def rows(plan: crossql.Plan = plan) -> list[dict[str, Any]]:
            return [row async for row in store.run_plan(plan)]

        got = runner.run(rows())
        if query.order_by:
            same = [canonical(r) for r in got] == [canonical(r) for r in want]
        else:
            same = sorted(map(canonical, got)) == sorted(map(canonical, want))
        assert same, (
            f"dynamodb disagrees with the reference\nquery: {text}\nplan: {plan.to_json()}\n"
            f"got:  {got}\nwant: {want}\ndocs: {docs}")
        count = runner.run(store.count_plan(plan))
        assert count == len(want), f"dynamodb count {count} != {len(want)} for {text}"
        stats["compared"] += 1
        stats[plan.operation + (f" on {plan.index_name}" if plan.index_name else "")] += 1


# no shrinking: each example is a whole table and 90 queries, and the failure message
# already names the query, its plan and the documents
@settings(max_examples=examples(25), deadline=None,
          phases=(Phase.explicit, Phase.reuse, Phase.generate),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_dynamodb_matches_reference(runner: asyncio.Runner, dynamo_store: Any,
                                    data: st.DataObject) -> None:
    docs = data.draw(documents(MAX_DOCS, schema=SCHEMA, min_size=5), label="docs")
    _load(runner, dynamo_store, docs)
    generated = [data.draw(queries(SCHEMA, total_order=True), label=f"q{i}")
                 for i in range(QUERIES_PER_FAMILY)]
    keyed = [data.draw(keyed_queries(), label=f"k{i}") for i in range(QUERIES_PER_FAMILY)]
    unordered = [replace(drop_paging(q), order_by=()) for q in generated]
    _compare(runner, dynamo_store, "generated", docs, generated)
    _compare(runner, dynamo_store, "keyed", docs, keyed)
    _compare(runner, dynamo_store, "unordered", docs, unordered)


def test_the_differential_exercises_every_access_path(dynamo_store: Any) -> None:
    """Runs after the differential (file order): both families were compared, and the
    keyed one reached the table and both indexes."""
    generated, keyed = STATS.get("dynamodb (generated)"), STATS.get("dynamodb (keyed)")
    unordered = STATS.get("dynamodb (unordered)")
    skip_unless_ran(None not in (generated, keyed, unordered), "the differential test")
    assert generated is not None and keyed is not None and unordered is not None
    assert generated["Scan"] > 0 and generated["refused"] > 0
    assert unordered["Scan"] > generated["Scan"]
    assert keyed["Query"] > 0 and keyed["Query on by_g"] > 0 and keyed["Query on by_g_id"] > 0


KEY_TABLE_KEYS = (("_id", "S"), ("k", "N"))


@settings(max_examples=examples(10), deadline=None,
          phases=(Phase.explicit, Phase.reuse, Phase.generate),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_conditions_on_table_keys_match_reference(runner: asyncio.Runner, dynamo_store: Any,
                                                  data: st.DataObject) -> None:
    """Every condition form on a table's keys (``_id`` a string partition key, ``k`` a
    number sort key), where the compiler drops the guards a key never needs (issue #15,
    item 11a): the rows are the reference's."""
    docs = data.draw(documents(MAX_DOCS, schema=SCHEMA, min_size=5), label="docs")
    for i, doc in enumerate(docs):
        doc["k"] = i % 3  # a sort key is on every item

    async def load() -> None:
        await dynamo_store.drop_collection("keyed")
        await dynamo_store.create_collection("keyed", sort_key="k",
                                             attribute_types={"_id": "S", "k": "N"})
        await dynamo_store.collection("keyed").insert_many(docs)

    runner.run(load())
    conditions = key_conditions(KEY_TABLE_KEYS, SCHEMA)
    query_list = [ir.Query("keyed", data.draw(conditions, label=f"c{i}"))
                  for i in range(QUERIES_PER_FAMILY)]
    _compare(runner, dynamo_store, "keys", docs, query_list)
    assert STATS["dynamodb (keys)"]["compared"] > 0


CLIENT_SIDE = {"max_rows": 1000}


@settings(max_examples=examples(15), deadline=None,
          phases=(Phase.explicit, Phase.reuse, Phase.generate),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_dynamodb_with_client_side_matches_reference(runner: asyncio.Runner, dynamo_store: Any,
                                                     data: st.DataObject) -> None:
    """With ``client_side`` on (issue #19), the generated and keyed queries refused for an
    order, a group or an aggregate run, and give the reference's rows."""
    docs = data.draw(documents(MAX_DOCS, schema=SCHEMA, min_size=5), label="docs")
    _load(runner, dynamo_store, docs)
    generated = [data.draw(queries(SCHEMA, total_order=True), label=f"q{i}")
                 for i in range(QUERIES_PER_FAMILY)]
    grouped = [data.draw(queries(SCHEMA, total_order=True, grouped=True), label=f"g{i}")
               for i in range(QUERIES_PER_FAMILY // 3)]
    keyed = [data.draw(keyed_queries(), label=f"k{i}") for i in range(QUERIES_PER_FAMILY)]
    # the plain keyed queries ordered off the sort keys: a Query sorted client-side
    by_x = (ir.OrderKey(ir.Path(("x",)), True), ir.OrderKey(ir.Path(("_id",)), False))
    resorted = [replace(k, order_by=by_x) for k in keyed if not k.is_aggregate]

    def plan_of(text: str) -> crossql.Plan:
        return dynamo_store.plan(text, client_side=CLIENT_SIDE)

    compare_client_side(runner, dynamo_store, "dynamodb (client-side)", docs,
                        generated + grouped + resorted, plan_of)


def test_the_client_side_differential_completed_queries(dynamo_store: Any) -> None:
    """Runs after it (file order): queries were completed client-side, none was refused
    for what the option completes (``compare_client_side`` asserts that per query)."""
    stats = STATS.get("dynamodb (client-side)")
    skip_unless_ran(stats is not None, "the client-side differential")
    assert stats is not None
    assert stats["client-side"] > 0 and stats["native"] > 0
    assert stats["client-side on Query"] > 0 and stats["client-side on Scan"] > 0
