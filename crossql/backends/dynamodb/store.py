"""The DynamoDB store: ``DynamoStoreBase`` (store_base.py: reads, writes, tables, paging,
retries) and transactions (transaction.py), whose store subclasses the base: this
module imports both, and neither imports it."""

from __future__ import annotations

from crossql.backends.dynamodb.store_base import (
    BATCH_SIZE,
    MAX_PAGE_LIMIT,
    PAGE_GROWTH,
    DynamoError,
    DynamoStoreBase,
    page_limit,
)
from crossql.backends.dynamodb.transaction import DynamoTransaction
from crossql.runtime.transaction import TransactionScope

__all__ = ["BATCH_SIZE", "MAX_PAGE_LIMIT", "PAGE_GROWTH", "DynamoError", "DynamoStore",
           "page_limit"]


class DynamoStore(DynamoStoreBase):
    """A store backed by DynamoDB tables, one per collection (``table_prefix`` + name),
    with transactions."""

    async def begin_transaction(self) -> TransactionScope:
        """A transaction (docs/transactions.md, "DynamoDB"): writes are collected and sent
        at commit in one ``TransactWriteItems``, with a condition per item read that it
        still holds the values read (optimistic: a change since → ``TransactionConflict``,
        nothing written)."""
        self.client  # noqa: B018 - refuses a store that is not open
        return DynamoTransaction(self)
