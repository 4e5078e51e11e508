"""The native value kinds (issue 16): timestamps, bytes, exact numbers, object ids and
sets in the reference semantics, in binding, and the backends' refusal of the kinds
they do not handle yet (docs/language.md, "Values")."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from bson import ObjectId
from hypothesis import given, settings
from hypothesis import strategies as st

import crossql
from crossql import ir
from crossql.backends import get_backend
from crossql.backends.base import _KIND_ROWS
from crossql.semantics.reference import sort_key
from tests.budget import examples

T1 = datetime(2026, 1, 1, tzinfo=UTC)
OID = ObjectId("5f0000000000000000000001")

DOCS: list[dict[str, Any]] = [
    {"_id": 1, "at": T1, "n": Decimal("1.5"), "b": b"ab", "o": OID, "s": {"red", "blue"}},
    {"_id": 2, "at": "2026-01-02", "n": 1.5, "b": "ab", "o": str(OID), "s": ["red"]},
    {"_id": 3, "at": datetime(2026, 1, 3), "n": float("nan"), "s": frozenset()},
    {"_id": 4, "at": T1 + timedelta(hours=5), "n": 2**62},
]


def ids(text: str, **params: Any) -> list[Any]:
    return [row["_id"] for row in crossql.evaluate(text, DOCS, params=params)]


def test_a_timestamp_compares_chronologically_and_never_with_a_string() -> None:
    assert ids("from c where at >= :t", t=T1) == [1, 3, 4]
    assert ids("from c where at >= '2026-01-01'") == [2]
    assert ids("from c where at == :t", t=T1.astimezone(timezone(timedelta(hours=2)))) == [1]


def test_a_naive_datetime_in_a_document_is_utc() -> None:
    assert ids("from c where at == :t", t=datetime(2026, 1, 3, tzinfo=UTC)) == [3]


def test_a_naive_datetime_parameter_is_refused_with_a_hint() -> None:
    with pytest.raises(crossql.QuerySemanticError) as info:
        ids("from c where at >= :t", t=datetime(2026, 1, 1))
    assert "naive datetime" in str(info.value) and info.value.hint is not None
    assert "tzinfo=timezone.utc" in info.value.hint
    assert info.value.span is not None


def test_numbers_compare_by_value_across_int_float_and_decimal() -> None:
    assert ids("from c where n == :v", v=Decimal("1.5")) == [1, 2]
    assert ids("from c where n == 1.5") == [1, 2]
    assert ids("from c where n > :v", v=Decimal("1.4999999999999999999")) == [1, 2, 4]
    assert ids("from c where n between 1 and :v", v=Decimal("1.5")) == [1, 2]


def test_bytes_and_object_ids_are_not_strings() -> None:
    assert ids("from c where b == :v", v=b"ab") == [1]
    assert ids("from c where b == 'ab'") == [2]
    # binary data orders as BSON: length first, then subtype, then bytewise
    assert ids("from c where b < :v", v=b"b") == []
    assert ids("from c where b < :v", v=b"ac") == [1]
    assert ids("from c where b > :v", v=b"zz") == []
    assert ids("from c where o == :v", v=OID) == [1]
    assert ids("from c where o in :v", v=[OID, str(OID)]) == [1, 2]


def test_a_set_is_an_array_without_order() -> None:
    assert ids("from c where s contains 'red'") == [1, 2]
    assert ids("from c where s contains all ['blue', 'red']") == [1]
    assert ids("from c where s contains any ['blue']") == [1]
    assert ids("from c where size(s) == 0") == [3]
    assert ids("from c where s == ['red', 'blue']") == [1]
    assert ids("from c where s == ['red', 'red']") == []
    # a set parameter fills a list of values
    assert ids("from c where _id in :v", v={4, 1}) == [1, 4]


def test_nan_is_below_every_number_and_compares_with_nothing() -> None:
    # `not (n > 1)` and `n <= 1` agree on the NaN document: neither returns it
    assert ids("from c where not (n > 1)") == ids("from c where n <= 1") == []
    assert ids("from c where n != 1") == [1, 2, 3, 4]
    rows = crossql.evaluate("from c select _id order by n", DOCS)
    assert [r["_id"] for r in rows] == [3, 1, 2, 4]


def test_the_mixed_type_order_is_bson_order() -> None:
    values = [T1, True, OID, b"a", [1], {"a": 1}, "s", 1, None]
    ordered = sorted(values, key=sort_key)
    assert ordered == [None, 1, "s", {"a": 1}, [1], b"a", OID, True, T1]
    rows = crossql.evaluate("from c select min(at) as lo, max(at) as hi", DOCS)
    assert rows == [{"lo": "2026-01-02", "hi": datetime(2026, 1, 3)}]


def test_sum_leaving_the_64_bit_range_is_a_float_and_decimals_sum_exactly() -> None:
    docs = [{"_id": i, "n": 2**62} for i in range(4)]
    assert crossql.evaluate("from c select sum(n) as s", docs) == [{"s": float(2**64)}]
    docs = [{"_id": 1, "n": Decimal("0.1")}, {"_id": 2, "n": 0.2}, {"_id": 3, "n": 1}]
    assert crossql.evaluate("from c select sum(n) as s", docs) == [{"s": Decimal("1.3")}]


def test_ordering_a_timestamp_with_a_string_literal_is_an_error_between_bounds() -> None:
    with pytest.raises(crossql.QuerySemanticError, match="of one kind"):
        ids("from c where at between :a and 'z'", a=T1)


def _refused_kinds() -> list[tuple[str, Any]]:
    """(backend, value) for each native value a backend's capabilities say it refuses."""
    from crossql.backends import get_backend
    from crossql.backends.base import _KIND_ROWS

    return [(backend, value) for backend in ("dynamodb", "firestore")
            for value in (T1, b"x", Decimal("1"), OID)
            if get_backend(backend).capabilities.value_support(
                _KIND_ROWS[ir.native_kind(value) or ""]) == "refused"]


@pytest.mark.parametrize(("backend", "value"), _refused_kinds())
def test_a_backend_refuses_a_kind_it_does_not_handle(backend: str, value: Any) -> None:
    kind = _KIND_ROWS[ir.native_kind(value) or ""]
    if get_backend(backend).capabilities.value_support(kind) != "refused":
        crossql.compile("from items where f == :v", backend, params={"v": value})
        return  # (it handles the kind: its own tests say how, writes included)
    with pytest.raises(crossql.CapabilityError) as info:
        crossql.compile("from items where f == :v", backend, params={"v": value})
    assert info.value.code == f"capability.{backend}.value-kind"
    assert info.value.span == (22, 24)
    with pytest.raises(crossql.CapabilityError):
        crossql.compile("update items set f = :v where _id == 'a'", backend,
                        params={"v": value})


def test_the_memory_store_round_trips_every_kind() -> None:
    async def main() -> None:
        store = crossql.connect({"driver": "memory"})
        async with store:
            await store.collection("c").insert_many([dict(d) for d in DOCS])
            for field in ("at", "n", "b", "o"):
                for doc in DOCS:
                    if field not in doc or doc[field] != doc[field]:
                        continue
                    (row,) = await store.fetch("from c where _id == :i", i=doc["_id"])
                    if isinstance(row[field], datetime) and row[field].tzinfo is None:
                        continue  # a naive one is not a parameter
                    found = await store.fetch(f"from c where {field} == :v select _id",
                                              v=row[field])
                    assert {"_id": doc["_id"]} in found
            result = await store.execute("update c set at = :t where o == :o",
                                         t=T1 + timedelta(days=1), o=OID)
            assert result.matched == 1
            (row,) = await store.fetch("from c where _id == 1")
            assert row["at"] == T1 + timedelta(days=1) and row["o"] == OID

    asyncio.run(main())


# --- the timestamp literal ------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    'at > timestamp "2026-01-02T03:04:05Z"', "at > TimeStamp\n'2026-01-02T03:04:05+02:00'",
    "timestamp == 1", "timestamp 'x' timestamp", 'timestamps "x"', "timestamp\"x",
    "t\u0131mestamp 'x'",
    'timestamp -- c\n "x"', "[timestamp '1', timestamp\t\"2\"]",
])
def test_the_timestamp_token_matches_lark(text: str) -> None:
    from tests.test_lexer import _same

    _same(text)


@given(st.datetimes(timezones=st.timezones() | st.just(UTC),
                    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)))
@settings(max_examples=examples(100))
def test_a_timestamp_literal_round_trips_through_the_formatter(moment: datetime) -> None:
    text = f'from c where at >= timestamp "{moment.isoformat()}"'
    query = crossql.parse(text)
    assert isinstance(query, ir.Query) and isinstance(query.where, ir.Compare)
    literal = query.where.value
    assert isinstance(literal, ir.Literal) and literal.kind == "timestamp"
    # the instant the text names (its offset), compared in UTC: Python's == between
    # zones is always False for a local time in a DST gap or fold (PEP 495)
    instant = (moment.replace(tzinfo=None) - moment.utcoffset()).replace(tzinfo=UTC)  # type: ignore[operator]
    assert literal.value == instant and literal.value.tzinfo is UTC
    assert crossql.parse(crossql.format(query)) == query


def test_a_timestamp_literal_means_what_the_parameter_means() -> None:
    assert ids('from c where at >= timestamp "2026-01-01T02:00:00+02:00"') == \
        ids("from c where at >= :t", t=T1) == [1, 3, 4]
    assert crossql.format(crossql.parse("from c where at == timestamp '2026-01-01T00:00:00Z'")) \
        == 'from c where at == timestamp "2026-01-01T00:00:00Z"'


def test_the_builder_binds_native_values() -> None:
    q = crossql.query("c").where(crossql.field("at") >= T1).select("_id")
    assert [r["_id"] for r in crossql.evaluate(q, DOCS)] == [1, 3, 4]


@pytest.mark.parametrize("backend", ["dynamodb", "firestore"])
def test_a_prepared_query_refuses_a_kind_its_backend_does_not_handle(backend: str) -> None:
    from crossql.runtime.prepared import PreparedQuery

    refused = dict((b, v) for b, v in reversed(_refused_kinds()))[backend]
    row = {T1: "timestamp", OID: "object id", b"x": "bytes"}.get(refused, "exact number")
    prepared = PreparedQuery("from items where f == :v", backend)
    prepared.plan({"v": 1})  # a plain value: a template
    with pytest.raises(crossql.CapabilityError, match=f"{row} values"):
        prepared.plan({"v": refused})
    if refused == T1:
        with pytest.raises(crossql.CapabilityError, match="timestamp values"):
            PreparedQuery('from items where f >= timestamp "2026-01-01T00:00:00Z"', backend)


def test_a_binary_subtype_is_part_of_the_value() -> None:
    from bson import Binary

    docs = [{"_id": 1, "b": Binary(b"ab", 4)}, {"_id": 2, "b": b"ab"}]
    found = crossql.evaluate("from c where b == :v select _id", docs,
                             params={"v": Binary(b"ab", 4)})
    assert found == [{"_id": 1}]
    assert crossql.evaluate("from c where b == :v select _id", docs,
                            params={"v": Binary(b"ab", 0)}) == [{"_id": 2}]


def test_a_float_beside_a_decimal_counts_as_its_shortest_text() -> None:
    # MongoDB: double 0.1 equals Decimal128("0.1"), and is below the decimal expansion
    # of the double (tests/backends/test_mongodb_values.py checks the server)
    expansion = Decimal("0.1000000000000000055511151231257827")  # about the double 0.1
    docs = [{"_id": 1, "d": Decimal("0.1")}, {"_id": 2, "d": expansion},
            {"_id": 3, "d": Decimal("0.30000000000000004")}, {"_id": 4, "d": Decimal("0.3")}]
    assert [r["_id"] for r in crossql.evaluate("from c where d == 0.1", docs)] == [1]
    assert [r["_id"] for r in crossql.evaluate("from c where d > 0.1", docs)] == [2, 3, 4]
    assert [r["_id"] for r in crossql.evaluate("from c where d == :v", docs,
                                               params={"v": 0.1 + 0.2})] == [3]


def test_the_refusal_sees_a_native_value_written_in_any_case_and_inside_lists() -> None:
    # every backend handles timestamps now: the keyword in any case is still one
    query = crossql.parse('from items where f >= TimeStamp "2026-01-01T00:00:00Z"')
    assert isinstance(query, ir.Query) and isinstance(query.where, ir.Compare)
    assert isinstance(query.where.value, ir.Literal) and query.where.value.kind == "timestamp"
    for text, params, backend in [
            ("from items where f in :v", {"v": [1, [OID]]}, "dynamodb"),
            ("from items where f == :v", {"v": [1, OID]}, "dynamodb"),
            ("from items where f in :v", {"v": [1, [OID]]}, "firestore"),
            ("update items set f = :v where true", {"v": OID}, "firestore")]:
        with pytest.raises(crossql.CapabilityError, match="values yet"):
            crossql.compile(text, backend, params=params)
    # (every backend handles timestamps now: one written in any case compiles)
    crossql.compile('from items where f >= TimeStamp "2026-01-01T00:00:00Z"', "dynamodb")


def test_json_output_writes_the_native_kinds() -> None:
    import json

    from crossql.cli import dumps

    row = {"_id": OID, "at": T1, "b": b"ab", "n": Decimal("1.5")}
    assert json.loads(dumps(row)) == {"_id": str(OID), "at": "2026-01-01T00:00:00+00:00",
                                      "b": "YWI=", "n": 1.5}


def test_beside_a_decimal_a_float_sorts_as_its_shortest_text() -> None:
    docs = [{"_id": 1, "d": 0.1}, {"_id": 2, "d": Decimal("0.1")}, {"_id": 3, "d": 0.05}]
    rows = crossql.evaluate("from c select _id order by d, _id", docs)
    assert [r["_id"] for r in rows] == [3, 1, 2]  # 0.1 and Decimal("0.1") tie: by _id
    rows = crossql.evaluate("from c select _id order by d desc, _id", docs)
    assert [r["_id"] for r in rows] == [1, 2, 3]


OUT_OF_UTC = [datetime(1, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1))),
              datetime(9999, 12, 31, 23, 30, tzinfo=timezone(timedelta(hours=-1)))]
"""Aware datetimes Python holds whose UTC form is outside the years 1 to 9999."""


@pytest.mark.parametrize("backend", ["memory", "mongodb", "firestore", "dynamodb"])
@pytest.mark.parametrize("text", ["from events where at >= :x", "from events where at in :x",
                                  "update events set a = :x where k == 1",
                                  "delete from events where at == :x"])
@pytest.mark.parametrize("value", OUT_OF_UTC, ids=["year-0", "year-10000"])
def test_a_timestamp_outside_the_utc_years_is_a_located_error(
        backend: str, text: str, value: datetime) -> None:
    # bound: datetime.astimezone raises a bare OverflowError; the literal is refused
    # by the parser, on every backend, before any backend sees it
    bound: Any = [value] if " in " in text else value
    with pytest.raises(crossql.QueryError) as info:
        crossql.compile(text, backend, {"x": bound})
    assert info.value.span is not None and info.value.hint is not None
    assert "1 to 9999" in str(info.value)
    literal = text.replace(":x", f'timestamp "{value.isoformat()}"')
    if " in " in text:
        literal = literal.replace("in timestamp", "== timestamp")
    with pytest.raises(crossql.QueryError) as info:
        crossql.compile(literal, backend)
    assert info.value.span is not None and info.value.hint is not None


@settings(max_examples=examples(200), deadline=None)
@given(value=st.deferred(lambda: _edge_datetimes()),
       backend=st.sampled_from(["memory", "mongodb", "firestore", "dynamodb"]))
def test_any_aware_datetime_compiles_or_is_a_located_error(value: datetime,
                                                           backend: str) -> None:
    """Bound or written as a literal, near either end of the years a datetime holds."""
    for text, params in [("from events where at >= :x", {"x": value}),
                         (f'from events where at == timestamp "{value.isoformat()}"', {}),
                         ("update events set a = :x where true", {"x": value})]:
        try:
            crossql.compile(text, backend, params)
        except crossql.QueryError as err:
            assert err.span is not None and err.hint, (text, err)


def _edge_datetimes() -> st.SearchStrategy[datetime]:
    from tests.strategies import aware_datetimes_at_the_edges

    return aware_datetimes_at_the_edges()
