"""DynamoDB under throttling, unprocessed batch items and network errors.

Scripted (no server; tests/backends/test_dynamodb_runtime.py has the single-call
cases): 10,000 items through a fake that throttles whole batches and processes only
part of others — every item is written exactly once, and the waits between attempts
are capped, jittered and growing; network errors are retried for reads and batch
writes, never for a conditional write.

On DynamoDB Local: 10,000 items inserted through the real client with the same
throttling and partial batches injected in front of it: the table then holds exactly
those 10,000 ids — none lost, none twice.
"""

from __future__ import annotations

import asyncio
import random
import statistics
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError

import crossql
from crossql.backends.dynamodb import store_base as dynamo_store_module
from crossql.backends.dynamodb.store import DynamoStore
from crossql.config import DynamoConfig
from tests.backends.differential import STATS

ITEMS = 10_000


def throttled() -> ClientError:
    return ClientError({"Error": {"Code": "ProvisionedThroughputExceededException",
                                  "Message": "rate exceeded"}}, "BatchWriteItem")


class Chaos:
    """Sits in front of a DynamoDB client (real or fake): a share of ``batch_write_item``
    calls is throttled whole, another share only partly processed (the rest returned as
    ``UnprocessedItems``, as DynamoDB does under load); everything else passes through."""

    def __init__(self, inner: Any, seed: int = 8, throttle: float = 0.15,
                 partial: float = 0.3) -> None:
        self.inner = inner
        self.rng = random.Random(seed)
        self.throttle = throttle
        self.partial = partial
        self.stats: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def batch_write_item(self, **kwargs: Any) -> Any:
        self.stats["batches sent"] += 1
        roll = self.rng.random()
        if roll < self.throttle:
            self.stats["batches throttled"] += 1
            raise throttled()
        ((table, writes),) = kwargs["RequestItems"].items()
        if roll < self.throttle + self.partial and len(writes) > 1:
            keep = self.rng.randrange(1, len(writes))
            self.stats["batches partly processed"] += 1
            self.stats["items returned unprocessed"] += len(writes) - keep
            answer = await self.inner.batch_write_item(RequestItems={table: writes[:keep]})
            left = list((answer.get("UnprocessedItems") or {}).get(table, [])) + writes[keep:]
            return {**answer, "UnprocessedItems": {table: left}}
        return await self.inner.batch_write_item(**kwargs)


class FakeTable:
    """A scripted client holding one table in memory; counts every put per key."""

    def __init__(self) -> None:
        self.puts: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()

    async def describe_table(self, **kwargs: Any) -> Any:
        return {"Table": {"KeySchema": [{"AttributeName": "_id", "KeyType": "HASH"}],
                          "AttributeDefinitions": [{"AttributeName": "_id",
                                                    "AttributeType": "S"}],
                          "TableStatus": "ACTIVE"}}

    async def batch_write_item(self, **kwargs: Any) -> Any:
        self.calls["batch_write_item"] += 1
        ((_table, writes),) = kwargs["RequestItems"].items()
        for write in writes:
            self.puts[write["PutRequest"]["Item"]["_id"]["S"]] += 1
        return {}


def fake_store(client: Any, **config: Any) -> DynamoStore:
    cfg = DynamoConfig(**{"backoff_base": 0.001, "backoff_max": 0.008, "max_attempts": 12,
                          **config})
    return DynamoStore(cfg, client=client)


def test_ten_thousand_items_through_throttling_each_written_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[tuple[int, float]] = []
    backoff = DynamoStore._backoff

    def recorded(self: DynamoStore, attempt: int) -> float:
        wait = backoff(self, attempt)
        waits.append((attempt, wait))
        return wait

    monkeypatch.setattr(DynamoStore, "_backoff", recorded)
    table = FakeTable()
    chaos = Chaos(table)
    store = fake_store(chaos)
    docs = [{"_id": f"k{i:05d}", "n": i} for i in range(ITEMS)]
    ids = asyncio.run(store.collection("docs").insert_many(docs))
    assert ids == [d["_id"] for d in docs]
    # every item reached the table exactly once: none lost, none written twice
    assert len(table.puts) == ITEMS
    assert set(table.puts) == {d["_id"] for d in docs}
    assert set(table.puts.values()) == {1}
    assert chaos.stats["batches throttled"] > 50 and chaos.stats["batches partly processed"] > 50
    # the waits: never past backoff_max, jittered, growing with the attempt
    assert all(0 <= w <= 0.008 for _, w in waits)
    assert len({w for _, w in waits}) > len(waits) * 0.9
    first = [w for a, w in waits if a == 1]
    third = [w for a, w in waits if a == 3]
    assert first and third and statistics.mean(third) > statistics.mean(first)
    STATS.setdefault("dynamodb throttling (scripted)", Counter()).update(
        {**chaos.stats, "items": ITEMS, "retry waits": len(waits)})


def test_network_errors_are_retried_only_where_a_resend_is_safe() -> None:
    calls: list[str] = []

    class Flaky:
        """Fails the first two calls of each method with a network error."""

        def __init__(self) -> None:
            self.failures: Counter[str] = Counter()

        def __getattr__(self, method: str) -> Callable[..., Any]:
            async def call(**kwargs: Any) -> Any:
                calls.append(method)
                if self.failures[method] < 2:
                    self.failures[method] += 1
                    raise (EndpointConnectionError(endpoint_url="http://x") if method == "scan"
                           else ConnectionClosedError(endpoint_url="http://x"))
                if method == "describe_table":
                    return await FakeTable().describe_table()
                return {"Items": [], "Count": 0}
            return call

    store = fake_store(Flaky(), max_attempts=3)
    plan = crossql.compile("from docs", backend="dynamodb")

    async def rows() -> list[Any]:
        return [r async for r in store.run_plan(plan)]

    assert asyncio.run(rows()) == []
    assert calls.count("scan") == 3  # two refused connections, then the answer
    calls.clear()
    # a conditional put may have been applied before the connection dropped: not re-sent
    with pytest.raises(crossql.BackendError, match="dynamodb: ConnectionClosedError"):
        asyncio.run(store.collection("docs").insert_one({"_id": "a"}))
    assert calls.count("put_item") == 1


# --- on DynamoDB Local ---------------------------------------------------------------------


@pytest.mark.integration
def test_ten_thousand_items_on_dynamodb_local_none_lost_none_twice(
        runner: asyncio.Runner, dynamo_store: Any) -> None:
    async def scenario() -> dict[str, int]:
        await dynamo_store.drop_collection("bulk")
        real = dynamo_store._client
        chaos = Chaos(real, seed=80)
        dynamo_store._client = chaos
        try:
            docs = [{"_id": f"b{i:05d}", "n": i, "tag": "x" * (i % 50)} for i in range(ITEMS)]
            ids = await dynamo_store.collection("bulk").insert_many(docs)
        finally:
            dynamo_store._client = real
        assert ids == [d["_id"] for d in docs]
        assert await dynamo_store.count("from bulk") == ITEMS
        rows = await dynamo_store.fetch("from bulk select _id, n")
        got = [r["_id"] for r in rows]
        assert len(got) == ITEMS  # none twice
        assert set(got) == {d["_id"] for d in docs}  # none lost
        assert all(r["n"] == int(r["_id"][1:]) for r in rows)
        await dynamo_store.drop_collection("bulk")
        return dict(chaos.stats)

    stats = runner.run(scenario())
    assert stats["batches throttled"] > 20 and stats["batches partly processed"] > 20
    STATS.setdefault("dynamodb 10,000 items (DynamoDB Local)", Counter()).update(
        {**stats, "items written": ITEMS, "lost": 0, "twice": 0})


def test_the_module_retries_what_the_docs_say() -> None:
    assert {"query", "scan", "get_item", "batch_write_item"} <= dynamo_store_module._IDEMPOTENT
    assert not {"put_item", "update_item", "delete_item"} & dynamo_store_module._IDEMPOTENT


@pytest.mark.integration
def test_no_call_starves_when_tasks_outnumber_the_pool(runner: asyncio.Runner,
                                                       dynamodb_endpoint: str) -> None:
    # past its connection limit aiohttp's pool lets a task that just released a connection
    # take it again before the waiting tasks: without the store's first-come-first-served
    # gate, some calls waited for as long as the others kept going (the whole run)
    from tests.backends.dynamo_support import store_config

    seconds, tasks = 4.0, 8

    async def scenario() -> list[float]:
        config = store_config(dynamodb_endpoint, table_prefix="starve_",
                              max_pool_connections=2)
        async with crossql.connect(config) as store:
            await store.drop_collection("pool")
            await store.collection("pool").insert_many(
                [{"_id": f"p{i}", "n": i, "pad": "x" * 500} for i in range(100)])
            latencies: list[float] = []
            deadline = asyncio.get_running_loop().time() + seconds

            async def worker() -> None:
                loop = asyncio.get_running_loop()
                while loop.time() < deadline:
                    start = loop.time()
                    assert len(await store.fetch("from pool where n >= 0")) == 100
                    latencies.append(loop.time() - start)

            await asyncio.gather(*(worker() for _ in range(tasks)))
            await store.drop_collection("pool")
            return latencies

    latencies = runner.run(scenario())
    assert len(latencies) >= tasks * 2
    # fair turns: a call waits for about tasks / pool calls ahead of it, never the run
    assert max(latencies) < seconds / 2, (max(latencies), statistics.median(latencies))
