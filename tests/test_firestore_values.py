"""Firestore's native value kinds at compile time (issue 16): timestamps and bytes bind
into filters and writes; what Firestore cannot compare or store as the reference means
it is refused, located, with a hint; the reference evaluator compares Firestore's
references and geopoints by value (docs/backends/firestore.md, "Value kinds")."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from bson import ObjectId
from google.auth.credentials import AnonymousCredentials
from google.cloud.firestore_v1 import AsyncClient, Client, GeoPoint

import crossql
from crossql.cli import dumps
from crossql.semantics.reference import sort_key, type_of, values_equal

T1 = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)


def plan(text: str, **params: Any) -> dict[str, Any]:
    return crossql.compile(text, "firestore", params=params).to_dict()


def test_a_timestamp_binds_into_a_filter_as_firestore_writes_one() -> None:
    where = plan("from c where at >= :t", t=T1)["query"][0]["where"]
    assert where == {"field": "at", "op": ">=",
                     "value": {"timestampValue": "2026-01-02T03:04:05.000006Z"}}
    # another zone: the same instant
    other = T1.astimezone(timezone(timedelta(hours=-5)))
    assert plan("from c where at >= :t", t=other) == plan("from c where at >= :t", t=T1)
    literal = plan('from c where at < timestamp "2026-01-02T03:04:05.000006Z"')
    assert literal["query"][0]["where"]["value"] == {"timestampValue":
                                                     "2026-01-02T03:04:05.000006Z"}


def test_a_timestamp_and_bytes_render_as_python_a_user_writes() -> None:
    code = crossql.compile("from c where at in :t and b == :b", "firestore",
                           params={"t": [T1], "b": b"\x00a"}).to_python()
    assert "from datetime import datetime, timezone" in code
    assert "datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=timezone.utc)" in code
    assert "b'\\x00a'" in code


def test_bytes_equality_and_in_compile_and_ordering_is_refused_located() -> None:
    assert plan("from c where b == :b", b=b"ab")["query"][0]["where"]["value"] == {
        "bytesValue": "YWI="}
    assert plan("from c where b in :b", b=[b"ab", b"b"])
    for text in ("from c where b < :b", "from c where b between :b and :c",
                 "from c where not (b >= :b)", "from c where x == 1 and b > :b"):
        with pytest.raises(crossql.CapabilityError) as info:
            params = {"b": b"ab", "c": b"b"} if ":c" in text else {"b": b"ab"}
            crossql.compile(text, "firestore", params=params)
        err = info.value
        assert err.code == "capability.firestore.bytes-order", text
        assert err.span is not None and err.hint and "==" in err.hint


def test_a_bytes_value_past_the_query_value_limit_is_refused() -> None:
    plan("from c where b == :b", b=b"x" * 1500)
    with pytest.raises(crossql.CapabilityError) as info:
        crossql.compile("from c where b == :b", "firestore", params={"b": b"x" * 1501})
    assert info.value.code == "capability.firestore.value-bytes"


def test_an_object_id_is_refused_with_a_hint() -> None:
    for text in ("from c where f == :v", "from c where f in :v",
                 "update c set f = :v where true"):
        v = [ObjectId()] if " in " in text else ObjectId()
        with pytest.raises(crossql.CapabilityError) as info:
            crossql.compile(text, "firestore", params={"v": v})
        assert info.value.code == "capability.firestore.value-kind"
        assert info.value.span is not None and "str(oid)" in (info.value.hint or ""), text


@pytest.mark.parametrize("value", [Decimal("1.5"), Decimal("2"), Decimal("-0.25"),
                                   Decimal("1e20"), Decimal("1.50")])
def test_a_decimal_that_is_a_double_exactly_compares_as_that_double(value: Decimal) -> None:
    where = plan("from c where f > :v", v=value)["query"][0]["where"]
    assert where["value"] == {"doubleValue": float(value)}
    assert f'"f", ">", {float(value)!r}' in crossql.compile(
        "from c where f > :v", "firestore", params={"v": value}).to_python()


@pytest.mark.parametrize("value", [Decimal("0.1"), Decimal("1.0000000000000000001"),
                                   Decimal(2**60), Decimal("1e400")])
def test_any_other_decimal_is_refused_located(value: Decimal) -> None:
    """Its double is another number: compared with stored ints or doubles, the answer
    could differ from the reference's (which compares the decimal exactly)."""
    for text in ("from c where f == :v", "from c where f in :v",
                 "from c where f between 0 and :v", "from c where t contains :v"):
        v = [1, value] if " in " in text else value
        with pytest.raises(crossql.CapabilityError) as info:
            crossql.compile(text, "firestore", params={"v": v})
        assert info.value.code == "capability.firestore.decimal", text
        assert info.value.span is not None and "float(d)" in (info.value.hint or "")


def test_a_decimal_written_is_refused_located() -> None:
    for text in ("update c set f = :v where true", "update c set f = f + :v where true",
                 "update c set f = :v where _id == 'a'"):
        with pytest.raises(crossql.CapabilityError) as info:
            crossql.compile(text, "firestore", params={"v": Decimal("1.5")})
        assert info.value.code == "capability.firestore.decimal", text
        assert info.value.span is not None and "float(d)" in (info.value.hint or "")


def test_a_write_of_a_timestamp_renders_and_compiles() -> None:
    write = plan("update c set at = :t where b == :b", t=T1, b=b"x")
    assert write["update"] == {"at": {"timestampValue": "2026-01-02T03:04:05.000006Z"}}


CLIENTS = [Client(project="p", credentials=AnonymousCredentials()),
           AsyncClient(project="p", credentials=AnonymousCredentials())]


def test_references_and_geopoints_compare_by_value_whichever_client_made_them() -> None:
    sync, asynchronous = CLIENTS
    a, b = sync.document("users/1"), asynchronous.document("users/1")
    assert type_of(a) == type_of(b) == "reference"
    assert values_equal(a, b) and not values_equal(a, asynchronous.document("users/2"))
    assert not values_equal(a, "users/1")  # a reference is not its path
    assert type_of(GeoPoint(1.5, 2)) == "geopoint"
    assert values_equal(GeoPoint(1.5, 2), GeoPoint(1.5, 2.0))
    assert not values_equal(GeoPoint(1.5, 2), {"latitude": 1.5, "longitude": 2})
    docs = [{"_id": 1, "r": b, "g": GeoPoint(0, 5)}, {"_id": 2, "r": a, "g": GeoPoint(1, 2)},
            {"_id": 3, "r": sync.document("a/9"), "g": GeoPoint(-1, 9)}]
    # grouped by value, ordered as Firestore orders them (path segments; lat, then long)
    groups = crossql.evaluate("from c group by r select count() as n", docs)
    assert sorted(g["n"] for g in groups) == [1, 2]
    assert [r["_id"] for r in crossql.evaluate("from c order by r, _id", docs)] == [3, 1, 2]
    assert [r["_id"] for r in crossql.evaluate("from c order by g", docs)] == [3, 1, 2]
    # after BSON's kinds: a timestamp sorts before a reference, a reference before a geopoint
    assert sort_key(T1) < sort_key(a) < sort_key(GeoPoint(0, 0)) < sort_key(object())


def test_json_output_writes_a_reference_as_its_path_and_a_geopoint_as_a_map() -> None:
    row = {"r": CLIENTS[1].document("users/1"), "g": GeoPoint(1.5, -2), "at": T1}
    assert json.loads(dumps(row)) == {"r": "users/1", "g": {"latitude": 1.5, "longitude": -2},
                                      "at": "2026-01-02T03:04:05.000006+00:00"}


def test_a_prepared_query_compiles_native_values_in_full_never_into_a_template() -> None:
    """A plan template made from a plain value is never filled with bytes or a timestamp:
    the full compile runs, with its refusals."""
    from crossql.runtime.prepared import PreparedQuery

    prepared = PreparedQuery("from items where f >= :v", "firestore")
    prepared.plan({"v": 1})
    with pytest.raises(crossql.CapabilityError) as info:
        prepared.plan({"v": b"x"})
    assert info.value.code == "capability.firestore.bytes-order"
    assert prepared.plan({"v": T1}).to_dict()["query"][0]["where"]["value"] == {
        "timestampValue": "2026-01-02T03:04:05.000006Z"}


@pytest.mark.parametrize("value", [GeoPoint(1, 2), CLIENTS[0].document("users/1"),
                                   CLIENTS[1].document("users/1")])
def test_a_reference_or_geopoint_is_no_parameter_a_located_error_says_so(value: Any) -> None:
    for backend in ("firestore", "memory"):
        with pytest.raises(crossql.QuerySemanticError) as info:
            crossql.compile("from c where g == :g", backend, params={"g": value})
        assert info.value.span == (18, 20)
        assert "not a parameter" in str(info.value) and "Value kinds" in (info.value.hint or "")
