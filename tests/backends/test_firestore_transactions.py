"""Firestore transactions on the emulator: what Firestore cannot keep is refused before
anything is written, and a conflict leaves nothing written (tests/backends/
test_transactions.py holds the tests every backend shares)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

import crossql
from crossql.errors import BackendError, TransactionConflict
from tests.backends.conftest import load

pytestmark = pytest.mark.integration

ACCOUNTS = [
    {"_id": "a1", "owner": "ada", "balance": 100},
    {"_id": "a2", "owner": "bob", "balance": 50},
    {"_id": "a3", "owner": "eve", "balance": 0, "frozen": True},
]


@pytest.fixture
def accounts(runner: asyncio.Runner, firestore_store: Any) -> tuple[Any, str]:
    name = f"acc_{uuid.uuid4().hex[:8]}"
    load(runner, firestore_store, name, ACCOUNTS)
    return firestore_store, name


def rows(runner: asyncio.Runner, store: Any, name: str) -> dict[str, dict[str, Any]]:
    return {row["_id"]: row for row in runner.run(store.fetch(f"from {name}"))}


@pytest.mark.parametrize("read", ["fetch", "count", "get"])
def test_a_read_after_a_write_is_refused(runner: asyncio.Runner, accounts: tuple[Any, str],
                                         read: str) -> None:
    store, name = accounts
    before = rows(runner, store, name)

    async def body() -> None:
        async with store.transaction() as tx:
            # reads first: fine
            assert len(await tx.fetch(f"from {name} where owner == \"ada\"")) == 1
            assert await tx.count(f"from {name} where balance >= 0") == 3
            assert await tx.fetch(f"from {name} select sum(balance) as s") == [{"s": 150}]
            assert (await tx.collection(name).get("a2") or {}).get("owner") == "bob"
            await tx.collection(name).insert_one({"_id": "a4", "balance": 1})
            if read == "fetch":
                await tx.fetch(f"from {name}")
            elif read == "count":
                await tx.count(f"from {name}")
            else:
                await tx.collection(name).get("a1")

    with pytest.raises(BackendError, match="read after a write"):
        runner.run(body())
    assert rows(runner, store, name) == before


def test_statements_after_writes_see_the_transactions_writes(
        runner: asyncio.Runner, accounts: tuple[Any, str]) -> None:
    """update/delete read through the transaction and take its own writes as they are:
    the inserted a4 is incremented, then the deleted a3 is not."""
    store, name = accounts

    async def body() -> list[Any]:
        async with store.transaction() as tx:
            results = [await tx.collection(name).insert_one({"_id": "a4", "balance": 5})]
            results.append(await tx.execute(f"update {name} set balance = balance + 1 "
                                            "where balance < 10"))
            results.append(await tx.collection(name).delete_many("frozen == true"))
            results.append(await tx.execute(f"update {name} set balance = balance + 1 "
                                            "where balance < 10"))
            results.append(await tx.execute(f"update {name} set x.y = 1 where _id == \"a4\""))
            # inserted, then deleted: nothing of it is written
            await tx.collection(name).insert_one({"_id": "tmp", "balance": 0})
            results.append(await tx.execute(f"delete from {name} where _id == \"tmp\""))
        return results

    results = runner.run(body())
    assert [getattr(r, "matched", r) for r in results] == ["a4", 2, 1, 1, 1, 1]
    assert rows(runner, store, name) == {
        "a1": {"_id": "a1", "owner": "ada", "balance": 100},
        "a2": {"_id": "a2", "owner": "bob", "balance": 50},
        "a4": {"_id": "a4", "balance": 7, "x": {"y": 1}},
    }


def test_more_than_500_writes_are_refused_before_anything_is_written(
        runner: asyncio.Runner, firestore_store: Any) -> None:
    name = f"big_{uuid.uuid4().hex[:8]}"
    load(runner, firestore_store, name, [{"_id": f"d{i:03}", "n": i} for i in range(498)])

    async def body() -> None:
        async with firestore_store.transaction() as tx:
            await tx.collection(name).insert_many([{"_id": f"y{i:03}"} for i in range(500)])
            await tx.collection(name).insert_one({"_id": "one_too_many"})

    with pytest.raises(BackendError, match="at most 500"):
        runner.run(body())
    assert runner.run(firestore_store.count(f"from {name}")) == 498

    async def refused_statement() -> None:
        async with firestore_store.transaction() as tx:
            await tx.collection(name).insert_many([{"_id": "x1"}, {"_id": "x2"},
                                                   {"_id": "x3"}])
            with pytest.raises(BackendError, match="501 written documents"):
                await tx.execute(f"update {name} set n = n + 1 where n >= 0")
            # the refused statement kept nothing: the rest of the transaction commits
            await tx.execute(f"update {name} set n = -1 where _id == \"d000\"")

    runner.run(refused_statement())
    assert runner.run(firestore_store.count(f"from {name} where n >= 0")) == 497
    assert runner.run(firestore_store.count(f"from {name}")) == 501


def test_the_loser_of_a_conflict_writes_nothing(runner: asyncio.Runner,
                                                accounts: tuple[Any, str]) -> None:
    """Two transactions read a2 and commit together: one wins (after the emulator's lock
    wait), the other raises TransactionConflict and none of its writes — an insert and
    an update of another document among them — is written. (On a busy machine both
    commits can reach the emulator's lock timeout: then neither wrote anything.)"""
    store, name = accounts
    rows_before = rows(runner, store, name)
    both_read = asyncio.Event()
    readers = 0

    async def withdraw(tag: str, amount: int) -> str:
        nonlocal readers
        try:
            async with store.transaction() as tx:
                (row,) = await tx.fetch(f"from {name} where _id == \"a2\"")
                readers += 1
                if readers == 2:
                    both_read.set()
                await asyncio.wait_for(both_read.wait(), 30)
                await tx.collection(name).insert_one({"_id": f"log_{tag}", "amount": amount})
                await tx.execute(f"update {name} set last = :t where _id == \"a1\"", t=tag)
                await tx.execute(f"update {name} set balance = :b where _id == \"a2\"",
                                 b=row["balance"] - amount)
        except TransactionConflict:
            return "conflict"
        return "committed"

    async def both() -> list[str]:
        return await asyncio.gather(withdraw("x", 10), withdraw("y", 20))

    outcomes = runner.run(both())
    assert "conflict" in outcomes
    after = rows(runner, store, name)
    for (tag, amount), outcome in zip([("x", 10), ("y", 20)], outcomes, strict=True):
        if outcome == "committed":
            assert after["a2"]["balance"] == 50 - amount
            assert after["a1"]["last"] == tag
            assert f"log_{tag}" in after
        else:
            assert f"log_{tag}" not in after
    if outcomes == ["conflict", "conflict"]:
        assert after == rows_before


class _Wrapped:
    """A client transaction whose ``_commit`` is replaced."""

    def __init__(self, inner: Any, commit: Any) -> None:
        self.inner = inner
        self.rolled_back = False
        self._commit = commit

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def _rollback(self) -> None:
        self.rolled_back = True
        await self.inner._rollback()


def _patch_commit(monkeypatch: pytest.MonkeyPatch, store: Any, commit: Any) -> list[_Wrapped]:
    made: list[_Wrapped] = []
    new_transaction = store.client.transaction

    def transaction(**kwargs: Any) -> _Wrapped:
        wrapped = _Wrapped(new_transaction(**kwargs), commit)
        made.append(wrapped)
        return wrapped

    monkeypatch.setattr(store.client, "transaction", transaction)
    return made


def test_an_aborted_commit_is_a_conflict_and_rolls_back(
        runner: asyncio.Runner, accounts: tuple[Any, str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from google.api_core import exceptions

    store, name = accounts

    async def aborted() -> None:
        raise exceptions.Aborted("Too much contention on these documents.")

    made = _patch_commit(monkeypatch, store, aborted)

    async def body() -> None:
        async with store.transaction() as tx:
            (row,) = await tx.fetch(f"from {name} where _id == \"a1\"")
            await tx.execute(f"update {name} set balance = :b where _id == \"a1\"",
                             b=row["balance"] + 1)

    with pytest.raises(TransactionConflict, match="contention"):
        runner.run(body())
    monkeypatch.undo()
    assert made[0].rolled_back
    assert rows(runner, store, name)["a1"]["balance"] == 100


def test_run_transaction_gives_up_after_max_attempts_of_aborted_commits(
        runner: asyncio.Runner, accounts: tuple[Any, str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Firestore's locks leave no stale read to conflict on; a contention that persists
    shows as commits the server aborts every time."""
    from google.api_core import exceptions

    store, name = accounts

    async def aborted() -> None:
        raise exceptions.Aborted("Too much contention on these documents.")

    made = _patch_commit(monkeypatch, store, aborted)
    bodies = 0

    async def body(tx: Any) -> None:
        nonlocal bodies
        bodies += 1
        (row,) = await tx.fetch(f"from {name} where _id == \"a1\"")
        await tx.execute(f"update {name} set balance = :b where _id == \"a1\"",
                         b=row["balance"] + 1)

    with pytest.raises(TransactionConflict, match="after 3 attempts"):
        runner.run(store.run_transaction(body, max_attempts=3))
    monkeypatch.undo()
    assert bodies == 3 and len(made) == 3 and all(t.rolled_back for t in made)
    assert rows(runner, store, name)["a1"]["balance"] == 100


def test_a_commit_that_does_not_answer_fails_in_the_stores_timeout(
        runner: asyncio.Runner, firestore_store: Any, firestore_host: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    project = firestore_store.client.project
    store = crossql.connect({"driver": "firestore", "firestore": {
        "project_id": project, "emulator_host": firestore_host, "timeout": 0.5}})
    runner.run(store.open())
    try:
        async def hangs() -> None:
            await asyncio.sleep(3600)

        _patch_commit(monkeypatch, store, hangs)

        async def body() -> None:
            async with store.transaction() as tx:
                await tx.collection("hang").insert_one({"_id": "h", "n": 1})

        loop = runner.get_loop()
        started = loop.time()
        with pytest.raises(BackendError, match=r"did not answer in 0\.5 s"):
            runner.run(body())
        assert loop.time() - started < 5
    finally:
        runner.run(store.close())


def test_an_existing_id_fails_the_commit_with_nothing_written(
        runner: asyncio.Runner, accounts: tuple[Any, str]) -> None:
    store, name = accounts

    async def body() -> None:
        async with store.transaction() as tx:
            await tx.execute(f"update {name} set balance = 0 where _id == \"a2\"")
            await tx.collection(name).insert_one({"_id": "a1", "owner": "mallory"})

    with pytest.raises(BackendError, match="nothing of the transaction was written"):
        runner.run(body())
    after = rows(runner, store, name)
    assert after["a1"]["owner"] == "ada"
    assert after["a2"]["balance"] == 50


def test_what_a_transaction_does_not_run(runner: asyncio.Runner,
                                        accounts: tuple[Any, str]) -> None:
    store, name = accounts

    async def nested() -> None:
        async with store.transaction() as tx, tx.view.transaction():
            pass

    with pytest.raises(BackendError, match="do not nest"):
        runner.run(nested())

    async def drop() -> None:
        async with store.transaction() as tx:
            await tx.view.drop_collection(name)

    with pytest.raises(BackendError, match="drop_collection"):
        runner.run(drop())
    assert len(rows(runner, store, name)) == 3
