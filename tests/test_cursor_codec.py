"""The cursor's typed values (issue 16 meets issue 18): each kind a page can resume after
— timestamps, exact numbers, bytes (and bson subtypes), object ids, infinities — encodes
to a compact tagged form and decodes to the value the reference compares; equal values
give equal cursors; a changed or ill-typed cursor is a located ``QuerySemanticError``."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from bson import Binary, ObjectId
from hypothesis import given, settings
from hypothesis import strategies as st

import crossql
from crossql.compiler.checks import bind, check_query
from crossql.grammar import parse_query
from crossql.runtime.paging import (
    binding_of,
    decode_cursor,
    decode_value,
    encode_cursor,
    encode_value,
)
from crossql.semantics.reference import freeze, sort_key, values_equal
from tests.budget import examples

QUERY = bind(check_query(parse_query("from c order by v")), {})
BINDING = binding_of("memory", QUERY)

zones = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
instants = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                        timezones=st.none() | st.just(UTC) | zones)
decimals = st.decimals(allow_nan=False) | st.builds(
    lambda d, e: d.scaleb(e), st.decimals(allow_nan=False, allow_infinity=False),
    st.integers(-40, 40))
blobs = st.binary(max_size=40) | st.builds(Binary, st.binary(max_size=24),
                                           st.integers(0, 255))
object_ids = st.binary(min_size=12, max_size=12).map(ObjectId)
plain = st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.text() | \
    st.floats() | st.sampled_from([Decimal("NaN"), Decimal("-NaN")])  # NaN: one value
KINDS = {"timestamp": instants, "decimal": decimals, "bytes": blobs,
         "objectid": object_ids, "plain": plain}


def _round_trip(values: list[Any]) -> tuple[tuple[Any, ...], int]:
    cursor = encode_cursor(BINDING, values, 7, "k")
    return decode_cursor(cursor, QUERY, BINDING, len(values), "k")


@pytest.mark.parametrize("kind", list(KINDS))
@settings(max_examples=examples(150), deadline=None)
@given(data=st.data())
def test_a_value_decodes_to_what_the_reference_compares(kind: str, data: st.DataObject) -> None:
    value = data.draw(KINDS[kind])
    (back, last), served = _round_trip([value, "id"])
    assert served == 7 and last == "id"
    assert values_equal(back, value) if value is not None else back is None
    assert sort_key(back) == sort_key(value)
    assert freeze(back) == freeze(value)
    if isinstance(value, datetime):
        assert back.tzinfo is UTC  # an aware UTC instant, to the microsecond


@pytest.mark.parametrize("kind", list(KINDS))
@settings(max_examples=examples(100), deadline=None)
@given(data=st.data())
def test_equal_values_give_equal_cursors(kind: str, data: st.DataObject) -> None:
    value = data.draw(KINDS[kind])
    twin = data.draw(st.sampled_from(_equal_twins(value)))
    assert values_equal(twin, value) or value is None
    assert encode_cursor(BINDING, [twin], 1, None) == encode_cursor(BINDING, [value], 1, None)


def _equal_twins(value: Any) -> list[Any]:
    """Values equal to ``value`` in another spelling of its kind."""
    twins = [value]
    if isinstance(value, datetime):
        twins += [value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)]
        if value.tzinfo is not None and value.astimezone(UTC).year < 9999:
            twins.append(value.astimezone(timezone(timedelta(hours=5))))
    elif isinstance(value, Decimal) and value.is_finite():
        sign, digits, exponent = value.as_tuple()
        assert isinstance(exponent, int)
        twins.append(Decimal((sign, (*digits, 0, 0, 0), exponent - 3)))  # trailing zeros
        if not value:
            twins.append(value.copy_negate())  # -0 == 0
    elif isinstance(value, bytes) and getattr(value, "subtype", 0) == 0:
        twins += [bytes(value), Binary(bytes(value), 0)]
    elif isinstance(value, ObjectId):
        twins.append(ObjectId(str(value).upper()))
    return twins


def test_each_kind_has_a_compact_tagged_form() -> None:
    at = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=timezone(timedelta(hours=1)))
    assert encode_value(at) == {"t": 1767319445123456}  # microseconds since 1970, UTC
    assert encode_value(Decimal("1.10")) == encode_value(Decimal("1.1")) == {"d": "1.1"}
    assert encode_value(Decimal("-0.00")) == {"d": "0"}
    assert encode_value(Decimal("12345678901234567890.123456789")) == \
        {"d": "12345678901234567890.123456789"}  # every digit: no context rounds it
    assert encode_value(b"\xff\x00") == {"b": "_wA"}
    assert encode_value(Binary(b"\xff\x00", 4)) == {"b": "_wA", "s": 4}
    assert encode_value(ObjectId("5f" + "0" * 21 + "1")) == {"o": "5f" + "0" * 21 + "1"}
    assert encode_value(float("-inf")) == {"f": "-inf"}
    assert encode_value(float("nan")) == encode_value(Decimal("NaN")) == {"f": "nan"}
    assert decode_value({"t": -1}) == datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    assert type(decode_value({"b": "_wA", "s": 4})) is Binary


def _forged(values: list[Any], *, secret: str | None = None) -> str:
    """A cursor whose payload is ``values`` as given (JSON), signed as a client that
    knows the format (and the secret) would sign it."""
    from crossql.runtime.paging import _FINGERPRINT, _VERSION, _tag

    payload = json.dumps([values, 3]).encode()
    raw = bytes([_VERSION]) + BINDING[:_FINGERPRINT] + _tag(BINDING, payload, secret) + payload
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.mark.parametrize("value", [
    {"t": "2026"}, {"t": 10**20}, {"t": True}, {"d": "NaN"}, {"d": "1.10"}, {"d": "x"},
    {"b": "!!"}, {"b": "_wB"}, {"b": "", "s": 0}, {"b": "", "s": 256}, {"b": "", "x": 1},
    {"o": "5F" + "0" * 22}, {"o": "abc"}, {"f": "NaN"}, {"f": "1"}, {"v": 1}, [1], {},
    {"t": 1, "d": "1"}])
def test_an_ill_typed_cursor_value_is_a_located_error(value: Any) -> None:
    cursor = _forged([value, "id"])
    with pytest.raises(crossql.QuerySemanticError) as caught:
        decode_cursor(cursor, QUERY, BINDING, 2, None)
    assert caught.value.code == "semantic.cursor-invalid"
    assert caught.value.source == "from c order by v"


@pytest.mark.parametrize("text", ['[["NaN", "id"], 3]', '[[NaN, "id"], 3]',
                                  '[[Infinity, "id"], 3]', '[[1e999, "id"], 3]'])
def test_a_non_finite_json_number_is_no_cursor_value(text: str) -> None:
    from crossql.runtime.paging import _FINGERPRINT, _VERSION, _tag

    payload = text.encode()
    raw = bytes([_VERSION]) + BINDING[:_FINGERPRINT] + _tag(BINDING, payload, None) + payload
    cursor = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    if text.startswith('[["NaN"'):  # a string: a value like any other
        assert decode_cursor(cursor, QUERY, BINDING, 2, None)[0] == ("NaN", "id")
        return
    with pytest.raises(crossql.QuerySemanticError) as caught:
        decode_cursor(cursor, QUERY, BINDING, 2, None)
    assert caught.value.code == "semantic.cursor-invalid"


def test_a_typed_cursor_changed_anywhere_is_tampered_under_a_secret() -> None:
    at = datetime(2026, 5, 1, 12, 0, 0, 250000, tzinfo=UTC)
    cursor = encode_cursor(BINDING, [at, "id"], 3, "secret")
    raw = bytearray(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    for i in range(17, len(raw)):  # every byte of the payload
        changed = bytearray(raw)
        changed[i] ^= 1
        forged = base64.urlsafe_b64encode(bytes(changed)).rstrip(b"=").decode()
        with pytest.raises(crossql.QuerySemanticError) as caught:
            decode_cursor(forged, QUERY, BINDING, 2, "secret")
        assert caught.value.code in ("semantic.cursor-tampered", "semantic.cursor-invalid")


def test_a_kind_the_backend_does_not_handle_is_refused_at_both_ends() -> None:
    """The lift follows ``Capabilities.values``: a backend that refuses a kind neither
    makes a cursor after one (a located ``CapabilityError``) nor takes one."""
    at = datetime(2026, 5, 1, tzinfo=UTC)
    def handles_none(kind: str) -> bool:
        return False

    cursor = encode_cursor(BINDING, [at, "id"], 3, None)
    with pytest.raises(crossql.QuerySemanticError) as caught:
        decode_cursor(cursor, QUERY, BINDING, 2, None, handles_none)
    assert caught.value.code == "semantic.cursor-invalid"
    assert decode_cursor(cursor, QUERY, BINDING, 2, None)[0] == (at, "id")

    from crossql.runtime.paging import PageRequest, finish
    from crossql.semantics.paging import walk_keys

    req = PageRequest(QUERY, walk_keys(QUERY), None, 0, 1, 2, BINDING, "no-such-backend")
    with pytest.raises(crossql.CapabilityError) as refused:
        finish(req, [{"_id": 1, "v": at}, {"_id": 2, "v": at}], None, None)
    assert refused.value.code == "capability.no-such-backend.value-kind"
    assert "timestamp value at the order key `v`" in refused.value.message
    assert refused.value.source == "from c order by v"
    # numbers and strings need no capability
    page = finish(req, [{"_id": 1, "v": 5}, {"_id": 2, "v": 6}], None, None)
    assert page.next_cursor is not None


def test_a_set_at_an_order_key_stays_a_located_error() -> None:
    store = crossql.connect({"driver": "memory"})
    asyncio.run(store.collection("c").insert_many([{"_id": 1, "v": {"a", "b"}}, {"_id": 2}]))
    with pytest.raises(crossql.QuerySemanticError) as caught:
        asyncio.run(store.page("from c order by v desc", size=1))
    assert caught.value.code == "semantic.page-order-value"
    assert "holds set at the order key `v`" in caught.value.message
