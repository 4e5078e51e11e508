"""The ``crossql`` logger on DynamoDB Local: a Scan's WARNING, and the items read
(ScannedCount) and requests of a call as the server reports them."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

pytestmark = pytest.mark.integration

DOCS = [{"_id": f"k{i:02}", "n": i, "kind": "even" if i % 2 == 0 else "odd"} for i in range(30)]


@pytest.fixture(scope="module")
def store(runner: asyncio.Runner, dynamo_store: Any) -> Any:
    async def setup() -> None:
        await dynamo_store.drop_collection("observed")
        await dynamo_store.create_collection("observed", attribute_types={"_id": "S"})
        await dynamo_store.collection("observed").insert_many(DOCS)

    runner.run(setup())
    return dynamo_store


def crossql_records(caplog: pytest.LogCaptureFixture, level: int) -> list[Any]:
    return [r for r in caplog.records if r.name == "crossql" and r.levelno == level]


def test_a_scan_warns_once_and_reads_every_item(runner: asyncio.Runner, store: Any,
                                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="crossql")
    rows = runner.run(store.fetch("from observed where kind == :k", k="odd"))
    assert len(rows) == 15
    (warning,) = crossql_records(caplog, logging.WARNING)
    assert warning.getMessage().startswith(f"DynamoDB Scan of table {store.table_name('observed')}")
    (debug,) = crossql_records(caplog, logging.DEBUG)
    fields = debug.crossql
    assert (fields["plan"], fields["rows"], fields["requests"]) == ("Scan", 15, 1)
    assert fields["items_read"] == fields["scanned_count"] == 30
    assert fields["consumed_capacity"] > 0
    assert "odd" not in debug.getMessage() and fields["query"] == \
        "from observed where kind == :k"


def test_a_query_by_key_reads_one_item_and_does_not_warn(
        runner: asyncio.Runner, store: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="crossql")
    assert runner.run(store.count("from observed where _id == :id", id="k07")) == 1
    assert crossql_records(caplog, logging.WARNING) == []
    (debug,) = crossql_records(caplog, logging.DEBUG)
    assert (debug.crossql["plan"], debug.crossql["items_read"], debug.crossql["count"]) == \
        ("Query", 1, 1)


def test_a_scan_over_pages_counts_each_request(runner: asyncio.Runner, store: Any,
                                               caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="crossql")
    # a limit pages with Limit = items evaluated per request: several requests, one warning
    rows = runner.run(store.fetch("from observed where n >= 25 limit 3"))
    assert len(rows) == 3
    assert len(crossql_records(caplog, logging.WARNING)) == 1
    (debug,) = crossql_records(caplog, logging.DEBUG)
    assert debug.crossql["requests"] >= 1
    assert debug.crossql["items_read"] >= 3
