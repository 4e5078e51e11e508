"""DynamoDB Local: every semantic guard, checked by hand-worked answers.

The shared guard cases (tests/backends/guard_cases.py) run on a table keyed by
the numeric ``_id``: accepted queries must return the hand-worked ids, refused
ones must raise ``CapabilityError`` for the construct listed here. Then the
cases DynamoDB adds: key conditions on a table with a sort key and indexes,
values that only exist in DynamoDB (sets), writes, errors.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import crossql
from crossql.backends.dynamodb.store import DynamoStore
from tests.backends.conftest import load, same_rows
from tests.backends.dynamo_support import store_config
from tests.backends.guard_cases import DOCS, FILTER_CASES, ORDERED_CASES, ROW_CASES

pytestmark = pytest.mark.integration

REFUSED: dict[str, str] = {
    'from people where name matches "b\\\\*c"': "matches",
    'from people where not (name matches "^[A-Z]")': "matches",
    ORDERED_CASES[0][0]: "order by",  # a Scan has no order
    ORDERED_CASES[1][0]: "order by",
    ORDERED_CASES[2][0]: "offset",
    ORDERED_CASES[3][0]: "order by",
    ROW_CASES[0][0]: "order by",
    ROW_CASES[2][0]: "group by",
    ROW_CASES[3][0]: "count(p)",
    ROW_CASES[4][0]: "sum",
    ROW_CASES[5][0]: "group by",
}
"""Guard-case queries DynamoDB refuses, with the construct the error names."""


@pytest.fixture(scope="module")
def people(runner: asyncio.Runner, dynamo_store: Any) -> Any:
    load(runner, dynamo_store, "people", DOCS)
    return dynamo_store


def _refused(store: Any, query: str) -> bool:
    if query not in REFUSED:
        return False
    with pytest.raises(crossql.CapabilityError) as info:
        store.plan(query)
    assert info.value.backend == "dynamodb"
    assert info.value.construct == REFUSED[query]
    assert "dynamodb" in str(info.value) and "^" in str(info.value)
    return True


def test_every_refusal_is_a_guard_case() -> None:
    cases = {f"from people where {c}" for c, _ in FILTER_CASES}
    cases |= {q for q, _ in ORDERED_CASES} | {q for q, _ in ROW_CASES}
    assert set(REFUSED) <= cases


@pytest.mark.parametrize(("condition", "ids"), FILTER_CASES)
def test_filter_guard(runner: asyncio.Runner, people: Any, condition: str,
                      ids: list[int]) -> None:
    query = f"from people where {condition}"
    reference = [row["_id"] for row in crossql.evaluate(query, DOCS)]
    assert sorted(reference) == sorted(ids), "the hand-worked answer disagrees with the reference"
    if _refused(people, query):
        return
    got = [row["_id"] for row in runner.run(people.fetch(query))]
    assert sorted(got) == sorted(ids), people.plan(query).to_json()
    assert runner.run(people.count(query)) == len(ids)


@pytest.mark.parametrize(("query", "ids"), ORDERED_CASES)
def test_order(runner: asyncio.Runner, people: Any, query: str, ids: list[int]) -> None:
    assert [row["_id"] for row in crossql.evaluate(query, DOCS)] == ids
    assert _refused(people, query), "every shared order case needs a Scan to be ordered"


@pytest.mark.parametrize(("query", "rows"), ROW_CASES)
def test_rows(runner: asyncio.Runner, people: Any, query: str,
              rows: list[dict[str, Any]]) -> None:
    ordered = "order by" in query
    assert same_rows(crossql.evaluate(query, DOCS), rows, ordered=ordered)
    if _refused(people, query):
        return
    assert same_rows(runner.run(people.fetch(query)), rows, ordered=ordered), \
        people.plan(query).to_json()
    assert runner.run(people.count(query)) == len(rows)


def test_whole_documents_round_trip(runner: asyncio.Runner, people: Any) -> None:
    rows = runner.run(people.fetch("from people where _id == 3"))
    assert rows == [DOCS[2]]
    assert people.plan("from people where _id == 3").operation == "Query"
    assert next(iter(rows[0])) == "_id"


# --- a table with a sort key and indexes ----------------------------------------------

SONGS: list[dict[str, Any]] = [
    {"_id": "s1", "artist": "Ada", "title": "Alpha", "album": "A1", "year": 1990, "plays": 5},
    {"_id": "s2", "artist": "Ada", "title": "Beta", "album": "A1", "year": 1991},
    {"_id": "s3", "artist": "Ada", "title": "Gamma", "album": "A2", "year": 1992, "plays": 1},
    {"_id": "s4", "artist": "Bob", "title": "Alpha", "album": "B1", "plays": 7},
    {"_id": "s5", "artist": "Bob", "title": "Delta", "album": "A1", "year": 1989, "plays": None},
    {"_id": "s6", "artist": "Ada", "title": "Zeta", "tags": ["x"], "plays": 2},
]


@pytest.fixture(scope="module")
def music(runner: asyncio.Runner, dynamo_store: Any) -> Any:
    async def setup() -> None:
        await dynamo_store.drop_collection("music")
        await dynamo_store.create_collection(
            "music", partition_key="artist", sort_key="title",
            indexes=[{"name": "by_album", "partition_key": "album", "sort_key": "year"},
                     {"name": "by_year", "sort_key": "year", "local": True,
                      "projection": "KEYS_ONLY"}],
            attribute_types={"year": "N"})
        await dynamo_store.collection("music").insert_many(SONGS)

    runner.run(setup())
    return dynamo_store


KEYED_CASES: list[tuple[str, str, str | None, list[str]]] = [
    # (query, operation, index, ids in order)
    ('from music where artist == "Ada"', "Query", None, ["s1", "s2", "s3", "s6"]),
    ('from music where artist == "Ada" order by title desc', "Query", None,
     ["s6", "s3", "s2", "s1"]),
    ('from music where artist == "Ada" and title >= "B" and title <= "H" order by title', "Query",
     None, ["s2", "s3"]),
    ('from music where artist == "Ada" and title startswith "G"', "Query", None, ["s3"]),
    ('from music where artist == "Ada" and title between "Alpha" and "Beta"', "Query", None,
     ["s1", "s2"]),
    ('from music where artist == "Ada" and plays > 1 order by title', "Query", None,
     ["s1", "s6"]),
    ('from music where artist == "Ada" and not (plays > 1) order by title', "Query", None,
     ["s3"]),
    ('from music where artist == "Ada" and year > 1990 order by year desc', "Query", "by_year",
     ["s3", "s2"]),
    ('from music where album == "A1" and year >= 1990 order by year', "Query", "by_album",
     ["s1", "s2"]),
    ('from music where album == "A1" and year >= 0 and artist == "Bob"', "Query", "by_album",
     ["s5"]),
    ('from music where album == "A1"', "Scan", None, ["s1", "s2", "s5"]),  # sparse index
    ('from music where artist == "Ada" and title > 5', "Scan", None, []),  # a string key
    ('from music where artist == 1', "Scan", None, []),
    ('from music where title == "Alpha" order by artist', "Scan", None, []),
]


@pytest.mark.parametrize(("query", "operation", "index", "ids"), KEYED_CASES)
def test_key_conditions(runner: asyncio.Runner, music: Any, query: str, operation: str,
                        index: str | None, ids: list[str]) -> None:
    if "order by artist" in query:
        with pytest.raises(crossql.CapabilityError, match="cannot order a Scan by `artist`"):
            runner.run(music.fetch(query))
        return
    plan = music.plan(query)
    assert (plan.operation, plan.index_name) == (operation, index)
    want = [row["_id"] for row in crossql.evaluate(query, SONGS)]
    got = [row["_id"] for row in runner.run(music.fetch(query))]
    if "order by" in query:
        assert got == want == ids, plan.to_json()
    else:
        assert sorted(got) == sorted(want) == sorted(ids), plan.to_json()
    assert runner.run(music.count(query)) == len(ids)


def test_key_schema_is_discovered(runner: asyncio.Runner, music: Any,
                                  dynamodb_endpoint: str) -> None:
    """A fresh store plans a Query from DescribeTable alone."""
    config = store_config(dynamodb_endpoint, table_prefix=music.options.table_prefix)

    async def run() -> tuple[Any, list[Any]]:
        async with crossql.connect(config) as store:
            assert isinstance(store, DynamoStore)
            rows = await store.fetch('from music where artist == "Bob" order by title desc')
            return store.plan('from music where artist == "Bob"'), rows

    plan, rows = runner.run(run())
    assert plan.operation == "Query"
    assert [r["_id"] for r in rows] == ["s5", "s4"]


def test_prepared_query_plans_after_discovery(runner: asyncio.Runner, music: Any,
                                              dynamodb_endpoint: str) -> None:
    config = store_config(dynamodb_endpoint, table_prefix=music.options.table_prefix)

    async def run() -> list[Any]:
        async with crossql.connect(config) as store:
            prepared = store.prepare("from music where artist == :a and title > :t")
            return [r["_id"] for r in await prepared.fetch(a="Ada", t="Beta")]

    assert sorted(runner.run(run())) == ["s3", "s6"]


def test_select_aliases_and_count(runner: asyncio.Runner, music: Any) -> None:
    rows = runner.run(music.fetch(
        'from music where artist == "Ada" select title as t, _id, year order by title limit 2'))
    assert rows == [{"t": "Alpha", "_id": "s1", "year": 1990}, {"t": "Beta", "_id": "s2",
                                                                  "year": 1991}]
    assert runner.run(music.fetch('from music where plays >= 2 select count() as n, count()')) \
        == [{"n": 3, "count()": 3}]
    assert runner.run(music.fetch("from music where plays > 100 select count() as n")) == \
        [{"n": 0}]
    assert runner.run(music.count("from music select count() as n")) == 1


def test_allow_scan_false(runner: asyncio.Runner, music: Any, dynamodb_endpoint: str) -> None:
    config = store_config(dynamodb_endpoint, table_prefix=music.options.table_prefix,
                          allow_scan=False)

    async def run() -> list[Any]:
        async with crossql.connect(config) as store:
            with pytest.raises(crossql.CapabilityError, match="without a Scan"):
                await store.fetch('from music where title == "Alpha"')
            return await store.fetch('from music where artist == "Bob"')

    assert len(runner.run(run())) == 2


# --- values and writes --------------------------------------------------------------------


def test_values_round_trip(runner: asyncio.Runner, dynamo_store: Any) -> None:
    doc = {"_id": "v", "f": 0.1, "big": 12345678901234567, "tiny": 1.5e-7, "huge": 1e100,
           "whole": 2.0, "neg": -0.0, "s": "", "b": True, "n": None, "l": [1, "a", [None]],
           "m": {"k": {"z": 1.25}}, "u": "😀"}
    load(runner, dynamo_store, "values", [doc])
    (row,) = runner.run(dynamo_store.fetch("from values"))
    assert row == {**doc, "whole": 2, "neg": 0}
    assert type(row["whole"]) is int and type(row["f"]) is float
    assert runner.run(dynamo_store.collection("values").get("v")) == row
    assert runner.run(dynamo_store.collection("values").get("nope")) is None
    assert runner.run(dynamo_store.collection("values").get(1)) is None  # a string key
    assert [r["_id"] for r in runner.run(dynamo_store.fetch(
        "from values where f == 0.1 and tiny < 0.000001 and huge > 1e99"))] == ["v"]


def test_sets_read_back_as_sets_and_answer_as_arrays_without_order(
        runner: asyncio.Runner, dynamo_store: Any) -> None:
    """A string set (SS) is the language's array without order (issue 16): `contains`
    and `size` answer on it as on a list, as the reference does."""
    load(runner, dynamo_store, "sets", [{"_id": "a", "tags": {"x", "y"}},
                                        {"_id": "b", "tags": ["x"]}])
    rows = runner.run(dynamo_store.fetch("from sets where _id == 'a'"))
    assert rows == [{"_id": "a", "tags": {"x", "y"}}]
    docs = [{"_id": "a", "tags": {"x", "y"}}, {"_id": "b", "tags": ["x"]}]
    for query in ("from sets where tags contains 'x'", "from sets where size(tags) >= 1",
                  "from sets where not (tags contains 'z')"):
        got = sorted(r["_id"] for r in runner.run(dynamo_store.fetch(query)))
        assert got == [r["_id"] for r in crossql.evaluate(query, docs)] == ["a", "b"]
    got = [r["_id"] for r in runner.run(dynamo_store.fetch("from sets where tags contains 'y'"))]
    assert got == ["a"]


def test_writes_and_errors(runner: asyncio.Runner, dynamo_store: Any) -> None:
    coll = dynamo_store.collection("docs")
    runner.run(dynamo_store.drop_collection("docs"))
    new_id = runner.run(coll.insert_one({"name": "x"}))
    assert isinstance(new_id, str) and len(new_id) == 32
    assert runner.run(coll.get(new_id)) == {"_id": new_id, "name": "x"}
    with pytest.raises(crossql.BackendError, match="dynamodb: duplicate _id"):
        runner.run(coll.insert_one({"_id": new_id}))
    runner.run(coll.insert_many([{"_id": str(i), "v": i} for i in range(60)]))
    assert runner.run(coll.delete_many("v >= :lo", lo=10)) == 50
    assert runner.run(dynamo_store.count("from docs")) == 11
    with pytest.raises(crossql.BackendError, match="duplicate key"):
        runner.run(coll.insert_many([{"_id": "d"}, {"_id": "d"}]))
    with pytest.raises(crossql.BackendError, match="dynamodb: cannot store document"):
        runner.run(coll.insert_many([{"_id": "e", "x": float("nan")}, {"_id": "f"}]))
    with pytest.raises(crossql.BackendError, match="dynamodb: ResourceNotFoundException"):
        runner.run(dynamo_store.fetch("from missing_table"))
    with pytest.raises(crossql.BackendError, match="map key must be a non-empty string"):
        runner.run(coll.insert_one({"_id": "g", "": 1}))
    with pytest.raises(crossql.BackendError, match="dynamodb: ValidationException"):
        runner.run(coll.insert_one({"_id": ""}))  # a key is never an empty string


def test_pk_field_renames_id(runner: asyncio.Runner, dynamodb_endpoint: str,
                             dynamo_store: Any) -> None:
    config = store_config(dynamodb_endpoint, table_prefix=dynamo_store.options.table_prefix,
                          pk_field="id")

    async def run() -> tuple[list[Any], Any, Any]:
        async with crossql.connect(config) as store:
            await store.drop_collection("renamed")
            await store.collection("renamed").insert_many([{"_id": "a", "v": 1},
                                                           {"_id": "b", "v": 2}])
            rows = await store.fetch("from renamed where _id == 'b' select _id, v")
            raw = await store.client.scan(TableName=store.table_name("renamed"))
            return rows, store.plan("from renamed where _id == 'b'"), raw["Items"]

    rows, plan, items = runner.run(run())
    assert rows == [{"_id": "b", "v": 2}]
    assert plan.operation == "Query"
    assert all("id" in item and "_id" not in item for item in items)
