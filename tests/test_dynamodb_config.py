"""The `dynamodb:` configuration block, `connect`, and driver errors (no server needed)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import crossql
from crossql.backends.dynamodb.store import DynamoStore
from crossql.config import DynamoConfig, load_config


def test_connect_builds_a_store_from_the_block() -> None:
    store = crossql.connect({"driver": "dynamodb", "dynamodb": {
        "endpoint_url": "http://127.0.0.1:8000", "pk_field": "id", "table_prefix": "app_",
        "allow_scan": False, "plan_cache_size": 3}})
    assert isinstance(store, DynamoStore)
    assert store.options.pk_field == "id" and store.options.table_prefix == "app_"
    assert store.table_name("users") == "app_users"
    with pytest.raises(crossql.CapabilityError, match="allow_scan is off"):
        store.plan("from users where age > 3")
    assert store.plan("from users where _id == 'a'").request["TableName"] == "app_users"


def test_yaml_block(tmp_path: Path) -> None:
    path = tmp_path / "crossql.yaml"
    path.write_text("nosql:\n  driver: dynamodb\n  dynamodb:\n    region: eu-west-1\n"
                    "    max_attempts: 3\n", "utf-8")
    cfg = load_config(path)
    assert cfg.dynamodb == DynamoConfig(region="eu-west-1", max_attempts=3)


def test_driver_without_its_block_is_refused() -> None:
    with pytest.raises(crossql.ConfigError, match="no `dynamodb:` block"):
        load_config({"driver": "dynamodb"})


@pytest.mark.parametrize(("block", "path"), [
    ({"region": "x", "endpoint": "http://x"}, "dynamodb.endpoint"),
    ({"access_key": "a"}, "dynamodb"),
    ({"max_attempts": 0}, "dynamodb.max_attempts"),
    ({"table_prefix": "a b"}, "dynamodb.table_prefix"),
    ({"pk_field": ""}, "dynamodb.pk_field"),
])
def test_bad_keys_name_their_path(block: dict[str, object], path: str) -> None:
    with pytest.raises(crossql.ConfigError) as info:
        load_config({"driver": "dynamodb", "dynamodb": block})
    assert path in str(info.value)


def test_secret_key_is_not_shown() -> None:
    assert "s3cret" not in repr(DynamoConfig(access_key="a", secret_key="s3cret"))


def test_unreachable_endpoint_is_a_backend_error_naming_dynamodb() -> None:
    # port 9 (discard) on loopback: nothing listens
    store = crossql.connect({"driver": "dynamodb", "dynamodb": {
        "endpoint_url": "http://127.0.0.1:9", "access_key": "k", "secret_key": "s",
        "connect_timeout": 0.5, "read_timeout": 0.5, "max_attempts": 1}})

    async def run() -> None:
        async with store:
            await store.fetch("from users where _id == 'a'")

    with pytest.raises(crossql.BackendError) as info:
        asyncio.run(run())
    assert info.value.backend == "dynamodb"
    assert "EndpointConnectionError" in str(info.value)


def test_a_closed_store_says_so() -> None:
    store = crossql.connect({"driver": "dynamodb", "dynamodb": {}})
    with pytest.raises(crossql.BackendError, match="not open"):
        asyncio.run(store.fetch("from users where _id == 'a'"))
