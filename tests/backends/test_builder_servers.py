"""The builder's 8-filter search on real servers: every one of the 256 combinations
(tests/test_builder.py) that a backend plans returns, through ``store.fetch``/``count``
with the builder, the rows the reference evaluator gives for the hand-written text."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import crossql
from tests.backends.conftest import load, same_rows, store_of
from tests.test_builder import COMBINATIONS, search_query, search_text

pytestmark = pytest.mark.integration

ORDERS: list[dict[str, Any]] = [
    {"_id": "o1", "status": "paid", "total": 120, "country": "FR", "tags": ["vip"],
     "name": "Ada", "coupon": None, "created_at": "2024-03-01"},
    {"_id": "o2", "status": "paid", "total": 9.5, "country": "GB", "tags": [],
     "name": "Alan", "created_at": "2023-12-31"},
    {"_id": "o3", "status": "open", "total": 600, "country": "FR", "tags": ["vip", "new"],
     "name": "Bea", "coupon": "X1", "created_at": "2024-07-14"},
    {"_id": "o4", "status": "paid", "total": 480, "country": "US", "tags": ["vip"],
     "name": "Ann", "coupon": "Y", "created_at": "2024-11-02"},
    {"_id": "o5", "status": None, "total": None, "country": "GB", "name": "Al",
     "created_at": "2024-05-05"},
    {"_id": "o6", "status": "paid", "total": 300.25, "country": "GB", "tags": ["vip"],
     "name": "Abe", "coupon": "Z", "created_at": "2024-06-30"},
]


RUNS = {"mongodb": 256, "dynamodb": 256, "firestore": 128}
"""How many combinations each backend runs; Firestore refuses `exists(...)`."""


@pytest.mark.parametrize("backend", sorted(RUNS))
def test_every_combination_fetches_the_rows_of_the_hand_written_text(
        request: pytest.FixtureRequest, runner: asyncio.Runner, backend: str) -> None:
    store = store_of(request, runner, backend)
    load(runner, store, "builder_orders", ORDERS)
    ran = 0
    for s in COMBINATIONS:
        built = search_query(s, sort=None, limit=None)
        built = crossql.query("builder_orders").where(*built.conditions)
        text, params = search_text(s, sort=None, limit=None)
        text = text.replace("from orders", "from builder_orders", 1)
        want = crossql.evaluate(text, ORDERS, params=params)
        try:
            crossql.compile(text, backend=backend, params=params)
        except crossql.CapabilityError as err:
            with pytest.raises(crossql.CapabilityError) as refused:
                runner.run(store.fetch(built))
            assert refused.value.code == err.code
            continue
        got = runner.run(store.fetch(built))
        assert same_rows(got, want, ordered=False), (backend, text)
        assert runner.run(store.count(built)) == len(want), (backend, text)
        ran += 1
    assert ran == RUNS[backend]
    # the data answers differently to different filters: the test would see a wrong filter
    sizes = {len(crossql.evaluate(search_text(s, sort=None, limit=None)[0], ORDERS,
                                  params=search_text(s, sort=None, limit=None)[1]))
             for s in COMBINATIONS}
    assert len(sizes) >= 4


@pytest.mark.parametrize("backend", sorted(RUNS))
def test_a_transaction_reads_and_writes_with_builders(
        request: pytest.FixtureRequest, runner: asyncio.Runner, backend: str) -> None:
    store = store_of(request, runner, backend)
    load(runner, store, "builder_tx", ORDERS)
    paid = crossql.query("builder_tx").where(crossql.field("status") == "paid")

    async def body() -> tuple[Any, ...]:
        # reads first: DynamoDB cannot read a transaction's writes before its commit
        async with store.transaction() as tx:
            before = await tx.count(paid)
            rows = [r["_id"] async for r in tx.stream(paid.select("_id"))]
            result = await tx.execute(crossql.update("builder_tx").set("status", "refunded")
                                      .where(crossql.field("_id") == "o1"))
        return before, result.modified, sorted(rows), await store.count(paid)

    before, modified, rows, after = runner.run(body())
    assert (before, modified, after) == (4, 1, 3)
    assert rows == ["o1", "o2", "o4", "o6"]
