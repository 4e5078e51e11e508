"""``crossql run``, ``explain`` and ``check`` end to end on the real servers.

The configuration is the users' YAML from the issue, unchanged: it names
``localhost:27017``, ``localhost:8000`` and ``my-gcp-project``, and the
environment the test harness exports (``MONGODB_URI``, ``DYNAMODB_ENDPOINT``,
``FIRESTORE_EMULATOR_HOST``, ``FIRESTORE_PROJECT``, dummy ``AWS_*``) points it at
the test servers — the overrides users rely on in their own deployments. A
database, an emulator project and table names of this session's own keep the
run apart from other tests. Documents go in through the Python API; the
command runs in a subprocess, as a user runs it.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import crossql
from tests.backends.conftest import reset_firestore, same_rows

ROOT = Path(__file__).resolve().parents[2]

ISSUE_YAML = (ROOT / "examples" / "crossql.yaml").read_text()

SUFFIX = uuid.uuid4().hex[:8]
USERS = f"users_{SUFFIX}"
EVENTS = f"events_{SUFFIX}"
CLICKS = f"clicks_{SUFFIX}"

PEOPLE = [
    {"_id": "u1", "name": "Ada", "age": 36, "status": "active", "tags": ["vip"]},
    {"_id": "u2", "name": "Bob", "age": 17, "status": "inactive", "tags": []},
    {"_id": "u3", "name": "Cy", "age": None, "status": "active"},
    {"_id": "u4", "name": "Dee", "tags": ["new", "vip"]},
    {"_id": "u5", "name": "Eve", "age": 70, "status": "active"},
]
EVENT_DOCS = [
    {"_id": "e1", "kind": "click", "ms": 12},
    {"_id": "e2", "kind": "view", "ms": 40},
    {"_id": "e3", "kind": "click", "ms": 7},
]
CLICK_DOCS = [
    {"_id": "c1", "page": "home", "at": "2024-05-01T10:00"},
    {"_id": "c2", "page": "home", "at": "2024-05-03T09:30"},
    {"_id": "c3", "page": "cart", "at": "2024-05-02T12:00"},
    {"_id": "c4", "page": "home", "at": "2024-05-02T08:15"},
]

BACKEND_OF = {"default": "mongodb", "analytics": "dynamodb", "mobile": "firestore"}
"""The named backends of the YAML, and their drivers."""


@pytest.fixture(scope="module")
def environment(mongodb_uri: str, dynamodb_endpoint: str, firestore_host: str) -> dict[str, str]:
    """The harness's environment, with a database and an emulator project of our own."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "CROSSQL_DEBUG",
                        "CROSSQL_CONFIG")}
    assert env["MONGODB_URI"] == mongodb_uri
    assert env["DYNAMODB_ENDPOINT"] == dynamodb_endpoint
    assert env["FIRESTORE_EMULATOR_HOST"] == firestore_host
    env["MONGODB_DATABASE"] = f"crossql_cli_{SUFFIX}"
    env["FIRESTORE_PROJECT"] = f"crossql-cli-{SUFFIX}"
    return env


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory, runner: asyncio.Runner,
           environment: dict[str, str]) -> Iterator[Path]:
    """The issue's YAML in a file, with sample documents inserted into each backend
    through the Python API (``crossql.connect(path)`` under the same environment)."""
    path = tmp_path_factory.mktemp("cli") / "crossql.yaml"
    path.write_text(ISSUE_YAML)
    with pytest.MonkeyPatch.context() as patch:
        for name, value in environment.items():
            patch.setenv(name, value)
        store = crossql.connect(path)
    runner.run(store.__aenter__())
    try:
        analytics, mobile = store["analytics"], store["mobile"]
        for each in (store, analytics, mobile):
            runner.run(each.collection(USERS).insert_many(PEOPLE))
        runner.run(analytics.collection(EVENTS).insert_many(EVENT_DOCS))
        runner.run(analytics.create_collection(CLICKS, partition_key="page", sort_key="at"))
        runner.run(analytics.collection(CLICKS).insert_many(CLICK_DOCS))
        yield path
    finally:
        runner.run(store.database.client.drop_database(environment["MONGODB_DATABASE"]))
        for table in (USERS, EVENTS, CLICKS):
            runner.run(store["analytics"].drop_collection(table))
        reset_firestore(environment["FIRESTORE_EMULATOR_HOST"], environment["FIRESTORE_PROJECT"])
        runner.run(store.__aexit__(None, None, None))


def crossql_cmd(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "crossql", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def rows(env: dict[str, str], config: Path, *args: str) -> list[dict[str, Any]]:
    proc = crossql_cmd(env, "run", "--config", str(config), "--json", *args)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    result = json.loads(proc.stdout)
    assert isinstance(result, list)
    return result


# -- the issue's YAML drives `crossql run` against each named backend ---------------------------


def test_the_primary_is_the_top_level_mongodb(environment: dict[str, str],
                                              config: Path) -> None:
    got = rows(environment, config,
               f"from {USERS} where age >= :min select name, age order by age desc",
               "-p", "min=18")
    assert got == [{"name": "Eve", "age": 70}, {"name": "Ada", "age": 36}]
    assert rows(environment, config, "--backend", "default",
                f"from {USERS} where _id == 'u2' select name") == [{"name": "Bob"}]


def test_run_on_analytics_reads_dynamodb(environment: dict[str, str], config: Path) -> None:
    got = rows(environment, config, "--backend", "analytics",
               f'from {EVENTS} where kind == "click" select _id, ms')
    assert sorted(got, key=lambda r: r["_id"]) == [{"_id": "e1", "ms": 12},
                                                   {"_id": "e3", "ms": 7}]
    assert rows(environment, config, "-b", "analytics",
                f"from {EVENTS} where ms > :slow select count() as n", "-p", "slow=10") == [
        {"n": 2}]


def test_run_on_analytics_uses_the_tables_keys(environment: dict[str, str],
                                               config: Path) -> None:
    # the table's sort key is found by DescribeTable: a Query in `at` order
    got = rows(environment, config, "-b", "analytics",
               f'from {CLICKS} where page == "home" select _id order by at desc')
    assert got == [{"_id": "c2"}, {"_id": "c4"}, {"_id": "c1"}]


def test_run_on_mobile_reads_firestore(environment: dict[str, str], config: Path) -> None:
    got = rows(environment, config, "--backend", "mobile",
               f'from {USERS} where status == "active" and age > 20 select name order by age')
    assert got == [{"name": "Ada"}, {"name": "Eve"}]


def test_jsonl_and_table_output_from_a_server(environment: dict[str, str],
                                              config: Path) -> None:
    query = f"from {USERS} where tags contains 'vip' select _id, name order by _id"
    proc = crossql_cmd(environment, "run", "--config", str(config), "-b", "mobile", "--jsonl",
                       query)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == '{"_id": "u1", "name": "Ada"}\n{"_id": "u4", "name": "Dee"}\n'
    proc = crossql_cmd(environment, "run", "--config", str(config), query)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["_id", "name"]
    assert [line.split() for line in lines[2:]] == [["u1", "Ada"], ["u4", "Dee"], ["(2", "rows)"]]


def test_explain_live_asks_dynamodb_for_the_keys(environment: dict[str, str],
                                                 config: Path) -> None:
    query = f'from {CLICKS} where page == "home" order by at desc'
    # offline, the store knows only pk_field: no key on `page`, and a Scan has no order
    proc = crossql_cmd(environment, "explain", "--config", str(config), "-b", "analytics",
                       query)
    assert proc.returncode == 2
    assert "dynamodb cannot order a Scan by `at`" in proc.stderr
    proc = crossql_cmd(environment, "explain", "--config", str(config), "-b", "analytics",
                       "--live", query)
    assert proc.returncode == 0, proc.stderr
    assert "Query" in proc.stdout and CLICKS in proc.stdout


def test_a_missing_table_is_a_backend_error(environment: dict[str, str],
                                            config: Path) -> None:
    proc = crossql_cmd(environment, "run", "--config", str(config), "-b", "analytics",
                       f"from nosuch_{SUFFIX}")
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr.startswith("crossql: error: dynamodb failed: ResourceNotFoundException")
    assert "Traceback" not in proc.stderr and proc.stdout == ""


# -- check: what it predicts is what each backend does -----------------------------------------

TREATED_DIFFERENTLY = [
    # firestore's default profile refuses `!=`; the others guard it
    'from {users} where status != "inactive" select _id',
    # a DynamoDB Scan has no order; Firestore orders by an inequality field it filters on
    "from {users} where age >= 18 select _id order by age desc",
    # no regular expressions in DynamoDB or Firestore
    'from {users} where name matches "^[A-C]" select _id',
    # Firestore cannot match a missing field
    "from {users} where not exists(age) select _id",
    # everyone, and DynamoDB reads one item by its key
    'from {users} where _id == "u2" select _id, name',
]


@pytest.mark.parametrize("text", TREATED_DIFFERENTLY)
def test_check_predicts_what_run_does_on_each_backend(text: str, environment: dict[str, str],
                                                      config: Path) -> None:
    query = text.format(users=USERS)
    proc = crossql_cmd(environment, "check", "--json", query)
    verdicts = {v["backend"]: v for v in json.loads(proc.stdout)}
    assert proc.returncode == (0 if all(v["accepted"] for v in verdicts.values()) else 1)
    expected = crossql.evaluate(query, PEOPLE)
    ordered = "order by" in query
    for name, driver in BACKEND_OF.items():
        run = crossql_cmd(environment, "run", "--config", str(config), "-b", name, "--json",
                          query)
        if verdicts[driver]["accepted"]:
            assert run.returncode == 0, (driver, run.stderr)
            assert same_rows(json.loads(run.stdout), expected, ordered=ordered), driver
        else:
            assert run.returncode == 2, (driver, run.stdout, run.stderr)
            message = verdicts[driver]["error"]["message"]
            assert run.stderr.startswith(f"crossql.CapabilityError: {message}\n"), driver


def test_the_queries_do_split_the_backends() -> None:
    patterns = {tuple(v.accepted for v in crossql.check(text.format(users="users")))
                for text in TREATED_DIFFERENTLY}
    assert len(patterns) >= 4  # four different patterns of accepted and refused


# -- run executes writes on each named backend -------------------------------------------------


@pytest.mark.parametrize("name", list(BACKEND_OF))
def test_run_executes_a_write_on_each_backend(name: str, environment: dict[str, str],
                                              config: Path, runner: asyncio.Runner) -> None:
    table = f"writes_{name}_{SUFFIX}"
    with pytest.MonkeyPatch.context() as patch:
        for key, value in environment.items():
            patch.setenv(key, value)
        store = crossql.connect(config)[name]
    runner.run(store.open())
    try:
        runner.run(store.collection(table).insert_many(PEOPLE))
        proc = crossql_cmd(environment, "run", "--config", str(config), "-b", name, "--json",
                           f'update {table} set status = "old" where age >= :min', "-p",
                           "min=30")
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout) == [{"matched": 2, "modified": 2, "deleted": 0}]
        proc = crossql_cmd(environment, "run", "--config", str(config), "-b", name, "--json",
                           f'delete from {table} where status == "old"')
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout) == [{"matched": 2, "modified": 0, "deleted": 2}]
        left = runner.run(store.fetch(f"from {table}"))
        assert sorted(row["_id"] for row in left) == ["u2", "u3", "u4"]
    finally:
        runner.run(store.drop_collection(table))
        runner.run(store.close())
