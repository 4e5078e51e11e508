"""MongoDB (a real server) against the reference evaluator on generated data."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.backends.differential import compare_on_backend
from tests.budget import examples
from tests.strategies import MAX_DOCS, documents, documents_with_arrays_of_maps, queries

pytestmark = pytest.mark.integration

QUERIES_PER_COLLECTION = 40


# no shrinking: each example is a whole collection and 40 queries, and the failure
# message already names the one query, its plan and the documents
@settings(max_examples=examples(25), deadline=None,
          phases=(Phase.explicit, Phase.reuse, Phase.generate),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_mongodb_matches_reference(runner: asyncio.Runner, mongo_store: Any,
                                   data: st.DataObject) -> None:
    docs = data.draw(documents(MAX_DOCS, min_size=5), label="docs")
    qs = [data.draw(queries(total_order=True), label=f"q{i}")
          for i in range(QUERIES_PER_COLLECTION)]
    compare_on_backend(runner, mongo_store, "mongodb", docs, qs)


# arrays of maps where the schema has a map: `m.k` is missing there for the reference,
# in order keys too (MongoDB's $sort read into the array: issue #15, item 3)
@settings(max_examples=examples(10), deadline=None,
          phases=(Phase.explicit, Phase.reuse, Phase.generate),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_mongodb_matches_reference_over_arrays_of_maps(runner: asyncio.Runner, mongo_store: Any,
                                                       data: st.DataObject) -> None:
    docs = data.draw(documents_with_arrays_of_maps(MAX_DOCS, min_size=5), label="docs")
    qs = [data.draw(queries(total_order=True), label=f"q{i}")
          for i in range(QUERIES_PER_COLLECTION)]
    compare_on_backend(runner, mongo_store, "mongodb arrays of maps", docs, qs)


def test_the_differential_compared_queries() -> None:
    """Runs after the property test: it must have compared queries, not refused them all."""
    from tests.backends.differential import STATS

    assert STATS["mongodb"]["compared"] >= examples(500)
    assert STATS["mongodb"].get("refused", 0) == 0  # MongoDB refuses nothing of the language
    assert STATS["mongodb arrays of maps"]["compared"] >= 200

