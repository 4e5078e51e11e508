"""Checked by mypy --strict (tests/test_schema.py): rows read with ``model=`` are typed."""

from __future__ import annotations

from collections.abc import AsyncIterator

from pydantic import BaseModel, Field

import crossql


class Order(BaseModel):
    id: str = Field(alias="_id")
    total: float


async def typed(store: crossql.Store) -> float:
    rows: list[Order] = await store.fetch("from orders where total > :t", model=Order, t=1)
    stream: AsyncIterator[Order] = store.stream("from orders", model=Order)
    one: Order | None = await store.collection("orders").get("a", model=Order)
    plain: list[dict[str, object]] = await store.fetch("from orders")
    await store.collection("orders").insert_one(Order(_id="b", total=2.0))
    first = [row async for row in stream]
    return sum(r.total for r in rows) + len(first) + (one.total if one else 0) + len(plain)
