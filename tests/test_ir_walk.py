"""``visitor.paths`` and the cached ``ir.walk``: the fast traversals behind name checks."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

import crossql
from crossql import ir, visitor
from tests.budget import examples
from tests.strategies import any_query


def _paths_by_walk(node: object) -> list[ir.Path]:
    return [n for n in ir.walk(node) if isinstance(n, ir.Path)]


@settings(max_examples=examples(300))
@given(any_query(valid=False))
def test_paths_are_the_paths_walk_meets_in_the_same_order(query: ir.Query) -> None:
    assert [p.segments for p in visitor.paths(query)] == [p.segments for p in _paths_by_walk(query)]
    if query.where is not None:
        assert list(visitor.paths(query.where)) == _paths_by_walk(query.where)
    clauses = (query.group_by, query.select, query.order_by)
    assert list(visitor.paths(clauses)) == _paths_by_walk(clauses)


def test_walk_order() -> None:
    q = ir.Query("c", where=ir.And((ir.Compare("==", ir.Path(("a",)), ir.Literal(1, "int")),
                                    ir.Not(ir.Exists(ir.Path(("b", "c")))))),
                 select=(ir.SelectItem(ir.Aggregate("sum", ir.Path(("d",))), "s"),))
    names = [type(n).__name__ for n in ir.walk(q)]
    assert names == ["Query", "And", "Compare", "Path", "Literal", "Not", "Exists", "Path",
                     "SelectItem", "Aggregate", "Path"]
    assert [p.segments for p in visitor.paths(q)] == [("a",), ("b", "c"), ("d",)]


def test_paths_of_writes_and_clause_items_are_the_paths_walk_meets() -> None:
    for text in ("update users set a.b = 1, n = n + 2, unset c where d > 1 and not exists(e)",
                 "delete from users where x in [1, 2] limit 3"):
        statement = crossql.parse(text)
        assert visitor.paths(statement) == _paths_by_walk(statement)
    with pytest.raises(TypeError, match="paths\\(\\) does not know Literal"):
        visitor.paths(ir.Literal(1, "int"))
