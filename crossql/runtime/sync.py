"""The store API without ``await``, for scripts and notebooks: ``crossql.connect_sync``.

Every call runs the async store's coroutine on a private event loop in a daemon
thread of its own and waits for it (``concurrent.futures``), so it works from plain
code and from a thread whose loop is already running (Jupyter, an ``async def``):
the calling thread only waits, it never runs a loop. The drivers' connections live
on the private loop; ``close()`` (or leaving ``with``) closes the store, finishes the
loop's async generators and default executor, and joins the thread.

The caller's context variables go with each call (copied, as ``asyncio.to_thread``
does), so a call is a child of the caller's OpenTelemetry span; a stream's steps and
a transaction's calls share one context, as they would in one task.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import threading
import time
import weakref
from collections.abc import Callable, Coroutine, Iterable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

from crossql.errors import BackendError, TransactionConflict

_CONFIGURED: Any = object()
"""``client_side`` not given (``Store.plan``'s own default, not imported here)."""

if TYPE_CHECKING:
    from pydantic import BaseModel

    from crossql import ir
    from crossql.backends import Plan
    from crossql.config import NoSQLConfig
    from crossql.runtime.paging import Page
    from crossql.runtime.store import BoundQuery, Collection, Document, Store
    from crossql.runtime.transaction import Transaction
    from crossql.semantics.writes import WriteResult

T = TypeVar("T")
M = TypeVar("M", bound="BaseModel")


class _Loop:
    """An event loop running in a daemon thread; ``run`` waits for a coroutine on it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._serve, name="crossql-sync", daemon=True)
        self.closed = False
        self.thread.start()

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def run(self, coro: Coroutine[Any, Any, T],
            context: contextvars.Context | None = None) -> T:
        """Run ``coro`` on the loop in ``context`` (a copy of the caller's by default)
        and return its result; an interrupt of the waiting thread cancels it."""
        if self.closed:
            coro.close()
            raise BackendError("sync", "the store is closed")
        if threading.current_thread() is self.thread:
            coro.close()
            raise RuntimeError("a sync store's method was called from its own event loop; "
                               "await the async store (`sync_store.store`) there")
        ctx = context if context is not None else contextvars.copy_context()
        done: concurrent.futures.Future[T] = concurrent.futures.Future()
        tasks: list[asyncio.Task[T]] = []

        def start() -> None:
            if done.cancelled():
                coro.close()
                return
            task = self.loop.create_task(coro, context=ctx)
            tasks.append(task)
            task.add_done_callback(lambda t: _settle(t, done))

        self.loop.call_soon_threadsafe(start)
        try:
            return done.result()
        except BaseException:
            if not done.done():  # interrupted while waiting: stop the coroutine too
                self.loop.call_soon_threadsafe(lambda: [t.cancel() for t in tasks])
                done.cancel()
            raise

    def stop(self) -> None:
        """Finish async generators and the default executor, stop the loop, join."""
        if self.closed:
            return
        if self.thread.is_alive():
            async def finish() -> None:
                await self.loop.shutdown_asyncgens()
                await self.loop.shutdown_default_executor()

            self.run(finish())
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join()
        self.closed = True
        self.loop.close()


def _settle(task: asyncio.Task[T], done: concurrent.futures.Future[T]) -> None:
    if done.cancelled():
        return
    if task.cancelled():
        done.cancel()
    elif (err := task.exception()) is not None:
        done.set_exception(err)
    else:
        done.set_result(task.result())


def _shutdown(runner: _Loop, store: Store) -> None:
    """Close the store and stop its loop (``close()``, or at exit for a forgotten one)."""
    if runner.closed:
        return
    try:
        runner.run(store.__aexit__(None, None, None))
    finally:
        runner.stop()


def connect_sync(config: NoSQLConfig | Mapping[str, Any] | str | Path | None = None, *,
                 client: Any = None, schema: Any = None) -> SyncStore:
    """``crossql.connect`` without ``await``: the store, opened, on a private event loop.

    ``with crossql.connect_sync(cfg) as store: rows = store.fetch("from users")`` —
    the same methods as ``Store`` (docs/sync.md); ``close()`` when not used with
    ``with``. A ``client`` is a driver object made for the private loop
    (``store.run(coro)`` runs a coroutine there). ``schema`` declares collections, as
    for ``crossql.connect`` (docs/schemas.md)."""
    from crossql.api import connect

    store = connect(config, client=client, schema=schema)
    return SyncStore._open(store)


class SyncStore:
    """A ``Store`` whose methods are called without ``await`` (``crossql.connect_sync``)."""

    __slots__ = ("__weakref__", "_finalizer", "_runner", "store")

    def __init__(self, store: Store, runner: _Loop,
                 finalizer: weakref.finalize[Any, Any] | None = None) -> None:
        self.store = store
        """The async store, whose coroutines run on the private loop."""
        self._runner = runner
        self._finalizer = finalizer

    @classmethod
    def _open(cls, store: Store) -> SyncStore:
        runner = _Loop()
        try:
            runner.run(store.__aenter__())
        except BaseException:
            runner.stop()
            raise
        sync = cls(store, runner)
        sync._finalizer = weakref.finalize(sync, _shutdown, runner, store)
        return sync

    # -- lifecycle
    def close(self) -> None:
        """Close the store's connections and stop its event loop thread (idempotent)."""
        if self._finalizer is not None:
            self._finalizer()

    @property
    def closed(self) -> bool:
        """Whether ``close`` was called."""
        return self._runner.closed

    def __enter__(self) -> SyncStore:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine of the async store (``store.store``) on its loop; its result."""
        return self._runner.run(coro)

    # -- named backends
    @property
    def driver(self) -> str:
        """The backend this store runs plans on."""
        return self.store.driver

    @property
    def backend_names(self) -> list[str]:
        """The names of the configured backends (``default`` first)."""
        return self.store.backend_names

    def backend(self, name: str) -> SyncStore:
        """The named backend's store (on the same loop, closed with this one)."""
        return SyncStore(self.store.backend(name), self._runner)

    def __getitem__(self, name: str) -> SyncStore:
        return self.backend(name)

    # -- queries
    def plan(self, text: str, params: Mapping[str, Any] | None = None, *,
             client_side: Any = _CONFIGURED) -> Plan:
        """The plan ``fetch(text, **params)`` runs (``client_side``: as ``Store.plan``)."""
        if client_side is _CONFIGURED:
            return self.store.plan(text, params)
        return self.store.plan(text, params, client_side=client_side)

    def prepare(self, text: str) -> SyncPrepared:
        """A query parsed and checked once, run many times."""
        return SyncPrepared(self.store.prepare(text), self._runner)

    @overload
    def fetch(self, text: str, /, *, model: None = None, **params: Any) -> list[Document]: ...

    @overload
    def fetch(self, text: str, /, *, model: type[M], invalid: Literal["raise"] = "raise",
              **params: Any) -> list[M]: ...

    @overload
    def fetch(self, text: str, /, *, model: type[M], invalid: Literal["raw"],
              **params: Any) -> list[M | Document]: ...

    def fetch(self, text: str, /, *, model: type[M] | None = None,
              invalid: Literal["raise", "raw"] = "raise",
              **params: Any) -> list[Document] | list[M] | list[M | Document]:
        """All rows of a query (as instances of ``model`` when given, docs/schemas.md;
        ``invalid="raw"``: a row the model does not validate comes back as its dict)."""
        if model is None:
            rows: list[Document] = self._runner.run(self.store.fetch(text, **params))
            return rows
        if invalid == "raw":
            return self._runner.run(self.store.fetch(text, model=model, invalid="raw",
                                                     **params))
        typed: list[M] = self._runner.run(self.store.fetch(text, model=model, **params))
        return typed

    def stream(self, text: str, /, **params: Any) -> SyncRows:
        """The rows of a query, one at a time (``close()`` one left early, or use ``with``)."""
        return SyncRows(lambda: self.store.stream(text, **params), self._runner)

    def count(self, text: str, /, **params: Any) -> int:
        """How many rows the query returns."""
        return self._runner.run(self.store.count(text, **params))

    def page(self, text: str, /, *, size: int, after: str | None = None, total: bool = False,
             **params: Any) -> Page:
        """One page of a query's rows and the cursor of the next (docs/pagination.md)."""
        return self._runner.run(self.store.page(text, size=size, after=after, total=total,
                                                **params))

    def execute(self, text: str | ir.Update | ir.Delete, /, **params: Any) -> WriteResult:
        """Run an ``update`` or ``delete``; what it matched, modified and deleted."""
        return self._runner.run(self.store.execute(text, **params))

    def collection(self, name: str) -> SyncCollection:
        """A handle on one collection."""
        return SyncCollection(self.store.collection(name), self._runner)

    def drop_collection(self, name: str) -> None:
        """Remove a collection and its documents."""
        self._runner.run(self.store.drop_collection(name))

    # -- transactions
    def transaction(self) -> SyncTransaction:
        """``with store.transaction() as tx:`` — commits on normal exit, rolls back on an
        exception (docs/transactions.md)."""
        return SyncTransaction(self.store.transaction(), self._runner)

    def run_transaction(self, body: Callable[[SyncTransaction], T], *,
                        max_attempts: int = 5) -> T:
        """``body(tx)`` in a transaction, run again on ``TransactionConflict`` (jittered
        backoff), at most ``max_attempts`` times — as ``Store.run_transaction``."""
        from crossql.runtime.transaction import backoff

        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        for attempt in range(1, max_attempts + 1):
            try:
                with self.transaction() as tx:
                    result = body(tx)
            except TransactionConflict as err:
                if attempt == max_attempts:
                    raise TransactionConflict(
                        self.driver, f"the transaction still conflicted after {attempt} "
                        f"attempts ({err.message}); nothing of it was written") from err
                time.sleep(backoff(attempt))
                continue
            return result
        raise AssertionError("unreachable")  # pragma: no cover


class SyncRows(Iterator["Document"]):
    """The rows of a stream, without ``await``; ``close()`` ends one left early."""

    __slots__ = ("_closed", "_context", "_make", "_rows", "_runner")

    def __init__(self, make: Callable[[], Any], runner: _Loop) -> None:
        self._make = make
        self._rows: Any = None
        self._closed = False
        self._runner = runner
        # one context for every step, as when one task iterates the async stream
        self._context = contextvars.copy_context()

    def __iter__(self) -> SyncRows:
        return self

    def __next__(self) -> Document:
        if self._closed:
            raise StopIteration
        if self._rows is None:
            self._rows = self._context.run(self._make)
        try:
            row: Document = self._runner.run(_step(self._rows), self._context)
        except StopAsyncIteration:
            self._closed = True
            raise StopIteration from None
        return row

    def close(self) -> None:
        """End the stream (the backend's cursor or request is released)."""
        rows, self._rows = self._rows, None
        self._closed = True
        aclose = getattr(rows, "aclose", None)
        if aclose is not None and not self._runner.closed:
            self._runner.run(aclose(), self._context)

    def __enter__(self) -> SyncRows:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


async def _step(rows: Any) -> Any:
    return await anext(rows)


class SyncPrepared:
    """A prepared query without ``await``."""

    __slots__ = ("_runner", "prepared")

    def __init__(self, prepared: BoundQuery, runner: _Loop) -> None:
        self.prepared = prepared
        self._runner = runner

    def plan(self, **params: Any) -> Plan:
        """The plan for these parameters."""
        return self.prepared.plan(**params)

    def fetch(self, **params: Any) -> list[Document]:
        """All rows for these parameters."""
        return self._runner.run(self.prepared.fetch(**params))

    def stream(self, **params: Any) -> SyncRows:
        """The rows for these parameters, one at a time."""
        return SyncRows(lambda: self.prepared.stream(**params), self._runner)

    def count(self, **params: Any) -> int:
        """How many rows for these parameters."""
        return self._runner.run(self.prepared.count(**params))

    def page(self, *, size: int, after: str | None = None, total: bool = False,
             **params: Any) -> Page:
        """One page of rows for these parameters (docs/pagination.md)."""
        return self._runner.run(self.prepared.page(size=size, after=after, total=total,
                                                   **params))


class SyncCollection:
    """One collection without ``await``."""

    __slots__ = ("_context", "_runner", "collection")

    def __init__(self, collection: Collection, runner: _Loop,
                 context: contextvars.Context | None = None) -> None:
        self.collection = collection
        self._runner = runner
        self._context = context

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self._runner.run(coro, self._context)

    @property
    def name(self) -> str:
        """The collection's name."""
        return self.collection.name

    def insert_one(self, doc: Mapping[str, Any] | BaseModel) -> Any:
        """Insert a document; its ``_id`` (generated when absent)."""
        return self._run(self.collection.insert_one(doc))

    def insert_many(self, docs: Iterable[Mapping[str, Any] | BaseModel]) -> list[Any]:
        """Insert documents (dicts or pydantic model instances); their ids, in order."""
        return self._run(self.collection.insert_many(list(docs)))

    @overload
    def get(self, doc_id: Any, *, model: None = None) -> Document | None: ...

    @overload
    def get(self, doc_id: Any, *, model: type[M]) -> M | None: ...

    def get(self, doc_id: Any, *, model: type[M] | None = None) -> Document | M | None:
        """The document with this ``_id``, or None (as an instance of ``model`` when
        given)."""
        if model is None:
            return self._run(self.collection.get(doc_id))
        return self._run(self.collection.get(doc_id, model=model))

    def delete_many(self, where: str | ir.Condition, /, **params: Any) -> int:
        """Delete the documents matching a condition; how many were deleted."""
        return self._run(self.collection.delete_many(where, **params))


class SyncTransaction:
    """A transaction without ``await``: ``with store.transaction() as tx: tx.fetch(...)``."""

    __slots__ = ("_context", "_runner", "transaction")

    def __init__(self, transaction: Transaction, runner: _Loop) -> None:
        self.transaction = transaction
        self._runner = runner
        # the transaction's calls share one context, as in one task (its span is theirs)
        self._context = contextvars.copy_context()

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self._runner.run(coro, self._context)

    def __enter__(self) -> SyncTransaction:
        self._run(_entered(self.transaction))
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._run(self.transaction.__aexit__(exc_type, exc, tb))

    @property
    def state(self) -> str:
        """``new``, ``open``, ``committing``, ``committed`` or ``rolled back``."""
        return self.transaction.state

    def fetch(self, text: str, /, **params: Any) -> list[Document]:
        """All rows of a query, read inside the transaction."""
        return self._run(self.transaction.fetch(text, **params))

    def stream(self, text: str, /, **params: Any) -> SyncRows:
        """The rows of a query, read inside the transaction."""
        rows = SyncRows(lambda: self.transaction.stream(text, **params), self._runner)
        rows._context = self._context
        return rows

    def count(self, text: str, /, **params: Any) -> int:
        """How many rows a query returns, inside the transaction."""
        return self._run(self.transaction.count(text, **params))

    def page(self, text: str, /, *, size: int, after: str | None = None, total: bool = False,
             **params: Any) -> Page:
        """One page of a query's rows, read inside the transaction."""
        return self._run(self.transaction.page(text, size=size, after=after, total=total,
                                               **params))

    def execute(self, text: str | ir.Update | ir.Delete, /, **params: Any) -> WriteResult:
        """Run an ``update`` or ``delete`` inside the transaction."""
        return self._run(self.transaction.execute(text, **params))

    def collection(self, name: str) -> SyncCollection:
        """A collection whose writes and ``get`` run inside the transaction."""
        return SyncCollection(self.transaction.collection(name), self._runner, self._context)


async def _entered(transaction: Transaction) -> None:
    await transaction.__aenter__()
