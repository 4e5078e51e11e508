"""Index declarations (crossql/indexes/model.py): parsed from plain data, errors located."""

from __future__ import annotations

import pytest

from crossql.errors import ConfigError
from crossql.indexes import (
    DynamoIndex,
    FirestoreField,
    FirestoreIndex,
    MongoIndex,
    collection_indexes,
    parse_indexes,
    parse_schema_indexes,
)


def test_mongodb_keys_in_every_spelling() -> None:
    spellings = [{"user": 1, "created": -1}, [{"user": 1}, {"created": -1}],
                 [["user", 1], ["created", -1]]]
    for keys in spellings:
        (index,) = parse_indexes([{"keys": keys, "unique": True}], "mongodb",
                                 collection="orders")
        assert index == MongoIndex((("user", 1), ("created", -1)), unique=True)
    (plain,) = parse_indexes([{"keys": ["user"]}], "mongodb", collection="orders")
    assert plain.keys == (("user", 1),) and plain.default_name() == "user_1"


def test_mongodb_partial_and_sparse_round_trip() -> None:
    raw = {"keys": {"a": 1}, "sparse": True, "partial": {"a": {"$exists": True}}}
    (index,) = parse_indexes([raw], "mongodb", collection="c")
    assert index.sparse and index.partial == {"a": {"$exists": True}}
    assert parse_indexes([index.definition()], "mongodb", collection="c") == (index,)


def test_dynamodb_gsi_and_lsi() -> None:
    gsi, lsi = parse_indexes(
        [{"name": "by_user", "partition_key": "user", "sort_key": "created",
          "projection": ["total"]},
         {"name": "by_date", "local": True, "sort_key": "date", "projection": "KEYS_ONLY"}],
        "dynamodb", collection="orders", attribute_types={"created": "N"})
    assert gsi == DynamoIndex("by_user", "user", "created", False, ("total",), "S", "N")
    assert lsi.local and lsi.partition_key is None and lsi.projection == "KEYS_ONLY"
    assert gsi.text() == "GSI by_user (user S, created N) projecting INCLUDE total"


def test_firestore_fields_in_both_spellings() -> None:
    (index,) = parse_indexes(
        [{"fields": [{"field": "tags", "arrayConfig": "CONTAINS"},
                     {"fieldPath": "created", "order": "DESCENDING"}, "__name__"]}],
        "firestore", collection="posts")
    assert index == FirestoreIndex("posts", (FirestoreField("tags", "CONTAINS"),
                                             FirestoreField("created", "DESCENDING")))
    assert index.to_json() == {"collectionGroup": "posts", "queryScope": "COLLECTION",
                               "fields": [{"fieldPath": "tags", "arrayConfig": "CONTAINS"},
                                          {"fieldPath": "created", "order": "DESCENDING"}]}


@pytest.mark.parametrize(("backend", "entries", "where", "says"), [
    ("mongodb", [{"keys": {"a": 2}}], "mongodb.c.indexes.0.keys.a", "1 or -1"),
    ("mongodb", [{"keys": {}}], "mongodb.c.indexes.0.keys", "at least one key"),
    ("mongodb", [{"key": {"a": 1}}], "mongodb.c.indexes.0.key", "unknown key"),
    ("mongodb", [{"keys": {"a": 1}}, {"keys": [["a", 1]]}], "mongodb.c.indexes.1",
     "same index"),
    ("dynamodb", [{"name": "by_x"}], "dynamodb.c.indexes.0", "partition_key"),
    ("dynamodb", [{"name": "x", "partition_key": "a"}], "dynamodb.c.indexes.0.name",
     "3 to 255"),
    ("dynamodb", [{"name": "lsi", "local": True}], "dynamodb.c.indexes.0", "sort_key"),
    ("dynamodb", [{"name": "gsi", "partition_key": "a", "projection": "SOME"}],
     "dynamodb.c.indexes.0.projection", "KEYS_ONLY"),
    ("firestore", [{"fields": [{"field": "a", "order": "UP"}, "b"]}],
     "firestore.c.indexes.0.fields.0.order", "ASCENDING or DESCENDING"),
    ("firestore", [{"fields": ["a"]}], "firestore.c.indexes.0.fields", "at least two"),
    ("firestore", [{"fields": [{"field": "a", "arrayConfig": "CONTAINS"},
                               {"field": "b", "mode": "CONTAINS"}]}],
     "firestore.c.indexes.0.fields", "at most one"),
    ("firestore", [{"fields": ["a", "b"], "scope": "GROUP"}],
     "firestore.c.indexes.0.scope", "COLLECTION_GROUP"),
    ("firestore", {"fields": ["a", "b"]}, "firestore.c.indexes", "list of indexes"),
])
def test_bad_declarations_are_located(backend: str, entries: object, where: str,
                                      says: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_indexes(entries, backend, collection="c")
    assert any(path == where and says in msg for path, msg in info.value.problems), \
        info.value.problems


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        parse_schema_indexes({"mongodb": {"a": {"indexes": [{"keys": {"x": 0}}]}},
                              "firestore": {"b": {"indexes": [{"fields": ["x"]}]}}})
    assert [p for p, _ in info.value.problems] == ["mongodb.a.indexes.0.keys.x",
                                                   "firestore.b.indexes.0.fields"]


def test_schema_indexes_per_backend_and_collection() -> None:
    declared = parse_schema_indexes({
        "mongodb": {"orders": {"indexes": [{"keys": {"user": 1}}]}},
        "dynamodb": {"orders": {"partition_key": "_id", "attribute_types": {"n": "N"},
                                "indexes": [{"name": "by_n", "partition_key": "n"}]}},
        "firestore": {"orders": {"required": ["x"]}},
    })
    assert declared.of("mongodb", "orders") == (MongoIndex((("user", 1),)),)
    (gsi,) = declared.of("dynamodb", "orders")
    assert isinstance(gsi, DynamoIndex) and gsi.partition_key_type == "N"
    assert declared.of("firestore", "orders") == ()


def test_collection_indexes_reads_a_compile_schema() -> None:
    schema = {"posts": {"required": ["a"], "indexes": [{"fields": ["a", "b"]}]}}
    assert collection_indexes(schema, "firestore", "posts") == (
        FirestoreIndex("posts", (FirestoreField("a"), FirestoreField("b"))),)
    assert collection_indexes(schema, "firestore", "other") == ()
    with pytest.raises(ConfigError) as info:
        collection_indexes({"posts": {"indexes": [{"fields": ["a"]}]}}, "firestore", "posts")
    assert info.value.problems[0][0] == "schema.posts.indexes.0.fields"
