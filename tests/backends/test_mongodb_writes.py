"""MongoDB writes (a real server) against the reference semantics of writes."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from crossql.semantics.writes import WriteResult
from tests.backends.write_differential import compare_write, run_on_docs, typed_writes
from tests.budget import examples
from tests.strategies import MAX_DOCS, documents

pytestmark = pytest.mark.integration


@settings(max_examples=examples(200), deadline=None,
          phases=(Phase.explicit, Phase.reuse, Phase.generate),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_mongodb_writes_match_reference(runner: asyncio.Runner, mongo_store: Any,
                                        data: st.DataObject) -> None:
    docs = data.draw(documents(MAX_DOCS, min_size=5), label="docs")
    statement = data.draw(typed_writes(), label="statement")
    got = compare_write(runner, mongo_store, docs, statement)
    assert got is not None, "MongoDB runs every generated write"
    assert got.modified <= got.matched


def test_inc_never_creates_or_breaks_a_field(runner: asyncio.Runner, mongo_store: Any) -> None:
    # MongoDB's $inc alone would create `n` on c and fail on b's string: the guard keeps
    # the reference meaning (only numbers are incremented, nothing else is matched)
    assert run_on_docs(runner, mongo_store, "update docs set n = n + 1 where true") == \
        WriteResult(matched=2, modified=2)
    rows = runner.run(mongo_store.fetch("from docs select _id, n order by _id"))
    assert rows == [{"_id": "a", "n": 2}, {"_id": "b", "n": "1"}, {"_id": "c"},
                    {"_id": "d", "n": None}, {"_id": "e", "n": 3.5}]


def test_set_below_a_non_map_skips_the_document(runner: asyncio.Runner,
                                                 mongo_store: Any) -> None:
    assert run_on_docs(runner, mongo_store, "update docs set m.j = 0 where true") == \
        WriteResult(matched=4, modified=4)
    c = runner.run(mongo_store.collection("docs").get("c"))
    assert c == {"_id": "c", "m": 5}


def test_limits_pick_the_right_number_of_documents(runner: asyncio.Runner,
                                                   mongo_store: Any) -> None:
    assert run_on_docs(runner, mongo_store, "delete from docs where true limit 1") == \
        WriteResult(matched=1, deleted=1)
    assert run_on_docs(runner, mongo_store, "delete from docs where true limit 3") == \
        WriteResult(matched=3, deleted=3)
    assert runner.run(mongo_store.count("from docs")) == 2
    assert run_on_docs(runner, mongo_store, "update docs set z = 1 where true limit 0") == \
        WriteResult()
    assert run_on_docs(runner, mongo_store, "update docs set z = 1 where exists(n) limit 2") == \
        WriteResult(matched=2, modified=2)
    assert runner.run(mongo_store.count("from docs where z == 1")) == 2
