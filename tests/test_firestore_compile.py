"""The Firestore compiler's shortcuts rest on facts these tests check.

- ``and_``/``or_`` give back their own output: the compiler skips rebuilding a tree
  (``expand_exists`` with nothing to expand, the document-id rewrite with nothing
  to rewrite) on that ground.
- Plan objects stay frozen dataclasses although they set their slots directly.
- Options and small plan parts are shared, never rebuilt differently.
"""

from __future__ import annotations

import dataclasses
import pickle
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import crossql
from crossql import ir
from crossql.backends.firestore.compiler import coerce_options, compile_firestore
from crossql.backends.firestore.filters import (
    Exists,
    FilterBuilder,
    Scan,
    and_,
    expand_exists,
    has_field,
    or_,
)
from crossql.backends.firestore.options import FirestoreOptions
from crossql.backends.firestore.plan import And, FieldFilter, Filter, FirestorePlan, Or, Where
from crossql.errors import CapabilityError
from tests.budget import examples
from tests.strategies import DEFAULT_SCHEMA, conditions

NATIVE = FirestoreOptions(native_or=True, native_not_equal=True)


def _refuse(code: str, construct: str, node: Any, message: str,
            hint: str | None = None) -> CapabilityError:
    return CapabilityError(message, backend="firestore", construct=construct, code=code)


def _composites(node: Filter) -> list[And | Or]:
    if isinstance(node, FieldFilter):
        return []
    out: list[And | Or] = [node]
    for child in node.filters:
        out.extend(_composites(child))
    return out


def _leaves(node: Filter) -> list[FieldFilter]:
    if isinstance(node, FieldFilter):
        return [node]
    return [leaf for child in node.filters for leaf in _leaves(child)]


def _present(node: Filter) -> frozenset[tuple[str, ...]] | None:
    """Paths every matching document has, the slow way (None: every path)."""
    if isinstance(node, FieldFilter):
        return frozenset(node.field[:n] for n in range(1, len(node.field) + 1))
    sets = [_present(c) for c in node.filters]
    if isinstance(node, And):
        if any(s is None for s in sets):
            return None
        return frozenset().union(*[s for s in sets if s is not None])
    known = [s for s in sets if s is not None]
    return frozenset.intersection(*known) if known else None


def _built(cond: ir.Condition, truth: bool) -> Filter | None:
    try:
        node = FilterBuilder(_refuse).build(cond, truth)
        return expand_exists(node, True, _refuse)
    except CapabilityError:
        return None


@settings(max_examples=examples(300), deadline=None, suppress_health_check=list(HealthCheck))
@given(conditions(DEFAULT_SCHEMA), st.booleans())
def test_and_or_give_back_their_own_output(cond: ir.Condition, truth: bool) -> None:
    tree = _built(cond, truth)
    if tree is None:
        return
    for node in _composites(tree):
        again = and_(node.filters) if isinstance(node, And) else or_(node.filters, node.origin)
        assert again == node
        if node.filters:
            # so expanding an exists nowhere below gives the very same tree back
            assert expand_exists(node, True, _refuse) is node


@settings(max_examples=examples(300), deadline=None, suppress_health_check=list(HealthCheck))
@given(conditions(DEFAULT_SCHEMA), st.booleans())
def test_scan_and_presence_agree_with_the_slow_walks(cond: ir.Condition, truth: bool) -> None:
    tree = _built(cond, truth)
    if tree is None:
        return
    found = Scan(tree)
    leaves = found.leaves
    assert [id(x) for x in leaves] == [id(x) for x in _leaves(tree)]
    assert found.inequalities == [x for x in leaves if x.is_inequality]
    assert found.special == [x for x in leaves
                             if x.op in ("in", "not-in", "array_contains_any", "!=")]
    present = _present(tree)
    for path in {leaf.field for leaf in leaves} | {("n",), ("m",), ("m", "k"), ("zz",)}:
        assert has_field(tree, path) == (present is None or path in present)


def test_an_exists_is_dropped_or_expanded_in_place() -> None:
    plan = crossql.compile("from c where a == 1 and exists(b) and n > 0 and exists(a)",
                           backend="firestore", options=NATIVE)
    assert plan.to_dict()["query"][0]["where"] == {"and": [
        {"field": "a", "op": "==", "value": 1},
        {"or": [{"field": "b", "op": "==", "value": None},
                {"field": "b", "op": "!=", "value": None}]},
        {"field": "n", "op": ">", "value": 0},
    ]}


def test_plan_objects_stay_frozen_dataclasses() -> None:
    leaf = FieldFilter(("a",), "==", 1, origin="somewhere")
    assert leaf == FieldFilter(("a",), "==", 1)  # the origin does not count
    assert hash(leaf) == hash(FieldFilter(("a",), "==", 1))
    with pytest.raises(dataclasses.FrozenInstanceError):
        leaf.op = "!="  # type: ignore[misc]
    assert dataclasses.replace(leaf, op="!=") == FieldFilter(("a",), "!=", 1)
    assert pickle.loads(pickle.dumps(leaf)) == leaf
    plan = FirestorePlan("c")
    assert plan.options == FirestoreOptions() and plan.steps == () and plan.static_rows is None
    assert FirestorePlan("c", steps=(Where(leaf),)).steps[0].filter is leaf  # type: ignore[union-attr]


def test_options_from_mappings_are_validated_once_and_refused_every_time() -> None:
    first = coerce_options({"native_or": True})
    assert first is coerce_options({"native_or": True})
    assert first == FirestoreOptions(native_or=True)
    assert coerce_options(None) == FirestoreOptions()
    assert coerce_options(NATIVE) is NATIVE
    for _ in range(2):
        with pytest.raises(ValueError):
            coerce_options({"native_xor": True})
    # 1 == True for a dict key, not for the cache: each validates as pydantic says
    for value in (1, True, "true"):
        assert coerce_options({"native_or": value}) == FirestoreOptions.model_validate(
            {"native_or": value})


def test_shared_plan_parts_are_equal_to_fresh_ones() -> None:
    text = ('from users where age >= 18 and (status == "active" or tags contains "vip") '
            'and name startswith "A" select name, age order by age desc limit 10')
    query = crossql.parse(text)
    assert isinstance(query, ir.Query)
    first = compile_firestore(query, options=NATIVE)
    second = compile_firestore(query, options=NATIVE)
    assert first == second and first.to_dict() == second.to_dict()
    assert first.notes == ("Firestore appends the inequality field `name` to the order "
                           "(ties only)",)
    other = crossql.compile(text.replace("select name, age", "select name, address.city as "
                                         "city, address, name as again"),
                            backend="firestore", options=NATIVE)
    assert other.to_dict()["query"][-1] == {"select": ["name", "address"]}
    assert not any(isinstance(s, Exists) for s in first.steps)
