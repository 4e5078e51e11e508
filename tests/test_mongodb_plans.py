"""MongoDB plans for the whole corpus, as syrupy snapshots (read the diffs: a wrong
plan is a bug), plus table tests of the plan each guard produces."""

from __future__ import annotations

import json
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion

import crossql
from crossql.backends.mongodb.filters import escape_regex
from tests.plan_corpus import VALID, VALID_IDS, plan_text


@pytest.mark.parametrize("entry", VALID, ids=VALID_IDS)
def test_corpus_plan(entry: dict[str, Any], snapshot: SnapshotAssertion) -> None:
    assert plan_text(entry, "mongodb") == snapshot


def test_every_corpus_query_compiles_for_mongodb() -> None:
    """MongoDB supports the whole language: nothing in the corpus is refused."""
    refused = [e["name"] for e in VALID if plan_text(e, "mongodb").startswith("REFUSED")]
    assert refused == []


def _filter(condition: str) -> Any:
    plan = crossql.compile(f"from c where {condition}", backend="mongodb")
    return plan.to_dict()["arguments"]["filter"]


NOT_ARRAY = {"$not": {"$type": "array"}}


@pytest.mark.parametrize(("condition", "expected"), [
    ("f == null", {"f": {"$type": "null", **NOT_ARRAY}}),
    ("f == 5", {"f": {"$eq": 5, **NOT_ARRAY}}),
    ("f != 5", {"$or": [{"f": {"$type": "array"}}, {"f": {"$exists": True, "$nin": [5, None]}}]}),
    ("f != null", {"$or": [{"f": {"$exists": True, "$not": {"$type": "null"}}},
                           {"f": {"$type": "array"}}]}),
    ("f > 5", {"f": {"$gt": 5, **NOT_ARRAY}}),
    ("not (f > 5)", {"f": {"$lte": 5, **NOT_ARRAY}}),
    ("not (f > 5 and g == 1)", {"$or": [
        {"f": {"$lte": 5, **NOT_ARRAY}},
        {"g": {"$type": "array"}},
        {"g": {"$exists": True, "$nin": [1, None]}},
    ]}),
    ("exists(a.b)", {"a": NOT_ARRAY, "a.b": {"$exists": True}}),
    ("not exists(a.b)", {"$or": [{"a.b": {"$exists": False}}, {"a": {"$type": "array"}}]}),
    ("a.b == 1", {"a": NOT_ARRAY, "a.b": {"$eq": 1, **NOT_ARRAY}}),
    ("f startswith \"a.b*\"", {"f": {"$regex": "^a\\.b\\*", **NOT_ARRAY}}),
    ("tags contains all []", {"tags": {"$type": "array"}}),
    ("size(tags) == 2", {"tags": {"$type": "array", "$size": 2}}),
    ("f in []", {"$expr": False}),
])
def test_guard_plans(condition: str, expected: Any) -> None:
    got = _filter(condition)
    if "$and" in got and "$and" not in expected and len(expected) > 1:
        got = {k: v for part in got["$and"] for k, v in part.items()}
    assert got == expected


def test_not_is_pushed_down_never_a_blanket_nor() -> None:
    plan = crossql.compile("from c where not (a == 1 or b startswith \"x\")", backend="mongodb")
    assert "$nor" not in plan.to_json()


@pytest.mark.parametrize(("text", "pattern"), [
    ("a.b", "a\\.b"), ("(x)", "\\(x\\)"), ("$^", "\\$\\^"), ("é", "é"), ("\x00", "\\x00"),
    ("a b", "a\\ b"), ("1_2", "1_2"),
])
def test_startswith_escapes_every_metacharacter(text: str, pattern: str) -> None:
    assert escape_regex(text) == pattern


@pytest.mark.parametrize(("query", "message"), [
    ("from c where `a.b` == 1", "cannot address the field name `a.b`"),
    ("from c where `$where` == 1", "cannot address the field name `$where`"),
    ("from `system.users`", "not a valid MongoDB collection name"),
    ("from c select sum(a.b)", "cannot name an output field `sum(a.b)`"),
])
def test_names_mongodb_cannot_address_are_refused(query: str, message: str) -> None:
    with pytest.raises(crossql.CapabilityError, match=message.replace("$", "\\$").replace(
            "(", "\\(").replace(")", "\\)")) as info:
        crossql.compile(query, backend="mongodb")
    assert info.value.backend == "mongodb"
    assert info.value.hint


def test_plan_is_data_and_renders_pymongo_code() -> None:
    plan = crossql.compile("from users where age >= :min order by age desc limit 10",
                           backend="mongodb", params={"min": 18})
    assert plan.to_dict() == {
        "backend": "mongodb", "operation": "find", "collection": "users",
        "arguments": {"filter": {"age": {"$gte": 18, **NOT_ARRAY}},
                      "sort": [["age", -1]], "limit": 10},
    }
    assert plan.to_python() == (
        "rows = await db['users'].find({'age': {'$gte': 18, '$not': {'$type': 'array'}}})"
        ".sort([('age', -1)]).limit(10).to_list()"
    )
    assert "find" in plan.explain() and "users" in plan.explain()


def test_a_raw_nul_in_a_pattern_is_sent_as_an_escape() -> None:
    """mongod refuses a regular expression holding a NUL byte ("Regular expression cannot
    contain an embedded null byte"); the same character as ``\\x00`` is accepted and
    matches the same (tests/backends/test_mongodb_patterns.py runs them)."""
    for pattern, sent in [("a\x00b", "a\\x00b"), ("\\\x00", "\\x00"), ("[^\x00]", "[^\\x00]"),
                          ("\\\\\x00", "\\\\\\x00")]:
        for text in ("from c where s matches :p", "from c where not (s matches :p)"):
            plan = crossql.compile(text, backend="mongodb", params={"p": pattern})
            dumped = json.dumps(plan.to_dict())
            assert "\\u0000" not in dumped, (pattern, dumped)
            assert json.dumps(sent)[1:-1] in dumped, (pattern, dumped)


# MongoDB's `_id` is never an array and never missing
# (https://www.mongodb.com/docs/manual/core/document/#the-_id-field): predicates on it
# carry no array or presence guard, and `_id == v` is the hand-written `{_id: v}`.
@pytest.mark.parametrize(("condition", "expected"), [
    ("_id == \"u-42\"", {"_id": "u-42"}),
    ("_id == 5", {"_id": 5}),
    ("_id == true", {"_id": True}),
    ("_id == null", {"_id": {"$type": "null"}}),
    ("_id != 5", {"_id": {"$nin": [5, None]}}),
    ("not _id == 5", {"_id": {"$nin": [5, None]}}),
    ("_id != null", {"_id": {"$not": {"$type": "null"}}}),
    ("_id in [1, \"a\"]", {"_id": {"$in": [1, "a"]}}),
    ("_id not in [1, \"a\"]", {"_id": {"$nin": [1, "a", None]}}),
    ("_id < 5", {"_id": {"$lt": 5}}),
    ("not (_id < 5)", {"_id": {"$gte": 5}}),
    ("_id between 1 and 3", {"_id": {"$gte": 1, "$lte": 3}}),
    ("_id startswith \"a\"", {"_id": {"$regex": "^a"}}),
    ("_id == 5 and f == 1", {"_id": {"$eq": 5}, "f": {"$eq": 1, **NOT_ARRAY}}),
])
def test_id_predicates_carry_no_array_guard(condition: str, expected: Any) -> None:
    got = _filter(condition)
    if "$and" in got and "$and" not in expected and len(expected) > 1:
        got = {k: v for part in got["$and"] for k, v in part.items()}
    assert got == expected


def test_a_point_lookup_is_the_hand_written_find() -> None:
    plan = crossql.compile("from users where _id == :id", backend="mongodb",
                           params={"id": "u-42"}).to_dict()
    assert plan["operation"] == "find"
    assert plan["arguments"] == {"filter": {"_id": "u-42"}}


def test_a_dotted_sort_key_never_reads_through_an_array() -> None:
    # `$sort` on `aom.k` reads into an array `aom`, where the reference sees the key
    # missing: the key is computed, null when a proper prefix is not a map
    plan = crossql.compile("from items where n > 1 order by aom.k desc, _id limit 5",
                           backend="mongodb").to_dict()
    assert plan["operation"] == "aggregate"
    key = {"$cond": [{"$ne": [{"$type": "$aom"}, "object"]}, None, "$aom.k"]}
    assert plan["arguments"]["pipeline"] == [
        {"$match": {"n": {"$gt": 1, "$not": {"$type": "array"}}}},
        {"$replaceRoot": {"newRoot": {"k0": key, "doc": "$$ROOT"}}},
        {"$sort": {"k0": -1, "doc._id": 1}},
        {"$limit": 5},
        {"$replaceRoot": {"newRoot": "$doc"}},
    ]
    # keys without dots keep the plain find
    plan = crossql.compile("from items order by k desc, _id limit 5", backend="mongodb").to_dict()
    assert plan["operation"] == "find"
    assert plan["arguments"]["sort"] == [["k", -1], ["_id", 1]]
