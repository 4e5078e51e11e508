"""DynamoDB cursor pages (issue 18): requests and items read per page against the
minimum (``--runtime``, on DynamoDB Local; needs ``DYNAMODB_ENDPOINT`` and the
``AWS_*`` keys, as ``scripts/servers/with-servers.sh`` exports them).

Each workload walks ``PAGES`` pages of ``SIZE`` rows with ``store.page`` (each page
resumes with ``ExclusiveStartKey`` at the last row served, and reads one row more than
it serves, to know whether a next page exists). The figures are per page: requests,
and items evaluated (``ScannedCount`` summed). The minimum is one request and ``SIZE``
items per page (a perfect index reading only the rows served): the ratio is the figure
over it. The table holds 2,000 items of about 1 KB, with a GSI ``(g, v)``.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

from benchmarks.runtime import dynamodb_store
from benchmarks.suite import Row, Settings

COLLECTION = "bench_pages"
ITEMS = 2000
SIZE = 20
PAGES = 10
PAD = "p" * 1000
ENV = ("DYNAMODB_ENDPOINT", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")

WORKLOADS = {
    "gsi query, every item matches": (
        f"from {COLLECTION} where g == 'p' and v >= 0 order by v", "Query", 1),
    "gsi query, 1 in 10 match": (
        f"from {COLLECTION} where g == 'p' and v >= 0 and grp == 0 order by v", "Query", 10),
    "scan, 1 in 10 match": (f"from {COLLECTION} where grp == 0", "Scan", 10),
}
"""text, the operation each page must stay, items per matching row (a filter's floor)."""


def documents() -> list[dict[str, Any]]:
    """``g`` one partition, ``v`` the GSI sort key (ties: 1 in 4 share a value),
    ``grp`` 0-9; about 1 KB each."""
    return [{"_id": f"i{i:05d}", "g": "p", "v": i // 4 if i % 4 == 0 else i,
             "grp": i % 10, "pad": PAD} for i in range(ITEMS)]


async def _walk(store: Any, text: str) -> tuple[int, int, int, set[str]]:
    """(pages, requests, items evaluated, operations) of ``PAGES`` pages of ``text``."""
    requests = items = 0
    operations: set[str] = set()
    call = store._call

    async def counted(method: str, **kwargs: Any) -> Any:
        nonlocal requests, items
        page = await call(method, **kwargs)
        if method in ("query", "scan"):
            requests += 1
            items += int(page.get("ScannedCount", 0))
            operations.add(method)
        return page

    store._call = counted
    pages = 0
    try:
        cursor = None
        for _ in range(PAGES):
            page = await store.page(text, size=SIZE, after=cursor)
            pages += 1
            cursor = page.next_cursor
            if cursor is None:
                break
    finally:
        del store._call  # the class's method again
    return pages, requests, items, operations


async def _rows() -> list[Row]:
    store: Any = dynamodb_store()
    rows: list[Row] = []
    async with store:
        await store.drop_collection(COLLECTION)
        try:
            await store.create_collection(
                COLLECTION, indexes=[{"name": "by_g_v", "partition_key": "g", "sort_key": "v"}],
                attribute_types={"_id": "S", "g": "S", "v": "N"})
            await store.collection(COLLECTION).insert_many(documents())
            for workload, (text, operation, per_row) in WORKLOADS.items():
                pages, requests, items, operations = await _walk(store, text)
                assert operations == {operation.lower()}, (workload, operations)
                slug = workload.replace(", ", "-").replace(" ", "-")
                rows.append(Row(
                    f"pages.dynamodb.{slug}.items", "pages", workload, "dynamodb",
                    items / pages, "items/page", items / pages / SIZE,
                    f"ratio: items read per page / {SIZE} rows served (the minimum); "
                    f"{pages} pages of {SIZE}, each a {operation}; the filter's floor: "
                    f"{(SIZE + 1) * per_row} items (rows + the look-ahead row, times "
                    f"{per_row} items per match)"))
                rows.append(Row(
                    f"pages.dynamodb.{slug}.requests", "pages", workload, "dynamodb",
                    requests / pages, "requests/page", requests / pages,
                    "ratio: requests per page / 1 (the minimum)"))
        finally:
            await store.drop_collection(COLLECTION)
    return rows


def page_cursor_rows(settings: Settings) -> list[Row]:
    """The cursor-page rows, when DynamoDB Local is in the environment (else none, with
    a note on stderr). The counts do not depend on ``settings``."""
    del settings
    if not all(os.environ.get(var) for var in ENV):
        print(f"pages: dynamodb skipped (set {', '.join(ENV)}; see "
              "scripts/servers/README.md)", file=sys.stderr)
        return []
    return asyncio.run(_rows())
