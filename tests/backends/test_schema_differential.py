"""Declared schemas on real servers: documents that follow the declaration answer every
query as the reference does, with the guards the schema proves unnecessary taken out
(docs/schemas.md). The same documents are compared without the schema too."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import crossql
from tests.backends.differential import STATS, compare_on_backend
from tests.backends.test_firestore_differential import compare
from tests.budget import examples
from tests.strategies import (
    DECLARED_SCHEMA,
    MAX_DOCS,
    declaration,
    documents,
    drop_paging,
    queries,
)

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


@settings(max_examples=examples(10), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_firestore_with_a_declared_schema_matches_reference(
        runner: asyncio.Runner, firestore_store: Any, data: st.DataObject) -> None:
    docs = data.draw(documents(MAX_DOCS, schema=DECLARED_SCHEMA, min_size=5), label="docs")
    qs = [data.draw(queries(DECLARED_SCHEMA, total_order=True), label=f"q{i}")
          for i in range(QUERIES_PER_COLLECTION)]
    compare(runner, firestore_store, docs, qs, schema=SCHEMA, label=", declared")


def test_the_declared_firestore_differential_compared_queries() -> None:
    """Runs after the property test: the declaration let both profiles compare queries."""
    for profile in ("default", "native"):
        stats = STATS.get(f"firestore ({profile} profile, declared)", Counter())
        assert stats.get("compared", 0) >= examples(50), (profile, stats)


@settings(max_examples=examples(10), deadline=None,
          phases=(Phase.explicit, Phase.reuse, Phase.generate),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_dynamodb_with_a_declared_schema_matches_reference(
        runner: asyncio.Runner, dynamo_store: Any, data: st.DataObject) -> None:
    docs = data.draw(documents(MAX_DOCS, schema=DECLARED_SCHEMA, min_size=5), label="docs")
    qs = [data.draw(queries(DECLARED_SCHEMA, total_order=True), label=f"q{i}")
          for i in range(QUERIES_PER_COLLECTION)]
    unordered = [replace(drop_paging(q), order_by=()) for q in qs]
    options = dynamo_store.options  # the store's table prefix
    compare_on_backend(runner, dynamo_store, "dynamodb with schema", docs, unordered,
                       schema=SCHEMA, options=options)
    compare_on_backend(runner, dynamo_store, "dynamodb declared data", docs, unordered,
                       options=options)
    for q in unordered:
        text = crossql.format(q)
        try:
            plans = [crossql.compile(text, backend="dynamodb", schema=s).to_dict()
                     for s in (SCHEMA, None)]
        except crossql.CapabilityError:
            continue
        for key, plan in zip(("dynamodb with", "dynamodb without"), plans, strict=True):
            SIZES[key] += len(json.dumps(plan["request"], default=str))


def test_the_declared_dynamodb_differential_compared_queries_and_plans_shrank() -> None:
    """Runs after the property test: it compared queries (Scans with filters), and their
    requests with the schema are smaller in total than without."""
    stats = STATS.get("dynamodb with schema", Counter())
    assert stats.get("compared", 0) >= examples(100), stats
    assert SIZES["dynamodb with"] < SIZES["dynamodb without"], SIZES
