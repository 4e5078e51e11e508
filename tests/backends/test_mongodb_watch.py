"""Live queries on the MongoDB-wire server (a replica set): change streams classified
with the reference semantics (issue 23)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from crossql.errors import BackendError
from crossql.runtime.watch import Change
from tests.backends.watch_differential import (
    COLLECTION,
    collect,
    compare,
    load,
    resume,
    watch_scenarios,
)
from tests.budget import examples


async def native_put(store: Any, collection: str, doc: dict[str, Any]) -> None:
    """A whole document replaced (or inserted) through PyMongo."""
    await store.database[collection].replace_one({"_id": doc["_id"]}, doc, upsert=True)


def _kinds(changes: list[Change]) -> list[tuple[str, Any, Any, Any]]:
    return [(c.kind, c.id, c.row, c.old) for c in changes]


async def _scenario(store: Any) -> list[Change]:
    """Each write's change read before the next write: without pre-images, the state
    after an update is looked up when its event is read (docs/live-queries.md)."""
    c = store.collection(COLLECTION)
    await c.insert_many([{"_id": 1, "a": 1, "m": {"k": 1}}, {"_id": 2, "a": 5}])
    got: list[Change] = []
    async with store.watch(f"from {COLLECTION} where a > 2 select a, m.k") as watch:
        for write, count in [
            (c.insert_one({"_id": 3, "a": 7}), 1),
            (store.execute(f"update {COLLECTION} set a = 10, m.k = 2 where _id == 1"), 1),
            (store.execute(f"update {COLLECTION} set a = 11, unset m where _id == 1"), 1),
            (store.execute(f"update {COLLECTION} set a = 0 where _id == 2"), 1),
            (store.execute(f"update {COLLECTION} set a = 7 where _id == 3"), 0),  # no change
            (native_put(store, COLLECTION, {"_id": 3, "a": 8}), 1),
            (c.delete_many("_id == 3"), 1),
        ]:
            await write
            got += await collect(watch, count, grace=0)
        got += await collect(watch, 0)
    return got


@pytest.mark.parametrize("pre_images", [True, False])
def test_change_stream_kinds(runner: asyncio.Runner, mongo_store: Any, pre_images: bool) -> None:
    async def body() -> list[Change]:
        await load(mongo_store, [], **({"stream": True} if pre_images else {}))
        return await _scenario(mongo_store)

    got = runner.run(body())
    old = (lambda row: row) if pre_images else (lambda row: None)
    assert _kinds(got) == [
        ("added", 3, {"a": 7}, None),
        ("added", 1, {"a": 10, "m": {"k": 2}}, None),
        ("modified", 1, {"a": 11}, old({"a": 10, "m": {"k": 2}})),
        ("removed", 2, None, old({"a": 5})),
        ("modified", 3, {"a": 8}, old({"a": 7})),
        ("removed", 3, None, old({"a": 8})),
    ]
    assert all(c.token is not None for c in got)


def test_initial_then_changes_and_close_releases_the_stream(runner: asyncio.Runner,
                                                           mongo_store: Any) -> None:
    async def body() -> tuple[list[Change], Any]:
        await load(mongo_store, [{"_id": i, "a": i} for i in range(4)], stream=True)
        async with mongo_store.watch(f"from {COLLECTION} where a >= 2", initial=True) as w:
            await mongo_store.collection(COLLECTION).delete_many("_id == 3")
            got = await collect(w, 3)
            source = w._source
        return got, source

    got, source = runner.run(body())
    assert [(c.kind, c.id) for c in got] == [("added", 2), ("added", 3), ("removed", 3)]
    assert source._stream is None and source._task is None


def test_a_standalone_server_is_refused_with_the_fix(runner: asyncio.Runner,
                                                     mongo_store: Any) -> None:
    class Admin:
        async def command(self, name: str) -> dict[str, Any]:
            return {"isWritablePrimary": True}  # what a standalone mongod answers

    class Client:
        admin = Admin()

    class Database:
        client = Client()

    store: Any = type(mongo_store)(database=Database())

    async def body() -> None:
        async with store.watch("from x"):
            pass

    with pytest.raises(BackendError, match=r"needs a replica set.*--replSet"):
        runner.run(body())


@settings(max_examples=examples(12), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(scenario=watch_scenarios())
def test_mongodb_watch_matches_the_reference(runner: asyncio.Runner, mongo_store: Any,
                                             scenario: Any) -> None:
    runner.run(compare(mongo_store, *scenario, native_put, old=True, stream=True))


@settings(max_examples=examples(6), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(scenario=watch_scenarios(max_steps=14))
def test_mongodb_watch_resumes_without_loss_or_repeat(runner: asyncio.Runner, mongo_store: Any,
                                                      scenario: Any) -> None:
    runner.run(resume(mongo_store, *scenario, native_put, old=True, stream=True))


def test_a_dropped_collection_removes_the_matches_then_ends_the_watch(
        runner: asyncio.Runner, mongo_store: Any) -> None:
    async def body() -> tuple[list[Change], BaseException | None]:
        await load(mongo_store, [{"_id": 1, "a": 1}, {"_id": 2, "a": 0}], stream=True)
        got: list[Change] = []
        async with mongo_store.watch(f"from {COLLECTION} where a == 1", initial=True) as w:
            await mongo_store.drop_collection(COLLECTION)
            try:
                async with asyncio.timeout(10):
                    async for change in w:
                        got.append(change)
            except BackendError as err:
                return got, err
        return got, None

    got, err = runner.run(body())
    assert [(c.kind, c.id) for c in got] == [("added", 1), ("removed", 1)]
    assert err is not None and "was dropped or renamed" in str(err)
