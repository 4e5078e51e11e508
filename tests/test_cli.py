"""The ``crossql`` command, run as a user runs it: ``python -m crossql ...`` in a subprocess."""

from __future__ import annotations

import doctest
import io
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import crossql
from crossql import cli
from crossql.backends import BACKEND_NAMES

ROOT = Path(__file__).resolve().parents[1]
SHOP = "examples/shop.json"
ADULTS = "from users where age >= 18 order by age desc limit 5"

# rich would colour output when told to; these tests read what a pipe gets
_ENV = {k: v for k, v in os.environ.items()
        if k not in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "CROSSQL_DEBUG")}


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
        for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "CROSSQL_DEBUG"):
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


def test_check_lists_every_backend(inproc: InProcess) -> None:
    proc = crossql_cmd("check", "from users where age >= 18 order by age desc limit 5")
    assert proc.returncode in (0, 1), proc.stderr
    lines = proc.stdout.splitlines()
    assert [line.split()[0] for line in lines[:len(BACKEND_NAMES)]] == list(BACKEND_NAMES)
    assert lines[0].split()[:3] == ["memory", "accepted", "MemoryPlan"]
    assert (proc.returncode == 1) == ("refused" in proc.stdout)
    results = json.loads(inproc("check", "--json", "from users")[1])
    assert [r["backend"] for r in results] == list(BACKEND_NAMES)
    assert results[0] == {"backend": "memory", "accepted": True, "kind": "MemoryPlan"}


def test_check_shows_a_refusal_with_its_frame(monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    real_compile = crossql.compile

    def fake_compile(query: Any, backend: str = "memory", **kwargs: Any) -> Any:
        if backend == "picky":
            raise crossql.CapabilityError(
                "picky cannot evaluate `!=`", backend="picky", construct="!=",
                code="capability.picky", span=(18, 34), source=query.source,
                hint="use `not in` instead")
        return real_compile(query, backend=backend, **kwargs)

    monkeypatch.setattr(cli, "BACKEND_NAMES", ("memory", "picky"))
    monkeypatch.setattr(crossql, "compile", fake_compile)
    assert cli.main(["check", "from cities where capital != false"]) == 1
    out = capsys.readouterr().out
    assert out.splitlines()[:2] == [
        "memory  accepted  MemoryPlan",
        "picky   refused   picky cannot evaluate `!=`",
    ]
    assert "--> query:1:19" in out
    assert " |                   ^^^^^^^^^^^^^^^^ not supported by this backend" in out
    assert "= hint: use `not in` instead" in out


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
    assert "invalid choice: 'nosuch'" in err and "memory" in err


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
