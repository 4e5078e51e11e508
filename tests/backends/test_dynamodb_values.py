"""DynamoDB (DynamoDB Local) on the native value kinds (issue 16): exact numbers,
timestamps, sets and bytes, on items CrossQL wrote and on items aioboto3 wrote itself.
What ``fetch`` returns, bound again, finds the item again; comparisons agree with the
reference evaluator."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

import crossql
from crossql.errors import BackendError, CapabilityError
from tests.backends.conftest import load

pytestmark = pytest.mark.integration


def raw_put(runner: asyncio.Runner, store: Any, collection: str,
            items: list[dict[str, Any]]) -> None:
    """Replace a collection's content with ``items``: typed AttributeValues written by
    aioboto3's client itself (not CrossQL)."""
    runner.run(store.drop_collection(collection))
    runner.run(store.create_collection(collection))
    table = store.table_name(collection)

    async def put() -> None:
        for item in items:
            await store.client.put_item(TableName=table, Item=item)

    runner.run(put())


def ids(rows: list[dict[str, Any]]) -> list[Any]:
    return sorted(r["_id"] for r in rows)


# --- exact numbers -------------------------------------------------------------------


def test_numbers_read_back_exactly(runner: asyncio.Runner, dynamo_store: Any) -> None:
    raw_put(runner, dynamo_store, "vals_num", [
        {"_id": {"S": "big"}, "n": {"N": "12345678901234567890.123456789"}},
        {"_id": {"S": "d38"}, "n": {"N": "1234567890123456789012345678901234.5678"}},
        {"_id": {"S": "f"}, "n": {"N": "0.1"}},
        {"_id": {"S": "i"}, "n": {"N": "4611686018427388000"}},
        {"_id": {"S": "e"}, "n": {"N": "1E+100"}},
        {"_id": {"S": "huge"}, "n": {"N": "123456789012345678901234567890"}},
    ])
    rows = {r["_id"]: r["n"] for r in runner.run(dynamo_store.fetch("from vals_num"))}
    assert rows == {
        "big": Decimal("12345678901234567890.123456789"),
        "d38": Decimal("1234567890123456789012345678901234.5678"),
        "f": 0.1, "i": 4611686018427388000, "e": 1e100,
        "huge": Decimal("123456789012345678901234567890")}
    assert type(rows["big"]) is Decimal and type(rows["f"]) is float
    # each value read, bound again, finds its item (and only it)
    for key, value in rows.items():
        found = runner.run(dynamo_store.fetch("from vals_num where n == :v", v=value))
        assert ids(found) == [key], (key, value)


def test_decimal_parameters_compare_exactly(runner: asyncio.Runner, dynamo_store: Any) -> None:
    load(runner, dynamo_store, "vals_dec", [
        {"_id": "a", "n": Decimal("12345678901234567890.123456789")},
        {"_id": "b", "n": Decimal("12345678901234567890.123456788")},
        {"_id": "c", "n": 12345678901234567890 // 10}])
    got = runner.run(dynamo_store.fetch(
        "from vals_dec where n > :v", v=Decimal("12345678901234567890.1234567885")))
    assert ids(got) == ["a"]
    assert runner.run(dynamo_store.execute(
        "update vals_dec set n = :v where _id == 'c'", v=Decimal("-0.1000000000000000000001"))
    ).matched == 1
    assert runner.run(dynamo_store.collection("vals_dec").get("c"))["n"] == \
        Decimal("-0.1000000000000000000001")


def test_between_a_float_and_the_int_it_equals_is_refused_not_a_validation_error(
        runner: asyncio.Runner, dynamo_store: Any) -> None:
    """Issue 16 §3: `between 4.611686018427388e18 and 4611686018427387904` was sent with
    its bounds as the decimals 4611686018427388000 > 4611686018427387904 (equal as
    Python numbers): DynamoDB answered a ValidationException at run time."""
    load(runner, dynamo_store, "vals_edge", [{"_id": "a", "n": 2**62},
                                             {"_id": "b", "n": 4611686018427388000}])
    text = "from vals_edge where n between 4.611686018427388e18 and 4611686018427387904"
    with pytest.raises(CapabilityError) as caught:
        runner.run(dynamo_store.fetch(text))
    assert caught.value.code == "capability.dynamodb.number"
    assert caught.value.span is not None and \
        text[caught.value.span[0]:caught.value.span[1]] == "4.611686018427388e18"
    # bound as the int (or Decimal) it is, it answers as the reference
    got = runner.run(dynamo_store.fetch(
        "from vals_edge where n between :lo and 4611686018427387904", lo=Decimal(2**62)))
    assert ids(got) == ["a"]
    assert crossql.evaluate(crossql.parse(
        "from vals_edge where n between 4611686018427387904 and 4611686018427387904"),
        [{"_id": "a", "n": 2**62}, {"_id": "b", "n": 4611686018427388000}]) == \
        [{"_id": "a", "n": 2**62}]


def test_an_increment_leaving_64_bits_writes_nothing(runner: asyncio.Runner,
                                                      dynamo_store: Any) -> None:
    """Issue 16 §3: the increment was written by DynamoDB (38-digit decimals), then the
    store reported the reference's "nothing was written"."""
    load(runner, dynamo_store, "vals_inc", [{"_id": "a", "n": 2**63 - 2},
                                            {"_id": "b", "n": 1}])
    with pytest.raises(BackendError, match="leaves the 64-bit integer range; nothing was "
                                           "written"):
        runner.run(dynamo_store.execute("update vals_inc set n = n + 5 where true"))
    rows = runner.run(dynamo_store.fetch("from vals_inc"))
    assert sorted((r["_id"], r["n"]) for r in rows) == [("a", 2**63 - 2), ("b", 1)]
