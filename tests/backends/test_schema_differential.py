"""Declared schemas on real servers: documents that follow the declaration answer every
query as the reference does, with the guards the schema proves unnecessary taken out
(docs/schemas.md). The same documents are compared without the schema too."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import crossql
from tests.backends.differential import STATS, compare_on_backend
from tests.budget import examples
from tests.strategies import DECLARED_SCHEMA, MAX_DOCS, declaration, documents, queries

pytestmark = pytest.mark.integration

QUERIES_PER_COLLECTION = 30
SCHEMA = crossql.Schema.of({"docs": declaration(DECLARED_SCHEMA)})
SIZES: Counter[str] = Counter()


@settings(max_examples=examples(15), deadline=None,
          phases=(Phase.explicit, Phase.reuse, Phase.generate),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_mongodb_with_a_schema_matches_reference(runner: asyncio.Runner, mongo_store: Any,
                                                 data: st.DataObject) -> None:
    docs = data.draw(documents(MAX_DOCS, schema=DECLARED_SCHEMA, min_size=5), label="docs")
    qs = [data.draw(queries(DECLARED_SCHEMA, total_order=True), label=f"q{i}")
          for i in range(QUERIES_PER_COLLECTION)]
    compare_on_backend(runner, mongo_store, "mongodb with schema", docs, qs, schema=SCHEMA)
    compare_on_backend(runner, mongo_store, "mongodb declared data", docs, qs)
    for q in qs:
        text = crossql.format(q)
        SIZES["with"] += len(crossql.compile(text, backend="mongodb", schema=SCHEMA).to_json())
        SIZES["without"] += len(crossql.compile(text, backend="mongodb").to_json())


def test_the_schema_differential_compared_queries_and_plans_shrank() -> None:
    """Runs after the property test: it compared queries, and the plans with the schema
    are smaller in total than without."""
    assert STATS["mongodb with schema"]["compared"] >= examples(200)
    assert STATS["mongodb with schema"].get("refused", 0) == 0
    assert SIZES["with"] < SIZES["without"], SIZES
