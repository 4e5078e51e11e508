"""Each Firestore limit, just inside it, runs on the emulator and returns the reference rows
(the query just past it is refused at compile time: tests/test_firestore_plans.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import crossql
from tests.backends.conftest import load, same_rows
from tests.backends.firestore_support import LIMIT_CASES, NATIVE, emulator_rows
from tests.budget import examples
from tests.strategies import firestore_sized_values

pytestmark = pytest.mark.integration

DOCS: list[dict[str, Any]] = [
    {"_id": "a", "f": 1, "g": 2, "h": 2, "t": [1, 2], "u": [2], **{f"f{i}": 0 for i in range(100)}},
    {"_id": "b", "f": 3, "g": 3, "t": [3], "f0": 1},
    {"_id": "c", "f": 29, "g": 5, "h": 1, "u": [2, 3], **{f"f{i}": 1 for i in range(12)}},
    {"_id": "d", "f": None, "t": []},
    {"_id": "e", "f" * 1499: 1},
]


@pytest.fixture(scope="module")
def limits(runner: asyncio.Runner, firestore_store: Any) -> Any:
    load(runner, firestore_store, "c", DOCS)
    return firestore_store


@pytest.mark.parametrize(("name", "inside", "past", "code"), LIMIT_CASES,
                         ids=[c[0] for c in LIMIT_CASES])
def test_just_inside_the_limit_runs(runner: asyncio.Runner, limits: Any, name: str, inside: str,
                                    past: str, code: str) -> None:
    plan = crossql.compile(inside, backend="firestore", options=NATIVE)

    async def rows() -> list[dict[str, Any]]:
        return [row async for row in limits.run_plan(plan)]

    want = emulator_rows(plan, crossql.evaluate(inside, DOCS))
    assert same_rows(runner.run(rows()), want, ordered=False), plan.to_json()
    with pytest.raises(crossql.CapabilityError):
        crossql.compile(past, backend="firestore", options=NATIVE)


# --- query values near 1,500 bytes: what the compiler refuses is what the emulator refuses ---

_SIZED_DOCS = [{"_id": "s", "s": "x" * 1499, "t": ["x" * 1499]}, {"_id": "n", "s": 1}]


def _server_accepts(runner: asyncio.Runner, store: Any, field: str, op: str,
                    value: Any) -> bool:
    """Whether the emulator runs the raw query ``field op value`` (no CrossQL check)."""
    from google.api_core import exceptions
    from google.cloud.firestore_v1.base_query import FieldFilter

    async def run() -> bool:
        query = store.client.collection("sized").where(filter=FieldFilter(field, op, value))
        try:
            [snap async for snap in query.stream()]
        except exceptions.InvalidArgument as err:
            assert "too large to be used in a query" in str(err)
            return False
        return True

    return runner.run(run())


@settings(max_examples=examples(40), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=firestore_sized_values(),
       form=st.sampled_from(["==", "<", "in", "startswith", "contains"]))
def test_value_limit_is_the_emulators_edge(runner: asyncio.Runner, sized: Any, value: Any,
                                           form: str) -> None:
    if form in ("<", "startswith", "contains") and not isinstance(value, str):
        form = "=="
    query = {"==": "from sized where s == :v", "<": "from sized where s < :v",
             "in": "from sized where s in :v",
             "startswith": "from sized where s startswith :v",
             "contains": "from sized where t contains :v"}[form]
    raw = {"==": ("s", "==", value), "<": ("s", "<", value), "in": ("s", "in", [1, value]),
           "startswith": ("s", ">=", value), "contains": ("t", "array_contains", value)}[form]
    params = {"v": [1, value] if form == "in" else value}
    try:
        plan = crossql.compile(query, backend="firestore", options=NATIVE, params=params)
    except crossql.CapabilityError as err:
        assert err.code == "capability.firestore.value-bytes", err.render()
        assert not _server_accepts(runner, sized, *raw), "refused, yet the emulator runs it"
        return
    assert _server_accepts(runner, sized, *raw), "compiled, yet the emulator refuses it"

    async def rows() -> list[dict[str, Any]]:
        return [row async for row in sized.run_plan(plan)]

    want = crossql.evaluate(query, _SIZED_DOCS, params=params)
    assert same_rows(runner.run(rows()), want, ordered=False)


@pytest.fixture(scope="module")
def sized(runner: asyncio.Runner, firestore_store: Any) -> Any:
    load(runner, firestore_store, "sized", _SIZED_DOCS)
    return firestore_store


def test_1499_bytes_run_and_1500_are_refused_on_both_sides(runner: asyncio.Runner,
                                                          sized: Any) -> None:
    for op in ("==", "<", ">="):
        assert _server_accepts(runner, sized, "s", op, "x" * 1499)
        assert not _server_accepts(runner, sized, "s", op, "x" * 1500)
    assert _server_accepts(runner, sized, "s", "in", ["x" * 1499, "y" * 1499])
    assert not _server_accepts(runner, sized, "s", "in", ["x" * 1500])
    plan = crossql.compile('from sized where s == "' + "x" * 1499 + '"', backend="firestore")

    async def rows() -> list[dict[str, Any]]:
        return [row async for row in sized.run_plan(plan)]

    assert [r["_id"] for r in runner.run(rows())] == ["s"]


def test_21_path_segments_are_the_emulators_edge(runner: asyncio.Runner, sized: Any) -> None:
    from google.api_core import exceptions

    for n in (20, 21):
        path = ".".join(["a"] * n)

        async def run(path: str = path) -> None:
            query = sized.client.collection("sized").order_by(path)
            [snap async for snap in query.stream()]

        async def update(path: str = path) -> None:
            await sized.client.collection("sized").document("n").update({path: 1})

        if n == 20:
            runner.run(run())
            runner.run(update())
            crossql.compile(f"from sized where {path} == 1", backend="firestore")
            crossql.compile(f"update sized set {path} = 1 where s == 1", backend="firestore")
        else:
            with pytest.raises(exceptions.InvalidArgument, match="at most 20 elements"):
                runner.run(run())
            with pytest.raises(exceptions.InvalidArgument, match="at most 20 elements"):
                runner.run(update())
            with pytest.raises(crossql.CapabilityError):
                crossql.compile(f"from sized where {path} == 1", backend="firestore")
            with pytest.raises(crossql.CapabilityError):
                crossql.compile(f"update sized set {path} = 1 where s == 1",
                                backend="firestore")
