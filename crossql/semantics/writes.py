"""The reference semantics of writes: what ``update`` and ``delete`` do to documents.

The memory backend runs these functions; every other backend is tested against
them. The rules (docs/language.md, "Writes"; docs/decisions.md):

- A document is written only where the ``where`` is **true** (three-valued logic,
  exactly as a read: unknown is not written).
- An update also writes a document only where each assignment applies: every
  proper prefix of an assigned path is missing or a map (``set a.b = 1`` creates
  ``a`` when it is missing, and leaves a document whose ``a`` is ``5`` alone), and
  for ``p = p + n`` the field ``p`` holds a number. A document where one does not
  apply is not matched, as if the ``where`` had said so; none is half-written.
- ``limit n`` writes the first ``n`` such documents in collection order (memory:
  insertion order). Other backends may pick other ``n`` documents.
- ``matched`` counts the documents selected; ``modified`` those whose content
  changed (setting a field to the value it holds, of the same type, changes
  nothing); ``deleted`` those removed.
- An increment whose result leaves the 64-bit integer range, or is not a finite
  float, is an error and nothing is written.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Any

from crossql import ir
from crossql.errors import BackendError
from crossql.grammar.parser import INT64_MAX, INT64_MIN
from crossql.semantics.reference import MISSING, copy_value, evaluate_condition, get_path


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What a write did: documents ``matched`` by it, ``modified`` (content changed)
    and ``deleted``."""

    matched: int = 0
    modified: int = 0
    deleted: int = 0


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def assignment_applies(item: ir.Assignment, doc: Mapping[str, Any]) -> bool:
    """Whether ``item`` can be written on ``doc``: parents missing or maps; an
    increment's field a number."""
    segments = item.path.segments
    current: Any = doc
    for seg in segments[:-1]:
        current = current.get(seg, MISSING)
        if current is MISSING:
            break
        if not isinstance(current, dict):
            return False
    if isinstance(item, ir.Increment):
        return _is_number(get_path(doc, segments))
    return True


def selects(statement: ir.Update | ir.Delete, doc: Mapping[str, Any]) -> bool:
    """Whether the write takes ``doc``: its ``where`` is true and (for an update) every
    assignment applies."""
    if statement.where is not None and evaluate_condition(statement.where, doc) is not True:
        return False
    if isinstance(statement, ir.Update):
        return all(assignment_applies(a, doc) for a in statement.assignments)
    return True


def _increment(value: Any, amount: Any, item: ir.Increment) -> Any:
    if isinstance(value, Decimal) != isinstance(amount, Decimal):
        # exact arithmetic when one side is exact; a float counts as its shortest text
        value, amount = (Decimal(repr(v)) if isinstance(v, float) else Decimal(v)
                         for v in (value, amount))
    if isinstance(value, Decimal) and value.is_finite() and amount.is_finite():
        # exactly: the default context rounds to 28 digits (DynamoDB keeps 38)
        with localcontext() as exact:
            exact.prec = max(28, value.adjusted(), amount.adjusted()) \
                - min(value.as_tuple().exponent, amount.as_tuple().exponent) + 2
            result = value + amount
    else:
        result = value + amount
    if isinstance(result, Decimal) and not result.is_finite():
        raise BackendError("memory", f"`{item.path.dotted} + {amount}` is not a finite "
                           "number; nothing was written")
    if isinstance(result, int) and not INT64_MIN <= result <= INT64_MAX:
        raise BackendError("memory", f"`{item.path.dotted} + {amount}` leaves the 64-bit "
                           "integer range; nothing was written")
    if isinstance(result, float) and not math.isfinite(result):
        raise BackendError("memory", f"`{item.path.dotted} + {amount}` is not a finite "
                           "number; nothing was written")
    return result


def updated(statement: ir.Update, doc: Mapping[str, Any]) -> dict[str, Any]:
    """A new document: ``doc`` with the (bound) assignments of ``statement`` applied."""
    new: dict[str, Any] = copy_value(dict(doc))
    for item in statement.assignments:
        *parents, last = item.path.segments
        target = new
        if isinstance(item, ir.Unset):
            for seg in parents:
                target = target.get(seg)  # type: ignore[assignment]
                if not isinstance(target, dict):
                    break
            else:
                target.pop(last, None)
            continue
        for seg in parents:
            target = target.setdefault(seg, {})
        if isinstance(item, ir.SetField):
            value = item.value
            assert not isinstance(value, ir.Param), "a bound statement has no parameters"
            target[last] = ir.python_value(value)
        else:
            amount = item.amount
            assert isinstance(amount, ir.Literal), "a bound statement has no parameters"
            target[last] = _increment(target[last], amount.value, item)
    return new


def strict_equal(a: Any, b: Any) -> bool:
    """Equality that also compares types (``1`` is not ``1.0``, ``True`` is not ``1``):
    whether a write changed a value."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(strict_equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(strict_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _limit(statement: ir.Update | ir.Delete) -> int | None:
    limit = statement.limit
    if limit is None:
        return None
    assert isinstance(limit, ir.Literal) and isinstance(limit.value, int)
    return limit.value


def chosen(statement: ir.Update | ir.Delete, docs: list[dict[str, Any]]) -> list[int]:
    """Indexes (in collection order) of the documents the write takes, ``limit`` applied."""
    limit = _limit(statement)
    out: list[int] = []
    for i, doc in enumerate(docs):
        if limit is not None and len(out) >= limit:
            break
        if selects(statement, doc):
            out.append(i)
    return out


def apply(statement: ir.Update | ir.Delete,
          documents: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], WriteResult]:
    """The collection after a bound write, and what it did. ``documents`` is not changed;
    an error (an increment out of range) leaves nothing written."""
    indexes = chosen(statement, documents)
    if isinstance(statement, ir.Delete):
        doomed = set(indexes)
        kept = [doc for i, doc in enumerate(documents) if i not in doomed]
        return kept, WriteResult(matched=len(indexes), deleted=len(indexes))
    out = list(documents)
    modified = 0
    for i in indexes:
        new = updated(statement, documents[i])
        if not strict_equal(new, documents[i]):
            modified += 1
            out[i] = new
    return out, WriteResult(matched=len(indexes), modified=modified)
