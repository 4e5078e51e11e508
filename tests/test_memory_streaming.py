"""The memory store streams (issue 19): rows as documents match, limit stops reading,
count builds no rows, and a stream reads the collection as it was when it began
without copying it up front (a write during the stream copies it instead)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

import crossql
from crossql.backends.memory.store import MemoryStore
from crossql.semantics import reference


def _store(n: int) -> MemoryStore:
    store = crossql.connect({"driver": "memory"})
    assert isinstance(store, MemoryStore)
    docs = [{"_id": f"d{i:05d}", "n": i % 100, "tags": ["a"]} for i in range(n)]
    asyncio.run(store.collection("c").insert_many(docs))
    return store


class _Counting(dict[Any, Any]):
    """A collection that counts the documents read from it."""

    read = 0

    def values(self) -> Any:
        def each() -> Iterator[Any]:
            for doc in super(_Counting, self).values():
                self.read += 1
                yield doc
        return each()


def _counting(store: MemoryStore) -> _Counting:
    docs = _Counting(store._collections["c"])
    store._collections["c"] = docs
    return docs


def test_limit_stops_reading_the_collection() -> None:
    store = _store(10_000)
    docs = _counting(store)
    rows = asyncio.run(store.fetch("from c where n == 3 limit 2"))
    assert [r["_id"] for r in rows] == ["d00003", "d00103"]
    assert docs.read == 104


def test_order_by_limit_reads_once_and_keeps_the_reference_order() -> None:
    store = _store(2_000)
    docs = _counting(store)
    rows = asyncio.run(store.fetch("from c order by n desc, _id desc limit 3 offset 1"))
    assert [r["_id"] for r in rows] == ["d01899", "d01799", "d01699"]
    assert docs.read == 2_000
    expected = reference.run(crossql.parse("from c order by n desc, _id desc limit 3 "  # type: ignore[arg-type]
                                           "offset 1"), list(docs.copy().values()))
    assert rows == expected


def test_first_row_before_reading_everything() -> None:
    store = _store(10_000)
    docs = _counting(store)

    async def first() -> dict[str, Any]:
        stream = store.stream("from c where n == 5")
        row = await anext(stream)
        await stream.aclose()  # type: ignore[attr-defined]
        return row
    assert asyncio.run(first())["_id"] == "d00005"
    assert docs.read == 6
    assert store._open == {}  # the closed stream let go of the collection


def test_count_builds_no_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    store = _store(1_000)
    copies = []
    monkeypatch.setattr(reference, "copy_value", lambda v: copies.append(v))
    assert asyncio.run(store.count("from c where n < 10")) == 100
    assert asyncio.run(store.count("from c where n < 10 order by n limit 5 offset 98")) == 2
    assert copies == []


def test_a_write_during_a_stream_leaves_the_stream_its_snapshot() -> None:
    store = _store(10)
    before = store._collections["c"]

    async def body() -> tuple[list[str], list[str]]:
        stream = store.stream("from c")
        seen = [(await anext(stream))["_id"]]
        assert store._collections["c"] is before  # nothing copied up front
        await store.collection("c").insert_one({"_id": "new", "n": 1})
        await store.collection("c").delete_many("_id == 'd00005'")
        seen += [row["_id"] async for row in stream]
        after = [row["_id"] for row in await store.fetch("from c")]
        return seen, after
    seen, after = asyncio.run(body())
    assert seen == [f"d{i:05d}" for i in range(10)]
    assert "new" in after and "d00005" not in after
    assert store._collections["c"] is not before  # the write copied the streamed dict
    assert store._open == {}


def test_rows_are_copies() -> None:
    store = _store(3)
    rows = asyncio.run(store.fetch("from c limit 1"))
    rows[0]["tags"].append("b")
    assert asyncio.run(store.fetch("from c limit 1"))[0]["tags"] == ["a"]


def test_a_stream_in_a_transaction_reads_its_snapshot_past_writes_and_commit() -> None:
    store = _store(6)

    async def body() -> tuple[list[str], list[str]]:
        async with store.transaction() as tx:
            stream = tx.stream("from c where n < 4")
            seen = [(await anext(stream))["_id"]]
            await tx.collection("c").delete_many("_id == 'd00002'")
            await tx.collection("c").insert_one({"_id": "d00001x", "n": 0})
            seen += [row["_id"] async for row in stream]
        after = [row["_id"] for row in await store.fetch("from c where n < 4")]
        return seen, after
    seen, after = asyncio.run(body())
    assert seen == ["d00000", "d00001", "d00002", "d00003"]
    assert after == ["d00000", "d00001", "d00003", "d00001x"]
    assert store._open == {}
