"""The Firestore names check: the condition's paths are looked at while its filter is
built, yet a bad name is refused first, whatever else the query has."""

from __future__ import annotations

import pytest

import crossql
from crossql.backends.firestore.options import FirestoreOptions

NATIVE = FirestoreOptions(native_or=True, native_not_equal=True)


def _code(text: str, options: FirestoreOptions | None = None) -> str:
    with pytest.raises(crossql.CapabilityError) as info:
        crossql.compile(text, backend="firestore", options=options)
    return info.value.code


@pytest.mark.parametrize("text", [
    "from users where __x__ == 1",
    "from users where age > 1 and not (a == 1 or b.__x__ in [1, 2])",
    # a refusal of another kind comes earlier in the condition: the name is refused first
    "from users where name matches \"a\" and __x__ == 1",
    "from users where size(tags) > 1 or __x__ startswith \"a\"",
    "from users where not exists(age) and __x__ contains 1",
])
def test_bad_name_in_condition_is_refused_first(text: str) -> None:
    # twice: the second time the other paths are known good already
    assert _code(text) == "capability.firestore.name"
    assert _code(text, NATIVE) == "capability.firestore.name"


def test_known_names_then_a_bad_one() -> None:
    good = "from users where age > 1 and tags contains \"a\" select name order by age"
    crossql.compile(good, backend="firestore")
    crossql.compile(good, backend="firestore")
    bad = "from users where age > 1 and tags contains \"a\" and __y__ between 1 and 2 " \
          "select name order by age"
    assert _code(bad) == "capability.firestore.name"
    assert _code("from users where age > 1 order by __z__") == "capability.firestore.name"
    assert _code("from users where age > 1 select __z__") == "capability.firestore.name"


def test_other_refusals_stay_when_names_are_good() -> None:
    assert _code("from users where name matches \"a\"") == "capability.firestore.matches"
    assert _code("from users where name matches \"a\"") == "capability.firestore.matches"
