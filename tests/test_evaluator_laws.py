"""Laws of three-valued logic and of rows, checked on generated conditions, queries
and documents (typed documents, and "wild" ones whose fields hold any type)."""

from __future__ import annotations

import itertools
from dataclasses import replace
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import crossql
from crossql import ir
from crossql.semantics.reference import MISSING, evaluate_condition, freeze, get_path, sort_key
from tests.budget import examples
from tests.strategies import (
    DEFAULT_SCHEMA,
    MAX_DOCS,
    Field,
    conditions,
    documents,
    drop_paging,
    queries,
    wild_documents,
)

LAWS = settings(max_examples=examples(300), deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

any_docs = st.one_of(documents(12), documents(12), wild_documents(10))


def where_ids(cond: ir.Condition, docs: list[dict[str, Any]]) -> list[str]:
    rows = crossql.evaluate(ir.Query("docs", where=cond), docs)
    return [row["_id"] for row in rows]


@LAWS
@given(conditions(DEFAULT_SCHEMA), any_docs)
def test_true_false_unknown_partition_the_collection(
    c: ir.Condition, docs: list[dict[str, Any]]
) -> None:
    true = where_ids(c, docs)
    false = where_ids(ir.Not(c), docs)
    unknown = [d["_id"] for d in docs if evaluate_condition(c, d) is None]
    assert not set(true) & set(false)
    assert not set(true) & set(unknown)
    assert not set(false) & set(unknown)
    assert sorted(true + false + unknown) == sorted(d["_id"] for d in docs)
    # rows keep the collection's order
    order = [d["_id"] for d in docs]
    assert true == [i for i in order if i in set(true)]


@LAWS
@given(conditions(DEFAULT_SCHEMA), conditions(DEFAULT_SCHEMA), any_docs)
def test_and_is_intersection(
    c: ir.Condition, d: ir.Condition, docs: list[dict[str, Any]]
) -> None:
    both = set(where_ids(ir.And((c, d)), docs))
    assert both == set(where_ids(c, docs)) & set(where_ids(d, docs))
    # and the false side: `not (c and d)` is `not c or not d` (De Morgan holds in Kleene logic)
    assert set(where_ids(ir.Not(ir.And((c, d))), docs)) == (
        set(where_ids(ir.Not(c), docs)) | set(where_ids(ir.Not(d), docs)))


@LAWS
@given(conditions(DEFAULT_SCHEMA), conditions(DEFAULT_SCHEMA), any_docs)
def test_or_is_union(c: ir.Condition, d: ir.Condition, docs: list[dict[str, Any]]) -> None:
    either = set(where_ids(ir.Or((c, d)), docs))
    assert either == set(where_ids(c, docs)) | set(where_ids(d, docs))
    assert set(where_ids(ir.Not(ir.Or((c, d))), docs)) == (
        set(where_ids(ir.Not(c), docs)) & set(where_ids(ir.Not(d), docs)))


@LAWS
@given(conditions(DEFAULT_SCHEMA), any_docs)
def test_double_negation(c: ir.Condition, docs: list[dict[str, Any]]) -> None:
    for doc in docs:
        assert evaluate_condition(ir.Not(ir.Not(c)), doc) is evaluate_condition(c, doc)


@LAWS
@given(conditions(DEFAULT_SCHEMA, max_leaves=1), any_docs)
def test_predicate_rewrites(c: ir.Condition, docs: list[dict[str, Any]]) -> None:
    # between is two comparisons; in is a disjunction of equalities on a present field;
    # != is `not ==` on a present, non-null field
    for doc in docs:
        got = evaluate_condition(c, doc)
        match c:
            case ir.Between(path=p, low=lo, high=hi):
                want = evaluate_condition(
                    ir.And((ir.Compare(">=", p, lo), ir.Compare("<=", p, hi))), doc)
                assert got is want
            case ir.In(path=p, values=ir.ListValue(items=items), negated=negated) if items:
                if get_path(doc, p.segments) is MISSING:
                    assert got is None
                    continue
                want = evaluate_condition(
                    ir.Or(tuple(ir.Compare("==", p, v) for v in items))
                    if len(items) > 1 else ir.Compare("==", p, items[0]), doc)
                assert got is (want if not negated else (None if want is None else not want))
            case ir.Compare(op="!=", path=p, value=v) if isinstance(v, ir.Literal) and (
                v.kind != "null"
            ):
                want = evaluate_condition(ir.Compare("==", p, v), doc)
                assert got is (None if want is None else not want)
            case ir.Compare(op=op, path=p, value=v) if op in ("<", ">="):
                flipped = "<" if op == ">=" else ">="
                other = evaluate_condition(ir.Compare(flipped, p, v), doc)
                assert got is (None if other is None else not other)


@LAWS
@given(queries(DEFAULT_SCHEMA, grouped=False), documents(12))
def test_order_by_does_not_filter_and_sorts(query: ir.Query, docs: list[dict[str, Any]]) -> None:
    unordered = crossql.evaluate(replace(drop_paging(query), order_by=(), select=()), docs)
    ordered = crossql.evaluate(replace(drop_paging(query), select=()), docs)
    assert sorted(r["_id"] for r in ordered) == sorted(r["_id"] for r in unordered)
    keys = [k for k in query.order_by if not _is_alias(query, k)]
    for a, b in itertools.pairwise(ordered):
        for key in keys:
            ka, kb = sort_key(get_path(a, key.path.segments)), sort_key(
                get_path(b, key.path.segments))
            if ka == kb:
                continue
            assert (ka > kb) if key.descending else (ka < kb)
            break


def _is_alias(query: ir.Query, key: ir.OrderKey) -> bool:
    segs = key.path.segments
    return len(segs) == 1 and any(i.alias == segs[0] for i in query.select)


@LAWS
@given(queries(DEFAULT_SCHEMA), documents(12))
def test_limit_offset_slice_the_whole_result(
    query: ir.Query, docs: list[dict[str, Any]]
) -> None:
    whole = crossql.evaluate(drop_paging(query), docs)
    offset = int(query.offset.value) if isinstance(query.offset, ir.Literal) else 0
    end = offset + int(query.limit.value) if isinstance(query.limit, ir.Literal) else None
    assert crossql.evaluate(query, docs) == whole[offset:end]


@LAWS
@given(queries(DEFAULT_SCHEMA, grouped=True), documents(12))
def test_group_counts_add_up(query: ir.Query, docs: list[dict[str, Any]]) -> None:
    counted = replace(drop_paging(query), order_by=(), select=(
        *[ir.SelectItem(p, f"g{i}") for i, p in enumerate(query.group_by)],
        ir.SelectItem(ir.Aggregate("count", None), "n"),
    ))
    rows = crossql.evaluate(counted, docs)
    matching = crossql.evaluate(ir.Query("docs", where=query.where), docs)
    assert sum(r["n"] for r in rows) == len(matching)
    if query.group_by:
        assert all(r["n"] > 0 for r in rows)
        keys = [tuple(freeze(r[f"g{i}"]) for i in range(len(query.group_by)))
                for r in rows]
        assert len(set(keys)) == len(keys)  # one row per group
    else:
        assert len(rows) == 1


@LAWS
@given(queries(DEFAULT_SCHEMA, total_order=True), documents(12))
def test_text_and_ir_give_the_same_rows(query: ir.Query, docs: list[dict[str, Any]]) -> None:
    assert crossql.evaluate(crossql.format(query), docs) == crossql.evaluate(query, docs)


# --- the typed model itself (differential tests rely on it) ------------------------------

_TYPES = {"int": (int,), "float": (float,), "string": (str,), "bool": (bool,), "map": (dict,),
          "strings": (list,), "ints": (list,)}


def _conforms(doc: dict[str, Any], fields: tuple[Field, ...]) -> None:
    for f in fields:
        if f.name not in doc or doc[f.name] is None:
            continue
        value = doc[f.name]
        assert type(value) in _TYPES[f.kind], (f.name, value)
        if f.kind in ("strings", "ints"):
            assert all(type(v) is (str if f.kind == "strings" else int) for v in value)
            assert all(v in f.domain for v in value)
        elif f.kind == "map":
            assert set(value) <= {g.name for g in f.fields}
            _conforms(value, f.fields)
        else:
            assert value in f.domain


@LAWS
@given(documents(MAX_DOCS))
def test_documents_follow_the_schema(docs: list[dict[str, Any]]) -> None:
    ids = [d["_id"] for d in docs]
    assert len(set(ids)) == len(ids)
    for doc in docs:
        assert next(iter(doc)) == "_id"
        assert set(doc) <= {"_id"} | {f.name for f in DEFAULT_SCHEMA.fields}
        _conforms(doc, DEFAULT_SCHEMA.fields)


@LAWS
@given(queries(DEFAULT_SCHEMA, total_order=True))
def test_typed_queries_are_valid_and_totally_ordered(query: ir.Query) -> None:
    crossql.compile(query)  # passes every check
    if query.group_by:
        ordered = {k.path for k in query.order_by}
        assert all(p in ordered for p in query.group_by)
    elif not query.is_aggregate and (query.order_by or query.limit or query.offset):
        assert query.order_by[-1].path == ir.Path(("_id",))


@LAWS
@given(queries(DEFAULT_SCHEMA), wild_documents(10))
def test_queries_over_untyped_documents_give_rows(
    query: ir.Query, docs: list[dict[str, Any]]
) -> None:
    # whatever types the fields hold, every query answers (mixed-type sorts, groups,
    # min/max use the documented order of types) and never crashes
    rows = crossql.evaluate(query, docs)
    assert all(isinstance(r, dict) for r in rows)
    if not query.is_aggregate and not query.select:
        assert all(r in docs for r in rows)
        assert len({r["_id"] for r in rows}) == len(rows)
