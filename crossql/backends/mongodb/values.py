"""The native value kinds on MongoDB (docs/backends/mongodb.md, "Value kinds").

BSON has each kind: a date (milliseconds since the epoch, UTC), ``ObjectId``, binary
data, ``Decimal128``; the store's codec options read dates back as aware UTC
``datetime``s and encode a ``Decimal`` as ``Decimal128`` (``store.py``). What a filter
or a write needs on top, pure (no driver imported):

- a date keeps milliseconds: an ordering comparison with a finer ``datetime`` is
  rewritten exactly on the millisecond below it (``at >= t`` is ``at > floor(t)``);
  equality with one can never hold on a stored date, and is refused rather than
  silently matched on the truncated value; a write of one is refused;
- binary data sorts (``order by``, ``min``, ``max``) as in CrossQL, BSON's order
  (length, subtype, then bytewise), but the server's ``$lt``/``$gt`` on binary data
  compare otherwise (``b"ab" < b"b"`` there): ordering comparisons with bytes are refused;
- ``Decimal128`` holds 34 digits and exponents from -6176 to 6111: a ``Decimal``
  past them is refused.
"""

from __future__ import annotations

import base64
from datetime import datetime, timedelta
from decimal import Decimal, localcontext
from typing import Any

from crossql import ir
from crossql.backends.base import refuse
from crossql.errors import CapabilityError

BACKEND = "mongodb"

PLAIN: frozenset[type] = frozenset({str, int, float, bool, type(None)})
"""The scalar types that need no look (every other goes through ``check_value``)."""

_MS = timedelta(milliseconds=1)


def sub_millisecond(value: Any) -> bool:
    """Whether ``value`` is a ``datetime`` finer than BSON's milliseconds."""
    return isinstance(value, datetime) and value.microsecond % 1000 != 0


def floor_ms(value: datetime) -> datetime:
    """The millisecond at or below ``value``."""
    return value.replace(microsecond=value.microsecond - value.microsecond % 1000)


_FLOORED = {"$lt": "$lte", "$lte": "$lte", "$gt": "$gt", "$gte": "$gt"}
"""The operator comparing with ``floor_ms(t)`` that means the same on a stored date as
the operator with ``t``: a date ``d`` (whole milliseconds) is ``< t`` exactly when it is
``<= floor(t)``, and ``> t`` (or ``>= t``) exactly when it is ``> floor(t)``."""


def ordering(op: str, value: Any) -> tuple[str, Any]:
    """A MongoDB ordering operator and its value, exact on stored dates."""
    if type(value) in PLAIN or not sub_millisecond(value):
        return op, value
    return _FLOORED[op], floor_ms(value)


def _decimal_fits(value: Decimal) -> bool:
    _sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)  # a bound Decimal is finite
    if not any(digits):
        return True
    while digits[-1] == 0:  # trailing zeros can move to the exponent
        digits, exponent = digits[:-1], exponent + 1
    return len(digits) <= 34 and -6176 <= exponent <= 6111 + 34 - len(digits)


def check_value(node: Any, value: Any, *, equality: bool = True, ordered: bool = False,
                written: bool = False) -> None:
    """Refuse, located at ``node``, a native value MongoDB cannot compare or store as the
    reference means it (see the module's docstring)."""
    if type(value) in PLAIN:
        return
    if isinstance(value, list):
        for item in value:  # (plain items without a call: lists may be long)
            if type(item) not in PLAIN:
                check_value(node, item, equality=equality, ordered=ordered, written=written)
        return
    if isinstance(value, dict):
        for item in value.values():
            check_value(node, item, equality=equality, ordered=ordered, written=written)
        return
    if sub_millisecond(value) and (equality or written):
        raise _refused(node, f"MongoDB keeps dates to the millisecond: {value.isoformat()} "
                       f"{'cannot be stored' if written else 'never equals a stored date'}",
                       "round it to the millisecond, e.g. "
                       "t.replace(microsecond=t.microsecond // 1000 * 1000)")
    if ordered and isinstance(value, bytes):
        raise _refused(node, "MongoDB's `$lt`/`$gt` on binary data do not follow its own "
                       "sort order (length first), which CrossQL's is",
                       "compare bytes with `==` or `in`; `order by`, `min`, `max` agree")
    if isinstance(value, Decimal) and not _decimal_fits(value):
        raise _refused(node, f"{value} does not fit a Decimal128 (34 digits)",
                       "round it to 34 significant digits")


def type_test(op: str, value: Any) -> bool:
    """Whether ``op value`` is the test "binary data" (``$gte b""``) or its negation
    (``$lt b""``): exact whatever order the server's ``$gt`` follows, as ``b""`` of
    subtype 0 is the least binary in any of them (a page's resume condition)."""
    return op in ("$gte", "$lt") and type(value) is bytes and not value


def _refused(node: Any, message: str, hint: str) -> CapabilityError:
    return refuse(BACKEND, "value", node, message, hint, rule="value")


def extended_json(value: Any) -> Any:
    """A native value as MongoDB Extended JSON (canonical), for a plan's ``to_dict``:
    ``{"$date": ...}``, ``{"$oid": ...}``, ``{"$binary": ...}``, ``{"$numberDecimal": ...}``."""
    if isinstance(value, datetime):
        return {"$date": ir.native_text(value)}
    if isinstance(value, bytes):
        subtype = getattr(value, "subtype", 0)
        return {"$binary": {"base64": base64.b64encode(value).decode("ascii"),
                            "subType": f"{subtype:02x}"}}
    if isinstance(value, Decimal):
        return {"$numberDecimal": str(value)}
    if ir.is_object_id(value):
        return {"$oid": str(value)}
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


class _Shown:
    """An object whose ``repr`` is the given Python source (for ``pprint``)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def as_written(value: Any) -> Any:
    """``value`` with each native value replaced by the source a PyMongo user writes:
    ``datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)``, ``ObjectId('...')``,
    ``Decimal128('1.5')``, ``Binary(b'...', 4)`` (for ``to_python``)."""
    if isinstance(value, dict):
        return {k: as_written(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(as_written(v) for v in value)
    if isinstance(value, datetime):
        parts = [value.year, value.month, value.day, value.hour, value.minute]
        if value.second or value.microsecond:
            parts.append(value.second)
        if value.microsecond:
            parts.append(value.microsecond)
        zone = ", tzinfo=timezone.utc" if value.utcoffset() is not None else ""
        return _Shown(f"datetime({', '.join(map(str, parts))}{zone})")
    if isinstance(value, Decimal):
        return _Shown(f"Decimal128({str(value)!r})")
    return value


def decimal_fits(value: Decimal) -> bool:
    """Whether a finite ``Decimal`` is a ``Decimal128`` exactly (34 digits, its
    exponent range): what MongoDB would store otherwise is rounded."""
    return _decimal_fits(value)


def unfit_decimal(value: Any, budget: int = 100_000) -> Decimal | None:
    """The first ``Decimal`` in a document (maps and lists walked, at most ``budget``
    values) that no ``Decimal128`` holds exactly, or None."""
    stack = [value]
    while stack and budget > 0:
        budget -= 1
        item = stack.pop()
        if isinstance(item, Decimal):
            if item.is_finite() and not _decimal_fits(item):
                return item
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return None


def exact_sum(value: Any, amount: Any) -> Decimal | None:
    """``value + amount`` as the reference adds them where either is a ``Decimal`` (a
    float as its shortest text, exactly, docs/language.md "Writes"), or None where the
    sum is no decimal (then ``$inc`` writes no ``Decimal128``)."""
    value = value.to_decimal() if hasattr(value, "to_decimal") else value
    numbers = (int, float, Decimal)
    if isinstance(value, bool) or not isinstance(value, numbers) or isinstance(amount, bool):
        return None
    if not isinstance(value, Decimal) and not isinstance(amount, Decimal):
        return None
    a, b = (Decimal(repr(v)) if isinstance(v, float) else Decimal(v) for v in (value, amount))
    if not (a.is_finite() and b.is_finite()):
        return None
    exponents = [int(x.as_tuple().exponent) for x in (a, b)]  # finite: an int
    with localcontext() as exact:
        exact.prec = max(28, a.adjusted(), b.adjusted()) - min(exponents) + 2
        return a + b
