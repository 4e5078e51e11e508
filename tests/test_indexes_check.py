"""Firestore's ``require_indexes`` and the index ``explain`` names
(crossql/indexes/check.py)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

import crossql
from crossql.backends.firestore.options import FirestoreOptions
from crossql.backends.firestore.store import FirestoreStore
from crossql.errors import CapabilityError, ConfigError
from crossql.indexes.check import index_note

REQUIRE = {"require_indexes": True}
ORDERED = 'from cities where country == "USA" and population > 5 order by population desc'


def _refusal(text: str, schema: Any = None) -> CapabilityError:
    with pytest.raises(CapabilityError) as info:
        crossql.compile(text, "firestore", schema=schema, options=REQUIRE)
    return info.value


def _hinted(err: CapabilityError) -> dict[str, Any]:
    """The declaration the hint prints (the JSON object after `cities`: )."""
    assert err.hint is not None
    match = re.search(r"for `\w+`: (\{.*?\}) — ", err.hint)
    assert match is not None, err.hint
    declaration: dict[str, Any] = json.loads(match.group(1))
    return declaration


def test_an_undeclared_composite_index_is_refused_on_the_clause_that_needs_it() -> None:
    err = _refusal(ORDERED)
    assert err.code == "capability.firestore.index" and err.construct == "order by"
    assert err.span is not None and ORDERED[err.span[0]:err.span[1]] == "population desc"
    assert "cities (country ASC, population DESC)" in err.message
    declaration = _hinted(err)
    schema = {"cities": {"indexes": [declaration]}}
    plan = crossql.compile(ORDERED, "firestore", schema=schema, options=REQUIRE)
    assert plan.to_dict() == crossql.compile(ORDERED, "firestore").to_dict()


def test_the_range_that_needs_the_index_is_blamed_when_nothing_is_ordered() -> None:
    text = 'from cities where country == "USA" and population > 5'
    err = _refusal(text)
    assert err.construct == "<, <=, >, >=" and err.span is not None
    assert text[err.span[0]:err.span[1]] == "population > 5"


@pytest.mark.parametrize("text", [
    'from cities where state == "CA" and name == "Denver"',
    "from cities where population > 5 order by population desc",
    'from cities where regions contains "west" and capital == true',
    'from cities where _id == "SF" and population > 3',
    "from cities where population > 5 and population < 3",  # no document: no query
])
def test_automatic_indexes_need_no_declaration(text: str) -> None:
    assert crossql.compile(text, "firestore", options=REQUIRE) is not None


def test_each_disjunction_needs_its_index() -> None:
    text = 'from cities where (country == "USA" or capital == true) and population > 5'
    options = {**REQUIRE, "native_or": True}
    with pytest.raises(CapabilityError) as first:
        crossql.compile(text, "firestore", options=options)
    one = _hinted(first.value)
    with pytest.raises(CapabilityError) as second:
        crossql.compile(text, "firestore", schema={"cities": {"indexes": [one]}},
                        options=options)
    both = {"cities": {"indexes": [one, _hinted(second.value)]}}
    assert crossql.compile(text, "firestore", schema=both, options=options) is not None


def test_without_the_option_nothing_changes() -> None:
    assert crossql.compile(ORDERED, "firestore").backend == "firestore"
    assert FirestoreOptions(require_indexes=True).profile == "default"


def test_a_bad_declaration_is_a_located_config_error() -> None:
    with pytest.raises(ConfigError) as info:
        crossql.compile(ORDERED, "firestore", options=REQUIRE,
                        schema={"cities": {"indexes": [{"fields": ["country"]}]}})
    assert info.value.problems[0][0] == "schema.cities.indexes.0.fields"


def test_a_store_with_require_indexes_refuses_before_sending() -> None:
    declared = {"cities": {"indexes": [{"fields": [
        "country", {"field": "population", "order": "DESCENDING"}]}]}}
    strict = FirestoreStore(options=FirestoreOptions(require_indexes=True))
    with pytest.raises(CapabilityError, match="composite index"):
        strict.plan(ORDERED)
    ready = FirestoreStore(options=FirestoreOptions(require_indexes=True), schema=declared)
    assert ready.plan(ORDERED).backend == "firestore"


def test_index_note_per_backend() -> None:
    query = crossql.parse(ORDERED)
    assert index_note(query, "firestore") == ("index: composite cities (country ASC, "
                                              "population DESC) (not declared)")
    assert index_note(crossql.parse("from cities where a == 1"), "firestore") == (
        "index: Firestore's automatic single-field indexes (no composite index needed)")
    assert index_note(query, "mongodb") == ("expected index: {country: 1, population: -1} "
                                            "(not declared)")
    declared = {"cities": {"indexes": [{"keys": {"country": 1, "population": 1, "x": 1}}]}}
    assert index_note(query, "mongodb", declared) == (
        "expected index: {country: 1, population: 1, x: 1}")
    assert index_note(crossql.parse("from cities"), "mongodb") == (
        "index: none (the whole collection is read)")
    assert index_note(query, "dynamodb") is None


def test_explain_names_the_index(capsys: pytest.CaptureFixture[str]) -> None:
    from crossql.cli import main

    assert main(["explain", "--backend", "firestore", ORDERED]) == 0
    assert capsys.readouterr().out.rstrip().endswith(
        "index: composite cities (country ASC, population DESC) (not declared)")
