"""Cursor pagination (issue 18) on every backend against the reference order.

The walks: 1,000 documents where 10% share their order value and some lack it or
hold null, paged 7 at a time through each order of ``WALKS`` — every document
exactly once, in the reference's order (the query's keys, then ``_id``).
"""

from __future__ import annotations

import asyncio
import random
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
from tests.strategies import PAGE_ORDERS, native_paging_documents, paging_documents

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
    from crossql.schema import as_schema

    monkeypatch.setattr(firestore_store, "_schema", as_schema(
        {"docs": {"required": ["v", "a", "b"], "nullable": ["v", "a", "b"]}}))
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


# -- typed order values (issue 16): timestamps, exact numbers, bytes, object ids ----------
# "newest first" on dates the driver wrote, prices mixing Decimal with ints and floats,
# ObjectId references and ids: every document exactly once, in the reference's order. On
# MongoDB half of the documents are written by PyMongo itself (ObjectId ids, naive UTC
# datetimes, Decimal128), half through CrossQL.

NATIVE_WALKS = ("from orders order by at desc", "from orders order by at",
                "from orders order by price", "from orders order by price desc",
                "from orders order by ref, at desc", "from orders",
                "from orders where at >= :since order by at desc")


def native_order_documents(count: int, *, seed: int = 16) -> list[dict[str, Any]]:
    """``count`` orders: ObjectId ids, millisecond datetimes (ties, some naive: UTC as
    drivers write them), prices of every number kind (ties across kinds: 2, 2.0,
    Decimal("2.00")), ObjectId references; a few lack a field or hold null."""
    from datetime import UTC, datetime, timedelta
    from decimal import Decimal

    from bson import ObjectId

    rng = random.Random(seed)
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    refs = [ObjectId(f"65{n:022x}") for n in range(8)]
    docs: list[dict[str, Any]] = []
    for i in range(count):
        doc: dict[str, Any] = {"_id": ObjectId(f"66{i:022x}"), "n": i}
        at = t0 + timedelta(minutes=rng.randrange(count // 2),
                            milliseconds=rng.choice([0, 0, 1, 999]))
        doc["at"] = at.replace(tzinfo=None) if rng.random() < 0.3 else at
        doc["price"] = rng.choice([
            2, 2.0, Decimal("2.00"), rng.randrange(100), rng.randrange(100) / 4,
            Decimal(rng.randrange(10**6)).scaleb(-rng.randrange(6)),
            Decimal("12345678901234567890.12345678901234")])
        doc["ref"] = rng.choice(refs)
        for name in ("at", "price", "ref"):
            roll = rng.random()
            if roll < 0.04:
                del doc[name]
            elif roll < 0.08:
                doc[name] = None
        docs.append(doc)
    return docs


def _load_native(runner: asyncio.Runner, store: Any, docs: list[dict[str, Any]]) -> None:
    """The orders: on MongoDB every other one written by PyMongo (Decimal128), the rest
    through CrossQL; elsewhere all through CrossQL."""
    from decimal import Decimal

    from bson import Decimal128

    load(runner, store, "orders", docs[1::2] if store.driver == "mongodb" else docs)
    if store.driver == "mongodb":
        raw = store.database.client[store.database.name]["orders"]
        runner.run(raw.insert_many([{k: Decimal128(v) if isinstance(v, Decimal) else v
                                     for k, v in doc.items()} for doc in docs[0::2]]))


NATIVE_SIZES = {"memory": (400, 9), "mongodb": (400, 9)}


@pytest.mark.parametrize("backend", list(NATIVE_SIZES))
def test_pages_walk_native_order_values_once_in_reference_order(
        request: pytest.FixtureRequest, runner: asyncio.Runner, backend: str) -> None:
    from datetime import UTC, datetime

    store = store_of(request, runner, backend)
    count, size = NATIVE_SIZES[backend]
    docs = native_order_documents(count)
    _load_native(runner, store, docs)
    since = datetime(2026, 3, 1, 1, tzinfo=UTC)
    for text in NATIVE_WALKS:
        params = {"since": since} if ":since" in text else {}
        pages = check_walk(runner, store, docs, text, size, **params)
        assert pages >= 2, text


def test_pages_walk_bytes_order_values_on_memory() -> None:
    """Binary data (one bson subtype beside plain bytes): walked on memory; MongoDB
    refuses to resume after one (below)."""
    from bson import Binary

    rng = random.Random(5)
    docs = [{"_id": f"b{i:03d}", "blob": rng.choice(
        [b"", b"a", b"ab", b"b", bytes([rng.randrange(256)]), Binary(b"a", 4),
         bytes(rng.randrange(256) for _ in range(3))])} for i in range(120)]
    store = crossql.connect({"driver": "memory"})
    with asyncio.Runner() as runner:
        load(runner, store, "blobs", docs)
        for text in ("from blobs order by blob", "from blobs order by blob desc"):
            check_walk(runner, store, docs, text, 7)


def test_mongodb_refuses_to_resume_after_bytes_located(runner: asyncio.Runner,
                                                        mongo_store: Any) -> None:
    """MongoDB's `$gt` on binary data does not follow its own sort order (docs/backends/
    mongodb.md): a page ending on bytes is a located refusal, never a wrong next page."""
    load(runner, mongo_store, "blobs", [{"_id": i, "blob": bytes([i])} for i in range(5)])
    text = "from blobs order by blob"
    with pytest.raises(crossql.CapabilityError) as caught:
        runner.run(mongo_store.page(text, size=2))
    assert caught.value.code == "capability.mongodb.value"
    assert caught.value.source == text and caught.value.span == (20, 24)  # at `blob`
    assert "a page cannot resume after the bytes value at the order key `blob`" in \
        caught.value.message
    assert "order the pages by" in (caught.value.hint or "")


@settings(max_examples=examples(150), deadline=None,
          phases=(Phase.explicit, Phase.reuse, Phase.generate),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(docs=native_paging_documents(), order=st.sampled_from(PAGE_ORDERS),
       size=st.integers(1, 4))
def test_the_resume_condition_agrees_with_the_reference_on_native_values(
        runner: asyncio.Runner, docs: list[Any], order: str, size: int) -> None:
    """Typed cursors over timestamps, object ids, Decimals beside floats, bytes, mixed
    with every other type: the oracle and the compiled resume condition."""
    from crossql.backends.memory.store import MemoryStore
    from crossql.runtime.store import Store

    class GenericMemory(MemoryStore):
        run_page = Store.run_page

    text = f"from docs {order}"
    for store in (MemoryStore(), GenericMemory()):
        runner.run(store.collection("docs").insert_many(docs))
        rows, _ = runner.run(walk(store, text, size))
        assert [r["_id"] for r in rows] == reference_ids(docs, text), type(store).__name__


# the same over MongoDB's compiler and server, half of each collection written by PyMongo
# (bytes left out: MongoDB refuses to resume after them, test above)
@settings(max_examples=examples(30), deadline=None,
          phases=(Phase.explicit, Phase.reuse, Phase.generate),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(docs=native_paging_documents(24, kinds=("at", "oid", "dec")),
       order=st.sampled_from(PAGE_ORDERS), size=st.integers(3, 6))
def test_mongodb_pages_generated_native_collections_in_reference_order(
        runner: asyncio.Runner, mongo_store: Any, docs: list[Any], order: str,
        size: int) -> None:
    from decimal import Decimal

    from bson import Decimal128

    load(runner, mongo_store, "generated_native", docs[1::2])
    raw = mongo_store.database.client[mongo_store.database.name]["generated_native"]
    if docs[0::2]:
        runner.run(raw.insert_many([{k: Decimal128(v) if isinstance(v, Decimal) else v
                                     for k, v in doc.items()} for doc in docs[0::2]]))
    check_walk(runner, mongo_store, docs, f"from generated_native {order}", size)


# DynamoDB and Firestore resume after typed values where their capabilities handle them:
# DynamoDB's ExclusiveStartKey gets the decoded datetime (an `S` of fixed-width ISO text),
# or Decimal (`N`) of the index's sort key; Firestore's start_after the
# decoded datetime. "Newest first" of one device is one Query on the index per page.

def _typed_events(count: int) -> list[dict[str, Any]]:
    from datetime import UTC, datetime, timedelta
    from decimal import Decimal

    rng = random.Random(16)
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    return [{"_id": f"e{i:04d}", "device": "d1" if i % 3 else "d2",
             "at": t0 + timedelta(seconds=rng.randrange(count), microseconds=rng.choice(
                 [0, 1, 250_000])),
             "price": Decimal(rng.randrange(10**6)).scaleb(-rng.randrange(4)),
             "blob": bytes(rng.randrange(256) for _ in range(rng.randrange(1, 4)))}
            for i in range(count)]


# (a condition on the sort key says every item holds it: the sparse index may serve)
@pytest.mark.parametrize("text", [
    "from events where device == 'd1' and at >= :epoch order by at desc",
    "from events where device == 'd1' and at >= :since order by at desc",
    "from events where device == 'd2' and price >= 0 order by price"])
# (no bytes: DynamoDB orders `B` bytewise, the reference by length first, so its planner
# orders no Query by a binary sort key)
def test_dynamodb_pages_typed_sort_keys_with_exclusive_start_key(
        runner: asyncio.Runner, dynamo_store: Any, text: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import UTC, datetime

    docs = _typed_events(150)

    async def load() -> None:
        await dynamo_store.drop_collection("events")
        await dynamo_store.create_collection(
            "events", indexes=[
                {"name": "by_at", "partition_key": "device", "sort_key": "at"},
                {"name": "by_price", "partition_key": "device", "sort_key": "price"}],
            attribute_types={"_id": "S", "device": "S", "at": "S", "price": "N"})
        await dynamo_store.collection("events").insert_many(docs)

    runner.run(load())
    every = {"epoch": datetime(1970, 1, 1, tzinfo=UTC),
             "since": datetime(2026, 3, 1, 0, 1, tzinfo=UTC)}
    params = {k: v for k, v in every.items() if f":{k}" in text}
    assert dynamo_store.page_plan(text, size=7, **params).inner.operation == "Query"
    calls: list[str] = []
    call = dynamo_store._call

    async def counted(method: str, **kwargs: Any) -> Any:
        calls.append(method)
        return await call(method, **kwargs)

    monkeypatch.setattr(dynamo_store, "_call", counted)
    rows, pages = runner.run(walk(dynamo_store, text, 7, **params))
    want = reference_ids(docs, text, **params)
    got = [r["_id"] for r in rows]
    assert sorted(got) == sorted(want) and len(set(got)) == len(got)
    keys = [r[text.split()[-2] if text.endswith("desc") else text.split()[-1]] for r in rows]
    assert keys == sorted(keys, reverse=text.endswith("desc"))  # the sort key's order
    assert pages == max(1, -(-len(want) // 7)) and set(calls) == {"query"}  # never a Scan


def test_firestore_pages_newest_first_with_start_after(runner: asyncio.Runner,
                                                       firestore_store: Any) -> None:
    from datetime import UTC, datetime

    docs = [{k: v for k, v in d.items() if k not in ("blob", "price")}  # no Decimal there
            for d in _typed_events(120)]
    load(runner, firestore_store, "events", docs)
    since = datetime(2026, 3, 1, 0, 0, 30, tzinfo=UTC)
    for text in ("from events where at >= :since order by at desc",
                 "from events where at >= :since order by at"):
        check_walk(runner, firestore_store, docs, text, 7, since=since)
