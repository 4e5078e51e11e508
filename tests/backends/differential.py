"""Differential testing of a backend against the reference evaluator.

Hypothesis draws a typed collection (tests/strategies.py, LANGUAGE.md rule 7),
loads it once, then draws many queries against it; every query the backend
compiles must return exactly the reference rows (in order where the order is
total). Counts per backend are printed at the end of the session.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import crossql
from crossql import ir
from crossql.errors import CapabilityError
from tests.backends.conftest import canonical, load

STATS: dict[str, Counter[str]] = {}
"""Per backend: how many generated queries were compared, refused, ..."""


def compare_on_backend(runner: asyncio.Runner, store: Any, name: str, docs: list[dict[str, Any]],
                       queries: list[ir.Query], *, options: Any = None) -> None:
    """Load ``docs`` as collection ``docs`` and check every query against the reference."""
    stats = STATS.setdefault(name, Counter())
    load(runner, store, "docs", docs)
    for query in queries:
        text = crossql.format(query)
        want = crossql.evaluate(query, docs)
        try:
            plan = crossql.compile(text, backend=store.driver, options=options)
        except CapabilityError:
            stats["refused"] += 1
            continue
        got = runner.run(_rows(store, plan))
        ordered = bool(query.order_by)
        if ordered:
            same = [canonical(r) for r in got] == [canonical(r) for r in want]
        else:
            same = sorted(map(canonical, got)) == sorted(map(canonical, want))
        assert same, (
            f"{name} disagrees with the reference\nquery: {text}\nplan: {plan.to_json()}\n"
            f"got:  {got}\nwant: {want}\ndocs: {docs}"
        )
        count = runner.run(store.count_plan(plan))
        assert count == len(want), f"{name} count {count} != {len(want)} for {text}"
        stats["compared"] += 1
        stats[f"plan:{plan.to_dict().get('operation', 'plan')}"] += 1


async def _rows(store: Any, plan: Any) -> list[dict[str, Any]]:
    return [row async for row in store.run_plan(plan)]
