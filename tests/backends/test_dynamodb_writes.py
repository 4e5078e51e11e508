"""DynamoDB writes (DynamoDB Local) against the reference semantics of writes."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from crossql import ir
from crossql.errors import CapabilityError
from crossql.grammar import parse_statement
from crossql.semantics.writes import WriteResult
from tests.backends.conftest import load
from tests.backends.write_differential import DOCS, compare_write, run_on_docs, typed_writes
from tests.budget import examples, skip_unless_ran
from tests.strategies import MAX_DOCS, Field, Schema, documents

pytestmark = pytest.mark.integration

SEEN: Counter[str] = Counter()


@settings(max_examples=examples(80, at_least=40), deadline=None,
          phases=(Phase.explicit, Phase.reuse, Phase.generate),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_dynamodb_writes_match_reference(runner: asyncio.Runner, dynamo_store: Any,
                                         data: st.DataObject) -> None:
    docs = data.draw(documents(MAX_DOCS, min_size=5), label="docs")
    statement = data.draw(typed_writes(), label="statement")
    # DynamoDB numbers are decimals: setting 1.0 over 1 changes nothing there
    got = compare_write(runner, dynamo_store, docs, statement, modified=False)
    SEEN["refused" if got is None else "compared"] += 1


def test_generated_writes_were_compared() -> None:
    """Runs after the differential test: generated writes ran on the server."""
    skip_unless_ran(SEEN["compared"] + SEEN["refused"] > 0,
                    "test_dynamodb_writes_match_reference")
    assert SEEN["compared"] > 0


def test_increment_writes_numbers_only(runner: asyncio.Runner, dynamo_store: Any) -> None:
    assert run_on_docs(runner, dynamo_store, "update docs set n = n + 1 where true") == \
        WriteResult(matched=2, modified=2)
    rows = runner.run(dynamo_store.fetch("from docs select _id, n"))
    assert sorted(rows, key=lambda r: r["_id"]) == [
        {"_id": "a", "n": 2}, {"_id": "b", "n": "1"}, {"_id": "c"}, {"_id": "d", "n": None},
        {"_id": "e", "n": 3.5}]


def test_limit_and_delete(runner: asyncio.Runner, dynamo_store: Any) -> None:
    assert run_on_docs(runner, dynamo_store, "delete from docs where exists(n) limit 2") == \
        WriteResult(matched=2, deleted=2)
    assert runner.run(dynamo_store.count("from docs")) == 3
    assert run_on_docs(runner, dynamo_store, 'delete from docs where _id == "c"') == \
        WriteResult(matched=1, deleted=1)
    assert runner.run(dynamo_store.collection("docs").get("c")) is None


def test_nested_increments_are_refused(dynamo_store: Any) -> None:
    with pytest.raises(CapabilityError, match=r"increment `m\.k` below a map"):
        dynamo_store.write_plan("update docs set m.k = m.k + 1 where true")


NESTED_DOCS: list[dict[str, Any]] = [
    {"_id": "map", "m": {"k": 1, "p": {"v": 0}}}, {"_id": "empty", "m": {}},
    {"_id": "missing", "n": 1}, {"_id": "null", "m": None}, {"_id": "str", "m": "x"},
    {"_id": "deep", "m": {"p": "no map"}},
]


@pytest.mark.parametrize("text", [
    "update docs set m.k = 2 where true",
    "update docs set m.p.v = [1, 2] where true",
    "update docs set m.k = 5, m.p.w = null, n = 3 where true",
    "update docs set m.q.r = \"s\", unset m.k where true",
    "update docs set unset m.p.v where true",
    "update docs set unset m.k where _id != \"map\"",
])
def test_nested_assignments_are_written_as_the_reference(
        runner: asyncio.Runner, dynamo_store: Any, text: str) -> None:
    """Below a map, below a missing map (created, one SET for siblings), below
    something else (skipped), an unset with nothing to remove (matched, unchanged)."""
    got = compare_write(runner, dynamo_store, NESTED_DOCS, parse_statement(text),
                        modified=False)
    assert got is not None and got.matched > 0


def test_a_nested_write_skips_an_item_whose_map_changed_after_the_read(
        runner: asyncio.Runner, dynamo_store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    load(runner, dynamo_store, "docs", NESTED_DOCS)
    pages = dynamo_store._pages

    async def read_then_change(method: str, request: Any, limit: int | None = None) -> Any:
        async for page in pages(method, request, limit):
            yield page
        # `m` was missing when read: it is a map now, and the planned `SET m = {k: 2}`
        # would replace it
        await dynamo_store.client.update_item(
            TableName=dynamo_store.table_name("docs"),
            Key={dynamo_store.options.pk_field: {"S": "missing"}},
            UpdateExpression="SET m = :m", ExpressionAttributeValues={":m": {"M": {}}})

    monkeypatch.setattr(dynamo_store, "_pages", read_then_change)
    result = runner.run(dynamo_store.execute('update docs set m.k = 2 where _id == "missing"'))
    monkeypatch.undo()
    assert result == WriteResult()
    assert runner.run(dynamo_store.collection("docs").get("missing")) == \
        {"_id": "missing", "n": 1, "m": {}}


NESTED = Schema((
    Field("m", "map", fields=(
        Field("k", "string", ("a", "b")),
        Field("p", "map", fields=(Field("v", "int", (0, 1)),)),
    )),
    Field("n", "int", (0, 1)),
))


def _below_a_map(statement: ir.Update | ir.Delete) -> bool:
    return isinstance(statement, ir.Update) and any(
        len(a.path.segments) > 1 and not isinstance(a, ir.Increment)
        for a in statement.assignments)


@settings(max_examples=examples(60, at_least=30), deadline=None,
          phases=(Phase.explicit, Phase.reuse, Phase.generate),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.filter_too_much])
@given(data=st.data())
def test_generated_nested_writes_match_reference(runner: asyncio.Runner, dynamo_store: Any,
                                                 data: st.DataObject) -> None:
    docs = data.draw(documents(MAX_DOCS, schema=NESTED, min_size=5), label="docs")
    statement = data.draw(typed_writes(NESTED).filter(_below_a_map), label="statement")
    got = compare_write(runner, dynamo_store, docs, statement, modified=False)
    SEEN["nested refused" if got is None else "nested compared"] += 1


def test_generated_nested_writes_were_compared() -> None:
    """Every draw writes below a map (filtered), so only a refusal of all could miss."""
    skip_unless_ran(SEEN["nested compared"] + SEEN["nested refused"] > 0,
                    "test_generated_nested_writes_match_reference")
    assert SEEN["nested compared"] > 0


def test_an_item_changed_after_the_read_is_skipped_not_overwritten(
        runner: asyncio.Runner, dynamo_store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    load(runner, dynamo_store, "docs", DOCS)
    pages = dynamo_store._pages

    async def read_then_change(method: str, request: Any, limit: int | None = None) -> Any:
        async for page in pages(method, request, limit):
            yield page
        # a concurrent writer: `a` no longer matches `s == "x"` when the write comes
        await dynamo_store.client.update_item(
            TableName=dynamo_store.table_name("docs"),
            Key={dynamo_store.options.pk_field: {"S": "a"}}, UpdateExpression="SET s = :z",
            ExpressionAttributeValues={":z": {"S": "z"}})

    monkeypatch.setattr(dynamo_store, "_pages", read_then_change)
    result = runner.run(dynamo_store.execute('update docs set t = 1 where s == "x"'))
    monkeypatch.undo()
    assert result == WriteResult()
    assert runner.run(dynamo_store.collection("docs").get("a")) == \
        {"_id": "a", "n": 1, "s": "z"}


def _deep_where(terms: int, depth: int = 29) -> str:
    tail = ".".join(f"s{j}" for j in range(depth))
    return " or ".join(f"p{i}.{tail} == 1" for i in range(terms))


def test_a_condition_over_4kb_is_refused_before_anything_is_sent(
        runner: asyncio.Runner, dynamo_store: Any) -> None:
    """Issue #15, item 10: the read's filter fit in 4 KB, the UpdateItem's condition
    (the where and its guards) did not: a ValidationException after the read."""
    load(runner, dynamo_store, "docs", DOCS)
    fits = f'update docs set n = n + 1 where {_deep_where(26)} or s == "x"'
    assert runner.run(dynamo_store.execute(fits)) == WriteResult(matched=1, modified=1)
    over = f'update docs set n = n + 1 where {_deep_where(27)} or s == "x"'
    with pytest.raises(CapabilityError, match="ConditionExpression of each write"):
        runner.run(dynamo_store.execute(over))
    assert runner.run(dynamo_store.collection("docs").get("a")) == \
        {"_id": "a", "n": 2, "s": "x"}


def test_the_longest_per_item_requests_compiled_run(runner: asyncio.Runner,
                                                    dynamo_store: Any) -> None:
    """Below a map, each item's request is built at run time from the item: the
    compile-time bound keeps every form under DynamoDB's limits."""
    depth, statement, maps = 12, None, 0
    for count in range(1, 40):
        paths = [".".join([f"m{i}"] + [f"k{j}" for j in range(depth)]) for i in range(count)]
        text = "update docs set " + ", ".join(f"{p} = 1" for p in paths) + " where true"
        try:
            dynamo_store.write_plan(text)
        except CapabilityError:
            break
        statement, maps = parse_statement(text), count
    assert statement is not None and maps > 10
    docs: list[dict[str, Any]] = []
    for missing_at in range(depth + 1):
        # maps down to `missing_at` (none: `m<i>` itself is missing)
        doc: dict[str, Any] = {"_id": f"d{missing_at:02d}"}
        for i in range(maps):
            node = doc.setdefault(f"m{i}", {}) if missing_at else doc
            for j in range(missing_at - 1):
                node = node.setdefault(f"k{j}", {})
        docs.append(doc)
    got = compare_write(runner, dynamo_store, docs, statement, modified=False)
    assert got == WriteResult(matched=depth + 1, modified=depth + 1)
