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
