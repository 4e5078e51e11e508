"""Transactions: ``async with store.transaction() as tx`` and ``store.run_transaction``.

A backend begins a transaction by returning a ``TransactionScope``: a *view* (a
``Store`` whose reads and writes run inside the transaction) plus ``commit`` and
``abort``. Everything else — query text, the plan cache, parameters, row shape,
``tx.collection(...)`` — is the ordinary store API, run on the view.

The rules every backend keeps (docs/transactions.md):

- Commit on normal exit of the ``async with`` block; roll back on an exception
  (which propagates). After either, the transaction refuses further calls.
- A conflict with a concurrent change (at a read, a write or the commit) rolls
  back and raises ``TransactionConflict``: nothing of the transaction is
  written. ``run_transaction(body)`` runs ``body(tx)`` again with jittered
  exponential backoff, at most ``max_attempts`` times, then raises.
- A transaction the backend cannot keep (too many writes for one
  ``TransactWriteItems``, a read after a write where the backend cannot read its
  own writes) is refused with ``BackendError`` before anything is written.
"""

from __future__ import annotations

import abc
import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from crossql.errors import BackendError, TransactionConflict
from crossql.runtime import observe

if TYPE_CHECKING:
    from crossql import ir
    from crossql.backends import Plan
    from crossql.builder import DeleteBuilder, QueryBuilder, UpdateBuilder
    from crossql.runtime.paging import Page
    from crossql.runtime.store import BoundQuery, Collection, Document, Store
    from crossql.semantics.writes import WriteResult

T = TypeVar("T")

MAX_ATTEMPTS = 5
"""Runs of a ``run_transaction`` body before a persisting conflict is raised."""
BASE_DELAY = 0.02
"""Seconds before the second attempt; doubled each time, with full jitter."""
MAX_DELAY = 1.0
"""The longest wait between two attempts, in seconds."""


class TransactionScope(abc.ABC):
    """What a backend returns from ``Store.begin_transaction``."""

    view: Store
    """A store whose primitives run inside the transaction."""

    @abc.abstractmethod
    async def commit(self) -> None:
        """Make every write of the transaction visible at once. On a conflict: roll
        back, then raise ``TransactionConflict``."""

    @abc.abstractmethod
    async def abort(self) -> None:
        """Discard every write of the transaction (never raises for a lost connection:
        an unfinished transaction is discarded by the server)."""


class Transaction:
    """One transaction on a store: ``async with store.transaction() as tx: ...``.

    ``tx.fetch``/``tx.stream``/``tx.count``/``tx.execute``/``tx.collection`` are the
    store's methods, run inside the transaction.
    """

    __slots__ = ("_observed", "_scope", "_state", "store")

    def __init__(self, store: Store) -> None:
        self.store = store
        self._scope: TransactionScope | None = None
        self._state = "new"
        self._observed: Any = None

    async def __aenter__(self) -> Transaction:
        if self._state != "new":
            raise BackendError(self.store.driver, "a transaction is entered once")
        self._scope = await self.store.begin_transaction()
        self._state = "open"
        observe.transaction_began(self)  # a span and a log record (runtime/observe.py)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        scope = self._open_scope()
        if exc_type is not None:
            self._state = "rolled back"
            try:
                await scope.abort()
            finally:
                observe.transaction_ended(self, exc)
            return
        self._state = "committing"
        try:
            await scope.commit()
        except BaseException as err:
            self._state = "rolled back"
            observe.transaction_ended(self, err)
            raise
        self._state = "committed"
        observe.transaction_ended(self, None)

    @property
    def state(self) -> str:
        """``new``, ``open``, ``committing``, ``committed`` or ``rolled back``."""
        return self._state

    def _open_scope(self) -> TransactionScope:
        if self._scope is None or self._state not in ("open", "committing"):
            raise BackendError(self.store.driver, f"the transaction is {self._state}: "
                               "start a new one with store.transaction()")
        return self._scope

    @property
    def view(self) -> Store:
        """The store whose operations run inside this transaction."""
        return self._open_scope().view

    async def fetch(self, text: str | QueryBuilder, /, **params: Any) -> list[Document]:
        """All rows of a query, read inside the transaction."""
        rows: list[Document] = await self.view.fetch(text, **params)
        return rows

    def stream(self, text: str | QueryBuilder, /, **params: Any) -> AsyncIterator[Document]:
        """The rows of a query, read inside the transaction."""
        return self.view.stream(text, **params)

    async def count(self, text: str | QueryBuilder, /, **params: Any) -> int:
        """How many rows a query returns, inside the transaction."""
        return await self.view.count(text, **params)

    async def page(self, text: str | QueryBuilder, /, *, size: int, after: str | None = None,
                   total: bool = False, **params: Any) -> Page:
        """One page of a query's rows, read inside the transaction (``Store.page``); a
        backend whose transactions cannot run the page's read says so."""
        return await self.view.page(text, size=size, after=after, total=total, **params)

    async def execute(self, text: str | ir.Update | ir.Delete | UpdateBuilder | DeleteBuilder, /,
                      **params: Any) -> WriteResult:
        """Run an ``update`` or ``delete`` inside the transaction."""
        return await self.view.execute(text, **params)

    def collection(self, name: str) -> Collection:
        """A collection whose writes (``insert_one``, ``insert_many``, ``delete_many``) and
        ``get`` run inside the transaction."""
        return self.view.collection(name)

    def prepare(self, text: str | QueryBuilder) -> BoundQuery:
        """A prepared query that runs inside the transaction."""
        return self.view.prepare(text)

    def plan(self, text: str | QueryBuilder, params: dict[str, Any] | None = None) -> Plan:
        """The plan ``fetch(text, **params)`` runs (the store's plan)."""
        return self.view.plan(text, params)


def backoff(attempt: int, *, base: float = BASE_DELAY, cap: float = MAX_DELAY) -> float:
    """Seconds to wait before attempt ``attempt + 1`` (full jitter: AWS's advice for
    contending clients, https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/)."""
    return random.uniform(0, min(cap, base * 2 ** (attempt - 1)))


async def run_transaction(store: Store, body: Callable[[Transaction], Awaitable[T]], *,
                          max_attempts: int = MAX_ATTEMPTS) -> T:
    """Run ``body(tx)`` in a transaction; on ``TransactionConflict`` roll back and run it
    again, at most ``max_attempts`` times in all."""
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    for attempt in range(1, max_attempts + 1):
        try:
            async with store.transaction() as tx:
                result = await body(tx)
        except TransactionConflict as err:
            if attempt == max_attempts:
                raise TransactionConflict(
                    store.driver, f"the transaction still conflicted after {attempt} "
                    f"attempts ({err.message}); nothing of it was written") from err
            await asyncio.sleep(backoff(attempt))
            continue
        return result
    raise AssertionError("unreachable")  # pragma: no cover
