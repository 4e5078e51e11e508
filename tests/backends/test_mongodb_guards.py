"""MongoDB on a real server: every semantic guard, checked by hand-worked answers."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import crossql
from tests.backends.conftest import load, same_rows
from tests.backends.guard_cases import DOCS, FILTER_CASES, ORDERED_CASES, ROW_CASES

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def people(runner: asyncio.Runner, mongo_store: Any) -> Any:
    load(runner, mongo_store, "people", DOCS)
    return mongo_store


@pytest.mark.parametrize(("condition", "ids"), FILTER_CASES)
def test_filter_guard(runner: asyncio.Runner, people: Any, condition: str,
                      ids: list[int]) -> None:
    query = f"from people where {condition}"
    reference = [row["_id"] for row in crossql.evaluate(query, DOCS)]
    assert sorted(reference) == sorted(ids), "the hand-worked answer disagrees with the reference"
    got = [row["_id"] for row in runner.run(people.fetch(query))]
    assert sorted(got) == sorted(ids), people.plan(query).to_json()
    assert runner.run(people.count(query)) == len(ids)


@pytest.mark.parametrize(("query", "ids"), ORDERED_CASES)
def test_order(runner: asyncio.Runner, people: Any, query: str, ids: list[int]) -> None:
    assert [row["_id"] for row in crossql.evaluate(query, DOCS)] == ids
    assert [row["_id"] for row in runner.run(people.fetch(query))] == ids


@pytest.mark.parametrize(("query", "rows"), ROW_CASES)
def test_rows(runner: asyncio.Runner, people: Any, query: str,
              rows: list[dict[str, Any]]) -> None:
    ordered = "order by" in query
    assert same_rows(crossql.evaluate(query, DOCS), rows, ordered=ordered)
    assert same_rows(runner.run(people.fetch(query)), rows, ordered=ordered), \
        people.plan(query).to_json()
    assert runner.run(people.count(query)) == len(rows)


def test_stream_yields_rows_one_by_one(runner: asyncio.Runner, people: Any) -> None:
    async def first_two() -> list[Any]:
        out = []
        async for row in people.stream("from people order by _id"):
            out.append(row["_id"])
            if len(out) == 2:
                break
        return out

    assert runner.run(first_two()) == [1, 2]


def test_prepared_query_binds_per_call(runner: asyncio.Runner, people: Any) -> None:
    prepared = people.prepare("from people where age >= :min order by _id")
    assert [r["_id"] for r in runner.run(prepared.fetch(min=30))] == [1, 6]
    assert [r["_id"] for r in runner.run(prepared.fetch(min=10))] == [1, 3, 6]


def test_documents_round_trip(runner: asyncio.Runner, mongo_store: Any) -> None:
    coll = mongo_store.collection("docs")
    runner.run(mongo_store.drop_collection("docs"))
    new_id = runner.run(coll.insert_one({"name": "x", "nested": {"a": [1, 2.5, None]}}))
    assert isinstance(new_id, str) and len(new_id) == 24
    row = runner.run(coll.get(new_id))
    assert row == {"_id": new_id, "name": "x", "nested": {"a": [1, 2.5, None]}}
    assert list(row) == ["_id", "name", "nested"]
    assert runner.run(coll.get("nope")) is None
    runner.run(coll.insert_many([{"_id": i, "v": i} for i in range(10)]))
    assert runner.run(coll.delete_many("v >= :lo", lo=5)) == 5
    assert runner.run(mongo_store.count("from docs")) == 6
    with pytest.raises(crossql.BackendError, match="mongodb"):
        runner.run(coll.insert_one({"_id": 1}))


def test_string_values_are_never_operators_or_paths(runner: asyncio.Runner,
                                                    mongo_store: Any) -> None:
    load(runner, mongo_store, "lit", [{"_id": 1, "a": "$b", "b": "x"}, {"_id": 2, "a": "x"}])
    assert [r["_id"] for r in runner.run(mongo_store.fetch("from lit where a == :v",
                                                           v="$b"))] == [1]
    rows = runner.run(mongo_store.fetch("from lit group by a select a, count() as n order by a"))
    assert rows == [{"a": "$b", "n": 1}, {"a": "x", "n": 1}]
    with pytest.raises(crossql.QuerySemanticError, match="plain value"):
        runner.run(mongo_store.fetch("from lit where a == :v", v={"$ne": None}))


@pytest.mark.parametrize("kind", ["pymongo-client", "pymongo-database", "motor-client",
                                  "motor-database"])
def test_existing_driver_objects_are_accepted(runner: asyncio.Runner, mongodb_uri: str,
                                              people: Any, kind: str) -> None:
    """Applications already hold a client: PyMongo's async one, or (deprecated) Motor's."""
    database = people.database.name

    async def run() -> list[Any]:
        if kind.startswith("motor"):
            from motor.motor_asyncio import AsyncIOMotorClient

            client: Any = AsyncIOMotorClient(mongodb_uri)
        else:
            from pymongo import AsyncMongoClient

            client = AsyncMongoClient(mongodb_uri)
        handed = client[database] if kind.endswith("database") else client
        try:
            store = crossql.connect({"driver": "mongodb", "mongodb": {"database": database}},
                                    client=handed)
            async with store:
                rows = await store.fetch("from people where age >= 30 order by _id")
                rows += await store.fetch(
                    "from people group by status select status, count() as n order by status")
                rows.append({"count": await store.count("from people where tags contains 'vip'")})
            return rows
        finally:
            result = client.close()
            if asyncio.iscoroutine(result):
                await result

    rows = runner.run(run())
    assert [r.get("_id") for r in rows[:2]] == [1, 6]
    assert rows[2:5] == [{"status": None, "n": 3}, {"status": "active", "n": 2},
                         {"status": "inactive", "n": 1}]
    assert rows[5] == {"count": 2}


ID_DOCS: list[dict[str, Any]] = [
    {"_id": 1, "n": 1}, {"_id": 2.5, "n": 2}, {"_id": "1", "n": 3}, {"_id": "apple", "n": 4},
    {"_id": None, "n": 5}, {"_id": True, "n": 6}, {"_id": {"k": 1}, "n": 7},
]


@pytest.fixture(scope="module")
def ids(runner: asyncio.Runner, mongo_store: Any) -> Any:
    load(runner, mongo_store, "ids", ID_DOCS)
    return mongo_store


@pytest.mark.parametrize("condition", [
    "_id == 1", "_id == 1.0", "_id == \"1\"", "_id == null", "_id == true", "_id == [1]",
    "_id != 1", "_id != null", "not _id == \"apple\"", "_id in [1, \"apple\", false]",
    "_id not in [1, \"apple\"]", "_id in [null, 1]", "_id not in [null, 2.5]", "_id < 3",
    "not (_id < 3)", "_id >= \"a\"", "_id between 1 and 3", "not (_id between 1 and 3)",
    "_id startswith \"a\"", "not (_id startswith \"a\")", "_id matches \"^[0-9]\"",
    "_id == 1 and n == 1", "_id == 1 or _id == \"1\"",
])
def test_id_predicates_without_array_guards(runner: asyncio.Runner, ids: Any,
                                            condition: str) -> None:
    # `_id` is never an array nor missing, so its plans carry no guard: they still give
    # the reference's rows over `_id`s of every other kind
    query = f"from ids where {condition}"
    want = sorted(row["n"] for row in crossql.evaluate(query, ID_DOCS))
    got = sorted(row["n"] for row in runner.run(ids.fetch(query)))
    assert got == want, ids.plan(query).to_json()


ARRAY_OF_MAPS: list[dict[str, Any]] = [
    {"_id": "a1", "aom": [{"k": 5}, {"k": 1}], "n": 1}, {"_id": "a2", "aom": [{"k": 3}], "n": 2},
    {"_id": "a3", "aom": {"k": 4}, "n": 3}, {"_id": "a4", "n": 4},
    {"_id": "a5", "aom": {"k": None}, "n": 5}, {"_id": "a6", "aom": {"j": 1}, "n": 6},
    {"_id": "a7", "aom": {"k": 0}, "n": 7}, {"_id": "a8", "aom": 3, "n": 8},
    {"_id": "a9", "aom": {"m": [{"z": 1}]}, "n": 9}, {"_id": "b0", "aom": {"m": {"z": 2}}, "n": 10},
]


@pytest.mark.parametrize("query", [
    "from items select _id order by aom.k, _id",
    "from items order by aom.k, _id",
    "from items order by aom.k desc, _id",
    "from items order by aom.m.z, _id desc",
    "from items order by aom.k, _id limit 3 offset 2",
    "from items where n > 1 select n, aom.k order by aom.k desc, n",
    "from items select aom.k as key, _id order by key, _id",
    "from items select _id, n order by n desc, aom.k",
])
def test_order_by_a_dotted_path_through_an_array_of_maps(runner: asyncio.Runner,
                                                         mongo_store: Any, query: str) -> None:
    # the reference reads `aom.k` as missing where `aom` is an array (sorted first, with
    # null); MongoDB's $sort reads into the array, so the plan computes a guarded key
    load(runner, mongo_store, "items", ARRAY_OF_MAPS)
    want = crossql.evaluate(query, ARRAY_OF_MAPS)
    got = runner.run(mongo_store.fetch(query))
    assert got == want, mongo_store.plan(query).to_json()
    assert runner.run(mongo_store.count(query)) == len(want)


def test_the_issue_example_sorts_as_the_reference(runner: asyncio.Runner,
                                                  mongo_store: Any) -> None:
    docs = [{"_id": "a1", "aom": [{"k": 5}, {"k": 1}]}, {"_id": "a2", "aom": [{"k": 3}]},
            {"_id": "a3", "aom": {"k": 4}}, {"_id": "a4"}]
    load(runner, mongo_store, "items", docs)
    query = "from items select _id order by aom.k, _id"
    assert [r["_id"] for r in runner.run(mongo_store.fetch(query))] == ["a1", "a2", "a4", "a3"]
