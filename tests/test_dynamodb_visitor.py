"""DynamoDB's conditions are walked by two condition visitors (``crossql.visitor``): the
expression tree (``ConditionBuilder``, which the compiler is) and the text written
straight from the conditions (``ExpressionWriter``); a third finds the number a
refusal names (``_BadNumber``). Each is a closed world: a node without a handler
fails when the class is defined, naming the backend and the node."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

import crossql
from crossql import ir, visitor
from crossql.backends.dynamodb.compiler import QueryCompiler, _BadNumber
from crossql.backends.dynamodb.expressions import ConditionBuilder, ExpressionWriter
from crossql.backends.dynamodb.schema import default_table, dynamo_options
from crossql.visitor import CONDITION_TYPES


@dataclass(frozen=True)
class Near:
    """A predicate the IR does not have (yet)."""

    path: ir.Path


@pytest.mark.parametrize(("base", "name"), [
    (ConditionBuilder, "dynamodb"), (QueryCompiler, "dynamodb"),
    (ExpressionWriter, "dynamodb text"), (_BadNumber, "dynamodb numbers"),
])
def test_a_visitor_without_a_handler_fails_at_definition(
        monkeypatch: pytest.MonkeyPatch, base: type[Any], name: str) -> None:
    monkeypatch.setattr(visitor, "CONDITION_TYPES", (*CONDITION_TYPES, Near))
    with pytest.raises(TypeError, match=rf"\({name}\) handles no Near: write visit_<Node>"):
        type("Partial", (base,), {})


def test_a_visitor_that_drops_a_handler_fails_at_definition() -> None:
    with pytest.raises(TypeError, match=r"\(dynamodb\) handles no Size"):
        type("NoSize", (QueryCompiler,), {"visit_Size": None})


def _compiler() -> QueryCompiler:
    return QueryCompiler(ir.Query("docs", None), default_table("_id"), dynamo_options(None))


def _where(text: str) -> ir.Condition:
    where = crossql.parse(f"from docs where {text}").where
    assert where is not None
    return where


def test_matches_is_the_one_unsupported_node_and_goes_to_refuse() -> None:
    assert frozenset({ir.Matches}) == ConditionBuilder.UNSUPPORTED
    with pytest.raises(crossql.CapabilityError) as info:
        _compiler().visit(_where("a matches 'x'"), True)
    assert info.value.code == "capability.dynamodb.matches"
    assert info.value.construct == "matches"


@pytest.mark.parametrize(("left", "right"), [
    ("not (a == 1 and b < 2)", "not (a == 1) or not (b < 2)"),
    ("not (a == 1 or exists(b))", "not (a == 1) and not exists(b)"),
    ("not not (a startswith 'x')", "a startswith 'x'"),
])
def test_not_and_or_follow_de_morgan_in_both_visitors(left: str, right: str) -> None:
    compiler = _compiler()
    for truth in (True, False):
        assert compiler.visit(_where(left), truth) == compiler.visit(_where(right), truth)
        texts = []
        for side in (left, right):
            writer = ExpressionWriter()
            writer.builder = compiler
            texts.append((writer.visit(_where(side), truth), writer.names, writer.values))
        assert texts[0] == texts[1]
