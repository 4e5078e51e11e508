"""The ``crossql`` command, run as a user runs it: ``python -m crossql ...`` in a subprocess."""

from __future__ import annotations

import asyncio
import doctest
import io
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import crossql
from crossql import cli
from crossql.backends import BACKEND_NAMES
from crossql.config import ENVIRONMENT

ROOT = Path(__file__).resolve().parents[1]
SHOP = "examples/shop.json"
ADULTS = "from users where age >= 18 order by age desc limit 5"

# rich would colour output when told to; these tests read what a pipe gets; and the
# servers' variables scripts/test exports would override every config file here
_ENV = {k: v for k, v in os.environ.items()
        if k not in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "CROSSQL_DEBUG",
                     "CROSSQL_CONFIG", *ENVIRONMENT)}


def crossql_cmd(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crossql", *args], cwd=ROOT, env=_ENV, input=stdin,
        capture_output=True, text=True, timeout=60,
    )


def ok(*args: str, stdin: str | None = None) -> str:
    proc = crossql_cmd(*args, stdin=stdin)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    return proc.stdout


def fails(*args: str, stdin: str | None = None) -> str:
    """Run a command that must fail as a user error: exit 2, a message, no traceback."""
    proc = crossql_cmd(*args, stdin=stdin)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert proc.stdout == ""
    assert proc.stderr.strip()
    assert "Traceback" not in proc.stderr
    return proc.stderr


class InProcess:
    """``crossql.cli.main`` in this process: for the variants of a command, which need no new
    interpreter (each subprocess pays ~0.5 s of start-up)."""

    def __init__(self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):
        self.capsys = capsys
        self.monkeypatch = monkeypatch
        for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "CROSSQL_DEBUG",
                     "CROSSQL_CONFIG", *ENVIRONMENT):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.chdir(ROOT)

    def __call__(self, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
        if stdin is not None:
            self.monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        try:
            code = cli.main(list(args))
        except SystemExit as exit_:  # argparse
            code = exit_.code if isinstance(exit_.code, int) else 1
        out, err = self.capsys.readouterr()
        return code, out, err

    def ok(self, *args: str, stdin: str | None = None) -> str:
        code, out, err = self(*args, stdin=stdin)
        assert (code, err) == (0, ""), err
        return out

    def fails(self, *args: str) -> str:
        code, out, err = self(*args)
        assert code == 2 and out == "" and err.strip() and "Traceback" not in err, (out, err)
        return err


@pytest.fixture
def inproc(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> InProcess:
    return InProcess(capsys, monkeypatch)


# -- parse, fmt, compile, explain ------------------------------------------------------------


def test_parse_prints_the_ir_as_json() -> None:
    data = json.loads(ok("parse", "from users where age >= 18 limit 2"))
    assert data == crossql.ir.to_dict(crossql.parse("from users where age >= 18 limit 2"))
    assert data["collection"] == "users"
    assert data["where"]["op"] == ">="
    assert data["limit"] == {"literal": 2, "kind": "int"}


FMT_IN = "FROM users\nWHERE age>=18 -- adults\n  Order By age DESC LIMIT 5\n"
FMT_OUT = "from users where age >= 18 order by age desc limit 5\n"


def test_fmt_reads_the_query_from_stdin() -> None:
    assert ok("fmt", "-", stdin=FMT_IN) == FMT_OUT


@pytest.mark.parametrize("how", ["argument", "file"])
def test_fmt_reads_an_argument_or_a_file(how: str, tmp_path: Path, inproc: InProcess) -> None:
    if how == "argument":
        out = inproc.ok("fmt", FMT_IN)
    else:
        (tmp_path / "q.cql").write_text(FMT_IN)
        out = inproc.ok("fmt", "--file", str(tmp_path / "q.cql"))
    assert out == FMT_OUT


def test_compile_types_each_param_value() -> None:
    out = ok("compile", "--backend", "memory",
             "--params", "min=18", "name=Ada", "ids=[1,2]", 'code="18"', "none=null",
             "from users where age >= :min and name == :name and _id in :ids"
             " and code == :code and nick == :none")
    plan = json.loads(out)
    assert plan["backend"] == "memory"
    assert plan["text"] == ('from users where age >= 18 and name == "Ada" and _id in [1, 2]'
                            ' and code == "18" and nick == null')


@pytest.mark.parametrize(("item", "value"), [
    ("min=18", 18), ("x=1.5", 1.5), ("name=Ada", "Ada"), ('x="18"', "18"), ("ids=[1,2]", [1, 2]),
    ("ok=true", True), ("v=null", None), ("s=", ""), ("eq=a=b", "a=b"), ("n=NaN", "NaN"),
    ("m={\"a\":1}", {"a": 1}),
])
def test_param_values_are_json_or_else_strings(item: str, value: Any) -> None:
    assert cli.parse_param(item) == (item.split("=", 1)[0], value)


def test_params_may_be_repeated_and_the_query_may_come_first(inproc: InProcess) -> None:
    out = inproc.ok("compile", "from users where age >= :min and name == :name",
             "-p", "min=18", "-p", "name=Ada")
    assert json.loads(out)["text"] == 'from users where age >= 18 and name == "Ada"'


def test_explain_says_what_runs() -> None:
    out = ok("explain", "--backend", "memory", "--params", "min=18",
             "from users where age >= :min")
    assert out == crossql.compile("from users where age >= :min", params={"min": 18}).explain() \
        + "\n"
    assert "users" in out


# -- run ---------------------------------------------------------------------------------------


def test_run_where_order_limit_returns_the_exact_rows() -> None:
    out = ok("run", "--data", SHOP, "--json",
             "from users where age >= 18 select name, age, address.city order by age desc"
             " limit 5")
    assert json.loads(out) == [
        {"name": "Grace", "age": 85, "address": {"city": "Washington"}},
        {"name": "Edsger", "age": 72, "address": {"city": "Lyon"}},
        {"name": "Tim", "age": 68, "address": {"city": "London"}},
        {"name": "Hedy", "age": 59},  # no address: the selected path is absent, not null
        {"name": "Linus", "age": 54},  # an address without a city
    ]


def test_run_prints_a_table_by_default() -> None:
    out = ok("run", "--data", SHOP, ADULTS)
    lines = out.splitlines()
    assert lines[0].split() == ["_id", "name", "age", "status", "tags", "address"]
    names = [line.split()[1] for line in lines[2:-1]]
    assert names == ["Grace", "Edsger", "Tim", "Hedy", "Linus"]
    assert '{"city":"Washington","country":"US"}' in out  # nested values as compact JSON
    assert lines[-1] == "(5 rows)"
    assert all(line == line.rstrip() for line in lines)


def test_run_with_params_and_the_three_collections_of_the_example(inproc: InProcess) -> None:
    rows = json.loads(inproc.ok("run", "-d", SHOP, "--json", "-p", 'country="FR"',
                         "from cities where country == :country select name order by name"))
    assert rows == [{"name": "Lyon"}, {"name": "Paris"}]
    rows = json.loads(inproc.ok(
        "run", "-d", SHOP, "--json",
        'from orders where status == "paid" group by country'
        " select country, count() as n order by n desc, country limit 1"))
    assert len(rows) == 1 and set(rows[0]) == {"country", "n"}


def test_run_jsonl_data_and_jsonl_output(tmp_path: Path, inproc: InProcess) -> None:
    data = tmp_path / "people.jsonl"
    data.write_text('{"name": "Ada", "age": 36}\n\n{"name": "Bob"}\n{"name": "Cy", "age": 7}\n')
    out = ok("run", "--data", str(data), "--jsonl", "from people where age > 5 order by age")
    assert [json.loads(line) for line in out.splitlines()] == [
        {"name": "Cy", "age": 7}, {"name": "Ada", "age": 36}]
    out = inproc.ok("run", "--data", str(data), "--collection", "users", "--json",
             "from users where not exists(age)")
    assert json.loads(out) == [{"name": "Bob"}]


def test_run_a_json_list_is_one_collection_named_after_the_file(tmp_path: Path,
                                                                inproc: InProcess) -> None:
    (tmp_path / "cats.json").write_text('[{"name": "Tom", "lives": 9}, {"name": "Kit"}]')
    out = inproc.ok("run", "-d", str(tmp_path / "cats.json"), "from cats where lives == 9")
    assert "Tom" in out and "Kit" not in out and out.endswith("(1 row)\n")


def test_run_an_empty_result(inproc: InProcess) -> None:
    assert inproc.ok("run", "-d", SHOP, "from users where age > 1000") == "(0 rows)\n"
    assert json.loads(inproc.ok("run", "-d", SHOP, "--json", "from users where age > 1000")) == []


# -- check -------------------------------------------------------------------------------------


def test_check_lists_every_backend_with_its_plan_or_refusal() -> None:
    query = 'from users where status != "gone" order by age'
    proc = crossql_cmd("check", query)
    assert proc.returncode == 1, proc.stderr  # dynamodb and firestore refuse
    verdicts = {v.backend: v for v in crossql.check(query)}
    lines = proc.stdout.splitlines()
    assert lines[:4] == [
        f"memory     accepted  {verdicts['memory'].plan.summary()}",  # type: ignore[union-attr]
        f"mongodb    accepted  {verdicts['mongodb'].plan.summary()}",  # type: ignore[union-attr]
        "dynamodb   refused   dynamodb cannot order a Scan by `age`",
        "firestore  refused   firestore cannot evaluate `!=`",
    ]
    # each refusal follows with its whole frame, and a hint for the command line
    assert "\ndynamodb:\ncrossql.CapabilityError: dynamodb cannot order a Scan by `age`\n" \
        in proc.stdout
    assert " 1 | from users where status != \"gone\" order by age\n" in proc.stdout
    assert "   |                  ^^^^^^^^^^^^^^^^ not supported by this backend\n" \
        in proc.stdout
    assert "= on the command line: --firestore-native-not-equal" in proc.stdout


def test_check_exits_0_when_every_backend_accepts(inproc: InProcess) -> None:
    out = inproc.ok("check", 'from users where _id == "u1"')
    assert [line.split()[:2] for line in out.splitlines()] == [
        [name, "accepted"] for name in BACKEND_NAMES]
    assert "Query on table users" in out  # dynamodb reads one item by its key


@pytest.mark.parametrize("flags", [
    ["--firestore-native-not-equal"],
    ["--option", "firestore.native_not_equal=true"],
    ["-o", "firestore.native_not_equal=true", "-o", "firestore.native_or=false"],
])
def test_check_options_change_a_backends_verdict(flags: list[str], inproc: InProcess) -> None:
    query = 'from users where status != "gone"'
    code, out, _ = inproc("check", query)
    assert code == 1 and "firestore  refused" in out
    out = inproc.ok("check", *flags, query)
    assert "firestore  accepted  query (native_not_equal)" in out


def test_check_as_json_is_the_verdicts_data(inproc: InProcess) -> None:
    query = "from users where name matches '^A'"
    code, out, err = inproc("check", "--json", query)
    assert (code, err) == (1, "")
    assert json.loads(out) == [v.to_dict() for v in crossql.check(query)]
    results = {r["backend"]: r for r in json.loads(out)}
    assert results["memory"]["accepted"] is True and results["memory"]["plan"]
    refused = results["dynamodb"]
    assert refused["accepted"] is False
    assert refused["error"]["construct"] == "matches" and refused["error"]["column"] == 18
    assert refused["rendered"].startswith("crossql.CapabilityError: dynamodb cannot")


def test_check_with_a_schema_file(tmp_path: Path, inproc: InProcess) -> None:
    query = "from music where Artist == 'Ada' order by SongTitle desc"
    code, out, _ = inproc("check", query)
    assert code == 1 and "dynamodb   refused" in out
    (tmp_path / "schema.yaml").write_text(
        "dynamodb:\n  music: {partition_key: Artist, sort_key: SongTitle}\n"
        "firestore:\n  music: {required: [SongTitle]}\n")
    out = inproc.ok("check", "--schema", str(tmp_path / "schema.yaml"), query)
    assert "dynamodb   accepted  Query on table music" in out
    assert "firestore  accepted" in out


@pytest.mark.parametrize(("flags", "message"), [
    (["--option", "mongodb.x=1"], "mongodb takes no options"),
    (["--option", "firestore.native_nor=true"], "--option firestore.native_nor: unknown option"),
    (["--option", "firestore.native_or=3"], "--option firestore.native_or: "),
    (["--option", "dynamodb.allow_scan=maybe"], "--option dynamodb.allow_scan: "),
    (["--option", "cassandra.x=1"], "unknown backend 'cassandra'"),
    (["--option", "native_or"], "--option takes BACKEND.KEY=VALUE"),
    (["--schema", "examples/shop.json"], "must map backend names"),
])
def test_check_refuses_bad_options(flags: list[str], message: str, inproc: InProcess) -> None:
    assert message in inproc.fails("check", *flags, "from users")


# -- run, explain and compile on configured backends (no server needed) ----------------------

CONFIG = """\
nosql:
  driver: memory
  backends:
    - name: archive
      driver: memory
    - name: mobile
      driver: firestore
      firestore: {project_id: demo, options: {native_or: true}}
    - name: analytics
      driver: dynamodb
      dynamodb: {pk_field: id, table_prefix: prod_}
"""

PEOPLE = [
    {"_id": "p1", "name": "Ada", "age": 36},
    {"_id": "p2", "name": "Bob"},
    {"_id": "p3", "name": "Cy", "age": 7, "tags": {"x", "y"}, "raw": b"\x00\xff"},
]


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "crossql.yaml"
    path.write_text(CONFIG)
    return path


def prefill(monkeypatch: pytest.MonkeyPatch, data: dict[str, list[dict[str, Any]]],
            store_class: type[Any] | None = None) -> None:
    """Make ``crossql.connect`` hand the command stores that already hold ``data``
    (backend name → documents of the collection ``people``)."""
    real_connect = crossql.connect

    def connect(config: Any, **kwargs: Any) -> Any:
        store = real_connect(config, **kwargs)
        if store_class is not None:
            store = store_class()
        for name, docs in data.items():
            asyncio.run(store.backend(name).collection("people").insert_many(docs))
        return store

    monkeypatch.setattr(crossql, "connect", connect)


def test_run_on_the_primary_and_on_a_named_backend(config_file: Path, inproc: InProcess,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    prefill(monkeypatch, {"default": PEOPLE[:2], "archive": PEOPLE[2:]})
    rows = json.loads(inproc.ok("run", "--config", str(config_file), "--json",
                                "from people select name"))
    assert rows == [{"name": "Ada"}, {"name": "Bob"}]
    rows = json.loads(inproc.ok("run", "--config", str(config_file), "--backend", "archive",
                                "--json", "from people where age > :min select name",
                                "-p", "min=5"))
    assert rows == [{"name": "Cy"}]


def test_run_on_the_backend_marked_primary(config_file: Path, inproc: InProcess,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    config_file.write_text(CONFIG.replace("driver: memory\n    - name: mobile",
                                          "driver: memory\n      primary: true\n"
                                          "    - name: mobile"))
    prefill(monkeypatch, {"default": PEOPLE[:2], "archive": PEOPLE[2:]})
    out = inproc.ok("run", "--config", str(config_file), "--jsonl", "from people select name")
    assert out == '{"name": "Cy"}\n'


def test_run_prints_driver_values_as_json(config_file: Path, inproc: InProcess,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    prefill(monkeypatch, {"default": PEOPLE})
    out = inproc.ok("run", "--config", str(config_file), "--jsonl",
                    "from people where exists(raw) select tags, raw")
    assert json.loads(out) == {"tags": ["x", "y"], "raw": "AP8="}  # a set, base64 bytes
    table = inproc.ok("run", "--config", str(config_file), "from people where exists(raw)")
    assert '["x","y"]' in table and "AP8=" in table and table.endswith("(1 row)\n")


def test_run_takes_the_config_from_crossql_config(config_file: Path, inproc: InProcess,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    prefill(monkeypatch, {"archive": PEOPLE})
    monkeypatch.setenv("CROSSQL_CONFIG", str(config_file))
    out = inproc.ok("run", "-b", "archive", "from people where age < 10 select name")
    assert out.splitlines()[-1] == "(1 row)" and "Cy" in out


def test_jsonl_rows_are_written_as_they_arrive(config_file: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from crossql.backends.memory.store import MemoryStore

    out = io.StringIO()
    seen: list[int] = []

    class Watched(MemoryStore):
        async def run_plan(self, plan: Any) -> Any:
            async for row in super().run_plan(plan):
                seen.append(out.getvalue().count("\n"))  # lines written before this row
                yield row

    prefill(monkeypatch, {"default": PEOPLE}, store_class=Watched)
    monkeypatch.setattr(sys, "stdout", out)
    assert cli.main(["run", "--config", str(config_file), "--jsonl", "from people"]) == 0
    assert seen == [0, 1, 2]
    assert [json.loads(line)["_id"] for line in out.getvalue().splitlines()] == ["p1", "p2", "p3"]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _slow_store() -> type[Any]:
    from crossql.backends.memory.store import MemoryStore

    class Slow(MemoryStore):
        async def run_plan(self, plan: Any) -> Any:
            async for row in super().run_plan(plan):
                await asyncio.sleep(0.01)
                yield row

    return Slow


@pytest.mark.parametrize("fmt", ["--jsonl", "--json", "--table"])
def test_a_long_run_shows_rows_so_far_on_a_terminal_only(
        fmt: str, config_file: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    docs = [{"_id": f"d{i:03}", "n": i} for i in range(60)]
    prefill(monkeypatch, {"default": docs}, store_class=_slow_store())
    monkeypatch.setattr(cli, "PROGRESS_AFTER", 0.05)
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    argv = ["run", "--config", str(config_file), "from people select n"]
    if fmt != "--table":
        argv.insert(1, fmt)
    # stderr a pipe: nothing on it
    assert cli.main(argv) == 0
    piped = capsys.readouterr()
    assert piped.err == ""
    # stderr a terminal: the indicator, and stdout exactly as before
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert cli.main(argv) == 0
    assert capsys.readouterr().out == piped.out
    assert re.search(r"\d+ rows so far \(\d+\.\d s\)", terminal.getvalue())


def test_the_indicator_shows_a_wait_before_the_first_row(
        config_file: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from crossql.backends.memory.store import MemoryStore

    class FirstRowLate(MemoryStore):  # as a Scan that reads long before a row matches
        async def run_plan(self, plan: Any) -> Any:
            await asyncio.sleep(0.4)
            async for row in super().run_plan(plan):
                yield row

    prefill(monkeypatch, {"default": PEOPLE[:1]}, store_class=FirstRowLate)
    monkeypatch.setattr(cli, "PROGRESS_AFTER", 0.05)
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert cli.main(["run", "--config", str(config_file), "--json", "from people"]) == 0
    assert "0 rows so far" in terminal.getvalue()
    assert json.loads(capsys.readouterr().out) == PEOPLE[:1]


def test_explain_and_compile_use_the_configured_blocks(config_file: Path,
                                                      inproc: InProcess) -> None:
    query = "from users where a == 1 or b == 2"
    code, _, err = inproc("explain", "--backend", "firestore", query)
    assert code == 2 and "the default Firestore profile does not emit `or`" in err
    assert "= on the command line: --firestore-native-or" in err
    out = inproc.ok("explain", "--config", str(config_file), "--backend", "mobile", query)
    # the plan in words, then the index it uses (crossql/indexes/check.py)
    assert out == crossql.compile(query, backend="firestore",
                                  options={"native_or": True}).explain() + (
        "\n  index: Firestore's automatic single-field indexes (no composite index needed)\n")
    plan = json.loads(inproc.ok("compile", "--config", str(config_file), "-b", "analytics",
                                "from users where _id == 'x'"))
    assert plan["operation"] == "Query" and plan["request"]["TableName"] == "prod_users"
    assert "id" in plan["request"]["ExpressionAttributeNames"].values()
    # without --backend: the primary (the embedded engine here)
    plan = json.loads(inproc.ok("compile", "--config", str(config_file), "from users"))
    assert plan["backend"] == "memory"


def test_a_refusal_under_a_config_says_which_key_to_set(config_file: Path,
                                                         inproc: InProcess) -> None:
    config_file.write_text(CONFIG.replace("options: {native_or: true}", "options: {}"))
    err = inproc.fails("explain", "--config", str(config_file), "-b", "mobile",
                       "from users where a == 1 or b == 2")
    assert "= in the configuration: `options: {native_or: true}` in the `firestore:` block" \
        in err


def test_explain_and_compile_take_options_and_schemas(tmp_path: Path,
                                                      inproc: InProcess) -> None:
    plan = json.loads(inproc.ok("compile", "-b", "firestore", "--firestore-native-or",
                                "from users where a == 1 or b == 2"))
    assert plan["profile"] == "native_or"
    (tmp_path / "s.json").write_text('{"dynamodb": {"music": {"partition_key": "Artist", '
                                     '"sort_key": "SongTitle"}}}')
    out = inproc.ok("explain", "-b", "dynamodb", "--schema", str(tmp_path / "s.json"),
                    "from music where Artist == 'Ada' order by SongTitle")
    assert "Query" in out
    err = inproc.fails("explain", "-b", "mongodb", "--firestore-native-or", "from users")
    assert "--option for firestore does not apply to --backend mongodb" in err


@pytest.mark.parametrize(("args", "message"), [
    (["run", "from users"], "nothing to run the query on"),
    (["run", "-d", SHOP, "--config", "x.yaml", "from users"], "not both"),
    (["run", "-d", SHOP, "-b", "analytics", "from users"], "--backend applies to --config"),
    (["run", "-d", SHOP, "--timeout", "3", "from users"], "--timeout applies to --config"),
    (["run", "--config", "no/such.yaml", "from users"], "configuration file not found"),
    (["run", "--config", "{cfg}", "-b", "nope", "from users"],
     "no backend named 'nope' in {cfg}; it has default (memory), archive (memory), "
     "mobile (firestore), analytics (dynamodb)"),
    (["run", "--config", "{cfg}", "-c", "people", "from users"], "--collection names"),
    (["explain", "--live", "from users"], "--live asks a configured backend"),
    (["explain", "--config", "{cfg}", "--firestore-native-or", "from users"],
     "options come from the backend's block"),
    (["run", "--config", "{cfg}", "--timeout", "0", "from users"], "positive number"),
])
def test_config_usage_errors_exit_2(args: list[str], message: str, config_file: Path,
                                    inproc: InProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CROSSQL_CONFIG", raising=False)
    args = [a.replace("{cfg}", str(config_file)) for a in args]
    assert message.replace("{cfg}", str(config_file)) in inproc.fails(*args)


def test_a_query_error_is_reported_before_connecting(config_file: Path,
                                                     inproc: InProcess) -> None:
    # the dynamodb endpoint is not even configured: the query's error comes first
    err = inproc.fails("run", "--config", str(config_file), "-b", "analytics",
                       "from users where age > :min")
    assert err.startswith("crossql.QuerySemanticError: parameter `:min` is not bound")


def test_an_invalid_config_lists_every_problem_with_its_path(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(
        "nosql:\n  driver: mongodb\n  mongdb: {}\n  backends:\n"
        "    - {name: a, driver: dynamodb}\n    - {name: a, driver: memory, primary: true}\n"
        "    - {name: b, driver: memory, primary: true}\n")
    err = fails("run", "--config", str(tmp_path / "bad.yaml"), "from x")
    assert err.splitlines() == [
        "crossql: error: invalid configuration (5 problems):",
        "  - mongdb: unknown key",
        "  - mongodb: driver is mongodb but there is no `mongodb:` block",
        "  - backends.0.dynamodb: driver is dynamodb but there is no `dynamodb:` block",
        "  - backends.1.name: duplicate name 'a' (also backends.0)",
        "  - backends: more than one primary backend: backends.1, backends.2",
        "  = hint: docs/configuration.md lists every key",
    ]
    proc = crossql_cmd("--error-format", "json", "run", "--config", str(tmp_path / "bad.yaml"),
                       "from x")
    assert proc.returncode == 2
    problems = json.loads(proc.stderr)["problems"]
    assert {"path": "mongdb", "message": "unknown key"} in problems and len(problems) == 5


UNREACHABLE = """\
nosql:
  driver: mongodb
  mongodb: {uri: "mongodb://127.0.0.1:1", server_selection_timeout_ms: 300}
  backends:
    - name: analytics
      driver: dynamodb
      dynamodb: {endpoint_url: "http://127.0.0.1:1", access_key: k, secret_key: s,
                 max_attempts: 1, connect_timeout: 0.5}
    - name: mobile
      driver: firestore
      firestore: {project_id: demo, emulator_host: "127.0.0.1:1"}
"""


@pytest.mark.parametrize(("args", "message"), [
    ([], "crossql: error: mongodb failed: ServerSelectionTimeoutError: 127.0.0.1:1"),
    (["-b", "analytics"], "crossql: error: dynamodb failed: EndpointConnectionError: "),
    (["-b", "mobile", "--timeout", "1"],
     "crossql: error: firestore failed: no complete answer within 1 s (--timeout)"),
])
def test_an_unreachable_backend_exits_3_without_a_traceback(
        args: list[str], message: str, tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(UNREACHABLE)
    proc = crossql_cmd("run", "--config", str(tmp_path / "c.yaml"), *args, "from users")
    assert proc.returncode == 3, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.startswith(message)
    assert "= hint: the query is valid" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_the_environment_overrides_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(UNREACHABLE)
    env = {**_ENV, "MONGODB_URI": "mongodb://127.0.0.1:2"}
    proc = subprocess.run([sys.executable, "-m", "crossql", "--error-format", "json", "run",
                           "--config", str(tmp_path / "c.yaml"), "from users"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 3
    error = json.loads(proc.stderr)
    assert error["error"] == "BackendError" and error["backend"] == "mongodb"
    assert "127.0.0.1:2" in error["message"] and "127.0.0.1:1" not in error["message"]


@pytest.mark.parametrize(("schema", "message"), [
    ('{"firestore": {"users": "x"}}', "s.json: schema['users'] is a mapping, not str"),
    ('{"dynamodb": {"users": {"partition": "x"}}}',
     "s.json: schema.users.partition_key: Field required; schema.users.partition: unknown key"),
])
def test_a_schema_of_the_wrong_shape_is_a_usage_error(schema: str, message: str,
                                                      tmp_path: Path, inproc: InProcess,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "s.json").write_text(schema)
    monkeypatch.chdir(tmp_path)
    assert inproc.fails("check", "--schema", "s.json", "from users order by a").startswith(
        f"crossql: error: {message}")
    assert message in inproc.fails("compile", "-b", "firestore" if "firestore" in schema
                                   else "dynamodb", "--schema", "s.json",
                                   "from users order by a")


# -- errors ------------------------------------------------------------------------------------


def test_a_syntax_error_shows_its_frame_and_exits_2() -> None:
    err = fails("parse", "from users where age >")
    assert err.startswith("crossql.QuerySyntaxError: ")
    assert "--> query:1:22" in err
    assert " 1 | from users where age >" in err
    assert "^" in err.splitlines()[4]
    assert "= hint: " in err


def test_a_syntax_error_on_a_later_line_of_a_file(tmp_path: Path, inproc: InProcess) -> None:
    (tmp_path / "q.cql").write_text("from users\nwhere age >\n")
    err = inproc.fails("run", "--data", SHOP, "--file", str(tmp_path / "q.cql"))
    assert "--> query:2:" in err


def test_errors_as_json_for_tools(inproc: InProcess) -> None:
    err = json.loads(inproc.fails("--error-format", "json", "compile", "from users where"))
    assert err["error"] == "QuerySyntaxError" and err["line"] == 1 and err["hint"]


def test_an_unbound_parameter_exits_2_and_says_how_to_bind_it() -> None:
    err = fails("run", "--data", SHOP, "from users where age >= :min")
    assert err.startswith("crossql.QuerySemanticError: ")
    assert "`:min` is not bound" in err
    assert "^^^^" in err
    assert "--params min=VALUE" in err


def test_a_missing_data_file_exits_2() -> None:
    err = fails("run", "--data", "no/such/file.json", "from users")
    assert err.startswith("crossql: error: data file not found: no/such/file.json")


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "invalid JSON"),
    ('{"users": 3}', "holds a JSON object; a data file holds a list"),
    ('[{"a": 1}, 2]', "is a JSON number, not a document"),
])
def test_a_bad_data_file_exits_2(tmp_path: Path, content: str, message: str,
                                inproc: InProcess) -> None:
    (tmp_path / "users.json").write_text(content)
    assert message in inproc.fails("run", "--data", str(tmp_path / "users.json"), "from users")


def test_a_collection_missing_from_the_data_exits_2(inproc: InProcess) -> None:
    err = inproc.fails("run", "--data", "examples/events.jsonl", "from users")
    assert "no collection `users`" in err and "--collection users" in err


@pytest.mark.parametrize("args", [
    ["compile", "--params", "min", "from users"],
    ["compile", "-p", "a=1", "-p", "a=2", "from users where x == :a"],
    ["frobnicate"],
    ["fmt"],
    [],
])
def test_bad_usage_exits_2(args: list[str], inproc: InProcess) -> None:
    inproc.fails(*args)


def test_an_unknown_backend_is_a_usage_error_naming_the_known_ones() -> None:
    err = fails("compile", "--backend", "nosuch", "from users")
    assert "unknown backend 'nosuch' (choose from memory, mongodb, dynamodb, firestore)" in err


def test_version_and_help(inproc: InProcess) -> None:
    assert inproc.ok("--version") == f"crossql {crossql.__version__}\n"
    assert "check" in inproc.ok("--help")


# -- the documentation shows real output -------------------------------------------------------


def _console_sessions(doc: Path) -> list[tuple[str, str, int]]:
    """``(command, expected output, exit status)`` of every ``$ crossql ...`` in the ```console
    blocks of ``doc``; a following ``$ echo $?`` gives the exit status (else 0)."""
    sessions: list[tuple[str, list[str], int]] = []
    for block in doc.read_text().split("```console\n")[1:]:
        for line in block.split("\n```")[0].splitlines():
            if line == "$ echo $?":
                sessions[-1] = (sessions[-1][0], sessions[-1][1], -1)
            elif line.startswith("$ "):
                sessions.append((line[2:], [], 0))
            elif sessions[-1][2] == -1:
                sessions[-1] = (sessions[-1][0], sessions[-1][1], int(line))
            else:
                sessions[-1][1].append(line)
    return [(cmd, "\n".join(out) + "\n", code) for cmd, out, code in sessions]


DOC_SESSIONS = [(doc, *session) for doc in (ROOT / "README.md", ROOT / "examples/README.md")
                for session in _console_sessions(doc)]


@pytest.mark.parametrize(("doc", "command", "expected", "status"), DOC_SESSIONS,
                         ids=[f"{d.parent.name}/{d.name}:{i}" for i, (d, *_) in
                              enumerate(DOC_SESSIONS)])
def test_the_documented_commands_print_what_the_docs_show(
        doc: Path, command: str, expected: str, status: int, inproc: InProcess) -> None:
    argv = shlex.split(command)
    assert argv[0] == "crossql"
    code, out, err = inproc(*argv[1:])
    assert (out + err, code) == (expected, status)


def test_the_readme_python_example_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    text = (ROOT / "README.md").read_text()
    example = text.split("```python\n")[1].split("```")[0]
    test = doctest.DocTestParser().get_doctest(example, {}, "README.md", "README.md", 0)
    runner = doctest.DocTestRunner()
    runner.run(test)
    assert runner.summarize(verbose=False) == (0, len(test.examples))


# -- writes ------------------------------------------------------------------------------


def _shop_users() -> list[dict[str, Any]]:
    data = json.loads((ROOT / SHOP).read_text())
    users: list[dict[str, Any]] = data["users"]
    return users


@pytest.mark.parametrize("text, params", [
    ('update users set status = "gone" where age < 25', {}),
    ("update users set age = age + :n where age >= 18 limit 3", {"n": 1}),
    ("update users set unset status where true", {}),
    ("delete from users where age < :min", {"min": 30}),
    ("delete from users where tags contains 'vip' limit 2", {}),
])
def test_run_a_write_on_data_prints_its_counts_and_changes_no_file(
        inproc: InProcess, text: str, params: dict[str, Any]) -> None:
    before = (ROOT / SHOP).read_bytes()
    args = [a for k, v in params.items() for a in ("-p", f"{k}={json.dumps(v)}")]
    code, out, err = inproc("run", "--json", "--data", SHOP, *args, text)
    assert code == 0, err
    assert "dry run" in err
    store = crossql.connect({"driver": "memory"})

    async def want() -> crossql.runtime.writes.WriteResult:
        async with store:
            await store.collection("users").insert_many(_shop_users())
            return await store.execute(text, **params)

    result = asyncio.run(want())
    assert json.loads(out) == [{"matched": result.matched, "modified": result.modified,
                                "deleted": result.deleted}]
    assert result.matched > 0  # the cases do write something
    assert (ROOT / SHOP).read_bytes() == before


def test_a_bare_write_and_a_missing_collection_are_user_errors(inproc: InProcess) -> None:
    err = inproc.fails("run", "--data", SHOP, "delete from users")
    assert "`delete` needs a `where` clause" in err and "where true" in err
    err = inproc.fails("run", "--data", SHOP, "update userz set a = 1 where true")
    assert "no collection `userz`" in err


def test_the_note_reads_the_refusals_fields_not_its_text() -> None:
    from crossql.cli import _note

    def refusal(code: str, hint: str | None) -> crossql.CapabilityError:
        return crossql.CapabilityError("refused", backend="firestore", construct="or", code=code,
                                       span=(0, 4), source="a or b", hint=hint)

    lifted = refusal("capability.firestore.or", hint=None)
    assert _note(lifted) == "   = on the command line: --firestore-native-or"
    assert _note(lifted, configured=True) == \
        "   = in the configuration: `options: {native_or: true}` in the `firestore:` block"
    both = refusal("capability.firestore.exists", hint=None)
    assert _note(both) == \
        "   = on the command line: --firestore-native-not-equal --firestore-native-or"
    # a limit no option lifts, whatever its hint says
    assert _note(refusal("capability.firestore.disjunctions", "native_or=True")) is None
    unbound = crossql.QuerySemanticError("parameter", code="semantic.unbound-parameter",
                                         span=(5, 10), source="a == :name")
    assert _note(unbound) == "   = on the command line: --params name=VALUE"


def test_a_schema_file_may_declare_collections_for_every_backend(tmp_path: Path,
                                                                 inproc: InProcess) -> None:
    query = "from orders order by created_at desc"
    assert "firestore  refused" in inproc("check", query)[1]
    (tmp_path / "s.yaml").write_text(
        "orders:\n  fields: {created_at: timestamp, total: float}\n"
        "  required: [created_at]\n")
    out = inproc("check", "--schema", str(tmp_path / "s.yaml"), query)[1]
    assert "firestore  accepted" in out
    plan = json.loads(inproc.ok("compile", "-b", "firestore", "--schema",
                                str(tmp_path / "s.yaml"), query))
    assert plan["query"][0] == {"order_by": "created_at", "direction": "DESCENDING"}
    (tmp_path / "bad.yaml").write_text("orders:\n  fields: {total: flot}\n")
    err = inproc.fails("check", "--schema", str(tmp_path / "bad.yaml"), query)
    assert "must map backend names" in err and "schema.orders.fields.total" in err
    assert "did you mean 'float'" in err
