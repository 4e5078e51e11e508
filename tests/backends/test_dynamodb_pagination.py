"""DynamoDB Local: tables of several 1 MB pages, where ``limit`` and ``count`` must page.

DynamoDB returns at most 1 MB per Scan or Query, and its ``Limit`` counts the
items it evaluated, not those that passed the filter. A selective filter
therefore yields pages with few or no rows: the runtime must follow
``LastEvaluatedKey`` until enough rows matched, and sum ``Count`` over pages.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import crossql

pytestmark = pytest.mark.integration

ITEMS = 3000
PADDING = "x" * 1500  # ~1.5 KB per item: ~4.5 MB, five or more 1 MB pages
RARE = 37  # one item in 37 matches the selective filter


def _docs() -> list[dict[str, Any]]:
    return [{"_id": f"k{i:05d}", "part": "p", "n": i, "rare": i % RARE == 0, "pad": PADDING}
            for i in range(ITEMS)]


@pytest.fixture(scope="module")
def big(runner: asyncio.Runner, dynamo_store: Any) -> Any:
    async def setup() -> None:
        for name in ("big", "bigpart"):
            await dynamo_store.drop_collection(name)
        await dynamo_store.collection("big").insert_many(_docs())
        await dynamo_store.create_collection("bigpart", partition_key="part", sort_key="n",
                                             attribute_types={"n": "N"})
        await dynamo_store.collection("bigpart").insert_many(_docs())

    runner.run(setup())
    return dynamo_store


def test_tables_span_several_pages(runner: asyncio.Runner, big: Any) -> None:
    async def first_pages() -> list[int]:
        counts = []
        for name in ("big", "bigpart"):
            page = await big.client.scan(TableName=big.table_name(name))
            assert "LastEvaluatedKey" in page
            counts.append(page["Count"])
        return counts

    for count in runner.run(first_pages()):
        assert count < ITEMS // 4  # a 1 MB page holds well under a quarter of the table


def test_scan_limit_with_selective_filter(runner: asyncio.Runner, big: Any) -> None:
    matching = len(range(0, ITEMS, RARE))
    query = "from big where rare == true select n limit 70"
    assert big.plan(query).operation == "Scan"
    rows = runner.run(big.fetch(query))
    assert len(rows) == 70 and all(r["n"] % RARE == 0 for r in rows)
    assert len({r["n"] for r in rows}) == 70
    assert runner.run(big.count(query)) == 70
    everything = runner.run(big.fetch("from big where rare == true select n"))
    assert sorted(r["n"] for r in everything) == list(range(0, ITEMS, RARE))
    assert runner.run(big.count("from big where rare == true")) == matching
    assert runner.run(big.fetch("from big where rare == true select count() as n")) == \
        [{"n": matching}]
    assert runner.run(big.count("from big")) == ITEMS
    assert runner.run(big.fetch("from big select count() as n")) == [{"n": ITEMS}]


def test_query_limit_in_sort_key_order(runner: asyncio.Runner, big: Any) -> None:
    query = "from bigpart where part == 'p' and rare == true select n order by n desc limit 50"
    plan = big.plan(query)
    assert (plan.operation, plan.request["ScanIndexForward"]) == ("Query", False)
    rows = runner.run(big.fetch(query))
    want = sorted(range(0, ITEMS, RARE), reverse=True)[:50]
    assert [r["n"] for r in rows] == want
    assert runner.run(big.count(query)) == 50
    ranged = "from bigpart where part == 'p' and n >= 100 and n <= 2899 and rare == false"
    expected = sum(1 for i in range(100, 2900) if i % RARE)
    assert runner.run(big.count(ranged)) == expected
    assert runner.run(big.fetch(ranged + " select count() as c")) \
        == [{"c": expected}]
    # no filter: DynamoDB's Limit is the row count, one page is enough
    unfiltered = runner.run(big.fetch("from bigpart where part == 'p' select n limit 3"))
    assert [r["n"] for r in unfiltered] == [0, 1, 2]


def test_stream_stops_early(runner: asyncio.Runner, big: Any) -> None:
    async def first(n: int) -> list[int]:
        out = []
        async for row in big.stream("from bigpart where part == 'p' select n"):
            out.append(row["n"])
            if len(out) == n:
                break
        return out

    assert runner.run(first(5)) == [0, 1, 2, 3, 4]


def _reads(store: Any, monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """(Limit sent, items evaluated) of every Query/Scan the store sends from now on."""
    seen: list[tuple[int, int]] = []
    call = store._call

    async def counting(method: str, **kwargs: Any) -> Any:
        answer = await call(method, **kwargs)
        if method in ("query", "scan"):
            seen.append((kwargs.get("Limit", 0), answer.get("ScannedCount", 0)))
        return answer

    monkeypatch.setattr(store, "_call", counting)
    return seen


@pytest.mark.parametrize(("where", "share"), [("rare == false", 36 / 37),
                                              ("rare == true", 1 / 37),
                                              ("n < 200 or n >= 2990", 210 / ITEMS)])
def test_a_limited_filtered_read_evaluates_about_what_it_needs(
        runner: asyncio.Runner, big: Any, monkeypatch: pytest.MonkeyPatch, where: str,
        share: float) -> None:
    """Issue #15, item 11c: without a `Limit` a filtered `limit 10` read a whole 1 MB
    page (~680 items here) whatever its selectivity. Each page's Limit now grows from
    10 with the share of items that matched."""
    query = f"from big where {where} select n limit 10"
    want = runner.run(big.fetch(f"from big where {where} select n"))
    seen = _reads(big, monkeypatch)
    rows = runner.run(big.fetch(query))
    assert len(rows) == 10 and {r["n"] for r in rows} <= {r["n"] for r in want}
    evaluated = sum(items for _, items in seen)
    needed = 10 / share  # about what a page of exactly the right Limit evaluates
    assert evaluated <= 4 * needed + 20, seen
    assert seen[0][0] == 10 and all(0 < limit <= 2**31 - 1 for limit, _ in seen)
    seen.clear()
    assert runner.run(big.count(query)) == 10
    assert sum(items for _, items in seen) <= 4 * needed + 20, seen


def test_a_limited_write_reads_in_growing_pages_too(
        runner: asyncio.Runner, big: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _reads(big, monkeypatch)
    result = runner.run(big.execute("update big set tag = 1 where rare == false limit 5"))
    assert result.matched == 5
    assert sum(items for _, items in seen) <= 20, seen
    monkeypatch.undo()
    assert runner.run(big.count("from big where tag == 1")) == 5


def test_delete_where_pages_too(runner: asyncio.Runner, big: Any) -> None:
    coll = big.collection("big")
    deleted = runner.run(coll.delete_many("rare == true"))
    assert deleted == len(range(0, ITEMS, RARE))
    assert runner.run(big.count("from big where rare == true")) == 0
    assert runner.run(big.count("from big")) == ITEMS - deleted
    with pytest.raises(crossql.CapabilityError):
        runner.run(coll.delete_many("pad matches 'x'"))

