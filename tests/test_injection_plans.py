"""Parameters are values, never operators, names or query text — checked on the plans of
every backend, without a server (the same values run on real servers in
tests/backends/test_injection.py).

For each hostile value bound in each kind of place, the plan is compared with the plan of
a harmless marker value of the same type: the two plans must be the same up to the value
itself, so nothing in the value changed the shape of the plan (an operator, a field name,
expression text); or the value is refused with a ``QueryError``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

import crossql
from crossql import FirestoreOptions
from tests.hostile import HOSTILE_ACCEPTED, HOSTILE_REFUSED

BACKENDS: list[tuple[str, Any]] = [
    ("memory", None), ("mongodb", None), ("dynamodb", None), ("firestore", None),
    ("firestore", FirestoreOptions(native_not_equal=True, native_or=True)),
]

PLACES = {
    "==": "from users where name == :v",
    "!=": "from users where name != :v",
    "in": "from users where name in :v",
    "not in": "from users where name not in :v",
    "contains": "from users where tags contains :v",
    "contains any": "from users where tags contains any :v",
    "startswith": "from users where name startswith :v",
    "<": "from users where name < :v",
    "_id ==": "from users where _id == :v",
}


def _marker_like(value: Any) -> Any:
    """A harmless value of the same kind (the same plan shape is expected)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return 7
    if isinstance(value, float):
        return 7.5
    if isinstance(value, str):
        return "MARKER"
    return [_marker_like(v) for v in value]


VALUE_KEYS = frozenset({"value", "literal", "text", "ExpressionAttributeValues",
                        "document_id"})
"""Where a plan holds values: Firestore filters and document gets, the memory plan's IR and
text, DynamoDB's value placeholders. In MongoDB filters, values sit under operators
(``$eq``, ``$in``...)."""
STRUCTURAL_OPERATORS = frozenset({"$type", "$exists"})


def shape(data: Any, parent: str = "") -> Any:
    """A plan's data with every value replaced by ``<v>``: the keys, operators, field
    names and expression texts that are left are what a value must never change."""
    if isinstance(data, dict):
        return {k: "<v>" if k in VALUE_KEYS else shape(v, k) for k, v in data.items()}
    if isinstance(data, list):
        return [shape(v, parent) for v in data]
    if parent.startswith("$") and parent not in STRUCTURAL_OPERATORS:
        return "<v>"
    if parent == "_id" and not isinstance(data, dict | list):
        return "<v>"  # MongoDB's point lookup `{_id: v}`: a value in a field's place
    return data


# values a backend plans in a way of their own (refusing to send them, or with a simpler
# form); with each, the reason. Their plans are still checked for the value in a key.
OWN_PLAN: dict[tuple[str, str], tuple[Any, ...]] = {
    # a DynamoDB key is never "", so `_id == ""` reads nothing, or is a filter of a Scan
    ("dynamodb", "_id =="): ("",),
    # no Firestore document has such an id (empty, `__x__`): nothing is read
    ("firestore", "_id =="): ("", "__name__", "__key__"),
    # startswith "" is "is a string"; an empty `in`/`contains any` matches nothing
    ("*", "startswith"): ("",),
    ("*", "in"): ([],), ("*", "not in"): ([],), ("*", "contains any"): ([],),
    # null has forms of its own: `== null`, `!= null`, `in [null]`
    ("*", "=="): (None,), ("*", "!="): (None,), ("*", "_id =="): (None,),
    ("*", "contains"): (None,),
}


def _own_plan(backend: str, place: str, value: Any) -> bool:
    for key in ((backend, place), ("*", place)):
        if any(value == v and type(value) is type(v) for v in OWN_PLAN.get(key, ())):
            return True
    return isinstance(value, list) and any(v is None for v in value)


def _plan_or_error(text: str, backend: str, options: Any,
                   value: Any) -> crossql.Plan | crossql.QueryError:
    try:
        return crossql.compile(text, backend=backend, options=options, params={"v": value})
    except crossql.QueryError as err:
        return err


@pytest.mark.parametrize(("backend", "options"), BACKENDS,
                         ids=["memory", "mongodb", "dynamodb", "firestore", "firestore-native"])
@pytest.mark.parametrize("place", list(PLACES))
def test_a_hostile_value_never_changes_the_plan_shape(backend: str, options: Any,
                                                      place: str) -> None:
    text = PLACES[place]
    compared = refused = 0
    for value in HOSTILE_ACCEPTED:
        got = _plan_or_error(text, backend, options, value)
        if isinstance(got, crossql.QueryError):
            # refused: a located, well-formed error, never something else
            assert got.code.split(".")[0] in ("semantic", "capability"), got
            refused += 1
            continue
        if _own_plan(backend, place, value):
            continue
        want = _plan_or_error(text, backend, options, _marker_like(value))
        assert not isinstance(want, crossql.QueryError), (place, value, want)
        assert shape(got.to_dict()) == shape(want.to_dict()), (place, value, got.to_json(),
                                                               want.to_json())
        compared += 1
    # every value was compared or refused; a place the backend refuses outright (Firestore's
    # default profile has no `!=`) compares nothing
    assert compared + refused >= len(HOSTILE_ACCEPTED) - 12, (compared, refused)
    assert compared >= 3 or refused == len(HOSTILE_ACCEPTED), (compared, refused)


@pytest.mark.parametrize(("backend", "options"), BACKENDS,
                         ids=["memory", "mongodb", "dynamodb", "firestore", "firestore-native"])
def test_values_that_are_not_plain_are_refused_everywhere(backend: str, options: Any) -> None:
    for place, text in PLACES.items():
        for value in HOSTILE_REFUSED:
            got = _plan_or_error(text, backend, options, value)
            assert isinstance(got, crossql.QuerySemanticError), (place, value, got)
            assert got.code in ("semantic.invalid-parameter", "semantic.value-too-large"), got
            assert ":v" in got.message


def test_mongodb_does_not_merge_values_that_python_calls_equal() -> None:
    # `1 == True` in Python; in MongoDB and CrossQL they are different values, so
    # `a == 1 and a == true` is never true and must not become `a == true`
    docs = [{"_id": 1, "a": 1}, {"_id": 2, "a": True}, {"_id": 3, "a": 0}, {"_id": 4, "a": False}]
    for text, params in (("from c where a == :x and a == :y", {"x": 1, "y": True}),
                         ("from c where a != :x and a != :y", {"x": 0, "y": False}),
                         ("from c where a in :x and a in :y", {"x": [1], "y": [True]})):
        plan = crossql.compile(text, backend="mongodb", params=params)
        data = json.dumps(plan.to_dict())
        assert "true" in data and ("1" in data or "0" in data), data
        assert crossql.evaluate(text, docs, params=params) == [] or "!=" in text
