"""``expand_top_exists`` (the Firestore compiler's shortcut when every ``exists`` of a
condition lands at the top of its tree) gives what ``expand_exists`` gives, or None."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crossql import ir
from crossql.backends.firestore.filters import (
    Exists,
    FilterBuilder,
    expand_exists,
    expand_top_exists,
)
from crossql.backends.firestore.plan import And
from crossql.errors import CapabilityError
from crossql.grammar import parse_query
from tests.budget import examples
from tests.strategies import DEFAULT_SCHEMA, conditions


def _refuse(code: str, construct: str, node: Any, message: str,
            hint: str | None = None) -> CapabilityError:
    return CapabilityError(message, backend="firestore", construct=construct,
                           code=f"capability.firestore.{code}")


def _outcome(run: Any) -> Any:
    try:
        tree = run()
    except CapabilityError as err:
        return ("refused", err.code)
    return tree if tree is None else ("tree", tree, tree.to_dict())


def _check(cond: ir.Condition, truth: bool) -> bool:
    """True when the shortcut answered (not None); asserts it agrees."""
    builder = FilterBuilder(_refuse)
    try:
        built = builder.build(cond, truth)
    except CapabilityError:
        return False
    if type(built) is not And or not builder.made_exists:
        return False
    for allowed in (True, False):
        fast = _outcome(lambda allowed=allowed: expand_top_exists(
            built, builder.made_exists, allowed, _refuse))
        if fast is None:
            return False
        assert fast == _outcome(lambda allowed=allowed: expand_exists(built, allowed, _refuse))
    return True


def test_top_level_exists_expand_alike() -> None:
    answered = 0
    for text in ["exists(a) and b > 1 and exists(c.d)",
                 "b > 1 and (exists(a) or c == 1) and exists(d)",  # one deeper: None
                 "exists(a) and a > 1 and exists(b)",  # one dropped (implied): None
                 "exists(a) and exists(a) and b == 2",  # one dropped (repeated): None
                 "not (not exists(a) or b != 2) and c in [1, 2]"]:
        cond = parse_query(f"from t where {text}").where
        assert cond is not None
        answered += _check(cond, True)
    assert answered == 2
    # a count below what the builder made always means "walk"
    cond = parse_query("from t where b > 1 and exists(a)").where
    assert cond is not None
    built = FilterBuilder(_refuse).build(cond)
    assert isinstance(built, And)
    assert expand_top_exists(built, 2, True, _refuse) is None
    assert any(type(c) is Exists for c in built.filters)


@settings(max_examples=examples(300), deadline=None, suppress_health_check=list(HealthCheck))
@given(conditions(DEFAULT_SCHEMA), st.booleans())
def test_generated_conditions_expand_alike(cond: ir.Condition, truth: bool) -> None:
    _check(cond, truth)
