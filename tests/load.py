"""A bounded load test: concurrent tasks issue a mix of queries against real servers.

    python -m tests.load [--backend all|memory|mongodb|dynamodb|firestore]
                         [--tasks 16] [--seconds 10] [--max-requests N] [--docs 400] [--json]

or ``scripts/load`` (which starts the servers when their environment is not set).
For each backend: load a typed collection, then ``--tasks`` asyncio tasks share one
store and issue queries from a mix (``fetch``, ``count``, ``stream``, prepared queries
with changing parameters) until ``--seconds`` pass or ``--max-requests`` are done.
Every answer is compared with the reference evaluator's answer on the same data.
Reported per backend: requests, throughput, p50/p99 latency, errors and wrong answers
(both must be zero; the exit status is 1 otherwise). Queries a backend refuses with
``CapabilityError`` are left out of its mix and listed.

The servers come from the environment the scripts export: ``MONGODB_URI``,
``DYNAMODB_ENDPOINT`` (with ``AWS_*``), ``FIRESTORE_EMULATOR_HOST``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import crossql

COLLECTION = "load_users"
BACKENDS = ("memory", "mongodb", "dynamodb", "firestore")
CITIES = ["Paris", "Rome", "Oslo", "Lima", "Pune", "Kyiv"]
NAMES = ["Ada", "Alan", "Barbara", "Edsger", "Grace", "Ken", "Linus", "Margaret", "Niklaus"]
STATUSES = ["active", "inactive", "banned"]
TAGS = ["a", "b", "c", "vip"]


def documents(n: int, seed: int = 7) -> list[dict[str, Any]]:
    """A typed collection (each field one type, plus null or missing: LANGUAGE.md rule 7)."""
    rng = random.Random(seed)
    docs = []
    for i in range(n):
        doc: dict[str, Any] = {"_id": f"u{i:05d}", "name": f"{rng.choice(NAMES)} {i}",
                               "score": round(rng.uniform(0, 100), 2),
                               "active": rng.random() < 0.6,
                               "tags": rng.sample(TAGS, rng.randint(0, 3)),
                               "address": {"city": rng.choice(CITIES), "zip": f"{i % 97:05d}"}}
        roll = rng.random()
        if roll < 0.9:
            doc["age"] = rng.randint(0, 90)
        elif roll < 0.95:
            doc["age"] = None  # and 5% without the field
        if rng.random() < 0.9:
            doc["status"] = rng.choice(STATUSES)
        docs.append(doc)
    return docs


@dataclass(frozen=True)
class Query:
    """A query of the mix: its text, the parameter sets it runs with, how it is issued."""

    text: str
    params: tuple[dict[str, Any], ...] = ({},)
    how: str = "fetch"  # fetch | count | stream | prepared
    ordered: bool = False  # rows in a promised order (a total order by)


def mix(ids: list[str]) -> list[Query]:
    c = COLLECTION
    ages = tuple({"min": v} for v in (0, 18, 30, 65, 91))
    return [
        Query(f"from {c} where age >= :min", ages),
        Query(f"from {c} where status == :s", tuple({"s": s} for s in [*STATUSES, "none"])),
        Query(f"from {c} where status != :s", tuple({"s": s} for s in STATUSES)),
        Query(f"from {c} where tags contains :t", tuple({"t": t} for t in TAGS)),
        Query(f"from {c} where tags contains any :ts", ({"ts": ["a", "vip"]}, {"ts": []})),
        Query(f"from {c} where name startswith :p", tuple({"p": p} for p in ["A", "Gr", "Z"])),
        Query(f"from {c} where age between :lo and :hi and active == true",
              ({"lo": 18, "hi": 40}, {"lo": 60, "hi": 90})),
        Query(f"from {c} where address.city == :city select name, age",
              tuple({"city": city} for city in CITIES[:3])),
        Query(f"from {c} where _id == :id", tuple({"id": i} for i in [*ids[:20], "nobody"])),
        Query(f"from {c} where status in :ss", ({"ss": ["active", "banned"]}, {"ss": []})),
        Query(f"from {c} where not (age < :max)", ({"max": 50},)),
        Query(f"from {c} where age >= :min order by age desc, _id limit 10", ages,
              ordered=True),
        Query(f"from {c} group by status select status, count() as n", ({},)),
        Query(f"from {c} where active == :a", ({"a": True}, {"a": False}), how="count"),
        Query(f"from {c} where score > :s", ({"s": 50.0}, {"s": 99.5}), how="stream"),
        Query(f"from {c} where age < :max and active == :a",
              ({"max": 30, "a": True}, {"max": 70, "a": False}), how="prepared"),
    ]


def _normal(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normal(v) for v in value]
    if isinstance(value, float):
        return int(value) if value.is_integer() else float(f"{value:.12g}")
    return value


def _canonical(rows: Any, ordered: bool) -> Any:
    if isinstance(rows, int):
        return rows
    texts = [json.dumps(_normal(r), sort_keys=True, default=str) for r in rows]
    return texts if ordered else sorted(texts)


@dataclass
class Report:
    backend: str
    tasks: int
    seconds: float = 0.0
    requests: int = 0
    errors: int = 0
    wrong: int = 0
    throughput: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    queries: int = 0
    refused: list[str] = field(default_factory=list)
    samples: list[str] = field(default_factory=list)  # the first errors and wrong answers
    slowest: list[str] = field(default_factory=list)  # the three slowest requests

    @property
    def ok(self) -> bool:
        return self.requests > 0 and self.errors == 0 and self.wrong == 0

    def line(self) -> str:
        return (f"{self.backend:<10} {self.requests:>8} {self.throughput:>9.1f} "
                f"{self.p50_ms:>8.2f} {self.p99_ms:>8.2f} {self.errors:>7} {self.wrong:>6} "
                f"{self.queries:>4} ({len(self.refused)} refused)")


HEADER = (f"{'backend':<10} {'requests':>8} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'errors':>7} {'wrong':>6} queries")


def config_for(backend: str) -> dict[str, Any]:
    """A ``nosql:`` configuration for ``backend`` from the servers' environment."""
    env = os.environ
    if backend == "memory":
        return {"driver": "memory"}
    if backend == "mongodb":
        return {"driver": "mongodb", "mongodb": {
            "uri": env["MONGODB_URI"], "database": f"crossql_load_{uuid.uuid4().hex[:6]}",
            "server_selection_timeout_ms": 5000}}
    if backend == "dynamodb":
        return {"driver": "dynamodb", "dynamodb": {
            "endpoint_url": env["DYNAMODB_ENDPOINT"],
            "region": env.get("AWS_DEFAULT_REGION", "us-east-1"),
            "access_key": env.get("AWS_ACCESS_KEY_ID", "crossqllocal"),
            "secret_key": env.get("AWS_SECRET_ACCESS_KEY", "crossqllocal"),
            "table_prefix": f"load_{uuid.uuid4().hex[:6]}_"}}
    return {"driver": "firestore", "firestore": {
        "emulator_host": env["FIRESTORE_EMULATOR_HOST"],
        "project_id": f"crossql-load-{uuid.uuid4().hex[:6]}"}}


async def run_load(store: Any, *, tasks: int = 16, seconds: float = 10.0,
                   max_requests: int = 1_000_000, docs: int = 400, seed: int = 1,
                   clock: Callable[[], float] = time.perf_counter) -> Report:
    """Load ``store`` (an open store) with the mix; return the report. The collection
    ``load_users`` is replaced first and dropped at the end."""
    data = documents(docs)
    await store.drop_collection(COLLECTION)
    await store.collection(COLLECTION).insert_many(data)
    report = Report(backend=store.driver, tasks=tasks)
    runnable: list[Query] = []
    expected: dict[tuple[str, str], Any] = {}
    for query in mix([d["_id"] for d in data]):
        try:
            for params in query.params:
                store.plan(query.text, params)
        except crossql.CapabilityError:
            report.refused.append(query.text)
            continue
        runnable.append(query)
        for params in query.params:
            rows = crossql.evaluate(query.text, data, params=params)
            want = len(rows) if query.how == "count" else rows
            expected[query.text, json.dumps(params, sort_keys=True)] = _canonical(
                want, query.ordered)
    report.queries = len(runnable)
    prepared = {q.text: store.prepare(q.text) for q in runnable if q.how == "prepared"}
    latencies: list[float] = []
    slow: list[tuple[float, str]] = []
    started = clock()
    deadline = started + seconds
    budget = [max_requests]

    async def one(query: Query, params: dict[str, Any]) -> Any:
        if query.how == "count":
            return await store.count(query.text, **params)
        if query.how == "stream":
            return [row async for row in store.stream(query.text, **params)]
        if query.how == "prepared":
            return await prepared[query.text].fetch(**params)
        return await store.fetch(query.text, **params)

    async def worker(number: int) -> None:
        rng = random.Random(seed * 1000 + number)
        while clock() < deadline and budget[0] > 0:
            budget[0] -= 1
            query = rng.choice(runnable)
            params = rng.choice(query.params)
            start = clock()
            try:
                got = await one(query, params)
            except Exception as err:  # every failure is counted, none ends the run
                report.errors += 1
                if len(report.samples) < 5:
                    report.samples.append(f"error: {query.text} {params}: "
                                          f"{type(err).__name__}: {err}")
                continue
            took = clock() - start
            latencies.append(took)
            slow.append((took, f"{query.how} {query.text} {params}"))
            if len(slow) > 30:
                slow.sort(reverse=True)
                del slow[3:]
            if _canonical(got, query.ordered) != expected[
                    query.text, json.dumps(params, sort_keys=True)]:
                report.wrong += 1
                if len(report.samples) < 5:
                    report.samples.append(f"wrong: {query.text} {params}: {got!r:.300}")

    await asyncio.gather(*(worker(n) for n in range(tasks)))
    report.seconds = clock() - started
    report.requests = len(latencies) + report.errors
    if latencies:
        ordered = sorted(latencies)
        report.p50_ms = ordered[len(ordered) // 2] * 1000
        report.p99_ms = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
        report.max_ms = ordered[-1] * 1000
        report.throughput = report.requests / report.seconds
    report.slowest = [f"{took * 1000:.0f} ms: {what}" for took, what in sorted(slow)[::-1][:3]]
    await store.drop_collection(COLLECTION)
    return report


async def _run(backend: str, args: argparse.Namespace) -> Report:
    store = crossql.connect(config_for(backend))
    async with store:
        return await run_load(store, tasks=args.tasks, seconds=args.seconds,
                              max_requests=args.max_requests, docs=args.docs)


def available(backend: str) -> bool:
    needs = {"memory": None, "mongodb": "MONGODB_URI", "dynamodb": "DYNAMODB_ENDPOINT",
             "firestore": "FIRESTORE_EMULATOR_HOST"}[backend]
    return needs is None or bool(os.environ.get(needs))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.load", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["all", *BACKENDS], default="all")
    parser.add_argument("--tasks", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--max-requests", type=int, default=1_000_000)
    parser.add_argument("--docs", type=int, default=400)
    parser.add_argument("--json", action="store_true", help="one JSON object per backend")
    args = parser.parse_args(argv)
    names = [b for b in BACKENDS if b != "memory"] if args.backend == "all" else [args.backend]
    missing = [b for b in names if not available(b)]
    if missing:
        print(f"no server for {', '.join(missing)}: run scripts/load, which starts them",
              file=sys.stderr)
        return 2
    if not args.json:
        print(f"{args.tasks} tasks, {args.seconds:g} s per backend, {args.docs} documents")
        print(HEADER)
    failed = False
    for backend in names:
        report = asyncio.run(_run(backend, args))
        failed |= not report.ok
        if args.json:
            print(json.dumps(asdict(report)))
        else:
            print(report.line())
            for sample in report.samples:
                print(f"    {sample}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
