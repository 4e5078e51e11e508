"""Firestore (the emulator) on documents the google-cloud-firestore client wrote itself:
Timestamps, bytes, references, geopoints (issue 16). What ``fetch`` returns, bound
again, finds the document again; written back, it is stored as it was; comparisons
agree with the reference evaluator (docs/backends/firestore.md, "Value kinds")."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from google.cloud.firestore_v1 import GeoPoint
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import crossql
from crossql import ir
from crossql.semantics.reference import type_of
from tests.backends.firestore_support import PROFILES
from tests.budget import examples

pytestmark = pytest.mark.integration

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def references(value: Any, client: Any) -> Any:
    """``value`` with each drawn path (``FirestorePath``) a reference of ``client``."""
    from tests.strategies import FirestorePath

    if isinstance(value, dict):
        return {k: references(v, client) for k, v in value.items()}
    if isinstance(value, list):
        return [references(v, client) for v in value]
    if type(value) is FirestorePath:
        return client.document(str(value))
    return value


async def native_set(store: Any, collection: str, docs: list[dict[str, Any]]) -> None:
    """Write ``docs`` with the client itself (not CrossQL): ``_id`` is the document id."""
    coll = store.client.collection(collection)
    for doc in docs:
        await coll.document(doc["_id"]).set({k: v for k, v in doc.items() if k != "_id"})


async def raw(store: Any, collection: str, doc_id: str) -> dict[str, Any]:
    """A document as the client reads it (no CrossQL in between)."""
    snapshot = await store.client.collection(collection).document(doc_id).get()
    data: dict[str, Any] = snapshot.to_dict()
    return data


def test_documents_the_client_wrote_are_found_by_what_fetch_returned(
        runner: asyncio.Runner, firestore_store: Any) -> None:
    """The issue's "Done when" for Firestore: `at >= :since` with an aware datetime on
    timestamps the client wrote; bytes, references and geopoints read back, found again
    (bytes) and written back unchanged (references, geopoints)."""
    store = firestore_store
    at = T0 + timedelta(days=1, microseconds=7)

    async def main() -> None:
        user = store.client.document("users/u1")
        await native_set(store, "vals_done", [
            {"_id": "a", "at": at, "b": b"\x00ab", "r": user, "g": GeoPoint(48.85, 2.35),
             "naive": datetime(2026, 1, 2, 3, 4, 5)},
            {"_id": "b", "at": T0 - timedelta(days=1), "b": b"b"},
            {"_id": "c", "at": at.isoformat(), "b": "ab", "r": "users/u1",
             "g": {"latitude": 48.85, "longitude": 2.35}},  # text: not the kinds above
        ])
        rows = await store.fetch("from vals_done where at >= :since", since=T0)
        assert [r["_id"] for r in rows] == ["a"]
        (row,) = rows
        assert row["at"] == at and type(row["at"]) is datetime and row["at"].tzinfo is not None
        assert row["naive"] == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)  # the client: UTC
        assert row["b"] == b"\x00ab" and type_of(row["r"]) == "reference"
        assert row["r"].path == "users/u1" and row["g"] == GeoPoint(48.85, 2.35)
        docs = await store.fetch("from vals_done order by _id")
        want = crossql.evaluate("from vals_done where at >= :since", docs,
                                params={"since": T0})
        assert [r["_id"] for r in want] == ["a"]
        # a timestamp is not a string, and a string is not a timestamp
        assert await store.fetch("from vals_done where at >= '2026' select _id") == \
            [{"_id": "c"}]
        # bound again, what fetch returned finds its document
        for field in ("at", "b"):
            assert await store.fetch(f"from vals_done where {field} == :v select _id",
                                     v=row[field]) == [{"_id": "a"}]
            assert await store.fetch(f"from vals_done where {field} in :v select _id",
                                     v=[row[field], "x"]) == [{"_id": "a"}]
        result = await store.execute("update vals_done set seen = true where at == :t",
                                     t=row["at"])
        assert (result.matched, result.modified) == (1, 1)
        stored = await raw(store, "vals_done", "a")
        assert stored["r"] == user and stored["g"] == GeoPoint(48.85, 2.35)
        assert stored["at"] == at and stored["seen"] is True
        # written back by CrossQL (insert of the rows read), stored as the client wrote them
        await store.collection("vals_copy").insert_many(docs)
        copy = await raw(store, "vals_copy", "a")
        assert copy["r"] == user and copy["g"] == GeoPoint(48.85, 2.35)
        assert copy["at"] == at and copy["b"] == b"\x00ab"
        assert (await raw(store, "vals_copy", "c"))["r"] == "users/u1"
        # a timestamp bound into a write, read back the same
        await store.execute("update vals_done set w = :t, x = :b where _id == 'b'",
                            t=at, b=b"\xff")
        (b_row,) = await store.fetch("from vals_done where _id == 'b'")
        assert b_row["w"] == at and b_row["x"] == b"\xff"

    runner.run(main())


def test_digits_below_the_microsecond_are_rounded_down_everywhere(
        runner: asyncio.Runner, firestore_store: Any) -> None:
    """Firestore keeps microseconds ("any additional precision is rounded down"), and a
    bound datetime keeps what a Python datetime has: a ``DatetimeWithNanoseconds`` the
    client writes reads back as its microsecond, and bound, means that microsecond, on
    Firestore as in the reference."""
    from google.api_core.datetime_helpers import DatetimeWithNanoseconds

    store = firestore_store
    fine = DatetimeWithNanoseconds(2026, 1, 1, 0, 0, 0, nanosecond=1500, tzinfo=UTC)
    micro = datetime(2026, 1, 1, 0, 0, 0, 1, tzinfo=UTC)
    later = micro + timedelta(microseconds=1)
    runner.run(native_set(store, "vals_ns", [{"_id": "a", "at": fine}, {"_id": "b", "at": later}]))
    rows = runner.run(store.fetch("from vals_ns order by _id"))
    assert rows[0]["at"] == micro and type(rows[0]["at"]) is datetime
    for text in ("from vals_ns where at == :t select _id", "from vals_ns where at > :t select _id",
                 "from vals_ns where at in :t select _id"):
        t = [fine] if " in " in text else fine
        got = runner.run(store.fetch(text, t=t))
        assert got == crossql.evaluate(text, rows, params={"t": t}), (text, got)
        assert len(got) == 1


def test_what_firestore_cannot_store_exactly_is_refused_with_a_hint(
        runner: asyncio.Runner, firestore_store: Any) -> None:
    store = firestore_store
    with pytest.raises(TypeError, match="Decimal"):
        runner.run(store.collection("vals_no").insert_many([{"_id": "a", "d": Decimal("1.1")}]))
    with pytest.raises(TypeError, match="no sets"):
        runner.run(store.collection("vals_no").insert_many([{"_id": "a", "s": {1, 2}}]))
    with pytest.raises(crossql.CapabilityError) as info:
        runner.run(store.execute("update vals_no set d = :d where true", d=Decimal("1.5")))
    assert info.value.code == "capability.firestore.decimal" and info.value.hint
    # a reference or a geopoint is not a parameter: a located error, never a silent miss
    with pytest.raises(crossql.QuerySemanticError) as bound:
        runner.run(store.fetch("from vals_no where g == :g", g=GeoPoint(1, 2)))
    assert bound.value.span is not None
    assert runner.run(store.fetch("from vals_no")) == []


_KINDS: dict[str, st.SearchStrategy[Any]] = {
    "timestamp": st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1),
                              timezones=st.just(UTC)),
    "bytes": st.binary(max_size=16),
}


@pytest.mark.parametrize("kind", sorted(_KINDS))
@pytest.mark.parametrize("writer", ["crossql", "client"])
def test_a_value_read_back_and_bound_finds_its_document(
        runner: asyncio.Runner, firestore_store: Any, kind: str, writer: str) -> None:
    """Per kind: write (by CrossQL or by the client) → read → bind what was read → the
    same documents as the reference finds; written by an update, read back of the same
    type, found again."""
    store = firestore_store

    @settings(max_examples=examples(15), deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(values=st.lists(_KINDS[kind], min_size=1, max_size=5))
    def check(values: list[Any]) -> None:
        docs = [{"_id": f"d{i}", "v": v} for i, v in enumerate(values)]
        runner.run(store.drop_collection("vals_rt"))
        if writer == "client":
            runner.run(native_set(store, "vals_rt", docs))
        else:
            runner.run(store.collection("vals_rt").insert_many(docs))
        rows = runner.run(store.fetch("from vals_rt order by _id"))
        assert [r["v"] for r in rows] == values
        assert all(type(r["v"]) is type(v) for r, v in zip(rows, values, strict=True))
        for row in rows:
            found = runner.run(store.fetch("from vals_rt where v == :v select _id", v=row["v"]))
            want = crossql.evaluate("from vals_rt where v == :v select _id", rows,
                                    params={"v": row["v"]})
            assert sorted(found, key=repr) == sorted(want, key=repr) and {"_id": row["_id"]} \
                in found
            result = runner.run(store.execute("update vals_rt set w = :v where _id == :i",
                                              v=row["v"], i=row["_id"]))
            assert result.matched == 1
            (again,) = runner.run(store.fetch("from vals_rt where _id == :i", i=row["_id"]))
            assert again["w"] == row["v"] and type(again["w"]) is type(row["v"])
            found = runner.run(store.fetch("from vals_rt where w == :v select _id",
                                           v=again["w"]))
            assert {"_id": row["_id"]} in found

    check()


_UNBINDABLE: dict[str, st.SearchStrategy[Any]] = {
    "reference": st.lists(st.sampled_from(["users", "orders"]), min_size=1, max_size=3).flatmap(
        lambda colls: st.lists(st.text("abc123", min_size=1, max_size=4),
                               min_size=len(colls), max_size=len(colls)).map(
            lambda ids: "/".join(f"{c}/{i}" for c, i in zip(colls, ids, strict=True)))),
    "geopoint": st.builds(GeoPoint, st.floats(-90, 90), st.floats(-180, 180)),
}


@pytest.mark.parametrize("kind", sorted(_UNBINDABLE))
@pytest.mark.parametrize("writer", ["crossql", "client"])
def test_a_reference_or_geopoint_read_back_and_written_back_is_the_same(
        runner: asyncio.Runner, firestore_store: Any, kind: str, writer: str) -> None:
    """References and geopoints are not parameters (a located refusal), so their round
    trip is: write → read → write what was read (insert, and an update computed from the
    snapshot) → the client reads the same value; and ``==`` of rows is by value."""
    store = firestore_store

    @settings(max_examples=examples(15), deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(values=st.lists(_UNBINDABLE[kind], min_size=1, max_size=4))
    def check(values: list[Any]) -> None:
        made = [store.client.document(v) if kind == "reference" else v for v in values]
        docs = [{"_id": f"d{i}", "v": v} for i, v in enumerate(made)]
        for name in ("vals_ref", "vals_ref2"):
            runner.run(store.drop_collection(name))
        if writer == "client":
            runner.run(native_set(store, "vals_ref", docs))
        else:
            runner.run(store.collection("vals_ref").insert_many(docs))
        rows = runner.run(store.fetch("from vals_ref order by _id"))
        assert all(type_of(r["v"]) == kind for r in rows)
        assert crossql.evaluate("from vals_ref order by _id", docs) == rows  # by value
        runner.run(store.collection("vals_ref2").insert_many(rows))
        runner.run(store.execute("update vals_ref2 set n = 1 where true"))
        for doc in docs:
            stored = runner.run(raw(store, "vals_ref2", doc["_id"]))
            assert stored == {"v": doc["v"], "n": 1}
        assert runner.run(store.count("from vals_ref2 where n == 1")) == len(docs)
        with pytest.raises(crossql.QuerySemanticError):
            runner.run(store.fetch("from vals_ref where v == :v", v=rows[0]["v"]))

    check()


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_firestore_matches_reference_on_native_values(
        runner: asyncio.Runner, firestore_store: Any, profile: str) -> None:
    """The differential over timestamps, bytes, references and geopoints beside values of
    other kinds, half of each collection written by the client itself."""
    from tests.backends.differential import STATS, compare_native_on_backend
    from tests.strategies import firestore_native_documents, firestore_native_queries

    store = firestore_store

    async def insert(collection: str, batch: list[dict[str, Any]]) -> None:
        await native_set(store, collection, batch)

    @settings(max_examples=examples(20), deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.function_scoped_fixture])
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        drawn = data.draw(firestore_native_documents(12, min_size=4), label="docs")
        docs = references(drawn, store.client)
        qs = [data.draw(firestore_native_queries(), label=f"q{i}") for i in range(30)]
        name = f"firestore native values ({profile})"
        compare_native_on_backend(runner, store, name, docs, qs, native_insert=insert,
                                  options=PROFILES[profile])
        for q in qs:  # (each accepted one was compared above)
            if any(type(n) is ir.Literal and n.kind == "decimal" for n in ir.walk(q)):
                try:
                    crossql.compile(q, "firestore", options=PROFILES[profile])
                except crossql.CapabilityError:
                    continue
                STATS[name]["compared with a Decimal"] += 1

    check()


def test_the_native_differentials_compared_queries() -> None:
    """Runs after them: both profiles compared most of the queries drawn, and an ordering
    comparison with bytes was drawn and refused (located: ``bytes-order``)."""
    from tests.backends.differential import STATS
    from tests.budget import skip_unless_ran

    names = [f"firestore native values ({p})" for p in sorted(PROFILES)]
    skip_unless_ran(all(n in STATS for n in names), "the native differentials")
    for name in names:
        assert STATS[name]["compared"] >= examples(20) * 10, STATS[name]
    assert sum(STATS[n].get("refused:bytes-order", 0) for n in names) > 0
    assert sum(STATS[n].get("refused:decimal", 0) for n in names) > 0
    assert sum(STATS[n].get("compared with a Decimal", 0) for n in names) > 0
