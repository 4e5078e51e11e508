"""The Firestore compiler's work grows linearly with the number of filters (issue 15's
class "user input reaches a quadratic compile"): many filters on one field, many
`!=`/`==` merged into one `not-in`/`in`, many `exists`. Counted, not timed; and the
shortcuts taken past a few filters give exactly the plans of the filter-by-filter way."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import crossql
from crossql.backends.firestore import compiler as fs_compiler
from crossql.backends.firestore import filters as fs_filters
from crossql.backends.firestore.options import FirestoreOptions
from tests.budget import examples
from tests.strategies import DEFAULT_SCHEMA, conditions

BOTH = FirestoreOptions(native_or=True, native_not_equal=True)
SHAPES = {
    "ranges on one field": lambda i: f"a > {i}",
    "!= on one field": lambda i: f"a != {i}",
    "== on one field": lambda i: f"a == {i}",
    "exists": lambda i: f"exists(f{i})",
    "!= null": lambda i: f"f{i} != null",
    "ranges on many fields": lambda i: f"f{i} > {i}",
}


def _outcome(text: str, options: FirestoreOptions) -> Any:
    try:
        return crossql.compile(text, backend="firestore", options=options).to_dict()
    except crossql.QueryError as err:
        return (err.code, err.message, err.span)


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls = [0]
    for module, name in ((fs_filters, "_leaf_key"), (fs_filters, "_implied_exists"),
                         (fs_filters, "_implied_non_null"), (fs_compiler, "has_field"),
                         (fs_filters, "has_field"), (fs_filters, "_key")):
        real = getattr(module, name)

        def counted(*args: Any, real: Any = real) -> Any:
            calls[0] += 1
            return real(*args)

        monkeypatch.setattr(module, name, counted)
    return calls


@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("joiner", [" and ", " or "])
def test_the_work_per_filter_does_not_grow_with_their_number(
        monkeypatch: pytest.MonkeyPatch, shape: str, joiner: str) -> None:
    calls = _counting(monkeypatch)
    per_filter = []
    for n in (500, 2_000):
        calls[0] = 0
        text = "from t where " + joiner.join(SHAPES[shape](i) for i in range(n))
        _outcome(text, BOTH)
        per_filter.append(calls[0] / n)
    # quadratic work made the second figure about 4 times the first (2,000 / 500)
    assert per_filter[1] <= per_filter[0] * 1.5 + 1, per_filter


@settings(max_examples=examples(300), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(cond=conditions(DEFAULT_SCHEMA), options=st.sampled_from(
    [FirestoreOptions(), BOTH, FirestoreOptions(native_or=True)]))
def test_the_shortcuts_give_the_filter_by_filter_plans(cond: Any,
                                                       options: FirestoreOptions) -> None:
    text = "from docs where " + crossql.format(crossql.ir.Query("docs", where=cond)).split(
        " where ", 1)[1]
    shortcut = {"_PAIRWISE": 0}, {"_WALK_PER_FIELD": 0}
    by_filter = {"_PAIRWISE": 10**9}, {"_WALK_PER_FIELD": 10**9}
    outcomes = []
    for filters_values, compiler_values in (shortcut, by_filter):
        with pytest.MonkeyPatch.context() as patch:
            for name, value in filters_values.items():
                patch.setattr(fs_filters, name, value)
            for name, value in compiler_values.items():
                patch.setattr(fs_compiler, name, value)
            outcomes.append(_outcome(text, options))
    assert outcomes[0] == outcomes[1]
