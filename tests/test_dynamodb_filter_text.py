"""The DynamoDB filter written straight to text (``ConditionBuilder.text``) is the
expression tree's rendering, placeholders and their values included, wherever it
gives a text; where it gives none the compiler renders the tree."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

import crossql
from crossql import ir
from crossql.backends.dynamodb import DynamoPlan
from crossql.backends.dynamodb.compiler import QueryCompiler, _conjuncts
from crossql.backends.dynamodb.expressions import Const, ExpressionWriter, and_
from crossql.backends.dynamodb.schema import default_table, dynamo_options
from crossql.backends.dynamodb.values import UnstorableValue
from tests.budget import examples
from tests.strategies import any_condition


def _has_param(cond: ir.Condition) -> bool:
    return any(isinstance(node, ir.Param) for node in ir.walk(cond))


def _both(cond: ir.Condition) -> tuple[Any, Any]:
    """(text, names, values) written straight, and rendered from the tree (None where
    the text path declines; the error's class where building refuses)."""
    compiler = QueryCompiler(ir.Query("docs", cond), default_table("_id"), dynamo_options(None))
    conds = _conjuncts(cond)
    straight = ExpressionWriter()
    try:
        text = compiler.builder.text(conds, straight)
        fast = None if text is None else (text, straight.names, straight.values)
    except (crossql.CapabilityError, UnstorableValue) as err:
        fast = type(err)
    tree = ExpressionWriter()
    try:
        expr = and_(*[compiler.builder.build(c) for c in conds])
        slow = None if type(expr) is Const else (tree.render(expr), tree.names, tree.values)
    except (crossql.CapabilityError, UnstorableValue) as err:
        slow = type(err)
    return fast, slow


@settings(max_examples=examples(500), deadline=None, suppress_health_check=list(HealthCheck))
@given(any_condition(valid=True, max_leaves=12))
def test_the_text_is_the_trees_rendering(cond: ir.Condition) -> None:
    if _has_param(cond):
        return
    fast, slow = _both(cond)
    if fast is not None:
        assert fast == slow


def _where(text: str) -> ir.Condition:
    query = crossql.parse(f"from docs where {text}")
    assert query.where is not None
    return query.where


@pytest.mark.parametrize("where", [
    'a == 1 and b != "x" and not (c < 2) and d == null and e != null',
    'not (a != null) or not (b == null)',
    'tags contains "vip" and not (labels contains "x") and name startswith "A"',
    'not (name startswith "A") and a between 1 and 5 and not (b between 1 and 5)',
    'a in [1, 2, null] and not (b in [1, 2]) and c not in [null] and d in [null]',
    '(a == 1 or (b == 2 and (c == 3 or d == 4))) and exists(e) and not exists(f)',
    'x.y.z == "deep" and not (x.y > 3)',
    'a == 1 and a == 1.0',  # N "1" and N "1.0": two values
])
def test_the_text_path_writes_these(where: str) -> None:
    fast, slow = _both(_where(where))
    assert fast is not None and fast == slow


@pytest.mark.parametrize("where", [
    "a == 1 or a == 1",  # a repeat: the tree drops it
    'tags contains "vip" and not (tags contains "x")',  # attribute_type(tags, L) twice
    "a between 5 and 1",  # never true: folded
    "a in []",  # never true: folded
    "tags contains any [1, 2]",
    "size(tags) > 2",
])
def test_the_text_path_declines_what_the_tree_folds(where: str) -> None:
    fast, slow = _both(_where(where))
    assert fast is None
    plan = crossql.compile(f"from docs where {where}", backend="dynamodb")
    assert isinstance(plan, DynamoPlan)
    if slow is None:
        assert plan.never or "FilterExpression" not in plan.request
    else:
        assert plan.request["FilterExpression"] == slow[0]
