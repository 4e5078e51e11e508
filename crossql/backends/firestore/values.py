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
- Firestore has no exact decimal and no object id: a ``Decimal`` or an ``ObjectId`` is
  refused where the query or write is compiled (the capabilities' value notes give the
  hint), and ``insert`` refuses one in a document.
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
OBJECT_ID_HINT = ("Firestore has no object ids: bind str(oid) to compare with a string "
                  "field or a document id")


def ordered_bytes(value: Any) -> bool:
    """Whether an ordering comparison's value is bytes (refused: see the module)."""
    return isinstance(value, bytes)


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
    return repr(value)
