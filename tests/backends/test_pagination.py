"""Cursor pagination (issue 18) on every backend against the reference order.

The walks: 1,000 documents where 10% share their order value and some lack it or
hold null, paged 7 at a time through each order of ``WALKS`` — every document
exactly once, in the reference's order (the query's keys, then ``_id``).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import crossql
from crossql.errors import QuerySemanticError
from tests.backends.conftest import load, store_of
from tests.backends.page_differential import (
    check_walk,
    reference_ids,
    shared_order_documents,
    walk,
)
from tests.budget import examples
from tests.strategies import PAGE_ORDERS, paging_documents

WALKS = ("from docs order by v", "from docs order by v desc",
         "from docs order by a desc, b asc", "from docs")

SIZES = {"memory": (1000, 7), "mongodb": (1000, 7)}
"""Documents and page size of each backend's walk (each walk a few seconds at most)."""

BACKENDS = list(SIZES)


@pytest.fixture(params=BACKENDS)
def paged(request: pytest.FixtureRequest, runner: asyncio.Runner) -> tuple[Any, list[Any]]:
    """A store of each backend with the walk's documents loaded as ``docs``."""
    store = store_of(request, runner, request.param)
    count, _ = SIZES[request.param]
    docs = shared_order_documents(count)
    load(runner, store, "docs", docs)
    return store, docs


@pytest.mark.parametrize("text", WALKS)
def test_pages_walk_every_document_once_in_reference_order(
        runner: asyncio.Runner, paged: tuple[Any, list[Any]], text: str) -> None:
    store, docs = paged
    _, size = SIZES[store.driver]
    pages = check_walk(runner, store, docs, text, size)
    assert pages == len(docs) // size + 1  # 1000 / 7: 142 full pages and one of 6


def test_pages_under_a_condition_limit_and_select(runner: asyncio.Runner,
                                                  paged: tuple[Any, list[Any]]) -> None:
    store, docs = paged
    text = "from docs where a >= :low select n, v order by a desc, v limit 40"
    rows, pages = runner.run(walk(store, text, 7, low=2))
    assert [r["n"] for r in rows] == [
        int(i[3:]) for i in reference_ids(docs, text, low=2)]
    assert all(set(r) <= {"n", "v"} for r in rows)
    assert pages == 6  # the limit caps the walk: 40 rows, 7 a page


def test_total_is_the_count_of_the_query(runner: asyncio.Runner,
                                         paged: tuple[Any, list[Any]]) -> None:
    store, _ = paged
    text = "from docs where v > 100 order by v limit 5"
    page = runner.run(store.page(text, size=3, total=True))
    assert page.total == runner.run(store.count("from docs where v > 100"))
    assert page.total > 5 and len(page.rows) == 3


def test_a_foreign_or_changed_cursor_is_a_located_error(runner: asyncio.Runner,
                                                        paged: tuple[Any, list[Any]]) -> None:
    store, _ = paged
    first = runner.run(store.page("from docs order by v", size=5))
    cursor = first.next_cursor
    assert cursor is not None
    with pytest.raises(QuerySemanticError) as foreign:
        runner.run(store.page("from docs order by v desc", size=5, after=cursor))
    assert foreign.value.code == "semantic.cursor-foreign"
    assert foreign.value.source == "from docs order by v desc"
    with pytest.raises(QuerySemanticError) as other_params:
        runner.run(store.page("from docs where a == :a order by v", size=5, after=cursor, a=1))
    assert other_params.value.code == "semantic.cursor-foreign"
    for i in range(len(cursor)):
        changed = cursor[:i] + ("A" if cursor[i] != "A" else "B") + cursor[i + 1:]
        with pytest.raises(QuerySemanticError) as tampered:
            runner.run(store.page("from docs order by v", size=5, after=changed))
        assert tampered.value.code in ("semantic.cursor-tampered", "semantic.cursor-foreign",
                                       "semantic.cursor-invalid"), i
        assert "from docs order by v" in str(tampered.value)


# the memory store answers by the reference alone; the generic resume condition (the IR
# every backend compiles) is held to it here over mixed types, ties, null and missing
@settings(max_examples=examples(200), deadline=None,
          phases=(Phase.explicit, Phase.reuse, Phase.generate),  # a walk shrinks slowly
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(docs=paging_documents(), order=st.sampled_from(PAGE_ORDERS), size=st.integers(1, 4),
       limit=st.none() | st.integers(0, 30))
def test_the_resume_condition_agrees_with_the_reference(runner: asyncio.Runner, docs: list[Any],
                                                        order: str, size: int,
                                                        limit: int | None) -> None:
    from crossql.backends.memory.store import MemoryStore
    from crossql.runtime.store import Store

    class GenericMemory(MemoryStore):
        run_page = Store.run_page  # the page query through the compiler, not the oracle

    text = f"from docs {order}" + (f" limit {limit}" if limit is not None else "")
    for store in (MemoryStore(), GenericMemory()):
        runner.run(store.collection("docs").insert_many(docs))
        rows, _ = runner.run(walk(store, text, size))
        assert [r["_id"] for r in rows] == reference_ids(docs, text), type(store).__name__


# -- DynamoDB: ExclusiveStartKey on the chosen table or index -----------------------------
# DynamoDB orders only by the sort key of the Query's table or index (a Scan by nothing),
# so its walks are a Query on a GSI (`g` pinned, ordered by `v`, ties in DynamoDB's order)
# and a Scan: each document exactly once, in the order DynamoDB promises. 400 documents
# (DynamoDB Local answers a request in ~10 ms here), pages of 7.

DYNAMO_DOCS = 400


def _dynamo_docs() -> list[dict[str, Any]]:
    docs = shared_order_documents(DYNAMO_DOCS, seed=5)
    for i, doc in enumerate(docs):
        doc["g"] = "p" if i % 4 else "q"  # a quarter elsewhere: the filter reads past them
        if not isinstance(doc.get("v"), int | float):
            doc["v"] = 7  # an index sort key is on every item of a dense index
    return docs


@pytest.fixture
def dynamo_paged(runner: asyncio.Runner, dynamo_store: Any) -> tuple[Any, list[Any]]:
    docs = _dynamo_docs()

    async def load() -> None:
        await dynamo_store.drop_collection("docs")
        await dynamo_store.create_collection(
            "docs", indexes=[{"name": "by_g_v", "partition_key": "g", "sort_key": "v"}],
            attribute_types={"_id": "S", "g": "S", "v": "N"})
        await dynamo_store.collection("docs").insert_many(docs)

    runner.run(load())
    return dynamo_store, docs


@pytest.mark.parametrize("descending", [False, True])
def test_dynamodb_pages_a_gsi_query_with_exclusive_start_key(
        runner: asyncio.Runner, dynamo_paged: tuple[Any, list[Any]], descending: bool,
        monkeypatch: pytest.MonkeyPatch) -> None:
    store, docs = dynamo_paged
    # the key condition on `v` says every item holds it: the index (sparse) may serve
    text = "from docs where g == 'p' and v >= 0 and a != 3 order by v" + (
        " desc" if descending else "")
    plan = store.page_plan(text, size=7)
    assert plan.inner.operation == "Query" and plan.inner.index_name == "by_g_v"
    assert "ExclusiveStartKey" in plan.explain()
    calls: list[str] = []
    call = store._call

    async def counted(method: str, **kwargs: Any) -> Any:
        calls.append(method)
        return await call(method, **kwargs)

    monkeypatch.setattr(store, "_call", counted)
    rows, pages = runner.run(walk(store, text, 7))
    want = crossql.evaluate(text, docs)
    assert sorted(r["_id"] for r in rows) == sorted(d["_id"] for d in want)
    assert len({r["_id"] for r in rows}) == len(rows)
    values = [r["v"] for r in rows]
    assert values == sorted(values, reverse=descending)
    assert pages == max(1, -(-len(want) // 7))  # a full last page: no empty page after it
    assert set(calls) == {"query"}  # never a Scan


def test_dynamodb_pages_a_scan_and_keeps_refusing_a_scan_without_allow_scan(
        runner: asyncio.Runner, dynamo_paged: tuple[Any, list[Any]]) -> None:
    store, docs = dynamo_paged
    text = "from docs where b > 100"
    assert store.page_plan(text, size=7).inner.operation == "Scan"
    rows, _ = runner.run(walk(store, text, 7))
    want = [d["_id"] for d in crossql.evaluate(text, docs)]
    assert sorted(r["_id"] for r in rows) == sorted(want) and len(rows) == len(want)
    total = runner.run(store.page(text, size=7, total=True)).total
    assert total == runner.run(store.count(text)) == len(want)
    first = runner.run(store.page(text, size=7)).next_cursor
    with pytest.raises(QuerySemanticError) as caught:
        runner.run(store.page("from docs where b > 101", size=7, after=first))
    assert caught.value.code == "semantic.cursor-foreign"


# -- Firestore: order_by on the keys and __name__, start_after, limit ---------------------
# Firestore leaves out documents lacking an order_by field, so the order keys are present
# in every document here (null among them) and declared required; 1,000 documents (the
# emulator answers a RunQuery in ~20 ms here), pages of 7.

FIRESTORE_DOCS = 1000


@pytest.fixture
def firestore_paged(runner: asyncio.Runner, firestore_store: Any,
                    monkeypatch: pytest.MonkeyPatch) -> tuple[Any, list[Any]]:
    docs = shared_order_documents(FIRESTORE_DOCS, seed=7)
    for doc in docs:
        for name in ("v", "a", "b"):
            doc.setdefault(name, None)
    monkeypatch.setattr(firestore_store, "_schema", {"docs": {"required": ["v", "a", "b"]}})
    load(runner, firestore_store, "docs", docs)
    return firestore_store, docs


@pytest.mark.parametrize("text", WALKS)
def test_firestore_pages_with_start_after(runner: asyncio.Runner,
                                          firestore_paged: tuple[Any, list[Any]],
                                          text: str) -> None:
    store, docs = firestore_paged
    plan = store.page_plan(text, size=7)
    assert "start_after" in plan.explain()
    assert plan.inner.to_dict()["query"][-2] == {"order_by": "__name__",
                                                 "direction": "ASCENDING"}
    pages = check_walk(runner, store, docs, text, 7)
    assert pages == -(-FIRESTORE_DOCS // 7)


def test_dynamodb_refuses_a_page_inside_a_transaction(
        runner: asyncio.Runner, dynamo_paged: tuple[Any, list[Any]]) -> None:
    from crossql.errors import BackendError

    store, _ = dynamo_paged

    async def body() -> None:
        async with store.transaction() as tx:
            await tx.page("from docs where b > 100", size=3)

    async def prepared() -> None:
        async with store.transaction() as tx:
            await tx.prepare("from docs where b > 100").page(size=3)

    for attempt in (body, prepared):
        with pytest.raises(BackendError, match="not read inside a DynamoDB transaction"):
            runner.run(attempt())


def test_mongodb_pages_inside_a_transaction_see_its_writes(runner: asyncio.Runner,
                                                          mongo_store: Any) -> None:
    load(runner, mongo_store, "tx_pages", [{"_id": f"t{i}", "v": i % 3} for i in range(6)])

    async def body() -> list[str]:
        async with mongo_store.transaction() as tx:
            await tx.collection("tx_pages").insert_one({"_id": "t9", "v": 0})
            first = await tx.page("from tx_pages order by v desc", size=4)
            rest = await tx.page("from tx_pages order by v desc", size=4,
                                 after=first.next_cursor)
            assert rest.next_cursor is None
            return [r["_id"] for r in first.rows + rest.rows]

    assert runner.run(body()) == ["t2", "t5", "t1", "t4", "t0", "t3", "t9"]


# MongoDB on generated collections: mixed types (numbers, strings, bools) in the order
# keys, heavy ties, null and missing, every order of PAGE_ORDERS, limits: the resume
# condition's guards (type ranks, null/missing) compiled by MongoDB's own compiler
@settings(max_examples=examples(30), deadline=None,
          phases=(Phase.explicit, Phase.reuse, Phase.generate),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(docs=paging_documents(24), order=st.sampled_from(PAGE_ORDERS), size=st.integers(3, 6),
       limit=st.none() | st.integers(0, 20))
def test_mongodb_pages_generated_collections_in_reference_order(
        runner: asyncio.Runner, mongo_store: Any, docs: list[Any], order: str, size: int,
        limit: int | None) -> None:
    load(runner, mongo_store, "generated", docs)
    text = f"from generated {order}" + (f" limit {limit}" if limit is not None else "")
    check_walk(runner, mongo_store, docs, text, size)
