"""DynamoDB plans: the corpus as syrupy snapshots (read the diffs: a wrong plan is a bug),
table tests of the expression each rule produces and of the access path each key schema
gives, every refusal, DynamoDB's limits, schema and option validation, and the plan's
renderings agreeing with each other."""

from __future__ import annotations

import ast
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion

import crossql
from crossql.backends import get_backend
from crossql.backends.base import CONSTRUCTS
from crossql.backends.dynamodb import CAPABILITIES, DynamoPlan
from crossql.backends.dynamodb.values import (
    UnstorableValue,
    from_attribute_value,
    number_text,
    number_value,
    to_attribute_value,
)
from tests.plan_corpus import VALID, VALID_IDS, plan_text

CORPUS_SCHEMA: dict[str, Any] = {
    "users": {
        "partition_key": "_id",
        "indexes": [
            {"name": "by_status", "partition_key": "status", "sort_key": "age"},
            {"name": "by_country", "partition_key": "country", "sort_key": "last_name",
             "projection": ["first_name", "email"]},
        ],
        "attribute_types": {"_id": "S", "status": "S", "age": "N", "country": "S",
                            "last_name": "S"},
    },
    "orders": {
        "partition_key": "country", "sort_key": "placed_at",
        "indexes": [
            {"name": "by_status", "partition_key": "status", "sort_key": "placed_at"},
            {"name": "by_total", "sort_key": "total", "local": True, "projection": "KEYS_ONLY"},
        ],
    },
    "products": {
        "partition_key": "category", "sort_key": "price",
        "indexes": [{"name": "by_sku", "partition_key": "sku"}],
    },
}
"""Key schemas for the corpus collections (``cities`` has none: keyed by ``_id``)."""


def compile_dd(query: str, schema: Any = None, **kwargs: Any) -> DynamoPlan:
    plan = crossql.compile(query, backend="dynamodb", schema=schema, **kwargs)
    assert isinstance(plan, DynamoPlan)
    return plan


def refusal(query: str, schema: Any = None, **kwargs: Any) -> crossql.CapabilityError:
    with pytest.raises(crossql.CapabilityError) as info:
        compile_dd(query, schema, **kwargs)
    assert info.value.backend == "dynamodb"
    assert info.value.message.startswith("dynamodb cannot")
    return info.value


@pytest.mark.parametrize("entry", VALID, ids=VALID_IDS)
def test_corpus_plan(entry: dict[str, Any], snapshot: SnapshotAssertion) -> None:
    assert plan_text(entry, "dynamodb", schema=CORPUS_SCHEMA) == snapshot


def test_the_corpus_uses_queries_scans_and_refusals() -> None:
    kinds: dict[str, list[str]] = {"Query": [], "Scan": [], "refused": []}
    for entry in VALID:
        text = plan_text(entry, "dynamodb", schema=CORPUS_SCHEMA)
        kind = "refused" if text.startswith("REFUSED") else \
            "Query" if '"operation": "Query"' in text else "Scan"
        kinds[kind].append(entry["name"])
    assert {"example_adults_active", "eq_document_id", "order_by_with_filter"} <= \
        set(kinds["Query"])
    assert {"matches_literal", "group_by_two_keys", "users_page_three",
            "order_by_many_keys", "all_aggregates"} <= set(kinds["refused"])
    assert len(kinds["Scan"]) >= len(VALID) // 2


# --- capabilities -----------------------------------------------------------------------


def test_capabilities_cover_every_construct() -> None:
    assert set(CAPABILITIES.support) == set(CONSTRUCTS)
    assert set(CAPABILITIES.notes) == set(CONSTRUCTS)
    assert get_backend("dynamodb").capabilities is CAPABILITIES


REFUSED_CONSTRUCTS = {
    "matches": "from users where name matches 'a'",
    "group by": "from users group by status",
    "count(p)": "from users select count(email) as n",
    "sum": "from users select sum(age) as s",
    "avg": "from users select avg(age) as s",
    "min": "from users select min(age) as s",
    "max": "from users select max(age) as s",
    "offset": "from users offset 1",
}


def test_every_refused_construct_is_refused_and_only_those() -> None:
    refused = {c for c, s in CAPABILITIES.support.items() if s == "refused"}
    assert refused == set(REFUSED_CONSTRUCTS)
    for construct, query in REFUSED_CONSTRUCTS.items():
        err = refusal(query)
        assert err.construct == construct
        assert f"`{construct}`" in err.message and err.hint


# --- expressions, rule by rule ------------------------------------------------------------


def filter_of(condition: str) -> tuple[str, dict[str, str], dict[str, Any]]:
    request = compile_dd(f"from docs where {condition}").request
    return (request.get("FilterExpression", ""), request.get("ExpressionAttributeNames", {}),
            request.get("ExpressionAttributeValues", {}))


NULL_T = {"S": "NULL"}
LIST_T = {"S": "L"}
KIND_TEXT = ("(attribute_type(#n0, :v0) OR attribute_type(#n0, :v1) OR "
             "attribute_type(#n0, :v2) OR attribute_type(#n0, :v3))")
KINDS = {":v0": LIST_T, ":v1": {"S": "SS"}, ":v2": {"S": "NS"}, ":v3": {"S": "BS"}}


@pytest.mark.parametrize(("condition", "expression", "values"), [
    ("f == 5", "#n0 = :v0", {":v0": {"N": "5"}}),
    ("f == 1.5", "#n0 = :v0", {":v0": {"N": "1.5"}}),
    ("f == true", "#n0 = :v0", {":v0": {"BOOL": True}}),
    ("f == [1, 'a', null]", "#n0 = :v0",
     {":v0": {"L": [{"N": "1"}, {"S": "a"}, {"NULL": True}]}}),
    ("f == null", "attribute_type(#n0, :v0)", {":v0": NULL_T}),
    ("not (f == null)", "NOT attribute_type(#n0, :v0)", {":v0": NULL_T}),
    ("f != null", "attribute_exists(#n0) AND NOT attribute_type(#n0, :v0)", {":v0": NULL_T}),
    ("not (f != null)", "attribute_not_exists(#n0) OR attribute_type(#n0, :v0)",
     {":v0": NULL_T}),
    # <> also matches missing and NULL: guarded
    ("f != 'x'", "attribute_exists(#n0) AND NOT attribute_type(#n0, :v0) AND #n0 <> :v1",
     {":v0": NULL_T, ":v1": {"S": "x"}}),
    ("not (f == 'x')", "attribute_exists(#n0) AND NOT attribute_type(#n0, :v0) AND #n0 <> :v1",
     {":v0": NULL_T, ":v1": {"S": "x"}}),
    ("not (f != 'x')", "#n0 = :v0", {":v0": {"S": "x"}}),
    # ordering is false across types and on missing in both polarities: no guard
    ("f < 5", "#n0 < :v0", {":v0": {"N": "5"}}),
    ("not (f < 5)", "#n0 >= :v0", {":v0": {"N": "5"}}),
    ("not (f >= 'b')", "#n0 < :v0", {":v0": {"S": "b"}}),
    ("f between 1 and 2", "(#n0 BETWEEN :v0 AND :v1)", {":v0": {"N": "1"}, ":v1": {"N": "2"}}),
    ("not (f between 1 and 2)", "#n0 < :v0 OR #n0 > :v1",
     {":v0": {"N": "1"}, ":v1": {"N": "2"}}),
    ("f between 'a' and 'a'", "(#n0 BETWEEN :v0 AND :v0)", {":v0": {"S": "a"}}),
    ("f in [1, 2]", "#n0 IN (:v0, :v1)", {":v0": {"N": "1"}, ":v1": {"N": "2"}}),
    ("f in [1]", "#n0 = :v0", {":v0": {"N": "1"}}),
    ("f in [1, null]", "#n0 = :v0 OR attribute_type(#n0, :v1)",
     {":v0": {"N": "1"}, ":v1": NULL_T}),
    ("f not in [1, 2]",
     "attribute_exists(#n0) AND NOT attribute_type(#n0, :v0) AND NOT #n0 IN (:v1, :v2)",
     {":v0": NULL_T, ":v1": {"N": "1"}, ":v2": {"N": "2"}}),
    ("f not in []", "attribute_exists(#n0) AND NOT attribute_type(#n0, :v0)", {":v0": NULL_T}),
    # contains() is also a substring and set test, size() measures strings and maps
    # a list or a set (SS, NS, BS): the language's array without order
    ("f contains 'a'", KIND_TEXT + " AND contains(#n0, :v4)",
     {**KINDS, ":v4": {"S": "a"}}),
    ("not (f contains 'a')", KIND_TEXT + " AND NOT contains(#n0, :v4)",
     {**KINDS, ":v4": {"S": "a"}}),
    ("f contains any ['a', 'b']",
     KIND_TEXT + " AND (contains(#n0, :v4) OR contains(#n0, :v5))",
     {**KINDS, ":v4": {"S": "a"}, ":v5": {"S": "b"}}),
    ("f contains all ['a', 'b']",
     KIND_TEXT + " AND contains(#n0, :v4) AND contains(#n0, :v5)",
     {**KINDS, ":v4": {"S": "a"}, ":v5": {"S": "b"}}),
    ("f contains all []", KIND_TEXT[1:-1], KINDS),
    ("not (f contains any [])", KIND_TEXT[1:-1], KINDS),
    ("size(f) == 2", KIND_TEXT + " AND size(#n0) = :v4",
     {**KINDS, ":v4": {"N": "2"}}),
    ("not (size(f) < 2)", KIND_TEXT + " AND size(#n0) >= :v4",
     {**KINDS, ":v4": {"N": "2"}}),
    ("f startswith 'a'", "begins_with(#n0, :v0)", {":v0": {"S": "a"}}),
    ("not (f startswith 'a')", "attribute_type(#n0, :v0) AND NOT begins_with(#n0, :v1)",
     {":v0": {"S": "S"}, ":v1": {"S": "a"}}),
    ("exists(f)", "attribute_exists(#n0)", {}),
    ("not exists(f)", "attribute_not_exists(#n0)", {}),
    ("f == 1 or g == 2 and h == 3", "#n0 = :v0 OR (#n1 = :v1 AND #n2 = :v2)",
     {":v0": {"N": "1"}, ":v1": {"N": "2"}, ":v2": {"N": "3"}}),
    ("not (f == 1 or g < 2)",
     "attribute_exists(#n0) AND NOT attribute_type(#n0, :v0) AND #n0 <> :v1 AND #n1 >= :v2",
     {":v0": NULL_T, ":v1": {"N": "1"}, ":v2": {"N": "2"}}),
    ("f == 1 and (g == 2 or h == 3)", "#n0 = :v0 AND (#n1 = :v1 OR #n2 = :v2)",
     {":v0": {"N": "1"}, ":v1": {"N": "2"}, ":v2": {"N": "3"}}),
])
def test_filter_expression(condition: str, expression: str, values: dict[str, Any]) -> None:
    got, _names, got_values = filter_of(condition)
    assert (got, got_values) == (expression, values)


KEYED: dict[str, Any] = {"keyed": {
    "partition_key": "_id", "sort_key": "n",
    "indexes": [{"name": "by_g", "partition_key": "g"}],
    "attribute_types": {"_id": "S", "n": "N", "g": "S"}}}


@pytest.mark.parametrize(("condition", "expression"), [
    # issue #15, item 11a: a table key is on every item, of its key type, never NULL and
    # never a list: what the guards test is known (Scans: the table's keys)
    ("_id != 'a'", "#n0 <> :v0"),
    ("not (_id == 'a')", "#n0 <> :v0"),
    ("_id not in ['a', 'b']", "NOT #n0 IN (:v0, :v1)"),
    ("n not in [1] and v > 1", "NOT #n0 = :v0 AND #n1 > :v0"),
    ("_id in ['a', null]", "#n0 = :v0"),
    ("not (_id startswith 'a')", "NOT begins_with(#n0, :v0)"),
    ("_id != null or v == 1", None),  # always true: no filter
    ("_id == null or v == 1", "#n0 = :v0"),
    ("exists(n) and v == 1", "#n0 = :v0"),
    ("not exists(n) or v == 1", "#n0 = :v0"),
    ("_id contains 'a' or v == 1", "#n0 = :v0"),
    ("size(n) > 1 or not (n contains any [1]) or v == 1", "#n0 = :v0"),
    ("not (n startswith '1') or v == 1", "#n0 = :v0"),  # a number is never a string
    # not a table key: the guards stay (an index key is on the index's items only)
    ("g != 'a'", "attribute_exists(#n0) AND NOT attribute_type(#n0, :v0) AND #n0 <> :v1"),
    ("_id.x != 'a'",
     "attribute_exists(#n0.#n1) AND NOT attribute_type(#n0.#n1, :v0) AND #n0.#n1 <> :v1"),
])
def test_table_keys_need_no_guards(condition: str, expression: str | None) -> None:
    plan = compile_dd(f"from keyed where {condition}", KEYED)
    assert plan.operation == "Scan"
    assert plan.request.get("FilterExpression") == expression


def test_key_guards_are_dropped_on_a_query_of_an_index_and_kept_where_unproven() -> None:
    # a Query of the index `by_g`: the table's keys are on every item of it
    plan = compile_dd("from keyed where g == 'a' and _id != 'b'", KEYED)
    assert (plan.index_name, plan.request["FilterExpression"]) == ("by_g", "#n1 <> :v1")
    # a key whose type the schema does not give: `startswith` keeps its string guard
    untyped = {"keyed": {"partition_key": "_id"}}
    assert compile_dd("from keyed where not (_id startswith 'a')", untyped) \
        .request["FilterExpression"] == "attribute_type(#n0, :v0) AND NOT begins_with(#n0, :v1)"
    # presence and NULL need no type
    assert compile_dd("from keyed where _id != 'a'", untyped) \
        .request["FilterExpression"] == "#n0 <> :v0"


def test_names_and_values_are_placeholders_numbered_by_first_use() -> None:
    text, names, values = filter_of(
        "`order`.`from` == 'a' and size == \"it's\" and `order`.x > 1e2")
    assert text == "#n0.#n1 = :v0 AND #n2 = :v1 AND #n0.#n3 > :v2"
    assert names == {"#n0": "order", "#n1": "from", "#n2": "size", "#n3": "x"}
    assert values == {":v0": {"S": "a"}, ":v1": {"S": "it's"}, ":v2": {"N": "100.0"}}


def test_constant_conditions_fold() -> None:
    for never in ("f in []", "f contains any []", "f between 2 and 1",
                  "not (f contains all [])", "f == 1 and g in []"):
        plan = compile_dd(f"from docs where {never}")
        assert plan.never and "FilterExpression" not in plan.request, never
    for always in ("f in [] or exists(g)",):
        plan = compile_dd(f"from docs where {always}")
        assert not plan.never and plan.request["FilterExpression"] == "attribute_exists(#n0)"


# --- access paths -------------------------------------------------------------------------

MUSIC: dict[str, Any] = {"music": {
    "partition_key": "artist", "sort_key": "title",
    "indexes": [{"name": "by_album", "partition_key": "album", "sort_key": "year"},
                {"name": "by_year", "sort_key": "year", "local": True, "projection": "KEYS_ONLY"},
                {"name": "by_label", "partition_key": "label", "projection": ["album"]}],
    "attribute_types": {"artist": "S", "title": "S", "album": "S", "year": "N", "label": "S"}}}


@pytest.mark.parametrize(("query", "operation", "index", "key", "filter_", "forward"), [
    ("from music where artist == 'a'", "Query", None, "#n0 = :v0", None, True),
    ("from music where artist == 'a' and title > 'b'", "Query", None,
     "#n0 = :v0 AND #n1 > :v1", None, True),
    ("from music where artist == 'a' and title >= 'b' and title <= 'c' order by title desc",
     "Query", None, "#n0 = :v0 AND (#n1 BETWEEN :v1 AND :v2)", None, False),
    ("from music where artist == 'a' and title startswith 'b'", "Query", None,
     "#n0 = :v0 AND begins_with(#n1, :v1)", None, True),
    ("from music where artist == 'a' and plays > 3", "Query", None, "#n0 = :v0",
     "#n1 > :v1", True),
    # order by the pinned partition key is no order at all
    ("from music where artist == 'a' order by artist desc, title", "Query", None,
     "#n0 = :v0", None, True),
    # (artist, title) is the table's key: later order keys never break a tie
    ("from music where artist == 'a' order by title, plays desc", "Query", None,
     "#n0 = :v0", None, True),
    ("from music where artist == 'a' and year > 1990", "Query", "by_year",
     "#n0 = :v0 AND #n1 > :v1", None, True),
    ("from music where album == 'x' and year between 1 and 2 and artist == 'a'", "Query",
     "by_album", "#n0 = :v0 AND (#n1 BETWEEN :v1 AND :v2)", "#n2 = :v3", True),
    ("from music where label == 'l' select album", "Query", "by_label", "#n0 = :v0", None, True),
    # a Scan: no key pinned, or a pin a Query cannot use
    ("from music where title == 'a'", "Scan", None, None, "#n0 = :v0", None),
    ("from music where artist == 1", "Scan", None, None, "#n0 = :v0", None),  # key type S
    ("from music where artist == ''", "Scan", None, None, "#n0 = :v0", None),  # keys are never ""
    ("from music where artist in ['a']", "Scan", None, None, "#n0 = :v0", None),
    ("from music where artist == 'a' or artist == 'b'", "Scan", None, None,
     "#n0 = :v0 OR #n0 = :v1", None),
    # a key attribute cannot be in a Query's filter: the table is ruled out
    ("from music where artist == 'a' and (title == 'b' or title == 'c')", "Scan", None, None,
     "#n0 = :v0 AND (#n1 = :v1 OR #n1 = :v2)", None),
    ("from music where artist == 'a' and title > 'b' and title < 'c'", "Scan", None, None,
     "#n0 = :v0 AND #n1 > :v1 AND #n1 < :v2", None),
    # an index with a sort key holds only the items that have it (sparse)
    ("from music where album == 'x'", "Scan", None, None, "#n0 = :v0", None),
    # a global index that does not project the rows' attributes
    ("from music where label == 'l'", "Scan", None, None, "#n0 = :v0", None),
    ("from music where label == 'l' select plays", "Scan", None, None, "#n0 = :v0", None),
])
def test_access_path(query: str, operation: str, index: str | None, key: str | None,
                     filter_: str | None, forward: bool | None) -> None:
    plan = compile_dd(query, MUSIC)
    request = plan.request
    assert (plan.operation, plan.index_name) == (operation, index)
    assert request.get("IndexName") == index
    assert request.get("KeyConditionExpression") == key
    assert request.get("FilterExpression") == filter_
    assert request.get("ScanIndexForward") == forward


def test_a_local_index_fetches_unprojected_attributes_but_cannot_filter_on_them() -> None:
    whole = compile_dd("from music where artist == 'a' and year > 1", MUSIC)
    assert (whole.index_name, whole.request["Select"]) == ("by_year", "ALL_ATTRIBUTES")
    filtered = compile_dd("from music where artist == 'a' and year > 1 and plays == 2", MUSIC)
    assert filtered.index_name is None  # by_year does not project `plays`


def test_default_key_schema_is_pk_field() -> None:
    assert compile_dd("from docs where _id == 'a'").request["ExpressionAttributeNames"] == \
        {"#n0": "_id"}
    plan = compile_dd("from docs where _id == 'a' select _id, v",
                      options={"pk_field": "id", "table_prefix": "app_"})
    assert plan.operation == "Query" and plan.table == "app_docs"
    assert plan.request["ExpressionAttributeNames"] == {"#n0": "id", "#n1": "v"}
    assert plan.outputs == ((("_id",), ("id",)), (("v",), ("v",)))


def test_a_limit_past_32_bits_is_capped_in_the_request() -> None:
    # DynamoDB's Limit is a 32-bit integer: 2^31 was an InternalFailure (issue #15, item 2).
    # The request asks for at most 2^31 - 1 items a page; the rows are still counted to
    # the query's limit, page after page
    for limit in (2**31, 2**63 - 1):
        plan = compile_dd(f"from docs limit {limit}")
        assert (plan.limit, plan.request["Limit"]) == (limit, 2**31 - 1)
        assert f"until {limit} rows matched" in plan.explain()
    plan = compile_dd("from docs limit 2147483647")
    assert (plan.limit, plan.request["Limit"]) == (2**31 - 1, 2**31 - 1)


def test_without_a_schema_the_key_is_assumed_a_string_and_the_plan_says_so() -> None:
    # issue #15, item 4: create_collection keys `_id` as S, so a plan compiled without a
    # schema must not pin `_id` with a number (the table rejects such a Query)
    assert compile_dd("from items where _id == 5").operation == "Scan"
    assert compile_dd("from items where _id == 0.2").operation == "Scan"
    err = refusal("from items where _id == 5 select _id order by v")
    assert err.construct == "order by"
    plan = compile_dd("from items where _id == 'a' select _id order by v")
    assert plan.operation == "Query"
    assumption = "`_id` is the table's only key, a string (S) partition key"
    assert any(a.startswith(assumption) for a in plan.assumptions)
    assert assumption in plan.explain() and "assuming" in plan.explain()
    assert plan.to_dict()["assumes"] == list(plan.assumptions)
    assert assumption in plan.summary()
    # the Scan's choice rests on the same assumption: stated too, but a Scan runs on any
    # table, so the one-line summary does not carry it
    scan = compile_dd("from items where _id == 5")
    assert scan.assumptions == plan.assumptions and scan.summary() == "Scan on table items"
    options = {"pk_field": "id"}
    assert compile_dd("from items where _id == 'a'", options=options).assumptions[0] \
        .startswith("`id` is the table's only key")


def test_a_schema_without_key_types_states_the_types_a_query_assumes() -> None:
    untyped = {"music": {"partition_key": "artist", "sort_key": "year"}}
    plan = compile_dd("from music where artist == 'a' and year > 1990", untyped)
    assert plan.operation == "Query"
    assert plan.assumptions == (
        "`artist` is a key of type S (the schema gives no type)",
        "`year` is a key of type N (the schema gives no type)")
    typed = compile_dd("from music where artist == 'a' and year > 1990", MUSIC)
    assert typed.assumptions == () and "assumes" not in typed.to_dict()
    assert "assuming" not in typed.explain()
    # a Scan sends no key condition: it assumes no key type
    assert compile_dd("from music where plays > 3", untyped).assumptions == ()


def test_limit_is_a_row_count() -> None:
    plain = compile_dd("from docs limit 5")
    assert (plain.limit, plain.request["Limit"]) == (5, 5)  # every evaluated item is a row
    filtered = compile_dd("from docs where a == 1 limit 5")
    assert filtered.limit == 5 and "Limit" not in filtered.request
    assert compile_dd("from docs limit 0").limit == 0
    assert compile_dd("from docs offset 0").limit is None


def test_select_and_count_requests() -> None:
    plan = compile_dd("from docs where a.b == 1 select a, a.b as x, a as y, c.d")
    assert plan.request["ProjectionExpression"] == "#n0, #n2.#n3"  # no overlapping paths
    assert plan.request["Select"] == "SPECIFIC_ATTRIBUTES"
    assert plan.outputs == ((("a",), ("a",)), (("x",), ("a", "b")), (("y",), ("a",)),
                            (("c", "d"), ("c", "d")))
    assert plan.count_request == {
        "TableName": "docs", "FilterExpression": "#n0.#n1 = :v0",
        "ExpressionAttributeNames": {"#n0": "a", "#n1": "b"},
        "ExpressionAttributeValues": {":v0": {"N": "1"}}, "Select": "COUNT"}
    count = compile_dd("from docs where a == 1 select count() as n, count() order by n")
    assert count.count_names == ("n", "count()")
    assert count.request["Select"] == "COUNT" and count.request == count.count_request


# --- refusals and limits --------------------------------------------------------------------


@pytest.mark.parametrize(("query", "construct", "fragment"), [
    ("from docs order by a", "order by", "cannot order a Scan by `a`"),
    ("from docs where _id > 'x' order by _id", "order by", "a Scan by `_id`"),
    ("from music where artist == 'a' order by plays", "order by", "this Query by `plays`"),
    ("from music where album == 'x' and year > 1 order by year, title", "order by",
     "by `year`"),
    ("from music order by title", "order by", "a Scan by `title`"),
    ("from docs where a matches 'x' or b == 1", "matches", "regular expressions"),
    ("from docs offset 3", "offset", "skip"),
    ("from docs where a == 1e200", "value", "outside DynamoDB's number range"),
    ("from docs where a > 1e-200", "value", "outside DynamoDB's number range"),
    ("from ab", "collection name", "`ab` as a table name"),
    ("from `a b c`", "collection name", "table name"),
])
def test_refusal(query: str, construct: str, fragment: str) -> None:
    err = refusal(query, MUSIC)
    assert err.construct == construct
    assert fragment in err.message
    assert err.hint


def test_refusal_points_at_the_construct() -> None:
    text = "from music where artist == 'a' order by artist, plays, title desc"
    err = refusal(text, MUSIC)
    assert text[err.span[0]:err.span[1]] == "plays"
    assert "^^^^^ not supported by this backend" in err.render()
    # one item per partition key: any order is the order of one row
    assert compile_dd("from docs where _id == 'x' order by a desc, b").operation == "Query"


def test_allow_scan_false() -> None:
    err = refusal("from music where title == 'a'", MUSIC, options={"allow_scan": False})
    assert err.construct == "scan" and "allow_scan" in (err.hint or "")
    assert compile_dd("from music where artist == 'a'", MUSIC,
                      options={"allow_scan": False}).operation == "Query"
    assert refusal("from music", MUSIC, options={"allow_scan": False}).construct == "scan"


def test_in_takes_at_most_100_values() -> None:
    hundred = ", ".join(str(i) for i in range(100))
    assert compile_dd(f"from docs where a in [{hundred}]").request["FilterExpression"] \
        .count(":v") == 100
    err = refusal(f"from docs where a in [{hundred}, 100]")
    assert err.construct == "in" and "101 values" in err.message
    err = refusal("from docs where a in :ids", params={"ids": list(range(101))})
    assert err.construct == "in"
    # null is no IN operand
    assert compile_dd(f"from docs where a in [{hundred}, null]").operation == "Scan"


def test_at_most_300_operators() -> None:
    # n equalities or-ed: n comparisons and n - 1 ORs (as DynamoDB Local counts them)
    ok = " or ".join(f"a == {i}" for i in range(150))
    assert compile_dd(f"from docs where {ok}").operation == "Scan"
    err = refusal(f"from docs where {ok} or a == 150")
    assert err.construct == "expression size" and "301 operators" in err.message
    # size() counts twice
    sizes = " or ".join(f"size(a) == {i}" for i in range(80))
    err = refusal(f"from docs where {sizes}")
    assert err.construct == "expression size"


def test_expressions_of_at_most_4_kb() -> None:
    long_name = "x" * 5000  # names are placeholders: the expression text stays short
    assert compile_dd(f"from docs where exists(`{long_name}`)").request["FilterExpression"] \
        == "attribute_exists(#n0)"
    many = " and ".join(f"exists(`f{i}`.`g{i}`)" for i in range(150))
    err = refusal(f"from docs where {many}")
    assert err.construct == "expression size" and "4096" in err.message


def test_paths_nest_at_most_32_levels() -> None:
    deep = ".".join(f"p{i}" for i in range(33))
    assert refusal(f"from docs where exists({deep})").construct == "path depth"
    assert compile_dd(f"from docs where exists({deep[:deep.rindex('.')]})").operation == "Scan"


# --- schemas and options ---------------------------------------------------------------------


def test_plain_dict_schemas_are_validated() -> None:
    with pytest.raises(crossql.ConfigError) as info:
        compile_dd("from music", {"music": {"partition_key": "a", "sort_key": "",
                                            "indexes": [{"name": "x"}], "extra": 1}})
    paths = {path for path, _ in info.value.problems}
    assert {"schema.music.sort_key", "schema.music.indexes.0.name", "schema.music.extra"} <= paths
    with pytest.raises(crossql.ConfigError, match="global index 'idx' needs a partition key"):
        compile_dd("from music", {"music": {"partition_key": "a", "indexes": [{"name": "idx"}]}})
    with pytest.raises(crossql.ConfigError, match="two indexes"):
        compile_dd("from music", {"music": {"partition_key": "a", "indexes": [
            {"name": "idx", "partition_key": "b"}, {"name": "idx", "partition_key": "c"}]}})
    with pytest.raises(crossql.ConfigError, match=r"options\.allow_scans"):
        compile_dd("from music", options={"allow_scans": False})


# --- renderings ----------------------------------------------------------------------------


@pytest.mark.parametrize("query", [
    "from music where artist == 'a' and plays > 1 select title as t limit 3",
    "from music where title == 'a' select count() as n",
    "from music where title in [] limit 2",
    "from music limit 0",
])
def test_to_python_is_the_request(query: str) -> None:
    plan = compile_dd(query, MUSIC)
    code = plan.to_python()
    compile(code, "<plan>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    assign = next(node for node in ast.parse(code.replace("await ", "")).body
                  if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") ==
                  "request")
    assert ast.literal_eval(assign.value) == plan.request
    assert f"client.{plan.method}(**request)" in code or "rows = []" in code
    assert plan.explain().startswith(f"dynamodb: {plan.operation} on ")
    again = compile_dd(query, MUSIC)
    assert again == plan and again.to_json() == plan.to_json()


# --- values ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "av"), [
    (None, {"NULL": True}), (True, {"BOOL": True}), (0, {"N": "0"}), (0.1, {"N": "0.1"}),
    (-2.5e-7, {"N": "-2.5e-07"}), (2**63 - 1, {"N": "9223372036854775807"}),
    ("", {"S": ""}), (b"\x00", {"B": b"\x00"}), ([1, [None]], {"L": [{"N": "1"},
                                                                    {"L": [{"NULL": True}]}]}),
    ({"k": {}}, {"M": {"k": {"M": {}}}}), ({"b", "a"}, {"SS": ["a", "b"]}),
    ({2, 10}, {"NS": ["2", "10"]}),
])
def test_attribute_values(value: Any, av: dict[str, Any]) -> None:
    assert to_attribute_value(value) == av
    back = from_attribute_value(av)
    assert back == value
    assert type(back) is type(value) or isinstance(value, float)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), 1e200, 1e-200, 10**40 + 1, {1: 2},
                                 set(), {1, "a"}, object()])
def test_unstorable_values(bad: Any) -> None:
    with pytest.raises(UnstorableValue):
        to_attribute_value(bad)


def test_numbers_read_back() -> None:
    assert number_value("2") == 2 and type(number_value("2.0")) is int
    assert number_value("1E+100") == 1e100 and type(number_value("1E+100")) is float
    assert number_value("9223372036854775807") == 2**63 - 1
    assert number_value("0.1") == 0.1
    assert number_text(1e16) == "1e+16" and float(number_text(0.1 + 0.2)) == 0.1 + 0.2


# --- the Limit of each page of a limited read (issue #15, item 11c) --------------------


def test_page_limit_starts_at_the_rows_and_grows_with_the_share_that_matched() -> None:
    from crossql.backends.dynamodb.store import MAX_PAGE_LIMIT, page_limit

    assert page_limit(10, 10, 0, 0, 0) == 10  # first page: enough if every item matches
    # 1 in 10 matched: 9 rows need about 90 items; 9 + 2 * 3 + 1 = 16 rows, 160 items
    assert page_limit(10, 9, 1, 10, 10) == 160
    assert page_limit(100, 100, 10, 100, 100) == 1210  # (100 + 20 + 1) / 0.1
    assert page_limit(10, 4, 6, 6, 10) == 4  # every item matched: the rows left
    assert page_limit(10, 10, 0, 10, 10) == 80  # nothing matched yet: 8 times more
    assert page_limit(10, 2, 1, 10**9, 10**9) == MAX_PAGE_LIMIT == 2**31 - 1
    assert page_limit(2**31 - 1, 2**31 - 1, 0, 0, 0) == MAX_PAGE_LIMIT
    assert page_limit(10**12, 10**12, 0, 0, 0) == MAX_PAGE_LIMIT  # DynamoDB's Limit is 32-bit
    assert page_limit(10, 1, 1, 1000, 1000) == 4000  # (1 + 2 + 1) / 0.001


def test_explain_says_how_pages_are_limited() -> None:
    plan = crossql.compile("from items where rare == true limit 10", backend="dynamodb")
    assert "Limit" not in plan.to_dict()["request"]
    assert "each page's Limit (items evaluated, not rows): 10 first, then the rows still " \
        "needed (n, plus 2√n + 1) divided by the share of evaluated items that matched so " \
        "far" in plan.explain()
    unlimited = crossql.compile("from items where rare == true", backend="dynamodb")
    assert "each page's Limit" not in unlimited.explain()
