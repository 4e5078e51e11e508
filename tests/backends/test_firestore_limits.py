"""Each Firestore limit, just inside it, runs on the emulator and returns the reference rows
(the query just past it is refused at compile time: tests/test_firestore_plans.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import crossql
from tests.backends.conftest import load, same_rows
from tests.backends.firestore_support import LIMIT_CASES, NATIVE, emulator_rows

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
