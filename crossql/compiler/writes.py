"""Checks and parameter binding for writes (``update`` and ``delete``).

The ``where`` of a write is checked exactly as a read's (``checks._Checker``);
on top of it an update's assignments are checked here:

- ``_id`` (or a path below it) is never written: a document's id does not change.
- two assignments of one update may not touch the same field or a field and a
  path inside it (``set a = 1, a.b = 2``): their order would matter.
- ``p = p + n`` needs a number ``n`` (an int or a float, not a bool); a set value
  is any value (null, bool, number, string, list).
- ``limit`` is a non-negative integer, as in a read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from crossql import ir
from crossql.compiler.checks import (
    Slot,
    _bound_betweens,
    _Checker,
    _error,
    _substitute,
    _value_of,
    check_param_value,
)
from crossql.limits import MAX_PARAMETERS


@dataclass(frozen=True, slots=True)
class CheckedWrite:
    """A write that passed every parameter-independent check."""

    statement: ir.Update | ir.Delete
    slots: tuple[Slot, ...]

    @property
    def param_names(self) -> frozenset[str]:
        """Names of every parameter the write uses."""
        return frozenset(slot.name for slot in self.slots)


def _checker(statement: ir.Update | ir.Delete) -> _Checker:
    return _Checker(ir.Query(statement.collection, statement.where, span=statement.span,
                             source=statement.source))


def check_write(statement: ir.Update | ir.Delete) -> CheckedWrite:
    """Run every check of a write that needs no parameter value; raise
    ``QuerySemanticError``."""
    checker = _checker(statement)
    if isinstance(statement, ir.Update):
        seen: dict[tuple[str, ...], ir.Assignment] = {}
        for item in statement.assignments:
            segments = item.path.segments
            if segments[0] == "_id":
                raise checker.err(f"`{item.path.dotted}` cannot be written: `_id` is the "
                                  "document's id", "write-id", item.path.span,
                                  hint="insert a new document to change an id")
            clash = next((seen[segments[:n]] for n in range(1, len(segments) + 1)
                          if segments[:n] in seen), None)
            if clash is None:
                clash = next((other for key, other in seen.items()
                              if key[:len(segments)] == segments), None)
            if clash is not None:
                raise checker.err(f"`{item.path.dotted}` and `{clash.path.dotted}` are "
                                  "written by the same update", "conflicting-write",
                                  item.span, hint="write each field once, and not both a "
                                  "map and a field inside it")
            seen[segments] = item
            if isinstance(item, ir.SetField):
                checker.value(item.value, "value", "`set`")
            elif isinstance(item, ir.Increment):
                amount = item.amount
                if isinstance(amount, ir.Param):
                    checker.slots.append(Slot(amount.name, "number", amount.span))
                elif amount.kind not in ("int", "float"):
                    raise checker.err("an increment adds a number", "type-mismatch",
                                      amount.span)
    if statement.where is not None:
        checker.condition(statement.where)
    checker.count(statement.limit, "limit")
    names = {slot.name for slot in checker.slots}
    if len(names) > MAX_PARAMETERS:
        raise checker.err(f"the statement uses {len(names)} parameters; the limit is "
                          f"{MAX_PARAMETERS}", "too-many-parameters", statement.span)
    return CheckedWrite(statement, tuple(checker.slots))


def bind_write(checked: CheckedWrite, params: Mapping[str, Any] | None) -> ir.Update | ir.Delete:
    """Substitute every parameter of a checked write; refuse unbound and unused ones."""
    params = params or {}
    statement = checked.statement
    source = statement.source
    values: dict[str, Any] = {}
    for slot in checked.slots:
        if slot.name not in params:
            raise _error(f"parameter `:{slot.name}` is not bound", "unbound-parameter",
                         slot.span, source=source,
                         hint=f"pass {slot.name}=... when running the statement")
        value = values[slot.name] if slot.name in values else params[slot.name]
        values[slot.name] = check_param_value(value, slot, source)
    unused = sorted(str(n) for n in set(params) - checked.param_names)
    if unused:
        raise _error("unused parameter" + ("s " if len(unused) > 1 else " ")
                     + ", ".join(f"`:{n}`" for n in unused[:10]), "unused-parameter",
                     statement.span, source=source, hint="remove it, or use it in the statement")
    if not checked.slots:
        return statement
    where = _substitute(statement.where, values) if statement.where is not None else None
    limit = _value_of(statement.limit, values)
    if where is not None and statement.where is not None:
        checker = _checker(statement)
        for node in _bound_betweens(statement.where, where):
            checker.condition(node)
    if isinstance(statement, ir.Delete):
        return ir.Delete(statement.collection, where, limit, statement.span, statement.source)
    assignments: list[ir.Assignment] = []
    for item in statement.assignments:
        if isinstance(item, ir.SetField):
            item = ir.SetField(item.path, _value_of(item.value, values), item.span)
        elif isinstance(item, ir.Increment):
            item = ir.Increment(item.path, _value_of(item.amount, values), item.span)
        assignments.append(item)
    return ir.Update(statement.collection, tuple(assignments), where, limit, statement.span,
                     statement.source)
