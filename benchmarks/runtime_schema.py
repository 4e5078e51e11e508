"""The MongoDB runtime row of a point lookup with a declared schema (issue #17).

A second store on the same database declares ``bench_users`` (a pydantic model of the
benchmark's documents, every field required): its plan for ``where _id == "u0042"``
is the filter a person writes, and its ``fetch`` runs against the hand-written
``find({_id: "u0042"})`` (row ``runtime.mongodb.declared-point-lookup``; the runtime
rows' target, store.fetch <= 1.05 x the driver, applies).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from benchmarks.runtime import COLLECTION, Case


def _model() -> Any:
    from pydantic import BaseModel, Field

    class Address(BaseModel):
        city: str
        zip: str

    class User(BaseModel):
        id: str = Field(alias="_id")
        name: str
        age: int
        grp: int
        status: str
        tags: list[str]
        address: Address

    return User


@asynccontextmanager
async def mongodb_schema_cases(uri: str, coll: Any) -> AsyncIterator[list[Case]]:
    """The declared point lookup, through a store with the schema and by hand."""
    import crossql

    store: Any = crossql.connect({"driver": "mongodb",
                                  "mongodb": {"uri": uri, "database": "crossql_bench"}},
                                 schema={COLLECTION: _model()})
    text = f'from {COLLECTION} where _id == "u0042"'
    async with store:
        assert store.plan(text).arguments()["filter"] == {"_id": "u0042"}

        async def ours() -> list[Any]:
            rows: list[Any] = await store.fetch(text)
            return rows

        async def raw() -> list[Any]:
            rows: list[Any] = await coll.find({"_id": "u0042"}).to_list()
            return rows

        yield [Case("declared point lookup", ours, raw, len(await ours()))]
