"""One way to walk a condition: ``visit_<Node>`` methods, dispatched by a table that is
built when the visitor class is created (Ibis' compilers are the model).

The world is closed: a concrete visitor either handles every condition node of
``crossql.ir`` (``CONDITION_TYPES``) or lists it in ``UNSUPPORTED`` (bound to its one
``refuse`` method). A visitor class that leaves a node out fails when it is defined —
at import — with a ``TypeError`` naming the visitor and the node, so a predicate added
to the IR is a failure of the test that imports every visitor, not a bare error the
first time a query holding it is compiled.

>>> from crossql import ir
>>> class Leaves(ConditionVisitor[int]):
...     NAME = "example"
...     def visit_predicate(self, node: ir.Predicate) -> int:
...         return 1
...     def visit_Not(self, node: ir.Not) -> int:
...         return self.visit(node.operand)
...     def visit_And(self, node: ir.And) -> int:
...         return sum(self.visit(c) for c in node.operands)
...     visit_Or = visit_And
>>> Leaves().visit(ir.And((ir.Exists(ir.Path(("a",))), ir.Exists(ir.Path(("b",))))))
2
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Generic, TypeVar

from crossql import ir

R = TypeVar("R")

CONDITION_TYPES: tuple[type, ...] = (*ir.PREDICATE_TYPES, ir.Not, ir.And, ir.Or)
"""Every condition node of the IR: the world a visitor must cover."""


class ConditionVisitor(Generic[R]):
    """Base of every condition walk (checks, formatter, reference evaluator, ...).

    A subclass defines ``visit_<Node>`` for each node class of ``CONDITION_TYPES``
    (``visit_predicate`` serves every predicate without a method of its own), or
    lists the node in ``UNSUPPORTED`` and overrides ``refuse``. Pass
    ``abstract=True`` in the class statement for an intermediate base that
    leaves handlers to its subclasses. Extra positional arguments of ``visit`` are
    handed to the handler (the reference evaluator passes the document)."""

    NAME: ClassVar[str] = ""
    """Who walks (a backend's name, or a stage): error messages say it."""
    UNSUPPORTED: ClassVar[frozenset[type]] = frozenset()
    """Nodes this visitor refuses as a whole (each goes to ``refuse``)."""
    DISPATCH: ClassVar[dict[type, Callable[..., Any]]] = {}

    def __init_subclass__(cls, *, abstract: bool = False, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if abstract:
            return
        who = f"{cls.__qualname__} ({cls.NAME})" if cls.NAME else cls.__qualname__
        if cls.UNSUPPORTED and cls.refuse is ConditionVisitor.refuse:
            raise TypeError(f"{who} lists UNSUPPORTED nodes but does not override refuse()")
        table: dict[type, Callable[..., Any]] = {}
        missing = []
        for node in CONDITION_TYPES:
            handler = getattr(cls, f"visit_{node.__name__}", None)
            if node in cls.UNSUPPORTED:
                handler = cls.refuse
            elif handler is None and node in ir.PREDICATE_TYPES:
                handler = getattr(cls, "visit_predicate", None)
            if handler is None:
                missing.append(node.__name__)
            else:
                table[node] = handler
        if missing:
            raise TypeError(f"{who} handles no {', '.join(missing)}: write visit_<Node> "
                            "for each, or list it in UNSUPPORTED")
        cls.DISPATCH = table

    def visit(self, node: ir.Condition, *args: Any) -> R:
        """The result of this visitor's handler for ``node``."""
        handler = self.DISPATCH.get(type(node))
        if handler is None:
            raise TypeError(f"{self.NAME or type(self).__qualname__}: "
                            f"{type(node).__name__} is not a condition node")
        result: R = handler(self, node, *args)
        return result

    def refuse(self, node: ir.Condition, *args: Any) -> R:
        """The answer for a node of ``UNSUPPORTED`` (a visitor that has any overrides
        this, typically to raise a located ``CapabilityError``)."""
        raise NotImplementedError


class _ConditionPaths(ConditionVisitor[None]):
    """The paths a condition tests, appended to ``out`` (values hold no paths)."""

    NAME = "paths"

    def visit_predicate(self, node: ir.Predicate, out: list[ir.Path]) -> None:
        out.append(node.path)

    def visit_Not(self, node: ir.Not, out: list[ir.Path]) -> None:
        self.DISPATCH[type(node.operand)](self, node.operand, out)

    def visit_And(self, node: ir.And | ir.Or, out: list[ir.Path]) -> None:
        dispatch = self.DISPATCH
        for operand in node.operands:
            dispatch[type(operand)](self, operand, out)

    visit_Or = visit_And


_CONDITION_PATHS = _ConditionPaths()


def _query_paths(node: ir.Query, out: list[ir.Path]) -> None:
    if node.where is not None:
        _CONDITION_PATHS.visit(node.where, out)
    for clause in (node.group_by, node.select, node.order_by):
        for item in clause:
            _PATHS[type(item)](item, out)


def _write_paths(node: ir.Update | ir.Delete, out: list[ir.Path]) -> None:
    if isinstance(node, ir.Update):
        out.extend(assignment.path for assignment in node.assignments)
    if node.where is not None:
        _CONDITION_PATHS.visit(node.where, out)


def _select_paths(node: ir.SelectItem, out: list[ir.Path]) -> None:
    _PATHS[type(node.expr)](node.expr, out)


def _aggregate_paths(node: ir.Aggregate, out: list[ir.Path]) -> None:
    if node.arg is not None:
        out.append(node.arg)


def _tuple_paths(node: tuple[Any, ...], out: list[ir.Path]) -> None:
    for item in node:
        _visit_paths(item, out)


def _visit_paths(node: Any, out: list[ir.Path]) -> None:
    walk = _PATHS.get(type(node))
    if walk is None:
        raise TypeError(f"paths() does not know {type(node).__name__}")
    walk(node, out)


_LEAVES: frozenset[type] = frozenset({str, int, float, bool, type(None)})

_PATHS: dict[type, Callable[[Any, list[ir.Path]], None]] = {
    **{kind: _CONDITION_PATHS.visit for kind in CONDITION_TYPES},
    ir.Query: _query_paths,
    ir.Update: _write_paths,
    ir.Delete: _write_paths,
    ir.SetField: lambda node, out: out.append(node.path),
    ir.Increment: lambda node, out: out.append(node.path),
    ir.Unset: lambda node, out: out.append(node.path),
    ir.SelectItem: _select_paths,
    ir.Aggregate: _aggregate_paths,
    ir.OrderKey: lambda node, out: out.append(node.path),
    ir.Path: lambda node, out: out.append(node),
    tuple: _tuple_paths,
    **{kind: lambda node, out: None for kind in _LEAVES},
}
"""Per node class outside conditions, how ``paths`` finds the paths below it."""


def paths(node: Any) -> list[ir.Path]:
    """Every ``Path`` in ``node`` (a statement, condition, clause item or tuple of them),
    in the order ``ir.walk`` meets them; a fast special case of ``ir.walk`` for name
    checks. Conditions go through the one condition walk, ``ConditionVisitor``."""
    out: list[ir.Path] = []
    _visit_paths(node, out)
    return out
