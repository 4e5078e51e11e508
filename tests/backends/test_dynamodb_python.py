"""The code ``crossql compile --python`` prints for a DynamoDB write runs as printed
against DynamoDB Local, without warnings (the per-item calls once ran after the
client's ``async with`` block had closed: "Unclosed client session"), and does what
the store does."""

from __future__ import annotations

import asyncio
import textwrap
import warnings
from typing import Any

import pytest

pytestmark = pytest.mark.integration

DOCS = [{"_id": f"u{i}", "age": i, "visits": i % 3} for i in range(8)] + [
    {"_id": "s", "age": 9, "visits": "many"}]


def _run_printed(code: str, endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # the printed code uses boto's defaults: the endpoint comes from the environment
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", endpoint)
    namespace: dict[str, Any] = {}
    exec("async def main():\n" + textwrap.indent(code, "    "), namespace)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        asyncio.run(namespace["main"]())


@pytest.mark.parametrize("statement", [
    "update people set visits = visits + 1 where age > 3",
    "update people set visits = visits + 1 where age > 3 limit 2",
    "delete from people where age < 2",
])
def test_the_printed_write_runs_and_does_what_the_store_does(
        runner: asyncio.Runner, dynamo_store: Any, dynamodb_endpoint: str,
        monkeypatch: pytest.MonkeyPatch, statement: str) -> None:
    people = dynamo_store.collection("people")

    async def reset() -> None:
        await dynamo_store.drop_collection("people")
        await dynamo_store.create_collection("people")
        await people.insert_many(DOCS)

    runner.run(reset())
    result = runner.run(dynamo_store.execute(statement))
    by_store = runner.run(dynamo_store.fetch("from people"))
    runner.run(reset())
    _run_printed(dynamo_store.write_plan(statement).to_python(), dynamodb_endpoint,
                 monkeypatch)
    by_code = runner.run(dynamo_store.fetch("from people"))
    before = {d["_id"]: d for d in DOCS}
    changed = {d["_id"] for d in by_code if before.get(d["_id"]) != d}
    changed |= before.keys() - {d["_id"] for d in by_code}  # deleted
    assert result.modified + result.deleted > 0
    if "limit" in statement:  # which items a limit picks is not promised: count them
        assert len(changed) == result.modified == 2
    else:
        assert sorted(by_code, key=_id) == sorted(by_store, key=_id)
        assert len(changed) == result.modified + result.deleted


def _id(doc: dict[str, Any]) -> str:
    return str(doc["_id"])


def test_a_write_below_a_map_prints_code_that_runs(
        runner: asyncio.Runner, dynamo_store: Any, dynamodb_endpoint: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # a write below a map is planned per item (DynamoWritePlan.item_request), which the
    # printed code names in a comment; the rest of it still runs as printed
    statement = "update people set seen = true, extra.note = 'x' where age >= 6"
    runner.run(dynamo_store.drop_collection("people"))
    runner.run(dynamo_store.create_collection("people"))
    runner.run(dynamo_store.collection("people").insert_many(DOCS))
    code = dynamo_store.write_plan(statement).to_python()
    assert "DynamoWritePlan.item_request" in code
    _run_printed(code, dynamodb_endpoint, monkeypatch)
