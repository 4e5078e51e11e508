"""Faults on real servers, on loopback: each test starts its own server instance
(tests/backends/fault_servers.py), then kills it with SIGKILL in the middle of a streamed
result, queries it while it is down, restarts it, and freezes it with SIGSTOP.

What must hold, on MongoDB, DynamoDB and Firestore:
- every failure is a ``crossql.BackendError`` naming the backend, within a time bound
  set by the store's configured timeouts (no hang);
- a stream that breaks raises: it never ends quietly with part of the rows;
- once the server is back, the same store object answers again, exactly as the
  reference evaluator does.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import crossql
from tests.backends.conftest import same_rows, unavailable
from tests.backends.differential import STATS
from tests.backends.dynamo_support import store_config
from tests.backends.fault_servers import SERVERS, FaultServer, requirements

pytestmark = pytest.mark.integration

TIMEOUTS = {"mongodb": 3.0, "dynamodb": 3.0, "firestore": 5.0}
"""Seconds: the call timeouts the stores of these tests are configured with (the
emulator's whole stream of rows is bounded by it, and a restarted JVM starts cold)."""


def bound(server: FaultServer) -> float:
    """Seconds any failing call may take before the test calls it a hang: a timeout,
    and for DynamoDB a second attempt (max_attempts=2), plus slack for a busy machine."""
    return TIMEOUTS[server.name] * 2 + 3
DOCS = 300
PAD = "x" * 8_000  # ~2.4 MB in all: 3 DynamoDB pages of 1 MB; MongoDB's first batch: 101
QUERY = "from faults where n >= 0"

DOCUMENTS = [{"_id": f"d{i:05d}", "n": i, "pad": PAD} for i in range(DOCS)]


@pytest.fixture(params=list(SERVERS))
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FaultServer]:
    reason = requirements(request.param)
    if reason is not None:
        unavailable(reason)
    instance = SERVERS[request.param](tmp_path)
    instance.start()
    try:
        yield instance
    finally:
        instance.stop()


def connect(server: FaultServer, timeout: float | None = None) -> Any:
    """A store on ``server`` whose calls time out after ``timeout`` seconds (its entry
    of ``TIMEOUTS`` by default)."""
    timeout = timeout or TIMEOUTS[server.name]
    ms = int(timeout * 1000)
    if server.name == "mongodb":
        return crossql.connect({"driver": "mongodb", "mongodb": {
            "uri": server.uri, "database": "faults", "server_selection_timeout_ms": ms,
            "connect_timeout_ms": ms, "socket_timeout_ms": ms, "timeout_ms": ms}})
    if server.name == "dynamodb":
        return crossql.connect(store_config(
            server.endpoint, table_prefix="faults_", connect_timeout=timeout,
            read_timeout=timeout, max_attempts=2, backoff_base=0.05, backoff_max=0.5))
    return crossql.connect({"driver": "firestore", "firestore": {
        "project_id": "faults", "emulator_host": server.host, "timeout": timeout}})


def stats(server: FaultServer) -> Counter[str]:
    return STATS.setdefault(f"faults {server.name}", Counter())


async def failing(call: Any, server: FaultServer) -> float:
    """Await ``call``; it must raise ``BackendError`` naming the backend within
    ``bound(server)`` seconds. Returns the seconds it took."""
    start = time.monotonic()
    with pytest.raises(crossql.BackendError) as info:
        await asyncio.wait_for(call, bound(server))
    elapsed = time.monotonic() - start
    assert info.value.backend == server.name, info.value
    assert str(info.value).startswith(f"{server.name}: "), info.value
    assert elapsed < bound(server)
    return elapsed


async def load(server: FaultServer) -> None:
    """Write the documents through a store of its own with the default timeouts (a cold
    emulator can take seconds over its first commits)."""
    async with connect(server, timeout=60.0) as loader:
        await loader.drop_collection("faults")
        await loader.collection("faults").insert_many(DOCUMENTS)


async def assert_answers(store: Any) -> None:
    rows = await store.fetch(QUERY)
    assert len(rows) == DOCS
    assert same_rows(rows, crossql.evaluate(QUERY, DOCUMENTS), ordered=False)
    assert await store.count("from faults where n < 10") == 10


def test_kill_freeze_restart(runner: asyncio.Runner, server: FaultServer) -> None:
    """One server instance through every fault, in turn (each start costs seconds)."""

    async def scenario() -> None:
        counter = stats(server)
        phases: dict[str, float] = {}
        clock = time.monotonic()

        def phase(name: str) -> None:
            nonlocal clock
            now = time.monotonic()
            phases[name] = round(now - clock, 1)
            clock = now

        async with connect(server) as store:
            await load(server)
            await assert_answers(store)
            phase("load")

            # 1. SIGKILL while a result streams (and a fetch runs beside it): the stream
            # raises, never ends quietly; the fetch raises, or returns every row
            fetch = asyncio.ensure_future(store.fetch(QUERY))
            seen = 0
            start = time.monotonic()
            with pytest.raises(crossql.BackendError) as info:
                async for _row in store.stream(QUERY):
                    seen += 1
                    if seen == 1:
                        server.kill()
            assert info.value.backend == server.name, info.value
            assert 1 <= seen < DOCS, seen  # some rows came, not all, and it said so
            assert time.monotonic() - start < bound(server)
            counter["killed mid-stream"] += 1
            counter["rows streamed before the error"] = seen
            try:
                rows = await asyncio.wait_for(fetch, bound(server))
            except crossql.BackendError as err:
                assert err.backend == server.name
                counter["fetch beside it: raised"] += 1
            else:
                assert len(rows) == DOCS  # it had read every row before the kill
                counter["fetch beside it: complete"] += 1
            phase("kill mid-stream")

            # 2. the server is down: every call fails fast and names the backend
            for call in (store.fetch(QUERY),
                         store.collection("faults").insert_one({"_id": "late", "n": -1})):
                elapsed = await failing(call, server)
                counter["calls refused while down"] += 1
                counter["slowest refusal (ms)"] = max(counter["slowest refusal (ms)"],
                                                      int(elapsed * 1000))
            phase("down")

            # 3. restarted on the same port: the same store answers again
            server.start()
            if server.name == "firestore":  # the emulator keeps nothing
                await load(server)
            await assert_answers(store)
            counter["recovered after restart"] += 1
            phase("restart")

            # 4. SIGSTOP: connections stay open, nothing answers; the timeouts end the calls
            server.freeze()
            try:
                elapsed = await failing(store.fetch(QUERY), server)
                assert elapsed >= TIMEOUTS[server.name] / 2, elapsed  # it waited for the timeout
                counter["calls timed out while frozen"] += 1
            finally:
                server.thaw()
            await assert_answers(store)
            counter["recovered after thaw"] += 1
            phase("freeze")

        print(f"{server.name} fault phases (s): {phases}")

    runner.run(scenario())
