"""Firestore writes (the emulator) against the reference semantics of writes."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from crossql.errors import CapabilityError
from crossql.runtime.writes import WriteResult
from tests.backends.conftest import load
from tests.backends.write_differential import compare_write, typed_writes
from tests.strategies import MAX_DOCS, documents

pytestmark = pytest.mark.integration

SEEN: Counter[str] = Counter()


@settings(max_examples=80, deadline=None, phases=(Phase.explicit, Phase.reuse, Phase.generate),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_firestore_writes_match_reference(runner: asyncio.Runner, firestore_store: Any,
                                          data: st.DataObject) -> None:
    docs = data.draw(documents(MAX_DOCS, min_size=5), label="docs")
    statement = data.draw(typed_writes(), label="statement")
    got = compare_write(runner, firestore_store, docs, statement)
    SEEN["refused" if got is None else "compared"] += 1


def test_generated_writes_were_compared() -> None:
    """Runs after the differential test: generated writes ran on the emulator."""
    assert SEEN["compared"] > 0


DOCS: list[dict[str, Any]] = [
    {"_id": "a", "n": 1, "s": "x"}, {"_id": "b", "n": "1"}, {"_id": "c", "m": 5},
    {"_id": "d", "n": None}, {"_id": "e", "n": 2.5, "m": {"k": 1}},
]


def _run(runner: asyncio.Runner, store: Any, text: str) -> WriteResult:
    load(runner, store, "docs", DOCS)
    result: WriteResult = runner.run(store.execute(text))
    return result


def test_set_unset_and_delete(runner: asyncio.Runner, firestore_store: Any) -> None:
    assert _run(runner, firestore_store, 'update docs set t = "y", unset m where n == 1') == \
        WriteResult(matched=1, modified=1)
    assert runner.run(firestore_store.collection("docs").get("a")) == \
        {"_id": "a", "n": 1, "s": "x", "t": "y"}
    assert _run(runner, firestore_store, "delete from docs where n == 2.5 limit 1") == \
        WriteResult(matched=1, deleted=1)
    assert runner.run(firestore_store.count("from docs")) == 4


def test_increments_are_refused(firestore_store: Any) -> None:
    with pytest.raises(CapabilityError, match="Increment"):
        firestore_store.write_plan("update docs set n = n + 1 where true")


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
