"""Live queries: ``async with store.watch(text) as changes: async for change in changes``.

The shared part of every backend's watch (docs/live-queries.md):

- ``live_query`` checks a query can be kept live (``where`` and a plain ``select``;
  ``order by``, ``limit``, ``offset``, ``group by`` and aggregates are refused the same
  way on every backend);
- ``Feed`` decides membership with the reference semantics on a document's state
  before and after a change, and turns it into a ``Change`` (``added``, ``modified``,
  ``removed``) with the row shaped by ``select``;
- ``ChangeBuffer`` is the bounded buffer between the backend and the consumer;
- ``Watch`` is the async context manager and iterator users hold.

A backend brings a ``Source`` from ``crossql/backends/<driver>/watch.py``
(``open_source(store, query, plan, resume_after)``): it starts delivering the
collection's changes to the feed, and stops when the watch closes.
"""

from __future__ import annotations

import abc
import asyncio
import importlib
from collections import deque
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, replace
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Literal

from crossql import ir
from crossql.backends.base import refuse
from crossql.compiler.checks import bind, check_query
from crossql.compiler.shape import aggregate_text
from crossql.errors import BackendError, CapabilityError
from crossql.grammar import parse_query

# The reference semantics, in one place (they move to a lower package: a one-line fix).
from crossql.semantics.reference import evaluate_condition, freeze, run, values_equal

if TYPE_CHECKING:
    from crossql.backends import Plan
    from crossql.runtime.store import Store

Document = dict[str, Any]
ChangeKind = Literal["added", "modified", "removed"]

DEFAULT_BUFFER: Final = 1000
"""Changes a watch holds for a consumer that has not read them yet, by default."""


class _Unknown:
    __slots__ = ()

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Final = _Unknown()
"""A document's state the backend does not report (membership is then tracked by id)."""


@dataclass(frozen=True, slots=True)
class Change:
    """One change of a live query's result.

    ``kind`` is ``added`` (a document starts to match: inserted, or updated into the
    result), ``modified`` (a matching document changed and still matches) or
    ``removed`` (deleted, or updated out of the result). ``row`` is the document's row
    after the change, shaped by ``select`` (None when removed); ``old`` its row before
    the change where the backend reports it (None for ``added``). ``token`` resumes a
    watch after this change (``watch(..., resume_after=token)``) where the backend can
    resume; None where it cannot.
    """

    kind: ChangeKind
    id: Any
    row: Document | None
    old: Document | None = None
    token: Any = None

    def to_dict(self) -> dict[str, Any]:
        """The change as plain data (the command line prints it as a JSON line)."""
        return {"kind": self.kind, "id": self.id, "row": self.row, "old": self.old,
                "token": self.token}


class WatchOverflow(BackendError):
    """The consumer fell behind a backend that cannot wait: the watch ended."""


# --- which queries can be kept live -----------------------------------------------

_HINT = ("a live query reports changes of documents; run the query again on each change "
         "to keep an ordered, paged or aggregated result")


def live_query(query: ir.Query, backend: str) -> None:
    """Refuse, with a located ``CapabilityError``, what a live query does not keep:
    ``group by``, aggregates, ``order by``, ``limit`` and ``offset`` (on every backend)."""
    def no(construct: str, node: Any, what: str) -> CapabilityError:
        return refuse(backend, construct, node, f"a live query does not keep {what}", _HINT,
                      query.source, rule="live-query")

    if query.group_by:
        raise no("group by", query.group_by[0], "`group by`")
    for item in query.select:
        if isinstance(item.expr, ir.Aggregate):
            text = aggregate_text(item.expr)
            construct = text if text == "count()" else (
                "count(p)" if item.expr.func == "count" else str(item.expr.func))
            raise no(construct, item, f"an aggregate (`{text}`)")
    if query.order_by:
        raise no("order by", query.order_by[0], "`order by` (changes come in commit order)")
    if query.limit is not None:
        raise no("limit", query.limit, "`limit`")
    if query.offset is not None:
        raise no("offset", query.offset, "`offset`")


def bound_query(text: str, params: Mapping[str, Any] | None) -> ir.Query:
    """``text`` parsed, checked and bound."""
    return bind(check_query(parse_query(text)), params)


def matches(query: ir.Query, doc: Mapping[str, Any] | None) -> bool:
    """Whether ``doc`` is in the query's result (unknown is not): the reference semantics."""
    if doc is None:
        return False
    return query.where is None or evaluate_condition(query.where, doc) is True


def shape(query: ir.Query, doc: Mapping[str, Any]) -> Document:
    """The row of a matching document, shaped by ``select`` as a read shapes it."""
    if not query.select:
        return dict(doc)
    return run(ir.Query(query.collection, select=query.select), [doc])[0]


def same_document(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two states of a document hold the same values (CrossQL equality)."""
    return values_equal(dict(a), dict(b))


# --- the bounded buffer -----------------------------------------------------------


class ChangeBuffer:
    """At most ``size`` changes between a backend and its consumer.

    ``offer`` (for backends that cannot wait: the memory store's writers, Firestore's
    listener thread) ends the watch with ``WatchOverflow`` when it is full; ``put``
    (MongoDB's and DynamoDB's readers) waits for room instead, so the server keeps the
    changes. The consumer reads what was buffered, then the error."""

    def __init__(self, size: int, backend: str) -> None:
        if size < 1:
            raise ValueError(f"a watch buffers at least one change, not {size}")
        self.size = size
        self.backend = backend
        self._items: deque[Change] = deque()
        self._ready = asyncio.Event()
        self._room = asyncio.Event()
        self._closed = False
        self._error: BaseException | None = None
        self._preloaded = 0

    def __len__(self) -> int:
        return len(self._items)

    @property
    def closed(self) -> bool:
        """Whether nothing more will be buffered."""
        return self._closed

    def _full(self) -> bool:
        return len(self._items) - self._preloaded >= self.size

    def preload(self, changes: list[Change]) -> None:
        """Buffer changes the backend already holds in memory (the memory store's initial
        matches), outside the bound: they are read first."""
        self._items.extend(changes)
        self._preloaded += len(changes)
        if changes:
            self._ready.set()

    def offer(self, change: Change) -> None:
        """Buffer ``change`` now, or end the watch with ``WatchOverflow`` when full."""
        if self._closed:
            return
        if self._full():
            self.fail(WatchOverflow(self.backend, (
                f"the consumer fell more than {self.size} changes behind; the watch ended "
                "(read changes faster, or pass a larger buffer= to watch())")))
            return
        self._items.append(change)
        self._ready.set()

    async def put(self, change: Change) -> None:
        """Buffer ``change``, waiting while the buffer is full (backpressure)."""
        while self._full() and not self._closed:
            self._room.clear()
            await self._room.wait()
        if not self._closed:
            self._items.append(change)
            self._ready.set()

    def fail(self, error: BaseException) -> None:
        """End the watch: the consumer gets ``error`` once it has read what is buffered."""
        if self._error is None and not self._closed:
            self._error = error
        self.finish()

    def finish(self) -> None:
        """End the watch: nothing more is buffered."""
        self._closed = True
        self._ready.set()
        self._room.set()

    async def get(self) -> Change:
        """The next change; ``StopAsyncIteration`` once finished, or the error it ended with."""
        while not self._items:
            if self._closed:
                if self._error is not None:
                    raise self._error
                raise StopAsyncIteration
            self._ready.clear()
            await self._ready.wait()
        change = self._items.popleft()
        if self._preloaded:
            self._preloaded -= 1
        self._room.set()
        return change


# --- from documents' states to changes -----------------------------------------------


class Feed:
    """Where a backend reports each document change: classified, shaped, buffered.

    A backend reports a document's state before and after the change (None: absent);
    where it does not know the state before (``UNKNOWN``), whether the document
    matched is taken from the ids of the matching documents this feed tracks."""

    def __init__(self, query: ir.Query, buffer: ChangeBuffer) -> None:
        self.query = query
        self.buffer = buffer
        self._members: dict[Any, Any] = {}
        """The matching documents: their ids, by frozen id (CrossQL equality)."""

    def classify(self, doc_id: Any, before: Any, after: Mapping[str, Any] | None,
                 token: Any = None) -> Change | None:
        """The change of the result when document ``doc_id`` goes from ``before`` to
        ``after``; None when the result does not change."""
        key = freeze(doc_id)
        was = key in self._members if before is UNKNOWN else matches(self.query, before)
        now = matches(self.query, after)
        if now:
            self._members[key] = doc_id
        else:
            self._members.pop(key, None)
        old = shape(self.query, before) if was and isinstance(before, Mapping) else None
        if now and after is not None:
            if not was:
                return Change("added", doc_id, shape(self.query, after), None, token)
            if isinstance(before, Mapping) and same_document(before, after):
                return None
            return Change("modified", doc_id, shape(self.query, after), old, token)
        if was:
            return Change("removed", doc_id, None, old, token)
        return None

    def initial(self, doc_id: Any, doc: Mapping[str, Any]) -> Change:
        """An ``added`` change for a document that matches when the watch starts."""
        self._members[freeze(doc_id)] = doc_id
        return Change("added", doc_id, shape(self.query, doc))

    def member_ids(self) -> list[Any]:
        """The ids of the documents that match now, as far as this feed saw."""
        return list(self._members.values())

    def offer(self, doc_id: Any, before: Any, after: Mapping[str, Any] | None,
              token: Any = None) -> None:
        """Classify and buffer now (a full buffer ends the watch)."""
        change = self.classify(doc_id, before, after, token)
        if change is not None:
            self.buffer.offer(change)

    async def put(self, doc_id: Any, before: Any, after: Mapping[str, Any] | None,
                  token: Any = None) -> None:
        """Classify and buffer, waiting for room."""
        change = self.classify(doc_id, before, after, token)
        if change is not None:
            await self.buffer.put(change)


class Source(abc.ABC):
    """A backend's stream of one collection's changes, delivered to a ``Feed``."""

    @abc.abstractmethod
    async def start(self, feed: Feed, *, initial: bool) -> None:
        """Start delivering changes to ``feed``; with ``initial``, first the documents
        that match now (``feed.initial``), through the feed's buffer."""

    @abc.abstractmethod
    async def stop(self) -> None:
        """Release the stream, the iterators or the listener (idempotent)."""


# --- what users hold ------------------------------------------------------------------


class Watch:
    """A live query: ``async with store.watch(text) as changes: async for change in
    changes: ...``. Leaving the block (or ``close()``) releases the backend's stream."""

    def __init__(self, store: Store, text: str, params: Mapping[str, Any] | None, *,
                 initial: bool = False, resume_after: Any = None,
                 buffer: int = DEFAULT_BUFFER) -> None:
        self.store = store
        self.query = bound_query(text, params)
        live_query(self.query, store.driver)
        # the backend's own refusals, as for a read (Firestore's default profile...)
        self.plan: Plan = _compile(store, self.query)
        self.initial = initial
        self.resume_after = resume_after
        self.buffer = ChangeBuffer(buffer, store.driver)
        self.feed = Feed(self.query, self.buffer)
        self._source: Source | None = None

    async def __aenter__(self) -> Watch:
        try:
            module = importlib.import_module(f"crossql.backends.{self.store.driver}.watch")
        except ModuleNotFoundError:
            raise BackendError(self.store.driver,
                               f"{self.store.driver} does not run live queries") from None
        self._source = module.open_source(self.store, self.query, self.plan, self.resume_after)
        try:
            await self._source.start(self.feed, initial=self.initial)
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop the watch and release the backend's stream (idempotent)."""
        self.buffer.finish()
        source, self._source = self._source, None
        if source is not None:
            await source.stop()

    def __aiter__(self) -> AsyncIterator[Change]:
        return self

    async def __anext__(self) -> Change:
        return await self.buffer.get()

    async def next(self, timeout: float | None = None) -> Change:
        """The next change, waiting at most ``timeout`` seconds (``TimeoutError``)."""
        return await asyncio.wait_for(self.buffer.get(), timeout)


def _compile(store: Store, query: ir.Query) -> Plan:
    from crossql.compiler.statement import compile_statement

    where_only = replace(query, select=())
    return compile_statement(where_only, store.driver, None, schema=store._schema,
                             options=store._options)
