"""A declared schema on real servers' stores (docs/schemas.md): DynamoDB reads a sparse
index whose sort key the schema declares required; rows come back as model instances;
a document that breaks the schema writes nothing."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import BaseModel, Field

import crossql

pytestmark = pytest.mark.integration


class Order(BaseModel):
    id: str = Field(alias="_id")
    user_id: str
    created_at: str  # ISO-8601 text: DynamoDB's S, ordered as text
    total: float


def test_dynamodb_queries_a_sparse_index_the_schema_fills(runner: asyncio.Runner,
                                                          dynamodb_endpoint: str) -> None:
    from tests.backends.dynamo_support import drop_tables, store_config

    prefix = f"crossql_s6_{uuid.uuid4().hex[:8]}_"
    store = crossql.connect(store_config(dynamodb_endpoint, table_prefix=prefix),
                            schema={"orders": Order})
    runner.run(store.open())
    try:
        runner.run(_sparse_index(store))
    finally:
        runner.run(drop_tables(store))
        runner.run(store.close())


async def _sparse_index(store: Any) -> None:
    await store.create_collection("orders", indexes=[
        {"name": "by_user", "partition_key": "user_id", "sort_key": "created_at"}])
    start = datetime(2026, 1, 1, tzinfo=UTC)
    orders = [Order(_id=f"o{i}", user_id="ada" if i % 2 else "bob",
                    created_at=(start + timedelta(days=i)).isoformat(), total=i)
              for i in range(12)]
    await store.collection("orders").insert_many(orders)
    text = "from orders where user_id == :u order by created_at desc limit 3"
    plan = store.plan(text, {"u": "ada"})
    assert plan.to_dict()["operation"] == "Query" and plan.to_dict()["index_name"] == "by_user"
    rows: list[Order] = await store.fetch(text, model=Order, u="ada")
    assert [r.id for r in rows] == ["o11", "o9", "o7"]
    with pytest.raises(crossql.DocumentError):
        await store.collection("orders").insert_one({"_id": "x", "user_id": "ada",
                                                     "total": 1.0})
    assert await store.collection("orders").get("x") is None


def test_dynamodb_a_declared_key_schema_that_contradicts_the_table_is_an_error(
        runner: asyncio.Runner, dynamodb_endpoint: str) -> None:
    from tests.backends.dynamo_support import drop_tables, store_config

    prefix = f"crossql_s6_{uuid.uuid4().hex[:8]}_"
    plain = crossql.connect(store_config(dynamodb_endpoint, table_prefix=prefix))
    declared = crossql.connect(
        store_config(dynamodb_endpoint, table_prefix=prefix),
        schema={"events": {"dynamodb": {"partition_key": "device", "sort_key": "at",
                                        "indexes": [{"name": "by_kind",
                                                     "partition_key": "kind"}]}},
                "fine": {"dynamodb": {"partition_key": "_id"}}})

    async def scenario() -> None:
        await plain.create_collection("events")  # keyed by `_id` alone, no index
        await plain.create_collection("fine")
        with pytest.raises(crossql.ConfigError) as err:
            await declared.fetch("from events where device == 'd1'")
        text = str(err.value)
        assert "collections.events.dynamodb.partition_key" in text
        assert "declared `device`" in text and "`_id`" in text
        assert "collections.events.dynamodb.sort_key" in text
        assert "index `by_kind`" in text
        assert await declared.fetch("from fine where _id == 'x'") == []

    runner.run(plain.open())
    runner.run(declared.open())
    try:
        runner.run(scenario())
    finally:
        runner.run(drop_tables(plain))
        runner.run(plain.close())
        runner.run(declared.close())


def test_dynamodb_a_declared_timestamp_reads_other_writers_and_writes_iso_text_canonically(
        runner: asyncio.Runner, dynamodb_endpoint: str) -> None:
    from tests.backends.dynamo_support import drop_tables, store_config

    prefix = f"crossql_s6_{uuid.uuid4().hex[:8]}_"
    store = crossql.connect(store_config(dynamodb_endpoint, table_prefix=prefix),
                            schema={"logs": {"fields": {"at": "timestamp"}}})

    async def scenario() -> None:
        await store.create_collection("logs")
        table = store.table_name("logs")
        # another application, with aioboto3: the canonical text, and a shorter form
        for doc_id, at in [("a", "2026-01-01T10:00:00.000000Z"),
                           ("b", "2026-01-02T00:00:00.500000Z"),
                           ("c", "2026-01-03T00:00:00Z")]:
            await store.client.put_item(TableName=table, Item={"_id": {"S": doc_id},
                                                               "at": {"S": at}})
        # through CrossQL: ISO text in a declared timestamp is written canonically
        await store.collection("logs").insert_one({"_id": "d", "at": "2026-01-04T01:00:00+01:00"})
        item = await store.client.get_item(TableName=table, Key={"_id": {"S": "d"}})
        assert item["Item"]["at"] == {"S": "2026-01-04T00:00:00.000000Z"}
        since = datetime(2026, 1, 2, tzinfo=UTC)
        rows = await store.fetch("from logs where at >= :t", t=since)
        # `c` is not of the canonical form: no comparison holds for it (docs/schemas.md)
        assert sorted(r["_id"] for r in rows) == ["b", "d"]
        rows = await store.fetch("from logs where at < :t", t=since)
        assert [r["_id"] for r in rows] == ["a"]

    runner.run(store.open())
    try:
        runner.run(scenario())
    finally:
        runner.run(drop_tables(store))
        runner.run(store.close())
