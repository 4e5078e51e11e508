"""The pytest plugin (crossql.pytest_plugin) run by pytester, as a user's suite runs it:
plan snapshots that pass and then fail with a diff, the portability helper's located
failure, the seeded embedded store; and the example application's own suite, copied
and then broken the ways issue 21 names."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import crossql
import crossql.testing
import crossql.testing.snapshot
from crossql.testing import memory_store

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "examples" / "app"
PLUGIN = ("-p", "crossql.pytest_plugin")

QUERIES = """\
-- name: adults
-- Users of age.
-- example: {"min": 18}
from users where age >= :min select name

-- name: by_id
-- example: {"id": "u1"}
from users where _id == :id
"""


def _warm_up() -> None:
    """Import now what the runs below import lazily: pytester's in-process runs drop the
    modules first imported inside them, and a second import would make second classes."""
    crossql.check("from users where age > 1")
    crossql.check("update users set age = 1 where _id == 'u'")
    store = memory_store(data={"users": [{"_id": "u", "age": 2}]})
    asyncio.run(store.fetch("from users where age > 1"))
    asyncio.run(store.execute("update users set age = 1 where _id == 'u'"))


_warm_up()


@pytest.fixture(autouse=True)
def _without_the_example(monkeypatch: pytest.MonkeyPatch) -> None:
    """The runs below import their own ``conftest``, ``shop`` and ``test_plans``: the
    example application's modules, if this session ran its tests, go out of the way."""
    for name, module in list(sys.modules.items()):
        if str(getattr(module, "__file__", None) or "").startswith(str(APP)):
            monkeypatch.delitem(sys.modules, name)


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_inprocess(*PLUGIN, "-p", "no:cacheprovider", *args)


def test_a_plan_snapshot_passes_then_fails_with_a_diff(pytester: pytest.Pytester) -> None:
    pytester.makefile(".crossql", queries=QUERIES)
    pytester.makepyfile(test_plans="""
        import pytest

        @pytest.mark.crossql_plans("queries.crossql", backends=["mongodb", "dynamodb"])
        def test_plan(crossql_plan, plan_snapshot):
            assert crossql_plan == plan_snapshot
    """)
    _run(pytester, "--snapshot-update").assert_outcomes(passed=4)
    result = _run(pytester, "-v")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["*test_plan?adults-mongodb? PASSED*",
                                 "*test_plan?adults-dynamodb? PASSED*",
                                 "*test_plan?by_id-mongodb? PASSED*"])
    snapshots = pytester.path / "__snapshots__" / "test_plans.ambr"
    text = snapshots.read_text()
    # sorted JSON of to_dict(), then to_python()
    assert '"filter": {\n' in text and "# to_python()" in text
    # a compiler whose output changed: simulated by the snapshot it no longer matches
    snapshots.write_text(text.replace('"$gte": 18', '"$gt": 18', 1))
    result = _run(pytester)
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(['*-*"$gt": 18,*', '*+*"$gte": 18,*',
                                 "*FAILED test_plans.py::test_plan?adults-mongodb?*"])


def test_a_refused_query_fails_its_plan_test_with_the_frame(
        pytester: pytest.Pytester) -> None:
    pytester.makefile(".crossql", queries=QUERIES.replace("select name",
                                                          "select name order by age"))
    pytester.makepyfile(test_plans="""
        import pytest

        @pytest.mark.crossql_plans("queries.crossql", backends=["dynamodb"])
        def test_plan(crossql_plan):
            assert crossql_plan.backend == "dynamodb"
    """)
    result = _run(pytester)
    result.assert_outcomes(passed=1, errors=1)  # the plan the test is given cannot be made
    result.stdout.fnmatch_lines(["*adults-dynamodb:*",
                                 "*CapabilityError: dynamodb cannot order a Scan by `age`*",
                                 "*--> */queries.crossql:4:*(query `adults`)*"])


def test_assert_portable_fails_with_the_located_refusal(pytester: pytest.Pytester) -> None:
    pytester.makefile(".crossql", queries=QUERIES)
    pytester.makepyfile(test_portable="""
        from pathlib import Path

        import crossql
        from crossql.testing import assert_portable

        QUERIES = crossql.load_queries(Path(__file__).with_name("queries.crossql"))

        def test_file_query():
            plans = assert_portable(QUERIES.adults, ["mongodb", "dynamodb", "firestore"])
            assert sorted(plans) == ["dynamodb", "firestore", "mongodb"]

        def test_text():
            assert_portable("from users where age > 1 group by status select status",
                            ["mongodb", "firestore"])
    """)
    result = _run(pytester)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "*the query is not portable to firestore:*",
        "*crossql.CapabilityError: firestore cannot evaluate `group by`*",
        "*--> query:1:*"])
    assert "Traceback" not in result.stdout.str()  # the frame is the message


def test_the_store_fixture_is_seeded_from_json_yaml_and_jsonl(
        pytester: pytest.Pytester) -> None:
    pytester.makefile(".json", shop='{"users": [{"_id": "u1", "age": 36}]}')
    pytester.makefile(".yaml", more="orders:\n  - {_id: o1, total: 10}\n  - {_id: o2}\n")
    pytester.makefile(".jsonl", events='{"_id": "e1"}\n\n{"_id": "e2"}\n')
    pytester.makeini("[pytest]\ncrossql_data = shop.json\n")
    pytester.makepyfile(test_store="""
        import asyncio

        import pytest

        @pytest.mark.crossql_data("more.yaml", "events.jsonl")
        def test_marked(crossql_store):
            count = lambda q: asyncio.run(crossql_store.count(q))
            assert count("from orders") == 2 and count("from events") == 2
            assert count("from users") == 0  # the marker's files only

        def test_from_the_ini(crossql_store):
            rows = asyncio.run(crossql_store.fetch("from users where age > 30"))
            assert rows == [{"_id": "u1", "age": 36}]

        def test_each_test_gets_a_fresh_store(crossql_store):
            asyncio.run(crossql_store.execute("delete from users where age > 0"))
            assert asyncio.run(crossql_store.count("from users")) == 0

        def test_after(crossql_store):
            assert asyncio.run(crossql_store.count("from users")) == 1

        @pytest.mark.crossql_data("missing.json")
        def test_missing(crossql_store):
            pass
    """)
    result = _run(pytester)
    result.assert_outcomes(passed=4, errors=1)
    result.stdout.fnmatch_lines(["*crossql_store: *missing.json*"])


def test_the_decorator_and_plan_cases_do_what_the_marker_does(
        pytester: pytest.Pytester) -> None:
    pytester.makefile(".crossql", queries=QUERIES)
    pytester.makepyfile(test_cases="""
        import pytest

        import crossql
        from crossql.testing import crossql_plans, plan_cases, plan_text

        @crossql_plans("queries.crossql", backends=["firestore"])
        def test_decorated(crossql_plan):
            assert crossql_plan.backend == "firestore"

        def test_cases():
            cases = plan_cases("queries.crossql", ["mongodb", "memory"])
            assert [c.id for c in cases] == ["adults-mongodb", "adults-memory",
                                             "by_id-mongodb", "by_id-memory"]
            text = plan_text(cases[0].plan())
            assert text.startswith("{") and "# to_python()" in text
            assert plan_text(cases[0].plan()) == text  # deterministic
            with pytest.raises(ValueError, match="unknown backend 'oracle'"):
                plan_cases("queries.crossql", ["oracle"])
    """)
    result = _run(pytester, "-v")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*test_decorated?adults-firestore? PASSED*"])


def test_the_plan_fixture_without_its_marker_says_how(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x="def test_plan(crossql_plan):\n    pass\n")
    result = _run(pytester)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*@pytest.mark.crossql_plans(path, backends=...)*"])


def test_loading_the_plugin_imports_nothing_heavy() -> None:
    code = ("import sys, crossql.pytest_plugin\n"
            "print(sorted(m for m in ('syrupy', 'crossql.testing', 'crossql.queries', "
            "'pydantic', 'lark', 'rich', 'yaml') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, check=True)
    assert done.stdout.strip() == "[]"


def _example(pytester: pytest.Pytester) -> Path:
    app = pytester.path / "app"
    shutil.copytree(APP, app, ignore=shutil.ignore_patterns("__pycache__"))
    return app


def test_the_example_application_fails_the_ways_issue_21_says(
        pytester: pytest.Pytester) -> None:
    app = _example(pytester)
    _run(pytester, str(app / "tests")).assert_outcomes(passed=29)
    # changing a query so that DynamoDB refuses it: the portability test fails, located
    queries = app / "queries.crossql"
    original = queries.read_text()
    queries.write_text(original.replace(
        'where age >= :min and status == "active" select name, age',
        'where age >= :min and status == "active" select name, age order by age'))
    result = _run(pytester, str(app / "tests" / "test_plans.py"), "-k", "portable")
    result.assert_outcomes(passed=5, failed=1)
    result.stdout.fnmatch_lines([
        "*query `active_adults` is not portable to dynamodb:*",
        "*crossql.CapabilityError: dynamodb cannot order a Scan by `age`*",
        "*--> */app/queries.crossql:13:*(query `active_adults`)*",
        "*13 | from users where age >= :min and status == \"active\" select name, age "
        "order by age*"])
    queries.write_text(original)
    # changing a compiler's output (simulated in the snapshot): the plan test shows a diff
    snapshots = app / "tests" / "__snapshots__" / "test_plans.ambr"
    text = snapshots.read_text()
    changed = text.replace('"#n0 = :v0 AND #n1 = :v1"', '"#n1 = :v1 AND #n0 = :v0"', 1)
    assert changed != text
    snapshots.write_text(changed)
    result = _run(pytester, str(app / "tests" / "test_plans.py"), "-k", "plan")
    result.assert_outcomes(passed=23, failed=1)
    result.stdout.fnmatch_lines(['*- *"FilterExpression": "#n1 = :v1 AND #n0 = :v0",*',
                                 '*+ *"FilterExpression": "#n0 = :v0 AND #n1 = :v1",*',
                                 "*FAILED app/tests/test_plans.py::test_plan?orders_of_user-"
                                 "dynamodb?*"])


def test_a_changed_compiler_fails_the_example_with_a_diff(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    from crossql.backends.mongodb.plan import MongoPlan

    app = _example(pytester)
    compiled = MongoPlan.to_dict

    def changed(plan: MongoPlan) -> dict[str, object]:
        data = compiled(plan)
        data["arguments"] = {**data["arguments"], "allowDiskUse": True}
        return data

    monkeypatch.setattr(MongoPlan, "to_dict", changed)  # a MongoDB compiler, changed
    result = _run(pytester, str(app / "tests" / "test_plans.py"))
    # every MongoDB read plan fails (the write, ship_order, is another class), none other
    result.assert_outcomes(passed=6 + 12 + 1, failed=5)
    result.stdout.fnmatch_lines(['*"arguments": {*', '*+ *"allowDiskUse": true,*',
                                 "*FAILED app/tests/test_plans.py::test_plan?user_by_id-mongodb?*"])


def test_the_example_snapshots_are_committed() -> None:
    text = (APP / "tests" / "__snapshots__" / "test_plans.ambr").read_text()
    names = [line for line in text.splitlines() if line.startswith("# name:")]
    assert len(names) == 6 * 3  # six queries by three backends
    assert textwrap.dedent("""\
        # name: test_plan[ship_order-dynamodb]""") in text
