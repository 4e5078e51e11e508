"""Python values ↔ DynamoDB's typed AttributeValues, without boto3's serializer.

boto3's ``TypeSerializer`` refuses ``float`` and raises ``Inexact``/``Rounded``
for a ``Decimal`` its 38-digit context cannot hold exactly
(https://boto3.amazonaws.com/v1/documentation/api/latest/reference/customizations/dynamodb.html),
so CrossQL writes the low-level AttributeValues itself:

- ``None`` → ``NULL``, ``bool`` → ``BOOL``, ``str`` → ``S``, ``bytes`` → ``B``,
  ``datetime`` → ``S`` as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (UTC, microseconds: text
  order is time order), read back as an aware UTC ``datetime`` — an ``S`` of exactly
  that form *is* a timestamp on DynamoDB,
  ``list``/``tuple`` → ``L``, ``dict`` → ``M``, ``set`` of str/numbers/bytes →
  ``SS``/``NS``/``BS``.
- ``int`` → ``N`` as its decimal text; ``float`` → ``N`` as its shortest
  ``repr`` (``0.1`` is written ``0.1``, not the 55 digits of its binary value),
  so ``float(text)`` gives back the same float. ``NaN``, infinities and numbers
  outside DynamoDB's range (magnitudes 1E-130 to 9.99...E+125, 38 digits) are
  refused: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html#HowItWorks.DataTypes.Number

Reading is exact: ``N`` → ``int`` when integral and within 64 bits (so a float
written as ``2.0`` reads back as ``2``: DynamoDB keeps no int/float distinction,
and ``1 == 1.0`` in CrossQL anyway), ``float`` where the float's shortest ``repr``
is the number read (``0.1``, ``1E+100``), else ``Decimal`` (never through a float);
``SS``/``NS``/``BS`` → Python ``set`` (CrossQL arrays are ``L``; a set is not
an array for ``contains`` or ``size``, so reading it as a set keeps rows and
filters consistent).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

AttributeValue = dict[str, Any]

_MAX_MAGNITUDE = Decimal("9.9999999999999999999999999999999999999E+125")
_MIN_MAGNITUDE = Decimal("1E-130")
_MAX_DIGITS = 38
_SMALL_INT = 10**_MAX_DIGITS
"""Integers of fewer than 38 digits need no range or digit check."""


class UnstorableValue(ValueError):
    """A Python value DynamoDB cannot hold (NaN, a number out of range, a dict key
    that is not a string, an empty set, an unknown type)."""


def number_text(value: int | float | Decimal) -> str:
    """The ``N`` text of a number; ``UnstorableValue`` when DynamoDB cannot hold it."""
    kind = type(value)
    # the common cases, which no check can refuse: an int of at most 38 digits, and
    # a float well inside the range (a float has at most 17 significant digits)
    if kind is int and -_SMALL_INT < value < _SMALL_INT:
        return str(value)
    if kind is float and (1e-129 < abs(value) < 1e125 or value == 0):  # type: ignore[operator]
        return repr(value)
    if isinstance(value, bool):  # pragma: no cover - callers send bools to BOOL
        raise UnstorableValue("a bool is not a number")
    if isinstance(value, int):
        text = str(value)
        number = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise UnstorableValue(f"{value} is not a finite number")
        text = repr(value)
        number = Decimal(text)
    else:
        if not value.is_finite():
            raise UnstorableValue(f"{value} is not a finite number")
        number = value
        text = str(value)
    if number != 0:
        magnitude = abs(number)
        if not _MIN_MAGNITUDE <= magnitude <= _MAX_MAGNITUDE:
            raise UnstorableValue(f"{text} is outside DynamoDB's number range "
                                  "(magnitudes 1E-130 to 9.99...E+125)")
        digits = "".join(map(str, number.as_tuple().digits)).strip("0")
        if len(digits) > _MAX_DIGITS:  # significant digits (normalize() would round to 28)
            raise UnstorableValue(f"{text} has more than {_MAX_DIGITS} significant digits")
    return text


TIMESTAMP_WIDTH = 27
"""The length of a timestamp's text: ``YYYY-MM-DDTHH:MM:SS.ffffffZ``."""
TIMESTAMP_MIN = "0001-01-01T00:00:00.000000Z"
TIMESTAMP_MAX = "9999-12-31T23:59:59.999999Z"
"""The texts of the first and last instants a ``datetime`` holds."""
_TIMESTAMP_TEXT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", re.ASCII)


def timestamp_text(value: datetime) -> str:
    """A ``datetime`` as DynamoDB stores it: fixed-width ISO-8601 UTC text to the
    microsecond, so text order is time order (a naive one counts as UTC, as the
    reference reads it)."""
    if value.utcoffset() is not None:
        try:
            value = value.astimezone(UTC)
        except OverflowError:
            raise UnstorableValue(f"{value.isoformat()} is outside the years 1 to 9999 "
                                  "in UTC") from None
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}T{value.hour:02d}:" \
        f"{value.minute:02d}:{value.second:02d}.{value.microsecond:06d}Z"


def timestamp_value(text: str) -> datetime | None:
    """The aware UTC ``datetime`` a string of exactly ``timestamp_text``'s form is; None
    for any other string (on DynamoDB, such a string *is* a timestamp)."""
    if len(text) != TIMESTAMP_WIDTH or text[-1] != "Z" or not _TIMESTAMP_TEXT.fullmatch(text):
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    except ValueError:  # a day or an hour out of range: a string like any other
        return None


def to_attribute_value(value: Any) -> AttributeValue:
    """A typed AttributeValue for a plain Python value."""
    kind = type(value)
    if kind is str:
        return {"S": value}
    if kind is int or kind is float:
        return {"N": number_text(value)}
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int | float | Decimal):
        return {"N": number_text(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, bytes | bytearray):
        if getattr(value, "subtype", 0):
            raise UnstorableValue(f"DynamoDB binary values have no subtype: "
                                  f"{value!r} would read back as plain bytes")
        return {"B": bytes(value)}
    if isinstance(value, datetime):
        return {"S": timestamp_text(value)}
    if isinstance(value, list | tuple):
        return {"L": [to_attribute_value(v) for v in value]}
    if isinstance(value, Mapping):
        out: dict[str, AttributeValue] = {}
        for key, item in value.items():
            if not isinstance(key, str) or not key:
                raise UnstorableValue(f"a map key must be a non-empty string, not {key!r}")
            out[key] = to_attribute_value(item)
        return {"M": out}
    if isinstance(value, set | frozenset):
        return _set_value(value)
    raise UnstorableValue(f"DynamoDB cannot store a {type(value).__name__}")


def _set_value(value: set[Any] | frozenset[Any]) -> AttributeValue:
    if not value:
        raise UnstorableValue("DynamoDB cannot store an empty set")
    if all(isinstance(v, str) for v in value):
        return {"SS": sorted(value)}
    if all(isinstance(v, int | float | Decimal) and not isinstance(v, bool) for v in value):
        return {"NS": sorted((number_text(v) for v in value), key=Decimal)}
    if all(isinstance(v, bytes | bytearray) for v in value):
        return {"BS": sorted(bytes(v) for v in value)}
    raise UnstorableValue("a set must hold only strings, only numbers or only bytes")


_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_EXACT_FLOATS = 2.0**53
"""Below this magnitude a float's shortest text orders it among decimals as its exact
value does (no integer nor 38-digit decimal read back lies between the two)."""


def number_value(text: str) -> int | float | Decimal:
    """An ``N`` text read exactly: ``int`` when integral and within 64 bits (CrossQL's
    integers); ``float`` where that float's shortest ``repr`` is this very number (what a
    float written by CrossQL reads back as: ``1E+100`` is the float ``1e100``);
    otherwise ``Decimal`` (``12345678901234567890.123456789`` keeps its digits)."""
    # most numbers are short integers: 18 digits always fit 64 bits, no Decimal needed
    if len(text) <= 18 and text.isascii() and (text.isdigit() or (
            text[:1] == "-" and text[1:].isdigit())):
        return int(text)
    try:
        number = Decimal(text)
    except InvalidOperation:  # pragma: no cover - DynamoDB only sends valid numbers
        raise UnstorableValue(f"not a number: {text!r}") from None
    if number == number.to_integral_value() and _INT64_MIN <= number <= _INT64_MAX:
        return int(number)
    as_float = float(number)
    if math.isfinite(as_float) and Decimal(repr(as_float)) == number:
        return as_float
    return number


def query_number_text(value: int | float | Decimal) -> str:
    """The ``N`` text of a number compared in a condition (``number_text``), refusing a
    float whose shortest text is not its value where that changes an answer: an integral
    float of magnitude 2^53 to 2^63 whose text differs from its exact value
    (``4.611686018427388e18`` is 4611686018427387904). DynamoDB compares decimals, and
    the numbers read back near it are ints, which the reference compares with the
    float's exact value, and ``Decimal``s, which it compares with its shortest text: no
    one text answers as the reference for both (docs/backends/dynamodb.md, "Values")."""
    if type(value) is float and (1e-129 < abs(value) < _EXACT_FLOATS or value == 0):
        return repr(value)
    text = number_text(value)
    if isinstance(value, float) and abs(value) <= 2.0**63 and Decimal(text) != Decimal(value):
        raise UnstorableValue(
            f"the float {text} is {int(value)} exactly, and DynamoDB compares the decimal "
            f"{text} (bind the number as an int or a Decimal)")
    return text


def from_attribute_value(av: Mapping[str, Any]) -> Any:
    """The plain Python value of a typed AttributeValue."""
    ((kind, raw),) = av.items()
    if kind == "S":
        if len(raw) == TIMESTAMP_WIDTH and raw[-1] == "Z":
            return timestamp_value(raw) or raw
        return raw
    if kind == "N":
        return number_value(raw)
    if kind == "BOOL":
        return bool(raw)
    if kind == "NULL":
        return None
    if kind == "L":
        return [from_attribute_value(v) for v in raw]
    if kind == "M":
        return {k: from_attribute_value(v) for k, v in raw.items()}
    if kind == "SS":
        return set(raw)
    if kind == "NS":
        return {number_value(v) for v in raw}
    if kind == "B":
        return bytes(raw)
    if kind == "BS":
        return {bytes(v) for v in raw}
    raise UnstorableValue(f"unknown AttributeValue type {kind!r}")  # pragma: no cover


def item_to_python(item: Mapping[str, Any]) -> dict[str, Any]:
    """A whole DynamoDB item as a plain dict."""
    return {name: from_attribute_value(av) for name, av in item.items()}


def python_to_item(doc: Mapping[str, Any]) -> dict[str, AttributeValue]:
    """A plain dict as a DynamoDB item (top-level names must be non-empty strings)."""
    value = to_attribute_value(dict(doc))
    item: dict[str, AttributeValue] = value["M"]
    return item
