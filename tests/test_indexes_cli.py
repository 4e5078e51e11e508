"""``crossql indexes suggest`` (crossql/indexes/command.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crossql.cli import main


def test_suggest_prints_json_per_backend(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    lines = tmp_path / "queries.txt"
    lines.write_text('-- one query a line\nfrom cities where country == "USA" order by '
                     "population\n\nfrom cities where population > 3\n", encoding="utf-8")
    assert main(["indexes", "suggest", "--json", str(lines),
                 "from users where city == :c and age > 3 select name"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"mongodb", "dynamodb", "firestore"}
    firestore = out["firestore"]["indexes"]
    assert firestore[0]["queries"] == [f"{lines}:2"]
    assert firestore[0]["index"] == {"fields": [{"fieldPath": "country", "order": "ASCENDING"},
                                                {"fieldPath": "population",
                                                 "order": "ASCENDING"}]}
    assert [u["query"] for u in out["dynamodb"]["unindexed"]] == [f"{lines}:4"]
    (gsi,) = [i for i in out["dynamodb"]["indexes"] if i["collection"] == "users"]
    assert gsi["index"]["projection"] == ["name"]


def test_suggest_reads_a_query_file_and_a_schema(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    queries = tmp_path / "app.crossql"
    queries.write_text("-- name: by_user\nfrom orders where user == :u order by placed desc\n",
                       encoding="utf-8")
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps({"firestore": {"orders": {"indexes": [
        {"fields": ["user", {"field": "placed", "order": "DESCENDING"}]}]}}}),
        encoding="utf-8")
    assert main(["indexes", "suggest", "--backend", "firestore", "--schema", str(schema),
                 str(queries)]) == 0
    out = capsys.readouterr().out
    assert "orders (user ASC, placed DESC)" in out and "declared" in out and "by_user" in out


def test_suggest_prints_a_deployable_firestore_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["indexes", "suggest", "--backend", "firestore", "--format", "firestore",
                 'from posts where tags contains "x" order by at desc']) == 0
    assert json.loads(capsys.readouterr().out) == {"indexes": [{
        "collectionGroup": "posts", "queryScope": "COLLECTION",
        "fields": [{"fieldPath": "tags", "arrayConfig": "CONTAINS"},
                   {"fieldPath": "at", "order": "DESCENDING"}]}], "fieldOverrides": []}


@pytest.mark.parametrize(("argv", "says"), [
    (["indexes", "suggest"], "no queries given"),
    (["indexes", "suggest", "--format", "firestore", "from a"], "--backend firestore"),
    (["indexes", "suggest", "--backend", "memory", "from a"], "no index rules"),
    (["indexes", "suggest", "missing.crossql"], "query file not found"),
])
def test_suggest_usage_errors(argv: list[str], says: str,
                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert says in capsys.readouterr().err


def test_a_bad_declaration_is_a_located_error(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps({"mongodb": {"orders": {"indexes": [{"keys": {"a": 3}}]}}}),
                      encoding="utf-8")
    assert main(["indexes", "suggest", "--schema", str(schema), "from orders"]) == 2
    assert "mongodb.orders.indexes.0.keys.a" in capsys.readouterr().err


def test_apply_writes_firestore_indexes_json(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "app.yaml"
    config.write_text("nosql:\n  driver: firestore\n  firestore: {project_id: p}\n",
                      encoding="utf-8")
    schema = tmp_path / "schema.yaml"
    schema.write_text("firestore:\n  posts:\n    indexes:\n      - fields: [author, "
                      "{field: at, order: DESCENDING}]\n", encoding="utf-8")
    out = tmp_path / "firestore.indexes.json"
    argv = ["indexes", "apply", "--config", str(config), "--schema", str(schema),
            "--out", str(out), "--json"]
    assert main(argv) == 0
    assert [o["status"] for o in json.loads(capsys.readouterr().out)] == ["created"]
    written = json.loads(out.read_text(encoding="utf-8"))
    assert written == {"indexes": [{"collectionGroup": "posts", "queryScope": "COLLECTION",
                                    "fields": [{"fieldPath": "author", "order": "ASCENDING"},
                                               {"fieldPath": "at", "order": "DESCENDING"}]}],
                       "fieldOverrides": []}
    assert main(argv) == 0  # idempotent: the file keeps one entry
    assert [o["status"] for o in json.loads(capsys.readouterr().out)] == ["exists"]
    assert json.loads(out.read_text(encoding="utf-8")) == written


def test_apply_needs_declarations(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "app.yaml"
    config.write_text("nosql:\n  driver: memory\n", encoding="utf-8")
    schema = tmp_path / "schema.json"
    schema.write_text("{}", encoding="utf-8")
    assert main(["indexes", "apply", "--config", str(config), "--schema", str(schema)]) == 2
    assert "no memory indexes declared" in capsys.readouterr().err
