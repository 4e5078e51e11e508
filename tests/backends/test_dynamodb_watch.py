"""Live queries on DynamoDB Local: the table's NEW_AND_OLD_IMAGES stream, every shard
read, old and new images classified with the reference semantics (issue 23)."""

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
    """A whole item written through the aioboto3 client (PutItem)."""
    await store.client.put_item(TableName=store.table_name(collection), Item=store._item(doc))


def test_stream_kinds_with_old_rows_and_tokens(runner: asyncio.Runner, dynamo_store: Any) -> None:
    async def body() -> list[Change]:
        await load(dynamo_store, [{"_id": "1", "a": 1}, {"_id": "2", "a": 5}], stream=True)
        c = dynamo_store.collection(COLLECTION)
        async with dynamo_store.watch(f"from {COLLECTION} where a > 2 select a") as watch:
            await c.insert_one({"_id": "3", "a": 7})
            await dynamo_store.execute(f"update {COLLECTION} set a = 10 where _id == '1'")
            await dynamo_store.execute(f"update {COLLECTION} set a = 11 where _id == '1'")
            await dynamo_store.execute(f"update {COLLECTION} set a = 0 where _id == '2'")
            await native_put(dynamo_store, COLLECTION, {"_id": "3", "a": 7})  # no change
            await c.delete_many("_id == '3'")
            return await collect(watch, 5)

    got = runner.run(body())
    assert [(c.kind, c.id, c.row, c.old) for c in got] == [
        ("added", "3", {"a": 7}, None),
        ("added", "1", {"a": 10}, None),
        ("modified", "1", {"a": 11}, {"a": 10}),
        ("removed", "2", None, {"a": 5}),
        ("removed", "3", None, {"a": 7}),
    ]
    assert all(isinstance(c.token, dict) and c.token for c in got)


def test_a_table_without_a_stream_is_refused_with_the_fix(runner: asyncio.Runner,
                                                          dynamo_store: Any) -> None:
    async def body() -> None:
        await load(dynamo_store, [{"_id": "1"}])  # created on first write: no stream
        async with dynamo_store.watch(f"from {COLLECTION}"):
            pass

    with pytest.raises(BackendError, match=r"no NEW_AND_OLD_IMAGES stream.*stream=True"):
        runner.run(body())


def test_initial_then_changes_and_close_releases_the_readers(runner: asyncio.Runner,
                                                             dynamo_store: Any) -> None:
    async def body() -> tuple[list[Change], Any]:
        await load(dynamo_store, [{"_id": str(i), "a": i} for i in range(4)], stream=True)
        async with dynamo_store.watch(f"from {COLLECTION} where a >= 2", initial=True) as w:
            await dynamo_store.collection(COLLECTION).delete_many("_id == '3'")
            got = await collect(w, 3)
            source = w._source
        return got, source

    got, source = runner.run(body())
    assert sorted((c.kind, c.id) for c in got[:2]) == [("added", "2"), ("added", "3")]
    assert (got[2].kind, got[2].id) == ("removed", "3") and len(got) == 3
    assert source._tasks == {} and source._client is None


@settings(max_examples=examples(8), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(scenario=watch_scenarios())
def test_dynamodb_watch_matches_the_reference(runner: asyncio.Runner, dynamo_store: Any,
                                              scenario: Any) -> None:
    runner.run(compare(dynamo_store, *scenario, native_put, old=True, stream=True))


@settings(max_examples=examples(5), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(scenario=watch_scenarios(max_steps=14))
def test_dynamodb_watch_resumes_without_loss_or_repeat(runner: asyncio.Runner,
                                                       dynamo_store: Any, scenario: Any) -> None:
    runner.run(resume(dynamo_store, *scenario, native_put, old=True, stream=True))


def test_an_empty_map_in_an_image_is_a_map(runner: asyncio.Runner, dynamo_store: Any) -> None:
    # DynamoDB Local's stream gives an empty map as {} (no type): read as {"M": {}}
    async def body() -> list[Change]:
        await load(dynamo_store, [], stream=True)
        async with dynamo_store.watch(f"from {COLLECTION} where exists(m)") as watch:
            await dynamo_store.collection(COLLECTION).insert_one({"_id": "e", "m": {}, "l": []})
            return await collect(watch, 1)

    assert [(c.kind, c.row) for c in runner.run(body())] == [
        ("added", {"_id": "e", "m": {}, "l": []})]
