"""The Firestore filter builder is a closed-world ``ConditionVisitor``, and every
refusal it (or the planner, or the write compiler) makes has one shape:
``capability.firestore.<rule>`` naming a construct of ``REFUSABLE``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest

import crossql
from crossql import ir, visitor
from crossql.backends.base import REFUSABLE
from crossql.backends.firestore.compiler import _Compiler
from crossql.backends.firestore.filters import FilterBuilder
from crossql.errors import CapabilityError
from tests.backends.firestore_support import LIMIT_CASES, PROFILES
from tests.plan_corpus import VALID

CODE = re.compile(r"capability\.firestore\.[a-z0-9]+(-[a-z0-9]+)*")


def test_the_builders_handle_every_condition_node() -> None:
    for cls in (FilterBuilder, _Compiler):
        assert set(cls.DISPATCH) == set(visitor.CONDITION_TYPES)
        # the predicates Firestore has no filter for go to the one refuse
        assert cls.DISPATCH[ir.Matches] is cls.DISPATCH[ir.Size] is cls.refuse


def test_a_builder_missing_a_handler_fails_when_defined(monkeypatch: pytest.MonkeyPatch) -> None:
    @dataclass(frozen=True, slots=True)
    class Near:  # a predicate added to the IR, with no visit_Near anywhere
        path: ir.Path

    monkeypatch.setattr(visitor, "CONDITION_TYPES", (*visitor.CONDITION_TYPES, Near))
    with pytest.raises(TypeError, match=r"\(firestore\) handles no Near\b"):
        class Builder(FilterBuilder):
            pass
    with pytest.raises(TypeError, match=r"\(firestore\) handles no StartsWith\b"):
        class Partial(FilterBuilder):  # a handler taken away
            visit_StartsWith = None


def _refusals() -> list[tuple[str, CapabilityError]]:
    """Every Firestore refusal of the corpus (both profiles), of the refusal and limit
    tables, and of the write compiler."""
    texts: list[tuple[str, dict[str, Any] | None]] = [
        (e["query"], e.get("params")) for e in VALID]
    texts += [(past, None) for _, _, past, _ in LIMIT_CASES]
    texts += [(q, None) for q in (
        'from c where not (t contains "x")', 'from c where _id > "a/b"',
        'from c where not (t contains any ["x"])', 'from c where f matches "a"',
        "from c where size(f) == 1", "from c select min(f) as m",
        "from c select count() as n, sum(f) as s", "from c where not exists(f)",
        "from c group by g select g", "from c where f > 1 order by _id")]
    out: list[tuple[str, CapabilityError]] = []
    for text, params in texts:
        for options in PROFILES.values():
            try:
                crossql.compile(text, backend="firestore", params=params, options=options)
            except CapabilityError as err:
                out.append((text, err))
    for text in ("update c set a = [[1]] where true",
                 "update c set " + ".".join(["a"] * 21) + " = 1 where true"):
        with pytest.raises(CapabilityError) as info:
            crossql.compile(text, backend="firestore")
        out.append((text, info.value))
    return out


def test_every_refusal_has_a_rule_and_a_construct_of_the_closed_list() -> None:
    refusals = _refusals()
    assert len(refusals) >= 40
    codes = set()
    for text, err in refusals:
        assert err.backend == "firestore", text
        assert CODE.fullmatch(err.code), (text, err.code)
        assert err.construct in REFUSABLE, (text, err.construct)
        codes.add(err.code)
    # the refusals seen are of many rules, not one
    assert {"capability.firestore.not-contains", "capability.firestore.id-value",
            "capability.firestore.nested-array", "capability.firestore.path-segments",
            "capability.firestore.matches", "capability.firestore.size"} <= codes
