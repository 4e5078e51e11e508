"""The DynamoDB runtime against a scripted client (no server): paging, retries with
capped backoff, unprocessed batch items, error mapping, key-schema discovery."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

import crossql
from crossql.backends.dynamodb.store import BATCH_SIZE, DynamoStore
from crossql.config import DynamoConfig


def client_error(code: str, message: str = "boom") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "Op")


class FakeClient:
    """Answers each method from a script: a list of answers (or exceptions, or
    callables of the request) consumed in order; records every call."""

    def __init__(self, **scripts: list[Any]) -> None:
        self.scripts = scripts
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, method: str) -> Callable[..., Any]:
        async def call(**kwargs: Any) -> Any:
            self.calls.append((method, kwargs))
            answer = self.scripts[method].pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer(kwargs) if callable(answer) else answer
        return call

    def methods(self) -> list[str]:
        return [m for m, _ in self.calls]


def store_with(client: FakeClient, **config: Any) -> DynamoStore:
    cfg = DynamoConfig(**{"backoff_base": 0.001, "backoff_max": 0.004, **config})
    return DynamoStore(cfg, client=client)


def item(n: int) -> dict[str, Any]:
    return {"_id": {"S": f"k{n}"}, "n": {"N": str(n)}}


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_limit_pages_past_empty_pages() -> None:
    # Limit counts evaluated items: a filter can leave whole pages empty
    client = FakeClient(scan=[
        {"Items": [], "Count": 0, "LastEvaluatedKey": {"_id": {"S": "a"}}},
        {"Items": [item(1)], "Count": 1, "LastEvaluatedKey": {"_id": {"S": "b"}}},
        {"Items": [item(2), item(3)], "Count": 2, "LastEvaluatedKey": {"_id": {"S": "c"}}},
    ])
    store = store_with(client, endpoint_url="http://x")
    plan = crossql.compile("from docs where n > 0 limit 2", backend="dynamodb")
    rows = run(_collect(store, plan))
    assert rows == [{"_id": "k1", "n": 1}, {"_id": "k2", "n": 2}]
    assert client.methods() == ["scan"] * 3
    assert "ExclusiveStartKey" not in client.calls[0][1]
    assert client.calls[2][1]["ExclusiveStartKey"] == {"_id": {"S": "b"}}
    assert "ExclusiveStartKey" not in plan.request  # the shared plan is never changed


def test_count_sums_pages() -> None:
    client = FakeClient(scan=[{"Count": 3, "LastEvaluatedKey": {"_id": {"S": "a"}}},
                              {"Count": 0, "LastEvaluatedKey": {"_id": {"S": "b"}}},
                              {"Count": 4}])
    store = store_with(client)
    plan = crossql.compile("from docs where n > 0 select n", backend="dynamodb")
    assert run(store.count_plan(plan)) == 7
    assert all(kw["Select"] == "COUNT" and "ProjectionExpression" not in kw
               for _, kw in client.calls)


def test_throttling_is_retried_then_reported() -> None:
    throttled = client_error("ProvisionedThroughputExceededException", "slow down")
    client = FakeClient(scan=[throttled, throttled, {"Items": [item(1)], "Count": 1}])
    store = store_with(client)
    plan = crossql.compile("from docs", backend="dynamodb")
    assert len(run(_collect(store, plan))) == 1
    assert client.methods() == ["scan"] * 3

    client = FakeClient(scan=[throttled] * 3)
    store = store_with(client, max_attempts=3)
    with pytest.raises(crossql.BackendError, match="dynamodb: ProvisionedThroughputExceeded"
                                                   "Exception: slow down"):
        run(_collect(store, plan))
    assert len(client.calls) == 3


def test_other_errors_are_not_retried() -> None:
    client = FakeClient(scan=[client_error("ValidationException", "bad expression")])
    store = store_with(client)
    with pytest.raises(crossql.BackendError) as info:
        run(_collect(store, crossql.compile("from docs", backend="dynamodb")))
    assert info.value.backend == "dynamodb"
    assert str(info.value) == "dynamodb: ValidationException: bad expression"
    assert len(client.calls) == 1


def test_backoff_is_capped_with_jitter() -> None:
    store = store_with(FakeClient(), backoff_base=0.1, backoff_max=1.0)
    waits = [store._backoff(n) for n in range(1, 12) for _ in range(20)]
    assert all(0 <= w <= 1.0 for w in waits)
    assert max(store._backoff(1) for _ in range(50)) <= 0.1
    assert len(set(waits)) > 100  # jittered, not a fixed schedule


def test_unprocessed_items_are_resent() -> None:
    seen: set[str] = set()

    def partly(request: dict[str, Any]) -> dict[str, Any]:
        # the first time a batch comes, DynamoDB only takes its first item
        ((table, writes),) = request["RequestItems"].items()
        ids = [w["PutRequest"]["Item"]["_id"]["S"] for w in writes]
        if ids[0] in seen:
            return {}
        seen.update(ids)
        return {"UnprocessedItems": {table: writes[1:]}}

    docs = [{"_id": f"k{i}", "v": i} for i in range(BATCH_SIZE + 5)]
    client = FakeClient(describe_table=[_description()], batch_write_item=[partly] * 4)
    store = store_with(client)
    assert run(store.insert_documents("docs", docs)) == [d["_id"] for d in docs]
    sent = [kw["RequestItems"]["docs"] for m, kw in client.calls if m == "batch_write_item"]
    assert sorted(len(s) for s in sent) == [4, 5, BATCH_SIZE - 1, BATCH_SIZE]
    ids = [w["PutRequest"]["Item"]["_id"]["S"] for s in sent for w in s]
    assert set(ids) == {d["_id"] for d in docs}


def test_unprocessed_items_give_up_after_max_attempts() -> None:
    def never(request: dict[str, Any]) -> dict[str, Any]:
        return {"UnprocessedItems": request["RequestItems"]}

    client = FakeClient(describe_table=[_description()], batch_write_item=[never] * 3)
    store = store_with(client, max_attempts=3)
    with pytest.raises(crossql.BackendError, match="2 items still unprocessed after 3"):
        run(store.insert_documents("docs", [{"_id": "a"}, {"_id": "b"}]))


def test_floats_are_written_exactly() -> None:
    client = FakeClient(describe_table=[_description()], batch_write_item=[{}])
    run(store_with(client).insert_documents("docs", [{"_id": "a", "f": 0.1, "g": [1e-7]},
                                                     {"_id": "b", "f": 1 / 3}]))
    written = [w["PutRequest"]["Item"] for w in client.calls[-1][1]["RequestItems"]["docs"]]
    assert written[0]["f"] == {"N": "0.1"} and written[0]["g"] == {"L": [{"N": "1e-07"}]}
    assert float(written[1]["f"]["N"]) == 1 / 3


def test_key_schema_is_described_once() -> None:
    client = FakeClient(describe_table=[_description(sort_key="n")],
                        query=[{"Items": [], "Count": 0}] * 2)
    store = store_with(client)

    async def twice() -> list[Any]:
        a = await store.fetch("from docs where _id == 'x' order by n desc")
        b = await store.fetch("from docs where _id == 'y' order by n desc")
        return a + b

    assert run(twice()) == []
    assert client.methods() == ["describe_table", "query", "query"]
    assert client.calls[1][1]["ScanIndexForward"] is False


def test_a_missing_table_is_reported() -> None:
    missing = client_error("ResourceNotFoundException", "Cannot do operations on a "
                                                        "non-existent table")
    client = FakeClient(describe_table=[missing], scan=[missing])
    with pytest.raises(crossql.BackendError, match="ResourceNotFoundException"):
        run(store_with(client).fetch("from docs"))


def _description(sort_key: str | None = None) -> dict[str, Any]:
    keys = [{"AttributeName": "_id", "KeyType": "HASH"}]
    types = [{"AttributeName": "_id", "AttributeType": "S"}]
    if sort_key:
        keys.append({"AttributeName": sort_key, "KeyType": "RANGE"})
        types.append({"AttributeName": sort_key, "AttributeType": "N"})
    return {"Table": {"TableName": "docs", "KeySchema": keys, "AttributeDefinitions": types,
                      "TableStatus": "ACTIVE"}}


async def _collect(store: DynamoStore, plan: Any) -> list[Any]:
    return [row async for row in store.run_plan(plan)]
