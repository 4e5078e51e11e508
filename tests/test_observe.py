"""The ``crossql`` logger and the OpenTelemetry spans (docs/observability.md): one DEBUG
record and one span per call, a WARNING per DynamoDB Scan, never a parameter value."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import crossql
from crossql import ir
from crossql.backends.dynamodb.schema import TableSchema
from crossql.runtime import observe
from tests.backends.test_dynamodb_runtime import FakeClient, item, store_with
from tests.strategies import any_query, any_write

ROOT = Path(__file__).resolve().parents[1]
SECRET = "s3cr3t-value"
"""A parameter value that must appear in no log record and no span."""

USERS = [{"_id": f"u{i}", "name": f"n{i}", "age": i, "tags": ["a"] if i % 2 else []}
         for i in range(10)]


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def memory_store() -> Any:
    store = crossql.connect({"driver": "memory"})
    await store.open()
    await store.collection("users").insert_many(USERS)
    return store


def records(caplog: pytest.LogCaptureFixture, level: int = logging.DEBUG) -> list[Any]:
    return [r for r in caplog.records if r.name == "crossql" and r.levelno == level]


# -- the logger ------------------------------------------------------------------------------


def test_the_logger_is_silent_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    async def main() -> None:
        store = await memory_store()
        await store.fetch("from users where age > :a", a=3)

    run(main())
    log = observe.logger()
    assert log.name == "crossql"
    assert any(isinstance(h, logging.NullHandler) for h in log.handlers)
    assert not log.isEnabledFor(logging.DEBUG) or logging.getLogger().level <= logging.DEBUG
    assert capsys.readouterr().err == ""


def test_one_debug_record_per_call_with_its_plan_and_counts(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="crossql")

    async def main() -> None:
        store = await memory_store()
        caplog.clear()
        await store.fetch("from users where age >= :min order by age limit 3", min=4)
        await store.count("from users where age < 5")
        rows = [r async for r in store.stream("from users where age > :a", a=7)]
        assert len(rows) == 2
        await store.execute("update users set age = age + 1 where _id == :id", id="u1")
        await store.prepare("from users where name == :n").fetch(n="n2")

    run(main())
    got = [r.crossql for r in records(caplog)]
    assert [f["operation"] for f in got] == ["fetch", "count", "stream", "execute", "fetch"]
    fetch, count, stream, execute, prepared = got
    assert fetch["query"] == "from users where age >= :min order by age limit 3"
    assert (fetch["backend"], fetch["collection"], fetch["plan"]) == ("memory", "users",
                                                                       "evaluate")
    assert (fetch["requests"], fetch["items_read"], fetch["rows"]) == (0, 10, 3)
    assert fetch["elapsed_ms"] >= 0
    # no parameter: the literals are replaced (the semantic conventions' sanitisation)
    assert count["query"] == "from users where age < ?" and count["count"] == 5
    assert stream["rows"] == 2 and stream["query"] == "from users where age > :a"
    assert (execute["matched"], execute["modified"]) == (1, 1)
    assert prepared["query"] == "from users where name == :n" and prepared["rows"] == 1
    message = records(caplog)[0].getMessage()
    assert message.startswith("fetch users on memory (evaluate): 0 requests, 10 items read, "
                              "3 rows in ")
    assert message.endswith(" — from users where age >= :min order by age limit 3")


def test_a_stream_is_logged_when_closed_early(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="crossql")

    async def main() -> None:
        store = await memory_store()
        caplog.clear()
        rows = store.stream("from users order by age")
        async for _row in rows:
            break
        assert records(caplog) == []  # not over yet
        await rows.aclose()

    run(main())
    (record,) = records(caplog)
    assert record.crossql["operation"] == "stream" and record.crossql["rows"] == 1


def test_collection_calls_and_transactions_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="crossql")

    async def main() -> None:
        store = await memory_store()
        caplog.clear()
        await store.collection("users").get("u1")
        await store.collection("users").delete_many("age > :a", a=8)
        async with store.transaction() as tx:
            await tx.fetch("from users where _id == :id", id="u2")

    run(main())
    got = [r.crossql for r in records(caplog)]
    assert [f["operation"] for f in got] == ["get", "delete_many", "fetch", "transaction"]
    assert got[1]["deleted"] == 1 and got[1]["query"] == "delete from users where age > :a"
    assert got[3]["plan"] == "committed"


def test_a_failed_call_is_logged_with_its_error_type(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="crossql")

    async def main() -> None:
        store = await memory_store()
        caplog.clear()
        with pytest.raises(crossql.QuerySyntaxError):
            await store.fetch("from users where age >")

    run(main())
    (record,) = records(caplog)
    assert record.crossql["error"] == "QuerySyntaxError"


# -- DynamoDB (a scripted client; tests/backends/test_observe_dynamodb.py on a server) -----------


def scan_pages() -> FakeClient:
    return FakeClient(scan=[
        {"Items": [item(1)], "Count": 1, "ScannedCount": 40,
         "ConsumedCapacity": {"TableName": "t", "CapacityUnits": 2.5},
         "LastEvaluatedKey": {"_id": {"S": "a"}}},
        {"Items": [item(2), item(3)], "Count": 2, "ScannedCount": 17,
         "ConsumedCapacity": {"TableName": "t", "CapacityUnits": 1.0}},
    ])


def test_a_dynamodb_scan_warns_once_per_call_and_counts_scanned_items(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="crossql")
    client = scan_pages()
    store = store_with(client, allow_scan=True)
    store._tables["users"] = TableSchema(partition_key="_id")
    rows = run(store.fetch("from users where n > :n", n=0))
    assert len(rows) == 3
    (warning,) = records(caplog, logging.WARNING)
    assert warning.getMessage().startswith("DynamoDB Scan of table users:")
    assert warning.getMessage().endswith("— from users where n > :n")
    (debug,) = records(caplog)
    fields = debug.crossql
    assert (fields["plan"], fields["requests"], fields["items_read"], fields["rows"]) == \
        ("Scan", 2, 57, 3)
    assert fields["scanned_count"] == 57 and fields["consumed_capacity"] == 3.5
    # observed: consumed capacity asked for; the plan's own request is unchanged
    assert all(kw["ReturnConsumedCapacity"] == "TOTAL" for _, kw in client.calls)
    assert "ReturnConsumedCapacity" not in store.plan("from users where n > :n",
                                                      {"n": 0}).to_dict()["request"]


def test_without_debug_a_scan_still_warns_and_requests_keep_their_shape(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="crossql")
    client = scan_pages()
    store = store_with(client, allow_scan=True)
    store._tables["users"] = TableSchema(partition_key="_id")
    run(store.count("from users where n > 0"))
    assert len(records(caplog, logging.WARNING)) == 1
    assert records(caplog) == []
    assert all("ReturnConsumedCapacity" not in kw for _, kw in client.calls)


def test_a_dynamodb_query_does_not_warn(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="crossql")
    client = FakeClient(query=[{"Items": [item(1)], "Count": 1, "ScannedCount": 1}])
    store = store_with(client)
    store._tables["users"] = TableSchema(partition_key="_id")
    run(store.fetch("from users where _id == :id", id=SECRET))
    assert records(caplog, logging.WARNING) == []
    (debug,) = records(caplog)
    assert debug.crossql["plan"] == "Query" and debug.crossql["items_read"] == 1
    assert SECRET not in debug.getMessage()


# -- OpenTelemetry ---------------------------------------------------------------------------------




def test_one_span_per_call_with_the_database_conventions(spans: Any) -> None:
    from opentelemetry.trace import SpanKind

    async def main() -> None:
        store = await memory_store()
        await store.fetch("from users where age >= :min", min=5)
        async for _row in store.stream("from users where age > 8"):
            pass
        await store.count("from users")
        await store.execute("delete from users where _id == :id", id="u0")

    run(main())
    got = [s for s in spans.get_finished_spans() if s.name != "insert_many users"]
    assert [s.name for s in got] == ["fetch users", "stream users", "count users",
                                     "execute users"]
    fetch = got[0]
    assert fetch.kind == SpanKind.CLIENT
    attributes = dict(fetch.attributes)
    assert attributes["db.system.name"] == "crossql.memory"
    assert attributes["db.collection.name"] == "users"
    assert attributes["db.operation.name"] == "fetch"
    assert attributes["db.query.text"] == "from users where age >= :min"
    assert attributes["db.response.returned_rows"] == 5
    assert attributes["crossql.plan.kind"] == "evaluate"
    assert attributes["crossql.items_read"] == 10
    assert dict(got[1].attributes)["db.query.text"] == "from users where age > ?"
    assert dict(got[3].attributes)["crossql.deleted"] == 1


def test_calls_in_a_transaction_are_its_children_and_errors_are_recorded(spans: Any) -> None:
    from opentelemetry.trace import StatusCode

    async def main() -> None:
        store = await memory_store()
        async with store.transaction() as tx:
            await tx.fetch("from users where _id == :id", id="u1")
        with pytest.raises(crossql.QuerySyntaxError):
            await store.count("from users where")

    run(main())
    by_name = {s.name: s for s in spans.get_finished_spans()}
    tx, inner = by_name["transaction"], by_name["fetch users"]
    assert inner.parent is not None and inner.parent.span_id == tx.context.span_id
    assert dict(tx.attributes)["crossql.transaction.state"] == "committed"
    failed = by_name["count"]
    assert failed.status.status_code == StatusCode.ERROR
    assert dict(failed.attributes)["error.type"] == "syntax.unexpected-end" or \
        dict(failed.attributes)["error.type"].startswith("syntax")


def test_dynamodb_requests_are_child_spans_with_scanned_count(spans: Any) -> None:
    store = store_with(scan_pages(), allow_scan=True)
    store._tables["users"] = TableSchema(partition_key="_id")
    run(store.fetch("from users where n > :n", n=0))
    finished = spans.get_finished_spans()
    call = next(s for s in finished if s.name == "fetch users")
    pages = [s for s in finished if s.name == "Scan users"]
    assert len(pages) == 2
    assert all(p.parent is not None and p.parent.span_id == call.context.span_id
               for p in pages)
    assert [dict(p.attributes)["aws.dynamodb.scanned_count"] for p in pages] == [40, 17]
    assert [dict(p.attributes)["aws.dynamodb.count"] for p in pages] == [1, 2]
    capacity = dict(pages[0].attributes)["aws.dynamodb.consumed_capacity"]
    assert json.loads(capacity[0])["CapacityUnits"] == 2.5
    attributes = dict(call.attributes)
    assert attributes["db.system.name"] == "aws.dynamodb"
    assert attributes["aws.dynamodb.scanned_count"] == 57
    assert attributes["aws.dynamodb.table_names"] == (store.table_name("users"),)
    assert attributes["crossql.plan.kind"] == "Scan"
    assert attributes["crossql.requests"] == 2
    # a value goes into the requests, never into their spans
    store = store_with(FakeClient(query=[{"Items": [], "Count": 0, "ScannedCount": 0}]))
    store._tables["users"] = TableSchema(partition_key="_id")
    run(store.fetch("from users where _id == :id", id=SECRET))
    for span in spans.get_finished_spans():
        assert SECRET not in json.dumps(dict(span.attributes), default=str)


def test_without_opentelemetry_set_up_no_span_is_made(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(__import__("sys").modules, "opentelemetry.trace", raising=False)
    assert observe._tracer() is None


# -- no parameter value, anywhere ------------------------------------------------------------------


def test_no_parameter_value_appears_in_a_record_or_a_span(
        caplog: pytest.LogCaptureFixture, spans: Any) -> None:
    caplog.set_level(logging.DEBUG, logger="crossql")

    async def main() -> None:
        store = await memory_store()
        await store.fetch("from users where name == :n or name startswith :n", n=SECRET)
        await store.count("from users where tags contains :t", t=SECRET)
        async for _row in store.stream("from users where name in :names", names=[SECRET]):
            pass
        await store.execute("update users set name = :v where name == :v", v=SECRET)
        await store.collection("users").delete_many("name == :n", n=SECRET)
        await store.prepare("from users where name == :n").count(n=SECRET)
        async with store.transaction() as tx:
            await tx.fetch("from users where name != :n", n=SECRET)
        with pytest.raises(crossql.QueryError):
            await store.fetch("from users where name matches :p", p=SECRET + "(")
        with pytest.raises(crossql.QueryError):
            await store.fetch("from users limit :n", n=SECRET)

    run(main())
    assert records(caplog)
    for record in caplog.records:
        assert SECRET not in record.getMessage()
        assert SECRET not in json.dumps(getattr(record, "crossql", {}), default=str)
    finished = spans.get_finished_spans()
    assert len(finished) >= 9
    for span in finished:
        assert SECRET not in span.name
        assert SECRET not in json.dumps(dict(span.attributes), default=str)
        for event in span.events:
            assert SECRET not in json.dumps(dict(event.attributes), default=str)
        assert SECRET not in (span.status.description or "")


# -- the documented records are the ones made ------------------------------------------------------


@pytest.mark.parametrize("page", ["README.md", "docs/observability.md"])
def test_the_documented_debug_record_is_the_format_made(page: str) -> None:
    text = (ROOT / page).read_text(encoding="utf-8")
    start = "fetch users on dynamodb (Query, index by_age): "
    line = next(line for line in text.splitlines() if start in line)
    documented = start + line.split(start, 1)[1].rstrip("`.")
    requests, items, rows = (int(n) for n in re.findall(r"(\d+) (?:requests?|items?|rows?)\b",
                                                        documented))
    capacity = float(re.search(r"([\d.]+) capacity units", documented).group(1))
    elapsed = float(re.search(r"in ([\d.]+) ms", documented).group(1))
    fields = {"operation": "fetch", "backend": "dynamodb", "collection": "users",
              "plan": "Query", "index": "by_age", "requests": requests, "items_read": items,
              "scanned_count": items, "consumed_capacity": capacity, "rows": rows,
              "elapsed_ms": elapsed, "query": "from users where age >= :min"}
    assert observe._message(fields) == documented


def test_a_call_cancelled_before_it_starts_leaves_nothing_behind(
        caplog: pytest.LogCaptureFixture, spans: Any) -> None:
    caplog.set_level(logging.DEBUG, logger="crossql")

    async def main() -> None:
        store = await memory_store()
        caplog.clear()
        spans.clear()
        for _ in range(3):
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(store.fetch("from users"), 0)
        rows = store.stream("from users")  # never read: nothing sent, nothing recorded
        del rows

    run(main())  # (a coroutine never awaited would fail the test: warnings are errors)
    assert records(caplog) == [] and spans.get_finished_spans() == ()


# -- the text shown, for every statement ---------------------------------------------------


def _other_literals(node: Any) -> Any:
    """``node`` with every literal replaced by one and the same string."""
    if isinstance(node, ir.Literal):
        return dataclasses.replace(node, value="zz-other", kind="string")
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        return dataclasses.replace(node, **{f.name: _other_literals(getattr(node, f.name))
                                            for f in dataclasses.fields(node) if f.init})
    if isinstance(node, tuple):
        return tuple(_other_literals(n) for n in node)
    return node


@given(st.one_of(any_query(), any_write()))
def test_the_text_shown_is_parameterized_or_independent_of_every_literal(statement: Any) -> None:
    text = observe.query_text(statement)
    assert text is not None
    if any(isinstance(node, ir.Param) for node in ir.walk(statement)):
        assert text == crossql.format(statement)  # parameterized: kept as it is
    else:
        assert text == observe.query_text(_other_literals(statement))
        assert "zz-other" not in text
