"""Cursor pagination (issue 18) on every backend against the reference order.

The walks: 1,000 documents where 10% share their order value and some lack it or
hold null, paged 7 at a time through each order of ``WALKS`` — every document
exactly once, in the reference's order (the query's keys, then ``_id``).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from crossql.errors import QuerySemanticError
from tests.backends.conftest import load, store_of
from tests.backends.page_differential import (
    check_walk,
    reference_ids,
    shared_order_documents,
    walk,
)
from tests.budget import examples
from tests.strategies import PAGE_ORDERS, paging_documents

WALKS = ("from docs order by v", "from docs order by v desc",
         "from docs order by a desc, b asc", "from docs")

SIZES = {"memory": (1000, 7), "mongodb": (1000, 7)}
"""Documents and page size of each backend's walk (each walk a few seconds at most)."""

BACKENDS = list(SIZES)


@pytest.fixture(params=BACKENDS)
def paged(request: pytest.FixtureRequest, runner: asyncio.Runner) -> tuple[Any, list[Any]]:
    """A store of each backend with the walk's documents loaded as ``docs``."""
    store = store_of(request, runner, request.param)
    count, _ = SIZES[request.param]
    docs = shared_order_documents(count)
    load(runner, store, "docs", docs)
    return store, docs


@pytest.mark.parametrize("text", WALKS)
def test_pages_walk_every_document_once_in_reference_order(
        runner: asyncio.Runner, paged: tuple[Any, list[Any]], text: str) -> None:
    store, docs = paged
    _, size = SIZES[store.driver]
    pages = check_walk(runner, store, docs, text, size)
    assert pages == len(docs) // size + 1  # 1000 / 7: 142 full pages and one of 6


def test_pages_under_a_condition_limit_and_select(runner: asyncio.Runner,
                                                  paged: tuple[Any, list[Any]]) -> None:
    store, docs = paged
    text = "from docs where a >= :low select n, v order by a desc, v limit 40"
    rows, pages = runner.run(walk(store, text, 7, low=2))
    assert [r["n"] for r in rows] == [
        int(i[3:]) for i in reference_ids(docs, text, low=2)]
    assert all(set(r) <= {"n", "v"} for r in rows)
    assert pages == 6  # the limit caps the walk: 40 rows, 7 a page


def test_total_is_the_count_of_the_query(runner: asyncio.Runner,
                                         paged: tuple[Any, list[Any]]) -> None:
    store, _ = paged
    text = "from docs where v > 100 order by v limit 5"
    page = runner.run(store.page(text, size=3, total=True))
    assert page.total == runner.run(store.count("from docs where v > 100"))
    assert page.total > 5 and len(page.rows) == 3


def test_a_foreign_or_changed_cursor_is_a_located_error(runner: asyncio.Runner,
                                                        paged: tuple[Any, list[Any]]) -> None:
    store, _ = paged
    first = runner.run(store.page("from docs order by v", size=5))
    cursor = first.next_cursor
    assert cursor is not None
    with pytest.raises(QuerySemanticError) as foreign:
        runner.run(store.page("from docs order by v desc", size=5, after=cursor))
    assert foreign.value.code == "semantic.cursor-foreign"
    assert foreign.value.source == "from docs order by v desc"
    with pytest.raises(QuerySemanticError) as other_params:
        runner.run(store.page("from docs where a == :a order by v", size=5, after=cursor, a=1))
    assert other_params.value.code == "semantic.cursor-foreign"
    for i in range(len(cursor)):
        changed = cursor[:i] + ("A" if cursor[i] != "A" else "B") + cursor[i + 1:]
        with pytest.raises(QuerySemanticError) as tampered:
            runner.run(store.page("from docs order by v", size=5, after=changed))
        assert tampered.value.code in ("semantic.cursor-tampered", "semantic.cursor-foreign",
                                       "semantic.cursor-invalid"), i
        assert "from docs order by v" in str(tampered.value)


# the memory store answers by the reference alone; the generic resume condition (the IR
# every backend compiles) is held to it here over mixed types, ties, null and missing
@settings(max_examples=examples(200), deadline=None,
          phases=(Phase.explicit, Phase.reuse, Phase.generate),  # a walk shrinks slowly
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(docs=paging_documents(), order=st.sampled_from(PAGE_ORDERS), size=st.integers(1, 4),
       limit=st.none() | st.integers(0, 30))
def test_the_resume_condition_agrees_with_the_reference(runner: asyncio.Runner, docs: list[Any],
                                                        order: str, size: int,
                                                        limit: int | None) -> None:
    from crossql.backends.memory.store import MemoryStore
    from crossql.runtime.store import Store

    class GenericMemory(MemoryStore):
        run_page = Store.run_page  # the page query through the compiler, not the oracle

    text = f"from docs {order}" + (f" limit {limit}" if limit is not None else "")
    for store in (MemoryStore(), GenericMemory()):
        runner.run(store.collection("docs").insert_many(docs))
        rows, _ = runner.run(walk(store, text, size))
        assert [r["_id"] for r in rows] == reference_ids(docs, text), type(store).__name__
