"""Firestore writes (the emulator) against the reference semantics of writes."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from crossql import ir
from crossql.errors import BackendError, CapabilityError
from crossql.semantics.writes import WriteResult
from tests.backends.conftest import load
from tests.backends.write_differential import (
    DOCS,
    NO_FIELD,
    compare_write,
    concurrent_increments,
    counter_cases,
    run_on_docs,
    typed_writes,
)
from tests.budget import examples, skip_unless_ran
from tests.strategies import MAX_DOCS, documents

pytestmark = pytest.mark.integration

SEEN: Counter[str] = Counter()


@settings(max_examples=examples(80, at_least=40), deadline=None,
          phases=(Phase.explicit, Phase.reuse, Phase.generate),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_firestore_writes_match_reference(runner: asyncio.Runner, firestore_store: Any,
                                          data: st.DataObject) -> None:
    docs = data.draw(documents(MAX_DOCS, min_size=5), label="docs")
    # a third of the updates are made to hold an increment or an assignment below a map,
    # the two writes Firestore computes from the snapshot: the summary below needs both
    must = data.draw(st.sampled_from([None, "increment", "nested"]), label="must")
    statement = data.draw(typed_writes(must=must), label="statement")
    got = compare_write(runner, firestore_store, docs, statement)
    SEEN["refused" if got is None else "compared"] += 1
    if got is not None and isinstance(statement, ir.Update):
        for item in statement.assignments:
            if isinstance(item, ir.Increment):
                SEEN["increment"] += 1
            if len(item.path.segments) > 1:
                SEEN["nested"] += 1


def test_generated_writes_were_compared() -> None:
    """Runs after the differential test: generated writes ran on the emulator, with
    increments and assignments below a map among them (a third of the draws must
    hold each: a miss in 40 draws is (2/3)**40, about 1e-7)."""
    skip_unless_ran(SEEN["compared"] + SEEN["refused"] > 0,
                    "test_firestore_writes_match_reference")
    assert SEEN["compared"] > 0
    assert SEEN["increment"] > 0
    assert SEEN["nested"] > 0


def test_set_unset_and_delete(runner: asyncio.Runner, firestore_store: Any) -> None:
    text = 'update docs set t = "y", unset m where n == 1'
    assert run_on_docs(runner, firestore_store, text) == WriteResult(matched=1, modified=1)
    assert runner.run(firestore_store.collection("docs").get("a")) == \
        {"_id": "a", "n": 1, "s": "x", "t": "y"}
    assert run_on_docs(runner, firestore_store, "delete from docs where n == 2.5 limit 1") == \
        WriteResult(matched=1, deleted=1)
    assert runner.run(firestore_store.count("from docs")) == 4


def test_an_increment_adds_to_numbers_only(runner: asyncio.Runner,
                                           firestore_store: Any) -> None:
    """`n + 1` where n is a number; a string, null or missing n is not matched (where
    Firestore's `Increment` would overwrite or create it)."""
    assert run_on_docs(runner, firestore_store, "update docs set n = n + 1 where true") == \
        WriteResult(matched=2, modified=2)
    rows = runner.run(firestore_store.fetch("from docs order by _id"))
    assert [row.get("n", "missing") for row in rows] == [2, "1", "missing", None, 3.5]


def test_a_nested_assignment_leaves_a_non_map_parent_alone(runner: asyncio.Runner,
                                                           firestore_store: Any) -> None:
    assert run_on_docs(runner, firestore_store, "update docs set m.k = 7 where true") == \
        WriteResult(matched=4, modified=4)
    rows = runner.run(firestore_store.fetch("from docs order by _id"))
    assert [row.get("m") for row in rows] == [{"k": 7}, {"k": 7}, 5, {"k": 7}, {"k": 7}]
    # a document already holding the value is matched, not written
    assert runner.run(firestore_store.execute("update docs set m.k = 7 where n == 1")) == \
        WriteResult(matched=1, modified=0)


def test_an_increment_out_of_range_writes_nothing(runner: asyncio.Runner,
                                                  firestore_store: Any) -> None:
    load(runner, firestore_store, "docs", [{"_id": "a", "n": 1},
                                           {"_id": "b", "n": 2**63 - 1}])
    with pytest.raises(BackendError, match="64-bit"):
        runner.run(firestore_store.execute("update docs set n = n + 1 where true"))
    rows = runner.run(firestore_store.fetch("from docs order by _id"))
    assert [row["n"] for row in rows] == [1, 2**63 - 1]


def test_array_in_array_is_refused(firestore_store: Any) -> None:
    with pytest.raises(CapabilityError, match="array inside an array"):
        firestore_store.write_plan("update docs set a = [[1]] where true")


def test_a_document_changed_after_the_read_is_read_again_not_overwritten(
        runner: asyncio.Runner, firestore_store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    load(runner, firestore_store, "docs", DOCS)
    client = firestore_store.client
    new_batch = client.batch
    changes: list[str] = []

    class Racing:
        """A batch whose first commit comes after a concurrent writer changed `a`."""

        def __init__(self) -> None:
            self.inner = new_batch()

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

        async def commit(self, **kwargs: Any) -> Any:
            if not changes:
                changes.append("a")
                await client.collection("docs").document("a").update({"s": "z"})
            return await self.inner.commit(**kwargs)

    monkeypatch.setattr(client, "batch", Racing)
    result = runner.run(firestore_store.execute('update docs set t = 1 where s == "x"'))
    monkeypatch.undo()
    assert changes == ["a"]
    # the batch failed its precondition, the read ran again and found nothing to write
    assert result == WriteResult()
    assert runner.run(firestore_store.collection("docs").get("a")) == \
        {"_id": "a", "n": 1, "s": "z"}


# --- a counter under contention (issue #15, item 8) ------------------------------------------


def test_50_concurrent_increments_of_one_document_lose_none(runner: asyncio.Runner,
                                                            firestore_store: Any) -> None:
    load(runner, firestore_store, "counters", [{"_id": "a", "n": 0}, {"_id": "b", "n": 0}])
    results = runner.run(concurrent_increments(firestore_store, "counters", 50))
    errors = [r for r in results if isinstance(r, BaseException)]
    assert errors == []
    assert results == [WriteResult(matched=1, modified=1)] * 50
    rows = runner.run(firestore_store.fetch("from counters order by _id"))
    assert [row["n"] for row in rows] == [50, 0]


def test_concurrent_increments_keep_the_reference_semantics(runner: asyncio.Runner,
                                                            firestore_store: Any) -> None:
    """Under contention too, a missing, null or non-numeric field is not matched
    (Firestore's Increment would create or overwrite it), and a float stays a float."""
    load(runner, firestore_store, "counters", [
        {"_id": "a", "n": "x"}, {"_id": "b"}, {"_id": "c", "n": 0.5}, {"_id": "d", "n": None},
        {"_id": "e", "n": 5}, {"_id": "f", "n": True}, {"_id": "g", "m": {"n": 1}}])
    results = runner.run(concurrent_increments(firestore_store, "counters", 20, where="true"))
    assert results == [WriteResult(matched=2, modified=2)] * 20
    rows = {row["_id"]: row for row in runner.run(firestore_store.fetch("from counters"))}
    assert [rows[k].get("n", "missing") for k in "abcdefg"] == [
        "x", "missing", 20.5, None, 25, True, "missing"]
    assert rows["g"]["m"] == {"n": 1}
    nested = runner.run(concurrent_increments(firestore_store, "counters", 10,
                                              where='_id == "g"', path="m.n"))
    assert nested == [WriteResult(matched=1, modified=1)] * 10
    assert runner.run(firestore_store.collection("counters").get("g")) == \
        {"_id": "g", "m": {"n": 11}}


def test_an_increment_at_the_int64_edge_is_exact(runner: asyncio.Runner,
                                                 firestore_store: Any) -> None:
    load(runner, firestore_store, "counters", [{"_id": "a", "n": 2**63 - 2},
                                               {"_id": "b", "n": -(2**63) + 1}])
    assert runner.run(firestore_store.execute('update counters set n = n + 1 where _id == "a"')) \
        == WriteResult(matched=1, modified=1)
    with pytest.raises(BackendError, match="64-bit"):
        runner.run(firestore_store.execute('update counters set n = n + 1 where _id == "a"'))
    assert runner.run(firestore_store.execute('update counters set n = n + -1 where _id == "b"')) \
        == WriteResult(matched=1, modified=1)
    with pytest.raises(BackendError, match="64-bit"):
        runner.run(firestore_store.execute('update counters set n = n + -1 where _id == "b"'))
    rows = runner.run(firestore_store.fetch("from counters order by _id"))
    assert [row["n"] for row in rows] == [2**63 - 1, -(2**63)]


COUNTER_SEEN: Counter[str] = Counter()


@settings(max_examples=examples(25, at_least=20), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(case=counter_cases())
# each summary outcome once for certain (a draw misses "not a number" 1.2% of runs)
@example(case=(5, [1, -1, 0.5]))
@example(case=(NO_FIELD, [1, 2]))
def test_generated_concurrent_increments_lose_nothing(runner: asyncio.Runner,
                                                      firestore_store: Any,
                                                      case: tuple[Any, list[Any]]) -> None:
    """Concurrent increments of one counter end where the reference, applying the
    statements one after another, ends: each one that returned a result was applied
    once, a non-number is never matched nor changed, and no value leaves int64."""
    start, amounts = case
    doc: dict[str, Any] = {"_id": "a"} if start == NO_FIELD else {"_id": "a", "n": start}
    load(runner, firestore_store, "counters", [doc])

    async def run_all() -> list[Any]:
        return await asyncio.gather(
            *(firestore_store.execute(f"update counters set n = n + {amount} "
                                      'where _id == "a"') for amount in amounts),
            return_exceptions=True)

    results = runner.run(run_all())
    (row,) = runner.run(firestore_store.fetch("from counters"))
    number = type(start) in (int, float)
    if not number:
        assert results == [WriteResult()] * len(amounts)
        assert row == doc
        COUNTER_SEEN["not a number"] += 1
        return
    applied = [amount for amount, r in zip(amounts, results, strict=True)
               if isinstance(r, WriteResult)]
    failed = [r for r in results if not isinstance(r, WriteResult)]
    assert all(isinstance(r, BackendError) for r in failed), failed
    assert all(r in (WriteResult(matched=1, modified=1), WriteResult(matched=1))
               for r in results if isinstance(r, WriteResult))
    want = start + sum(applied)
    assert row["n"] == want and type(row["n"]) is type(want), (start, amounts, results, row)
    if type(want) is int:
        assert -(2**63) <= want <= 2**63 - 1
    if abs(start) <= 2**62:
        assert failed == [], failed  # away from int64's ends, contention loses nothing
        COUNTER_SEEN["counter"] += 1
    else:
        COUNTER_SEEN["near int64's ends"] += 1


def test_generated_counters_were_exercised() -> None:
    """Runs after the generated test: counters, non-numbers and int64's ends were drawn
    (its explicit examples make each certain)."""
    skip_unless_ran(sum(COUNTER_SEEN.values()) > 0,
                    "test_generated_concurrent_increments_lose_nothing")
    assert COUNTER_SEEN["counter"] > 0 and COUNTER_SEEN["not a number"] > 0
