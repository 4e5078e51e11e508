"""Opt-in client-side completion (issue #19, point 3): the plans, their texts, which
refusals the option lifts and which it leaves, the configuration and per-call option,
and the engine's part over given rows (``crossql.runtime.completion``).

The servers' answers are tests/backends/test_client_side_servers.py's."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion

import crossql
from crossql import ir
from crossql.backends.completion import ClientSide, ClientSidePlan, native_query, with_client_side
from crossql.errors import ClientSideLimitError, ConfigError

ON = {"client_side": {"max_rows": 100}}
BACKENDS = ("dynamodb", "firestore")

REVENUE = ("from orders group by country select country, sum(total) as revenue "
           "order by revenue desc")
TOP_AGES = "from users order by age desc limit 5"

LIFTED = [
    (REVENUE, "group by country, select country, sum(total) as revenue, order by revenue desc"),
    (TOP_AGES, "order by age desc, limit 5"),
    ("from users where age > 3 select min(age) as m", "select min(age) as m"),
    ('from users where status == "a" order by name limit 2 offset 1',
     "order by name, limit 2, offset 1"),
]
"""Queries both backends refuse only for what they cannot order, group or aggregate, and
what runs client-side with the option."""

ORDERS = [
    {"_id": "o1", "country": "FR", "total": 10},
    {"_id": "o2", "country": "DE", "total": 5},
    {"_id": "o3", "country": "FR", "total": 7},
    {"_id": "o4", "total": 1},
    {"_id": "o5", "country": "IT", "total": 30},
]


def _refusal(text: str, backend: str, options: Any = None) -> crossql.CapabilityError:
    with pytest.raises(crossql.CapabilityError) as info:
        crossql.compile(text, backend=backend, options=options)
    return info.value


# -- which refusals the option lifts ------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("text", "steps"), LIFTED, ids=[t for t, _ in LIFTED])
def test_a_refusal_for_order_group_or_aggregate_becomes_a_client_side_plan(
        backend: str, text: str, steps: str) -> None:
    _refusal(text, backend)  # refused without the option
    plan = crossql.compile(text, backend=backend, options=ON)
    assert isinstance(plan, ClientSidePlan)
    assert plan.backend == backend
    assert plan.steps == steps
    assert plan.max_rows == 100
    assert f"client-side: {steps}" in plan.explain().splitlines()
    assert plan.summary().endswith(f"; client-side: {steps}")
    assert plan.to_dict()["client_side"] == {"steps": steps, "max_rows": 100}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("text", "steps"), LIFTED, ids=[t for t, _ in LIFTED])
def test_the_native_part_is_the_where_alone_as_the_backend_compiles_it(
        backend: str, text: str, steps: str) -> None:
    """The filter is pushed down exactly as the backend compiles the ``where`` by itself:
    no order, no limit (the limit applies after the client-side order), whole documents."""
    plan = crossql.compile(text, backend=backend, options=ON)
    assert isinstance(plan, ClientSidePlan)
    query = crossql.parse(text)
    assert isinstance(query, ir.Query)
    alone = crossql.compile(native_query(query), backend=backend, options=ON)
    assert plan.native == alone
    assert "limit" not in plan.native.to_dict() and "Limit" not in plan.native.to_json()
    assert plan.completion.where is None


@pytest.mark.parametrize(("backend", "text", "code"), [
    ("dynamodb", 'from users where name matches "^a" order by age', "capability.dynamodb.matches"),
    ("dynamodb", "from users offset 3", "capability.dynamodb.offset"),
    ("dynamodb", "from users where _id == \"a\" offset 1", "capability.dynamodb.offset"),
    ("firestore", "from users where age != 3 group by age select age",
     "capability.firestore.not-equal"),
    ("firestore", 'from users where name matches "^a" order by age',
     "capability.firestore.matches"),
    ("firestore", "from users where age > 1 limit 2147483648", "capability.firestore.limit-range"),
])
def test_every_other_refusal_stays_as_it_is(backend: str, text: str, code: str) -> None:
    """A ``where`` the backend cannot filter, or an offset/limit with nothing else to
    complete, stays refused with the option on: the same error as without it."""
    plain = _refusal(text, backend, {"client_side": None})
    with_option = _refusal(text, backend, ON)
    assert with_option.code == code
    if plain.code == code:
        assert with_option.render() == plain.render()


def test_a_scan_refused_by_allow_scan_stays_refused() -> None:
    err = _refusal(TOP_AGES, "dynamodb", {**ON, "allow_scan": False})
    assert err.code == "capability.dynamodb.scan"


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("text", [TOP_AGES, REVENUE, "from users order by age offset 3",
                                  'from users where name matches "x"'])
def test_without_the_option_every_refusal_is_unchanged(backend: str, text: str) -> None:
    """``client_side: None`` (the default) and no options give the same error, byte for
    byte."""
    try:
        crossql.compile(text, backend=backend)
    except crossql.CapabilityError as err:
        assert _refusal(text, backend, {"client_side": None}).render() == err.render()
        assert _refusal(text, backend, {}).to_dict() == err.to_dict()


def test_an_offset_rides_along_an_order_dynamodb_cannot_give() -> None:
    plan = crossql.compile("from users order by age offset 3", backend="dynamodb", options=ON)
    assert isinstance(plan, ClientSidePlan)
    assert plan.steps == "order by age, offset 3"


def test_a_limit_past_firestore_range_rides_along_an_order_it_cannot_give() -> None:
    plan = crossql.compile("from users order by age limit 2147483648", backend="firestore",
                           options=ON)
    assert isinstance(plan, ClientSidePlan)
    assert plan.steps == "order by age, limit 2147483648"


@pytest.mark.parametrize("text", [
    "from users where age > 1 order by age",  # present by the condition: native
    "from users select count() as n",
])
def test_what_firestore_answers_natively_stays_native(text: str) -> None:
    assert not isinstance(crossql.compile(text, backend="firestore", options=ON),
                          ClientSidePlan)


def test_what_dynamodb_answers_natively_stays_native() -> None:
    schema = {"users": {"partition_key": "g", "sort_key": "age"}}
    plan = crossql.compile('from users where g == "a" order by age desc limit 5',
                           backend="dynamodb", schema=schema, options=ON)
    assert not isinstance(plan, ClientSidePlan)
    plan = crossql.compile('from users where g == "a" order by name limit 5',
                           backend="dynamodb", schema=schema, options=ON)
    assert isinstance(plan, ClientSidePlan)
    assert plan.native.to_dict()["operation"] == "Query"  # the key still pinned natively


# -- the texts ----------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("text", [REVENUE, TOP_AGES])
def test_the_plan_texts(backend: str, text: str, snapshot: SnapshotAssertion) -> None:
    plan = crossql.compile(text, backend=backend, options=ON)
    assert "\n\n".join([plan.explain(), plan.to_json(), plan.to_python()]) == snapshot


def test_check_says_what_runs_client_side() -> None:
    verdicts = {v.backend: v for v in crossql.check(
        TOP_AGES, options={"dynamodb": ON, "firestore": ON})}
    for backend in BACKENDS:
        plan = verdicts[backend].plan
        assert plan is not None
        assert plan.summary().endswith("; client-side: order by age desc, limit 5")


# -- the engine's part --------------------------------------------------------------------


def _complete(query: str, docs: Any, max_rows: int) -> list[dict[str, Any]]:
    from crossql.runtime.completion import complete

    parsed = crossql.parse(query)
    assert isinstance(parsed, ir.Query)
    return asyncio.run(complete(parsed, docs, max_rows=max_rows, backend="dynamodb"))


async def _async_rows(docs: list[dict[str, Any]]) -> AsyncIterator[dict[str, Any]]:
    for doc in docs:
        yield doc


def test_completion_gives_the_reference_rows() -> None:
    want = crossql.evaluate(REVENUE, ORDERS)
    assert _complete(REVENUE, ORDERS, 5) == want
    assert _complete(REVENUE, _async_rows(ORDERS), 5) == want
    assert want[0] == {"country": "IT", "revenue": 30}


def test_completion_does_not_evaluate_the_where_again() -> None:
    """The backend filtered the rows: the ``where`` is the native part's."""
    rows = _complete("from orders where total > 100 select _id", ORDERS[:2], 5)
    assert rows == [{"_id": "o1"}, {"_id": "o2"}]


@pytest.mark.parametrize("rows", [list, _async_rows])
def test_one_row_past_max_rows_fails_naming_the_option(rows: Any) -> None:
    with pytest.raises(ClientSideLimitError) as info:
        _complete(TOP_AGES, rows(ORDERS), 4)
    err = info.value
    assert isinstance(err, crossql.BackendError)
    assert err.max_rows == 4
    assert "client_side.max_rows" in str(err) and "more than 4 rows" in str(err)
    assert "order by age desc, limit 5" in str(err)


def test_client_side_limit_errors_pickle() -> None:
    import pickle

    err = ClientSideLimitError("firestore", 3, "order by a")
    again = pickle.loads(pickle.dumps(err))
    assert str(again) == str(err) and again.max_rows == 3


# -- configuration and the per-call option ------------------------------------------------


def test_the_dynamodb_block_turns_it_on() -> None:
    store = crossql.connect({"driver": "dynamodb", "dynamodb": {
        "client_side": {"max_rows": 7}}})
    plan = store.plan(TOP_AGES)
    assert isinstance(plan, ClientSidePlan) and plan.max_rows == 7


def test_the_firestore_block_turns_it_on() -> None:
    store = crossql.connect({"driver": "firestore", "firestore": {
        "project_id": "p", "client_side": {"max_rows": 7}, "options": {"native_or": True}}})
    plan = store.plan(TOP_AGES)
    assert isinstance(plan, ClientSidePlan) and plan.max_rows == 7
    assert plan.native.to_dict()["profile"] == "native_or"


def test_client_side_given_twice_in_the_firestore_block_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="give client_side once"):
        crossql.connect({"driver": "firestore", "firestore": {
            "project_id": "p", "client_side": {}, "options": {"client_side": {}}}})


@pytest.mark.parametrize("bad", [{"max_rows": 0}, {"max_row": 3}, 5])
def test_a_bad_client_side_is_a_config_error(bad: Any) -> None:
    with pytest.raises(ConfigError):
        crossql.connect({"driver": "dynamodb", "dynamodb": {"client_side": bad}})
    store = crossql.connect({"driver": "dynamodb", "dynamodb": {}})
    with pytest.raises(ConfigError) as info:
        store.plan(TOP_AGES, client_side=bad)
    assert info.value.problems[0][0].startswith("client_side")


@pytest.mark.parametrize("driver", BACKENDS)
def test_a_call_turns_it_on_or_off_over_the_configuration(driver: str) -> None:
    block: dict[str, Any] = {"project_id": "p"} if driver == "firestore" else {}
    store = crossql.connect({"driver": driver, driver: block})
    with pytest.raises(crossql.CapabilityError):
        store.plan(TOP_AGES)
    plan = store.plan(TOP_AGES, client_side={"max_rows": 3})
    assert isinstance(plan, ClientSidePlan) and plan.max_rows == 3
    assert store.plan(TOP_AGES, client_side=ClientSide(max_rows=3)) is plan  # cached
    assert isinstance(store.plan(TOP_AGES, client_side={"max_rows": 4}), ClientSidePlan)
    with pytest.raises(crossql.CapabilityError):
        store.plan(TOP_AGES)  # the store's own options are untouched
    on = crossql.connect({"driver": driver, driver: {**block, "client_side": {}}})
    assert isinstance(on.plan(TOP_AGES), ClientSidePlan)
    with pytest.raises(crossql.CapabilityError):
        on.plan(TOP_AGES, client_side=None)


def test_a_call_on_the_memory_backend_ignores_it() -> None:
    store = crossql.connect({"driver": "memory"})

    async def run() -> list[dict[str, Any]]:
        async with store:
            await store.collection("orders").insert_many(ORDERS)
            return await store.fetch(REVENUE, client_side={"max_rows": 1})

    assert asyncio.run(run()) == crossql.evaluate(REVENUE, ORDERS)


def test_with_client_side_leaves_options_without_it_alone() -> None:
    assert with_client_side(None, {"max_rows": 3}) is None
    from crossql.backends.dynamodb.schema import DynamoOptions

    opts = DynamoOptions(client_side=ClientSide(max_rows=3))
    assert with_client_side(opts, {"max_rows": 3}) is opts
    assert with_client_side(opts, None).client_side is None


def test_the_log_names_the_native_read_and_the_client_side_part() -> None:
    from crossql.runtime.observe import describe

    plan = crossql.compile(TOP_AGES, backend="dynamodb", options=ON)
    assert describe(plan) == ("users", "Scan + client-side", None)
    plan = crossql.compile(REVENUE, backend="firestore", options=ON)
    assert describe(plan) == ("orders", "query + client-side", None)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_prepared_query_fills_the_same_plans_as_a_compile(backend: str) -> None:
    """Plan templates (compiler/templates.py) over a client-side plan: every fill is the
    plan a full compile gives for those values."""
    from crossql.runtime.prepared import PreparedQuery

    text = "from users where age >= :min and name startswith :p order by score desc limit :n"
    prepared = PreparedQuery(text, backend, options=ON)
    for i in range(8):
        params = {"min": 10 + i, "p": f"a{i}", "n": 1 + i % 3}
        plan = prepared.plan(params)
        assert isinstance(plan, ClientSidePlan)
        assert plan == crossql.compile(text, backend=backend, params=params, options=ON)
        assert plan.steps == f"order by score desc, limit {1 + i % 3}"
