"""Live queries on MongoDB: a change stream on the collection.

Each event is classified with the reference semantics (``runtime/watch.py``) on the
document before and after it:

- with pre-images (the collection created with ``create_collection(name,
  stream=True)``, i.e. ``changeStreamPreAndPostImages`` enabled), the state before
  is the event's ``fullDocumentBeforeChange`` and the state after an update is that
  pre-image with the event's ``updateDescription`` applied: exact, and a resumed
  watch needs nothing else;
- without them, whether the document matched before is tracked client-side by id
  (seeded with the matching ids when the watch starts), and the state after an
  update is the ``updateLookup`` copy — the document as it is when the event is
  read, which may already hold a later change (docs/live-queries.md).

Change streams need a replica set (or a sharded cluster); a standalone server is
refused with an error saying so. The ``where`` is not pushed into the stream's
``$match``: an update event does not carry the document after the change, so a
filter on it would not be exact; every insert, update, replace and delete of the
collection is read and classified here.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from crossql import ir
from crossql.backends import Plan
from crossql.backends.mongodb.store import MongoStore, _plain
from crossql.errors import BackendError
from crossql.runtime.watch import UNKNOWN, Feed, Source

_OPERATIONS = ["insert", "update", "replace", "delete", "drop", "invalidate"]
_WAIT_MS = 200
"""How long the server holds a ``getMore`` on the stream with nothing new."""
_STOP_SECONDS = 5.0
"""How long closing waits for the stream's reader to end."""
_NOT_A_REPLICA_SET = 40573
"""The server's code for ``$changeStream`` on a standalone server."""

REPLICA_SET_NEEDED = (
    "live queries on MongoDB read a change stream, which needs a replica set or a "
    "sharded cluster; this server is standalone (start mongod with --replSet NAME and "
    "run rs.initiate() once: a single-node replica set is enough)")


def open_source(store: Any, query: ir.Query, plan: Plan, resume_after: Any) -> Source:
    """A change stream on ``query``'s collection."""
    if not isinstance(store, MongoStore):
        raise TypeError(f"a MongoDB watch runs on a MongoDB store, not {type(store).__name__}")
    return MongoSource(store, query, plan, resume_after)


def apply_update(before: dict[str, Any], description: dict[str, Any]) -> dict[str, Any]:
    """The document after an update event: its pre-image with the event's
    ``updateDescription`` (updated and removed fields by dotted path, truncated arrays)
    applied (https://www.mongodb.com/docs/manual/reference/change-events/update/)."""
    doc: dict[str, Any] = _copy(before)
    for path, value in (description.get("updatedFields") or {}).items():
        *parents, last = path.split(".")
        target = _walk(doc, parents)
        if isinstance(target, list):
            index = int(last)
            target.extend([None] * (index + 1 - len(target)))
            target[index] = value
        elif isinstance(target, dict):
            target[last] = value
    for path in description.get("removedFields") or []:
        *parents, last = path.split(".")
        target = _walk(doc, parents)
        if isinstance(target, dict):
            target.pop(last, None)
    for truncated in description.get("truncatedArrays") or []:
        target = _walk(doc, truncated["field"].split("."))
        if isinstance(target, list):
            del target[truncated["newSize"]:]
    return doc


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _walk(doc: Any, segments: list[str]) -> Any:
    current = doc
    for seg in segments:
        if isinstance(current, list) and seg.isdigit() and int(seg) < len(current):
            current = current[int(seg)]
        elif isinstance(current, dict) and seg in current:
            current = current[seg]
        else:
            return None
    return current


class MongoSource(Source):
    """One change stream, read by a task that waits while the watch's buffer is full."""

    def __init__(self, store: MongoStore, query: ir.Query, plan: Plan, resume_after: Any) -> None:
        self.store = store
        self.query = query
        self.plan = plan
        self.resume_after = resume_after
        self.pre_images = False
        self._stream: Any = None
        self._task: asyncio.Task[None] | None = None

    async def _has_pre_images(self) -> bool:
        cursor = await self.store.database.list_collections(
            filter={"name": self.query.collection})
        async for info in cursor:
            images = (info.get("options") or {}).get("changeStreamPreAndPostImages") or {}
            return bool(images.get("enabled"))
        return False

    async def _open_stream(self) -> Any:
        options: dict[str, Any] = {"full_document": "updateLookup"}
        if self.pre_images:
            options["full_document_before_change"] = "required"
        if self.resume_after is not None:
            options["resume_after"] = self.resume_after
        pipeline = [{"$match": {"operationType": {"$in": _OPERATIONS}}}]
        return await self.store.database[self.query.collection].watch(
            pipeline, max_await_time_ms=_WAIT_MS, **options)

    async def start(self, feed: Feed, *, initial: bool) -> None:
        try:
            hello = await self.store.database.client.admin.command("hello")
            if not hello.get("setName") and hello.get("msg") != "isdbgrid":
                raise BackendError("mongodb", REPLICA_SET_NEEDED)
            self.pre_images = await self._has_pre_images()
            self._stream = await self._open_stream()
        except BackendError:
            raise
        except Exception as err:
            if getattr(err, "code", None) == _NOT_A_REPLICA_SET:
                raise BackendError("mongodb", REPLICA_SET_NEEDED) from err
            raise BackendError("mongodb", f"{type(err).__name__}: {err}") from err
        # the stream is open: what matches now is read after its start point, before
        # watch() returns (held in memory as fetch() holds it)
        try:
            if initial:
                feed.buffer.preload([feed.initial(doc["_id"], doc)
                                     async for doc in self.store.run_plan(self.plan)])
            elif not self.pre_images and self.resume_after is None:
                async for doc in self.store.run_plan(self.plan):
                    feed.classify(doc["_id"], None, doc)  # tracks the matching ids
        except BaseException:
            await self.stop()
            raise
        self._task = asyncio.create_task(self._pump(feed))

    async def _pump(self, feed: Feed) -> None:
        try:
            while True:
                # try_next with the server's short wait rather than next(): a task
                # cancelled inside PyMongo's next() may not end (it retries)
                event = await self._stream.try_next()
                if event is not None:
                    await self._event(feed, event)
        except asyncio.CancelledError:
            raise
        except BackendError as err:
            feed.buffer.fail(err)
        except Exception as err:  # the stream broke (and PyMongo's own resume failed)
            feed.buffer.fail(BackendError("mongodb", f"the change stream ended: "
                                          f"{type(err).__name__}: {err}"))

    async def _event(self, feed: Feed, event: dict[str, Any]) -> None:
        op = event["operationType"]
        token = event["_id"]
        if op in ("drop", "invalidate"):
            for doc_id in feed.member_ids():
                await feed.put(doc_id, UNKNOWN, None, token)
            if op == "invalidate":
                raise BackendError("mongodb", f"the collection {self.query.collection!r} "
                                   "was dropped or renamed: its change stream ended")
            return
        doc_id = _plain(event["documentKey"])["_id"]
        full = event.get("fullDocument")
        after = None if full is None else _plain(full)
        before: Any
        if op == "insert":
            before = None
        elif self.pre_images:
            pre = event.get("fullDocumentBeforeChange")
            before = None if pre is None else _plain(pre)
            if op == "update" and before is not None:
                after = apply_update(before, _plain(event.get("updateDescription") or {}))
        else:
            before = UNKNOWN
        if op == "delete":
            after = None
        await feed.put(doc_id, before, after, token)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.wait({task}, timeout=_STOP_SECONDS)
        stream, self._stream = self._stream, None
        if stream is not None:
            with contextlib.suppress(Exception):
                await stream.close()
