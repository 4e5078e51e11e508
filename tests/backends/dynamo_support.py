"""Helpers for the DynamoDB tests: store configuration, table clean-up, a test schema."""

from __future__ import annotations

import os
from typing import Any


def store_config(endpoint: str, **options: Any) -> dict[str, Any]:
    """A ``nosql:`` configuration for DynamoDB Local at ``endpoint``. The credentials
    are the dummies scripts/servers exports (DynamoDB Local >= 2.0 only accepts
    alphanumeric access keys)."""
    block = {
        "endpoint_url": endpoint,
        "region": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        "access_key": os.environ.get("AWS_ACCESS_KEY_ID", "crossqllocal"),
        "secret_key": os.environ.get("AWS_SECRET_ACCESS_KEY", "crossqllocal"),
        **options,
    }
    return {"driver": "dynamodb", "dynamodb": block}


async def drop_tables(store: Any) -> None:
    """Drop every table of the store's prefix (what a test session created)."""
    prefix = store.options.table_prefix
    names: list[str] = []
    kwargs: dict[str, Any] = {}
    while True:
        page = await store.client.list_tables(**kwargs)
        names += page.get("TableNames", [])
        if "LastEvaluatedTableName" not in page:
            break
        kwargs["ExclusiveStartTableName"] = page["LastEvaluatedTableName"]
    for name in names:
        if prefix and name.startswith(prefix):
            await store.drop_collection(name[len(prefix):])
