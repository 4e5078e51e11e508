"""Firestore (the emulator) against the reference evaluator on generated data, both profiles.

Hypothesis draws a typed collection (tests/strategies.py, LANGUAGE.md rule 7),
loads it once, then draws many queries; each query is compiled under the default
profile and under ``native_not_equal + native_or``. Every plan a profile accepts
must return exactly the reference rows (in order: the generated orders are total)
and the reference count. The session summary prints, per profile, how many
queries were compared and how many refused.

Two fields of the generated schema are never missing (they may be null) and the
compiler is told so (``required``), so ``order by`` on them and several
aggregations over them are exercised; the other fields are optional.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import crossql
from crossql import ir
from crossql.backends.completion import with_client_side
from tests.backends.conftest import canonical, load
from tests.backends.differential import STATS, compare_client_side
from tests.backends.firestore_support import PROFILES, emulator_rows
from tests.budget import examples, skip_unless_ran
from tests.strategies import (
    DEFAULT_SCHEMA,
    MAX_DOCS,
    Schema,
    documents,
    queries,
    queries_by_id,
    wild_documents,
)

pytestmark = pytest.mark.integration

QUERIES_PER_COLLECTION = 40

SCHEMA = Schema(tuple(replace(f, optional=False) if f.name in ("n", "s") else f
                      for f in DEFAULT_SCHEMA.fields))
REQUIRED = {"docs": {"required": ["n", "s"]}}


def compare(runner: asyncio.Runner, store: Any, docs: list[dict[str, Any]],
            query_list: list[ir.Query], *, schema: Any = REQUIRED, label: str = "") -> None:
    load(runner, store, "docs", docs)
    for query in query_list:
        text = crossql.format(query)
        want = crossql.evaluate(query, docs)
        for profile, options in PROFILES.items():
            stats = STATS.setdefault(f"firestore ({profile} profile{label})", Counter())
            try:
                plan = crossql.compile(text, backend="firestore", options=options,
                                       schema=schema)
            except crossql.CapabilityError as err:
                stats["refused"] += 1
                stats[f"refused:{err.code.removeprefix('capability.firestore.')}"] += 1
                continue
            expected = emulator_rows(plan, want)

            async def rows(plan: crossql.Plan = plan) -> list[dict[str, Any]]:
                return [row async for row in store.run_plan(plan)]

            try:
                got = runner.run(rows())
            except crossql.BackendError as err:
                raise AssertionError(f"firestore ({profile}) failed on an accepted plan\n"
                                     f"query: {text}\nplan: {plan.to_json()}") from err
            if query.order_by:
                same = [canonical(r) for r in got] == [canonical(r) for r in expected]
            else:
                same = sorted(map(canonical, got)) == sorted(map(canonical, expected))
            assert same, (
                f"firestore ({profile}) disagrees with the reference\nquery: {text}\n"
                f"plan: {plan.to_json()}\ngot:  {got}\nwant: {expected}\ndocs: {docs}")
            count = runner.run(store.count_plan(plan))
            assert count == len(want), f"firestore count {count} != {len(want)} for {text}"
            stats["compared"] += 1
            stats["static (no query sent)" if plan.to_dict().get("static_rows") is not None
                  else "aggregation query" if plan.to_dict().get("aggregations")
                  else "document get" if plan.to_dict().get("get")
                  else "query"] += 1


@settings(max_examples=examples(60), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_firestore_matches_reference(runner: asyncio.Runner, firestore_store: Any,
                                     data: st.DataObject) -> None:
    docs = data.draw(documents(MAX_DOCS, min_size=5, schema=SCHEMA), label="docs")
    query_list = [data.draw(queries(SCHEMA, total_order=True), label=f"q{i}")
                  for i in range(QUERIES_PER_COLLECTION)]
    compare(runner, firestore_store, docs, query_list)


@settings(max_examples=examples(25), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_firestore_document_gets_match_reference(runner: asyncio.Runner,
                                                 firestore_store: Any,
                                                 data: st.DataObject) -> None:
    """`where _id == "..."` (alone or with conditions on the same document) is a document
    get, then the reference evaluator on that document: rows, select, order, limit, offset
    and count as the reference has them (issue #15, item 11b)."""
    docs = data.draw(documents(MAX_DOCS, min_size=5, schema=SCHEMA), label="docs")
    query_list = [data.draw(queries_by_id(SCHEMA), label=f"q{i}")
                  for i in range(QUERIES_PER_COLLECTION)]
    compare(runner, firestore_store, docs, query_list, label=", by id")


def _storable(value: Any, in_array: bool = False) -> bool:
    if isinstance(value, list):
        return not in_array and all(_storable(v, True) for v in value)
    if isinstance(value, dict):
        return all(_storable(v) for v in value.values())
    return True


@settings(max_examples=examples(30), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_firestore_filters_match_reference_on_mixed_types(runner: asyncio.Runner,
                                                          firestore_store: Any,
                                                          data: st.DataObject) -> None:
    """Documents that break the type rule (a field of any type, in any document): the
    filters stay exact. Order is not promised across types, so queries are unordered;
    Firestore cannot store an array inside an array, so such documents are left out."""
    docs = [d for d in data.draw(wild_documents(MAX_DOCS), label="docs") if _storable(d)]
    query_list = [replace(data.draw(queries(DEFAULT_SCHEMA), label=f"q{i}"), order_by=(),
                          limit=None, offset=None)
                  for i in range(QUERIES_PER_COLLECTION)]
    compare(runner, firestore_store, docs, query_list, schema=None, label=", mixed types")


def test_both_profiles_accept_generated_queries() -> None:
    """Runs after the differential test in this module: each profile compared queries,
    and the native profile accepted more than the default one."""
    default = STATS.get("firestore (default profile)", {})
    native = STATS.get("firestore (native profile)", {})
    assert default.get("compared", 0) > 0
    assert native.get("compared", 0) > default.get("compared", 0)
    for profile in ("default", "native"):
        by_id = STATS.get(f"firestore ({profile} profile, by id)", {})
        assert by_id.get("document get", 0) > 0, by_id


CLIENT_SIDE = {"max_rows": 1000}


@settings(max_examples=examples(30), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_firestore_with_client_side_matches_reference(runner: asyncio.Runner,
                                                      firestore_store: Any,
                                                      data: st.DataObject) -> None:
    """With ``client_side`` on (issue #19), under both profiles and with no schema (so an
    order by any field may miss documents), the queries refused for an order, a group or
    an aggregate run, and give the reference's rows."""
    docs = data.draw(documents(MAX_DOCS, min_size=5, schema=SCHEMA), label="docs")
    query_list = [data.draw(queries(SCHEMA, total_order=True), label=f"q{i}")
                  for i in range(QUERIES_PER_COLLECTION)]
    query_list += [data.draw(queries(SCHEMA, total_order=True, grouped=True), label=f"g{i}")
                   for i in range(QUERIES_PER_COLLECTION // 4)]
    load(runner, firestore_store, "docs", docs)
    for profile, profile_options in PROFILES.items():
        options = with_client_side(profile_options, CLIENT_SIDE)

        def plan_of(text: str, options: Any = options) -> crossql.Plan:
            return crossql.compile(text, backend="firestore", options=options)

        compare_client_side(runner, firestore_store, f"firestore (client-side, {profile})",
                            docs, query_list, plan_of, expected=emulator_rows)


def test_the_client_side_differential_completed_queries() -> None:
    """Runs after it (file order): queries were completed client-side under each profile."""
    for profile in PROFILES:
        stats = STATS.get(f"firestore (client-side, {profile})")
        skip_unless_ran(stats is not None, "the client-side differential")
        assert stats is not None
        assert stats["client-side"] > 0 and stats["native"] > 0, profile
