"""Live queries on the memory store (the oracle of the other backends' watches), and the
shared core: classification, refusals, the bounded buffer, closing."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

import crossql
from crossql.errors import BackendError, CapabilityError
from crossql.runtime.watch import Change, WatchOverflow
from tests.backends.conftest import canonical
from tests.backends.watch_differential import (
    COLLECTION,
    Step,
    apply_steps,
    load,
    memory_native_put,
    query_text,
    watch_scenarios,
)
from tests.budget import examples


def _run(body: Any) -> Any:
    async def main() -> Any:
        async with crossql.connect({"driver": "memory"}) as store:
            return await body(store)
    return asyncio.run(main())


def _kinds(changes: list[Change]) -> list[tuple[str, Any, Any, Any]]:
    return [(c.kind, c.id, c.row, c.old) for c in changes]


async def _drain(watch: Any) -> list[Change]:
    out = []
    while len(watch.buffer):
        out.append(await watch.__anext__())
    return out


def test_kinds_follow_membership_before_and_after_each_write() -> None:
    async def body(store: Any) -> list[Change]:
        c = store.collection("u")
        await c.insert_many([{"_id": 1, "a": 1}, {"_id": 2, "a": 5}])
        async with store.watch("from u where a > 2 select a") as watch:
            await c.insert_one({"_id": 3, "a": 7})          # inserted into the result
            await store.execute("update u set a = 10 where _id == 1")  # updated into it
            await store.execute("update u set a = 11 where _id == 1")  # still in it
            await store.execute("update u set a = 0 where _id == 2")   # updated out of it
            await store.execute("update u set a = 7 where _id == 3")   # no change: nothing
            await c.delete_many("_id == 3")                  # deleted
            await c.insert_one({"_id": 4, "a": 0})          # never in it: nothing
            return await _drain(watch)

    assert _kinds(_run(body)) == [
        ("added", 3, {"a": 7}, None),
        ("added", 1, {"a": 10}, None),
        ("modified", 1, {"a": 11}, {"a": 10}),
        ("removed", 2, None, {"a": 5}),
        ("removed", 3, None, {"a": 7}),
    ]


def test_unknown_is_not_a_match_and_null_is_not_missing() -> None:
    async def body(store: Any) -> list[Change]:
        c = store.collection("u")
        async with store.watch("from u where not (a == 1) or a == null") as watch:
            await c.insert_one({"_id": "missing"})  # unknown or false: not a match
            await c.insert_one({"_id": "null", "a": None})  # unknown or true: a match
            await c.insert_one({"_id": "two", "a": 2})  # true or false
            await c.insert_one({"_id": "one", "a": 1})  # false or false
            return await _drain(watch)

    assert [(c.kind, c.id) for c in _run(body)] == [("added", "null"), ("added", "two")]


def test_initial_first_emits_the_current_matches() -> None:
    async def body(store: Any) -> list[Change]:
        c = store.collection("u")
        await c.insert_many([{"_id": i, "a": i} for i in range(5)])
        async with store.watch("from u where a >= :low", initial=True, low=3, buffer=1) as w:
            await c.delete_many("_id == 4")
            return await _drain(w)

    assert _kinds(_run(body)) == [("added", 3, {"_id": 3, "a": 3}, None),
                                  ("added", 4, {"_id": 4, "a": 4}, None),
                                  ("removed", 4, None, {"_id": 4, "a": 4})]


def test_a_committed_transaction_and_a_dropped_collection_are_changes() -> None:
    async def body(store: Any) -> list[Change]:
        async with store.watch("from u") as watch:
            async with store.transaction() as tx:
                await tx.collection("u").insert_one({"_id": 1})
                assert not len(watch.buffer)  # nothing before the commit
            await store.drop_collection("u")
            return await _drain(watch)

    assert [(c.kind, c.id) for c in _run(body)] == [("added", 1), ("removed", 1)]


@pytest.mark.parametrize(("text", "construct", "at"), [
    ("from u where a > 1 order by a", "order by", "a"),
    ("from u limit 3", "limit", "3"),
    ("from u limit 3 offset 1", "limit", "3"),
    ("from u group by a select a, count()", "group by", "a"),
    ("from u select sum(a)", "sum", "sum(a)"),
    ("from u select count()", "count()", "count()"),
])
def test_what_a_live_query_does_not_keep_is_refused_where_it_is_written(
        text: str, construct: str, at: str) -> None:
    configs = [{"driver": "memory"},
               {"driver": "mongodb", "mongodb": {"uri": "mongodb://127.0.0.1:1/", "database": "x"}}]
    for config in configs:  # refused before anything is sent: the same on every backend
        store: Any = crossql.connect(config)
        with pytest.raises(CapabilityError) as caught:
            store.watch(text)
        err = caught.value
        assert err.construct == construct
        assert err.code == f"capability.{store.driver}.live-query"
        assert err.span is not None and text[err.span[0]:err.span[1]].startswith(at)


def test_a_slow_consumer_gets_what_was_buffered_then_a_clear_error() -> None:
    async def body(store: Any) -> tuple[list[Change], BaseException | None]:
        c = store.collection("u")
        got: list[Change] = []
        async with store.watch("from u", buffer=2) as watch:
            for i in range(3):
                await c.insert_one({"_id": i})
            assert not store._listeners  # the overflow released the store at once
            try:
                async for change in watch:
                    got.append(change)
            except WatchOverflow as err:
                return got, err
        return got, None

    got, err = _run(body)
    assert [c.id for c in got] == [0, 1]
    assert isinstance(err, BackendError) and "more than 2 changes behind" in str(err)


def test_close_and_cancellation_release_the_listener() -> None:
    async def body(store: Any) -> None:
        async with store.watch("from u"):
            assert store._listeners
        assert not store._listeners
        started = asyncio.Event()

        async def consumer() -> None:
            async with store.watch("from u") as watch:
                started.set()
                async for _ in watch:
                    pass

        task = asyncio.create_task(consumer())
        await started.wait()
        assert store._listeners
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not store._listeners

    _run(body)


def test_a_memory_watch_cannot_resume() -> None:
    async def body(store: Any) -> None:
        with pytest.raises(BackendError, match="cannot resume"):
            async with store.watch("from u", resume_after="x"):
                pass

    _run(body)


async def _result_diff(store: Any, text: str, before: dict[str, Any]) -> tuple[
        list[tuple[str, str, str | None]], dict[str, Any]]:
    """The changes of the result between two runs of the query (an independent oracle)."""
    now = {canonical(r["_id"]): r for r in await store.fetch(text)}
    out = []
    for key in before:
        if key not in now:
            out.append((key, "removed", None))
    for key, row in now.items():
        if key not in before:
            out.append((key, "added", canonical(row)))
        elif canonical(before[key]) != canonical(row):
            out.append((key, "modified", canonical(row)))
    return out, now


@settings(max_examples=examples(100), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(scenario=watch_scenarios(max_steps=12))
def test_memory_watch_equals_the_result_rerun_after_each_write(scenario: Any) -> None:
    where, start, steps = scenario
    text = query_text(where)

    async def body(store: Any) -> None:
        await load(store, start)
        expected: list[tuple[str, str, str | None]] = []
        seen = {canonical(r["_id"]): r for r in await store.fetch(text)}

        async def rerun() -> None:
            nonlocal seen
            diff, seen = await _result_diff(store, text, seen)
            expected.extend(diff)

        async with store.watch(text, buffer=10_000) as watch:
            await apply_steps(store, steps, memory_native_put, rerun)
            got = await _drain(watch)
        mine = [(canonical(c.id), c.kind, None if c.row is None else canonical(c.row))
                for c in got]
        # per document, in order (one write's documents come in the collection's order)
        assert by_key(mine) == by_key(expected)

    _run(body)


def by_key(changes: list[tuple[str, str, str | None]]) -> dict[str, list[tuple[str, str | None]]]:
    out: dict[str, list[tuple[str, str | None]]] = {}
    for key, kind, row in changes:
        out.setdefault(key, []).append((kind, row))
    return out


def test_the_scenario_steps_are_what_they_say() -> None:
    # the helper's own check: a native put replaces the document and tells the watch
    async def body(store: Any) -> list[Change]:
        await load(store, [{"_id": "d00", "n": 1}])
        async with store.watch(f"from {COLLECTION} where n == 2") as watch:
            await apply_steps(store, [Step("native", doc={"_id": "d00", "n": 2})],
                              memory_native_put)
            return await _drain(watch)

    assert _kinds(_run(body)) == [("added", "d00", {"_id": "d00", "n": 2}, None)]
