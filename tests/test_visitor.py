"""The condition visitors are a closed world: every visitor in the package handles every
condition node of the IR (or refuses it by name), and one that does not fails when its
class is defined, naming the visitor and the node."""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from typing import Any

import pytest

import crossql
from crossql import ir, visitor
from crossql.visitor import CONDITION_TYPES, ConditionVisitor


def _all_visitors() -> list[type[ConditionVisitor[Any]]]:
    for module in pkgutil.walk_packages(crossql.__path__, "crossql."):
        if module.name.endswith("__main__"):
            continue
        try:
            importlib.import_module(module.name)
        except ImportError:  # pragma: no cover - an optional driver's adapter
            continue
    found, todo = [], list(ConditionVisitor.__subclasses__())
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return [c for c in found if c.__module__.startswith("crossql.")]


def test_every_visitor_of_the_package_covers_every_condition_node() -> None:
    visitors = _all_visitors()
    names = {v.NAME for v in visitors}
    assert {"formatter", "checks", "reference evaluator"} <= names, names
    for cls in visitors:
        assert set(cls.DISPATCH) == set(CONDITION_TYPES), cls


def test_the_world_is_the_irs_condition_nodes() -> None:
    assert set(CONDITION_TYPES) == {*ir.PREDICATE_TYPES, ir.Not, ir.And, ir.Or}
    assert len(CONDITION_TYPES) == 13


@dataclass(frozen=True)
class Near:
    """A predicate the IR does not have (yet)."""

    path: ir.Path


@pytest.mark.parametrize("cls", _all_visitors(), ids=lambda c: c.NAME)
def test_a_node_without_a_handler_fails_at_definition(monkeypatch: pytest.MonkeyPatch,
                                                      cls: type[ConditionVisitor[Any]]) -> None:
    monkeypatch.setattr(visitor, "CONDITION_TYPES", (*CONDITION_TYPES, Near))
    with pytest.raises(TypeError, match=rf"\({cls.NAME}\) handles no Near: write visit_<Node>"):
        type(cls.__name__, (cls,), {})


def test_an_unsupported_node_goes_to_refuse() -> None:
    class Refusing(ConditionVisitor[str]):
        NAME = "example"
        UNSUPPORTED = frozenset({ir.Matches})

        def visit_predicate(self, node: ir.Predicate) -> str:
            return "ok"

        def visit_Not(self, node: ir.Not) -> str:
            return self.visit(node.operand)

        visit_And = visit_Or = visit_Not  # type: ignore[assignment]

        def refuse(self, node: ir.Condition, *args: Any) -> str:
            return f"refused {type(node).__name__}"

    path = ir.Path(("a",))
    assert Refusing().visit(ir.Matches(path, ir.Literal("x", "string"))) == "refused Matches"
    assert Refusing().visit(ir.Exists(path)) == "ok"


def test_unsupported_without_refuse_is_a_definition_error() -> None:
    with pytest.raises(TypeError, match="lists UNSUPPORTED nodes but does not override"):
        class Broken(ConditionVisitor[None]):
            UNSUPPORTED = frozenset({ir.Matches})

            def visit_predicate(self, node: ir.Predicate) -> None: ...
            def visit_Not(self, node: ir.Not) -> None: ...
            def visit_And(self, node: ir.And) -> None: ...
            def visit_Or(self, node: ir.Or) -> None: ...


def test_visiting_something_else_names_the_visitor() -> None:
    from crossql.grammar.formatter import _TEXT

    with pytest.raises(TypeError, match="formatter: Path is not a condition node"):
        _TEXT.visit(ir.Path(("a",)))  # type: ignore[arg-type]
