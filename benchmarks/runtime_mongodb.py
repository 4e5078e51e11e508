"""MongoDB runtime rows against a hand-written request (``--runtime``).

The rows of ``runtime.py`` time ``store.fetch`` against the driver sending the
plan's own request, which says what CrossQL's runtime costs but not what its plan
costs. Here the driver sends what a programmer would write by hand instead:
``find({_id: x})`` for a point lookup. Before issue #15 (item 11a) the plan carried
``$not: {$type: "array"}`` on ``_id`` and such lookups ran 17 times slower on the
test server; the plan is now that very request, so the ratio is CrossQL's own.
"""

from __future__ import annotations

from typing import Any

from benchmarks.runtime import COLLECTION

HANDWRITTEN: dict[str, tuple[str, dict[str, Any]]] = {
    "hand-written point lookup": (f'from {COLLECTION} where _id == "u0042"',
                                    {"filter": {"_id": "u0042"}}),
}
"""Workload → (CrossQL text, the hand-written ``find`` arguments of the same rows)."""
