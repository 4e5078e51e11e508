"""What DynamoDB Local itself does, asked with raw requests: every behaviour the
compiler's guards, planner and limit checks rely on (docs/backends/dynamodb.md).

If DynamoDB (or a new DynamoDB Local) changes one of these, this file says which
assumption broke before a differential test has to find it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import crossql
from crossql.backends.dynamodb.compiler import MAX_EXPRESSION_BYTES, MAX_OPERATORS
from crossql.backends.dynamodb.expressions import MAX_IN_VALUES
from crossql.backends.dynamodb.values import python_to_item, to_attribute_value

pytestmark = pytest.mark.integration

ITEMS: list[dict[str, Any]] = [
    {"_id": "max-bmp", "s": "\uffff", "l": [36, 40], "m": {"c": "x", "d": 1}},
    {"_id": "emoji", "s": "😀", "l": [True], "m": {"d": 1, "c": "x"}},
    {"_id": "missing"},
    {"_id": "null", "s": None, "l": None},
    {"_id": "text", "s": "abc", "l": "vip", "m": {}},
    {"_id": "nested", "l": [None, ["vip"], {"k": 1}]},
    {"_id": "set", "l": {"vip"}},
]


@pytest.fixture(scope="module")
def raw(runner: asyncio.Runner, dynamo_store: Any) -> Any:
    async def setup() -> None:
        store = dynamo_store
        await store.drop_collection("raw")
        await store.create_collection("raw", attribute_types={"_id": "S"})
        for doc in ITEMS:
            await store.client.put_item(TableName=store.table_name("raw"),
                                        Item=python_to_item(doc))

    runner.run(setup())
    return dynamo_store


def scan(runner: asyncio.Runner, store: Any, expression: str, **values: Any) -> list[str]:
    """Ids of the items a raw Scan filter matches (names are used literally)."""
    kwargs: dict[str, Any] = {"TableName": store.table_name("raw"),
                              "FilterExpression": expression}
    if values:
        kwargs["ExpressionAttributeValues"] = {f":{k}": to_attribute_value(v)
                                               for k, v in values.items()}

    async def run() -> list[str]:
        page = await store.client.scan(**kwargs)
        return sorted(item["_id"]["S"] for item in page["Items"])

    return runner.run(run())


def validation_error(runner: asyncio.Runner, store: Any, expression: str,
                     **values: Any) -> str:
    with pytest.raises(Exception) as info:
        scan(runner, store, expression, **values)
    assert "ValidationException" in str(info.value)
    return str(info.value)


def test_filters_are_two_valued(runner: asyncio.Runner, raw: Any) -> None:
    # NOT of a comparison with a missing or NULL attribute is true: why `not` is pushed down
    assert scan(runner, raw, "NOT s < :v", v="zzz") == ["emoji", "max-bmp", "missing",
                                                         "nested", "null", "set"]
    # <> is true on missing and NULL attributes: why `!=` is guarded
    assert scan(runner, raw, "s <> :v", v="abc") == ["emoji", "max-bmp", "missing", "nested",
                                                     "null", "set"]
    assert scan(runner, raw, "s = :v", v=None) == ["null"]
    assert scan(runner, raw, "attribute_exists(s)") == ["emoji", "max-bmp", "null", "text"]


def test_contains_and_size_are_not_only_for_lists(runner: asyncio.Runner, raw: Any) -> None:
    assert scan(runner, raw, "contains(l, :v)", v="vip") == ["set", "text"]
    assert scan(runner, raw, "contains(s, :v)", v="b") == ["text"]
    assert scan(runner, raw, "size(l) = :v", v=3) == ["nested", "text"]
    assert scan(runner, raw, "size(m) = :v", v=2) == ["emoji", "max-bmp"]


def test_equality_and_membership_compare_typed_values(runner: asyncio.Runner,
                                                      raw: Any) -> None:
    assert scan(runner, raw, "m = :v", v={"c": "x", "d": 1.0}) == ["emoji", "max-bmp"]
    assert scan(runner, raw, "l = :v", v=[36, 40.0]) == ["max-bmp"]
    assert scan(runner, raw, "contains(l, :v)", v=1) == []  # true is not 1
    assert scan(runner, raw, "contains(l, :v)", v=True) == ["emoji"]
    assert scan(runner, raw, "contains(l, :v)", v=None) == ["nested"]
    assert scan(runner, raw, "contains(l, :v)", v=["vip"]) == ["nested"]
    assert scan(runner, raw, "contains(l, :v)", v={"k": 1}) == ["nested"]
    assert scan(runner, raw, "l IN (:a, :b)", a=[36, 40], b="vip") == ["max-bmp", "text"]


def test_strings_compare_by_code_point(runner: asyncio.Runner, raw: Any) -> None:
    # UTF-8 byte order is code point order; UTF-16 order would put U+FFFF above U+1F600
    assert scan(runner, raw, "s > :v", v="\uffff") == ["emoji"]
    assert scan(runner, raw, "begins_with(s, :v)", v="") == ["emoji", "max-bmp", "text"]


def test_rejected_requests(runner: asyncio.Runner, raw: Any) -> None:
    message = validation_error(runner, raw, "s BETWEEN :a AND :b", a="b", b="a")
    assert "BETWEEN" in message
    values = {f"v{i}": i for i in range(MAX_IN_VALUES + 1)}
    assert scan(runner, raw, "s IN (" + ", ".join(f":v{i}" for i in range(MAX_IN_VALUES))
                + ")", **{k: v for k, v in values.items() if k != f"v{MAX_IN_VALUES}"}) == []
    assert "IN" in validation_error(
        runner, raw, "s IN (" + ", ".join(f":{k}" for k in values) + ")", **values)
    half = MAX_OPERATORS // 2  # n comparisons or-ed: 2n - 1 operators
    assert scan(runner, raw, " OR ".join(f"s = :v{i}" for i in range(half)),
                **{f"v{i}": i for i in range(half)}) == []
    assert "too many operators" in validation_error(
        runner, raw, " OR ".join(f"s = :v{i}" for i in range(half + 1)),
        **{f"v{i}": i for i in range(half + 1)})
    assert "too many operators" in validation_error(  # size() counts twice
        runner, raw, " OR ".join(f"size(s) = :v{i}" for i in range(MAX_OPERATORS // 3 + 1)),
        **{f"v{i}": i for i in range(MAX_OPERATORS // 3 + 1)})
    fits = "attribute_exists(" + "a" * (MAX_EXPRESSION_BYTES - len("attribute_exists()")) + ")"
    assert scan(runner, raw, fits) == []
    assert "size" in validation_error(runner, raw, fits.replace("(a", "(aa"))


def test_index_rules(runner: asyncio.Runner, dynamo_store: Any) -> None:
    store = dynamo_store
    table = store.table_name("idx")

    async def run() -> list[str]:
        await store.drop_collection("idx")
        await store.create_collection(
            "idx", partition_key="p", sort_key="s",
            indexes=[{"name": "by_gk", "partition_key": "gk", "sort_key": "gs"},
                     {"name": "by_ls", "sort_key": "ls", "local": True,
                      "projection": "KEYS_ONLY"}],
            attribute_types={"gs": "N", "ls": "N"})
        errors = []
        for bad in ({"p": "a", "s": "1", "gk": None}, {"p": "a", "s": "2", "gs": "x"},
                    {"p": "a", "s": ""}):
            try:
                await store.client.put_item(TableName=table, Item=python_to_item(bad))
            except Exception as err:
                errors.append(str(err))
        await store.client.put_item(TableName=table, Item=python_to_item(
            {"p": "a", "s": "3", "gk": "k", "ls": 1, "extra": 5}))
        await store.client.put_item(TableName=table, Item=python_to_item(
            {"p": "a", "s": "4", "gk": "k", "gs": 2, "extra": 6}))
        page = await store.client.query(
            TableName=table, IndexName="by_gk", KeyConditionExpression="gk = :k",
            ExpressionAttributeValues={":k": {"S": "k"}})
        errors.append(str(len(page["Items"])))
        for kwargs in (
            # a filter on the queried index's keys
            {"IndexName": "by_gk", "KeyConditionExpression": "gk = :k", "FilterExpression":
             "gs > :n", "ExpressionAttributeValues": {":k": {"S": "k"}, ":n": {"N": "0"}}},
            # a filter on an attribute a local index does not project
            {"IndexName": "by_ls", "KeyConditionExpression": "p = :k", "FilterExpression":
             "extra > :n", "ExpressionAttributeValues": {":k": {"S": "a"}, ":n": {"N": "0"}}},
            # a key value of the wrong type
            {"KeyConditionExpression": "p = :k", "ExpressionAttributeValues": {":k": {"N": "1"}}},
        ):
            try:
                await store.client.query(TableName=table, **kwargs)
                errors.append("accepted")
            except Exception as err:
                errors.append(str(err))
        # the table's own keys may be filtered on in a global index's Query
        page = await store.client.query(
            TableName=table, IndexName="by_gk", KeyConditionExpression="gk = :k",
            FilterExpression="s = :s", ExpressionAttributeValues={":k": {"S": "k"},
                                                                  ":s": {"S": "4"}})
        errors.append(str(len(page["Items"])))
        return errors

    errors = runner.run(run())
    assert "Invalid attribute value type" in errors[0]  # NULL in an index key
    assert "Type mismatch for Index Key" in errors[1]
    assert "empty string" in errors[2]
    assert errors[3] == "1"  # the item without gs is not in the sparse index g
    assert "non-primary key attributes" in errors[4]
    assert "does not project" in errors[5]
    assert "does not match schema type" in errors[6]
    assert errors[7] == "1"
    with pytest.raises(crossql.BackendError, match="sort key"):
        runner.run(store.collection("idx").get("a"))
