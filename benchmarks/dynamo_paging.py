"""DynamoDB ``limit n`` reads with a filter: items read and requests per query against the
minimum (``--runtime``, on DynamoDB Local; needs ``DYNAMODB_ENDPOINT`` and the ``AWS_*``
keys, as ``scripts/servers/with-servers.sh`` exports them).

DynamoDB's ``Limit`` counts the items a page *evaluates*, not the rows that pass the
filter, and a page stops at 1 MB. For each workload, in the same run:

- CrossQL: ``store.fetch(text)``, whose pages' ``Limit`` grows from ``n`` with the
  share of items that matched (``crossql.backends.dynamodb.store.page_limit``);
- full pages: the plan's request without ``Limit``, page after page until ``n`` rows
  (what the runtime did before issue #15, item 11c);
- the minimum: the rows returned, which is what a perfect index would read, in one
  request.

The figures are items evaluated (``ScannedCount`` summed over pages) and requests
per query, and read units (``ConsumedCapacity``) in the note. The ratio of the items
row is items / minimum; of the requests row, requests / the one request of the
minimum. The table holds 4,000 items of about 1 KB (a 1 MB page evaluates about
900 of them).
"""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass
from typing import Any

from benchmarks.runtime import dynamodb_store
from benchmarks.suite import Row, Settings

COLLECTION = "bench_paging"
ITEMS = 4000
PAD = "p" * 1000
ENV = ("DYNAMODB_ENDPOINT", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")

WORKLOADS = {
    "limit 10, 1 in 10 match": f"from {COLLECTION} where grp == 0 limit 10",
    "limit 10, 1 in 100 match": f"from {COLLECTION} where hot == true limit 10",
    "limit 10, 9 in 10 match": f"from {COLLECTION} where grp != 0 limit 10",
    "limit 100, 1 in 10 match": f"from {COLLECTION} where grp == 0 limit 100",
}


def documents() -> list[dict[str, Any]]:
    """``grp`` 0-9, ``hot`` one item in 100, about 1 KB each."""
    return [{"_id": f"i{i:05d}", "grp": i % 10, "hot": i % 100 == 0, "pad": PAD}
            for i in range(ITEMS)]


@dataclass
class Tally:
    """What the reads of one query cost."""

    requests: int = 0
    items: int = 0
    units: float = 0.0
    rows: int = 0

    def add(self, page: dict[str, Any]) -> None:
        self.requests += 1
        self.items += int(page.get("ScannedCount", 0))
        self.units += float((page.get("ConsumedCapacity") or {}).get("CapacityUnits", 0.0))


async def _measure(store: Any, text: str) -> tuple[Tally, Tally]:
    """(CrossQL, full pages) for one query."""
    ours = Tally()
    call = store._call

    async def counted(method: str, **kwargs: Any) -> Any:
        page = await call(method, **kwargs, ReturnConsumedCapacity="TOTAL")
        if method in ("query", "scan"):
            ours.add(page)
        return page

    store._call = counted
    try:
        ours.rows = len(await store.fetch(text))
    finally:
        del store._call  # the class's method again
    plan = store.plan(text)
    full = Tally()
    kwargs = {**plan.request, "ReturnConsumedCapacity": "TOTAL"}
    kwargs.pop("Limit", None)
    while full.rows < (plan.limit or 0):
        page = await getattr(store.client, plan.method)(**kwargs)
        full.add(page)
        full.rows += len(page.get("Items", ()))
        if not page.get("LastEvaluatedKey"):
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return ours, full


async def _rows() -> list[Row]:
    store: Any = dynamodb_store()
    rows: list[Row] = []
    async with store:
        await store.drop_collection(COLLECTION)
        try:
            await store.collection(COLLECTION).insert_many(documents())
            for workload, text in WORKLOADS.items():
                ours, full = await _measure(store, text)
                minimum = max(ours.rows, 1)
                slug = workload.replace(", ", "-").replace(" ", "-")
                rows.append(Row(
                    f"paging.dynamodb.{slug}.items", "paging", workload, "dynamodb",
                    ours.items, "items", ours.items / minimum,
                    f"ratio: items read / rows returned ({ours.rows}, the minimum); "
                    f"{ours.units:g} read units; full 1 MB pages: {full.items} items "
                    f"({full.items / minimum:.1f}x), {full.units:g} read units"))
                rows.append(Row(
                    f"paging.dynamodb.{slug}.requests", "paging", workload, "dynamodb",
                    ours.requests, "requests", float(ours.requests),
                    f"ratio: requests / 1 (the minimum); full 1 MB pages: {full.requests}"))
        finally:
            await store.drop_collection(COLLECTION)
    return rows


def paging_rows(settings: Settings) -> list[Row]:
    """The paging rows, when DynamoDB Local is in the environment (else none, with a
    note on stderr). The counts do not depend on ``settings``: one run of each query."""
    del settings
    if not all(os.environ.get(var) for var in ENV):
        print(f"paging: dynamodb skipped (set {', '.join(ENV)}; see "
              "scripts/servers/README.md)", file=sys.stderr)
        return []
    return asyncio.run(_rows())
