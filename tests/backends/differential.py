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
from crossql.semantics.reference import type_of
from tests.backends.conftest import canonical, load

STATS: dict[str, Counter[str]] = {}
"""Per backend: how many generated queries were compared, refused, ..."""


def compare_on_backend(runner: asyncio.Runner, store: Any, name: str, docs: list[dict[str, Any]],
                       queries: list[ir.Query], *, options: Any = None,
                       schema: Any = None) -> None:
    """Load ``docs`` as collection ``docs`` and check every query against the reference
    (compiled with ``schema`` when given: documents that follow it answer alike)."""
    stats = STATS.setdefault(name, Counter())
    load(runner, store, "docs", docs)
    for query in queries:
        text = crossql.format(query)
        want = crossql.evaluate(query, docs)
        try:
            plan = crossql.compile(text, backend=store.driver, options=options, schema=schema)
        except CapabilityError:
            stats["refused"] += 1
            continue
        got = runner.run(_rows(store, plan))
        same = same_rows(got, want, ordered=bool(query.order_by))
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


def same_rows(got: list[Any], want: list[Any], *, ordered: bool,
              key: Any = canonical) -> bool:
    """The same rows by ``key`` (a row's canonical text): in order where the query orders
    them, as a multiset where it does not."""
    if ordered:
        return [key(r) for r in got] == [key(r) for r in want]
    return sorted(map(key, got)) == sorted(map(key, want))


def _native_canonical(row: Any) -> str:
    """``canonical``, with an exact number written as the float it equals where one does,
    by value or by the float's shortest text (``min`` of ``0.1`` and ``Decimal("0.1")``,
    equal numbers, may be either) and bytes with subtype."""
    from decimal import Decimal

    def normal(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: normal(v) for k, v in value.items()}
        if isinstance(value, list):
            return [normal(v) for v in value]
        if isinstance(value, Decimal) and value.is_finite() and (
                float(value) == value or Decimal(repr(float(value))) == value):
            return float(value)  # a float counts as its shortest text (docs/decisions.md)
        if isinstance(value, bytes):
            return f"bytes:{getattr(value, 'subtype', 0)}:{value.hex()}"
        kind = type_of(value)
        if kind == "reference":  # equal by path, whichever client made it
            return f"reference:{value.path}"
        if kind == "geopoint":
            return f"geopoint:{float(value.latitude)!r},{float(value.longitude)!r}"
        return value

    return canonical(normal(row))


def compare_native_on_backend(runner: asyncio.Runner, store: Any, name: str,
                              docs: list[dict[str, Any]], queries: list[ir.Query],
                              *, native_insert: Any = None, options: Any = None) -> None:
    """``compare_on_backend`` for queries over the native value kinds: compiled from IR
    (bytes, decimals and object ids have no text form), and with the even-numbered
    documents written by the backend's own driver (``native_insert(collection, docs)``)
    when one is given, so that the data is what the driver wrote, not what CrossQL did.
    ``options``: the backend's options each query is compiled with."""
    stats = STATS.setdefault(name, Counter())
    ours = docs[1::2]
    theirs = docs[0::2]
    load(runner, store, "docs", ours)
    if native_insert is not None and theirs:
        runner.run(native_insert("docs", theirs))
    elif theirs:
        runner.run(store.collection("docs").insert_many(theirs))
    for query in queries:
        want = crossql.evaluate(query, docs)
        try:
            plan = crossql.compile(query, backend=store.driver, options=options)
        except CapabilityError as err:
            stats["refused"] += 1
            if options is not None:  # (a backend with profiles says what refused)
                stats[f"refused:{err.code.removeprefix(f'capability.{store.driver}.')}"] += 1
            continue
        got = runner.run(_rows(store, plan))
        same = same_rows(got, want, ordered=bool(query.order_by), key=_native_canonical)
        assert same, (
            f"{name} disagrees with the reference\nquery: {query}\nplan: {plan.to_json()}\n"
            f"got:  {got}\nwant: {want}\ndocs: {docs}"
        )
        stats["compared"] += 1


def compare_client_side(runner: asyncio.Runner, store: Any, name: str,
                        docs: list[dict[str, Any]], queries: list[ir.Query],
                        plan_of: Any, *, expected: Any = None) -> None:
    """Check every query against the reference with client-side completion on (issue
    #19): ``plan_of(text)`` compiles with the option. A refusal the backend's option
    lifts is a failure (the option is on); a client-side plan must give the reference
    rows (in order: the generated orders are total) and count, as a native one must.
    The data is loaded already (the caller's); ``expected(plan, rows)``: the reference
    rows as the server gives them for a native plan (its quirks), if it has any."""
    from crossql.backends import get_backend
    from crossql.backends.completion import ClientSidePlan

    completion = get_backend(store.driver).completion
    stats = STATS.setdefault(name, Counter())
    for query in queries:
        text = crossql.format(query)
        want = crossql.evaluate(query, docs)
        try:
            plan = plan_of(text)
        except CapabilityError as err:
            assert err.code not in completion.lifts, (
                f"{name}: refused with client_side on, for what it completes\n"
                f"query: {text}\n{err.render()}")
            stats["refused"] += 1
            stats[f"refused:{err.code.rsplit('.', 1)[-1]}"] += 1
            continue
        got = runner.run(_rows(store, plan))
        rows = want if expected is None or type(plan) is ClientSidePlan else expected(plan, want)
        same = same_rows(got, rows, ordered=bool(query.order_by))
        assert same, (
            f"{name} disagrees with the reference\nquery: {text}\nplan: {plan.explain()}\n"
            f"got:  {got}\nwant: {want}\ndocs: {docs}")
        count = runner.run(store.count_plan(plan))
        assert count == len(want), f"{name} count {count} != {len(want)} for {text}"
        stats["compared"] += 1
        if type(plan) is ClientSidePlan:
            stats["client-side"] += 1
            stats[f"client-side on {plan.native.summary().split(' ', 1)[0]}"] += 1
        else:
            stats["native"] += 1
