"""A small shop on CrossQL: its queries live in queries.crossql, beside this file, and
run here on the embedded store (the same calls run on MongoDB, DynamoDB or Firestore
with ``crossql.connect("crossql.yaml")``).

    python examples/app/shop.py      # runs each call on examples/shop.json's documents
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import crossql
from crossql.backends.memory.store import MemoryStore

QUERIES = crossql.load_queries(Path(__file__).with_name("queries.crossql"))
"""Parsed and checked on import: a broken query fails here, located in the file."""


async def user_name(store: crossql.Store, user_id: str) -> str | None:
    """The name of a user, or None when there is no such user."""
    rows = await QUERIES.user_by_id.fetch(store, id=user_id)
    return rows[0]["name"] if rows else None


async def active_adults(store: crossql.Store, min_age: int = 18) -> list[str]:
    """The names of the active users of at least ``min_age``, sorted."""
    return sorted(row["name"] for row in await QUERIES.active_adults.fetch(store, min=min_age))


async def neighbours(store: crossql.Store, city: str) -> int:
    """How many users live in ``city``."""
    return await QUERIES.users_in_city.count(store, city=city)


async def pending_orders(store: crossql.Store, user_id: str) -> list[str]:
    """The ids of a user's pending orders."""
    rows = QUERIES.orders_of_user.stream(store, user=user_id, status="pending")
    return sorted([row["_id"] async for row in rows])


async def revenue(store: crossql.Store, countries: list[str], at_least: float = 100) -> float:
    """The total of the orders of at least ``at_least`` from ``countries``."""
    rows = await QUERIES.large_orders.fetch(store, total=at_least, countries=countries)
    return sum(row["total"] for row in rows)


async def ship(store: crossql.Store, order_id: str) -> bool:
    """Mark a pending order shipped; False when it was not pending (or not there)."""
    result = await QUERIES.ship_order.execute(store, id=order_id)
    return result.modified == 1


async def main() -> None:
    data: dict[str, Any] = json.loads(
        Path(__file__).parent.parent.joinpath("shop.json").read_text("utf-8"))
    store = MemoryStore()
    for name, docs in data.items():
        await store.collection(name).insert_many(docs)
    print("u01 is", await user_name(store, "u01"))
    print("active adults:", ", ".join(await active_adults(store)))
    print("users in London:", await neighbours(store, "London"))
    print("pending orders of u09:", await pending_orders(store, "u09"))
    print("revenue GB+FR (orders >= 100):", await revenue(store, ["GB", "FR"]))
    print("ship o001:", await ship(store, "o001"), "then again:", await ship(store, "o001"))


if __name__ == "__main__":
    asyncio.run(main())
