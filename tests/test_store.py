"""The memory store end to end, through ``crossql.connect({"driver": "memory"})``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

import crossql
from crossql import ir
from crossql.runtime.store import Store

R = TypeVar("R")

USERS: list[dict[str, Any]] = [
    {"_id": "u1", "name": "Ada", "age": 36, "tags": ["admin", "vip"], "addr": {"city": "Paris"}},
    {"_id": "u2", "name": "Bob", "age": 17, "tags": []},
    {"_id": "u3", "name": "Cy", "age": None, "tags": ["vip"]},
    {"_id": "u4", "name": "Di", "addr": {"city": "Berlin"}},
    {"_id": "u5", "name": "Ed", "age": 52, "tags": ["vip"], "addr": {"city": "Paris"}},
]


def run(body: Callable[[Store], Awaitable[R]], config: Any = None) -> R:
    """Open a fresh memory store, run ``body(store)`` inside ``async with``."""

    async def main() -> R:
        store = crossql.connect(config if config is not None else {"driver": "memory"})
        async with store:
            return await body(store)

    return asyncio.run(main())


async def _with_users(store: Store) -> Store:
    await store.collection("users").insert_many(USERS)
    return store


def _ids(rows: list[dict[str, Any]]) -> list[Any]:
    return [r["_id"] for r in rows]


# --- connect and config ------------------------------------------------------------


def test_connect_returns_a_memory_store() -> None:
    store = crossql.connect({"driver": "memory"})
    assert isinstance(store, crossql.Store)
    assert store.driver == "memory"
    assert crossql.connect().driver == "memory"  # memory is the default
    assert crossql.connect({"nosql": {"driver": "memory"}}).driver == "memory"


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({"driver": "memory", "bogus": 1}, "bogus"),
        ({"driver": "memory", "memory": {"plan_cache_sise": 3}}, "memory.plan_cache_sise"),
        ({"nosql": {"driver": "memory", "extra_key": True}}, "extra_key"),
    ],
)
def test_unknown_config_keys_are_refused_by_name(config: dict[str, Any], key: str) -> None:
    with pytest.raises(crossql.ConfigError) as info:
        crossql.connect(config)
    assert any(path == key for path, _msg in info.value.problems), info.value.problems
    assert key in str(info.value)


def test_unknown_driver_is_a_config_error() -> None:
    with pytest.raises(crossql.ConfigError) as info:
        crossql.connect({"driver": "oracle"})
    assert "driver" in str(info.value)


# --- insert and get ------------------------------------------------------------------


def test_insert_with_and_without_id() -> None:
    async def body(store: Store) -> None:
        users = store.collection("users")
        given = await users.insert_one({"_id": "me", "name": "Me"})
        assert given == "me"
        generated = await users.insert_many([{"name": "A"}, {"name": "B", "k": 1}, {}])
        assert len(generated) == 3
        assert len(set(generated)) == 3
        assert "me" not in generated
        for doc_id in generated:
            assert doc_id is not None
            doc = await users.get(doc_id)
            assert doc is not None
            assert next(iter(doc)) == "_id"
            assert doc["_id"] == doc_id
        # _id is the first key of every row, even when the document gave it last
        await users.insert_one({"z": 1, "a": 2, "_id": "last"})
        rows = await store.fetch("from users where z == 1")
        assert rows == [{"_id": "last", "z": 1, "a": 2}]
        assert list(rows[0]) == ["_id", "z", "a"]
        assert await users.get("missing") is None
        assert await store.count("from users") == 5
        assert await users.insert_many([]) == []

    run(body)


def test_get_returns_the_stored_document() -> None:
    async def body(store: Store) -> None:
        await _with_users(store)
        users = store.collection("users")
        assert await users.get("u1") == USERS[0]
        assert await users.get("u4") == USERS[3]
        assert await store.collection("other").get("u1") is None

    run(body)


def test_duplicate_id_is_an_error_and_inserts_nothing() -> None:
    async def body(store: Store) -> None:
        users = store.collection("users")
        await users.insert_one({"_id": 1, "v": "first"})
        with pytest.raises(crossql.BackendError) as info:
            await users.insert_one({"_id": 1, "v": "second"})
        assert "_id" in str(info.value)
        assert info.value.backend == "memory"
        with pytest.raises(crossql.BackendError):
            await users.insert_many([{"_id": 2}, {"_id": 2}])
        with pytest.raises(crossql.BackendError):
            await users.insert_many([{"_id": 3}, {"_id": 1}])
        assert await users.get(1) == {"_id": 1, "v": "first"}
        assert await users.get(2) is None  # a refused batch inserts nothing
        assert await users.get(3) is None
        # ids compare as CrossQL values: 1.0 is 1; true is not 1; "1" is not 1
        with pytest.raises(crossql.BackendError):
            await users.insert_one({"_id": 1.0})
        await users.insert_many([{"_id": True}, {"_id": "1"}])
        assert await store.count("from users") == 3
        # the same id in another collection is fine
        await store.collection("other").insert_one({"_id": 1})

    run(body)


def test_insert_refuses_non_documents() -> None:
    async def body(store: Store) -> None:
        with pytest.raises(TypeError):
            await store.collection("users").insert_many([["not", "a", "dict"]])  # type: ignore[list-item]

    run(body)


# --- stored documents are copies ------------------------------------------------------


def test_stored_documents_are_copies() -> None:
    async def body(store: Store) -> None:
        users = store.collection("users")
        doc: dict[str, Any] = {"_id": "a", "tags": ["x"], "m": {"k": 1}}
        await users.insert_one(doc)
        doc["tags"].append("changed")
        doc["m"]["k"] = 99
        doc["new"] = True
        assert await users.get("a") == {"_id": "a", "tags": ["x"], "m": {"k": 1}}
        no_id: dict[str, Any] = {"v": [1]}
        (generated,) = await users.insert_many([no_id])
        assert "_id" not in no_id  # the caller's dict is not given an id
        no_id["v"].append(2)
        assert await users.get(generated) == {"_id": generated, "v": [1]}

        row = (await store.fetch("from users where _id == 'a'"))[0]
        row["tags"].append("row")
        row["m"]["k"] = -1
        got = await users.get("a")
        assert got == {"_id": "a", "tags": ["x"], "m": {"k": 1}}
        assert got is not None
        got["tags"].clear()
        async for streamed in store.stream("from users where _id == 'a' select tags, m.k"):
            assert streamed == {"tags": ["x"], "m": {"k": 1}}
            streamed["tags"].append("s")
        assert (await store.fetch("from users where _id == 'a'"))[0]["tags"] == ["x"]

    run(body)


# --- fetch, stream, count --------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "params", "expected"),
    [
        ("from users where age >= :min order by age", {"min": 18}, ["u1", "u5"]),
        ("from users where age >= :min order by age", {"min": 40}, ["u5"]),
        ("from users where not (age >= :min) order by _id", {"min": 40}, ["u1", "u2"]),
        ("from users where tags contains :t order by _id desc", {"t": "vip"}, ["u5", "u3", "u1"]),
        ("from users where _id in :ids", {"ids": ["u2", "u4", "zz"]}, ["u2", "u4"]),
        ("from users where addr.city == :c", {"c": "Paris"}, ["u1", "u5"]),
        ("from users where age == null", {}, ["u3"]),
        ("from users where not exists(age)", {}, ["u4"]),
        ("from users where age != 17", {}, ["u1", "u5"]),
        ("from users order by age desc, _id limit :n offset :o", {"n": 2, "o": 1},
         ["u1", "u2"]),
        ("from users where name startswith :p", {"p": "E"}, ["u5"]),
        ("from nobody", {}, []),
    ],
)
def test_fetch_stream_count(query: str, params: dict[str, Any], expected: list[str]) -> None:
    async def body(store: Store) -> None:
        await _with_users(store)
        assert _ids(await store.fetch(query, **params)) == expected
        assert _ids([row async for row in store.stream(query, **params)]) == expected
        assert await store.count(query, **params) == len(expected)

    run(body)


def test_fetch_shapes_rows() -> None:
    async def body(store: Store) -> None:
        await _with_users(store)
        rows = await store.fetch("from users where age > 30 select name, addr.city order by age")
        assert rows == [
            {"name": "Ada", "addr": {"city": "Paris"}},
            {"name": "Ed", "addr": {"city": "Paris"}},
        ]
        assert await store.fetch(
            "from users group by addr.city select addr.city as city, count() as n "
            "order by n desc, city"
        ) == [{"city": None, "n": 2}, {"city": "Paris", "n": 2}, {"city": "Berlin", "n": 1}]
        assert await store.fetch("from users where age > :a select count() as n, avg(age) as m",
                                 a=100) == [{"n": 0, "m": None}]
        # a count of an aggregate query counts its rows
        assert await store.count("from users group by addr.city") == 3

    run(body)


def test_a_parameter_may_be_called_text() -> None:
    async def body(store: Store) -> None:
        await _with_users(store)
        rows = await store.fetch("from users where name == :text", text="Bob")
        assert _ids(rows) == ["u2"]
        assert await store.count("from users where name == :text", text="Bob") == 1

    run(body)


def test_fetch_errors() -> None:
    async def body(store: Store) -> None:
        await _with_users(store)
        with pytest.raises(crossql.QuerySyntaxError):
            await store.fetch("from users where")
        with pytest.raises(crossql.QuerySemanticError, match="not bound"):
            await store.fetch("from users where age > :min")
        with pytest.raises(crossql.QuerySemanticError, match="unused"):
            await store.fetch("from users", min=3)
        with pytest.raises(crossql.QuerySemanticError):
            await store.count("from users where age < true")
        with pytest.raises(crossql.QuerySemanticError):
            [r async for r in store.stream("from users where age > :min", min={"$gt": 1})]

    run(body)


# --- prepare ------------------------------------------------------------------------------


def test_prepare_then_fetch_with_different_params() -> None:
    async def body(store: Store) -> None:
        await _with_users(store)
        adults = store.prepare("from users where age >= :min order by _id")
        assert _ids(await adults.fetch(min=18)) == ["u1", "u5"]
        assert _ids(await adults.fetch(min=0)) == ["u1", "u2", "u5"]
        assert _ids(await adults.fetch(min=99)) == []
        assert await adults.count(min=18) == 2
        assert _ids([r async for r in adults.stream(min=50)]) == ["u5"]
        # new documents are seen by the prepared query
        await store.collection("users").insert_one({"_id": "u6", "age": 70})
        assert _ids(await adults.fetch(min=50)) == ["u5", "u6"]
        with pytest.raises(crossql.QuerySemanticError, match="not bound"):
            await adults.fetch()
        with pytest.raises(crossql.QuerySemanticError):
            await adults.fetch(min=18, max=3)
        with pytest.raises(crossql.QuerySemanticError):
            await adults.fetch(min=[18])
        # a bad call does not spoil the next one
        assert await adults.count(min=18) == 3

    run(body)


def test_prepare_checks_the_text_once_up_front() -> None:
    async def body(store: Store) -> None:
        with pytest.raises(crossql.QuerySyntaxError):
            store.prepare("from users where age >")
        with pytest.raises(crossql.QuerySemanticError):
            store.prepare("from users where age < :x and age < true")
        with pytest.raises(crossql.QuerySemanticError):
            store.prepare("from users select name, count()")

    run(body)


# --- delete_many ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "params", "deleted", "left"),
    [
        ("age < 18", {}, 1, ["u1", "u3", "u4", "u5"]),
        ("age < :max", {"max": 40}, 2, ["u3", "u4", "u5"]),
        ("from users where age < :max", {"max": 40}, 2, ["u3", "u4", "u5"]),
        ("FROM users WHERE tags contains 'vip'", {}, 3, ["u2", "u4"]),
        ("  -- a comment\n  from users where exists(addr)", {}, 3, ["u2", "u3"]),
        ("not (age < 18)", {}, 2, ["u2", "u3", "u4"]),  # unknown is not deleted
        ("age == null", {}, 1, ["u1", "u2", "u4", "u5"]),
        ("not exists(age)", {}, 1, ["u1", "u2", "u3", "u5"]),
        ("age > 1000", {}, 0, ["u1", "u2", "u3", "u4", "u5"]),
        ("_id in :ids", {"ids": ["u1", "u5", "nope"]}, 2, ["u2", "u3", "u4"]),
    ],
)
def test_delete_many(where: str, params: dict[str, Any], deleted: int, left: list[str]) -> None:
    async def body(store: Store) -> None:
        await _with_users(store)
        assert await store.collection("users").delete_many(where, **params) == deleted
        assert _ids(await store.fetch("from users order by _id")) == left

    run(body)


def test_delete_many_on_fields_whose_names_begin_with_from() -> None:
    # `fromage == 1` is a condition, not a query (regression: it was parsed as one)
    async def body(store: Store) -> None:
        things = store.collection("things")
        await things.insert_many([{"_id": 1, "fromage": 1, "from_date": 5},
                                  {"_id": 2, "fromage": 2, "from_date": 9}])
        assert await things.delete_many("fromage == 1") == 1
        assert await things.delete_many("from_date > :d", d=6) == 1
        assert await store.count("from things") == 0

    run(body)


def test_delete_many_with_a_condition_node() -> None:
    async def body(store: Store) -> None:
        await _with_users(store)
        cond = ir.Compare(">", ir.Path(("age",)), ir.Literal(30, "int"))
        assert await store.collection("users").delete_many(cond) == 2

    run(body)


@pytest.mark.parametrize(
    ("where", "params", "error"),
    [
        ("from other where age < 18", {}, crossql.QuerySemanticError),  # another collection
        ("from users", {}, crossql.QuerySemanticError),  # no where: use drop_collection
        ("from users where age < 18 limit 1", {}, crossql.QuerySemanticError),
        ("from users where age < 18 order by age", {}, crossql.QuerySemanticError),
        ("from users where age < 18 select name", {}, crossql.QuerySemanticError),
        ("from users where age < 18 group by age", {}, crossql.QuerySemanticError),
        ("from users where age < 18 offset 1", {}, crossql.QuerySemanticError),
        ("age <", {}, crossql.QuerySyntaxError),
        ("age < :max", {}, crossql.QuerySemanticError),  # unbound
        ("age < 18", {"max": 1}, crossql.QuerySemanticError),  # unused
        ("age < true", {}, crossql.QuerySemanticError),
        ("age < :max", {"max": {"$gt": 0}}, crossql.QuerySemanticError),
    ],
)
def test_refused_deletes_delete_nothing(where: str, params: dict[str, Any],
                                        error: type[Exception]) -> None:
    async def body(store: Store) -> None:
        await _with_users(store)
        with pytest.raises(error):
            await store.collection("users").delete_many(where, **params)
        assert await store.count("from users") == len(USERS)

    run(body)


def test_drop_collection() -> None:
    async def body(store: Store) -> None:
        await _with_users(store)
        await store.drop_collection("users")
        assert await store.count("from users") == 0
        await store.drop_collection("never-existed")

    run(body)


# --- the plan cache ---------------------------------------------------------------------


def test_plan_cache_size_from_config() -> None:
    async def body(store: Store) -> None:
        text = "from users where age > 1"
        assert store.plan(text) is not store.plan(text)  # caching is off

    run(body, {"driver": "memory", "memory": {"plan_cache_size": 0}})

    async def small(store: Store) -> None:
        a, b = "from users where age > 1", "from users where age > 2"
        first = store.plan(a)
        assert store.plan(a) is first
        store.plan(b)  # evicts a (LRU of one)
        assert store.plan(a) is not first

    run(small, {"driver": "memory", "memory": {"plan_cache_size": 1}})
