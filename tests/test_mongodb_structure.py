"""How MongoDB's compiler is built: its memos are the one bounded ``Memo``, and its
condition compiler is a closed-world visitor (a node without a handler fails at class
definition, naming the backend and the node)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

import crossql
from crossql import ir, visitor
from crossql._memo import MEMOS, Memo
from crossql.backends.mongodb import compiler, filters
from crossql.backends.mongodb.filters import FilterBuilder
from crossql.visitor import CONDITION_TYPES, ConditionVisitor


def test_the_memos_are_bounded_memos_and_stay_bounded() -> None:
    memos = [filters._DOTTED, filters._PREFIXES, compiler._PROJECTIONS, compiler._SORTS]
    for memo in memos:
        assert isinstance(memo, Memo) and any(m is memo for m in MEMOS)
        assert memo.name.startswith("mongodb ")
    for n in range(filters._MEMO_SIZE + 10):
        crossql.compile(f"from c where a.b{n}.c == 1 select x{n % 50} order by y{n}",
                        backend="mongodb")
    for memo in memos:
        assert 0 < len(memo) <= memo.limit, memo
    # after the memos started again, names and prefixes are still right
    plan = crossql.compile("from c where a.b0.c == 1", backend="mongodb")
    assert plan.filter == {"$and": [{"a": {"$not": {"$type": "array"}}},
                                    {"a.b0": {"$not": {"$type": "array"}}},
                                    {"a.b0.c": {"$eq": 1, "$not": {"$type": "array"}}}]}


@dataclass(frozen=True)
class Near:
    """A predicate the IR does not have (yet)."""

    path: ir.Path


def test_a_node_mongodb_does_not_handle_fails_at_class_definition(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(visitor, "CONDITION_TYPES", (*CONDITION_TYPES, Near))
    with pytest.raises(TypeError, match=r"Filters \(mongodb\) handles no Near: write "
                                        r"visit_<Node>"):
        type("Filters", (FilterBuilder,), {})


def test_every_node_has_a_handler_of_its_own() -> None:
    """No catch-all: each of the 13 condition nodes is named by a ``visit_<Node>`` of the
    MongoDB compiler, so leaving one out is the failure above."""
    handlers = {k: v for k, v in vars(FilterBuilder).items() if k.startswith("visit_")}
    assert set(handlers) == {f"visit_{n.__name__}" for n in CONDITION_TYPES}
    assert {FilterBuilder.DISPATCH[n] for n in CONDITION_TYPES} == set(handlers.values())
    without_size = {k: v for k, v in handlers.items() if k != "visit_Size"}
    with pytest.raises(TypeError, match=r"Partial \(mongodb\) handles no Size"):
        type("Partial", (ConditionVisitor,), {"NAME": "mongodb", **without_size})
