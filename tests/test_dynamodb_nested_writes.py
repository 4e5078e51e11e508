"""DynamoDB assignments below a map: the request each item gets (no server; the
differential tests in tests/backends/test_dynamodb_writes.py run them)."""

from __future__ import annotations

from typing import Any

import pytest

import crossql
from crossql.backends.dynamodb.writes import DynamoWritePlan
from crossql.errors import CapabilityError


def _plan(text: str) -> DynamoWritePlan:
    plan = crossql.compile(text, backend="dynamodb")
    assert isinstance(plan, DynamoWritePlan)
    return plan


def _expressions(request: dict[str, Any]) -> tuple[str, str | None]:
    """The condition and update expressions with the placeholders replaced."""
    names = request.get("ExpressionAttributeNames", {})
    values = request.get("ExpressionAttributeValues", {})

    def plain(text: str | None) -> str | None:
        if text is None:
            return None
        for placeholder in sorted([*names, *values], key=len, reverse=True):
            shown = names.get(placeholder) or crossql_json(values[placeholder])
            text = text.replace(placeholder, shown)
        return text

    return plain(request["ConditionExpression"]) or "", plain(request.get("UpdateExpression"))


def crossql_json(av: dict[str, Any]) -> str:
    (kind, value), = av.items()
    if kind == "M":
        return "{" + ", ".join(f"{k}: {crossql_json(v)}" for k, v in value.items()) + "}"
    return str(value)


def test_a_map_is_written_below_or_created_as_the_item_needs() -> None:
    plan = _plan("update docs set m.k = 1 where true")
    assert "UpdateExpression" not in plan.request  # nothing is written on every item
    cond, update = _expressions(plan.item_request({"_id": "a", "m": {"j": 2}}) or {})
    assert update == "SET m.k = 1"
    assert cond == "(attribute_exists(_id)) AND attribute_type(m, M)"
    cond, update = _expressions(plan.item_request({"_id": "a"}) or {})
    assert update == "SET m = {k: 1}"
    assert cond == "(attribute_exists(_id)) AND attribute_not_exists(m)"
    assert plan.item_request({"_id": "a", "m": None}) is None
    assert plan.item_request({"_id": "a", "m": [1]}) is None


def test_siblings_below_a_missing_map_are_one_set() -> None:
    plan = _plan("update docs set m.p.a = 1, m.p.b = \"x\", n = 2 where n == 1")
    cond, update = _expressions(plan.item_request({"_id": "a", "n": 1, "m": {}}) or {})
    assert update == "SET n = 2, m.p = {a: 1, b: x}"
    assert cond == "(n = 1 AND attribute_exists(_id)) AND attribute_not_exists(m.p) AND " \
        "attribute_type(m, M)"
    assert plan.item_request({"_id": "a", "m": {"p": 3}}) is None


def test_an_unset_below_a_missing_map_writes_nothing_but_is_checked() -> None:
    plan = _plan("update docs set unset m.k where true")
    cond, update = _expressions(plan.item_request({"_id": "a"}) or {})
    assert update is None
    assert cond == "(attribute_exists(_id)) AND attribute_not_exists(m)"
    cond, update = _expressions(plan.item_request({"_id": "a", "m": {"k": 1}}) or {})
    assert update == "REMOVE m.k"
    assert cond == "(attribute_exists(_id)) AND attribute_type(m, M)"


def test_a_plan_without_nested_assignments_is_unchanged() -> None:
    plan = _plan("update docs set a = 1 where true")
    assert plan.nested == ()
    assert plan.item_request({"_id": "x"}) is plan.request
    assert "per_item" not in plan.to_dict()
    assert "per_item" in _plan("update docs set a.b = 1 where true").to_dict()


def test_an_increment_below_a_map_is_refused() -> None:
    with pytest.raises(CapabilityError, match="fails the whole request"):
        crossql.compile("update docs set m.k = m.k + 1 where true", backend="dynamodb")
