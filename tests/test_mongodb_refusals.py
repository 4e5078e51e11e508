"""MongoDB's refusals: each goes through ``refuse`` with a rule of its own, so its code is
``capability.mongodb.<rule>`` and its construct one of ``REFUSABLE``; never a traceback."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, note, settings

import crossql
from crossql import ir
from crossql.backends.base import REFUSABLE
from crossql.compiler.checks import check_query
from crossql.errors import QueryError
from tests.budget import examples
from tests.plan_corpus import CORPUS
from tests.strategies import queries_with_names_backends_may_refuse

CODE = re.compile(r"capability\.mongodb\.[a-z]+(-[a-z]+)*")
PACKAGE = Path(crossql.__file__).parent / "backends" / "mongodb"

# every rule MongoDB refuses by, with a statement it refuses
REFUSALS = [
    ("from `system.users`", "collection-name", "collection name"),
    ("from `a$b` where a == 1", "collection-name", "collection name"),
    ("from c where `a.b` == 1", "field-name", "field name"),
    ("from c where a.`$x` == 1", "field-name", "field name"),
    ("from c order by `$x`", "field-name", "field name"),
    ("from c select a as `$x`", "alias", "field name"),
    ("from c select a as `x.y`", "alias", "field name"),
    ("from c select sum(a.b)", "aggregate-name", "aggregate name"),
    ("update `system.x` set a = 1 where true", "collection-name", "collection name"),
    ("update c set `$a` = 1 where true", "field-name", "field name"),
    ("delete from `a$b` where true", "collection-name", "collection name"),
]


def _refusal(text: str, params: dict[str, Any] | None = None) -> crossql.CapabilityError:
    with pytest.raises(crossql.CapabilityError) as info:
        crossql.compile(text, backend="mongodb", params=params)
    return info.value


@pytest.mark.parametrize(("text", "rule", "construct"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_each_refusal_names_its_rule_and_a_refusable_construct(text: str, rule: str,
                                                               construct: str) -> None:
    err = _refusal(text)
    assert err.backend == "mongodb"
    assert err.code == f"capability.mongodb.{rule}", err.render()
    assert err.construct == construct and construct in REFUSABLE
    assert err.span is not None and err.hint


def test_every_mongodb_refusal_of_the_corpus_has_a_rule_code() -> None:
    refused = []
    for entry in CORPUS:
        if "error" in entry:
            continue
        try:
            crossql.compile(entry["query"], backend="mongodb", params=entry.get("params"))
        except crossql.CapabilityError as err:
            refused.append(err)
    refused += [_refusal(text) for text, _, _ in REFUSALS]
    for err in refused:
        assert CODE.fullmatch(err.code), err.code
        assert err.construct in REFUSABLE


def test_every_refuse_call_of_the_package_gives_a_rule() -> None:
    """A refusal added later without a rule (code ``capability.mongodb`` alone) fails here
    even when no test query reaches it."""
    calls = 0
    for source in sorted(PACKAGE.glob("*.py")):
        for node in ast.walk(ast.parse(source.read_text("utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "refuse":
                calls += 1
                rules = [k.value for k in node.keywords if k.arg == "rule"]
                assert rules and isinstance(rules[0], ast.Constant), \
                    f"{source.name}:{node.lineno}: refuse() without a literal rule"
                assert re.fullmatch(r"[a-z]+(-[a-z]+)*", rules[0].value)
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == \
                    "CapabilityError":
                raise AssertionError(f"{source.name}:{node.lineno}: CapabilityError "
                                     "built without refuse()")
    assert calls >= 4


# a refused alias is about 1 draw in 10: at least 60 draws reach it
@settings(max_examples=examples(200, at_least=60), deadline=None)
@given(queries_with_names_backends_may_refuse())
def test_a_name_mongodb_refuses_is_a_located_refusal_never_a_traceback(query: ir.Query
                                                                        ) -> None:
    text = crossql.format(query)
    note(text)
    try:
        params = dict.fromkeys(check_query(query).param_names, 1)
    except QueryError:
        params = {}
    try:
        crossql.compile(text, backend="mongodb", params=params)
    except crossql.CapabilityError as err:
        assert err.backend == "mongodb" and CODE.fullmatch(err.code), err.code
        assert err.span is not None and err.construct in REFUSABLE
    except QueryError as err:
        assert not err.code.startswith("capability"), err.code
