"""What the Firestore tests share: the profiles, and the emulator's one known deviation.

The emulator (1.19.9) answers ``avg`` over no values with ``0.0``; Firestore
returns null (``StructuredAggregationQuery.Aggregation.Avg``: "If the aggregated
value set is empty, returns NULL"), as CrossQL's reference does. Tests that run
on the emulator expect ``0.0`` exactly there and nowhere else;
``test_firestore_emulator.py::test_avg_of_nothing_is_null`` is a strict xfail
that fails as soon as the emulator is fixed.
"""

from __future__ import annotations

from typing import Any

import crossql
from crossql.backends.firestore.plan import FirestorePlan

DEFAULT = crossql.FirestoreOptions()
NATIVE = crossql.FirestoreOptions(native_not_equal=True, native_or=True)
PROFILES: dict[str, crossql.FirestoreOptions] = {"default": DEFAULT, "native": NATIVE}

EMULATOR_AVG_OF_NOTHING = 0.0


def emulator_rows(plan: crossql.Plan, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The reference ``rows`` as the emulator returns them for ``plan``: an ``avg``
    over no values is 0.0 there (only in a row the emulator computes)."""
    assert isinstance(plan, FirestorePlan)
    if plan.static_rows is not None or not plan.aggregations:
        return rows
    out = []
    for row in rows:
        row = dict(row)
        for agg, output in zip(plan.aggregations, plan.outputs, strict=True):
            if agg.func == "avg" and row.get(output.key[0], 0) is None:
                row[output.key[0]] = EMULATOR_AVG_OF_NOTHING
        out.append(row)
    return out


def values(n: int, start: int = 0) -> str:
    """``[start, ..., start + n - 1]`` as query text."""
    return "[" + ", ".join(str(i) for i in range(start, start + n)) + "]"


LIMIT_CASES: list[tuple[str, str, str, str]] = [
    ("in values", f"from c where f in {values(30)}", f"from c where f in {values(31)}",
     "in-values"),
    ("not-in values", f"from c where f not in {values(10)}",
     f"from c where f not in {values(11)}", "not-in-values"),
    ("array-contains-any values", f"from c where t contains any {values(30)}",
     f"from c where t contains any {values(31)}", "array-contains-any-values"),
    ("not-equal filters", "from c where f != 1 and g == 2",
     "from c where f != 1 and g != 2", "not-equal-count"),
    ("not-in combination", "from c where f not in [1, 2] and g == 3",
     "from c where f not in [1, 2] and g in [3, 4]", "not-in-combination"),
    ("not-in with or", "from c where f != 1 and (g == 1 or h == 2)",
     "from c where f not in [1, 2] and (g == 1 or h == 2)", "not-in-combination"),
    ("not-in with contains any", "from c where f not in [1, 2] and t contains 1",
     "from c where f not in [1, 2] and t contains any [1, 2]", "not-in-combination"),
    ("disjunctions", f"from c where f in {values(5)} and g in {values(6)}",
     f"from c where f in {values(5)} and g in {values(7)}", "disjunctions"),
    ("disjunctions by or", "from c where (" + " or ".join(f"f{i} == 1" for i in range(30))
     + ")", "from c where (" + " or ".join(f"f{i} == 1" for i in range(31)) + ")",
     "disjunctions"),
    ("array-contains per disjunction", "from c where (t contains 1 or u contains 2)",
     "from c where t contains 1 and u contains any [2, 3]",
     "array-contains-per-disjunction"),
    ("inequality fields", "from c where " + " and ".join(f"f{i} > 0" for i in range(10)),
     "from c where " + " and ".join(f"f{i} > 0" for i in range(11)), "inequality-fields"),
    ("filters and orders", "from c where " + " and ".join(f"f{i} == 0" for i in range(99))
     + " order by f0", "from c where " + " and ".join(f"f{i} == 0" for i in range(100))
     + " order by f0", "filters-and-orders"),
    ("aggregations", "from c where f > 0 select count() as a, sum(f) as b, avg(f) as c, "
     "sum(f) as d, avg(f) as e", "from c where f > 0 select count() as a, sum(f) as b, "
     "avg(f) as c, sum(f) as d, avg(f) as e, count() as g", "aggregations"),
    ("limit", f"from c limit {2**31 - 1}", f"from c limit {2**31}", "limit-range"),
    ("offset", f"from c offset {2**31 - 1}", f"from c offset {2**31}", "offset-range"),
    ("field path bytes", "from c where " + "f" * 1499 + " == 1", "from c where " + "f" * 1500
     + " == 1", "name"),
]
"""(limit, a query just inside it, one just past it, the refusal's code) for every limit in
crossql.backends.firestore.compiler.LIMITS, and the combinations Firestore forbids."""

LIMIT_CASES += [
    ("value bytes", "from c where s == \"" + "x" * 1499 + "\"",
     "from c where s == \"" + "x" * 1500 + "\"", "value-bytes"),
    ("field path segments", "from c where " + ".".join(["a"] * 20) + " == 1",
     "from c where " + ".".join(["a"] * 21) + " == 1", "path-segments"),
]
