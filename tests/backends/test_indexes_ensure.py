"""``store.ensure_indexes`` on the real servers (crossql/indexes/ensure.py): creates what
is declared and missing, is idempotent, reports what differs and what is not
declared, drops only with ``prune``; on DynamoDB a
query that needed the new GSI becomes a ``Query`` on it."""

from __future__ import annotations

import asyncio
from typing import Any

import crossql
from crossql.indexes import suggest


def _statuses(outcomes: list[Any]) -> list[str]:
    return [o.status for o in outcomes]


def test_mongodb_creates_then_finds_then_reports_differences(runner: asyncio.Runner,
                                                              mongo_store: Any) -> None:
    declared = {"ix_orders": [{"keys": {"user": 1, "placed": -1}},
                              {"keys": {"email": 1}, "unique": True}]}
    runner.run(mongo_store.drop_collection("ix_orders"))
    assert _statuses(runner.run(mongo_store.ensure_indexes(declared))) == ["created", "created"]
    info = runner.run(mongo_store.database["ix_orders"].index_information())
    keys = {tuple((k, int(d)) for k, d in v["key"]): v for v in info.values()}
    assert (("user", 1), ("placed", -1)) in keys and keys[(("email", 1),)]["unique"]
    assert _statuses(runner.run(mongo_store.ensure_indexes(declared))) == ["exists", "exists"]
    other, undeclared = runner.run(mongo_store.ensure_indexes(
        {"ix_orders": [{"keys": {"email": 1}}]}))
    assert other.status == "differs" and "unique is True" in other.detail
    assert (undeclared.status, undeclared.index) == ("undeclared", "{user: 1, placed: -1}")
    after = runner.run(mongo_store.database["ix_orders"].index_information())
    assert len(after) == len(info)  # nothing dropped, nothing added


def test_dynamodb_a_new_gsi_turns_a_scan_into_a_query(runner: asyncio.Runner,
                                                      dynamo_store: Any) -> None:
    text = 'from ix_orders where user == "u1" select total'
    runner.run(dynamo_store.drop_collection("ix_orders"))
    runner.run(dynamo_store.create_collection("ix_orders"))
    runner.run(dynamo_store.insert_documents("ix_orders", [
        {"_id": "o1", "user": "u1", "total": 5}, {"_id": "o2", "user": "u2", "total": 7},
        {"_id": "o3", "user": "u1", "total": 9}]))
    runner.run(dynamo_store.describe("ix_orders"))
    assert dynamo_store.plan(text).operation == "Scan"
    (wanted,) = suggest([("q", crossql.parse(text))], backends=["dynamodb"]
                        ).indexes["dynamodb"]
    declared = {"ix_orders": [wanted.index]}
    (made,) = runner.run(dynamo_store.ensure_indexes(declared))
    assert made.status == "created", made
    plan = dynamo_store.plan(text)
    assert (plan.operation, plan.index_name) == ("Query", wanted.index.name)
    rows = runner.run(dynamo_store.fetch(text))
    assert sorted(r["total"] for r in rows) == [5, 9]
    described = runner.run(dynamo_store._call("describe_table",
                                              TableName=dynamo_store.table_name("ix_orders")))
    assert [g["IndexName"] for g in described["Table"]["GlobalSecondaryIndexes"]] == [
        wanted.index.name]
    (again,) = runner.run(dynamo_store.ensure_indexes(declared))
    assert again.status == "exists"
    (other,) = runner.run(dynamo_store.ensure_indexes({"ix_orders": [
        {"name": wanted.index.name, "partition_key": "user", "projection": "KEYS_ONLY"}]}))
    assert other.status == "differs" and "projects" in other.detail


def test_dynamodb_a_missing_table_is_created_with_its_indexes(runner: asyncio.Runner,
                                                              dynamo_store: Any) -> None:
    runner.run(dynamo_store.drop_collection("ix_new"))
    declared = {"ix_new": [{"name": "by_user", "partition_key": "user", "sort_key": "at"}]}
    assert _statuses(runner.run(dynamo_store.ensure_indexes(declared))) == ["created"]
    table = runner.run(dynamo_store.describe("ix_new"))
    assert [(i.name, i.partition_key, i.sort_key) for i in table.indexes] == [
        ("by_user", "user", "at")]
    assert _statuses(runner.run(dynamo_store.ensure_indexes(declared))) == ["exists"]


def _files(tmp_path: Any, nosql: dict[str, Any], schema: dict[str, Any]) -> tuple[str, str]:
    import json

    import yaml

    config = tmp_path / "app.yaml"
    config.write_text(yaml.safe_dump({"nosql": nosql}), encoding="utf-8")
    declared = tmp_path / "schema.json"
    declared.write_text(json.dumps(schema), encoding="utf-8")
    return str(config), str(declared)


def test_cli_apply_on_mongodb_and_dynamodb(tmp_path: Any, runner: asyncio.Runner,
                                           mongodb_uri: str, dynamodb_endpoint: str,
                                           dynamo_store: Any, mongo_store: Any,
                                           capsys: Any) -> None:
    import json

    from crossql.cli import main
    from tests.backends.dynamo_support import store_config

    database = mongo_store.database.name
    config, schema = _files(
        tmp_path, {"driver": "mongodb", "mongodb": {"uri": mongodb_uri, "database": database},
                   "backends": [{"name": "ddb", **store_config(
                       dynamodb_endpoint, table_prefix=dynamo_store.options.table_prefix)}]},
        {"mongodb": {"ix_cli": {"indexes": [{"keys": {"a": 1, "b": -1}}]}},
         "dynamodb": {"ix_cli": {"indexes": [{"name": "by_a", "partition_key": "a"}]}}})
    runner.run(mongo_store.drop_collection("ix_cli"))
    runner.run(dynamo_store.drop_collection("ix_cli"))
    for backend in ("default", "ddb"):
        assert main(["indexes", "apply", "--config", config, "--schema", schema,
                     "--backend", backend, "--json"]) == 0
        (outcome,) = json.loads(capsys.readouterr().out)
        assert outcome["status"] == "created", outcome
        assert main(["indexes", "apply", "--config", config, "--schema", schema,
                     "--backend", backend, "--json"]) == 0
        assert [o["status"] for o in json.loads(capsys.readouterr().out)] == ["exists"]
    runner.run(mongo_store.database["ix_cli"].create_index([("c", 1)]))
    assert main(["indexes", "apply", "--config", config, "--schema", schema, "--json"]) == 0
    assert [o["status"] for o in json.loads(capsys.readouterr().out)] == [
        "exists", "undeclared"]
    assert main(["indexes", "apply", "--config", config, "--schema", schema, "--json",
                 "--prune"]) == 0
    assert [(o["status"], o["name"]) for o in json.loads(capsys.readouterr().out)] == [
        ("exists", "a_1_b_-1"), ("dropped", "c_1")]
    assert "c_1" not in runner.run(mongo_store.database["ix_cli"].index_information())


def test_firestore_require_indexes_on_the_emulator(runner: asyncio.Runner,
                                                   firestore_host: str) -> None:
    """The emulator runs every query without indexes; a store with ``require_indexes``
    refuses, before sending, the one production would refuse, and runs it on the emulator
    once the index suggest prints is declared."""
    import uuid

    import pytest

    from crossql.backends.firestore.config import FirestoreConfig
    from crossql.backends.firestore.options import FirestoreOptions
    from crossql.backends.firestore.store import FirestoreStore
    from tests.backends.conftest import reset_firestore

    text = 'from ix_posts where author == "ada" and at > 1 order by at desc'
    project = f"crossql-test-{uuid.uuid4().hex[:8]}"
    config = FirestoreConfig(project_id=project, emulator_host=firestore_host,
                             options=FirestoreOptions(require_indexes=True))
    (needed,) = suggest([("q", crossql.parse(text))], backends=["firestore"]
                        ).indexes["firestore"]
    strict = FirestoreStore(config)
    ready = FirestoreStore(config, schema={"ix_posts": {"indexes": [
        needed.index.definition()]}})
    try:
        runner.run(ready.open())
        runner.run(ready.insert_documents("ix_posts", [
            {"_id": "p1", "author": "ada", "at": 1}, {"_id": "p2", "author": "ada", "at": 3},
            {"_id": "p3", "author": "bob", "at": 5}, {"_id": "p4", "author": "ada", "at": 2}]))
        with pytest.raises(crossql.CapabilityError, match="composite index"):
            runner.run(strict.fetch(text))
        assert [r["_id"] for r in runner.run(ready.fetch(text))] == ["p2", "p4"]
    finally:
        reset_firestore(firestore_host, project)
        runner.run(ready.close())


def test_mongodb_undeclared_indexes_are_reported_and_pruned_only_when_asked(
        runner: asyncio.Runner, mongo_store: Any) -> None:
    declared = {"ix_prune": [{"keys": {"a": 1}}]}
    runner.run(mongo_store.drop_collection("ix_prune"))
    runner.run(mongo_store.database["ix_prune"].create_index([("b", -1)], name="b_old"))
    outcomes = runner.run(mongo_store.ensure_indexes(declared))
    assert [(o.status, o.index) for o in outcomes] == [
        ("created", "{a: 1}"), ("undeclared", "{b: -1}")], outcomes
    assert "b_old" in runner.run(mongo_store.database["ix_prune"].index_information())
    pruned = runner.run(mongo_store.ensure_indexes(declared, prune=True))
    assert [(o.status, o.name) for o in pruned] == [("exists", "a_1"), ("dropped", "b_old")]
    left = runner.run(mongo_store.database["ix_prune"].index_information())
    assert sorted(left) == ["_id_", "a_1"]  # never the _id_ index
    assert _statuses(runner.run(mongo_store.ensure_indexes(declared, prune=True))) == [
        "exists"]


def test_dynamodb_prune_deletes_undeclared_gsis_and_reports_lsis(
        runner: asyncio.Runner, dynamo_store: Any) -> None:
    runner.run(dynamo_store.drop_collection("ix_prune"))
    keep = {"name": "by_user", "partition_key": "user"}
    runner.run(dynamo_store.create_collection(
        "ix_prune", partition_key="_id", sort_key="n", attribute_types={"n": "N"},
        indexes=[{"name": "loc", "local": True, "sort_key": "at"}]))
    runner.run(dynamo_store.ensure_indexes({"ix_prune": [
        keep, {"name": "by_day", "partition_key": "day"}]}))
    declared = {"ix_prune": [keep]}
    kept = runner.run(dynamo_store.ensure_indexes(declared))
    assert [(o.status, o.name) for o in kept] == [
        ("exists", "by_user"), ("undeclared", "by_day"), ("undeclared", "loc")], kept
    pruned = runner.run(dynamo_store.ensure_indexes(declared, prune=True))
    assert [(o.status, o.name) for o in pruned] == [
        ("exists", "by_user"), ("dropped", "by_day"), ("differs", "loc")], pruned
    assert "cannot drop" in pruned[2].detail
    table = runner.run(dynamo_store._call("describe_table",
                                          TableName=dynamo_store.table_name("ix_prune")))
    assert [g["IndexName"] for g in table["Table"]["GlobalSecondaryIndexes"]] == ["by_user"]
    described = runner.run(dynamo_store.describe("ix_prune"))
    assert sorted(i.name for i in described.indexes) == ["by_user", "loc"]
