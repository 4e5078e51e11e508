"""Client-side completion on the servers (issue #19, point 3): with ``client_side`` on,
DynamoDB Local and the Firestore emulator give the reference's answer to queries they
refuse without it, read no more than the ``where`` lets through, and fail clearly past
``max_rows``."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import crossql
from crossql.backends.completion import ClientSidePlan
from crossql.errors import ClientSideLimitError
from tests.backends.conftest import STORE_FIXTURES, canonical, load

pytestmark = pytest.mark.integration

BACKENDS = ("dynamodb", "firestore")

REVENUE = ("from orders group by country select country, sum(total) as revenue "
           "order by revenue desc")
TOP_AGES = "from users order by age desc limit 5"

ORDERS = [
    {"_id": "o1", "country": "FR", "total": 10},
    {"_id": "o2", "country": "DE", "total": 5},
    {"_id": "o3", "country": "FR", "total": 7.5},
    {"_id": "o4", "total": 1},
    {"_id": "o5", "country": "IT", "total": 30},
    {"_id": "o6", "country": "DE", "total": 2},
    {"_id": "o7", "country": None, "total": 4},
]
USERS = [
    {"_id": f"u{i:02}", "name": f"user {i}", "age": age}
    for i, age in enumerate([31, 17, 45, 23, 62, 38, 19, 54, 27, 70, 41])
] + [{"_id": "u98", "name": "no age"}, {"_id": "u99", "name": "null age", "age": None}]

ON = {"max_rows": 100}


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, runner: asyncio.Runner) -> Any:
    store = request.getfixturevalue(STORE_FIXTURES[request.param])
    load(runner, store, "orders", ORDERS)
    load(runner, store, "users", USERS)
    return store


def _same(got: list[dict[str, Any]], want: list[dict[str, Any]]) -> bool:
    return [canonical(r) for r in got] == [canonical(r) for r in want]


@pytest.mark.parametrize("text", [REVENUE, TOP_AGES])
def test_refused_without_the_option_and_the_reference_answer_with_it(
        runner: asyncio.Runner, store: Any, text: str) -> None:
    docs = ORDERS if "orders" in text else USERS
    want = crossql.evaluate(text, docs)
    with pytest.raises(crossql.CapabilityError):
        store.plan(text)
    assert isinstance(store.plan(text, client_side=ON), ClientSidePlan)
    got = runner.run(store.fetch(text, client_side=ON))
    assert _same(got, want), (got, want)
    assert runner.run(store.count(text, client_side=ON)) == len(want)

    async def streamed() -> list[dict[str, Any]]:
        return [row async for row in store.stream(text, client_side=ON)]

    assert _same(runner.run(streamed()), want)


def test_the_answers_the_issue_names(runner: asyncio.Runner, store: Any) -> None:
    revenue = runner.run(store.fetch(REVENUE, client_side=ON))
    assert [r["country"] for r in revenue] == ["IT", "FR", "DE", None]
    assert [float(r["revenue"]) for r in revenue] == [30.0, 17.5, 7.0, 5.0]
    ages = runner.run(store.fetch(TOP_AGES, client_side=ON))
    assert [r["age"] for r in ages] == [70, 62, 54, 45, 41]


def test_the_where_is_filtered_by_the_backend(runner: asyncio.Runner, store: Any) -> None:
    """Five users are over 40: ``max_rows: 5`` is enough, so the backend sent no more."""
    text = "from users where age > 40 select name order by name limit 3"
    want = crossql.evaluate(text, USERS)
    got = runner.run(store.fetch(text, client_side={"max_rows": 5}))
    assert _same(got, want)
    with pytest.raises(ClientSideLimitError):
        runner.run(store.fetch(text, client_side={"max_rows": 4}))


def test_past_max_rows_the_call_fails_naming_the_option(runner: asyncio.Runner,
                                                         store: Any) -> None:
    limit = {"max_rows": len(ORDERS) - 1}
    for call in (store.fetch, store.count):
        with pytest.raises(ClientSideLimitError) as info:
            runner.run(call(REVENUE, client_side=limit))
        err = info.value
        assert isinstance(err, crossql.BackendError) and err.backend == store.driver
        assert f"more than {len(ORDERS) - 1} rows" in str(err)
        assert f"`client_side.max_rows` option of the {store.driver} backend" in str(err)
    exact = runner.run(store.fetch(REVENUE, client_side={"max_rows": len(ORDERS)}))
    assert _same(exact, crossql.evaluate(REVENUE, ORDERS))


def test_a_prepared_query_and_parameters(runner: asyncio.Runner, store: Any) -> None:
    text = "from users where age >= :min order by age desc limit :n"
    params = {"min": 30, "n": 2}
    got = runner.run(store.fetch(text, client_side=ON, **params))
    assert _same(got, crossql.evaluate(text, USERS, params))


def test_a_store_configured_with_it(runner: asyncio.Runner, dynamodb_endpoint: str,
                                    dynamo_store: Any) -> None:
    from tests.backends.dynamo_support import store_config

    load(runner, dynamo_store, "orders", ORDERS)
    configured = crossql.connect(store_config(
        dynamodb_endpoint, table_prefix=dynamo_store.options.table_prefix,
        client_side={"max_rows": 50}))

    async def run() -> list[dict[str, Any]]:
        async with configured:
            return await configured.fetch(REVENUE)

    assert _same(runner.run(run()), crossql.evaluate(REVENUE, ORDERS))


def test_inside_a_dynamodb_transaction(runner: asyncio.Runner, dynamo_store: Any) -> None:
    load(runner, dynamo_store, "users", USERS)

    async def run() -> tuple[list[dict[str, Any]], int]:
        async with dynamo_store.transaction() as tx:
            rows = await tx.fetch(TOP_AGES, client_side=ON)
            return rows, await tx.count(TOP_AGES, client_side=ON)

    rows, count = runner.run(run())
    assert _same(rows, crossql.evaluate(TOP_AGES, USERS)) and count == 5


def _configured(store: Any, dynamodb_endpoint: str | None) -> Any:
    """A store on the same data as ``store`` with ``client_side`` in its configuration."""
    if store.driver == "dynamodb":
        from tests.backends.dynamo_support import store_config

        assert dynamodb_endpoint is not None
        return crossql.connect(store_config(
            dynamodb_endpoint, table_prefix=store.options.table_prefix,
            client_side={"max_rows": 50}))
    config = store._config
    return crossql.connect({"driver": "firestore", "firestore": {
        "project_id": config.project_id, "emulator_host": config.emulator_host,
        "client_side": {"max_rows": 50}}})


def test_pages_are_never_completed_client_side(runner: asyncio.Runner, store: Any,
                                               request: pytest.FixtureRequest) -> None:
    """A page resumes where the backend stopped, so a page of a query the backend
    cannot order is refused as without the option (and a native one pages as always)."""
    endpoint = request.getfixturevalue("dynamodb_endpoint") if store.driver == "dynamodb" \
        else None
    configured = _configured(store, endpoint)

    async def run() -> tuple[list[dict[str, Any]], Any]:
        async with configured:
            rows = await configured.fetch("from users order by age desc limit 3")
            with pytest.raises(crossql.CapabilityError) as info:
                await configured.page("from users order by age desc", size=2)
            page = await configured.page('from users where name in ["user 4", "user 9"]', size=5)
            return rows, (info.value, page)

    rows, (err, page) = runner.run(run())
    assert [r["age"] for r in rows] == [70, 62, 54]
    assert err.construct == "order by"
    with pytest.raises(crossql.CapabilityError) as plain:
        runner.run(store.page("from users order by age desc", size=2))
    assert plain.value.render() == err.render()
    assert sorted(r["age"] for r in page.rows) == [62, 70]
