"""The load test in its short mode (tests/load.py; ``scripts/load`` runs it longer):
concurrent tasks issue the query mix against each real server for a few seconds;
there must be no error and no answer that differs from the reference evaluator's.

``CROSSQL_LOAD_SECONDS`` (default 6) and ``CROSSQL_LOAD_TASKS`` (default 8) set it.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from typing import Any

import pytest

from tests.backends.conftest import STORE_FIXTURES
from tests.backends.differential import STATS
from tests.load import mix, run_load
from tests.time_budget import within

pytestmark = pytest.mark.integration

SECONDS = float(os.environ.get("CROSSQL_LOAD_SECONDS", "6"))
TASKS = int(os.environ.get("CROSSQL_LOAD_TASKS", "8"))


@pytest.mark.parametrize("backend", list(STORE_FIXTURES))
def test_load_holds_with_no_error_and_no_wrong_answer(request: pytest.FixtureRequest,
                                                      runner: asyncio.Runner,
                                                      backend: str) -> None:
    store: Any = request.getfixturevalue(STORE_FIXTURES[backend])
    report = runner.run(run_load(store, tasks=TASKS, seconds=SECONDS, docs=200))
    print(report.line())
    assert report.errors == 0, report.samples
    assert report.wrong == 0, report.samples
    assert report.requests >= 10 * TASKS, report  # the servers answered, concurrently
    assert within(report.seconds, SECONDS + 30)  # it stops by itself (time_budget.py)
    assert report.queries >= len(mix([])) - 3, report.refused
    STATS.setdefault(f"load {backend}", Counter()).update({
        "requests": report.requests, "req/s": round(report.throughput),
        "p50 ms": round(report.p50_ms), "p99 ms": round(report.p99_ms),
        "errors": report.errors, "wrong": report.wrong, "tasks": TASKS,
        "queries in the mix": report.queries})


def test_the_load_mix_stops_at_its_request_budget(runner: asyncio.Runner) -> None:
    import crossql

    async def scenario() -> Any:
        async with crossql.connect({"driver": "memory"}) as store:
            return await run_load(store, tasks=4, seconds=60, max_requests=50, docs=50)

    report = runner.run(scenario())
    assert report.requests == 50 and report.ok
    assert within(report.seconds, 30)
