"""``limit n`` of an update counts only documents every assignment applies to, on every
backend: a document whose ``m`` is not a map (for ``set m.x``/``unset m.x``) or whose
``a`` is not a number (for ``a = a + 1``) "is not matched, as if the where had excluded
it" (docs/language.md, "Writes"), so it cannot spend the limit (issue #15, item 1)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from crossql.grammar import parse_statement
from tests.backends.conftest import store_of
from tests.backends.write_differential import compare_write, inapplicable_writes
from tests.budget import examples

pytestmark = pytest.mark.integration

BACKENDS = ["memory", "mongodb", "dynamodb", "firestore"]

# many documents no assignment applies to, one it does: wherever the one is in the
# backend's read order, a limit spent on the others writes nothing
BLOCKED: list[dict[str, Any]] = [
    *({"_id": f"z{i:02d}", "m": 5, "a": "s"} for i in range(20)),
    {"_id": "ok", "a": 1},
]


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, runner: asyncio.Runner) -> Any:
    return store_of(request, runner, request.param)


@pytest.mark.parametrize(("text", "matched"), [
    ("update docs set m.x = 1 where true limit 1", 1),
    ("update docs set m.x = 1 where true limit 2", 1),
    ("update docs set unset m.x where true limit 1", 1),
    ("update docs set a = a + 1 where true limit 1", 1),
    ("update docs set a = a + 1, m.x = 2 where a == 1 or a == \"s\" limit 2", 1),
    ("update docs set m.x.y = 1 where true limit 1", 1),
])
def test_limit_counts_only_documents_the_assignments_apply_to(
        runner: asyncio.Runner, store: Any, text: str, matched: int) -> None:
    got = compare_write(runner, store, BLOCKED, parse_statement(text),
                        modified=store.driver != "dynamodb")
    assert got is not None and got.matched == matched


@settings(max_examples=examples(25), deadline=None,
          phases=(Phase.explicit, Phase.reuse, Phase.generate),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_generated_limited_writes_skip_what_cannot_apply(
        runner: asyncio.Runner, store: Any, data: st.DataObject) -> None:
    docs, statement = data.draw(inapplicable_writes(), label="write")
    # DynamoDB numbers are decimals: setting 1.0 over 1 changes nothing there
    compare_write(runner, store, docs, statement, modified=store.driver != "dynamodb")
