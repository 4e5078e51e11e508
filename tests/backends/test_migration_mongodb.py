"""docs/migration.md on a MongoDB server: the filter rows it lists are what MongoDB returns
for each filter dict, and the CrossQL rows what the MongoDB store returns for its text.

(tests/test_docs.py checks the same table without a server, against the reference
evaluator and a model of MongoDB's filter semantics; this keeps that model honest.)
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.test_docs import PAIRS, PEOPLE, Pair

COLLECTION = f"people_{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def people(runner: asyncio.Runner, mongo_store: Any) -> Iterator[Any]:
    """The migration page's sample documents in a collection of their own."""
    runner.run(mongo_store.collection(COLLECTION).insert_many(PEOPLE))
    yield mongo_store
    runner.run(mongo_store.drop_collection(COLLECTION))


@pytest.mark.parametrize("pair", PAIRS, ids=[f"migration.md:{p.line}" for p in PAIRS])
def test_a_migration_pair_on_mongodb(pair: Pair, runner: asyncio.Runner, people: Any) -> None:
    async def native() -> list[Any]:
        cursor = people.database[COLLECTION].find(pair.filter, {"_id": 1}).sort("_id", 1)
        return [doc["_id"] async for doc in cursor]

    assert runner.run(native()) == pair.filter_rows
    rows = runner.run(people.fetch(f"from {COLLECTION} where {pair.condition} "
                                   "select _id order by _id"))
    assert [row["_id"] for row in rows] == pair.rows
