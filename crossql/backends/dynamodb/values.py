"""Python values ↔ DynamoDB's typed AttributeValues, without boto3's serializer.

boto3's ``TypeSerializer`` refuses ``float`` and raises ``Inexact``/``Rounded``
for a ``Decimal`` its 38-digit context cannot hold exactly
(https://boto3.amazonaws.com/v1/documentation/api/latest/reference/customizations/dynamodb.html),
so CrossQL writes the low-level AttributeValues itself:

- ``None`` → ``NULL``, ``bool`` → ``BOOL``, ``str`` → ``S``, ``bytes`` → ``B``,
  ``list``/``tuple`` → ``L``, ``dict`` → ``M``, ``set`` of str/numbers/bytes →
  ``SS``/``NS``/``BS``.
- ``int`` → ``N`` as its decimal text; ``float`` → ``N`` as its shortest
  ``repr`` (``0.1`` is written ``0.1``, not the 55 digits of its binary value),
  so ``float(text)`` gives back the same float. ``NaN``, infinities and numbers
  outside DynamoDB's range (magnitudes 1E-130 to 9.99...E+125, 38 digits) are
  refused: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html#HowItWorks.DataTypes.Number

Reading: ``N`` → ``int`` when integral and within 64 bits, else ``float`` (so
a float written as ``2.0`` reads back as ``2``: DynamoDB keeps no int/float
distinction, and ``1 == 1.0`` in CrossQL anyway);
``SS``/``NS``/``BS`` → Python ``set`` (CrossQL arrays are ``L``; a set is not
an array for ``contains`` or ``size``, so reading it as a set keeps rows and
filters consistent).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
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
        return {"B": bytes(value)}
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


def number_value(text: str) -> int | float:
    """An ``N`` text as ``int`` when integral and within 64 bits (CrossQL's integers),
    else ``float`` (so ``1E+100``, written from the float ``1e100``, reads back as
    that float, not as the integer 10**100)."""
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
    return float(text)


def from_attribute_value(av: Mapping[str, Any]) -> Any:
    """The plain Python value of a typed AttributeValue."""
    ((kind, raw),) = av.items()
    if kind == "S":
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
