"""Smoke test for the Firestore emulator.

Usage: FIRESTORE_EMULATOR_HOST=127.0.0.1:8080 python firestore_smoke.py
With google-cloud-firestore's AsyncClient: adds documents, runs a query
with FieldFilter, an Or filter, a != filter and a count aggregation, then
deletes the documents it wrote.
"""

import asyncio
import os
import sys
import uuid

from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter, Or

PROJECT = os.environ.get("FIRESTORE_PROJECT", "crossql-test")


async def checks() -> None:
    if not os.environ.get("FIRESTORE_EMULATOR_HOST"):
        raise SystemExit("FIRESTORE_EMULATOR_HOST is not set: refusing to talk to real Firestore")
    db = firestore.AsyncClient(project=PROJECT)
    col = db.collection(f"crossql_smoke_{uuid.uuid4().hex[:8]}")
    for i in range(6):
        await col.document(f"d{i}").set({"n": i, "tag": "even" if i % 2 == 0 else "odd"})
    _, ref = await col.add({"n": 100, "tag": "added"})
    print(f"set + add: ok (auto id {ref.id})")

    q = col.where(filter=FieldFilter("tag", "==", "odd")).where(filter=FieldFilter("n", ">", 1))
    ids = sorted([d.id async for d in q.stream()])
    assert ids == ["d3", "d5"], ids
    print(f"FieldFilter query: ok {ids}")

    q = col.where(filter=Or([FieldFilter("n", "==", 0), FieldFilter("n", "==", 5)]))
    ids = sorted([d.id async for d in q.stream()])
    assert ids == ["d0", "d5"], ids
    print(f"Or query: ok {ids}")

    q = col.where(filter=FieldFilter("tag", "!=", "even"))
    ids = sorted([d.id async for d in q.stream()])
    assert ids == sorted(["d1", "d3", "d5", ref.id]), ids
    print(f"!= query: ok {ids}")

    result = await col.where(filter=FieldFilter("tag", "==", "even")).count(alias="total").get()
    total = result[0][0].value
    assert total == 3, total
    print(f"count aggregation: ok {total}")

    async for doc in col.stream():
        await doc.reference.delete()


def main() -> int:
    host = os.environ.get("FIRESTORE_EMULATOR_HOST")
    print(f"google-cloud-firestore {firestore.__version__} -> {host} project {PROJECT}")
    asyncio.run(checks())
    print("firestore smoke test: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
