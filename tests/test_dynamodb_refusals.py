"""One refusal vocabulary (issue 14, point 4): every DynamoDB refusal is a
``CapabilityError`` whose code names the rule that refused,
``capability.dynamodb.<rule>``, one of ``REFUSAL_RULES``, with a construct of the closed
list ``REFUSABLE``."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

import crossql
from crossql import ir
from crossql.backends.base import REFUSABLE
from crossql.backends.dynamodb.compiler import REFUSAL_RULES, compile_dynamodb
from tests.budget import examples
from tests.plan_corpus import VALID
from tests.strategies import any_condition
from tests.test_dynamodb_plans import CORPUS_SCHEMA, MUSIC

CODE = re.compile(r"capability\.dynamodb\.([a-z]+(?:-[a-z]+)*)\Z")
DEEP = ".".join(f"p{i}" for i in range(33))
HUNDRED_AND_ONE = ", ".join(str(i) for i in range(101))
OR_151 = " or ".join(f"a == {i}" for i in range(151))
LONG_AND = " and ".join(f"exists(`f{i}`.`g{i}`)" for i in range(150))
ASSIGN_300 = ", ".join(f"field{i} = {i}" for i in range(300))
WRITE_BYTES = " or ".join(f"p{i}.{'.'.join(f's{j}' for j in range(29))} == 1"
                          for i in range(27))
WRITE_OPERATORS = " or ".join(f"a{i} == {i}" for i in range(150))
KEYED = {"users": {"partition_key": "_id", "sort_key": "k"}}


def _refusal(text: str, schema: Any = None, **kwargs: Any) -> crossql.CapabilityError:
    with pytest.raises(crossql.CapabilityError) as info:
        crossql.compile(text, backend="dynamodb", schema=schema, **kwargs)
    return info.value


@pytest.mark.parametrize(("text", "schema", "options", "rule"), [
    ("from ab", None, None, "table-name"),
    (f"from docs where exists({DEEP})", None, None, "path-depth"),
    ("from docs group by a", None, None, "group-by"),
    ("from docs select sum(a) as s", None, None, "aggregate"),
    ("from docs select count(a) as n", None, None, "aggregate"),
    ("from docs offset 2", None, None, "offset"),
    ("from docs where a == 1e200", None, None, "number"),
    ("from music where artist == 'a' order by plays", MUSIC, None, "order-by"),
    ("from docs order by a", None, None, "order-by"),
    ("from music where title == 'a'", MUSIC, {"allow_scan": False}, "scan"),
    (f"from docs where {LONG_AND}", None, None, "expression-bytes"),
    (f"from docs where {OR_151}", None, None, "operators"),
    (f"from docs where a in [{HUNDRED_AND_ONE}]", None, None, "in-values"),
    ("from docs where a matches 'x' or b == 1", None, None, "matches"),
    (ir.Query("docs", ir.Compare("<", ir.Path(("b",)), ir.Literal(b"ab", "bytes"))), None, None,
     "bytes-order"),
    ("update users set a.b = a.b + 1 where true", KEYED, None, "nested-increment"),
    ("update users set k = 1 where true", KEYED, None, "key-attribute"),
    ("update users set a = 1e200 where true", None, None, "unstorable-value"),
    ("update users set a.b = 1e200 where true", None, None, "unstorable-value"),
    (f"update items set n = n + 1 where {WRITE_BYTES}", None, None, "expression-bytes"),
    (f"update items set x = 1 where {WRITE_OPERATORS}", None, None, "operators"),
    (f"update items set {ASSIGN_300} where true", None, None, "expression-bytes"),
])
def test_each_refusal_names_its_rule(text: str, schema: Any, options: Any, rule: str) -> None:
    err = _refusal(text, schema, options=options)
    assert err.code == f"capability.dynamodb.{rule}", err.render()
    assert rule in REFUSAL_RULES
    assert err.construct in REFUSABLE


def test_every_rule_has_a_case_above() -> None:
    cases = test_each_refusal_names_its_rule.pytestmark[0].args[1]  # type: ignore[attr-defined]
    assert {case[3] for case in cases} == REFUSAL_RULES


@pytest.mark.parametrize("schema", [None, CORPUS_SCHEMA], ids=["no schema", "corpus schema"])
def test_every_refusal_of_the_corpus_has_a_rule_code(schema: Any) -> None:
    refused = 0
    for entry in VALID:
        try:
            crossql.compile(entry["query"], backend="dynamodb", params=entry.get("params"),
                            schema=schema)
        except crossql.CapabilityError as err:
            refused += 1
            match = CODE.match(err.code)
            assert match is not None, (entry["name"], err.code)
            assert match.group(1) in REFUSAL_RULES, (entry["name"], err.code)
            assert err.construct in REFUSABLE, (entry["name"], err.construct)
    assert refused >= 5


@settings(max_examples=examples(300), deadline=None, suppress_health_check=list(HealthCheck))
@given(any_condition(valid=True, max_leaves=8))
def test_every_refusal_of_a_drawn_condition_has_a_rule_code(cond: ir.Condition) -> None:
    if any(isinstance(node, ir.Param) for node in ir.walk(cond)):
        return  # plans are compiled from bound conditions
    for schema in (None, MUSIC):
        try:
            compile_dynamodb(ir.Query("music", cond), schema=schema)
        except crossql.CapabilityError as err:
            match = CODE.match(err.code)
            assert match is not None and match.group(1) in REFUSAL_RULES, err.code
            assert err.construct in REFUSABLE
