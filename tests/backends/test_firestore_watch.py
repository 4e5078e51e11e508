"""Live queries on the Firestore emulator: the sync client's snapshot listener on the
compiled query, bridged into the event loop (issue 23)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from crossql.errors import CapabilityError
from crossql.runtime.watch import Change
from tests.backends.watch_differential import (
    COLLECTION,
    collect,
    compare_stepwise,
    load,
    watch_scenarios,
)
from tests.budget import examples


async def native_put(store: Any, collection: str, doc: dict[str, Any]) -> None:
    """A whole document set through the driver's async client."""
    body = {k: v for k, v in doc.items() if k != "_id"}
    await store.client.collection(collection).document(doc["_id"]).set(body)


def test_listener_kinds(runner: asyncio.Runner, firestore_store: Any) -> None:
    store = firestore_store

    async def body() -> list[Change]:
        await load(store, [{"_id": "1", "a": 1}, {"_id": "2", "a": 5}])
        c = store.collection(COLLECTION)
        got: list[Change] = []
        async with store.watch(f"from {COLLECTION} where a > 2 select a") as watch:
            for write, count in [
                (c.insert_one({"_id": "3", "a": 7}), 1),
                (store.execute(f"update {COLLECTION} set a = 10 where _id == '1'"), 1),
                (native_put(store, COLLECTION, {"_id": "1", "a": 11}), 1),
                (store.execute(f"update {COLLECTION} set a = 0 where _id == '2'"), 1),
                (c.delete_many("_id == '3'"), 1),
            ]:
                await write
                got += await collect(watch, count, grace=0)
            got += await collect(watch, 0)
            source = watch._source
        assert source is not None
        return got

    got = runner.run(body())
    assert [(c.kind, c.id, c.row) for c in got] == [
        ("added", "3", {"a": 7}),
        ("added", "1", {"a": 10}),
        ("modified", "1", {"a": 11}),
        ("removed", "2", None),
        ("removed", "3", None),
    ]


def test_initial_then_close_releases_the_listener(runner: asyncio.Runner,
                                                  firestore_store: Any) -> None:
    store = firestore_store

    async def body() -> tuple[list[Change], Any]:
        await load(store, [{"_id": str(i), "a": i} for i in range(4)])
        async with store.watch(f"from {COLLECTION} where a >= 2", initial=True) as watch:
            got = await collect(watch, 2, grace=0)
            await store.collection(COLLECTION).delete_many("_id == '3'")
            got += await collect(watch, 1)
            source = watch._source
        return got, source

    got, source = runner.run(body())
    assert sorted((c.kind, c.id) for c in got[:2]) == [("added", "2"), ("added", "3")]
    assert [(c.kind, c.id) for c in got[2:]] == [("removed", "3")]
    assert source._listener is None and source._client is None


def test_the_default_profile_refuses_as_for_reads(firestore_store: Any) -> None:
    text = f"from {COLLECTION} where a != 1 and b != 2"
    with pytest.raises(CapabilityError) as read:
        firestore_store.plan(text)
    with pytest.raises(CapabilityError) as live:
        firestore_store.watch(text)
    assert (live.value.code, live.value.span) == (read.value.code, read.value.span)


@settings(max_examples=examples(8), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(scenario=watch_scenarios())
def test_firestore_watch_matches_the_reference(runner: asyncio.Runner, firestore_store: Any,
                                               scenario: Any) -> None:
    runner.run(compare_stepwise(firestore_store, *scenario, native_put))
