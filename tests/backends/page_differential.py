"""Cursor pagination against the reference order (issue 18).

A walk pages through a query with ``store.page`` until ``next_cursor`` is None; it
must return every document exactly once, in the reference's order of the query with
``_id`` as the last key (``crossql.semantics.paging.walk_keys``).
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import replace
from typing import Any

from crossql import ir
from crossql.compiler.checks import bind, check_query
from crossql.grammar import parse_query
from crossql.semantics.paging import walk_keys
from crossql.semantics.reference import run


def shared_order_documents(count: int, *, seed: int = 18) -> list[dict[str, Any]]:
    """``count`` documents where 10% share a handful of order values, 5% lack the order
    fields and 5% hold null in them; the rest hold distinct numbers."""
    rng = random.Random(seed)
    docs = []
    for i in rng.sample(range(count * 10), count):
        doc: dict[str, Any] = {"_id": f"doc{i:06d}", "n": i}
        for name, spread in (("v", 10_000), ("a", 6), ("b", 10_000)):
            roll = rng.random()
            if roll < 0.05:
                continue
            if roll < 0.10:
                doc[name] = None
            elif roll < 0.20:
                doc[name] = rng.choice([7, 7.5, 42])
            else:
                doc[name] = rng.randrange(spread) + rng.choice([0, 0.25])
        docs.append(doc)
    return docs


def reference_ids(docs: list[dict[str, Any]], text: str, **params: Any) -> list[Any]:
    """The ids in the order the pages must give: the query's order, then ``_id``."""
    query = bind(check_query(parse_query(text)), params)
    walk = replace(query, select=(), limit=None, offset=None,
                   order_by=tuple(ir.OrderKey(k.path, k.descending) for k in walk_keys(query)))
    ids = [row["_id"] for row in run(walk, docs)]
    if query.limit is not None:
        assert isinstance(query.limit, ir.Literal) and isinstance(query.limit.value, int)
        ids = ids[:query.limit.value]
    return ids


async def walk(store: Any, text: str, size: int, *, max_pages: int = 10_000,
               **params: Any) -> tuple[list[dict[str, Any]], int]:
    """Every row of every page of ``text``, and the number of pages read."""
    rows: list[dict[str, Any]] = []
    cursor = None
    for pages in range(1, max_pages + 1):
        page = await store.page(text, size=size, after=cursor, **params)
        assert len(page.rows) <= size
        rows += page.rows
        cursor = page.next_cursor
        if cursor is None:
            return rows, pages
        assert page.rows, "a page with a next cursor served no row"
    raise AssertionError(f"{text}: more than {max_pages} pages")


def check_walk(runner: asyncio.Runner, store: Any, docs: list[dict[str, Any]], text: str,
               size: int, **params: Any) -> int:
    """Walk ``text`` on ``store`` and compare with the reference; the pages read."""
    rows, pages = runner.run(walk(store, text, size, **params))
    got = [row["_id"] for row in rows]
    want = reference_ids(docs, text, **params)
    assert len(got) == len(set(got)), f"{store.driver}: {text}: a document served twice"
    first = next((i for i, (g, w) in enumerate(zip(got, want, strict=False)) if g != w),
                 min(len(got), len(want)))
    assert got == want, (f"{store.driver}: {text}: pages differ from the reference at row "
                         f"{first} ({len(got)} rows, {len(want)} wanted)")
    return pages
