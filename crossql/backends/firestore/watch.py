"""Live queries on Firestore: a snapshot listener on the compiled query.

The async client has no listener, so the sync client's ``on_snapshot`` listens (on
its own thread) and each snapshot's changes are handed to the event loop with
``loop.call_soon_threadsafe``. The compiled query is the read's (the default
profile's refusals apply as for a read); its ``ADDED``/``MODIFIED``/``REMOVED`` are
classified with the reference semantics, the state before being the matching ids
this watch tracks (a listener reports no old document). A listener cannot wait, so
a consumer that falls ``buffer`` changes behind ends the watch (``WatchOverflow``).
Firestore sends a snapshot per batch of changes: writes to one document in quick
succession may come as one ``modified`` (docs/live-queries.md).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from crossql import ir
from crossql.backends import Plan
from crossql.backends.firestore.plan import FirestorePlan
from crossql.backends.firestore.results import plain as _plain
from crossql.backends.firestore.store import FirestoreStore
from crossql.errors import BackendError
from crossql.runtime.watch import UNKNOWN, Feed, Source

FIRST_SNAPSHOT_SECONDS = 30.0
"""How long a watch waits for the listener's first snapshot when it starts."""


def open_source(store: Any, query: ir.Query, plan: Plan, resume_after: Any) -> Source:
    """A snapshot listener on ``plan``'s query."""
    if not isinstance(store, FirestoreStore):
        raise TypeError(f"a Firestore watch runs on a Firestore store, not {type(store).__name__}")
    if not isinstance(plan, FirestorePlan):
        raise TypeError(f"a Firestore watch runs a Firestore plan, not {type(plan).__name__}")
    if resume_after is not None:
        raise BackendError("firestore", "a Firestore listener cannot resume from a token: "
                           "a new watch starts with a new snapshot (initial=True reports it)")
    return FirestoreSource(store, plan)


class FirestoreSource(Source):
    """The listener and the sync client it runs on."""

    def __init__(self, store: FirestoreStore, plan: FirestorePlan) -> None:
        self.store = store
        self.plan = plan
        self._client: Any = None
        self._listener: Any = None
        self._feed: Feed | None = None
        self._first: asyncio.Event | None = None
        self._initial = False

    def _sync_client(self) -> Any:
        from google.cloud.firestore import Client

        base = self.store.client
        client = Client(project=base.project, credentials=base._credentials,
                        database=base._database)
        emulator = getattr(base, "_emulator_host", None)
        if emulator:
            client._emulator_host = emulator
        return client

    async def start(self, feed: Feed, *, initial: bool) -> None:
        from crossql.backends.firestore._driver import build

        loop = asyncio.get_running_loop()
        self._feed = feed
        self._first = asyncio.Event()
        self._initial = initial

        def on_snapshot(_docs: Any, changes: Any, _read_time: Any) -> None:
            # the listener's thread: copy what is needed, hand it to the loop
            batch = [(c.type.name, c.document.id,
                      {"_id": c.document.id, **_plain(c.document.to_dict() or {})})
                     for c in changes]
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody listens
                loop.call_soon_threadsafe(self._deliver, batch)

        try:
            self._client = self._sync_client()
            query = build(self.plan, self._client)
            self._listener = query.on_snapshot(on_snapshot)
            async with asyncio.timeout(FIRST_SNAPSHOT_SECONDS):
                await self._first.wait()
        except BaseException as err:
            await self.stop()
            if isinstance(err, TimeoutError):
                raise BackendError("firestore", "the listener sent no first snapshot in "
                                   f"{FIRST_SNAPSHOT_SECONDS:.0f} s") from err
            if isinstance(err, Exception) and not isinstance(err, BackendError):
                raise BackendError("firestore", f"{type(err).__name__}: {err}") from err
            raise

    def _deliver(self, batch: list[tuple[str, str, dict[str, Any]]]) -> None:
        feed, first = self._feed, self._first
        if feed is None or first is None:
            return
        if not first.is_set():  # the first snapshot: what matches when the watch starts
            first.set()
            if self._initial:
                feed.buffer.preload([feed.initial(doc_id, doc) for _, doc_id, doc in batch])
            else:
                for _, doc_id, doc in batch:
                    feed.classify(doc_id, None, doc)  # tracks the matching ids
            return
        for kind, doc_id, doc in batch:
            feed.offer(doc_id, UNKNOWN, None if kind == "REMOVED" else doc)
        if feed.buffer.closed:
            self._unsubscribe()

    def _unsubscribe(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(Exception):
                listener.unsubscribe()

    async def stop(self) -> None:
        self._feed = None
        listener, self._listener = self._listener, None
        client, self._client = self._client, None
        if listener is not None:
            # unsubscribe joins the listener's thread: not on the loop
            await asyncio.to_thread(lambda: listener.unsubscribe())
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()
