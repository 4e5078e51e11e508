"""DynamoDB's native values without a server (issue 16): the N and S texts read and
written, and the compile of conditions on them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

import crossql
from crossql.backends.dynamodb.values import (
    UnstorableValue,
    from_attribute_value,
    number_value,
    timestamp_text,
    to_attribute_value,
)


@pytest.mark.parametrize(("text", "value"), [
    ("12345678901234567890.123456789", Decimal("12345678901234567890.123456789")),
    ("0.1", 0.1), ("1E+100", 1e100), ("4.611686018427388e+18", 4611686018427388000),
    ("-9223372036854775808", -(2**63)), ("9223372036854775808", Decimal("9223372036854775808")),
    ("9223372036854775809", Decimal("9223372036854775809")), ("2.50", 2.5),
])
def test_numbers_read_exactly(text: str, value: object) -> None:
    got = number_value(text)
    assert got == value and type(got) is type(value)


def test_timestamps_are_fixed_width_utc_text() -> None:
    t = datetime(2026, 1, 2, 1, 4, 5, 6, tzinfo=timezone(timedelta(hours=2)))
    assert to_attribute_value(t) == {"S": "2026-01-01T23:04:05.000006Z"}
    assert from_attribute_value({"S": "2026-01-01T23:04:05.000006Z"}) == t
    assert from_attribute_value({"S": "2026-13-01T23:04:05.000006Z"}) == \
        "2026-13-01T23:04:05.000006Z"
    assert timestamp_text(datetime(1, 1, 1)) == "0001-01-01T00:00:00.000000Z"
    with pytest.raises(UnstorableValue):
        timestamp_text(datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))))


def test_the_reference_increments_decimals_exactly() -> None:
    """The default decimal context rounded 12345678901234567890.123456789 + 1 to 28
    digits, where DynamoDB (38 digits) adds exactly: the write differential found it."""
    docs = [{"_id": 1, "n": Decimal("12345678901234567890.123456789")}]
    memory = crossql.connect({"driver": "memory"})

    async def run() -> object:
        async with memory:
            await memory.collection("c").insert_many(docs)
            await memory.execute("update c set n = n + 1 where true")
            return (await memory.collection("c").get(1))["n"]  # type: ignore[index]

    import asyncio
    assert asyncio.run(run()) == Decimal("12345678901234567891.123456789")


def test_a_timestamp_range_is_guarded_and_a_sort_key_range_is_a_key_condition() -> None:
    t = datetime(2026, 1, 2, tzinfo=UTC)
    plan = crossql.compile("from items where at < :t", "dynamodb", {"t": t})
    assert plan.request["FilterExpression"] == "size(#n0) = :v0 AND #n0 >= :v1 AND #n0 < :v2"
    schema = {"events": {"partition_key": "device", "sort_key": "at"}}
    plan = crossql.compile("from events where device == 'a' and at > :t order by at desc",
                           "dynamodb", {"t": t}, schema=schema)
    assert plan.request["KeyConditionExpression"] == "#n0 = :v0 AND (#n1 BETWEEN :v1 AND :v2)"
    assert plan.request["ExpressionAttributeValues"][":v1"] == \
        {"S": "2026-01-02T00:00:00.000001Z"}
    assert plan.request["ScanIndexForward"] is False and "FilterExpression" not in plan.request


def test_a_decimal_beside_a_float_between_bounds_compares_as_sent() -> None:
    # 0.1 is sent as "0.1", below the Decimal: not folded to "never" (Python's exact
    # comparison says 0.1 > Decimal("0.10000000000000000555"))
    plan = crossql.compile("from items where x between 0.1 and :d", "dynamodb",
                           {"d": Decimal("0.10000000000000000555")})
    assert "BETWEEN" in plan.request["FilterExpression"]
