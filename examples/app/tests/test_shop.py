"""The application's behaviour on the embedded store (the reference semantics), seeded
from tests/data/shop.yaml by the plugin's crossql_store fixture: no server needed."""

import asyncio

import pytest
import shop

pytestmark = pytest.mark.crossql_data("data/shop.yaml")


def test_user_name(crossql_store):
    assert asyncio.run(shop.user_name(crossql_store, "u1")) == "Ada"
    assert asyncio.run(shop.user_name(crossql_store, "nobody")) is None


def test_active_adults(crossql_store):
    assert asyncio.run(shop.active_adults(crossql_store)) == ["Ada", "Linus"]
    assert asyncio.run(shop.active_adults(crossql_store, min_age=50)) == ["Linus"]


def test_neighbours(crossql_store):
    assert asyncio.run(shop.neighbours(crossql_store, "London")) == 2


def test_pending_orders_and_shipping(crossql_store):
    assert asyncio.run(shop.pending_orders(crossql_store, "u1")) == ["o1", "o3"]
    assert asyncio.run(shop.ship(crossql_store, "o1")) is True
    assert asyncio.run(shop.ship(crossql_store, "o1")) is False  # not pending any more
    assert asyncio.run(shop.pending_orders(crossql_store, "u1")) == ["o3"]


def test_revenue(crossql_store):
    assert asyncio.run(shop.revenue(crossql_store, ["GB", "FR"])) == 420.5
    assert asyncio.run(shop.revenue(crossql_store, ["US"], at_least=1000)) == 0
