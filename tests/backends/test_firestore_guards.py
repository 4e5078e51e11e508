"""Firestore on the emulator: every semantic guard, checked by hand-worked answers.

The guard documents use integer ids and one array inside an array; Firestore
ids are strings and Firestore cannot store nested arrays. So ids map to
``"p<i>"`` (in the documents and in the queries' ``_id`` literals: their order is
the same for one-digit ids), and document 5's ``[["vip"]]`` becomes
``[{"v": "vip"}]`` (still an array of one element that is neither "vip" nor
null). Only ``tags contains ["vip"]`` depends on the nested array; its answer
on storable documents is worked out below.

Each case is compiled under both profiles. A case the profile refuses must be
refused with exactly the code listed here; an accepted one must return the
hand-worked ids.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

import crossql
from crossql.backends.firestore.store import FirestoreStore
from tests.backends.conftest import load, same_rows
from tests.backends.firestore_support import NATIVE, PROFILES, emulator_rows
from tests.backends.guard_cases import DOCS, FILTER_CASES, ORDERED_CASES, ROW_CASES

pytestmark = pytest.mark.integration
SCHEMA = {"people": {"required": ["age"]}}  # every guard document has `age`


def sid(i: int) -> str:
    return f"p{i}"


def firestore_text(query: str) -> str:
    """The query with integer ``_id`` literals as the string ids they map to."""
    return re.sub(r'(_id\s*(?:==|!=|<=|>=|<|>)\s*)(\d+)', lambda m: f'{m[1]}"{sid(int(m[2]))}"',
                  query)


def firestore_doc(doc: dict[str, Any]) -> dict[str, Any]:
    out = dict(doc, _id=sid(doc["_id"]))
    if out["_id"] == "p5":
        out["tags"] = [{"v": "vip"}]
    return out


FS_DOCS = [firestore_doc(d) for d in DOCS]

NESTED_ARRAY_ANSWERS = {'tags contains ["vip"]': []}
"""Cases whose hand-worked ids need an array inside an array: their ids on FS_DOCS."""

# refusal code (after `capability.firestore.`) per profile; absent: accepted
NOT_EQUAL = {"default": "not-equal"}
OR = {"default": "or"}
BOTH = {"default": "exists"}
ALWAYS_REFUSED = {"default", "native"}
REFUSED: dict[str, dict[str, str]] = {
    "age != 36": NOT_EQUAL,
    "age != null": NOT_EQUAL,
    'status != "active"': NOT_EQUAL,
    'not (status == "active")': NOT_EQUAL,
    "not exists(status)": dict.fromkeys(ALWAYS_REFUSED, "not-exists"),
    "exists(status)": BOTH,
    "not (age between 20 and 40)": OR,
    "age not in [17, 36]": NOT_EQUAL,
    "status not in [null]": NOT_EQUAL,
    'status in ["active", null]': OR,
    'not (status in ["x", null])': NOT_EQUAL,
    "age not in []": NOT_EQUAL,
    'not (tags contains "vip")': dict.fromkeys(ALWAYS_REFUSED, "not-contains"),
    "tags contains null": dict.fromkeys(ALWAYS_REFUSED, "contains-null"),
    'tags != ["vip"]': NOT_EQUAL,
    'not (tags contains any ["beta"])': dict.fromkeys(ALWAYS_REFUSED, "not-contains"),
    'tags contains all ["vip", "beta"]': dict.fromkeys(ALWAYS_REFUSED, "contains-all"),
    "tags contains all []": dict.fromkeys(ALWAYS_REFUSED, "contains-all"),
    'not (tags contains all ["vip"])': dict.fromkeys(ALWAYS_REFUSED, "not-contains"),
    "size(tags) == 0": dict.fromkeys(ALWAYS_REFUSED, "size"),
    "size(tags) >= 2": dict.fromkeys(ALWAYS_REFUSED, "size"),
    "not (size(tags) >= 2)": dict.fromkeys(ALWAYS_REFUSED, "size"),
    "size(tags) != 1": dict.fromkeys(ALWAYS_REFUSED, "size"),
    "not exists(address.city)": dict.fromkeys(ALWAYS_REFUSED, "not-exists"),
    "exists(address.city)": BOTH,
    "address.city != null": NOT_EQUAL,
    'not (name startswith "A")': OR,
    'name matches "b\\\\*c"': dict.fromkeys(ALWAYS_REFUSED, "matches"),
    'not (name matches "^[A-Z]")': dict.fromkeys(ALWAYS_REFUSED, "matches"),
    'status == "active" or age == null': OR,
    'not (status == "inactive" or age < 20)': NOT_EQUAL,
    # ordered and row cases (keyed by their query text)
    "from people order by name desc, _id limit 3":
        dict.fromkeys(ALWAYS_REFUSED, "order-missing-field"),  # document 5 has no name
    "from people group by status select status, count() as n order by n desc, status":
        dict.fromkeys(ALWAYS_REFUSED, "group-by"),
    "from people select count() as n, count(status) as c, sum(age) as s, min(name) as lo, "
    "max(name) as hi": dict.fromkeys(ALWAYS_REFUSED, "count-field"),
    "from people where age > 100 group by status select status, count() as n":
        dict.fromkeys(ALWAYS_REFUSED, "group-by"),
}


@pytest.fixture(scope="module")
def people(runner: asyncio.Runner, firestore_store: Any) -> Any:
    load(runner, firestore_store, "people", FS_DOCS)
    return firestore_store


def _compile(query: str, profile: str) -> crossql.Plan | str:
    """The plan, or the refusal's short code."""
    try:
        return crossql.compile(query, backend="firestore", options=PROFILES[profile],
                               schema=SCHEMA)
    except crossql.CapabilityError as err:
        assert err.backend == "firestore"
        return err.code.removeprefix("capability.firestore.")


def _rows(runner: asyncio.Runner, store: Any, plan: crossql.Plan) -> list[dict[str, Any]]:
    async def go() -> list[dict[str, Any]]:
        return [row async for row in store.run_plan(plan)]
    return runner.run(go())


def test_the_mapped_documents_keep_the_hand_worked_answers() -> None:
    for condition, ids in FILTER_CASES:
        query = firestore_text(f"from people where {condition}")
        want = NESTED_ARRAY_ANSWERS.get(condition, [sid(i) for i in ids])
        got = [row["_id"] for row in crossql.evaluate(query, FS_DOCS)]
        assert sorted(got) == sorted(want), condition
    assert set(NESTED_ARRAY_ANSWERS) <= {c for c, _ in FILTER_CASES}
    assert set(REFUSED) <= ({c for c, _ in FILTER_CASES}
                            | {q for q, _ in ORDERED_CASES + ROW_CASES})


@pytest.mark.parametrize("profile", list(PROFILES))
@pytest.mark.parametrize(("condition", "ids"), FILTER_CASES)
def test_filter_guard(runner: asyncio.Runner, people: Any, profile: str, condition: str,
                      ids: list[int]) -> None:
    query = firestore_text(f"from people where {condition}")
    plan = _compile(query, profile)
    refused = REFUSED.get(condition, {}).get(profile)
    if refused is not None:
        assert plan == refused
        return
    assert not isinstance(plan, str), f"refused: {plan}"
    want = NESTED_ARRAY_ANSWERS.get(condition, [sid(i) for i in ids])
    got = [row["_id"] for row in _rows(runner, people, plan)]
    assert sorted(got) == sorted(want), plan.to_json()
    assert runner.run(people.count_plan(plan)) == len(want)


@pytest.mark.parametrize("profile", list(PROFILES))
@pytest.mark.parametrize(("query", "ids"), ORDERED_CASES)
def test_order(runner: asyncio.Runner, people: Any, profile: str, query: str,
               ids: list[int]) -> None:
    text = firestore_text(query)
    plan = _compile(text, profile)
    refused = REFUSED.get(query, {}).get(profile)
    if refused is not None:
        assert plan == refused
        return
    assert not isinstance(plan, str), f"refused: {plan}"
    assert [row["_id"] for row in crossql.evaluate(text, FS_DOCS)] == [sid(i) for i in ids]
    assert [row["_id"] for row in _rows(runner, people, plan)] == [sid(i) for i in ids]


@pytest.mark.parametrize("profile", list(PROFILES))
@pytest.mark.parametrize(("query", "rows"), ROW_CASES)
def test_rows(runner: asyncio.Runner, people: Any, profile: str, query: str,
              rows: list[dict[str, Any]]) -> None:
    text = firestore_text(query)
    plan = _compile(text, profile)
    refused = REFUSED.get(query, {}).get(profile)
    if refused is not None:
        assert plan == refused
        return
    assert not isinstance(plan, str), f"refused: {plan}"
    ordered = "order by" in query
    assert same_rows(crossql.evaluate(text, FS_DOCS), rows, ordered=ordered)
    assert same_rows(_rows(runner, people, plan), emulator_rows(plan, rows), ordered=ordered), \
        plan.to_json()
    assert runner.run(people.count_plan(plan)) == len(rows)


def test_stream_yields_rows_one_by_one(runner: asyncio.Runner, people: Any) -> None:
    async def first_two() -> list[Any]:
        out = []
        async for row in people.stream("from people order by _id"):
            out.append(row["_id"])
            if len(out) == 2:
                break
        return out

    assert runner.run(first_two()) == ["p1", "p2"]


def test_prepared_query_binds_per_call(runner: asyncio.Runner, people: Any) -> None:
    prepared = people.prepare("from people where age >= :min")
    assert sorted(r["_id"] for r in runner.run(prepared.fetch(min=30))) == ["p1", "p6"]
    assert sorted(r["_id"] for r in runner.run(prepared.fetch(min=10))) == ["p1", "p3", "p6"]
    assert runner.run(prepared.count(min=10)) == 3


def test_the_store_compiles_with_its_profile(runner: asyncio.Runner, people: Any) -> None:
    with pytest.raises(crossql.CapabilityError, match="`!=`"):
        runner.run(people.fetch("from people where age != 36"))
    native = FirestoreStore(client=people.client, options=NATIVE)
    rows = runner.run(native.fetch("from people where age != 36"))
    assert sorted(r["_id"] for r in rows) == ["p3", "p4", "p5"]
    assert native.plan("from people where age != 36").to_dict()["profile"] == (
        "native_not_equal+native_or")
