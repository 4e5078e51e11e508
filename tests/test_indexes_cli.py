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


APP_MODULE = '''"""Queries as constants; reading them must not run this module."""
raise SystemExit("imported")

ORDERS_OF_USER_QUERY = (
    "from orders where user == :u "
    "order by placed desc")
NOT_A_QUERY = "from nowhere"
RECENT_QUERY: str = "from orders where placed > :t"
CROSSQL_QUERIES = {"paid": 'from orders where status == "paid" order by total'}
'''


def _json_labels(out: str) -> dict[str, set[str]]:
    report = json.loads(out)
    return {backend: {q for i in body["indexes"] for q in i["queries"]}
            | {u["query"] for u in body["unindexed"]} for backend, body in report.items()}


def test_suggest_reads_a_python_modules_constants_without_running_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    package = tmp_path / "app"
    package.mkdir()
    (package / "__init__.py").write_text("raise SystemExit('package imported')\n")
    (package / "queries.py").write_text(APP_MODULE, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    for source in ("app/queries.py", "app.queries"):
        assert main(["indexes", "suggest", "--json", source]) == 0
        labels = _json_labels(capsys.readouterr().out)
        assert labels["mongodb"] == {"ORDERS_OF_USER_QUERY", "RECENT_QUERY", "paid"}
    (tmp_path / "listed.py").write_text(
        "CROSSQL_QUERIES = ('from cities where country == \"USA\" order by population',)\n")
    assert main(["indexes", "suggest", "--json", "--backend", "firestore", "listed.py"]) == 0
    (index,) = json.loads(capsys.readouterr().out)["firestore"]["indexes"]
    assert index["queries"] == ["CROSSQL_QUERIES[0]"]


@pytest.mark.parametrize(("text", "says"), [
    ('X_QUERY = f"from {T}"\n', "bad.py:1: X_QUERY is not a literal string"),
    ("CROSSQL_QUERIES = make()\n", "bad.py:1: CROSSQL_QUERIES is not a literal tuple"),
    ("OTHER = 'from users'\n", "bad.py: no queries"),
    ("def f(:\n", "bad.py:1: not Python"),
])
def test_a_python_module_off_the_convention_is_a_usage_error(
        tmp_path: Path, text: str, says: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.py").write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["indexes", "suggest", "bad.py"]) == 2
    err = capsys.readouterr().err
    assert says in err and "CROSSQL_QUERIES" in err, err


def test_suggest_over_the_test_corpus_prints_every_backend(
        capsys: pytest.CaptureFixture[str]) -> None:
    """The issue's done-when: the command a user runs over tests/corpus/queries.yaml."""
    from tests.plan_corpus import CORPUS_FILE, VALID

    assert main(["indexes", "suggest", "--json", str(CORPUS_FILE)]) == 0
    report = json.loads(capsys.readouterr().out)
    for backend in ("mongodb", "dynamodb", "firestore"):
        assert report[backend]["indexes"], backend
    assert _json_labels(json.dumps(report))["mongodb"] == {e["name"] for e in VALID} - {
        e["name"] for e in VALID if _needs_no_index(e["query"])}


def _needs_no_index(text: str) -> bool:
    """MongoDB serves it without an index of its own (no condition nor order, or ``_id``)."""
    from crossql.grammar import parse_statement
    from crossql.indexes import suggest

    report = suggest([("q", parse_statement(text))], backends=["mongodb"])
    return not report.indexes["mongodb"] and not report.unindexed["mongodb"]


ORDERED = 'from orders where user == "u1" and placed > 5 order by placed desc'


def test_check_with_require_indexes_refuses_until_the_index_is_declared(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["check", "--json", "--option", "firestore.require_indexes=true", ORDERED]
    assert main(argv) == 1
    firestore = {r["backend"]: r for r in json.loads(capsys.readouterr().out)}["firestore"]
    assert not firestore["accepted"]
    error = firestore["error"]
    assert (error["code"], error["line"], error["column"]) == (
        "capability.firestore.index", 1, ORDERED.index("placed desc") + 1)  # the order key
    declaration = json.loads(error["hint"].split("`orders`: ", 1)[1].split(" — ")[0])
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps({"firestore": {"orders": {"indexes": [declaration]}}}),
                      encoding="utf-8")
    main(["check", "--json", "--schema", str(schema), *argv[2:]])
    firestore = {r["backend"]: r for r in json.loads(capsys.readouterr().out)}["firestore"]
    assert firestore["accepted"], firestore


@pytest.mark.parametrize(("text", "says"), [
    ('"""doc"""\nBAD_QUERY = "from orders where"\n', "--> q.py:2:30 (BAD_QUERY)"),
    ('CROSSQL_QUERIES = ("from x where" " a ==",)\n', "--> q.py CROSSQL_QUERIES[0]:1:17"),
])
def test_a_bad_query_in_a_module_is_located_in_it(
        tmp_path: Path, text: str, says: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "q.py").write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["indexes", "suggest", "q.py"]) != 0
    assert says in capsys.readouterr().err


def test_apply_prune_is_refused_for_firestore(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "app.yaml"
    config.write_text("nosql:\n  driver: firestore\n  firestore: {project_id: p}\n",
                      encoding="utf-8")
    schema = tmp_path / "schema.yaml"
    schema.write_text("firestore:\n  posts:\n    indexes:\n      - fields: [a, b]\n",
                      encoding="utf-8")
    assert main(["indexes", "apply", "--config", str(config), "--schema", str(schema),
                 "--out", str(tmp_path / "f.json"), "--prune"]) == 2
    assert "--prune drops indexes on MongoDB and DynamoDB" in capsys.readouterr().err
    assert not (tmp_path / "f.json").exists()
