"""Cursor pagination's API on the memory store (issue 18): the cursor's binding and
signature, the refusals, ``explain``, transactions, the sync facade and configuration.
The walks against the reference on every backend are tests/backends/test_pagination.py."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import pytest

import crossql
from crossql.errors import QuerySemanticError

DOCS = [{"_id": f"u{i}", "age": i % 4, "name": f"n{i}"} for i in range(10)]


def _store(**config: Any) -> Any:
    store = crossql.connect({"driver": "memory", **config})
    asyncio.run(store.collection("users").insert_many(DOCS))
    return store


def test_a_cursor_is_compact_url_safe_and_carries_only_the_keys() -> None:
    store = _store()
    page = asyncio.run(store.page("from users where age > 0 order by age desc", size=3))
    cursor = page.next_cursor
    assert cursor is not None and len(cursor) < 64
    assert cursor.replace("-", "").replace("_", "").isalnum()
    payload = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))[17:]
    assert payload == b'[[2,"u2"],3]'  # the last row's age and id, and rows served


def test_a_secret_signs_cursors_and_another_secret_refuses_them() -> None:
    signed, other, plain = (_store(cursor_secret="k1"), _store(cursor_secret="k2"), _store())
    text = "from users order by age"
    cursor = asyncio.run(signed.page(text, size=4)).next_cursor
    assert cursor is not None
    assert [r["_id"] for r in asyncio.run(signed.page(text, size=4, after=cursor)).rows] == \
        ["u5", "u9", "u2", "u6"]
    for store in (other, plain):
        with pytest.raises(QuerySemanticError) as caught:
            asyncio.run(store.page(text, size=4, after=cursor))
        assert caught.value.code == "semantic.cursor-tampered"
        assert "cursor_secret" in caught.value.message


@pytest.mark.parametrize("after", ["", "not a cursor!", "AAAA", "A" * 9000, 12])
def test_what_is_no_cursor_is_a_located_error(after: Any) -> None:
    with pytest.raises(QuerySemanticError) as caught:
        asyncio.run(_store().page("from users", size=2, after=after))
    assert caught.value.code == "semantic.cursor-invalid"
    assert caught.value.source == "from users"


def test_offset_and_grouped_queries_are_refused_saying_why() -> None:
    store = _store()
    with pytest.raises(QuerySemanticError, match="skip that many rows again") as caught:
        asyncio.run(store.page("from users order by age offset 2", size=2))
    assert caught.value.code == "semantic.page-offset" and caught.value.span == (31, 32)
    with pytest.raises(QuerySemanticError, match="no document id") as caught:
        asyncio.run(store.page("from users group by age", size=2))
    assert caught.value.code == "semantic.page-aggregate"
    with pytest.raises(ValueError, match="positive int"):
        asyncio.run(store.page("from users", size=0))


def test_a_map_at_an_order_key_ending_a_page_is_a_located_error() -> None:
    store = crossql.connect({"driver": "memory"})
    asyncio.run(store.collection("c").insert_many([{"_id": 1, "v": {"a": 1}}, {"_id": 2}]))
    with pytest.raises(QuerySemanticError, match="holds dict at the order key `v`"):
        asyncio.run(store.page("from c order by v desc", size=1))


def test_explain_says_how_the_page_resumes() -> None:
    store = _store()
    text = "from users where age > :a order by age desc"
    cursor = asyncio.run(store.page(text, size=2, a=0)).next_cursor
    explained = store.page_plan(text, size=2, after=cursor, a=0).explain()
    assert "walking `order by age desc, _id`" in explained
    assert "resumes: the reference order" in explained
    generic = crossql.Store.page_resume
    assert "(k > last) or (k == last and _id > last_id)" in generic


def test_pages_in_a_transaction_see_its_writes() -> None:
    store = _store()

    async def body() -> list[str]:
        async with store.transaction() as tx:
            await tx.execute("delete from users where age == 0")
            page = await tx.page("from users order by age", size=3)
            assert page.next_cursor is not None
            more = await tx.page("from users order by age", size=30, after=page.next_cursor)
            return [r["_id"] for r in page.rows + more.rows]

    assert asyncio.run(body()) == ["u1", "u5", "u9", "u2", "u6", "u3", "u7"]


def test_the_sync_facade_pages() -> None:
    with crossql.connect_sync({"driver": "memory"}) as store:
        store.collection("users").insert_many(DOCS)
        first = store.page("from users order by age desc", size=4, total=True)
        assert first.total == 10 and len(first.rows) == 4
        rest = store.prepare("from users order by age desc").page(size=10,
                                                                   after=first.next_cursor)
        assert len(rest.rows) == 6 and rest.next_cursor is None
        with store.transaction() as tx:
            assert tx.page("from users", size=20).to_dict()["next_cursor"] is None


def test_explain_of_a_mongodb_page_shows_the_guarded_range_filter() -> None:
    from crossql.compiler.checks import bind, check_query
    from crossql.grammar import parse_query
    from crossql.runtime.paging import binding_of, encode_cursor

    store = crossql.connect({"driver": "mongodb", "mongodb": {"uri": "mongodb://127.0.0.1:1",
                                                               "database": "d"}})
    text = "from users order by age desc"
    first = store.page_plan(text, size=5)
    assert "here: `age < :last_age or age == :last_age and _id > :last_id`" in \
        first.explain()
    assert first.inner.to_dict()["arguments"]["sort"] == [["age", -1], ["_id", 1]]
    bound = bind(check_query(parse_query(text)), {})
    cursor = encode_cursor(binding_of("mongodb", bound), [None, "u7"], 5, None)
    after = store.page_plan(text, size=5, after=cursor).inner.to_dict()["arguments"]
    # after a null age (last, descending) only the ids after u7 among null/missing ages:
    # strings after "u7", then every type ranked after strings (binary data, object ids,
    # bools, dates), each by a comparison with its least value
    epoch = {"$date": "1970-01-01T00:00:00Z"}
    assert after["filter"] == {"$and": [
        {"$or": [{"age": {"$type": "null", "$not": {"$type": "array"}}},
                 {"age": {"$exists": False}}]},
        {"$or": [{"_id": {"$gt": "u7"}},
                 {"_id": {"$gte": {"$binary": {"base64": "", "subType": "00"}}}},
                 {"_id": {"$gte": {"$oid": "000000000000000000000000"}}},
                 {"_id": {"$in": [False, True]}},
                 {"_id": {"$gte": epoch}}, {"_id": {"$lt": epoch}}]}]}
    assert after["limit"] == 6


def test_a_page_is_one_observed_call_with_its_rows(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    store = _store()
    with caplog.at_level(logging.DEBUG, logger="crossql"):
        asyncio.run(store.page("from users where age > :a", size=3, a=0))
    records = [r for r in caplog.records if r.name == "crossql"]
    assert len(records) == 1
    fields = records[0].crossql  # type: ignore[attr-defined]
    assert fields["operation"] == "page" and fields["rows"] == 3
    assert fields["query"] == "from users where age > :a"


def test_a_firestore_page_under_an_inequality_asks_for_its_order_key() -> None:
    store = crossql.connect({"driver": "firestore", "firestore": {
        "project_id": "p", "emulator_host": "127.0.0.1:1"}})
    with pytest.raises(crossql.CapabilityError) as caught:
        store.page_plan("from docs where b > 100", size=3)
    assert caught.value.source == "from docs where b > 100"
    assert caught.value.hint == "order by `b` before `_id`"
    steps = store.page_plan("from docs where b > 100 order by b", size=3).inner.to_dict()
    assert steps["query"][1:] == [{"order_by": "b", "direction": "ASCENDING"},
                                  {"order_by": "__name__", "direction": "ASCENDING"},
                                  {"limit": 4}]


# -- typed values in the cursor (issue 16): timestamps, exact numbers, bytes, object ids --

def _native_walk_docs() -> list[dict[str, Any]]:
    from datetime import UTC, datetime, timedelta, timezone
    from decimal import Decimal

    from bson import Binary, ObjectId

    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    plus2 = timezone(timedelta(hours=2))
    docs: list[dict[str, Any]] = []
    for i in range(40):
        at: Any = t0 + timedelta(minutes=i % 13, microseconds=i % 3)
        if i % 5 == 0:
            at = at.astimezone(plus2)  # the same instant in another zone
        elif i % 7 == 0:
            at = at.replace(tzinfo=None)  # naive: UTC, as the drivers write it
        price: Any = [Decimal("1.10"), 1.1, 2, Decimal("2.000"), 0.25,
                      Decimal("12345678901234567890.123456789"), -3][i % 7]
        blob: Any = [b"", b"a", b"ab", b"b", Binary(b"a", 4)][i % 5]
        docs.append({"_id": f"d{i:02d}", "at": at, "price": price, "blob": blob,
                     "ref": ObjectId(f"5f{i % 9:022x}")})
    docs += [{"_id": "null", "at": None, "price": None}, {"_id": "none"}]
    return docs


@pytest.mark.parametrize("order", ["at desc", "at", "price", "price desc", "blob",
                                   "blob desc", "ref", "ref desc"])
@pytest.mark.parametrize("generic", [False, True])
def test_a_page_walk_resumes_after_native_order_values(order: str, generic: bool) -> None:
    from crossql.backends.memory.store import MemoryStore
    from crossql.runtime.store import Store
    from tests.backends.page_differential import reference_ids, walk

    class GenericMemory(MemoryStore):
        run_page = Store.run_page  # the resume condition through the compiler

    docs = _native_walk_docs()
    store = GenericMemory() if generic else MemoryStore()
    store.cursor_secret = "s"
    asyncio.run(store.collection("orders").insert_many(docs))
    text = f"from orders order by {order}"
    rows, pages = asyncio.run(walk(store, text, 3))
    assert [r["_id"] for r in rows] == reference_ids(docs, text)
    assert pages == 14


def test_a_page_resumes_after_an_infinite_float() -> None:
    """An infinity ended a page with a bare ValueError (JSON has no form for it): the
    cursor tags it now."""
    from tests.backends.page_differential import reference_ids, walk

    docs = [{"_id": i, "v": v} for i, v in
            enumerate([1.0, float("inf"), float("-inf"), 3, float("inf"), None])]
    store = crossql.connect({"driver": "memory"})
    asyncio.run(store.collection("c").insert_many(docs))
    for text in ("from c order by v", "from c order by v desc"):
        rows, pages = asyncio.run(walk(store, text, 1))
        assert [r["_id"] for r in rows] == reference_ids(docs, text) and pages == 6


@pytest.mark.parametrize("generic", [False, True])
def test_a_nan_order_value_is_walked_where_the_reference_sorts_it(generic: bool) -> None:
    """NaN sorts below every number: the resume condition (MongoDB's, the generic one)
    left NaN documents out after a number descending, and a page ending on NaN was
    refused; both resume now (`k == NaN` holds exactly for NaN, as in MongoDB)."""
    from decimal import Decimal

    from crossql.backends.memory.store import MemoryStore
    from crossql.runtime.store import Store
    from tests.backends.page_differential import reference_ids, walk

    class GenericMemory(MemoryStore):
        run_page = Store.run_page

    docs = [{"_id": "n", "v": float("nan")}, {"_id": "a", "v": "a"}, {"_id": "o", "v": 1},
            {"_id": "b", "v": True}, {"_id": "d", "v": Decimal("NaN")}, {"_id": "z"},
            {"_id": "m", "v": -5}, {"_id": "n2", "v": float("nan")}]
    for text in ("from c order by v desc", "from c order by v"):
        store = GenericMemory() if generic else MemoryStore()
        asyncio.run(store.collection("c").insert_many(docs))
        rows, _ = asyncio.run(walk(store, text, 1))
        assert [r["_id"] for r in rows] == reference_ids(docs, text), text
