"""crossql.Schema: declarations as data, their sources, and the one lookup every stage uses."""

from __future__ import annotations

import asyncio
import enum
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

import pytest
from hypothesis import HealthCheck, given, settings
from pydantic import BaseModel, ConfigDict, Field

import crossql
from crossql.backends.dynamodb.schema import TableSchema, table_schemas
from crossql.backends.firestore.compiler import required_fields
from crossql.errors import ConfigError
from crossql.schema import CollectionSchema, FieldSpec, Schema, as_schema, parse_kind
from tests.budget import examples
from tests.strategies import EPOCH_DECLARATION, epoch_cases


class Status(enum.Enum):
    OPEN = "open"
    DONE = "done"


class Address(BaseModel):
    city: str
    zip: str | None = None


class Line(BaseModel):
    sku: str
    qty: int


class Order(BaseModel):
    id: str = Field(alias="_id")
    user_id: str
    total: float
    created_at: datetime
    note: str | None = None
    tags: list[str] = []
    lines: list[Line] = []
    address: Address
    billing: Address | None = None
    price: Decimal
    blob: bytes | None = None
    status: Status
    channel: Literal["web", "app"]
    flags: set[int] = set()
    extra: dict[str, Any] = {}


def test_a_model_gives_kinds_presence_and_stored_names() -> None:
    orders = CollectionSchema.from_model(Order)
    assert orders.closed and orders.model is Order
    expect = {
        "_id": ("string", None, True, False),
        "user_id": ("string", None, True, False),
        "total": ("float", None, True, False),
        "created_at": ("timestamp", None, True, False),
        "note": ("string", None, False, True),
        "tags": ("list", "string", False, False),
        "lines": ("list", "map", False, False),
        "lines.sku": ("string", None, False, False),
        "address": ("map", None, True, False),
        "address.city": ("string", None, True, False),
        "address.zip": ("string", None, False, True),
        "billing": ("map", None, False, True),
        "billing.city": ("string", None, False, False),  # below an optional map
        "price": ("decimal", None, True, False),
        "blob": ("bytes", None, False, True),
        "status": ("string", None, True, False),
        "channel": ("string", None, True, False),
        "flags": ("set", "int", False, False),
        "extra": ("map", None, False, False),
    }
    for path, (kind, items, required, nullable) in expect.items():
        spec = orders.field(path)
        assert spec is not None, path
        assert (spec.kind, spec.items, spec.required, spec.nullable) == (
            kind, items, required, nullable), path
    assert orders.field("id") is None  # the stored name is the alias
    assert orders.required("address.city") and not orders.required("billing.city")
    assert orders.nullable("note") and not orders.nullable("total")
    assert orders.kind("nowhere") == "any"


def test_a_model_that_allows_extra_fields_is_open() -> None:
    class Loose(BaseModel):
        model_config = ConfigDict(extra="allow")
        a: int

    assert not CollectionSchema.from_model(Loose).closed
    assert CollectionSchema.from_model(Loose, closed=True).closed


def test_known_names_in_a_closed_schema() -> None:
    orders = CollectionSchema.from_model(Order)
    for path in ("_id", "total", "address", "address.city", "extra.anything.below",
                 "tags"):
        assert orders.known(path), path
    for path in ("totl", "address.town", "nowhere.x"):
        assert not orders.known(path), path
    assert orders.suggest("totl") == "total"
    assert orders.suggest("zzzzzz") is None
    assert CollectionSchema().known("anything")  # open


def test_declaration_dicts_and_kind_words() -> None:
    schema = as_schema({"orders": {
        "fields": {"total": "float", "tags": "list[str]", "note": "string?",
                   "when": {"kind": "datetime", "required": True}},
        "required": ["total", ["address", "city"]],
        "closed": True,
        "indexes": [{"fields": ["total"]}],
        "dynamodb": {"partition_key": "user_id", "sort_key": "when"},
    }})
    assert schema is not None
    orders = schema.collection("orders")
    assert orders is not None and orders.closed
    assert orders.field("tags") == FieldSpec(path="tags", kind="list", items="string")
    assert orders.nullable("note") and orders.required("when") and orders.required("address")
    assert orders.indexes == ({"fields": ["total"]},)
    assert schema.tables == {"orders": TableSchema(partition_key="user_id", sort_key="when")}
    assert parse_kind("set[int]?") == ("set", "int", True)
    with pytest.raises(ValueError, match="did you mean 'string'"):
        parse_kind("strin")


def test_the_old_forms_stay_accepted_and_feed_the_backends() -> None:
    old = {"users": {"required": ["age", "address.city"]},
           "music": {"partition_key": "Artist", "sort_key": "SongTitle",
                     "indexes": [{"name": "by_album", "partition_key": "Album"}]}}
    schema = as_schema(old)
    assert schema is not None
    assert required_fields(old, "users") == required_fields(schema, "users") == frozenset(
        {("age",), ("address",), ("address", "city")})
    assert table_schemas({"music": old["music"]}) == table_schemas(schema)
    assert table_schemas(schema)["music"].indexes[0].name == "by_album"
    assert schema.collection("music") is not None
    assert schema.collection("music").indexes == ()  # type: ignore[union-attr]
    # a model declares the same to Firestore
    assert ("address", "city") in required_fields({"orders": Order}, "orders")


@pytest.mark.parametrize(("value", "problems"), [
    ({"t": {"fields": {"a": "integr"}}}, ["schema.t.fields.a"]),
    ({"t": {"required": "a"}}, ["schema.t.required"]),
    ({"t": {"required": ["a"], "typo": 1}}, ["schema.t.typo"]),
    ({"t": {"partition": "x"}}, ["schema.t.partition_key", "schema.t.partition"]),
    ({"t": {"fields": {"a": {"kind": "int", "requird": True}}}}, ["schema.t.fields.a.requird"]),
    ({"t": {"closed": "yes"}}, ["schema.t.closed"]),
])
def test_every_problem_is_reported_with_its_path(value: Any, problems: list[str]) -> None:
    with pytest.raises(ConfigError) as err:
        as_schema(value)
    assert [path for path, _ in err.value.problems] == problems


def test_wrong_types_are_type_errors() -> None:
    with pytest.raises(TypeError, match="a schema is a mapping of collections, not int"):
        as_schema(3)
    with pytest.raises(TypeError, match=r"schema\['users'\] is a mapping, not str"):
        as_schema({"users": "x"})


def test_whole_schema_form_merging_and_tables() -> None:
    schema = Schema.of({"collections": {"orders": Order}, "closed": True})
    assert schema.closed and schema.collection("orders") is not None
    assert as_schema(schema) is schema
    other = Schema.of({"users": {"required": ["age"]}})
    both = schema.merged(other)
    assert both.closed and set(both.collections) == {"orders", "users"}
    filled = both.with_tables({"users": TableSchema(partition_key="pk")})
    assert filled.tables == {"users": TableSchema(partition_key="pk")}
    assert filled.collection("users").required("age")  # type: ignore[union-attr]
    assert crossql.Schema is Schema


def test_compile_takes_a_model_for_firestore_ordering() -> None:
    text = "from orders order by created_at desc"
    with pytest.raises(crossql.CapabilityError):
        crossql.compile(text, backend="firestore")
    plan = crossql.compile(text, backend="firestore", schema={"orders": Order})
    assert plan.to_dict()["query"][0] == {"order_by": "created_at", "direction": "DESCENDING"}


# -- sources: the configuration, connect, the command line (tests/test_cli.py) ------------------
def test_collections_in_the_configuration_shared_and_per_backend(tmp_path: Any) -> None:
    path = tmp_path / "crossql.yaml"
    path.write_text(
        "nosql:\n"
        "  driver: firestore\n"
        "  firestore: {project_id: demo}\n"
        "  collections:\n"
        "    orders: {model: 'tests.test_schema:Order'}\n"
        "    users: {required: [age]}\n"
        "  backends:\n"
        "    - name: mem\n"
        "      driver: memory\n"
        "      collections:\n"
        "        users: {fields: {age: int}, closed: true}\n")
    store = crossql.connect(path)
    assert store.schema is not None
    orders = store.schema.collection("orders")
    assert orders is not None and orders.model is Order and orders.required("created_at")
    plan = store.plan("from orders order by created_at desc")  # Firestore's default profile
    assert plan.to_dict()["query"][0]["order_by"] == "created_at"
    mem = store.backend("mem").schema
    assert mem is not None and mem.collection("orders") is not None
    users = mem.collection("users")
    assert users is not None and users.closed and not users.required("age")


def test_connect_takes_a_schema_over_the_configuration() -> None:
    store = crossql.connect({"collections": {"orders": {"required": ["total"]}}},
                            schema={"orders": Order, "users": {"required": ["age"]}})
    assert store.schema is not None
    assert store.schema.collection("orders").model is Order  # type: ignore[union-attr]
    assert store.schema.collection("users").required("age")  # type: ignore[union-attr]


def test_a_bad_collections_block_lists_every_problem_with_its_path() -> None:
    with pytest.raises(ConfigError) as err:
        crossql.connect({"collections": {"orders": {"fields": {"total": "flot"},
                                                    "model": "nowhere.at_all:X"}},
                         "backends": [{"name": "m", "driver": "memory",
                                       "collections": {"users": 3}}]})
    paths = [path for path, _ in err.value.problems]
    assert paths == ["collections.orders.model", "collections.orders.fields.total",
                     "backends.0.collections"]


# -- checks at compile time ------------------------------------------------------------------
class Shop(BaseModel):
    id: str = Field(alias="_id")
    total: float
    age: int
    created_at: datetime
    tags: list[str] = []
    address: Address
    note: str | None = None


SHOP = Schema.of({"orders": Shop}, closed=True)

REFUSED = [
    "from orders where totl > 100",
    "from orders where address.town == 'Oslo'",
    "from ordrs where total > 1",
    "from orders select totl",
    "from orders order by creatd_at",
    "from orders group by ag select ag, count() as n",
    "from orders where age == '18'",
    "from orders where total between 'a' and 'z'",
    "from orders where age in [1, 'two']",
    "from orders where tags contains 3",
    "from orders where age startswith '1'",
    "update orders set age = 'x' where total > 1",
    "update orders set note = 1 where age > 1",
    "update orders set age = 1, unset total where age > 1",
    "update orders set total = null where age > 1",
    "delete from orders where totl > 1",
]


@pytest.mark.parametrize("text", REFUSED)
def test_checks_against_the_schema_are_located_errors(text: str, snapshot: Any) -> None:
    with pytest.raises(crossql.QuerySemanticError) as err:
        crossql.compile(text, schema=SHOP)
    assert err.value.code in ("semantic.unknown-field", "semantic.unknown-collection",
                              "semantic.kind-mismatch", "semantic.schema-violation")
    assert err.value.span is not None
    assert err.value.render() == snapshot


@pytest.mark.parametrize("text", [
    "from orders where total > 100 and age >= 18 order by created_at desc",
    "from orders where address.city == 'Oslo' and _id == 'a1'",
    "from orders where age == 18.0 or note == null",  # numbers compare across kinds
    "from orders where created_at > '2024-01-01'",  # ISO text may be how it is stored
    "from orders where tags contains 'x' select total as t order by t",
    "from orders where age in [1, 2] group by age select age, count() as n",
    "update orders set age = 3, unset note where total > 1",
])
def test_what_the_schema_allows_compiles(text: str) -> None:
    assert crossql.compile(text, schema=SHOP) is not None


def test_an_open_schema_checks_kinds_but_not_names() -> None:
    schema = Schema.of({"orders": {"fields": {"age": "int"}}})
    crossql.compile("from anything where whatever == 1", schema=schema)
    crossql.compile("from orders where whatever == 1", schema=schema)
    with pytest.raises(crossql.QuerySemanticError, match="declared int"):
        crossql.compile("from orders where age > 'x'", schema=schema)
    # the old forms declare no kinds and close nothing: nothing is checked
    crossql.compile("from users where anything == 'x'", backend="firestore",
                    schema={"users": {"required": ["age"]}})


def test_parameters_are_checked_when_bound(snapshot: Any) -> None:
    with pytest.raises(crossql.QuerySemanticError) as err:
        crossql.compile("from orders where age == :a", schema=SHOP, params={"a": "18"})
    assert err.value.code == "semantic.kind-mismatch"
    store = crossql.connect(schema={"orders": Shop})
    prepared = store.prepare("from orders where age >= :a and tags contains any :t")
    assert prepared.plan(a=18, t=["x"]) is not None
    with pytest.raises(crossql.QuerySemanticError) as err:
        prepared.plan(a="18", t=["x"])
    assert err.value.render() == snapshot
    with pytest.raises(crossql.QuerySemanticError, match="parameter `:t`"):
        prepared.plan(a=18, t=["x", 2])
    with pytest.raises(crossql.QuerySemanticError, match="unknown field `totl`"):
        store.plan("from orders where totl > 1")


# -- typed results and checked writes -----------------------------------------------------
class Item(BaseModel):
    id: str = Field(alias="_id")
    total: float
    tags: list[str] = []
    note: str | None = None


def test_rows_read_into_a_model_and_models_inserted_by_alias() -> None:
    asyncio.run(_rows_read_into_a_model())


async def _rows_read_into_a_model() -> None:
    store = crossql.connect(schema={"items": Item})
    items = store.collection("items")
    assert await items.insert_one(Item(_id="a", total=2.5, tags=["x"])) == "a"
    await items.insert_many([{"_id": "b", "total": 1, "note": None}])
    rows = await store.fetch("from items order by total", model=Item)
    assert rows == [Item(_id="b", total=1.0), Item(_id="a", total=2.5, tags=["x"])]
    assert [r async for r in store.stream("from items where total > 2", model=Item)] == [
        rows[1]]
    assert await items.get("a", model=Item) == rows[1]
    assert await items.get("zz", model=Item) is None
    assert (await store.fetch("from items where _id == 'a'"))[0]["tags"] == ["x"]


def test_a_row_the_model_refuses_names_the_document_and_the_field() -> None:
    asyncio.run(_a_row_the_model_refuses())


async def _a_row_the_model_refuses() -> None:
    store = crossql.connect()
    await store.collection("items").insert_many([{"_id": "ok", "total": 1},
                                                 {"_id": "bad", "total": "lots"}])
    with pytest.raises(crossql.DocumentError) as err:
        await store.fetch("from items order by _id", model=Item)
    assert err.value.doc_id == "bad" and err.value.collection == "items"
    assert [path for path, _ in err.value.problems] == ["total"]
    assert "document 'bad' of `items` does not fit the model Item: `total`:" in str(err.value)
    with pytest.raises(crossql.DocumentError, match="document 'bad'"):
        await store.collection("items").get("bad", model=Item)


def test_rows_the_model_refuses_come_back_raw_by_option() -> None:
    asyncio.run(_rows_the_model_refuses_raw())


async def _rows_the_model_refuses_raw() -> None:
    store = crossql.connect()
    await store.collection("items").insert_many([{"_id": "ok", "total": 1},
                                                 {"_id": "bad", "total": "lots"}])
    rows = await store.fetch("from items order by _id", model=Item, invalid="raw")
    assert rows[0] == {"_id": "bad", "total": "lots"} and isinstance(rows[1], Item)
    streamed = [r async for r in store.stream("from items order by _id", model=Item,
                                              invalid="raw")]
    assert streamed[0] == {"_id": "bad", "total": "lots"} and isinstance(streamed[1], Item)
    assert await store.collection("items").get("bad", model=Item, invalid="raw") == \
        {"_id": "bad", "total": "lots"}
    with pytest.raises(ValueError, match="invalid="):
        await store.fetch("from items", model=Item, invalid="skip")


@pytest.mark.parametrize(("doc", "problems"), [
    ({"_id": "x"}, [("total", "required, missing")]),
    ({"_id": "x", "total": "1"}, [("total", "expected float, got str")]),
    ({"_id": "x", "total": None}, [("total", "null, not nullable")]),
    ({"_id": "x", "total": 1, "tags": ["a", 2]},
     [("tags", "element 1: expected string, got int")]),
    ({"_id": "x", "total": 1, "totl": 2}, [("totl", "not declared (the schema is closed)")]),
])
def test_a_write_that_breaks_the_schema_writes_nothing(
        doc: dict[str, Any], problems: list[tuple[str, str]]) -> None:
    asyncio.run(_a_write_that_breaks_the_schema(doc, problems))


async def _a_write_that_breaks_the_schema(doc: dict[str, Any],
                                          problems: list[tuple[str, str]]) -> None:
    store = crossql.connect(schema={"items": Item})
    with pytest.raises(crossql.DocumentError) as err:
        await store.collection("items").insert_many([{"_id": "fine", "total": 1}, doc])
    assert err.value.problems == problems
    assert await store.fetch("from items") == []
    with pytest.raises(crossql.QuerySemanticError, match="would store a string"):
        await store.execute("update items set total = 'x' where _id == 'fine'")


def test_mypy_strict_types_rows_read_into_a_model(tmp_path: Any) -> None:
    from pathlib import Path

    from mypy import api

    target = Path(__file__).parent / "typing" / "typed_results.py"
    flags = ["--strict", "--no-incremental", "--follow-imports=silent",
             "--config-file", str(tmp_path / "none.ini")]
    (tmp_path / "none.ini").write_text("[mypy]\n")
    out, err, status = api.run([*flags, str(target)])
    assert status == 0, out + err
    bad = tmp_path / "bad.py"
    bad.write_text(target.read_text().replace("rows: list[Order]", "rows: list[int]"))
    out, _, status = api.run([*flags, str(bad)])
    assert status == 1 and "list[Order]" in out, out


# -- guards the schema proves unnecessary ----------------------------------------------------
class Person(BaseModel):
    id: str = Field(alias="_id")
    age: int
    name: str
    nick: str | None = None
    tags: list[str] = []
    address: Address


@pytest.mark.parametrize(("text", "plain"), [
    ("from people where age >= 18", {"age": {"$gte": 18}}),
    ("from people where age == 18 and name != 'x'", {"age": {"$eq": 18}, "name": {"$ne": "x"}}),
    ("from people where not (age >= 18)", {"age": {"$lt": 18}}),
    ("from people where address.city == 'Oslo'", {"address.city": {"$eq": "Oslo"}}),
    ("from people where age in [1, 2] and name not in ['a']",
     {"age": {"$in": [1, 2]}, "name": {"$ne": "a"}}),
    # nullable and optional: the missing/null guards stay, the array guard goes
    ("from people where nick != 'x'", {"nick": {"$exists": True, "$nin": ["x", None]}}),
    # a list keeps its guards
    ("from people where tags contains 'x'",
     {"tags": {"$type": "array", "$elemMatch": {"$eq": "x"}}}),
])
def test_mongodb_drops_the_guards_the_schema_proves(text: str, plain: dict[str, Any]) -> None:
    guarded = crossql.compile(text, backend="mongodb")
    declared = crossql.compile(text, backend="mongodb", schema={"people": Person})
    assert declared.to_dict()["arguments"]["filter"] == plain
    if guarded.to_dict()["arguments"]["filter"] != plain:
        assert "proves" in declared.explain() and "unnecessary" in declared.explain()
        assert len(declared.to_json()) < len(guarded.to_json())
    else:
        assert "proves" not in declared.explain()


@pytest.mark.parametrize(("text", "plain"), [
    ("from people where age != 18", "#n0 <> :v0"),
    ("from people where age not in [1, 2]", "NOT #n0 IN (:v0, :v1)"),
    ("from people where age == null or name == 'x'", "#n0 = :v0"),
    ("from people where not (name startswith 'a')", "NOT begins_with(#n0, :v0)"),
    # nullable and optional: the missing/null guards stay
    ("from people where nick != 'x'",
     "attribute_exists(#n0) AND NOT attribute_type(#n0, :v0) AND #n0 <> :v1"),
    # a list keeps its guards
    ("from people where size(tags) > 1",
     "(attribute_type(#n0, :v0) OR attribute_type(#n0, :v1) OR attribute_type(#n0, :v2) "
     "OR attribute_type(#n0, :v3)) AND size(#n0) > :v4"),
])
def test_dynamodb_drops_the_guards_the_schema_proves(text: str, plain: str) -> None:
    guarded = crossql.compile(text, backend="dynamodb")
    declared = crossql.compile(text, backend="dynamodb", schema={"people": Person})
    assert declared.to_dict()["request"]["FilterExpression"] == plain
    if guarded.to_dict()["request"]["FilterExpression"] != plain:
        assert "no attribute_exists/attribute_type guards" in declared.explain()
        sizes = [len(json.dumps(p.to_dict()["request"], default=str))
                 for p in (declared, guarded)]
        assert sizes[0] < sizes[1]
    else:
        assert "guards" not in declared.explain()


def test_a_point_lookup_by_id_is_the_plain_find() -> None:
    plan = crossql.compile("from people where _id == 'a'", backend="mongodb",
                           schema={"people": Person})
    assert plan.to_dict()["arguments"]["filter"] == {"_id": "a"}


class Purchase(BaseModel):
    id: str = Field(alias="_id")
    user_id: str
    created_at: datetime
    total: float
    coupon: str | None = None


PURCHASES = {"orders": {"model": Purchase, "dynamodb": {
    "partition_key": "_id",
    "indexes": [{"name": "by_user", "partition_key": "user_id", "sort_key": "created_at"},
                {"name": "by_coupon", "partition_key": "user_id", "sort_key": "coupon"}]}}}
LATEST = "from orders where user_id == :u order by created_at desc limit 10"


def test_the_issue_s_query_plans_on_every_backend_with_the_declaration() -> None:
    params = {"u": "ada"}
    with pytest.raises(crossql.CapabilityError) as refused:  # the index is sparse
        crossql.compile(LATEST, backend="dynamodb", params=params,
                        schema={"orders": {"dynamodb": PURCHASES["orders"]["dynamodb"]}})
    assert "index `by_user`: the index is sparse" in str(refused.value)
    assert refused.value.hint == ("if every item has `created_at`, declare it required; in the "
                                  "configuration: `collections: {orders: {required: "
                                  "[created_at]}}`")
    # the line the hint gives lifts it
    lifted = crossql.Schema.of({"orders": {"required": ["created_at"],
                                           "dynamodb": PURCHASES["orders"]["dynamodb"]}})
    assert crossql.compile(LATEST, backend="dynamodb", params=params,
                           schema=lifted).to_dict()["index_name"] == "by_user"
    plan = crossql.compile(LATEST, backend="dynamodb", params=params, schema=PURCHASES)
    assert plan.to_dict()["operation"] == "Query"
    assert plan.to_dict()["index_name"] == "by_user"
    assert "the schema declares it required" in plan.explain()
    fs = crossql.compile(LATEST, backend="firestore", params=params, schema=PURCHASES)
    assert "declares required" in fs.explain()
    # a nullable sort key proves nothing: without a condition on it, no Query
    plain = crossql.compile("from orders where user_id == 'ada'", backend="dynamodb",
                            schema=PURCHASES)
    assert plain.to_dict()["index_name"] == "by_user"
    with pytest.raises(crossql.CapabilityError):
        crossql.compile("from orders where user_id == 'ada' order by coupon",
                        backend="dynamodb", schema=PURCHASES)
    with pytest.raises(crossql.QuerySemanticError, match="unknown field `totl`"):
        crossql.compile("from orders where totl > 1", backend="dynamodb", schema=PURCHASES)


def test_firestore_inequalities_inside_or_on_required_fields() -> None:
    text = "from users where age > 18 or score < 3"
    declared = {"users": {"fields": {"age": {"kind": "int", "required": True},
                                     "score": {"kind": "int", "required": True}}}}
    with pytest.raises(crossql.CapabilityError, match="leaves out documents without `age`"):
        crossql.compile(text, backend="firestore", options={"native_or": True})
    plan = crossql.compile(text, backend="firestore", options={"native_or": True},
                           schema=declared)
    assert "Or([" in plan.explain()


def test_the_sync_store_reads_into_a_model() -> None:
    with crossql.connect_sync(schema={"items": Item}) as store:
        store.collection("items").insert_one(Item(_id="a", total=1.5))
        assert store.fetch("from items", model=Item) == [Item(_id="a", total=1.5)]
        assert store.collection("items").get("a", model=Item) == Item(_id="a", total=1.5)


def test_a_scan_a_sparse_index_would_serve_names_it_and_the_declaration() -> None:
    keys = {"orders": {"dynamodb": PURCHASES["orders"]["dynamodb"]}}
    plan = crossql.compile("from orders where user_id == :u", backend="dynamodb",
                           params={"u": "ada"}, schema=keys)
    assert plan.to_dict()["operation"] == "Scan"  # still: the index is sparse
    explained = plan.explain()
    assert "index `by_user` would serve it if every item had `created_at`" in explained
    assert "`collections: {orders: {required: [created_at]}}`" in explained
    assert "no key is pinned" not in plan.to_dict()["reason"]
    # a Scan no index would serve keeps its reason; a Query has no such note
    other = crossql.compile("from orders where total > 1", backend="dynamodb", schema=keys)
    assert other.to_dict()["reason"] == ("no partition key of the table or an index is "
                                         "pinned with ==: a Scan reads the whole table")
    query = crossql.compile("from orders where user_id == 'ada' and created_at > "
                            "'2026-01-01T00:00:00Z'", backend="dynamodb", schema=keys)
    assert query.to_dict()["operation"] == "Query"
    assert "would serve" not in query.explain()


EVENTS = {"events": {"fields": {"at": "epoch_seconds", "at_ms": "epoch_millis?"}}}
NOON = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)


def test_an_epoch_field_compares_with_timestamps_by_number_on_memory() -> None:
    asyncio.run(_epoch_on_memory())


async def _epoch_on_memory() -> None:
    store = crossql.connect(schema=EVENTS)
    events = store.collection("events")
    noon = int(NOON.timestamp())
    await events.insert_many([{"_id": "a", "at": noon - 1, "at_ms": noon * 1000 - 1},
                              {"_id": "b", "at": noon, "at_ms": noon * 1000},
                              {"_id": "c", "at": noon + 1, "at_ms": noon * 1000 + 1}])
    ids = [r["_id"] for r in await store.fetch(
        "from events where at >= :t order by _id", t=NOON)]
    assert ids == ["b", "c"]
    ids = [r["_id"] for r in await store.fetch(
        "from events where at_ms < timestamp \"2026-01-02T12:00:00Z\" order by _id")]
    assert ids == ["a"]
    ids = [r["_id"] for r in await store.fetch(
        "from events where at in :ts or at_ms == :m order by _id", ts=[NOON],
        m=NOON + timedelta(milliseconds=1))]
    assert ids == ["b", "c"]


def test_an_epoch_field_s_timestamp_is_its_number_in_every_backend_s_plan() -> None:
    text = "from events where at > :t and at_ms <= :t"
    plans = {b: crossql.compile(text, backend=b, params={"t": NOON}, schema=EVENTS)
             for b in ("mongodb", "dynamodb", "firestore")}
    seconds, millis = int(NOON.timestamp()), int(NOON.timestamp()) * 1000
    mongo = plans["mongodb"].to_dict()["arguments"]["filter"]
    assert mongo == {"at": {"$gt": seconds}, "at_ms": {"$lte": millis}}
    dynamo = plans["dynamodb"].to_dict()["request"]["ExpressionAttributeValues"]
    assert {"N": str(seconds)} in dynamo.values() and {"N": str(millis)} in dynamo.values()
    fs = json.dumps(plans["firestore"].to_dict())
    assert str(seconds) in fs and str(millis) in fs and "2026-01-02" not in fs
    # a literal, and a fraction of a unit: a float
    half = crossql.compile("from events where at == timestamp \"1970-01-01T00:00:00.5Z\"",
                           backend="mongodb", schema=EVENTS)
    assert half.to_dict()["arguments"]["filter"] == {"at": {"$eq": 0.5}}
    # a string still never matches a number
    with pytest.raises(crossql.QuerySemanticError, match="declared epoch_seconds"):
        crossql.compile("from events where at == 'x'", backend="mongodb", schema=EVENTS)


def test_a_parameter_met_by_an_epoch_field_and_a_timestamp_field_is_converted_per_use(
) -> None:
    asyncio.run(_epoch_and_timestamp_share_a_parameter())


async def _epoch_and_timestamp_share_a_parameter() -> None:
    declared = {"events": {"fields": {"at": "epoch_seconds", "at_ms": "epoch_millis?",
                                      "ts": "timestamp"}}}
    store = crossql.connect(schema=declared)
    noon = int(NOON.timestamp())
    await store.collection("events").insert_many([
        {"_id": "a", "at": noon, "at_ms": noon * 1000, "ts": NOON},
        {"_id": "b", "at": noon + 1, "at_ms": noon * 1000 + 1000, "ts": NOON}])
    # the prepared path (a store's fetch): the value bound to `:t` is a number only
    # where it meets the epoch field, a datetime where it meets `ts`
    text = "from events where at == :t and ts == :t"
    assert [r["_id"] for r in await store.fetch(text, t=NOON)] == ["a"]
    shown = store.plan(text, {"t": NOON}).to_dict()["text"]
    assert f"at == {noon}" in shown and f"ts == {noon}" not in shown
    # two epoch kinds: each its own number
    both = "from events where at == :t and at_ms == :t"
    assert [r["_id"] for r in await store.fetch(both, t=NOON)] == ["a"]
    # the same parameter twice against one epoch field still fills a template
    twice = "from events where at >= :t and at <= :t"
    assert [r["_id"] for r in await store.fetch(twice, t=NOON)] == ["a"]
    # a field the schema does not declare (an open declaration) takes the datetime
    assert [r["_id"] for r in await store.fetch(
        "from events where at == :t and other == :t", t=NOON)] == []
    plan = crossql.compile(text, backend="mongodb", params={"t": NOON}, schema=declared)
    assert plan.to_dict()["arguments"]["filter"] == {
        "at": {"$eq": noon}, "ts": {"$eq": {"$date": "2026-01-02T12:00:00Z"}}}


@given(case=epoch_cases())
@settings(max_examples=examples(150), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
def test_epoch_fields_with_shared_parameters_agree_with_the_reference(
        case: tuple[str, dict[str, Any], str, dict[str, Any], list[dict[str, Any]]]) -> None:
    text, params, ref_text, ref_params, docs = case
    want = sorted(r["_id"] for r in crossql.evaluate(ref_text, docs, ref_params))

    async def main() -> list[str]:
        store = crossql.connect(schema={"events": EPOCH_DECLARATION})
        await store.collection("events").insert_many(docs)
        first = sorted(r["_id"] for r in await store.fetch(text, **params))
        again = sorted(r["_id"] for r in await store.fetch(text, **params))  # a template
        assert first == again
        return first

    assert asyncio.run(main()) == want, (text, params)
    plan = crossql.compile(text, backend="memory", params=params,
                           schema={"events": EPOCH_DECLARATION})
    assert sorted(r["_id"] for r in crossql.evaluate(plan.to_dict()["text"], docs)) == want


def test_a_list_of_epoch_seconds_compares_its_elements_with_timestamps_by_number() -> None:
    declared = {"events": {"fields": {"ats": "list[epoch_seconds]"}}}
    noon = int(NOON.timestamp())
    for text, params, want in [
            ("from events where ats contains :t", {"t": NOON}, {"$eq": noon}),
            ("from events where ats contains any :ts", {"ts": [NOON]}, {"$in": [noon]}),
            ('from events where ats contains timestamp "2026-01-02T12:00:00Z"', {},
             {"$eq": noon})]:
        plan = crossql.compile(text, backend="mongodb", params=params, schema=declared)
        assert plan.to_dict()["arguments"]["filter"]["ats"]["$elemMatch"] == want, text

    async def main() -> None:
        store = crossql.connect(schema=declared)
        await store.collection("events").insert_many([{"_id": "a", "ats": [noon, noon + 1]},
                                                     {"_id": "b", "ats": [noon + 2]}])
        for text, params in [("from events where ats contains all :ts",
                              {"ts": [NOON, NOON + timedelta(seconds=1)]}),
                             ("from events where ats contains :t", {"t": NOON})]:
            assert [r["_id"] for r in await store.fetch(text, **params)] == ["a"]

    asyncio.run(main())


def test_set_stores_a_list_of_timestamps_as_a_list_of_epoch_numbers() -> None:
    declared = {"events": {"fields": {"ats": "list[epoch_seconds]?", "at": "epoch_seconds"}}}
    noon = int(NOON.timestamp())

    async def main() -> None:
        store = crossql.connect(schema=declared)
        events = store.collection("events")
        await events.insert_one({"_id": "a", "at": 1})
        await store.execute("update events set ats = :l where _id == 'a'",
                            l=[NOON, NOON + timedelta(milliseconds=500)])
        assert (await events.get("a") or {})["ats"] == [noon, noon + 0.5]
        await store.execute('update events set ats = [timestamp "2026-01-02T12:00:01Z"] '
                            "where _id == 'a'")
        assert (await events.get("a") or {})["ats"] == [noon + 1]

    asyncio.run(main())
