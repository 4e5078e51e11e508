"""The one store API every backend implements, written down as protocols.

``crossql.connect`` returns a ``StoreProtocol`` whatever the driver: memory,
MongoDB, DynamoDB or Firestore. The same conformance suite
(tests/backends/test_conformance.py) runs over all four on real servers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, Self, TypeVar, runtime_checkable

from crossql import ir
from crossql.backends.base import Plan

if TYPE_CHECKING:
    from crossql.builder import DeleteBuilder, QueryBuilder, UpdateBuilder
    from crossql.runtime.transaction import Transaction
    from crossql.runtime.watch import Watch
    from crossql.semantics.writes import WriteResult

T = TypeVar("T")

Row = dict[str, Any]
"""A row: plain Python values; a whole document has ``_id`` as its first key."""


@runtime_checkable
class PreparedProtocol(Protocol):
    """A query parsed and checked once, run with different parameters."""

    def plan(self, **params: Any) -> Plan:
        """The plan for these parameters."""
        ...

    async def fetch(self, **params: Any) -> list[Row]:
        """All rows for these parameters."""
        ...

    def stream(self, **params: Any) -> AsyncIterator[Row]:
        """The rows for these parameters, as the backend delivers them."""
        ...

    async def count(self, **params: Any) -> int:
        """How many rows for these parameters."""
        ...


@runtime_checkable
class CollectionProtocol(Protocol):
    """One collection: documents in, documents out."""

    name: str

    async def insert_one(self, doc: Mapping[str, Any]) -> Any:
        """Insert one document; its ``_id`` (generated when absent). A duplicate
        ``_id`` raises ``BackendError``."""
        ...

    async def insert_many(self, docs: Iterable[Mapping[str, Any]]) -> list[Any]:
        """Insert documents; their ids, in order."""
        ...

    async def get(self, doc_id: Any) -> Row | None:
        """The document with this ``_id``, or None."""
        ...

    async def delete_many(self, where: str | ir.Condition, /, **params: Any) -> int:
        """Delete the documents matching a condition; how many were deleted."""
        ...


@runtime_checkable
class StoreProtocol(Protocol):
    """A connection to one backend, with the other configured backends by name."""

    driver: str

    async def __aenter__(self) -> Self:
        ...

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        ...

    def backend(self, name: str) -> StoreProtocol:
        """The store of a named backend (``default``: the top-level driver)."""
        ...

    def collection(self, name: str) -> CollectionProtocol:
        """A handle on one collection."""
        ...

    def prepare(self, text: str | QueryBuilder) -> PreparedProtocol:
        """Parse and check once; run many times."""
        ...

    def plan(self, text: str | QueryBuilder, params: Mapping[str, Any] | None = None) -> Plan:
        """The plan ``fetch(text, **params)`` runs."""
        ...

    async def fetch(self, text: str | QueryBuilder, /, **params: Any) -> list[Row]:
        """All rows of a query."""
        ...

    def stream(self, text: str | QueryBuilder, /, **params: Any) -> AsyncIterator[Row]:
        """The rows of a query, one at a time."""
        ...

    async def count(self, text: str | QueryBuilder, /, **params: Any) -> int:
        """How many rows the query returns."""
        ...

    async def drop_collection(self, name: str) -> None:
        """Remove a collection and its documents."""
        ...

    def watch(self, text: str | QueryBuilder, /, *, initial: bool = False,
              resume_after: Any = None, buffer: int = 1000, **params: Any) -> Watch:
        """A live query: ``async with store.watch(text) as changes: async for change in
        changes`` (docs/live-queries.md)."""
        ...

    async def execute(self, text: str | ir.Update | ir.Delete | UpdateBuilder | DeleteBuilder, /,
                      **params: Any) -> WriteResult:
        """Run an ``update`` or ``delete``; what it matched, modified and deleted."""
        ...

    def transaction(self) -> Transaction:
        """``async with store.transaction() as tx:``: all of it is written, or none."""
        ...

    async def run_transaction(self, body: Callable[[Transaction], Awaitable[T]], *,
                              max_attempts: int = 5) -> T:
        """``await body(tx)`` in a transaction, run again on a conflict (bounded)."""
        ...
