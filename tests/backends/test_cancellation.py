"""Cancelling a task that streams a query releases what the query held: the MongoDB
server cursor and pooled connection, DynamoDB's HTTP connection, Firestore's gRPC call.

Each backend is cancelled at many points: while its consumer is between two rows (the
stream suspended at a row), and at increasing delays into ``fetch`` (a request in
flight). After each, what the driver holds is checked to go back to where it was, and
the store still answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import uuid
import weakref
from collections.abc import Iterator
from typing import Any

import pytest

import crossql

pytestmark = pytest.mark.integration

DOCS = [{"_id": f"c{i:04d}", "n": i, "pad": "x" * 2_000} for i in range(600)]
QUERY = "from cancel where n >= 0"
DELAYS = [0.0, 0.001, 0.003, 0.006, 0.01, 0.02, 0.04, 0.08]
SETTLE = 5.0  # seconds for released resources to show as released


async def cancel_between_rows(store: Any, rows: int) -> int:
    """Stream, stop consuming after ``rows`` rows (the consumer then waits), cancel the
    consumer's task; return how many rows it saw."""
    seen = 0
    got_them = asyncio.Event()

    async def consume() -> None:
        nonlocal seen
        async for _row in store.stream(QUERY):
            seen += 1
            if seen == rows:
                got_them.set()
                await asyncio.sleep(3600)  # a slow consumer

    task = asyncio.ensure_future(consume())
    await asyncio.wait_for(got_them.wait(), 30)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return seen


async def cancel_in_flight(store: Any, delay: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(store.fetch(QUERY), delay)


async def settled(check: Any) -> Any:
    """Poll ``check()`` until it is truthy or ``SETTLE`` seconds pass; its last value."""
    deadline = asyncio.get_running_loop().time() + SETTLE
    while True:
        value = await check()
        if value or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(0.05)


async def exercise(store: Any, released: Any) -> int:
    """Cancel at every point; after each, ``released()`` must turn true. Returns the
    number of cancellations."""
    count = 0
    for rows in (1, 50, 101, 102, 300):
        seen = await cancel_between_rows(store, rows)
        assert seen == rows
        assert await settled(released), f"not released after cancelling at row {rows}"
        count += 1
    for delay in DELAYS:
        await cancel_in_flight(store, delay)
        assert await settled(released), f"not released after cancelling at {delay} s"
        count += 1
    # and the store still answers, completely
    rows = await store.fetch(QUERY)
    assert sorted(r["_id"] for r in rows) == [d["_id"] for d in DOCS]
    return count


# --- MongoDB: server cursors and the pool ---------------------------------------------


def test_mongodb_cancel_kills_the_cursor_and_returns_the_connection(
        runner: asyncio.Runner, mongodb_uri: str) -> None:
    from pymongo import AsyncMongoClient, monitoring

    class Pool(monitoring.ConnectionPoolListener):
        def __init__(self) -> None:
            self.out = 0

        def connection_checked_out(self, event: Any) -> None:
            self.out += 1

        def connection_checked_in(self, event: Any) -> None:
            self.out -= 1

        def pool_created(self, event: Any) -> None: ...
        def pool_ready(self, event: Any) -> None: ...
        def pool_cleared(self, event: Any) -> None: ...
        def pool_closed(self, event: Any) -> None: ...
        def connection_created(self, event: Any) -> None: ...
        def connection_ready(self, event: Any) -> None: ...
        def connection_closed(self, event: Any) -> None: ...
        def connection_check_out_started(self, event: Any) -> None: ...
        def connection_check_out_failed(self, event: Any) -> None: ...

    class Commands(monitoring.CommandListener):
        def __init__(self) -> None:
            self.kills = 0

        def started(self, event: Any) -> None:
            if event.command_name == "killCursors":
                self.kills += 1

        def succeeded(self, event: Any) -> None: ...
        def failed(self, event: Any) -> None: ...

    async def scenario() -> None:
        pool, commands = Pool(), Commands()
        database = f"crossql_cancel_{uuid.uuid4().hex[:8]}"
        client: Any = AsyncMongoClient(mongodb_uri, event_listeners=[pool, commands])
        store = crossql.connect({"driver": "mongodb", "mongodb": {"database": database}},
                                client=client)
        try:
            async with store:
                await store.drop_collection("cancel")
                await store.collection("cancel").insert_many(DOCS)

                async def open_cursors() -> int:
                    status = await client[database].command("serverStatus")
                    return int(status["metrics"]["cursor"]["open"]["total"])

                baseline = await open_cursors()

                async def released() -> bool:
                    return pool.out == 0 and await open_cursors() == baseline

                count = await exercise(store, released)
                assert commands.kills >= 5  # the driver told the server, at least once a row
                print(f"mongodb: {count} cancellations, {commands.kills} killCursors")
        finally:
            await client.drop_database(database)
            await client.close()

    runner.run(scenario())


# --- DynamoDB: the HTTP connection pool ---------------------------------------------------


def test_dynamodb_cancel_returns_every_connection(runner: asyncio.Runner,
                                                  dynamo_store: Any) -> None:
    async def scenario() -> None:
        await dynamo_store.drop_collection("cancel")
        await dynamo_store.collection("cancel").insert_many(DOCS)
        sessions = dynamo_store.client._endpoint.http_session._sessions

        async def released() -> bool:
            return all(len(s.connector._acquired) == 0 for s in sessions.values())

        assert sessions and await released()
        count = await exercise(dynamo_store, released)
        print(f"dynamodb: {count} cancellations")

    runner.run(scenario())


# --- Firestore: the gRPC calls --------------------------------------------------------------


@pytest.fixture
def recorded_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Every gRPC call of clients created meanwhile, recorded by an interceptor (weakly: a
    call the client drops is cancelled when collected, and a strong reference here would
    keep it alive)."""
    import grpc

    calls: list[Any] = []

    # one interceptor per kind: a channel files an interceptor under its first kind only
    class Streams(grpc.aio.UnaryStreamClientInterceptor):  # type: ignore[misc]
        async def intercept_unary_stream(self, continuation: Any, details: Any,
                                         request: Any) -> Any:
            call = await continuation(details, request)
            calls.append(weakref.ref(call))
            return call

    class Unary(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
        async def intercept_unary_unary(self, continuation: Any, details: Any,
                                        request: Any) -> Any:
            call = await continuation(details, request)
            calls.append(weakref.ref(call))
            return call

    original = grpc.aio.insecure_channel

    def channel(target: str, options: Any = None, **kwargs: Any) -> Any:
        interceptors = [*(kwargs.pop("interceptors", None) or ()), Streams(), Unary()]
        return original(target, options=options, interceptors=interceptors, **kwargs)

    monkeypatch.setattr(grpc.aio, "insecure_channel", channel)
    yield calls


def test_firestore_cancel_ends_the_grpc_call(runner: asyncio.Runner, firestore_host: str,
                                             recorded_calls: list[Any]) -> None:
    async def scenario() -> None:
        project = f"crossql-cancel-{uuid.uuid4().hex[:6]}"
        store = crossql.connect({"driver": "firestore", "firestore": {
            "project_id": project, "emulator_host": firestore_host}})
        async with store:
            await store.collection("cancel").insert_many(DOCS)
            assert recorded_calls, "the interceptor sees the client's calls"

            async def released() -> bool:
                gc.collect()
                calls = [ref() for ref in recorded_calls]
                return all(call is None or call.done() for call in calls)

            count = await exercise(store, released)
            print(f"firestore: {count} cancellations over {len(recorded_calls)} calls")
            assert len(recorded_calls) >= count  # every query's call was seen
            await store.drop_collection("cancel")

    runner.run(scenario())
    assert os.environ.get("FIRESTORE_EMULATOR_HOST")
