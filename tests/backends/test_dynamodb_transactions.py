"""DynamoDB transactions (DynamoDB Local): writes collected into one TransactWriteItems,
reads re-checked at commit, DynamoDB's limits refused before anything is written."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import crossql
from crossql import ir
from crossql.errors import BackendError, CapabilityError, TransactionConflict
from crossql.semantics.writes import apply
from tests.backends.conftest import canonical, load
from tests.backends.test_dynamodb_writes import NESTED, NESTED_DOCS
from tests.backends.write_differential import typed_writes
from tests.budget import examples, skip_unless_ran
from tests.strategies import DEFAULT_SCHEMA, MAX_DOCS, documents

pytestmark = pytest.mark.integration

ACCOUNTS = [
    {"_id": "a1", "owner": "ada", "balance": 100, "tags": ["x"], "meta": {"k": 1}},
    {"_id": "a2", "owner": "bob", "balance": 50},
    {"_id": "a3", "owner": "eve", "balance": 0, "frozen": True},
]


@pytest.fixture
def accounts(runner: asyncio.Runner, dynamo_store: Any) -> str:
    name = f"acc_{uuid.uuid4().hex[:8]}"
    load(runner, dynamo_store, name, ACCOUNTS)
    return name


def rows(runner: asyncio.Runner, store: Any, name: str) -> dict[str, dict[str, Any]]:
    return {row["_id"]: row for row in runner.run(store.fetch(f"from {name}"))}


def test_more_than_100_actions_are_refused_before_any_write(
        runner: asyncio.Runner, dynamo_store: Any, accounts: str) -> None:
    before = rows(runner, dynamo_store, accounts)
    reached: list[str] = []

    async def body() -> None:
        async with dynamo_store.transaction() as tx:
            await tx.execute(f"update {accounts} set balance = balance + 1 where _id == \"a1\"")
            await tx.collection(accounts).insert_many(
                [{"_id": f"n{i}", "balance": i} for i in range(99)])
            reached.append("99 inserts")
            await tx.collection(accounts).insert_one({"_id": "n99", "balance": 99})

    with pytest.raises(BackendError, match=r"101 items.*allows 100.*nothing was written"):
        runner.run(body())
    assert reached == ["99 inserts"]  # 100 actions were accepted, the 101st refused
    assert rows(runner, dynamo_store, accounts) == before


def test_a_read_of_more_than_100_items_is_refused(runner: asyncio.Runner,
                                                  dynamo_store: Any) -> None:
    name = f"big_{uuid.uuid4().hex[:8]}"
    load(runner, dynamo_store, name, [{"_id": f"d{i:03}", "n": i} for i in range(101)])

    async def body() -> int:
        async with dynamo_store.transaction() as tx:
            assert await tx.count(f"from {name}") == 101  # a count re-checks no item
            return len(await tx.fetch(f"from {name} limit 100"))

    assert runner.run(body()) == 100

    async def too_many() -> None:
        async with dynamo_store.transaction() as tx:
            await tx.fetch(f"from {name}")

    with pytest.raises(BackendError, match="this query brings the transaction to 101 items"):
        runner.run(too_many())


def test_more_than_4_mb_is_refused(runner: asyncio.Runner, dynamo_store: Any,
                                   accounts: str) -> None:
    big = "x" * 350_000  # under DynamoDB's 400 KB an item; twelve are over 4 MB

    async def body() -> None:
        async with dynamo_store.transaction() as tx:
            await tx.collection(accounts).insert_many(
                [{"_id": f"big{i}", "blob": big} for i in range(12)])

    with pytest.raises(BackendError, match=r"bytes: a TransactWriteItems holds at most"):
        runner.run(body())
    assert set(rows(runner, dynamo_store, accounts)) == {"a1", "a2", "a3"}


def test_a_read_after_a_write_that_could_see_it_is_refused(
        runner: asyncio.Runner, dynamo_store: Any, accounts: str) -> None:
    other = f"other_{uuid.uuid4().hex[:8]}"
    load(runner, dynamo_store, other, [{"_id": "o1", "v": 1}])

    async def body() -> None:
        async with dynamo_store.transaction() as tx:
            await tx.execute(f"update {accounts} set balance = 1 where _id == \"a2\"")
            # not touched by the write: allowed
            assert (await tx.collection(accounts).get("a1"))["balance"] == 100
            assert await tx.fetch(f"from {other}") == [{"_id": "o1", "v": 1}]
            assert len(await tx.fetch(f"from {accounts} where _id == \"a1\"")) == 1
            assert await tx.count(f"from {accounts} where owner == \"eve\"") == 1
            by_owner = tx.prepare(f"from {accounts} where owner == :o select balance")
            assert await by_owner.fetch(o="ada") == [{"balance": 100}]
            with pytest.raises(BackendError, match="read before you write"):
                await by_owner.fetch(o="bob")
            with pytest.raises(BackendError, match="read before you write"):
                await tx.count(f"from {accounts} where balance < 10")  # a2 after the write
            # a2 before the write matches: DynamoDB would answer with the old a2
            with pytest.raises(BackendError, match="read before you write"):
                await tx.collection(accounts).get("a2")
            with pytest.raises(BackendError, match="read before you write"):
                await tx.fetch(f"from {accounts} where balance > 10")
            with pytest.raises(BackendError, match="read before you write"):
                await tx.execute(f"delete from {accounts} where balance == 1")
            # a2 matches neither before nor after the write: the update may run
            result = await tx.execute(f"update {accounts} set owner = \"zed\" "
                                      "where owner == \"eve\"")
            assert result.matched == 1

    runner.run(body())
    after = rows(runner, dynamo_store, accounts)
    assert after["a2"]["balance"] == 1
    assert after["a3"]["owner"] == "zed"


def test_an_item_read_then_changed_by_another_cancels_the_commit(
        runner: asyncio.Runner, dynamo_store: Any, accounts: str) -> None:
    """The transaction reads a1 and writes only a2: the commit still re-checks a1."""

    async def body() -> None:
        async with dynamo_store.transaction() as tx:
            (a1,) = await tx.fetch(f"from {accounts} where _id == \"a1\"")
            await dynamo_store.execute(f"update {accounts} set tags = :t where _id == \"a1\"",
                                       t=["x", "y"])
            await tx.execute(f"update {accounts} set balance = :b where _id == \"a2\"",
                             b=a1["balance"])

    with pytest.raises(TransactionConflict, match=r"a1.*changed since the transaction read"):
        runner.run(body())
    assert rows(runner, dynamo_store, accounts)["a2"]["balance"] == 50


def test_a_projected_read_re_checks_only_what_it_returned(
        runner: asyncio.Runner, dynamo_store: Any, accounts: str) -> None:
    async def body(change: str) -> None:
        async with dynamo_store.transaction() as tx:
            (a1,) = await tx.fetch(f"from {accounts} where _id == \"a1\" "
                                   "select balance, missing")
            assert a1 == {"balance": 100}
            await dynamo_store.execute(f"update {accounts} set {change} where _id == \"a1\"")
            await tx.collection(accounts).insert_one({"_id": "copy", "balance": a1["balance"]})

    runner.run(body("owner = \"ann\""))  # not read: no conflict
    assert rows(runner, dynamo_store, accounts)["copy"]["balance"] == 100
    runner.run(dynamo_store.collection(accounts).delete_many("_id == \"copy\""))
    with pytest.raises(TransactionConflict):
        runner.run(body("missing = 1"))  # read as missing, now present
    assert "copy" not in rows(runner, dynamo_store, accounts)


def test_a_get_of_a_missing_item_conflicts_with_its_insert(
        runner: asyncio.Runner, dynamo_store: Any, accounts: str) -> None:
    async def body() -> None:
        async with dynamo_store.transaction() as tx:
            assert await tx.collection(accounts).get("a9") is None
            await dynamo_store.collection(accounts).insert_one({"_id": "a9", "balance": 5})
            await tx.execute(f"update {accounts} set balance = 0 where _id == \"a1\"")

    with pytest.raises(TransactionConflict, match="a9"):
        runner.run(body())
    assert rows(runner, dynamo_store, accounts)["a1"]["balance"] == 100


def test_a_written_item_that_no_longer_matches_is_a_conflict_not_a_skip(
        runner: asyncio.Runner, dynamo_store: Any, accounts: str) -> None:
    async def body() -> None:
        async with dynamo_store.transaction() as tx:
            result = await tx.execute(f"update {accounts} set balance = balance + 1 "
                                      "where balance >= 50")
            assert (result.matched, result.modified) == (2, 2)
            await dynamo_store.execute(f"update {accounts} set balance = 10 "
                                       "where _id == \"a2\"")

    with pytest.raises(TransactionConflict, match="a2"):
        runner.run(body())
    after = rows(runner, dynamo_store, accounts)
    assert (after["a1"]["balance"], after["a2"]["balance"]) == (100, 10)


def test_items_a_write_would_skip_are_skipped_not_conflicts(
        runner: asyncio.Runner, dynamo_store: Any, accounts: str) -> None:
    """`owner = owner + 1` applies to no item (owner is a string): as outside a
    transaction, nothing is written and the commit succeeds."""
    async def body() -> Any:
        async with dynamo_store.transaction() as tx:
            return await tx.execute(f"update {accounts} set owner = owner + 1 where true")

    result = runner.run(body())
    assert (result.matched, result.modified) == (0, 0)


def test_deletes_and_inserts_commit_together(runner: asyncio.Runner, dynamo_store: Any,
                                             accounts: str) -> None:
    async def body() -> None:
        async with dynamo_store.transaction() as tx:
            assert await tx.collection(accounts).delete_many("balance < 60") == 2
            await tx.collection(accounts).insert_many([{"_id": "b1", "x": [1, {"y": None}]},
                                                       {"_id": "b2", "x": 2.5}])
            assert (await dynamo_store.fetch(f"from {accounts} where _id == \"b1\"")) == []

    runner.run(body())
    after = rows(runner, dynamo_store, accounts)
    assert set(after) == {"a1", "b1", "b2"}
    assert after["b1"]["x"] == [1, {"y": None}]


def test_two_writes_of_one_item_are_refused(runner: asyncio.Runner, dynamo_store: Any,
                                            accounts: str) -> None:
    async def twice_inserted() -> None:
        async with dynamo_store.transaction() as tx:
            await tx.collection(accounts).insert_one({"_id": "z1"})
            await tx.collection(accounts).insert_one({"_id": "z1"})

    with pytest.raises(BackendError, match="written twice"):
        runner.run(twice_inserted())

    async def existing() -> None:
        async with dynamo_store.transaction() as tx:
            await tx.collection(accounts).insert_many([{"_id": "z2"}, {"_id": "a1"}])

    with pytest.raises(BackendError, match="duplicate _id 'a1'"):
        runner.run(existing())
    assert set(rows(runner, dynamo_store, accounts)) == {"a1", "a2", "a3"}


def test_an_item_read_twice_with_different_values_is_a_conflict(
        runner: asyncio.Runner, dynamo_store: Any, accounts: str) -> None:
    async def body() -> None:
        async with dynamo_store.transaction() as tx:
            await tx.collection(accounts).get("a1")
            await dynamo_store.execute(f"update {accounts} set balance = 1 where _id == \"a1\"")
            await tx.fetch(f"from {accounts} where owner == \"ada\"")

    with pytest.raises(TransactionConflict, match="between two reads"):
        runner.run(body())


class _FlakyClient:
    """The real client, whose first ``transact_write_items`` fails as ``fail`` says:
    ``lost``: applied, but the answer is lost (a read timeout); ``throttled``: cancelled
    for throttling, nothing applied."""

    def __init__(self, client: Any, fail: str) -> None:
        self._client = client
        self.fail = fail
        self.tokens: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    async def transact_write_items(self, **kwargs: Any) -> Any:
        from botocore.exceptions import ClientError, ReadTimeoutError

        self.tokens.append(kwargs["ClientRequestToken"])
        if len(self.tokens) == 1 and self.fail == "lost":
            await self._client.transact_write_items(**kwargs)
            raise ReadTimeoutError(endpoint_url="http://dynamodb")
        if len(self.tokens) == 1 and self.fail == "throttled":
            n = len(kwargs["TransactItems"])
            raise ClientError({"Error": {"Code": "TransactionCanceledException",
                                         "Message": "Transaction cancelled"},
                               "CancellationReasons": [{"Code": "ThrottlingError"}] * n},
                              "TransactWriteItems")
        return await self._client.transact_write_items(**kwargs)


class _BusyClient:
    """The real client, whose first ``update_item`` is rejected as DynamoDB rejects a
    write to an item a transaction is committing."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    async def update_item(self, **kwargs: Any) -> Any:
        from botocore.exceptions import ClientError

        self.calls += 1
        if self.calls == 1:
            raise ClientError({"Error": {"Code": "TransactionConflictException",
                                         "Message": "Transaction is ongoing for the item"}},
                              "UpdateItem")
        return await self._client.update_item(**kwargs)


@pytest.fixture
def flaky_store(runner: asyncio.Runner, dynamo_store: Any) -> Iterator[Any]:
    from tests.backends.dynamo_support import store_config

    endpoint = dynamo_store._config.endpoint_url
    store = crossql.connect(store_config(endpoint, table_prefix=dynamo_store.options.table_prefix,
                                         backoff_base=0.01))
    runner.run(store.open())
    yield store
    runner.run(store.close())


@pytest.mark.parametrize("fail", ["lost", "throttled"])
def test_a_transient_commit_failure_is_retried_once_applied(
        runner: asyncio.Runner, dynamo_store: Any, flaky_store: Any, accounts: str,
        fail: str) -> None:
    flaky = _FlakyClient(flaky_store._client, fail)
    flaky_store._client = flaky

    async def body() -> None:
        async with flaky_store.transaction() as tx:
            await tx.execute(f"update {accounts} set balance = balance + 10 "
                             "where _id == \"a1\"")
            await tx.collection(accounts).insert_one({"_id": "a4", "balance": 1})

    runner.run(body())  # no duplicate-key error: the re-sent commit was not applied again
    after = rows(runner, dynamo_store, accounts)
    assert after["a1"]["balance"] == 110
    assert after["a4"]["balance"] == 1
    assert len(flaky.tokens) == 2
    # a lost answer is re-sent with its token (idempotent); a cancelled commit with a new one
    assert (flaky.tokens[0] == flaky.tokens[1]) == (fail == "lost")


def test_transactions_do_not_nest_or_change_tables(runner: asyncio.Runner,
                                                   dynamo_store: Any, accounts: str) -> None:
    async def body() -> None:
        async with dynamo_store.transaction() as tx:
            with pytest.raises(BackendError, match="do not nest"):
                await tx.view.begin_transaction()
            with pytest.raises(BackendError, match="cannot drop a table"):
                await tx.view.drop_collection(accounts)

    runner.run(body())
    assert len(rows(runner, dynamo_store, accounts)) == 3


def test_two_statements_at_once_cannot_both_write_one_item(
        runner: asyncio.Runner, dynamo_store: Any, accounts: str) -> None:
    async def body() -> None:
        async with dynamo_store.transaction() as tx:
            await asyncio.gather(
                tx.execute(f"update {accounts} set balance = 1 where _id == \"a1\""),
                tx.execute(f"update {accounts} set owner = \"x\" where _id == \"a1\""))

    with pytest.raises(BackendError, match="written twice"):
        runner.run(body())
    assert rows(runner, dynamo_store, accounts)["a1"]["balance"] == 100


COMPARED: list[ir.Update | ir.Delete] = []
DRAWN: list[ir.Update | ir.Delete] = []


@settings(max_examples=examples(50, at_least=20), deadline=None,
          phases=(Phase.explicit, Phase.reuse, Phase.generate),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_writes_in_a_transaction_match_the_reference(
        runner: asyncio.Runner, dynamo_store: Any, data: st.DataObject) -> None:
    """A generated update/delete run by tx.execute: the collection after the commit and
    the counts are the reference's (assignments below a map included)."""
    schema = data.draw(st.sampled_from([DEFAULT_SCHEMA, NESTED]), label="schema")
    docs = data.draw(documents(MAX_DOCS, schema=schema, min_size=5), label="docs")
    statement = data.draw(typed_writes(schema), label="statement")
    DRAWN.append(statement)
    if compare_in_a_transaction(runner, dynamo_store, docs, statement):
        COMPARED.append(statement)


def compare_in_a_transaction(runner: asyncio.Runner, dynamo_store: Any,
                             docs: list[dict[str, Any]], statement: ir.Update | ir.Delete,
                             ) -> bool:
    """Run ``statement`` by tx.execute on ``docs``: the collection after the commit and
    the counts must be the reference's. False where DynamoDB refuses it at compile."""
    text = crossql.format(statement)
    want_docs, want = apply(statement, docs)
    load(runner, dynamo_store, "docs", docs)
    try:
        dynamo_store.write_plan(text)
    except CapabilityError:
        return False

    async def body() -> Any:
        async with dynamo_store.transaction() as tx:
            return await tx.execute(text)

    got = runner.run(body())
    after = runner.run(dynamo_store.fetch("from docs"))
    assert sorted(map(canonical, after)) == sorted(map(canonical, want_docs)), (
        f"statement: {text}\ngot:  {after}\nwant: {want_docs}\ndocs: {docs}")
    # DynamoDB numbers are decimals: setting 1.0 over 1 changes nothing there
    assert (got.matched, got.deleted) == (want.matched, want.deleted), text
    return True


@pytest.mark.parametrize("text", [
    "update docs set m.k = \"b\" where true",
    "update docs set m.p.v = 1, n = 0 where n == 1",
    "update docs set unset m.p.v where true",
])
def test_a_write_below_a_map_in_a_transaction_matches_the_reference(
        runner: asyncio.Runner, dynamo_store: Any, text: str) -> None:
    """What the generated test above covers only when a draw happens to write below a
    map (NESTED schema, a nested path), as fixed cases: they cannot miss by chance."""
    statement = crossql.parse(text)
    assert isinstance(statement, ir.Update)
    assert any(len(a.path.segments) > 1 for a in statement.assignments)
    assert compare_in_a_transaction(runner, dynamo_store, NESTED_DOCS, statement)


def test_generated_transaction_writes_were_compared() -> None:
    """Runs after the property test: its writes ran in transactions, not all refused at
    compile (writes below a map are fixed cases above: a draw may miss them)."""
    skip_unless_ran(bool(COMPARED), "test_writes_in_a_transaction_match_the_reference")
    assert len(COMPARED) >= 2, (len(COMPARED), len(DRAWN))


def test_nested_writes_in_a_transaction(runner: asyncio.Runner, dynamo_store: Any) -> None:
    """Below a map, below a missing one, and an unset with nothing to remove (a
    ConditionCheck: matched, nothing written)."""
    name = f"nest_{uuid.uuid4().hex[:8]}"
    load(runner, dynamo_store, name, NESTED_DOCS)

    async def body() -> tuple[Any, Any]:
        async with dynamo_store.transaction() as tx:
            first = await tx.execute(f"update {name} set m.p.v = 7 where _id != \"empty\"")
            second = await tx.execute(f"update {name} set unset m.k where _id == \"empty\"")
            return first, second

    first, second = runner.run(body())
    assert (first.matched, second.matched) == (2, 1)  # map and missing; empty
    after = rows(runner, dynamo_store, name)
    assert after["map"]["m"] == {"k": 1, "p": {"v": 7}}
    assert after["missing"]["m"] == {"p": {"v": 7}}
    assert after["empty"]["m"] == {}
    assert (after["null"]["m"], after["str"]["m"], after["deep"]["m"]) == \
        (None, "x", {"p": "no map"})


def test_a_write_beside_a_committing_transaction_is_retried(
        runner: asyncio.Runner, dynamo_store: Any, flaky_store: Any, accounts: str) -> None:
    busy = _BusyClient(flaky_store._client)
    flaky_store._client = busy
    result = runner.run(flaky_store.execute(f"update {accounts} set balance = balance + 1 "
                                            "where _id == \"a2\""))
    assert result.matched == 1 and busy.calls == 2
    assert rows(runner, dynamo_store, accounts)["a2"]["balance"] == 51


@pytest.mark.parametrize(("start", "assignment"), [
    (2**63 - 1, "n = n + 1"),                   # leaves the 64-bit range
    (0.2, "n = n + 0.1"),                        # floats give 0.30000000000000004
    (Decimal("9" * 37 + ".9"), "n = n + 1"),     # 10**37 + 0.9: 39 digits
], ids=["int64", "float-sum", "38-digits"])
def test_a_transaction_refuses_an_increment_dynamodb_would_not_add_as_the_reference(
        runner: asyncio.Runner, dynamo_store: Any, start: Any, assignment: str) -> None:
    """As outside a transaction (store_base ``_check_increments``): refused at the
    statement, before anything is collected, so the commit writes nothing of it."""
    name = f"inc_{uuid.uuid4().hex[:8]}"
    load(runner, dynamo_store, name, [{"_id": "a", "n": start}, {"_id": "b", "n": 1}])
    before = rows(runner, dynamo_store, name)

    async def body() -> None:
        async with dynamo_store.transaction() as tx:
            await tx.execute(f"update {name} set m = 1 where _id == \"b\"")
            await tx.execute(f"update {name} set {assignment} where _id == \"a\"")

    with pytest.raises(BackendError, match="nothing was written"):
        runner.run(body())
    assert rows(runner, dynamo_store, name) == before
