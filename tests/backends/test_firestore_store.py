"""The Firestore store on the emulator: documents, batches, errors, configuration."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import crossql
from crossql.backends.firestore.plan import FieldFilter, FirestorePlan, Where
from crossql.backends.firestore.store import BATCH_SIZE, FirestoreStore
from tests.backends.conftest import load
from tests.backends.firestore_support import NATIVE

pytestmark = pytest.mark.integration


def test_documents_round_trip(runner: asyncio.Runner, firestore_store: Any) -> None:
    store = firestore_store
    coll = store.collection("docs")
    runner.run(store.drop_collection("docs"))
    new_id = runner.run(coll.insert_one({"name": "x", "nested": {"a": [1, 2.5, None]}}))
    assert isinstance(new_id, str) and len(new_id) == 20
    row = runner.run(coll.get(new_id))
    assert row == {"_id": new_id, "name": "x", "nested": {"a": [1, 2.5, None]}}
    assert next(iter(row)) == "_id"  # Firestore keeps no order of the other fields
    assert runner.run(coll.get("nope")) is None
    assert runner.run(coll.get(5)) is None  # no Firestore document has a non-string id
    assert runner.run(coll.get("a/b")) is None
    runner.run(coll.insert_many([{"_id": f"k{i}", "v": i} for i in range(10)]))
    assert runner.run(coll.delete_many("v >= :lo", lo=5)) == 5
    assert runner.run(store.count("from docs")) == 6
    with pytest.raises(crossql.BackendError, match=r"firestore: .*AlreadyExists"):
        runner.run(coll.insert_one({"_id": "k1"}))


def test_ids_are_strings(runner: asyncio.Runner, firestore_store: Any) -> None:
    coll = firestore_store.collection("ids")
    with pytest.raises(TypeError, match="document id is a string, not int 1"):
        runner.run(coll.insert_many([{"_id": "ok"}, {"_id": 1}]))
    for bad in ("", "a/b", "..", "__x__"):
        with pytest.raises(ValueError, match="cannot be a Firestore document id"):
            runner.run(coll.insert_one({"_id": bad}))
    with pytest.raises(ValueError, match=r"tags\[0\]: Firestore cannot store an array inside"):
        runner.run(coll.insert_one({"_id": "n", "tags": [["x"]]}))
    # nothing was written by the refused calls, not even the valid first document
    assert runner.run(firestore_store.count("from ids")) == 0


def test_batches_of_500(runner: asyncio.Runner, firestore_store: Any) -> None:
    store = firestore_store
    n = 2 * BATCH_SIZE + 7
    load(runner, store, "many", [{"_id": f"m{i:04d}", "i": i} for i in range(n)])
    assert runner.run(store.count("from many")) == n
    assert runner.run(store.count("from many where i >= 1000")) == 7
    assert runner.run(store.collection("many").delete_many("i < 600")) == 600
    assert runner.run(store.count("from many")) == n - 600
    runner.run(store.drop_collection("many"))
    assert runner.run(store.count("from many")) == 0


def test_counts_and_pages(runner: asyncio.Runner, firestore_store: Any) -> None:
    store = firestore_store
    load(runner, store, "pages", [{"_id": f"d{i}", "i": i} for i in range(9)])
    assert runner.run(store.count("from pages order by _id limit 3 offset 7")) == 2
    rows = runner.run(store.fetch("from pages select i order by _id limit 3 offset 2"))
    assert rows == [{"i": 2}, {"i": 3}, {"i": 4}]
    rows = runner.run(store.fetch("from pages where i >= 7 select _id as k, i as n"))
    assert sorted(rows, key=lambda r: r["n"]) == [{"k": "d7", "n": 7}, {"k": "d8", "n": 8}]
    assert runner.run(store.fetch("from pages where i > 7 select count() as n")) == [{"n": 1}]
    assert runner.run(store.count("from pages select count() as n")) == 1
    assert runner.run(store.fetch("from pages select count() as n offset 1")) == []
    assert runner.run(store.fetch("from pages limit 0")) == []
    assert runner.run(store.fetch("from pages where i in [] select count() as n")) == [{"n": 0}]


def test_delete_many_uses_the_profile(runner: asyncio.Runner, firestore_store: Any) -> None:
    store = firestore_store
    load(runner, store, "del", [{"_id": f"d{i}", "i": i} for i in range(4)])
    with pytest.raises(crossql.CapabilityError, match="`!=`"):
        runner.run(store.collection("del").delete_many("i != 1"))
    native = FirestoreStore(client=store.client, options=NATIVE)
    assert runner.run(native.collection("del").delete_many("i != 1")) == 3
    assert runner.run(store.fetch("from del")) == [{"_id": "d1", "i": 1}]


def test_server_errors_keep_their_message(runner: asyncio.Runner, firestore_store: Any) -> None:
    """A plan the server rejects (here, built by hand past a limit the compiler checks)
    fails as a BackendError naming firestore, with the server's own words."""
    both = Where(FieldFilter(("a",), "!=", 1))
    plan = FirestorePlan("errs", steps=(both, Where(FieldFilter(("b",), "!=", 2))))
    with pytest.raises(crossql.BackendError,
                       match=r"firestore: InvalidArgument: 400 Only a single 'NOT_EQUAL'"):
        runner.run(_rows(firestore_store, plan))
    with pytest.raises(crossql.BackendError, match="Only a single"):
        runner.run(firestore_store.count_plan(plan))


async def _rows(store: Any, plan: Any) -> list[Any]:
    return [row async for row in store.run_plan(plan)]


def test_values_come_back_as_stored(runner: asyncio.Runner, firestore_store: Any) -> None:
    doc = {"_id": "v", "i": 2**63 - 1, "f": 0.1, "neg": -0.0, "s": "é\U0001F600", "b": True,
           "n": None, "a": [1, "x", None, {"k": [2]}], "m": {"deep": {"x": 1}}}
    load(runner, firestore_store, "vals", [doc])
    assert runner.run(firestore_store.collection("vals").get("v")) == doc
    assert runner.run(firestore_store.fetch("from vals")) == [doc]


def test_connect_with_config_emulator_host_or_a_client(runner: asyncio.Runner, firestore_host: str,
                                                       firestore_store: Any,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    load(runner, firestore_store, "cfg", [{"_id": "a", "x": 1}])
    project = firestore_store.client.project
    monkeypatch.delenv("FIRESTORE_EMULATOR_HOST", raising=False)

    async def by_config() -> list[Any]:
        store = crossql.connect({"driver": "firestore", "firestore": {
            "project_id": project, "emulator_host": firestore_host,
            "options": {"native_not_equal": True}}})
        async with store:
            return await store.fetch("from cfg where x != 2")

    assert runner.run(by_config()) == [{"_id": "a", "x": 1}]

    async def by_client() -> list[Any]:
        from google.cloud.firestore import AsyncClient

        monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore_host)
        client = AsyncClient(project=project)
        store = crossql.connect({"driver": "firestore", "firestore": {}}, client=client)
        async with store:
            rows = await store.fetch("from cfg where x == 1")
        await client._firestore_api.transport.close()
        return rows

    assert runner.run(by_client()) == [{"_id": "a", "x": 1}]


def test_a_store_that_is_not_open_says_so() -> None:
    store = crossql.connect({"driver": "firestore", "firestore": {"project_id": "p"}})
    with pytest.raises(crossql.BackendError, match="not open"):
        _ = store.client
