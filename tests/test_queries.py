"""Query files (crossql/queries.py): ``crossql.load_queries`` and the command line's
``FILE.crossql[:name]`` arguments of check, explain and compile."""

from __future__ import annotations

import asyncio
import json
import pickle
import sys
from pathlib import Path

import pytest

import crossql
from crossql.queries import NamedQuery, parse_query_file
from crossql.testing import memory_store
from tests.test_cli import InProcess, crossql_cmd

ROOT = Path(__file__).resolve().parents[1]
APP_QUERIES = "examples/app/queries.crossql"

SHOP = """\
-- backends: mongodb, firestore
-- The shop's queries.

-- name: adults
-- Users of age,
-- oldest first.
-- example: {"min": 18}
from users where age >= :min
  order by age desc  -- a comment stays in the text

-- name: everyone
-- backends: mongodb, dynamodb, firestore
from users

-- name: birthday
-- example: {"id": "u1"}
update users set age = age + 1 where _id == :id
"""


@pytest.fixture
def inproc(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> InProcess:
    return InProcess(capsys, monkeypatch)


def _error(text: str) -> crossql.QueryError:
    with pytest.raises(crossql.QueryError) as caught:
        parse_query_file(text, "app/q.crossql")
    return caught.value


# -- the file ------------------------------------------------------------------------------


def test_a_file_gives_its_queries_as_attributes_with_their_headers() -> None:
    queries = parse_query_file(SHOP, "shop.crossql")
    assert queries.names == ["adults", "everyone", "birthday"]
    adults = queries.adults
    assert isinstance(adults, NamedQuery) and queries["adults"] is adults
    assert adults.description == "Users of age,\noldest first."
    assert adults.text == ("from users where age >= :min\n"
                           "  order by age desc  -- a comment stays in the text")
    assert adults.line == 8 and adults.example == {"min": 18}
    assert adults.backends == ("mongodb", "firestore")  # the file's
    assert queries.everyone.backends == ("mongodb", "dynamodb", "firestore")  # its own
    assert queries.everyone.description == "" and queries.everyone.example is None
    assert adults.param_names == {"min"} and queries.birthday.param_names == {"id"}
    assert queries.birthday.is_write and not adults.is_write
    assert [q.name for q in queries] == queries.names and len(queries) == 3
    assert "adults" in queries and "nope" not in queries
    assert {"adults", "birthday", "everyone", "names"} <= set(dir(queries))
    assert adults.id == "shop.crossql:adults"


def test_an_unknown_name_and_page_say_what_there_is() -> None:
    queries = parse_query_file(SHOP, "shop.crossql")
    with pytest.raises(AttributeError, match=r"shop\.crossql has no query named 'adult'; "
                                             r"it has adults, everyone, birthday"):
        _ = queries.adult
    with pytest.raises(KeyError, match="no query named 'adult'"):
        _ = queries["adult"]
    assert not hasattr(queries.adults, "pages")


def test_a_syntax_error_names_the_file_the_line_in_it_and_the_query() -> None:
    err = _error("-- name: ok\nfrom users\n\n-- name: broken\n-- a description\n"
                 "from users\n  where age >\n")
    assert isinstance(err, crossql.QuerySyntaxError)
    assert err.line == 7 and err.column == 13
    assert err.render() == (
        "crossql.QuerySyntaxError: the query ends too early; expected a value\n"
        "  --> app/q.crossql:7:13 (query `broken`)\n"
        "   |\n"
        " 7 |   where age >\n"
        "   |             ^\n"
        "   = hint: complete the query")
    assert str(err) == err.render()
    again = pickle.loads(pickle.dumps(err))
    assert again.render() == err.render() and str(again) == str(err)


def test_a_semantic_error_and_a_wrong_example_are_located_in_the_file() -> None:
    err = _error("-- name: q\nfrom users where age > 1 select count() as n, count() as n\n")
    assert isinstance(err, crossql.QuerySemanticError)
    assert "--> app/q.crossql:2:" in err.render() and "(query `q`)" in err.render()
    err = _error('-- name: q\n-- example: {"min": [1]}\nfrom users where age >= :min\n')
    assert isinstance(err, crossql.QuerySemanticError)
    assert err.line == 3 and "(query `q`)" in err.render()
    err = _error('-- name: q\n-- example: {"id": 1, "extra": 2}\n'
                 "delete from users where _id == :id\n")
    assert "unused parameter `:extra`" in err.message and err.line == 3


@pytest.mark.parametrize(("text", "message", "line"), [
    ("from users\n", "a query file starts each query with `-- name: NAME`", 1),
    ("-- name: a\nfrom users\n-- name: a\nfrom users\n", "two queries are named `a`", 3),
    ("-- name: a b\nfrom users\n", "`a b` cannot name a query", 1),
    ("-- name: _a\nfrom users\n", "`_a` cannot name a query", 1),
    ("-- name: names\nfrom users\n", "`names` cannot name a query", 1),
    ("-- name: a\n-- only a comment\n\n-- name: b\nfrom users\n",
     "query `a` has no text", 1),
    ("-- name: a\n", "query `a` has no text", 1),
    ("-- name: a\n-- example: {min: 1}\nfrom users\n", "`-- example:` is not JSON", 2),
    ("-- name: a\n-- example: [1]\nfrom users\n", "`-- example:` is a JSON object", 2),
    ("-- name: a\n-- example: {}\n-- example: {}\nfrom users\n",
     "a query has one `-- example:`", 3),
    ("-- example: {}\n-- name: a\nfrom users\n", "`-- example:` belongs to a query", 1),
    ("-- name: a\n-- backends: mongodb, oracle\nfrom users\n", "unknown backend `oracle`", 2),
    ("-- backends:\n-- name: a\nfrom users\n", "`-- backends:` names no backend", 1),
])
def test_a_malformed_file_is_a_located_error(text: str, message: str, line: int) -> None:
    err = _error(text)
    assert err.message.startswith(message), err.message
    assert err.code == "syntax.query-file" and err.line == line
    assert f"--> app/q.crossql:{line}:" in err.render()


def test_load_queries_reads_a_path_or_a_package_resource(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    (tmp_path / "q.crossql").write_text(SHOP, encoding="utf-8")
    assert crossql.load_queries(tmp_path / "q.crossql").names == ["adults", "everyone",
                                                                  "birthday"]
    assert crossql.load_queries(str(tmp_path / "q.crossql")).path == str(tmp_path /
                                                                         "q.crossql")
    package = tmp_path / "myapp"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "queries.crossql").write_text(SHOP, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    queries = crossql.load_queries("queries.crossql", package="myapp")
    assert queries.path == "myapp:queries.crossql" and len(queries) == 3
    from importlib.resources import files

    assert crossql.load_queries(files("myapp") / "queries.crossql").names == queries.names
    sys.modules.pop("myapp", None)


def test_the_queries_run_on_a_store_and_their_errors_are_located() -> None:
    queries = parse_query_file(SHOP, "shop.crossql")
    store = memory_store(data={"users": [{"_id": "u1", "age": 36}, {"_id": "u2", "age": 9}]})

    async def body() -> None:
        assert await queries.adults.fetch(store, min=18) == [{"_id": "u1", "age": 36}]
        assert [r["_id"] async for r in queries.adults.stream(store, min=1)] == ["u1", "u2"]
        assert await queries.everyone.count(store) == 2
        result = await queries.birthday.execute(store, id="u1")
        assert (result.matched, result.modified) == (1, 1)
        assert await queries.adults.fetch(store, min=37) == [{"_id": "u1", "age": 37}]
        with pytest.raises(TypeError, match=r"`birthday` of shop\.crossql is an update or "
                                            r"delete: call execute, not fetch"):
            await queries.birthday.fetch(store)
        with pytest.raises(TypeError, match="is a read query: call fetch, stream, count or page"):
            await queries.adults.execute(store)
        with pytest.raises(crossql.QuerySemanticError) as caught:
            await queries.adults.fetch(store)
        assert "--> shop.crossql:8:25 (query `adults`)" in caught.value.render()
        with pytest.raises(crossql.QuerySemanticError) as caught:
            [r async for r in queries.adults.stream(store, min=None)]
        assert "(query `adults`)" in caught.value.render()
        first = await queries.adults.page(store, size=1, min=1, total=True)
        assert first.rows == [{"_id": "u1", "age": 37}] and first.total == 2
        last = await queries.adults.page(store, size=1, after=first.next_cursor, min=1)
        assert last.rows == [{"_id": "u2", "age": 9}] and last.next_cursor is None
        with pytest.raises(crossql.QuerySemanticError) as caught:  # another value of :min
            await queries.adults.page(store, size=1, after=first.next_cursor, min=2)
        assert caught.value.code == "semantic.cursor-foreign"
        assert "--> shop.crossql:8:1 (query `adults`)" in caught.value.render()
        with pytest.raises(TypeError, match="call execute, not page"):
            await queries.birthday.page(store, size=1)

    asyncio.run(body())


def test_plan_uses_the_example_and_locates_a_refusal() -> None:
    queries = parse_query_file(SHOP, "shop.crossql")
    assert queries.adults.plan("mongodb").to_dict()["arguments"]["filter"]["age"]["$gte"] == 18
    assert queries.adults.plan("mongodb", min=30).to_dict()["arguments"]["filter"][
        "age"]["$gte"] == 30
    with pytest.raises(crossql.CapabilityError) as caught:
        queries.adults.plan("dynamodb")
    assert "--> shop.crossql:9:12 (query `adults`)" in caught.value.render()


# -- the command line ----------------------------------------------------------------------


def test_check_of_the_example_file_prints_the_table_and_exits_0() -> None:
    proc = crossql_cmd("check", APP_QUERIES)
    assert (proc.returncode, proc.stderr) == (0, "")
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["query", "memory", "mongodb", "dynamodb", "firestore"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[2:] if line.strip()}
    assert list(rows) == crossql.load_queries(ROOT / APP_QUERIES).names
    assert all(cells == ["accepted"] * 4 for cells in rows.values())


def test_check_exits_1_only_for_a_refusal_where_the_query_must_run(
        inproc: InProcess, tmp_path: Path) -> None:
    path = tmp_path / "q.crossql"
    path.write_text(SHOP, encoding="utf-8")
    # adults (mongodb, firestore) is refused by DynamoDB only: not one of its backends
    code, out, err = inproc("check", f"{path}:adults")
    assert (code, err) == (0, "")
    assert "refused (not a target)" in out
    assert out.endswith("\nadults on dynamodb (not one of its backends): dynamodb cannot "
                        "order a Scan by `age`\n")
    path.write_text(SHOP.replace("-- backends: mongodb, firestore",
                                 "-- backends: mongodb, dynamodb"), encoding="utf-8")
    code, out, err = inproc("check", str(path))
    assert code == 1 and err == ""
    assert out.splitlines()[2].split() == ["adults", "accepted", "accepted", "REFUSED",
                                           "accepted"]
    assert "\nadults on dynamodb:\ncrossql.CapabilityError: dynamodb cannot order" in out
    assert f"--> {path}:9:12 (query `adults`)" in out
    code, out, _ = inproc("check", "--json", str(path))
    data = json.loads(out)
    assert code == 1 and [q["query"] for q in data] == ["adults", "everyone", "birthday"]
    refused = data[0]["verdicts"][2]
    assert refused["backend"] == "dynamodb" and not refused["accepted"]
    assert refused["error"]["line"] == 9 and f"--> {path}:" in refused["rendered"]


def test_explain_and_compile_take_a_query_of_a_file(inproc: InProcess) -> None:
    out = inproc.ok("explain", "-b", "mongodb", f"{APP_QUERIES}:active_adults")
    assert out.startswith("mongodb: find on collection `users`") and '"$gte": 18' in out
    out = inproc.ok("explain", "-b", "mongodb", "-p", "min=30",
                    f"{APP_QUERIES}:active_adults")
    assert '"$gte": 30' in out  # --params over the example
    out = inproc.ok("compile", "-b", "dynamodb", f"{APP_QUERIES}:user_by_id")
    assert json.loads(out)["operation"] == "Query"
    every = json.loads(inproc.ok("compile", "-b", "mongodb", APP_QUERIES))
    assert list(every) == crossql.load_queries(ROOT / APP_QUERIES).names
    out = inproc.ok("explain", "-b", "firestore", APP_QUERIES)
    assert out.startswith("-- user_by_id\n") and "\n\n-- ship_order\n" in out
    out = inproc.ok("compile", "--python", "-b", "mongodb", "-p", "id=o9",
                    f"{APP_QUERIES}:ship_order")
    assert "'o9'" in out


def test_a_file_argument_fails_as_a_usage_or_query_error(inproc: InProcess,
                                                         tmp_path: Path) -> None:
    err = inproc.fails("explain", f"{APP_QUERIES}:nope")
    assert "has no query named 'nope'" in err and "its queries are user_by_id," in err
    assert "query file not found: missing.crossql" in inproc.fails("check", "missing.crossql")
    path = tmp_path / "q.crossql"
    path.write_text("-- name: q\nfrom users where age > :min\n", encoding="utf-8")
    err = inproc.fails("check", str(path))
    assert f"--> {path}:2:24 (query `q`)" in err
    assert '= hint: give the query an example under its `-- name:` line: -- example: ' \
           '{"min": ...}' in err
    path.write_text("-- name: q\nfrom users where\n", encoding="utf-8")
    assert f"--> {path}:2:" in inproc.fails("compile", str(path))
