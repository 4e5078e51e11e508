"""The ``crossql`` logger and spans on every backend's server: each call's record counts
the requests sent and the items the server returned, its span names the backend as the
semantic conventions do, and no parameter value appears in either."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from typing import Any

import pytest

from crossql.runtime.observe import SYSTEMS
from tests.backends.conftest import load, store_of

pytestmark = pytest.mark.integration

BACKENDS = ["memory", "mongodb", "dynamodb", "firestore"]
SECRET = "s3cr3t-value"
DOCS = [{"_id": f"d{i}", "n": i, "name": f"name{i}"} for i in range(12)]


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, runner: asyncio.Runner) -> Any:
    return store_of(request, runner, request.param)




def test_each_call_is_logged_and_traced_with_its_counts(
        runner: asyncio.Runner, store: Any, caplog: pytest.LogCaptureFixture,
        spans: Any) -> None:
    name = f"obs_{uuid.uuid4().hex[:8]}"
    load(runner, store, name, DOCS)
    caplog.set_level(logging.DEBUG, logger="crossql")
    caplog.clear()
    spans.clear()

    async def calls() -> None:
        rows = await store.fetch(f"from {name} where n >= :n", n=4)
        assert len(rows) == 8
        assert await store.count(f"from {name} where name in :names",
                                 names=[SECRET, "name1", "name2"]) == 2
        assert len([r async for r in store.stream(f"from {name} where n < :n", n=3)]) == 3

    runner.run(calls())
    records = [r for r in caplog.records if r.name == "crossql" and r.levelno == logging.DEBUG]
    fetch, count, stream = (r.crossql for r in records)
    assert [fetch["operation"], count["operation"], stream["operation"]] == \
        ["fetch", "count", "stream"]
    assert fetch["query"] == f"from {name} where n >= :n"
    assert (fetch["backend"], fetch["collection"], fetch["rows"]) == (store.driver, name, 8)
    assert fetch["requests"] >= (0 if store.driver == "memory" else 1)
    assert fetch["items_read"] >= 8  # a server reads at least the rows it returns
    assert count["count"] == 2 and stream["rows"] == 3
    for record in records:
        assert SECRET not in record.getMessage()
        assert SECRET not in json.dumps(record.crossql, default=str)
    finished = [s for s in spans.get_finished_spans() if s.name.endswith(f" {name}")]
    ours = [s for s in finished if s.name.split()[0] in ("fetch", "count", "stream")]
    assert [s.name.split()[0] for s in ours] == ["fetch", "count", "stream"]
    for span in ours:
        attributes = dict(span.attributes)
        assert attributes["db.system.name"] == SYSTEMS[store.driver]
        assert attributes["db.collection.name"] == name
    for span in spans.get_finished_spans():
        assert SECRET not in json.dumps(dict(span.attributes), default=str)
