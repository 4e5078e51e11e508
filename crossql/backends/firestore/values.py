"""The native value kinds on Firestore (docs/backends/firestore.md, "Value kinds").

Firestore has timestamps (to the microsecond: "any additional precision is rounded
down", and a Python ``datetime`` has no finer digits; binding keeps the microsecond
of a ``DatetimeWithNanoseconds``), bytes, references and geopoints
(https://firebase.google.com/docs/firestore/manage-data/data-types). What a filter or
a write needs on top, pure (no driver imported):

- a timestamp compares as the reference does: ``==``/``in`` on whole values, and an
  inequality filter only matches values of its operand's type, so ``at >= t`` is true
  on timestamps only (a string is not a timestamp);
- bytes sort bytewise in Firestore and length first in CrossQL (BSON's order), so an
  ordering comparison with bytes is refused (``bytes-order``); ``==``/``in`` agree;
- Firestore has no exact decimal: a ``Decimal`` in a filter is compared as the double
  it is exactly, and only where that double's shortest text is the same decimal
  (``Decimal("1.5")``, not ``Decimal("0.1")``, whose double is another number), so that
  it compares with stored ints and doubles as the reference compares it; any other is
  refused, and so is a ``Decimal`` written (it would read back as a double);
- Firestore has no object id: an ``ObjectId`` is refused where the query or write is
  compiled (the capabilities' value notes give the hint), and ``insert`` refuses one,
  or a ``Decimal``, in a document.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from crossql import ir

BYTES_ORDER_HINT = ("compare bytes with `==` or `in`: Firestore orders bytes bytewise, "
                    "CrossQL length first (as BSON)")

DECIMAL_HINT = ("Firestore stores numbers as 64-bit integers or doubles: bind an int or a "
                "float (float(d)), or store the exact digits as a string")
DECIMAL_FILTER_HINT = ("a Decimal compares here only as a double it is exactly (1.5, 0.25, "
                       "2): Firestore has 64-bit integers and doubles only; bind "
                       "float(d) to compare with the double nearest it")
OBJECT_ID_HINT = ("Firestore has no object ids: bind str(oid) to compare with a string "
                  "field or a document id")


def ordered_bytes(value: Any) -> bool:
    """Whether an ordering comparison's value is bytes (refused: see the module)."""
    return isinstance(value, bytes)


def as_double(value: Decimal) -> float | None:
    """The double a ``Decimal`` is exactly, and whose shortest text is that decimal (then
    every comparison with a stored int or double means what the reference's does); None
    when there is none."""
    double = float(value)
    if Decimal(double) == value and Decimal(repr(double)) == value:
        return double
    return None


_PLAIN = frozenset({str, int, float, bool, type(None)})


def inexact_decimal(value: Any) -> Decimal | None:
    """The first ``Decimal`` in a filter's value (a list's items too) that is no double
    exactly (``as_double``), or None."""
    if type(value) is tuple:
        if all(map(_PLAIN.__contains__, map(type, value))):  # at C speed: long lists
            return None
        items = value
    else:
        items = (value,)
    for item in items:
        if isinstance(item, Decimal) and as_double(item) is None:
            return item
    return None


def not_storable(value: Any) -> str | None:
    """Why Firestore cannot store ``value`` exactly (a ``Decimal``, an ``ObjectId``, a
    Python set), or None."""
    if isinstance(value, Decimal):
        return f"a Decimal ({value}) cannot be stored exactly; {DECIMAL_HINT}"
    if ir.is_object_id(value):
        return f"an ObjectId ({value}) cannot be stored; {OBJECT_ID_HINT}"
    if isinstance(value, set | frozenset):
        return "Firestore has no sets: store a list (sorted, if its order must not vary)"
    return None


def is_reference(value: Any) -> bool:
    """Whether ``value`` is a Firestore document reference (recognised without importing
    the client)."""
    kind = type(value)
    return kind.__name__ in ("DocumentReference", "AsyncDocumentReference") and \
        kind.__module__.startswith("google.cloud.firestore")


def is_geopoint(value: Any) -> bool:
    """Whether ``value`` is a Firestore ``GeoPoint``."""
    kind = type(value)
    return kind.__name__ == "GeoPoint" and kind.__module__.startswith("google.cloud.firestore")


def value_json(value: Any) -> Any:
    """A native value in a plan's ``to_dict``, as Firestore's REST API writes a ``Value``
    (https://firebase.google.com/docs/firestore/reference/rest/v1/Value):
    ``{"timestampValue": "...Z"}``, ``{"bytesValue": base64}``."""
    if isinstance(value, datetime):
        return {"timestampValue": ir.native_text(value)}
    if isinstance(value, bytes):
        return {"bytesValue": base64.b64encode(value).decode("ascii")}
    if isinstance(value, Decimal):
        return {"doubleValue": float(value)}
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def python_source(value: Any) -> str:
    """A native value as Python source a user of the client writes (``to_python``)."""
    if isinstance(value, datetime):
        value = value.astimezone(UTC)
        parts = [value.year, value.month, value.day, value.hour, value.minute]
        if value.second or value.microsecond:
            parts.append(value.second)
        if value.microsecond:
            parts.append(value.microsecond)
        return f"datetime({', '.join(map(str, parts))}, tzinfo=timezone.utc)"
    if isinstance(value, Decimal):
        return repr(float(value))  # sent as the double it is (``as_double``)
    return repr(value)
