"""Runtime overhead on real servers: ``store.fetch`` against the raw driver (``--runtime``).

For each backend whose server is in the environment, a collection of 1,000
documents is written, then two queries run interleaved, each both ways:

- through CrossQL: ``await store.fetch(text)`` (plan cache, driver call, rows as
  plain dicts);
- with the driver alone: the *same request* (the plan's own arguments) issued
  directly and its rows collected as a user would (``await cursor.to_list()``).

The queries: a 100-row result (``where grp == 3``) and a 1-row point lookup
(``where _id == "u0042"``). The figure is the median time per call; the ratio
is the median over rounds of (CrossQL / driver) within the same round.

Backends plug in as a ``RuntimeBackend``: a name, the environment variables it
needs, and an async context manager yielding its ``Case``s: MongoDB
(``MONGODB_URI``; pymongo's ``AsyncMongoClient``), DynamoDB (``DYNAMODB_ENDPOINT``
and the ``AWS_*`` keys; aioboto3's client, items through boto3's
``TypeDeserializer``) and Firestore (``FIRESTORE_EMULATOR_HOST``; the
``AsyncClient``), as ``scripts/servers/with-servers.sh`` exports them.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from benchmarks.suite import Row, Settings

COLLECTION = "bench_users"
DOCS = 1000
QUERIES = {
    "100 rows": f"from {COLLECTION} where grp == 3",
    "point lookup": f'from {COLLECTION} where _id == "u0042"',
}


def documents() -> list[dict[str, Any]]:
    """The benchmark's documents: ``grp`` 0-9 (100 each), string ids ``u0000``..."""
    statuses = ("active", "trial", "paused", "banned")
    return [{"_id": f"u{i:04d}", "name": f"user {i}", "age": 18 + i % 60, "grp": i % 10,
             "status": statuses[i % 4], "tags": ["vip"] if i % 7 == 0 else ["new", "x"],
             "address": {"city": ("Paris", "Berlin", "Tokyo")[i % 3], "zip": f"{i:05d}"}}
            for i in range(DOCS)]


@dataclass(frozen=True)
class Case:
    """One query, run through CrossQL (``ours``) and with the driver alone (``raw``)."""

    workload: str
    ours: Callable[[], Awaitable[list[Any]]]
    raw: Callable[[], Awaitable[list[Any]]]
    rows: int


@dataclass(frozen=True)
class RuntimeBackend:
    name: str
    env: tuple[str, ...]
    cases: Callable[[], Any]
    """An async context manager yielding the backend's list of ``Case``s."""

    def available(self) -> bool:
        return all(os.environ.get(var) for var in self.env)


@asynccontextmanager
async def _mongodb_cases() -> AsyncIterator[list[Case]]:
    import crossql

    uri = os.environ["MONGODB_URI"]
    store: Any = crossql.connect({"driver": "mongodb",
                                  "mongodb": {"uri": uri, "database": "crossql_bench"}})
    async with store:
        coll = store.database[COLLECTION]
        await coll.drop()
        await store.collection(COLLECTION).insert_many(documents())
        cases = []
        from benchmarks.runtime_mongodb import HANDWRITTEN

        # the exact request CrossQL sends; then requests written by hand
        requests = [(w, t, store.plan(t).arguments()) for w, t in QUERIES.items()]
        requests += [(w, t, a) for w, (t, a) in HANDWRITTEN.items()]
        for workload, text, args in requests:
            async def ours(text: str = text) -> list[Any]:
                rows: list[Any] = await store.fetch(text)
                return rows

            async def raw(args: dict[str, Any] = args) -> list[Any]:
                rows: list[Any] = await coll.find(**args).to_list()
                return rows

            n = len(await ours())
            cases.append(Case(workload, ours, raw, n))
        from benchmarks.runtime_schema import mongodb_schema_cases

        try:
            async with mongodb_schema_cases(uri, coll) as declared:
                yield cases + declared
        finally:
            await coll.drop()


def dynamodb_store() -> Any:
    """A CrossQL store on the DynamoDB Local of the environment (``DYNAMODB_ENDPOINT``,
    ``AWS_*``), for the runtime rows."""
    import crossql

    env = os.environ
    return crossql.connect({"driver": "dynamodb", "dynamodb": {
        "endpoint_url": env["DYNAMODB_ENDPOINT"],
        "region": env.get("AWS_DEFAULT_REGION", "us-east-1"),
        "access_key": env["AWS_ACCESS_KEY_ID"], "secret_key": env["AWS_SECRET_ACCESS_KEY"]}})


@asynccontextmanager
async def _dynamodb_cases() -> AsyncIterator[list[Case]]:
    store: Any = dynamodb_store()
    async with store:
        from boto3.dynamodb.types import TypeDeserializer

        await store.drop_collection(COLLECTION)
        await store.create_collection(COLLECTION)
        await store.collection(COLLECTION).insert_many(documents())
        client = store.client
        deserialize = TypeDeserializer().deserialize
        cases = []
        for workload, text in QUERIES.items():

            async def ours(text: str = text) -> list[Any]:
                rows: list[Any] = await store.fetch(text)
                return rows

            n = len(await ours())
            plan = store.plan(text)  # after a fetch: the table's key schema is known

            async def raw(method: str = plan.method,
                          request: dict[str, Any] = plan.request) -> list[Any]:
                """What a user writes with aioboto3: the request, every page, items
                deserialized by boto3's TypeDeserializer."""
                kwargs = dict(request)
                rows: list[Any] = []
                while True:
                    page = await getattr(client, method)(**kwargs)
                    rows += [{k: deserialize(v) for k, v in item.items()}
                             for item in page.get("Items", ())]
                    last = page.get("LastEvaluatedKey")
                    if not last:
                        return rows
                    kwargs["ExclusiveStartKey"] = last

            cases.append(Case(workload, ours, raw, n))
        try:
            yield cases
        finally:
            await store.drop_collection(COLLECTION)


@asynccontextmanager
async def _firestore_cases() -> AsyncIterator[list[Case]]:
    import crossql
    from crossql.backends.firestore import _driver

    env = os.environ
    store: Any = crossql.connect({"driver": "firestore", "firestore": {
        "project_id": env.get("FIRESTORE_PROJECT") or env.get("GOOGLE_CLOUD_PROJECT"),
        "emulator_host": env["FIRESTORE_EMULATOR_HOST"]}})
    async with store:
        await store.drop_collection(COLLECTION)
        await store.collection(COLLECTION).insert_many(documents())
        client = store.client
        cases = []
        for workload, text in QUERIES.items():
            plan = store.plan(text)

            async def ours(text: str = text) -> list[Any]:
                rows: list[Any] = await store.fetch(text)
                return rows

            async def raw(plan: Any = plan) -> list[Any]:
                """What a user writes with the AsyncClient: the same query (built with
                the SDK's own where/limit calls) streamed into dicts with their ids."""
                query = _driver.build(plan, client)
                if plan.document is not None:  # a document get (`_id == "..."`)
                    snap = await query.get()
                    return [{"_id": snap.id, **snap.to_dict()}] if snap.exists else []
                return [{"_id": snap.id, **snap.to_dict()} async for snap in query.stream()]

            n = len(await ours())
            cases.append(Case(workload, ours, raw, n))
        try:
            yield cases
        finally:
            await store.drop_collection(COLLECTION)


BACKENDS = [
    RuntimeBackend("mongodb", ("MONGODB_URI",), _mongodb_cases),
    RuntimeBackend("dynamodb", ("DYNAMODB_ENDPOINT", "AWS_ACCESS_KEY_ID",
                                "AWS_SECRET_ACCESS_KEY"), _dynamodb_cases),
    RuntimeBackend("firestore", ("FIRESTORE_EMULATOR_HOST",), _firestore_cases),
]
"""The backends with a runtime benchmark: each runs when its server's environment is set."""


async def _per_call(call: Callable[[], Awaitable[object]], inner: int) -> float:
    clock = time.perf_counter_ns
    start = clock()
    for _ in range(inner):
        await call()
    return (clock() - start) / inner


async def _measure(backend: RuntimeBackend, rounds: int, inner: int) -> list[Row]:
    rows = []
    async with backend.cases() as cases:
        for case in cases:
            for _ in range(3):  # warm-up: connections, plan cache
                await case.ours()
                await case.raw()
            ours: list[float] = []
            raw: list[float] = []
            for r in range(rounds):
                if r % 2:
                    ours.append(await _per_call(case.ours, inner))
                    raw.append(await _per_call(case.raw, inner))
                else:
                    raw.append(await _per_call(case.raw, inner))
                    ours.append(await _per_call(case.ours, inner))
            ratio = statistics.median(o / w for o, w in zip(ours, raw, strict=True))
            note = (f"{case.rows} rows; ratio: store.fetch / driver alone "
                    f"({statistics.median(raw) / 1000:,.0f} µs)")
            rows.append(Row(f"runtime.{backend.name}.{case.workload.replace(' ', '-')}",
                            "runtime", case.workload, backend.name,
                            statistics.median(ours) / 1000, "µs", ratio, note))
    return rows


def runtime_rows(settings: Settings) -> list[Row]:
    """Rows for every backend whose server is in the environment (others are skipped,
    with a note on stderr)."""
    rounds = max(4, settings.rounds)
    inner = 5 if settings.rounds < 10 else 20
    rows: list[Row] = []
    for backend in BACKENDS:
        if not backend.available():
            print(f"runtime: {backend.name} skipped (set {', '.join(backend.env)}; "
                  "see scripts/servers/README.md)", file=sys.stderr)
            continue
        rows += asyncio.run(_measure(backend, rounds, inner))
    from benchmarks.contention import contention_rows  # a counter under contention
    from benchmarks.dynamo_paging import paging_rows
    from benchmarks.page_cursor_dynamodb import page_cursor_rows

    return rows + contention_rows(settings) + paging_rows(settings) + \
        page_cursor_rows(settings)
