"""Firestore write plans are data and renderings: the store runs them
(``FirestoreStore.execute_plan``), as on the other backends; the base store finds no
``run`` method on a plan by duck typing."""

from __future__ import annotations

import asyncio
from typing import ClassVar

import pytest

import crossql
from crossql.backends.base import Plan
from crossql.backends.firestore.store import FirestoreStore
from crossql.backends.firestore.writes import FirestoreWritePlan
from crossql.errors import BackendError
from crossql.runtime.store import Store


def test_write_plans_are_data_the_store_runs_them() -> None:
    plan = crossql.compile("update c set a = 1 where b == 2", backend="firestore")
    assert isinstance(plan, FirestoreWritePlan)
    assert not hasattr(plan, "run") and not hasattr(plan, "_run_in_transaction")
    assert "execute_plan" in FirestoreStore.__dict__
    # what the store computes from a snapshot is the plan's, pure
    assert plan.applies({"_id": "x", "a": 0})
    assert plan.new_document({"_id": "x", "a": 0}) == {"_id": "x", "a": 1}


def test_the_base_store_runs_no_plan_by_duck_typing() -> None:
    class Ducky(Plan):
        backend = "firestore"
        ran: ClassVar[list[Store]] = []

        async def run(self, store: Store) -> None:
            Ducky.ran.append(store)

    store = FirestoreStore(client=object())
    with pytest.raises(BackendError, match="cannot run the write plan Ducky"):
        asyncio.run(Store.execute_plan(store, Ducky()))
    assert Ducky.ran == []


def test_the_firestore_store_refuses_another_backends_plan() -> None:
    store = FirestoreStore(client=object())
    plan = crossql.compile("update c set a = 1 where b == 2", backend="memory")
    with pytest.raises(TypeError, match="runs Firestore plans, not MemoryWritePlan"):
        asyncio.run(store.execute_plan(plan))
