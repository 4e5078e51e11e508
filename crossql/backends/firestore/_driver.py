"""Plan → real ``google.cloud.firestore`` objects. Imported only when a plan runs."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from google.cloud.firestore_v1.base_query import And as FsAnd
from google.cloud.firestore_v1.base_query import BaseFilter
from google.cloud.firestore_v1.base_query import FieldFilter as FsFieldFilter
from google.cloud.firestore_v1.base_query import Or as FsOr

from crossql.backends.firestore.plan import (
    ID_FIELD,
    And,
    FieldFilter,
    Filter,
    FirestorePlan,
    Limit,
    Offset,
    OrderBy,
    Select,
    Where,
    field_path,
)


def _value(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_value(v) for v in value]
    if isinstance(value, Decimal):  # a double exactly: the compiler checked (values.py)
        return float(value)
    return value


def _filter(node: Filter, collection: Any) -> BaseFilter:
    if isinstance(node, FieldFilter):
        if node.on_id:
            value: Any = ([collection.document(v) for v in node.value]
                          if isinstance(node.value, tuple) else collection.document(node.value))
        else:
            value = _value(node.value)
        return FsFieldFilter(field_path(node.field), node.op, value)
    children = [_filter(child, collection) for child in node.filters]
    return FsAnd(children) if isinstance(node, And) else FsOr(children)


def build(plan: FirestorePlan, client: Any) -> Any:
    """The ``AsyncQuery`` (or ``AsyncAggregationQuery``) of ``plan`` on ``client``."""
    collection = client.collection(plan.collection)
    if plan.document is not None:
        return collection.document(plan.document)
    query: Any = collection
    for step in plan.steps:
        if isinstance(step, Where):
            conjuncts = step.filter.filters if isinstance(step.filter, And) else (step.filter,)
            for conjunct in conjuncts:
                query = query.where(filter=_filter(conjunct, collection))
        elif isinstance(step, OrderBy):
            path = "__name__" if step.field == ID_FIELD else field_path(step.field)
            query = query.order_by(path, direction="DESCENDING" if step.descending
                                   else "ASCENDING")
        elif isinstance(step, Offset):
            query = query.offset(step.count)
        elif isinstance(step, Limit):
            query = query.limit(step.count)
        elif isinstance(step, Select):
            query = query.select([field_path(f) for f in step.fields])
    if not plan.aggregations:
        return query
    aggregation: Any = query
    for agg in plan.aggregations:
        if agg.func == "count":
            aggregation = aggregation.count(alias=agg.alias)
        else:
            assert agg.field is not None
            method = aggregation.sum if agg.func == "sum" else aggregation.avg
            aggregation = method(field_path(agg.field), alias=agg.alias)
    return aggregation
