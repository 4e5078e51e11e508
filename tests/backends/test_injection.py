"""Injection on real servers: nothing a caller passes changes which documents a query
selects beyond its value — on memory, MongoDB, DynamoDB and Firestore (both profiles).

Each backend stores documents that hold the hostile values themselves (so equality is
tested where it must match, not only where it must not) and fields with hostile names.
Every query runs with every hostile value: its rows must equal the reference evaluator's
on the documents that backend stored, or the value is refused with a ``QueryError``
(``QuerySemanticError`` when it is no CrossQL value, ``CapabilityError`` where a backend
cannot take it, e.g. a number DynamoDB cannot hold). The security test: a ``!=`` on a
missing or null field never grants access.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

import crossql
from tests.backends.conftest import STORE_FIXTURES, reset_firestore, same_rows
from tests.backends.differential import STATS
from tests.hostile import (
    FIELD_NAMES,
    HOSTILE_ACCEPTED,
    HOSTILE_REFUSED,
    HOSTILE_STRINGS,
    backticked,
)

pytestmark = pytest.mark.integration

STORES = ["memory", "mongodb", "dynamodb", "firestore", "firestore-native"]
FIXTURE = {**STORE_FIXTURES, "firestore-native": "firestore_native_store"}


@pytest.fixture(scope="module")
def firestore_native_store(runner: asyncio.Runner, firestore_host: str) -> Iterator[Any]:
    """A Firestore store with native `!=`/`not-in` and `or` on a project of its own."""
    project = f"crossql-inj-{uuid.uuid4().hex[:8]}"
    store = crossql.connect({"driver": "firestore", "firestore": {
        "project_id": project, "emulator_host": firestore_host,
        "options": {"native_not_equal": True, "native_or": True}}})
    runner.run(store.open())
    yield store
    reset_firestore(firestore_host, project)
    runner.run(store.close())


@pytest.fixture(scope="module")
def memory_store(runner: asyncio.Runner) -> Iterator[Any]:
    store = crossql.connect({"driver": "memory"})
    runner.run(store.open())
    yield store
    runner.run(store.close())


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest) -> Any:
    if request.param == "memory":
        return request.getfixturevalue("memory_store")
    return request.getfixturevalue(FIXTURE[request.param])


async def _store_each(store: Any, collection: str, docs: list[dict[str, Any]]
                      ) -> list[dict[str, Any]]:
    """Insert the documents one by one; return those the backend could store (a backend
    refuses some: DynamoDB numbers past 1e125, Firestore arrays in arrays, ...)."""
    await store.drop_collection(collection)
    stored = []
    for doc in docs:
        try:
            await store.collection(collection).insert_one(doc)
        except (crossql.BackendError, TypeError, ValueError):
            continue
        stored.append(doc)
    return stored


def _documents() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for i, value in enumerate(HOSTILE_ACCEPTED):
        doc: dict[str, Any] = {"_id": f"v{i}", "name": value, "kind": type(value).__name__}
        if not isinstance(value, list):
            doc["tags"] = [value, "x"]
        docs.append(doc)
    # hostile strings as ids, and the shapes around null
    docs += [{"_id": s, "name": "by-id"} for s in ("$ne", "#n0", ":v0", "' or 1==1 --", "a.b")]
    docs += [{"_id": "missing", "kind": "none"}, {"_id": "one", "name": 1},
             {"_id": "onef", "name": 1.0}, {"_id": "obj", "name": {"$ne": None}}]
    return docs


PLACES = {
    "==": "from {c} where name == :v",
    "!=": "from {c} where name != :v",
    "in": "from {c} where name in :v",
    "not in": "from {c} where name not in :v",
    "contains": "from {c} where tags contains :v",
    "contains any": "from {c} where tags contains any :v",
    "startswith": "from {c} where name startswith :v",
    "<": "from {c} where name < :v",
    "_id ==": "from {c} where _id == :v",
    "and": "from {c} where kind == 'str' and name == :v",
    "or": "from {c} where name == :v or _id == 'one'",
}
LIST_PLACES = {"in", "not in", "contains any"}


async def _rows(store: Any, text: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    return await store.fetch(text, **params)


def _check_value(runner: asyncio.Runner, store: Any, stored: list[dict[str, Any]], text: str,
                 value: Any, outcomes: dict[str, int]) -> None:
    params = {"v": value}
    try:
        got = runner.run(_rows(store, text, params))
    except crossql.QuerySemanticError as err:
        assert err.code in ("semantic.invalid-parameter", "semantic.type-mismatch",
                            "semantic.unorderable-literal"), (text, value, err)
        outcomes["refused"] += 1
        return
    except crossql.CapabilityError as err:
        assert err.backend == store.driver, err
        outcomes["capability"] += 1
        return
    want = crossql.evaluate(text, stored, params=params)
    assert same_rows(got, want, ordered=False), (store.driver, text, value, got, want)
    outcomes["compared"] += 1
    outcomes["rows"] += len(got)


def test_hostile_values_select_exactly_what_they_equal(runner: asyncio.Runner,
                                                      store: Any) -> None:
    collection = "inj_values"
    stored = runner.run(_store_each(store, collection, _documents()))
    # every backend stores at least every string, bool and null document
    assert len(stored) >= len(HOSTILE_STRINGS) + 8, len(stored)
    outcomes = {"compared": 0, "refused": 0, "capability": 0, "rows": 0}
    for place, template in PLACES.items():
        text = template.format(c=collection)
        values = [[v] for v in HOSTILE_ACCEPTED] if place in LIST_PLACES else HOSTILE_ACCEPTED
        for value in values:
            _check_value(runner, store, stored, text, value, outcomes)
    assert outcomes["compared"] >= 200, outcomes
    assert outcomes["rows"] >= 100, outcomes  # the values do match, where they are equal
    name = store.driver if store.driver != "firestore" else f"firestore-{store.options.profile}"
    stats = STATS.setdefault(f"injection {name}", Counter())
    stats.update({**outcomes, "documents": len(stored)})


def test_values_that_are_no_crossql_value_are_refused(runner: asyncio.Runner,
                                                      store: Any) -> None:
    for template in PLACES.values():
        text = template.format(c="inj_values")
        for value in HOSTILE_REFUSED:
            with pytest.raises(crossql.QuerySemanticError) as info:
                runner.run(_rows(store, text, {"v": value}))
            assert info.value.code in ("semantic.invalid-parameter",
                                       "semantic.value-too-large"), info.value
            assert ":v" in info.value.message


def test_values_python_calls_equal_stay_apart(runner: asyncio.Runner, store: Any) -> None:
    # 1 == True and 0 == False in Python, never in CrossQL: a conjunction of both on one
    # field matches nothing, a disjunction matches each exactly
    docs = [{"_id": "i1", "a": 1}, {"_id": "t", "a": True}, {"_id": "i0", "a": 0},
            {"_id": "f", "a": False}, {"_id": "fl", "a": 1.0}]
    stored = runner.run(_store_each(store, "inj_types", docs))
    assert len(stored) == len(docs)
    outcomes = {"compared": 0, "refused": 0, "capability": 0, "rows": 0}
    for text, x, y in [("a == :x and a == :v", 1, True), ("a != :x and a != :v", 0, False),
                       ("a == :x or a == :v", 1, True), ("a in :x and a in :v", [1], [True]),
                       ("a == :x and a != :v", True, 1), ("a == :x and a == :v", 1, 1.0)]:
        query = f"from inj_types where {text}"
        try:
            got = runner.run(_rows(store, query, {"x": x, "v": y}))
        except crossql.CapabilityError:
            outcomes["capability"] += 1
            continue
        want = crossql.evaluate(query, stored, params={"x": x, "v": y})
        assert same_rows(got, want, ordered=False), (store.driver, query, x, y, got, want)
        outcomes["compared"] += 1
    assert outcomes["compared"] >= 3, outcomes


def _field_documents() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for i, name in enumerate(FIELD_NAMES):
        docs.append({"_id": f"f{i}", name: i, "plain": i})
        docs.append({"_id": f"g{i}", "nest": {name: i}, "plain": -i})
    docs.append({"_id": "dots", "a": {"b": 100}, "plain": 100})  # `a.b` as a path, not a name
    return docs


def test_field_names_are_only_names(runner: asyncio.Runner, store: Any) -> None:
    stored = runner.run(_store_each(store, "inj_fields", _field_documents()))
    assert len(stored) >= len(FIELD_NAMES), len(stored)
    outcomes = {"compared": 0, "refused": 0, "capability": 0, "rows": 0}
    for i, name in enumerate(FIELD_NAMES):
        for path in (backticked(name), f"nest.{backticked(name)}"):
            for condition, params in ((f"{path} == :v", {"v": i}), (f"exists({path})", {}),
                                      (f"{path} >= :v", {"v": 0}),
                                      (f"not ({path} == :v)", {"v": i})):
                text = f"from inj_fields where {condition}"
                try:
                    got = runner.run(_rows(store, text, params))
                except crossql.CapabilityError as err:
                    # MongoDB cannot address `.` in a name or a leading `$`
                    assert err.backend == store.driver
                    outcomes["capability"] += 1
                    continue
                want = crossql.evaluate(text, stored, params=params)
                assert same_rows(got, want, ordered=False), (store.driver, text, got, want)
                outcomes["compared"] += 1
                outcomes["rows"] += len(got)
    assert outcomes["compared"] >= 3 * len(FIELD_NAMES), outcomes
    assert outcomes["rows"] >= len(FIELD_NAMES), outcomes


@pytest.mark.gap("mongodb", reason="MongoDB cannot address a field whose name holds `.`: "
                 "CrossQL refuses `a.b` there")
def test_a_dotted_name_is_one_field_never_a_path(runner: asyncio.Runner, store: Any) -> None:
    runner.run(_store_each(store, "inj_fields", _field_documents()))
    rows = runner.run(_rows(store, "from inj_fields where `a.b` >= 0", {}))
    assert [r["_id"] for r in rows] == ["f8"], rows
    rows = runner.run(_rows(store, "from inj_fields where a.b >= 0", {}))
    assert [r["_id"] for r in rows] == ["dots"], rows


# --- the security test: `!=` on a missing field never grants access -----------------------

USERS = [
    {"_id": "u-set", "name": "alice", "password": "s3cret", "role": "user"},
    {"_id": "u-null", "name": "bob", "password": None, "role": "admin"},
    {"_id": "u-missing", "name": "carol", "role": "admin"},
    {"_id": "u-empty", "name": "dave", "password": "", "role": "user"},
    {"_id": "u-list", "name": "erin", "password": ["s3cret"], "role": "user"},
    {"_id": "u-number", "name": "frank", "password": 0, "role": "user"},
]
CHECKS = [
    "from inj_users where _id == :id and password != :wrong",
    "from inj_users where _id == :id and not (password == :wrong)",
    "from inj_users where _id == :id and password not in :wrongs",
    "from inj_users where _id == :id and not (password in :wrongs)",
    "from inj_users where name == :name and password != :wrong",
    "from inj_users where role == 'admin' and password != :wrong",
]


def _params(text: str, user: dict[str, Any], wrong: Any) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if ":id" in text:
        params["id"] = user["_id"]
    if ":name" in text:
        params["name"] = user["name"]
    if ":wrongs" in text:
        params["wrongs"] = [wrong]
    elif ":wrong" in text:
        params["wrong"] = wrong
    return params


@pytest.mark.gap("firestore", ids=["firestore"], reason="the default profile refuses `!=` "
                 "and `not in` (native_not_equal off): every check is refused, none compared")
def test_not_equal_on_a_missing_password_never_grants_access(runner: asyncio.Runner,
                                                             store: Any) -> None:
    stored = runner.run(_store_each(store, "inj_users", USERS))
    assert len(stored) == len(USERS)
    granted: dict[str, set[str]] = {}
    compared = 0
    for text in CHECKS:
        for user in USERS:
            for wrong in ("nope", "", None, "s3cret", 0, False, ["s3cret"]):
                params = _params(text, user, wrong)
                try:
                    rows = runner.run(_rows(store, text, params))
                except crossql.CapabilityError as err:
                    assert err.backend == store.driver  # Firestore's default profile: no `!=`
                    continue
                ids = {r["_id"] for r in rows}
                want = {r["_id"] for r in crossql.evaluate(text, stored, params=params)}
                assert ids == want, (store.driver, text, params, ids, want)
                if wrong is not None:  # (`not (p == null)` is true on a missing p, by rule 2)
                    granted.setdefault(text, set()).update(ids)
                compared += 1
    # the users without a password (missing, null) are never selected by a `!=` with a
    # wrong password, however the check is written
    for text, ids in granted.items():
        assert not ids & {"u-null", "u-missing"}, (store.driver, text, ids)
    assert compared >= 100, compared
    assert "u-set" in set().union(*granted.values())  # the check does pass a real password


def test_operator_values_in_a_login_query_are_refused(runner: asyncio.Runner,
                                                      store: Any) -> None:
    runner.run(_store_each(store, "inj_users", USERS))
    text = "from inj_users where name == :name and password == :password"
    for attack in ({"$ne": None}, {"$gt": ""}, {"$regex": ".*"}, {"$exists": True},
                   [{"$ne": None}], {"S": "s3cret"}):
        with pytest.raises(crossql.QuerySemanticError, match="plain value"):
            runner.run(_rows(store, text, {"name": "alice", "password": attack}))
    # strings that look like operators are compared as strings: no one logs in
    for attack in ("$ne", "' or '1'=='1", "s3cret' or name == 'alice", ".*", "#n0", ":v0"):
        assert runner.run(_rows(store, text, {"name": "alice", "password": attack})) == []
    rows = runner.run(_rows(store, text, {"name": "alice", "password": "s3cret"}))
    assert [r["_id"] for r in rows] == ["u-set"]
