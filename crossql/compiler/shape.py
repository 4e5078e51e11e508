"""What a query's rows look like: output names of select items, order key meaning.

Shared by the reference evaluator and every backend so they name outputs alike.

- A selected path keeps its place in the document: ``select address.city`` gives
  ``{"address": {"city": ...}}`` (as MongoDB, Firestore and DynamoDB projections do).
- An alias gives a flat key: ``select address.city as city`` gives ``{"city": ...}``.
- An aggregate without alias is named by its text: ``count()``, ``sum(total)``.
"""

from __future__ import annotations

from crossql import ir


def aggregate_text(agg: ir.Aggregate) -> str:
    """The default output name of an aggregate: ``count()``, ``sum(total)``."""
    return f"{agg.func}({agg.arg.dotted if agg.arg is not None else ''})"


def output_name(item: ir.SelectItem) -> str:
    """The name of a select item in the output (alias, dotted path or aggregate text)."""
    if item.alias is not None:
        return item.alias
    if isinstance(item.expr, ir.Aggregate):
        return aggregate_text(item.expr)
    return item.expr.dotted


def output_key(item: ir.SelectItem) -> tuple[str, ...]:
    """Where a select item lands in an output row (nested for unaliased paths)."""
    if item.alias is not None:
        return (item.alias,)
    if isinstance(item.expr, ir.Aggregate):
        return (aggregate_text(item.expr),)
    return item.expr.segments


def resolve_order_key(query: ir.Query, key: ir.OrderKey) -> ir.SelectItem | None:
    """The select item an order key names by alias, or None when it is a plain path."""
    segs = key.path.segments
    if len(segs) == 1:
        for item in query.select:
            if item.alias == segs[0]:
                return item
    return None
