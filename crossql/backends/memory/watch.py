"""Live queries on the memory store: the store tells its watches after each write.

The oracle of the other backends' watches: every write (an insert, an ``update`` or
``delete``, ``delete_many``, a dropped collection, a committed transaction) is
compared with the collection as the watch last saw it, document by document. A
memory store replaces a document when it changes it (never in place), so a changed
document is one that is not the same object any more.
"""

from __future__ import annotations

from typing import Any

from crossql import ir
from crossql.backends import Plan
from crossql.backends.memory.store import MemoryStore
from crossql.errors import BackendError
from crossql.runtime.store import Document
from crossql.runtime.watch import Feed, Source, matches


def open_source(store: Any, query: ir.Query, plan: Plan, resume_after: Any) -> Source:
    """The memory store's change source for ``query``'s collection."""
    if resume_after is not None:
        raise BackendError("memory", "a memory store keeps no change history: a watch "
                           "cannot resume (resume_after=)")
    if not isinstance(store, MemoryStore):
        raise TypeError(f"a memory watch runs on a memory store, not {type(store).__name__}")
    return MemorySource(store, query.collection)


class MemorySource(Source):
    """Diffs the watched collection after each write of the store."""

    def __init__(self, store: MemoryStore, collection: str) -> None:
        self.store = store
        self.collection = collection
        self._seen: dict[Any, Document] = {}
        self._feed: Feed | None = None

    def _current(self) -> dict[Any, Document]:
        return dict(self.store._read(self.collection) or {})

    async def start(self, feed: Feed, *, initial: bool) -> None:
        self._feed = feed
        self._seen = self._current()
        if initial:
            feed.buffer.preload([feed.initial(doc["_id"], doc) for doc in self._seen.values()
                                 if matches(feed.query, doc)])
        else:
            for doc in self._seen.values():
                feed.classify(doc["_id"], None, doc)  # only tracks the matching ids
        self.store._listeners.setdefault(self.collection, []).append(self._changed)

    def _changed(self) -> None:
        feed = self._feed
        if feed is None:
            return
        now = self._current()
        for key, old in self._seen.items():
            if key not in now:
                feed.offer(old["_id"], old, None)
        for key, doc in now.items():
            before = self._seen.get(key)
            if before is not doc:
                feed.offer(doc["_id"], before, doc)
        self._seen = now
        if feed.buffer.closed:  # overflowed: let go of the store
            self._release()

    def _release(self) -> None:
        listeners = self.store._listeners.get(self.collection, [])
        if self._changed in listeners:
            listeners.remove(self._changed)
        if not listeners:
            self.store._listeners.pop(self.collection, None)

    async def stop(self) -> None:
        self._feed = None
        self._release()
