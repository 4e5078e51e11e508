"""DynamoDB (DynamoDB Local) on the native value kinds (issue 16): exact numbers,
timestamps, sets and bytes, on items CrossQL wrote and on items aioboto3 wrote itself.
What ``fetch`` returns, bound again, finds the item again; comparisons agree with the
reference evaluator."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from bson import ObjectId
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import crossql
from crossql import ir
from crossql.errors import BackendError, CapabilityError
from crossql.semantics.reference import values_equal
from tests.backends.conftest import load
from tests.budget import examples

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


# --- timestamps ----------------------------------------------------------------------

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_timestamps_round_trip_and_compare_beside_strings(runner: asyncio.Runner,
                                                           dynamo_store: Any) -> None:
    """A field holding timestamps and ordinary strings (some of them dates as text, one
    of the timestamps' width) answers as the reference on what the store reads back."""
    docs = [
        {"_id": "t0", "at": T0},
        {"_id": "t1", "at": T0 + timedelta(microseconds=1)},
        {"_id": "t2", "at": datetime(2026, 1, 2, 1, tzinfo=timezone(timedelta(hours=2)))},
        {"_id": "s1", "at": "2026-01-01"},
        {"_id": "s2", "at": "9"},
        {"_id": "s3", "at": "zzzzzzzzzzzzzzzzzzzzzzzzzzz"},  # the width, out of the range
        {"_id": "n", "at": 5}, {"_id": "l", "at": ["2026"] * 27}, {"_id": "z", "at": None},
    ]
    load(runner, dynamo_store, "vals_ts", docs)
    read = {r["_id"]: r for r in runner.run(dynamo_store.fetch("from vals_ts"))}
    assert read["t2"]["at"] == datetime(2026, 1, 1, 23, tzinfo=UTC)
    assert read["t1"]["at"].tzinfo is not None and read["s1"]["at"] == "2026-01-01"
    expected = list(read.values())
    for text, params in [
        ("from vals_ts where at >= :t", {"t": T0}),
        ("from vals_ts where at > :t", {"t": T0}),
        ("from vals_ts where at < :t", {"t": T0 + timedelta(days=1)}),
        ("from vals_ts where not (at < :t)", {"t": T0 + timedelta(days=1)}),
        ("from vals_ts where at between :a and :b", {"a": T0, "b": T0 + timedelta(hours=1)}),
        ("from vals_ts where not (at between :a and :b)",
         {"a": T0, "b": T0 + timedelta(hours=1)}),
        ("from vals_ts where at == :t or at in :u", {"t": T0, "u": [read["t2"]["at"], "9"]}),
        ("from vals_ts where at != :t", {"t": T0}),
        ('from vals_ts where at >= timestamp "2026-01-01T00:00:00.000001Z"', {}),
    ]:
        got = runner.run(dynamo_store.fetch(text, **params))
        want = crossql.evaluate(crossql.parse(text), expected, params)
        assert ids(got) == ids(want), text
    # what was read, bound again, finds its item
    for key in ("t0", "t1", "t2"):
        got = runner.run(dynamo_store.fetch("from vals_ts where at == :v", v=read[key]["at"]))
        assert ids(got) == [key]


def test_a_string_of_the_timestamp_form_between_timestamps_is_the_documented_residual(
        runner: asyncio.Runner, dynamo_store: Any) -> None:
    """docs/backends/dynamodb.md, "Values": an ordinary string of the timestamps' width
    that sorts among their texts cannot be told from one by a condition: it matches an
    ordering comparison with a timestamp (the reference: unknown)."""
    load(runner, dynamo_store, "vals_res", [{"_id": "s", "at": "2026-01-01 00:00:00.000000Z"}])
    got = runner.run(dynamo_store.fetch("from vals_res where at < :t", t=T0))
    assert ids(got) == ["s"]
    assert crossql.evaluate("from vals_res where at < :t", [{"_id": "s", "at": got[0]["at"]}],
                            {"t": T0}) == []


def test_newest_first_on_a_datetime_sort_key_is_one_query(runner: asyncio.Runner,
                                                          dynamo_store: Any) -> None:
    runner.run(dynamo_store.drop_collection("vals_events"))
    runner.run(dynamo_store.create_collection("vals_events", partition_key="device",
                                              sort_key="at"))
    docs = [{"device": d, "at": T0 + timedelta(minutes=m, microseconds=m), "v": m}
            for d in ("a", "b") for m in range(0, 300, 7)]
    runner.run(dynamo_store.collection("vals_events").insert_many(docs))
    text = "from vals_events where device == :d order by at desc limit 10"
    plan = dynamo_store.plan(text, {"d": "a"})
    assert plan.operation == "Query" and plan.request["ScanIndexForward"] is False
    assert "FilterExpression" not in plan.request and plan.request["Limit"] == 10
    rows = runner.run(dynamo_store.fetch(text, d="a"))
    want = sorted((d for d in docs if d["device"] == "a"), key=lambda d: d["at"],
                  reverse=True)[:10]
    assert [r["at"] for r in rows] == [d["at"] for d in want]
    # a range on the sort key is the key condition of that one Query
    since = T0 + timedelta(minutes=100)
    text = "from vals_events where device == :d and at > :t order by at desc"
    plan = dynamo_store.plan(text, {"d": "a", "t": since})
    assert plan.operation == "Query" and "FilterExpression" not in plan.request
    rows = runner.run(dynamo_store.fetch(text, d="a", t=since))
    assert [r["v"] for r in rows] == [
        d["v"] for d in sorted(docs, key=lambda d: d["at"], reverse=True)
        if d["device"] == "a" and d["at"] > since]


# --- sets and bytes ------------------------------------------------------------------


def test_stored_sets_equal_lists_as_arrays_without_order(runner: asyncio.Runner,
                                                         dynamo_store: Any) -> None:
    raw_put(runner, dynamo_store, "vals_sets", [
        {"_id": {"S": "ss"}, "t": {"SS": ["a", "b"]}},
        {"_id": {"S": "ns"}, "t": {"NS": ["1", "2.5"]}},
        {"_id": {"S": "bs"}, "t": {"BS": [b"x", b"yz"]}},
        {"_id": {"S": "l"}, "t": {"L": [{"S": "b"}, {"S": "a"}]}},
        {"_id": {"S": "s"}, "t": {"S": "ab"}},
    ])
    docs = runner.run(dynamo_store.fetch("from vals_sets"))
    assert {d["_id"]: d["t"] for d in docs}["ns"] == {1, 2.5}
    for text, params in [
        ("from vals_sets where t == ['b', 'a']", {}),
        ("from vals_sets where t == ['a', 'b']", {}),
        ("from vals_sets where t != ['a', 'b']", {}),
        ("from vals_sets where t == ['a', 'a']", {}),
        ("from vals_sets where t != ['a', 'a']", {}),
        ("from vals_sets where t == [2.5, 1]", {}),
        ("from vals_sets where t == [1.0, 1, 2.5]", {}),
        ("from vals_sets where t == :l", {"l": [b"yz", b"x"]}),
        ("from vals_sets where not (t == :l)", {"l": [b"yz", b"x"]}),
        ("from vals_sets where t contains any :s", {"s": {"a", "zz"}}),
        ("from vals_sets where _id in :s", {"s": {"ss", "l"}}),
    ]:
        got = runner.run(dynamo_store.fetch(text, **params))
        want = crossql.evaluate(crossql.parse(text), docs, params)
        assert ids(got) == ids(want), text


def test_bytes_equality_and_in(runner: asyncio.Runner, dynamo_store: Any) -> None:
    load(runner, dynamo_store, "vals_bin", [{"_id": "a", "b": b"a"}, {"_id": "ab", "b": b"ab"},
                                            {"_id": "s", "b": "ab"}, {"_id": "e", "b": b""}])
    docs = runner.run(dynamo_store.fetch("from vals_bin"))
    assert {d["_id"]: d["b"] for d in docs}["ab"] == b"ab"
    for text, params in [("from vals_bin where b == :v", {"v": b"ab"}),
                         ("from vals_bin where b != :v", {"v": b"ab"}),
                         ("from vals_bin where b in :v", {"v": [b"a", b"", "ab"]}),
                         ("from vals_bin where b not in :v", {"v": [b"a"]})]:
        got = runner.run(dynamo_store.fetch(text, **params))
        want = crossql.evaluate(crossql.parse(text), docs, params)
        assert ids(got) == ids(want), text
    with pytest.raises(CapabilityError) as caught:
        runner.run(dynamo_store.fetch("from vals_bin where b < :v", v=b"b"))
    assert caught.value.code == "capability.dynamodb.bytes-order"
    with pytest.raises(CapabilityError) as caught:
        runner.run(dynamo_store.fetch("from vals_bin where b == :v", v=ObjectId()))
    assert caught.value.code == "capability.dynamodb.value-kind"
    assert "str(oid)" in (caught.value.hint or "")


# --- the differential, on items aioboto3 wrote, and round trips ----------------------


def _attribute_value(value: Any) -> dict[str, Any]:
    """A typed AttributeValue written by hand (not CrossQL's values.py): what an
    application writing DynamoDB items with the low-level client would send."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int | float | Decimal):
        return {"N": str(value) if not isinstance(value, float) else repr(value)}
    if isinstance(value, datetime):
        return {"S": value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, bytes):
        return {"B": value}
    if isinstance(value, set | frozenset):
        items = list(value)
        if all(isinstance(v, str) for v in items):
            return {"SS": items}
        if all(isinstance(v, bytes) for v in items):
            return {"BS": items}
        return {"NS": [str(v) for v in items]}
    if isinstance(value, list):
        return {"L": [_attribute_value(v) for v in value]}
    return {"M": {k: _attribute_value(v) for k, v in value.items()}}


def test_dynamodb_matches_reference_on_native_values(runner: asyncio.Runner,
                                                     dynamo_store: Any) -> None:
    from tests.backends.differential import STATS, compare_native_on_backend
    from tests.strategies import dynamodb_native_documents, dynamodb_native_queries

    async def insert(collection: str, docs: list[dict[str, Any]]) -> None:
        table = dynamo_store.table_name(collection)
        with contextlib.suppress(BackendError):  # made by the items CrossQL wrote
            await dynamo_store.create_collection(collection)
        for doc in docs:
            await dynamo_store.client.put_item(
                TableName=table, Item={k: _attribute_value(v) for k, v in doc.items()})

    @settings(max_examples=examples(20, at_least=10), deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.function_scoped_fixture])
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        docs = data.draw(dynamodb_native_documents(12, min_size=4), label="docs")
        qs = [data.draw(dynamodb_native_queries(), label=f"q{i}") for i in range(30)]
        compare_native_on_backend(runner, dynamo_store, "dynamodb native values", docs, qs,
                                  native_insert=insert, options=dynamo_store.options)

    run()
    assert STATS["dynamodb native values"]["compared"] >= examples(20, at_least=10) * 10


def _significant_digits(d: Decimal) -> int:
    """Without rounding (``normalize()`` rounds to the context's 28 digits)."""
    return len("".join(map(str, d.as_tuple().digits)).strip("0"))


_ROUND_TRIP = {
    "timestamp": st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                              timezones=st.just(UTC)),
    "exact number": st.decimals(allow_nan=False, allow_infinity=False, places=None).filter(
        lambda d: d == 0 or (Decimal("1E-129") < abs(d) < Decimal("1E+125")
                             and _significant_digits(d) <= 38)),
    "bytes": st.binary(min_size=1, max_size=40),
    "set": st.one_of(st.frozensets(st.text(min_size=1, max_size=5), min_size=1, max_size=4),
                     st.frozensets(st.integers(-10**20, 10**20), min_size=1, max_size=4),
                     st.frozensets(st.binary(min_size=1, max_size=4), min_size=1, max_size=4)),
}


@pytest.mark.parametrize("kind", sorted(_ROUND_TRIP))
def test_what_was_read_bound_again_finds_the_item(runner: asyncio.Runner, dynamo_store: Any,
                                                 kind: str) -> None:
    """Per kind: write (CrossQL), read, bind what was read, the same item is found."""
    runner.run(dynamo_store.drop_collection("vals_rt"))
    runner.run(dynamo_store.create_collection("vals_rt"))
    seen: list[str] = []
    made = iter(range(10**6))

    @settings(max_examples=examples(25, at_least=10), deadline=None,
              suppress_health_check=[HealthCheck.too_slow,
                                     HealthCheck.function_scoped_fixture])
    @given(value=_ROUND_TRIP[kind])
    def run(value: Any) -> None:
        doc_id = f"k{next(made)}"
        stored = set(value) if isinstance(value, frozenset) else value
        runner.run(dynamo_store.collection("vals_rt").insert_many([{"_id": doc_id,
                                                                     "v": stored}]))
        row = runner.run(dynamo_store.collection("vals_rt").get(doc_id))
        read = row["v"]
        if kind == "set":
            assert read == set(value)
            text, params = "from vals_rt where _id == :i and v contains all :v", \
                {"i": doc_id, "v": read}
        else:  # equal as the reference compares (Decimal("0.33") reads back as 0.33)
            assert values_equal(read, value), (read, value)
            text, params = "from vals_rt where v == :v", {"v": read}
        got = runner.run(dynamo_store.fetch(text, **params))
        assert doc_id in [r["_id"] for r in got]
        assert crossql.evaluate(crossql.parse(text), [{"_id": doc_id, "v": read}], params)
        seen.append(doc_id)

    run()
    assert len(seen) >= 1


def test_dynamodb_native_writes_match_reference(runner: asyncio.Runner,
                                                dynamo_store: Any) -> None:
    """Updates assigning timestamps, exact numbers and bytes (and increments of
    exact numbers) on items half of which aioboto3 wrote: the collection afterwards and
    the counts are the reference's (or the write is refused, located)."""
    from crossql.semantics.writes import apply
    from tests.backends.differential import STATS, _native_canonical
    from tests.strategies import dynamodb_native_documents, dynamodb_native_writes

    stats = STATS.setdefault("dynamodb native writes", Counter())

    @settings(max_examples=examples(25, at_least=10), deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.function_scoped_fixture])
    @given(docs=dynamodb_native_documents(8, min_size=2), statement=dynamodb_native_writes())
    def run(docs: list[dict[str, Any]], statement: ir.Update) -> None:
        load(runner, dynamo_store, "docs", docs[1::2])
        runner.run(_put_raw(dynamo_store, "docs", docs[0::2]))
        try:
            want_docs, want = apply(statement, docs)
        except BackendError:
            with pytest.raises(BackendError, match="nothing was written"):
                runner.run(dynamo_store.execute(statement))
            after = runner.run(dynamo_store.fetch("from docs"))
            assert sorted(map(_native_canonical, after)) == sorted(map(_native_canonical, docs))
            stats["refused by the reference"] += 1
            return
        try:
            plan = dynamo_store.write_plan(statement)
        except CapabilityError:
            stats["refused"] += 1
            return
        try:
            got = runner.run(dynamo_store.execute_plan(plan))
        except BackendError as err:
            # a float sum the decimals would not give, or a sum past 38 digits
            # (docs/backends/dynamodb.md, "Values")
            assert "DynamoDB cannot hold" in str(err) and "nothing was written" in str(err)
            after = runner.run(dynamo_store.fetch("from docs"))
            assert sorted(map(_native_canonical, after)) == sorted(map(_native_canonical, docs))
            stats["refused at run time"] += 1
            return
        after = runner.run(dynamo_store.fetch("from docs"))
        assert sorted(map(_native_canonical, after)) == \
            sorted(map(_native_canonical, want_docs)), (statement, after, want_docs)
        assert got.matched == want.matched
        stats["compared"] += 1

    run()
    assert stats["compared"] >= 1


async def _put_raw(store: Any, collection: str, docs: list[dict[str, Any]]) -> None:
    with contextlib.suppress(BackendError):  # made by the items CrossQL wrote
        await store.create_collection(collection)
    table = store.table_name(collection)
    for doc in docs:
        await store.client.put_item(TableName=table,
                                    Item={k: _attribute_value(v) for k, v in doc.items()})


def test_dynamodb_native_writes_in_a_transaction_match_the_non_transactional_ones(
        runner: asyncio.Runner, dynamo_store: Any) -> None:
    """The same generated native writes (increments of exact numbers among them) run by
    tx.execute: the reference's collection after the commit, or the same refusal as
    outside a transaction (the shared increment check), with nothing written."""
    from crossql.semantics.writes import apply
    from tests.backends.differential import _native_canonical
    from tests.strategies import dynamodb_native_documents, dynamodb_native_writes

    seen: Counter[str] = Counter()

    @settings(max_examples=examples(25, at_least=10), deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.function_scoped_fixture])
    @given(docs=dynamodb_native_documents(8, min_size=2), statement=dynamodb_native_writes())
    # a write compared and one refused (0.2 + 0.1 in floats), whatever the draws
    @example(docs=[{"_id": "a", "dec": 0.2}, {"_id": "b", "dec": 1}],
             statement=crossql.parse("update docs set dec = dec + 0.1 where true"))
    @example(docs=[{"_id": "a", "dec": Decimal("0.25")}, {"_id": "b", "at": "x"}],
             statement=crossql.parse("update docs set dec = dec + 2 where true"))
    def run(docs: list[dict[str, Any]], statement: ir.Update) -> None:
        load(runner, dynamo_store, "docs", docs[1::2])
        runner.run(_put_raw(dynamo_store, "docs", docs[0::2]))
        try:
            dynamo_store.write_plan(statement)
        except CapabilityError:
            return

        async def body() -> Any:
            async with dynamo_store.transaction() as tx:
                return await tx.execute(statement)

        try:
            want_docs, want = apply(statement, docs)
        except BackendError:
            want_docs, want = docs, None
        try:
            got = runner.run(body())
        except BackendError as err:
            assert "nothing was written" in str(err), err
            assert want is None or "cannot hold" in str(err), (statement, err)
            want_docs = docs
            seen["refused"] += 1
        else:
            assert want is not None, statement
            assert got.matched == want.matched
            seen["compared"] += 1
        after = runner.run(dynamo_store.fetch("from docs"))
        assert sorted(map(_native_canonical, after)) == \
            sorted(map(_native_canonical, want_docs)), (statement, after, want_docs)

    run()
    assert seen["compared"] > 0 and seen["refused"] > 0, seen  # the examples make both sure
