"""What the DynamoDB compiler's speed and memory work relies on: the operator bound that
spares counting, placeholders keyed exactly by AttributeValue, the count request derived
from the request, values shared between cached plans, and frozen nodes built fast."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

import crossql
from crossql import ir
from crossql.backends.dynamodb import DynamoPlan
from crossql.backends.dynamodb.compiler import MAX_OPERATORS, QueryCompiler
from crossql.backends.dynamodb.expressions import (
    And,
    Comparison,
    Const,
    ExpressionWriter,
    Function,
    InList,
    Not,
    Or,
    and_,
    operator_count,
)
from crossql.backends.dynamodb.schema import default_table, dynamo_options
from crossql.backends.dynamodb.values import UnstorableValue
from tests.budget import examples
from tests.strategies import any_condition


def compile_dd(query: str, **kwargs: Any) -> DynamoPlan:
    plan = crossql.compile(query, backend="dynamodb", **kwargs)
    assert isinstance(plan, DynamoPlan)
    return plan


def _has_param(cond: ir.Condition) -> bool:
    return any(isinstance(node, ir.Param) for node in ir.walk(cond))


@settings(max_examples=examples(300), deadline=None, suppress_health_check=list(HealthCheck))
@given(any_condition(valid=True, max_leaves=12))
def test_every_operator_takes_at_least_four_characters(cond: ir.Condition) -> None:
    # check_limits counts operators only for texts over 4 * 300 characters
    if _has_param(cond):
        return
    compiler = QueryCompiler(ir.Query("docs", cond), default_table("_id"), dynamo_options(None))
    try:
        compiler.check_shape()
        expr = and_(compiler.builder.build(cond))
    except (crossql.CapabilityError, UnstorableValue):  # refused: nothing to render
        return
    if not isinstance(expr, Const):  # constants are never rendered
        text = ExpressionWriter().render(expr)
        assert 4 * operator_count(expr) <= len(text)


def test_the_operator_limit_still_holds_past_the_bound() -> None:
    # 301 operators in a text far over 1200 characters: counted and refused
    many = " or ".join(f"a == {i}" for i in range(151))
    with pytest.raises(crossql.CapabilityError) as info:
        compile_dd(f"from docs where {many}")
    assert info.value.construct == "expression size" and "301 operators" in info.value.message
    assert len(" OR ".join(f"#n0 = :v{i}" for i in range(151))) > 4 * MAX_OPERATORS


@pytest.mark.parametrize(("a", "b", "same"), [
    (ir.Literal(1, "int"), ir.Literal(1, "int"), True),
    (ir.Literal(1, "int"), ir.Literal(1.0, "float"), False),  # N "1" and N "1.0"
    (ir.Literal("1", "string"), ir.Literal(1, "int"), False),
    (ir.Literal(True, "bool"), ir.Literal(1, "int"), False),
    (ir.Literal(None, "null"), ir.Literal(None, "null"), True),
    (ir.ListValue((ir.Literal(1, "int"),)), ir.ListValue((ir.Literal(1, "int"),)), True),
    (ir.ListValue((ir.Literal(1, "int"),)), ir.Literal(1, "int"), False),
])
def test_placeholders_are_shared_exactly_by_equal_attribute_values(
        a: ir.Literal | ir.ListValue, b: ir.Literal | ir.ListValue, same: bool) -> None:
    writer = ExpressionWriter()
    assert (writer.value(a) == writer.value(b)) is same
    assert len(writer.values) == (1 if same else 2)


def test_count_request_drops_projection_only_names() -> None:
    plan = compile_dd("from docs where a == 1 select b, a")
    assert plan.request["ExpressionAttributeNames"] == {"#n0": "a", "#n1": "b"}
    assert plan.count_request == {
        "TableName": "docs", "FilterExpression": "#n0 = :v0",
        "ExpressionAttributeNames": {"#n0": "a"},
        "ExpressionAttributeValues": {":v0": {"N": "1"}}, "Select": "COUNT"}
    no_filter = compile_dd("from docs select b limit 5")
    assert no_filter.request["Limit"] == 5
    assert no_filter.count_request == {"TableName": "docs", "Select": "COUNT"}
    query = compile_dd('from docs where _id == "k" select b order by _id')
    assert query.count_request == {
        "TableName": "docs", "KeyConditionExpression": "#n0 = :v0",
        "ExpressionAttributeNames": {"#n0": "_id"},
        "ExpressionAttributeValues": {":v0": {"S": "k"}}, "ScanIndexForward": True,
        "Select": "COUNT"}
    # the request itself is left as it was
    assert query.request["Select"] == "SPECIFIC_ATTRIBUTES"
    assert query.request["ExpressionAttributeNames"] == {"#n0": "_id", "#n1": "b"}


def test_cached_plans_share_equal_values_and_texts() -> None:
    one = compile_dd('from docs where s == "active" and n >= 5 select a')
    two = compile_dd('from docs where s == "active" and n >= 6 select a')
    v1, v2 = one.request["ExpressionAttributeValues"], two.request["ExpressionAttributeValues"]
    assert v1[":v0"] is v2[":v0"] == {"S": "active"}
    assert v1[":v1"] == {"N": "5"} and v2[":v1"] == {"N": "6"}
    assert one.request["FilterExpression"] is two.request["FilterExpression"]
    assert one.outputs is two.outputs


def test_frozen_nodes_and_plans_stay_frozen() -> None:
    node = Function("attribute_exists", ("a",))
    assert node.value is None and node == Function("attribute_exists", ("a",), None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        node.name = "contains"  # type: ignore[misc]
    plan = compile_dd("from docs")
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.limit = 3  # type: ignore[misc]
    assert plan.pk_field == "_id" and plan.reason and not plan.never


@pytest.mark.parametrize(("query", "number"), [
    # the between is never true, so the whole filter folds away: still refused
    ("from docs where a between 5 and 1 and b == 1e-200", "1e-200"),
    ("from docs where not (a between 5 and 1) or b in [1, 1e-200]", "1e-200"),
    ("from docs where _id == 1e-200", "1e-200"),  # a key value, rendered, not built
    ("from docs where a matches \"x\" and b == 1e300", "1e+300"),  # before `matches`
    ("from docs where exists(b) and c contains 1e-200 order by z", "1e-200"),  # and order
    ("from docs where a == 1e-300 and b == 1e-200", "1e-300"),  # the first one
    ("from docs where size(t) == 1 and s startswith \"x\" and t contains all [1, 2e-200]",
     "2e-200"),
])
def test_numbers_dynamodb_cannot_hold_are_refused_first(query: str, number: str) -> None:
    with pytest.raises(crossql.CapabilityError) as info:
        compile_dd(query)
    assert info.value.construct == "value"
    assert info.value.message.startswith(f"dynamodb cannot hold this number: {number} ")


# --- compile work is linear in the size of a list (issue #15, item 6) -----------------------

_COMPARED = (ir.Literal, ir.ListValue, *ir.PREDICATE_TYPES, ir.Not, ir.And, ir.Or,
             Function, Comparison, InList, Not, And, Or)
"""The classes whose equality test dedups of IR literals, conditions and expressions call."""


def _equality_tests(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A one-item list counting every ``==`` between the nodes of ``_COMPARED`` from now on."""
    calls = [0]
    for cls in _COMPARED:
        def eq(self: Any, other: Any, _eq: Any = cls.__eq__) -> Any:
            calls[0] += 1
            return _eq(self, other)
        monkeypatch.setattr(cls, "__eq__", eq)
    return calls


N = 1_000


@pytest.mark.parametrize(("text", "values"), [
    ("from docs where x in :xs", list(range(N))),  # refused: over 100 distinct values
    ("from docs where x in :xs", [i % 100 for i in range(N)]),  # 100 distinct: accepted
    ("from docs where x not in :xs", [i % 7 for i in range(N)]),
    ("from docs where x in :xs or x in :xs", [f"v{i % 50}" for i in range(N)]),
    ("from docs where c contains all :xs", list(range(N))),  # over 300 operators
    ("from docs where c contains any :xs", list(range(N))),
    ("from docs where not (c contains all :xs)", list(range(N))),
    ("from docs where c contains all :xs", [i % 10 for i in range(N)]),  # accepted
])
def test_a_bound_list_costs_equality_tests_linear_in_its_length(
        monkeypatch: pytest.MonkeyPatch, text: str, values: list[Any]) -> None:
    calls = _equality_tests(monkeypatch)
    try:
        compile_dd(text, params={"xs": values})
    except crossql.CapabilityError as err:
        assert err.construct in ("in", "expression size")
    # pairwise dedup made about N * N / 2 of them
    assert calls[0] <= 4 * N, calls[0]


@pytest.mark.parametrize("template", [
    "a == {i}", "a != {i}", "c contains {i}", "not (c contains {i})", "a startswith 's{i}'",
    "size(a) == {i}", "a between {i} and {j}", "not (a == {i})",
])
@pytest.mark.parametrize("joiner", [" and ", " or "])
def test_many_predicates_on_one_path_cost_linear_equality_tests(
        monkeypatch: pytest.MonkeyPatch, template: str, joiner: str) -> None:
    text = "from docs where " + joiner.join(template.format(i=i, j=i + 1) for i in range(N))
    calls = _equality_tests(monkeypatch)
    with pytest.raises(crossql.CapabilityError) as info:  # far over DynamoDB's limits
        compile_dd(text)
    assert info.value.construct == "expression size"
    assert calls[0] <= 4 * N, calls[0]
