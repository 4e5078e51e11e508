"""Transactions mean the same on every backend (the servers' ones on the real servers):
all of a transaction is written or none, and concurrent transactions lose no update.

Backends that cannot read their own writes inside a transaction (DynamoDB, Firestore)
refuse such a read; every body here reads before it writes, as those need.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from crossql.errors import BackendError, TransactionConflict
from crossql.runtime.transaction import Transaction
from tests.backends.conftest import load, store_of

pytestmark = pytest.mark.integration

TX_BACKENDS = ["memory", "firestore", "dynamodb", "mongodb"]

ACCOUNTS = [
    {"_id": "a1", "owner": "ada", "balance": 100},
    {"_id": "a2", "owner": "bob", "balance": 50},
    {"_id": "a3", "owner": "eve", "balance": 0, "frozen": True},
]


@pytest.fixture(params=TX_BACKENDS)
def store(request: pytest.FixtureRequest, runner: asyncio.Runner) -> Any:
    return store_of(request, runner, request.param)


@pytest.fixture
def accounts(runner: asyncio.Runner, store: Any) -> tuple[Any, str]:
    """A fresh collection of ACCOUNTS (its name is unique: the servers' stores are shared
    by the session)."""
    name = f"acc_{uuid.uuid4().hex[:8]}"
    load(runner, store, name, ACCOUNTS)
    return store, name


def balances(runner: asyncio.Runner, store: Any, name: str) -> dict[str, Any]:
    rows = runner.run(store.fetch(f"from {name}"))
    return {row["_id"]: row.get("balance") for row in rows}


class Boom(Exception):
    pass


def test_an_exception_in_the_block_leaves_no_write(runner: asyncio.Runner,
                                                   accounts: tuple[Any, str]) -> None:
    store, name = accounts
    before = runner.run(store.fetch(f"from {name}"))

    async def body() -> None:
        async with store.transaction() as tx:
            assert len(await tx.fetch(f"from {name} where balance >= 0")) == 3
            await tx.collection(name).insert_one({"_id": "a4", "owner": "joe", "balance": 7})
            result = await tx.execute(f"update {name} set balance = balance + 10 "
                                      "where owner == \"ada\"")
            assert result.matched == 1
            await tx.execute(f"delete from {name} where owner == \"bob\"")
            raise Boom

    with pytest.raises(Boom):
        runner.run(body())
    after = runner.run(store.fetch(f"from {name}"))
    key = lambda row: row["_id"]  # noqa: E731
    assert sorted(after, key=key) == sorted(before, key=key)


def test_a_committed_transaction_writes_everything(runner: asyncio.Runner,
                                                   accounts: tuple[Any, str]) -> None:
    store, name = accounts

    async def body() -> Transaction:
        async with store.transaction() as tx:
            (ada,) = await tx.fetch(f"from {name} where owner == \"ada\"")
            await tx.execute(f"update {name} set balance = :b where _id == \"a1\"",
                             b=ada["balance"] - 30)
            await tx.execute(f"update {name} set balance = balance + 30 where _id == \"a2\"")
            await tx.collection(name).insert_one({"_id": "a4", "owner": "joe", "balance": 1})
            await tx.execute(f"delete from {name} where frozen == true")
        return tx

    tx = runner.run(body())
    assert tx.state == "committed"
    assert balances(runner, store, name) == {"a1": 70, "a2": 80, "a4": 1}


def test_a_finished_transaction_refuses_calls(runner: asyncio.Runner,
                                              accounts: tuple[Any, str]) -> None:
    store, name = accounts

    async def body() -> Transaction:
        async with store.transaction() as tx:
            await tx.fetch(f"from {name}")
        return tx

    tx = runner.run(body())
    with pytest.raises(BackendError, match="committed"):
        runner.run(tx.fetch(f"from {name}"))


def test_concurrent_read_modify_writes_lose_no_update(runner: asyncio.Runner,
                                                      accounts: tuple[Any, str]) -> None:
    """Each of N transactions reads a1's balance and writes balance + 1 (a plain `set`,
    not an increment): without isolation some would overwrite others."""
    store, name = accounts
    n = 4
    attempts: list[int] = []

    async def deposit(tx: Transaction) -> None:
        attempts.append(1)
        (row,) = await tx.fetch(f"from {name} where _id == \"a1\"")
        await asyncio.sleep(0.05)  # let the others read the same balance
        await tx.execute(f"update {name} set balance = :b where _id == \"a1\"",
                         b=row["balance"] + 1)

    async def run_all() -> None:
        await asyncio.gather(*(store.run_transaction(deposit, max_attempts=30)
                               for _ in range(n)))

    runner.run(run_all())
    assert balances(runner, store, name)["a1"] == 100 + n
    assert len(attempts) > n  # they did contend: some ran again


def test_of_two_transactions_on_one_document_one_wins(runner: asyncio.Runner,
                                                      accounts: tuple[Any, str]) -> None:
    """Without retries: one commits, the other raises TransactionConflict and writes
    nothing."""
    store, name = accounts
    both_read = asyncio.Event()
    readers = 0

    async def withdraw(amount: int) -> str:
        nonlocal readers
        try:
            async with store.transaction() as tx:
                (row,) = await tx.fetch(f"from {name} where _id == \"a2\"")
                readers += 1
                if readers == 2:
                    both_read.set()
                await asyncio.wait_for(both_read.wait(), 30)
                await tx.execute(f"update {name} set balance = :b where _id == \"a2\"",
                                 b=row["balance"] - amount)
        except TransactionConflict:
            return "conflict"
        return "committed"

    async def run_both() -> list[str]:
        return await asyncio.gather(withdraw(10), withdraw(20))

    outcomes = runner.run(run_both())
    if store.driver == "firestore" and outcomes == ["conflict", "conflict"]:
        # Firestore only (docs/transactions.md, "Firestore"): each commit waits for the
        # other's read lock; on a busy machine both can reach the emulator's lock timeout
        assert balances(runner, store, name)["a2"] == 50  # then neither wrote anything
        return
    assert sorted(outcomes) == ["committed", "conflict"]
    winner = 10 if outcomes[0] == "committed" else 20
    assert balances(runner, store, name)["a2"] == 50 - winner


def _stale_reads(store: Any, name: str, attempts: list[int]
                 ) -> Callable[[Transaction], Awaitable[None]]:
    """A transaction body whose read is written outside it before it writes."""

    async def body(tx: Transaction) -> None:
        attempts.append(1)
        (row,) = await tx.fetch(f"from {name} where _id == \"a3\"")
        await store.execute(f"update {name} set balance = balance + 1 where _id == \"a3\"")
        await tx.execute(f"update {name} set balance = :b, owner = \"mallory\" "
                         "where _id == \"a3\"", b=row["balance"] + 100)

    return body


@pytest.mark.gap("firestore", reason="Firestore locks what a transaction reads: the read "
                 "cannot be made stale (test_the_outside_write_waits_for_a_firestore_read_lock)")
def test_a_conflict_that_persists_is_raised_with_nothing_written(
        runner: asyncio.Runner, accounts: tuple[Any, str]) -> None:
    """Each attempt's read is made stale by a write outside the transaction before it
    writes: every attempt conflicts; after max_attempts the conflict is raised."""
    store, name = accounts
    attempts: list[int] = []
    with pytest.raises(TransactionConflict, match="3 attempts"):
        runner.run(store.run_transaction(_stale_reads(store, name, attempts), max_attempts=3))
    assert len(attempts) == 3
    rows = runner.run(store.fetch(f"from {name} where _id == \"a3\""))
    assert rows[0]["owner"] == "eve"
    assert rows[0]["balance"] == 3  # the three outside writes, none of the transaction's


@pytest.mark.parametrize("store", ["firestore"], indirect=True)
def test_the_outside_write_waits_for_a_firestore_read_lock(
        runner: asyncio.Runner, accounts: tuple[Any, str]) -> None:
    """Firestore locks what a transaction reads (pessimistic concurrency): the outside
    write is what waits, and fails after the lock timeout; the transaction then rolls
    back with nothing written. Its persisting conflict is tested with aborted commits
    (test_firestore_transactions.py)."""
    store, name = accounts
    attempts: list[int] = []
    with pytest.raises(BackendError, match="locked by a transaction") as info:
        runner.run(store.run_transaction(_stale_reads(store, name, attempts), max_attempts=3))
    assert not isinstance(info.value, TransactionConflict)
    assert len(attempts) == 1
    rows = runner.run(store.fetch(f"from {name} where _id == \"a3\""))
    assert (rows[0]["owner"], rows[0]["balance"]) == ("eve", 0)
