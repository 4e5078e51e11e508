"""MongoDB transactions: a client session in snapshot isolation whose every call (finds,
aggregates, counts, inserts, the write plans) passes ``session=``; the shared rules are
in test_transactions.py."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from pymongo.errors import AutoReconnect, OperationFailure

import crossql
from crossql.backends.mongodb import store as mongo_store_module
from crossql.backends.mongodb.store import COMMIT_ATTEMPTS, MongoStore, _MongoTransaction
from crossql.errors import BackendError, TransactionConflict
from tests.backends.conftest import load
from tests.time_budget import within

ACCOUNTS = [
    {"_id": "a1", "owner": "ada", "balance": 100, "team": "x"},
    {"_id": "a2", "owner": "bob", "balance": 50, "team": "x"},
    {"_id": "a3", "owner": "eve", "balance": 0, "team": "y"},
]


class Boom(Exception):
    pass


@pytest.fixture
def accounts(runner: asyncio.Runner, mongo_store: Any) -> tuple[Any, str]:
    name = f"acc_{uuid.uuid4().hex[:8]}"
    load(runner, mongo_store, name, ACCOUNTS)
    return mongo_store, name


def ids(runner: asyncio.Runner, store: Any, name: str) -> list[Any]:
    return sorted(row["_id"] for row in runner.run(store.fetch(f"from {name}")))


@pytest.mark.integration
def test_reads_inside_see_the_transactions_own_writes(runner: asyncio.Runner,
                                                      accounts: tuple[Any, str]) -> None:
    """find, count, aggregate (group by), get and the find_then_* plan all read the
    transaction's uncommitted writes; outside, nothing shows until the commit."""
    store, name = accounts
    seen: dict[str, Any] = {}

    async def body() -> None:
        async with store.transaction() as tx:
            await tx.collection(name).insert_one({"_id": "a4", "owner": "joe", "balance": 5,
                                                  "team": "y"})
            await tx.execute(f"update {name} set balance = balance + 1 where team == \"x\"")
            await tx.execute(f"delete from {name} where _id == \"a3\"")
            seen["ids"] = sorted(r["_id"] for r in await tx.fetch(f"from {name}"))
            seen["count"] = await tx.count(f"from {name} where balance > 10")
            seen["groups"] = await tx.fetch(
                f"from {name} group by team select team, sum(balance) as total order by team")
            seen["group_count"] = await tx.count(f"from {name} group by team select team")
            seen["get"] = await tx.collection(name).get("a4")
            # find_then_update: a find of two ids, then update_many on them
            seen["limited"] = await tx.execute(
                f"update {name} set flagged = true where balance >= 0 limit 2")
            seen["flagged"] = await tx.count(f"from {name} where flagged == true")
            seen["outside"] = sorted(r["_id"] for r in await store.fetch(f"from {name}"))

    runner.run(body())
    assert seen["ids"] == ["a1", "a2", "a4"]
    assert seen["count"] == 2
    assert seen["groups"] == [{"team": "x", "total": 152}, {"team": "y", "total": 5}]
    assert seen["group_count"] == 2
    assert seen["get"] == {"_id": "a4", "owner": "joe", "balance": 5, "team": "y"}
    assert seen["limited"].matched == 2
    assert seen["flagged"] == 2
    assert seen["outside"] == ["a1", "a2", "a3"]  # uncommitted: invisible outside
    rows = {r["_id"]: r for r in runner.run(store.fetch(f"from {name}"))}
    assert sorted(rows) == ["a1", "a2", "a4"]
    assert (rows["a1"]["balance"], rows["a2"]["balance"]) == (101, 51)
    assert sum(1 for r in rows.values() if r.get("flagged") is True) == 2


@pytest.mark.integration
def test_concurrent_calls_in_one_transaction_take_turns(runner: asyncio.Runner,
                                                        accounts: tuple[Any, str]) -> None:
    """asyncio.gather of a transaction's first calls: only the first command sent starts
    the transaction on the server, so they must not race (else NoSuchTransaction)."""
    store, name = accounts

    async def body(n: int) -> list[Any]:
        async with store.transaction() as tx:
            return list(await asyncio.gather(
                tx.fetch(f"from {name} where balance >= 0"), tx.count(f"from {name}"),
                tx.execute(f"update {name} set balance = balance + 1 where _id == \"a3\""),
                tx.collection(name).insert_one({"_id": f"n{n}", "balance": 0}),
                tx.collection(name).get("a1")))

    for n in range(8):
        rows, count, result, new_id, a1 = runner.run(body(n))
        assert (len(rows), count) == (3 + n, 3 + n)  # the calls ran in their order
        assert result.matched == 1 and new_id == f"n{n}" and a1["_id"] == "a1"
    (a3,) = runner.run(store.fetch(f"from {name} where _id == \"a3\""))
    assert a3["balance"] == 8


@pytest.mark.integration
def test_a_write_conflict_mid_body_raises_and_writes_nothing(
        runner: asyncio.Runner, accounts: tuple[Any, str]) -> None:
    """A second transaction holds a1 (an uncommitted write): the first's write to a1 is a
    WriteConflict, raised as TransactionConflict where it happens; none of the first's
    writes (an insert before it) lands, and its later calls are refused unsent."""
    store, name = accounts
    caught: dict[str, Any] = {}

    async def body() -> None:
        async with store.transaction() as other:
            await other.execute(f"update {name} set balance = 1 where _id == \"a1\"")
            with pytest.raises(TransactionConflict) as conflict:
                async with store.transaction() as tx:
                    caught["session"] = tx.view.session
                    await tx.collection(name).insert_one({"_id": "a9", "balance": 9})
                    try:
                        await tx.execute(f"update {name} set balance = 2 where _id == \"a1\"")
                    except TransactionConflict as err:
                        caught["write"] = err
                    # the body goes on regardless: the server aborted the transaction,
                    # so the next call is refused before it is sent
                    with pytest.raises(TransactionConflict):
                        await tx.fetch(f"from {name}")
            caught["exit"] = conflict.value
            assert tx.state == "rolled back"

    runner.run(body())
    assert "WriteConflict" in str(caught["write"])
    assert "nothing of it was written" in str(caught["exit"])
    assert caught["session"].has_ended
    assert ids(runner, store, name) == ["a1", "a2", "a3"]  # no a9
    (a1,) = runner.run(store.fetch(f"from {name} where _id == \"a1\""))
    assert a1["balance"] == 1  # the other transaction committed


@pytest.mark.integration
def test_an_error_aborts_the_transaction_without_calling_it_a_conflict(
        runner: asyncio.Runner, accounts: tuple[Any, str]) -> None:
    """A duplicate _id fails the insert and the server aborts the transaction: a
    BackendError (not a conflict to retry), then nothing of it is written."""
    store, name = accounts
    attempts = 0

    async def body(tx: Any) -> None:
        nonlocal attempts
        attempts += 1
        await tx.execute(f"delete from {name} where _id == \"a3\"")
        with contextlib.suppress(BackendError):
            await tx.collection(name).insert_one({"_id": "a1"})

    with pytest.raises(BackendError, match="aborted the transaction") as err:
        runner.run(store.run_transaction(body))
    assert not isinstance(err.value, TransactionConflict)
    assert "DuplicateKey" in str(err.value) or "E11000" in str(err.value)
    assert attempts == 1
    assert ids(runner, store, name) == ["a1", "a2", "a3"]


@pytest.mark.integration
def test_the_session_is_ended_after_commit_and_abort(runner: asyncio.Runner,
                                                      accounts: tuple[Any, str]) -> None:
    store, name = accounts
    sessions: list[Any] = []

    async def commit() -> None:
        async with store.transaction() as tx:
            sessions.append(tx.view.session)
            await tx.execute(f"update {name} set balance = 7 where _id == \"a3\"")
            assert not tx.view.session.has_ended

    async def abort() -> None:
        async with store.transaction() as tx:
            sessions.append(tx.view.session)
            await tx.execute(f"update {name} set balance = 8 where _id == \"a3\"")
            raise Boom

    runner.run(commit())
    with pytest.raises(Boom):
        runner.run(abort())
    assert [s.has_ended for s in sessions] == [True, True]
    (a3,) = runner.run(store.fetch(f"from {name} where _id == \"a3\""))
    assert a3["balance"] == 7


@pytest.mark.integration
def test_transactions_do_not_nest_and_refuse_a_drop(runner: asyncio.Runner,
                                                    accounts: tuple[Any, str]) -> None:
    store, name = accounts

    async def body() -> None:
        async with store.transaction() as tx:
            await tx.execute(f"update {name} set balance = 3 where _id == \"a3\"")
            with pytest.raises(BackendError, match="do not nest"):
                async with tx.view.transaction():
                    pass
            with pytest.raises(BackendError, match="inside a transaction"):
                await tx.view.drop_collection(name)

    runner.run(body())  # refused before they were sent: the transaction commits
    (a3,) = runner.run(store.fetch(f"from {name} where _id == \"a3\""))
    assert a3["balance"] == 3


@pytest.mark.integration
@pytest.mark.parametrize("outcome", ["commit", "abort"])
def test_a_motor_client_runs_transactions(runner: asyncio.Runner, mongodb_uri: str,
                                          accounts: tuple[Any, str], outcome: str) -> None:
    """Motor awaits start_session, not start_transaction; its sessions are passed as they
    are."""
    base, name = accounts
    database = base.database.name

    async def run() -> None:
        from motor.motor_asyncio import AsyncIOMotorClient

        client: Any = AsyncIOMotorClient(mongodb_uri)
        try:
            store = crossql.connect({"driver": "mongodb", "mongodb": {"database": database}},
                                    client=client)
            async with store, store.transaction() as tx:
                await tx.execute(f"update {name} set balance = 42 where _id == \"a2\"")
                (row,) = await tx.fetch(f"from {name} where _id == \"a2\"")
                assert row["balance"] == 42
                assert await tx.count(f"from {name} where balance == 42") == 1
                if outcome == "abort":
                    raise Boom
        finally:
            client.close()

    if outcome == "abort":
        with pytest.raises(Boom):
            runner.run(run())
    else:
        runner.run(run())
    (a2,) = runner.run(base.fetch(f"from {name} where _id == \"a2\""))
    assert a2["balance"] == (42 if outcome == "commit" else 50)


class _Proxy:
    """A TCP proxy to the server that can lose the network: ``cut`` drops every
    connection and closes each new one at once; ``heal`` forwards again."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.writers: list[asyncio.StreamWriter] = []
        self.server: asyncio.Server | None = None
        self.down = False

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port: int = self.server.sockets[0].getsockname()[1]
        return port

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.down:
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self.writers += [writer, up_writer]

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def cut(self) -> None:
        self.down = True
        for writer in self.writers:
            writer.close()
        self.writers.clear()
        await asyncio.sleep(0.05)

    def heal(self) -> None:
        self.down = False

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self.writers:
            writer.close()
        await self.server.wait_closed()


@pytest.mark.integration
def test_abort_does_not_raise_on_a_lost_connection(runner: asyncio.Runner, mongodb_uri: str,
                                                   accounts: tuple[Any, str]) -> None:
    """The connection is lost mid-transaction: the body's exception propagates (not a
    connection error from the abort), within the server selection timeout, and the
    transaction's write never shows."""
    from urllib.parse import urlparse

    from pymongo import AsyncMongoClient

    base, name = accounts
    target = urlparse(mongodb_uri)
    elapsed: list[float] = []
    lsid: list[Any] = []

    async def run() -> None:
        proxy = _Proxy(target.hostname or "127.0.0.1", target.port or 27017)
        port = await proxy.start()
        client: Any = AsyncMongoClient(f"mongodb://127.0.0.1:{port}/", directConnection=True,
                                       serverSelectionTimeoutMS=500, retryWrites=False)
        start = time.monotonic()
        try:
            store = MongoStore.from_client(client[base.database.name])
            async with store.transaction() as tx:
                lsid.append(tx.view.session.session_id)
                await tx.execute(f"update {name} set balance = 99 where _id == \"a1\"")
                await proxy.cut()
                start = time.monotonic()
                raise Boom
        finally:
            elapsed.append(time.monotonic() - start)
            # the network back before the client closes: a PyMongo monitor caught
            # connecting at close leaks its socket (a ResourceWarning)
            proxy.heal()
            with contextlib.suppress(AutoReconnect):
                await client.close()
            await proxy.stop()

    try:
        with pytest.raises(Boom):
            runner.run(run())
        assert within(elapsed[0], 5)  # 10 x the selection timeout, scaled by the load
        (a1,) = runner.run(base.fetch(f"from {name} where _id == \"a1\""))
        assert a1["balance"] == 100
    finally:
        # The server never heard the abort: its transaction stays open until it
        # outlives transactionLifetimeLimitSeconds (60 s). End it now, or the session
        # fixture's dropDatabase waits on it (and SecantusDB then hangs).
        if lsid:
            runner.run(base.database.client.admin.command("killSessions", lsid))


# -- the commit's retries, on a session whose commit fails as told ------------------------
class _Session:
    def __init__(self, failures: list[Exception]) -> None:
        self.failures = failures
        self.commits = 0

    async def commit_transaction(self) -> None:
        self.commits += 1
        if self.failures:
            raise self.failures.pop(0)


def _failure(label: str, code: int = 91) -> OperationFailure:
    return OperationFailure("commit failed", code, {"ok": 0, "code": code, "errmsg": "x",
                                                    "errorLabels": [label]})


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(mongo_store_module, "backoff", lambda attempt: 0.0)
    yield


def test_a_commit_of_unknown_outcome_is_sent_again(no_backoff: None) -> None:
    session = _Session([_failure("UnknownTransactionCommitResult")] * 2)
    asyncio.run(_MongoTransaction._commit(session))
    assert session.commits == 3


def test_a_commit_still_unknown_is_a_clear_error_not_a_conflict(no_backoff: None) -> None:
    session = _Session([_failure("UnknownTransactionCommitResult")] * 10)
    with pytest.raises(BackendError, match="still unknown after") as err:
        asyncio.run(_MongoTransaction._commit(session))
    assert not isinstance(err.value, TransactionConflict)
    assert session.commits == COMMIT_ATTEMPTS


def test_a_transient_commit_error_is_a_conflict(no_backoff: None) -> None:
    session = _Session([_failure("TransientTransactionError", 112)])
    with pytest.raises(TransactionConflict, match="nothing of it was written"):
        asyncio.run(_MongoTransaction._commit(session))
    assert session.commits == 1


def test_max_time_expired_at_commit_is_not_sent_again(no_backoff: None) -> None:
    session = _Session([_failure("UnknownTransactionCommitResult", 50)])
    with pytest.raises(BackendError, match="still unknown after 1 attempts"):
        asyncio.run(_MongoTransaction._commit(session))
    assert session.commits == 1
