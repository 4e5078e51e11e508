"""``crossql.connect_sync``: the store API without ``await`` (docs/sync.md), from plain
code and from inside a running event loop (as in Jupyter), closed cleanly."""

from __future__ import annotations

import asyncio
import gc
import threading
from typing import Any

import pytest

import crossql
from crossql.runtime.sync import SyncStore

MEMORY = {"driver": "memory"}
USERS = [{"_id": f"u{i}", "age": i} for i in range(6)]


def crossql_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "crossql-sync"]


@pytest.fixture
def store() -> Any:
    with crossql.connect_sync(MEMORY) as store:
        store.collection("users").insert_many(USERS)
        yield store


def test_the_main_methods_without_await(store: SyncStore) -> None:
    assert store.driver == "memory"
    assert store.fetch("from users where age >= :a order by age", a=4) == USERS[4:]
    assert store.count("from users where age < 2") == 2
    assert list(store.stream("from users where age > 4")) == [USERS[5]]
    assert store.prepare("from users where _id == :id").fetch(id="u1") == [USERS[1]]
    assert store.prepare("from users").count() == 6
    result = store.execute("update users set age = age + 10 where _id == :id", id="u0")
    assert (result.matched, result.modified) == (1, 1)
    users = store.collection("users")
    assert users.get("u0") == {"_id": "u0", "age": 10}
    assert users.insert_one({"_id": "x", "age": 99}) == "x"
    assert users.delete_many("age > :a", a=50) == 1
    assert store.plan("from users").summary() == "reference evaluator over the collection"
    store.drop_collection("users")
    assert store.fetch("from users") == []


def test_a_stream_is_an_iterator_that_can_be_closed_early(store: SyncStore) -> None:
    rows = store.stream("from users order by age")
    assert next(rows) == USERS[0]
    rows.close()
    with pytest.raises(StopIteration):
        next(rows)
    with store.stream("from users order by age desc") as rows:
        assert next(rows) == USERS[-1]


def test_transactions_commit_and_roll_back(store: SyncStore) -> None:
    with store.transaction() as tx:
        tx.execute("update users set age = 100 where _id == :id", id="u1")
        assert tx.fetch("from users where _id == 'u1'") == [{"_id": "u1", "age": 100}]
        assert tx.count("from users") == 6
        tx.collection("users").insert_one({"_id": "new"})
    assert tx.state == "committed"
    assert store.collection("users").get("new") == {"_id": "new"}
    with pytest.raises(ZeroDivisionError), store.transaction() as tx:
        tx.execute("delete from users where true")
        _ = 1 / 0
    assert tx.state == "rolled back"
    assert store.count("from users") == 7
    assert store.run_transaction(lambda tx: tx.count("from users where age == 100")) == 1


def test_it_works_inside_a_running_event_loop(store: SyncStore) -> None:
    async def notebook_cell() -> list[Any]:
        # a loop is running in this thread, as in Jupyter: the call does not need it
        asyncio.get_running_loop()
        rows = store.fetch("from users where age == :a", a=3)
        assert [r["_id"] for r in store.stream("from users where age < 2")] == ["u0", "u1"]
        return rows

    assert asyncio.run(notebook_cell()) == [USERS[3]]


def test_errors_are_the_stores_errors(store: SyncStore) -> None:
    with pytest.raises(crossql.QuerySyntaxError):
        store.fetch("from users where")
    with pytest.raises(crossql.QuerySemanticError):
        store.count("from users where age > :a")


def test_close_stops_the_loop_thread_and_is_idempotent() -> None:
    before = len(crossql_threads())
    store = crossql.connect_sync(MEMORY)
    assert len(crossql_threads()) == before + 1
    rows = store.stream("from users")
    store.close()
    store.close()
    assert store.closed
    assert len(crossql_threads()) == before
    with pytest.raises(crossql.BackendError, match="closed"):
        store.fetch("from users")
    del rows


def test_a_forgotten_store_is_closed_when_collected() -> None:
    before = len(crossql_threads())
    store = crossql.connect_sync(MEMORY)
    store.fetch("from users")
    del store
    gc.collect()
    assert len(crossql_threads()) == before


def test_a_stream_left_unfinished_is_finished_at_close() -> None:
    store = crossql.connect_sync(MEMORY)
    store.collection("c").insert_many([{"_id": 1}, {"_id": 2}])
    rows = store.stream("from c")
    assert next(rows) == {"_id": 1}
    store.close()  # no warning (pytest runs with warnings as errors)
    assert not crossql_threads()


def test_named_backends_share_the_loop() -> None:
    config = {"driver": "memory", "backends": [{"name": "other", "driver": "memory"}]}
    with crossql.connect_sync(config) as store:
        other = store.backend("other")
        other.collection("c").insert_one({"_id": 1})
        assert store["other"].fetch("from c") == [{"_id": 1}]
        assert store.fetch("from c") == []
        assert store.backend_names == ["default", "other"]




def test_calls_are_children_of_the_callers_span(spans: Any,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from opentelemetry import trace

    caplog.set_level(logging.DEBUG, logger="crossql")
    with crossql.connect_sync(MEMORY) as store:
        store.collection("users").insert_many(USERS)
        with trace.get_tracer("app").start_as_current_span("cell") as cell:
            store.fetch("from users where age > :a", a=1)
            assert len(list(store.stream("from users"))) == 6
            with store.transaction() as tx:
                tx.count("from users")
                tx.collection("users").insert_one({"_id": "t"})
    finished = {s.name: s for s in spans.get_finished_spans()}
    parent = cell.get_span_context().span_id
    assert finished["fetch users"].parent.span_id == parent
    assert finished["stream users"].parent.span_id == parent
    assert finished["transaction"].parent.span_id == parent
    tx_id = finished["transaction"].context.span_id
    assert finished["count users"].parent.span_id == tx_id
    operations = [r.crossql["operation"] for r in caplog.records if r.name == "crossql"]
    assert operations == ["insert_many", "fetch", "stream", "count", "insert_many",
                          "transaction"]
