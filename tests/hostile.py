"""Hostile parameter values and field names, shared by the injection tests
(tests/test_injection_plans.py on plans, tests/backends/test_injection.py on servers)."""

from __future__ import annotations

import math
from datetime import datetime
from decimal import Decimal
from typing import Any

OPERATOR_STRINGS = [
    "$ne", "$where", "$gt", "$regex", "$expr", "$$ROOT", "$field.path", "$in", "$or",
]
"""Strings a MongoDB filter would read as operators or field references."""

PLACEHOLDER_STRINGS = ["#n0", "#a", ":v0", ":p", "#n0 = :v0 OR #n0 <> :v0",
                       "attribute_exists(a)"]
"""Strings that look like DynamoDB expression placeholders or functions."""

TEXT_STRINGS = [
    "' or 1==1 --", '" or a == a or "', ") or (1 == 1", "`a`", "\\", "\x00", "a\x00b",
    "\x00$ne", '{"$ne": null}', "a.b", "__name__", "__key__", ".*", "^", "\U0001f600", "",
    " ", "null", "true", "NaN", "Infinity", "-- comment", "\n",
]
"""Query-text lookalikes, control and path characters, empty and blank strings."""

HOSTILE_STRINGS = OPERATOR_STRINGS + PLACEHOLDER_STRINGS + TEXT_STRINGS

HOSTILE_NUMBERS: list[Any] = [2**63 - 1, -(2**63), 1e308, -1e308, 5e-324, 0.0, -0.0]

HOSTILE_ACCEPTED: list[Any] = [
    *HOSTILE_STRINGS, *HOSTILE_NUMBERS, True, False, None,
    [], ["$ne"], ["$where", None], [[["$gt"]]], [[[[[[[["deep"]]]]]]]],
]
"""Values a query must take as plain values: they select exactly what they equal."""

HOSTILE_REFUSED: list[Any] = [
    {"$ne": None}, {"$where": "sleep(100)"}, {"$gt": ""}, [{"$ne": None}], [1, {"$gt": 0}],
    {"S": "x"}, {"N": "1"}, float("nan"), float("inf"), -math.inf, [float("nan")], 2**63,
    -(2**63) - 1, 10**400, {1, object()}, datetime(2026, 1, 2), Decimal("NaN"), object(),
    "\ud800", ["\udfff"],
    [[[[[[[[[1]]]]]]]]],
]
"""Values that are no CrossQL value: refused with ``QuerySemanticError`` when bound
(bytes, and a set of values in a list's place, are values since issue 16)."""

FIELD_NAMES = [
    "from", "select", "order", "where", "null", "first name", "a`b", "é", "a.b", "$where",
    "$ne", "#n0", ":v0", "__name__", "__x__", "count", "size", "_", "a b.c", "1st",
]
"""Field names a query must backtick; each is only ever a name."""


def backticked(name: str) -> str:
    """``name`` as one backticked path segment."""
    return "`" + name.replace("`", "``") + "`"
