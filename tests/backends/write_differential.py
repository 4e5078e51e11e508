"""Differential testing of writes: the same generated ``update``/``delete`` applied by
the reference (``crossql.semantics.writes.apply``) and by a backend from the same
starting documents; the collections after, and the counts, must be identical."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

import crossql
from crossql import ir
from crossql.errors import CapabilityError
from crossql.semantics.writes import WriteResult, apply, chosen
from tests.backends.conftest import canonical, load
from tests.strategies import (
    DEFAULT_SCHEMA,
    MAX_DOCS,
    Field,
    Schema,
    conditions,
    documents,
)

_INCREMENTS = {"int": st.integers(-2, 2).map(lambda v: ir.Literal(v, "int")),
               "float": st.sampled_from([-1.25, 0.5, 2.0]).map(lambda v: ir.Literal(v, "float"))}


@st.composite
def _assignment(draw: st.DrawFn, path: ir.Path, kind: str, domain: tuple[Any, ...]
                ) -> ir.Assignment:
    forms = ["set", "set", "unset"] + (["increment", "increment"] if kind in _INCREMENTS else [])
    form = draw(st.sampled_from(forms))
    if form == "unset":
        return ir.Unset(path)
    if form == "increment":
        return ir.Increment(path, draw(_INCREMENTS[kind]))
    if kind in ("strings", "ints"):
        value: Any = draw(st.lists(st.sampled_from(domain), max_size=3))
    elif kind == "map" or draw(st.integers(0, 9)) == 0:
        value = None
    else:
        value = draw(st.sampled_from(domain))
    return ir.SetField(path, ir.literal_of(value))


@st.composite
def typed_writes(draw: st.DrawFn, schema: Schema = DEFAULT_SCHEMA, *,
                 must: str | None = None) -> ir.Update | ir.Delete:
    """A write over ``schema``: values of each field's type; ``limit`` absent or so large
    that no backend has a choice of documents. ``must="increment"`` or ``"nested"``: an
    update whose first assignment is an increment, or below a map."""
    where = draw(st.one_of(st.none(), conditions(schema)))
    limit = draw(st.sampled_from([None, None, ir.Literal(MAX_DOCS, "int")]))
    if must is None and draw(st.integers(0, 3)) == 0:
        return ir.Delete("docs", where, limit)
    candidates = [(p, f) for p, f in schema.paths() if p.segments != ("_id",)]
    assignments: list[ir.Assignment] = []
    if must == "increment":
        path, f = draw(st.sampled_from([(p, f) for p, f in candidates
                                        if f.kind in _INCREMENTS]))
        assignments.append(ir.Increment(path, draw(_INCREMENTS[f.kind])))
    elif must == "nested":
        path, f = draw(st.sampled_from([(p, f) for p, f in candidates
                                        if len(p.segments) > 1]))
        assignments.append(draw(_assignment(path, f.kind, f.domain)))
    chosen = draw(st.lists(st.sampled_from(candidates), min_size=0 if must else 1,
                           max_size=3))
    for path, f in chosen:
        segs = path.segments
        if any(a.path.segments[:len(segs)] == segs or segs[:len(a.path.segments)]
               == a.path.segments for a in assignments):
            continue
        assignments.append(draw(_assignment(path, f.kind, f.domain)))
    return ir.Update("docs", tuple(assignments), where, limit)


BLOCKING = Schema((
    Field("n", "int", (0, 1, 2)),
    Field("m", "map", fields=(Field("k", "string", ("a", "b")), Field("v", "int", (0, 1)))),
    Field("s", "string", ("a", "b")),
))
"""The fields of ``inapplicable_writes``, whose ``m`` is not always a map and ``n`` not
always a number."""

_BLOCKED_ASSIGNMENTS: dict[str, st.SearchStrategy[ir.Assignment]] = {
    # below `m` (or `m.k`), which may be anything: a non-map parent does not apply
    "m": st.one_of(
        st.sampled_from(["a", None, 3]).map(
            lambda v: ir.SetField(ir.Path(("m", "k")), ir.literal_of(v))),
        st.just(ir.Unset(ir.Path(("m", "k")))),
        st.just(ir.SetField(ir.Path(("m", "k", "x")), ir.literal_of(1))),
    ),
    # over `n`, which may be anything: only a number is incremented
    "n": _INCREMENTS["int"].map(lambda amount: ir.Increment(ir.Path(("n",)), amount)),
    "s": st.sampled_from(["a", "z"]).map(lambda v: ir.SetField(ir.Path(("s",)),
                                                                ir.literal_of(v))),
}


_OFF_TYPE = st.sampled_from([5, 1.5, "x", "1", True, [1, 2], {"k": 1}, {"k": "a"}, []])
"""Values of ``m`` or ``n`` some assignments cannot apply to: not a map (or a map whose
``k`` is not one), not a number."""


@st.composite
def inapplicable_writes(draw: st.DrawFn) -> tuple[list[dict[str, Any]],
                                                  ir.Update]:
    """Documents of any types and an update with assignments that cannot apply to some
    of them (``set m.k`` over a non-map ``m``, ``n = n + 1`` over a non-number,
    ``unset m.k``), with ``limit`` exactly the number of documents the reference takes
    (at least 1): a backend that spends the limit on a document an assignment cannot
    apply to writes fewer. No backend has a choice of documents."""
    # typed documents, some of whose `m` and `n` hold another type (one every backend
    # stores); at least one: DynamoDB has no table for an empty collection
    docs = draw(documents(MAX_DOCS, schema=BLOCKING, min_size=1))
    for doc in docs:
        for name in ("m", "n"):
            if draw(st.booleans()):
                doc[name] = draw(_OFF_TYPE)
    slots = draw(st.lists(st.sampled_from(["m", "n", "s"]), min_size=1, max_size=3,
                          unique=True).filter(lambda s: s != ["s"]))
    assignments = tuple(draw(_BLOCKED_ASSIGNMENTS[slot]) for slot in slots)
    where = draw(st.one_of(st.none(), st.none(), conditions(BLOCKING)))
    unlimited = ir.Update("docs", assignments, where)
    taken = len(chosen(unlimited, docs))
    return docs, ir.Update("docs", assignments, where, ir.Literal(max(taken, 1), "int"))


async def _all(store: Any) -> list[dict[str, Any]]:
    return [row async for row in store.stream("from docs")]


def compare_write(runner: asyncio.Runner, store: Any, docs: list[dict[str, Any]],
                  statement: ir.Update | ir.Delete, *, modified: bool = True
                  ) -> WriteResult | None:
    """Load ``docs``, run ``statement`` on ``store``; assert the collection and counts
    equal the reference's (``modified=False``: all but ``modified``, for a backend that
    cannot tell). Returns the backend's counts, or None where it refuses the write."""
    text = crossql.format(statement)
    want_docs, want = apply(statement, docs)
    load(runner, store, "docs", docs)
    try:
        plan = store.write_plan(text)
    except CapabilityError:
        return None
    got = runner.run(store.execute_plan(plan))
    after = runner.run(_all(store))
    assert sorted(map(canonical, after)) == sorted(map(canonical, want_docs)), (
        f"{store.driver} wrote another collection than the reference\nstatement: {text}\n"
        f"plan: {plan.to_json()}\ngot:  {after}\nwant: {want_docs}\ndocs: {docs}")
    if not modified:
        got = WriteResult(got.matched, want.modified, got.deleted)
    assert got == want, (
        f"{store.driver} counts {got} != reference {want} for {text}\nplan: {plan.to_json()}")
    return got


DOCS: list[dict[str, Any]] = [
    {"_id": "a", "n": 1, "s": "x"}, {"_id": "b", "n": "1"}, {"_id": "c", "m": 5},
    {"_id": "d", "n": None}, {"_id": "e", "n": 2.5, "m": {"k": 1}},
]
"""A small collection for hand-written write tests: a number, a numeric string, a
scalar where others have a map, a null, a float beside a map."""


def run_on_docs(runner: asyncio.Runner, store: Any, text: str) -> WriteResult:
    """Load ``DOCS`` as collection ``docs`` on ``store``, run the write ``text``."""
    load(runner, store, "docs", DOCS)
    result: WriteResult = runner.run(store.execute(text))
    return result


# --- concurrent increments of one document (issue #15, item 8) ------------------------------


async def concurrent_increments(store: Any, collection: str, n: int, *,
                                amount: int = 1, where: str = '_id == "a"',
                                path: str = "n") -> list[Any]:
    """``n`` concurrent ``update <collection> set <path> = <path> + <amount> where
    <where>`` on ``store``, each as its own statement; the result of each (a
    ``WriteResult``, or the exception it raised), in order. A counter must lose none."""
    text = f"update {collection} set {path} = {path} + {amount} where {where}"
    results: list[Any] = await asyncio.gather(
        *(store.execute(text) for _ in range(n)), return_exceptions=True)
    return results


NO_FIELD = "<missing>"


@st.composite
def counter_cases(draw: st.DrawFn) -> tuple[Any, list[int | float]]:
    """A counter's first value (``NO_FIELD``: the document lacks it) and the amounts of
    concurrent increments of it: ints or halves (exact in binary, so the order of the
    additions cannot change the sum), a counter that is not a number (not matched by
    ``p = p + n``), or an int near the ends of int64 (where an increment may be refused)."""
    start = draw(st.one_of(
        st.integers(-1000, 1000), st.sampled_from([0.5, -2.5, 1e15]),
        st.sampled_from([NO_FIELD, None, "7", True, [1], {"k": 1}]),
        st.integers(1, 40).map(lambda d: 2**63 - d),
        st.integers(1, 40).map(lambda d: -(2**63) + d)))
    amounts = draw(st.lists(st.one_of(st.integers(-3, 3), st.sampled_from([0.5, -1.5])),
                            min_size=2, max_size=12))
    return start, amounts


def _deep_term(i: int, depth: int) -> ir.Condition:
    return ir.Compare("==", ir.Path((f"p{i}", *(f"s{j}" for j in range(depth - 1)))),
                      ir.Literal(1, "int"))


@st.composite
def near_limit_writes(draw: st.DrawFn, measure: Callable[[ir.Condition], int]
                      ) -> tuple[list[dict[str, Any]], ir.Update]:
    """``inapplicable_writes`` whose ``where`` is padded with ``or``-ed comparisons of
    deep paths until ``measure`` (a backend's size of a condition, e.g. the bytes of
    DynamoDB's filter) reaches a target drawn around 4 KB, the last comparison as
    deep as still fits: the read, the write's condition (the where plus guards) and
    each item's request must all respect the backend's limit, or the write be
    refused when compiled."""
    docs, statement = draw(inapplicable_writes())
    target = draw(st.integers(3900, 4200))
    depth = draw(st.integers(15, 32))
    joined = draw(st.sampled_from([ir.And, ir.Or]))

    def where(terms: list[ir.Condition]) -> ir.Condition:
        padding = ir.Or(tuple(terms)) if len(terms) > 1 else terms[0]
        return padding if statement.where is None else joined((statement.where, padding))

    terms: list[ir.Condition] = []
    # at most as many terms as a where of its own could use (one that folds to true
    # or false measures nothing, however long)
    while len(terms) < target // (4 * depth) and \
            measure(where([*terms, _deep_term(len(terms), depth)])) <= target:
        terms.append(_deep_term(len(terms), depth))
    for shallower in range(depth - 1, 0, -1):
        if measure(where([*terms, _deep_term(len(terms), shallower)])) <= target:
            terms.append(_deep_term(len(terms), shallower))
            break
    if not terms:
        return docs, statement
    return docs, ir.Update("docs", statement.assignments, where(terms), statement.limit)
