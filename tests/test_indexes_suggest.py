"""Deriving indexes from queries (crossql/indexes: patterns, rules, suggest)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings

import crossql
from crossql import ir
from crossql.indexes import (
    DynamoIndex,
    FirestoreField,
    FirestoreIndex,
    MongoIndex,
    parse_indexes,
    patterns,
    rules,
    suggest,
)
from crossql.indexes.patterns import key_pattern
from tests.budget import examples
from tests.plan_corpus import CORPUS
from tests.strategies import DEFAULT_SCHEMA, index_corpora

ASC, DESC, CONTAINS = "ASCENDING", "DESCENDING", "CONTAINS"


def fs(*fields: tuple[str, str], collection: str = "cities") -> FirestoreIndex:
    return FirestoreIndex(collection, tuple(FirestoreField(p, m) for p, m in fields))


# Firestore's documented examples: the query (in CrossQL) and the composite index the
# documentation says it needs, or None where the automatic single-field indexes (merged
# for equalities) serve it.
# https://firebase.google.com/docs/firestore/query-data/index-overview (cities examples),
# https://firebase.google.com/docs/firestore/query-data/multiple-range-fields,
# https://firebase.google.com/docs/reference/firestore/indexes (the posts example).
FIRESTORE_DOCUMENTED: list[tuple[str, FirestoreIndex | None]] = [
    ('from cities where state == "CA"', None),
    ("from cities where population < 100000", None),
    ('from cities where name >= "San Francisco"', None),
    ('from cities where regions contains "west_coast"', None),
    ("from cities order by name", None),
    ("from cities where population > 100000 order by population desc", None),
    ('from cities where state == "CO" and name == "Denver"', None),
    ('from cities where country == "USA" and capital == false and state == "CA" '
     "and population == 860000", None),
    ('from cities where country == "USA" order by population',
     fs(("country", ASC), ("population", ASC))),
    ('from cities where country == "USA" and population < 3800000',
     fs(("country", ASC), ("population", ASC))),
    ('from cities where country == "USA" and population > 690000',
     fs(("country", ASC), ("population", ASC))),
    ('from cities where country == "USA" order by population desc',
     fs(("country", ASC), ("population", DESC))),
    ('from cities where country == "USA" and population < 3800000 order by population desc',
     fs(("country", ASC), ("population", DESC))),
    ('from cities where country in ["USA", "Japan", "China"] and population > 690000 '
     "order by population desc", fs(("country", ASC), ("population", DESC))),
    # multiple range fields: implicitly ordered by field name, after the explicit orders
    ("from cities where population > 1000000 and density < 10000",
     fs(("density", ASC), ("population", ASC))),
    ("from cities where population > 1000000 and density < 10000 order by population",
     fs(("population", ASC), ("density", ASC))),
    ('from posts where author contains "ada" order by timestamp desc',
     fs(("author", CONTAINS), ("timestamp", DESC), collection="posts")),
]


@pytest.mark.parametrize(("text", "expected"), FIRESTORE_DOCUMENTED)
def test_firestore_documented_examples(text: str, expected: FirestoreIndex | None) -> None:
    report = suggest([(text, crossql.parse(text))], backends=["firestore"])
    found = [s.index for s in report.indexes["firestore"]]
    assert found == ([] if expected is None else [expected])
    if expected is not None:
        assert report.indexes["firestore"][0].queries == (text,)


def test_firestore_or_needs_an_index_per_disjunction() -> None:
    text = "from cities where capital == true or population > 7 order by name"
    found = {s.index for s in suggest([(text, crossql.parse(text))],
                                      backends=["firestore"]).indexes["firestore"]}
    assert found == {fs(("capital", ASC), ("name", ASC)), fs(("name", ASC), ("population", ASC))}


def test_firestore_merges_equality_prefixes_over_a_shared_order() -> None:
    texts = ["from cities where a == 1 order by c", "from cities where b == 1 order by c",
             "from cities where a == 1 and b == 2 order by c"]
    report = suggest([(t, crossql.parse(t)) for t in texts], backends=["firestore"])
    kept = {s.index: s.queries for s in report.indexes["firestore"]}
    assert set(kept) == {fs(("a", ASC), ("c", ASC)), fs(("b", ASC), ("c", ASC))}
    assert texts[2] in kept[fs(("a", ASC), ("c", ASC))]
    assert texts[2] in kept[fs(("b", ASC), ("c", ASC))]


def _one(text: str) -> rules.Pattern:
    (p,) = patterns(crossql.parse(text))  # type: ignore[arg-type]
    return p


def test_firestore_serves() -> None:
    p = _one('from cities where country == "USA" order by population desc')
    assert rules.firestore_served([fs(("country", DESC), ("population", DESC))], p)
    assert not rules.firestore_served([fs(("country", ASC), ("population", ASC))], p)
    assert not rules.firestore_served([fs(("population", DESC), ("country", ASC))], p)
    assert not rules.firestore_served(
        [fs(("country", ASC), ("population", DESC), collection="other")], p)
    group = FirestoreIndex("cities", fs(("country", ASC), ("population", DESC)).fields,
                           "COLLECTION_GROUP")
    assert not rules.firestore_served([group], p)
    assert rules.firestore_served([], _one('from cities where _id == "SF" and a > 1 '
                                           "order by b"))


def test_mongodb_esr_and_its_prefixes() -> None:
    p = _one('from orders where status == "paid" and total > 10 order by placed desc')
    need = rules.mongo_need(p)
    assert need == MongoIndex((("status", 1), ("placed", -1), ("total", 1)))
    assert rules.mongo_serves(MongoIndex((("status", -1), ("placed", 1), ("total", 1),
                                          ("x", 1))), p)  # reversed sort, longer index
    two = _one('from orders where status == "paid" order by placed desc, sku')
    assert rules.mongo_serves(MongoIndex((("status", 1), ("placed", 1), ("sku", -1))), two)
    assert not rules.mongo_serves(MongoIndex((("status", 1), ("placed", 1), ("sku", 1))), two)
    assert not rules.mongo_serves(MongoIndex((("status", 1), ("total", 1), ("placed", -1))), p)
    assert not rules.mongo_serves(MongoIndex(need.keys, partial={"x": 1}), p)
    assert not rules.mongo_serves(MongoIndex(need.keys, sparse=True), p)
    assert rules.mongo_need(_one('from orders where _id == "x" and a > 1')) is None
    assert rules.mongo_need(_one("from orders")) is None


def test_mongodb_keeps_the_longer_index_for_its_prefix() -> None:
    texts = ["from orders where user == 1", "from orders where user == 1 order by placed"]
    report = suggest([(t, crossql.parse(t)) for t in texts], backends=["mongodb"])
    (only,) = report.indexes["mongodb"]
    assert only.index == MongoIndex((("user", 1), ("placed", 1)))
    assert set(only.queries) == set(texts)


def test_dynamodb_gsi_for_a_scan_that_pins_a_field() -> None:
    text = "from orders where user == 7 and total > 10 select total, placed"
    p = key_pattern(crossql.parse(text))  # type: ignore[arg-type]
    need = rules.dynamo_need(p, rules.Table())
    assert need == DynamoIndex("by_user_total", "user", "total", False, ("placed",), "N", "N")
    assert isinstance(need, DynamoIndex) and rules.dynamo_serves(need, p, rules.Table())
    narrow = DynamoIndex("by_user_total", "user", "total", projection="KEYS_ONLY")
    assert not rules.dynamo_serves(narrow, p, rules.Table())
    assert rules.dynamo_need(key_pattern(crossql.parse(  # type: ignore[arg-type]
        'from orders where _id == "a" and user == 7')), rules.Table()) is None
    assert rules.dynamo_need(key_pattern(crossql.parse(  # type: ignore[arg-type]
        "from orders where total > 1")), rules.Table()) == "scan"


def test_dynamodb_or_below_the_top_level_and_only_filters() -> None:
    text = "from orders where user == 7 and (a == 1 or b == 2)"
    p = key_pattern(crossql.parse(text))  # type: ignore[arg-type]
    assert p.equal == {"user"} and p.filtered == {"a", "b"}
    report = suggest([(text, crossql.parse(text))], backends=["dynamodb"])
    assert [s.index.partition_key for s in report.indexes["dynamodb"]  # type: ignore[union-attr]
            ] == ["user"]


def test_declared_indexes_are_marked_and_dynamodb_keys_respected() -> None:
    texts = ['from orders where user == 7 order by placed', 'from orders where sku == "x"']
    schema = {
        "mongodb": {"orders": {"indexes": [{"keys": {"user": 1, "placed": 1}}]}},
        "dynamodb": {"orders": {"partition_key": "sku"}},
        "firestore": {"orders": {"indexes": [{"fields": ["user", "placed"]}]}},
    }
    report = suggest([(t, crossql.parse(t)) for t in texts], schema)
    assert [(s.index.text(), s.declared) for s in report.indexes["mongodb"]] == [
        ("{user: 1, placed: 1}", True), ("{sku: 1}", False)]
    assert [s.index.partition_key for s in report.indexes["dynamodb"]] == [  # type: ignore
        "user"]
    assert [s.declared for s in report.indexes["firestore"]] == [True]


def _served(backend: str, indexes: list[Any], query: ir.Query) -> bool:
    if backend == "firestore":
        return all(rules.firestore_served(indexes, p) for p in patterns(query))
    if backend == "mongodb":
        return all(rules.mongo_served(indexes, p) for p in patterns(query))
    p = key_pattern(query)
    # a reason ("scan", "nested"): no index can give it a Query
    return isinstance(rules.dynamo_need(p, rules.Table()), str) or rules.dynamo_served(
        indexes, p, rules.Table())


@settings(max_examples=examples(200), deadline=None)
@given(index_corpora())
def test_every_query_is_served_by_what_suggest_prints(corpus: list[ir.Query]) -> None:
    labelled = [(f"q{i}", q) for i, q in enumerate(corpus)]
    report = suggest(labelled)  # type: ignore[arg-type]
    for backend, suggestions in report.indexes.items():
        # what is printed, read back as a declaration, serves every query
        printed: dict[str, list[Any]] = {}
        for s in suggestions:
            (again,) = parse_indexes([s.index.definition()], backend, collection=s.collection,
                                     attribute_types={})
            printed.setdefault(s.collection, []).append(again)
            assert s.queries, f"{backend}: {s.index.text()} serves no query"
        for query in corpus:
            assert _served(backend, printed.get(query.collection, []), query), (
                backend, crossql.format(query))


def test_suggest_over_the_test_corpus_finds_indexes_for_every_backend() -> None:
    labelled = [(e["name"], crossql.parse(e["query"])) for e in CORPUS if "error" not in e]
    report = suggest(labelled)
    for backend in ("mongodb", "dynamodb", "firestore"):
        assert report.indexes[backend], backend
    for query in (q for _, q in labelled):
        assert isinstance(query, ir.Query | ir.Update | ir.Delete)


FIRESTORE_INDEXES_SCHEMA_KEYS = {"indexes", "fieldOverrides"}


def _check_firestore_indexes_json(document: Any) -> None:
    """The structure https://firebase.google.com/docs/reference/firestore/indexes
    documents for firestore.indexes.json (composite indexes; no vector fields)."""
    assert isinstance(document, dict) and set(document) <= FIRESTORE_INDEXES_SCHEMA_KEYS
    assert isinstance(document["indexes"], list)
    assert isinstance(document.get("fieldOverrides", []), list)
    for index in document["indexes"]:
        assert set(index) == {"collectionGroup", "queryScope", "fields"}
        assert isinstance(index["collectionGroup"], str) and index["collectionGroup"]
        assert index["queryScope"] in ("COLLECTION", "COLLECTION_GROUP")
        assert len(index["fields"]) >= 2
        for f in index["fields"]:
            assert isinstance(f["fieldPath"], str) and f["fieldPath"]
            modes = set(f) - {"fieldPath"}
            assert modes in ({"order"}, {"arrayConfig"})
            assert f.get("order", "ASCENDING") in ("ASCENDING", "DESCENDING")
            assert f.get("arrayConfig", "CONTAINS") == "CONTAINS"


def test_firestore_indexes_json_has_the_documented_structure() -> None:
    labelled = [(t, crossql.parse(t)) for t, _ in FIRESTORE_DOCUMENTED]
    document = json.loads(json.dumps(suggest(labelled, backends=["firestore"])
                                      .firestore_json()))
    _check_firestore_indexes_json(document)
    assert len(document["indexes"]) == 5  # one per distinct index of the table
    with pytest.raises(AssertionError):
        _check_firestore_indexes_json({"indexes": [{"collectionGroup": "c", "fields": []}]})


FULL = {"native_or": True, "native_not_equal": True}
PRESENT = {"docs": {"required": [str(p.dotted) for p, _ in DEFAULT_SCHEMA.paths()]}}
"""Every field of the typed queries present: Firestore then runs their orders."""


@settings(max_examples=examples(200), deadline=None)
@given(index_corpora())
def test_firestore_accepts_under_require_indexes_what_suggest_declares(
        corpus: list[ir.Query]) -> None:
    accepted = []
    for query in corpus:
        try:
            crossql.compile(query, "firestore", schema=PRESENT, options=FULL)
        except crossql.QueryError:
            continue
        accepted.append(query)
    report = suggest([(f"q{i}", q) for i, q in enumerate(accepted)], backends=["firestore"])
    schema: dict[str, Any] = {"docs": {"required": PRESENT["docs"]["required"]}}
    for s in report.indexes["firestore"]:
        schema.setdefault(s.collection, {}).setdefault("indexes", []).append(
            s.index.definition())
    for query in accepted:
        crossql.compile(query, "firestore", schema=schema,
                        options={**FULL, "require_indexes": True})
