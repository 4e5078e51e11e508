"""Live queries on DynamoDB: the table's stream (DynamoDB Streams).

The table needs a stream of view type ``NEW_AND_OLD_IMAGES`` (``create_collection(name,
stream=True)``); without one the watch is refused with an error naming the fix. Every
shard of the stream is read by a task of its own (a closed shard's children are
followed once it is read to its end), and each record's old and new images are
classified with the reference semantics (``runtime/watch.py``).

A change's resume token maps each shard read so far to the sequence number of its
last record read; ``resume_after=token`` reads each of those shards after that
record, and any other shard from its start (its records still kept: 24 hours).
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Streams.html
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any

from crossql import ir
from crossql.backends import Plan
from crossql.backends.dynamodb.store import DynamoStore
from crossql.backends.dynamodb.store_base import STREAM_SPECIFICATION, _driver_error, _session
from crossql.errors import BackendError
from crossql.runtime.watch import Feed, Source

IDLE_POLL = 0.1
"""Seconds a shard's reader waits after an empty ``GetRecords`` (AWS allows 5 calls a
second per shard)."""
DISCOVER_EVERY = 20
"""Empty polls of a shard between looks for new shards (a split)."""


def no_stream(table: str, collection: str) -> BackendError:
    """The error for a table without the stream a live query reads."""
    return BackendError("dynamodb", (
        f"table {table} has no NEW_AND_OLD_IMAGES stream, which live queries read: create "
        f"it with `await store.create_collection({collection!r}, stream=True)`, or enable "
        "one with UpdateTable StreamSpecification={StreamEnabled: true, StreamViewType: "
        "NEW_AND_OLD_IMAGES}"))


def open_source(store: Any, query: ir.Query, plan: Plan, resume_after: Any) -> Source:
    """A reader of the stream of ``query``'s table."""
    if not isinstance(store, DynamoStore):
        raise TypeError(f"a DynamoDB watch runs on a DynamoDB store, not {type(store).__name__}")
    if resume_after is not None and not (
            isinstance(resume_after, Mapping)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in resume_after.items())):
        raise BackendError("dynamodb", "resume_after= takes the token of a DynamoDB change "
                           "(a map of shard ids to sequence numbers)")
    return DynamoSource(store, query, plan, resume_after)


def _mended(item: dict[str, Any]) -> dict[str, Any]:
    """An image whose empty maps are typed again: the stream's records (DynamoDB Local
    3.3, through botocore) give an empty map as ``{}`` rather than ``{"M": {}}``."""
    return {name: _mended_value(av) for name, av in item.items()}


def _mended_value(av: Any) -> Any:
    if not av:
        return {"M": {}}
    if "M" in av:
        return {"M": _mended(av["M"])}
    if "L" in av:
        return {"L": [_mended_value(v) for v in av["L"]]}
    return av


class DynamoSource(Source):
    """One task per shard; positions shared, so each change's token covers every shard."""

    def __init__(self, store: DynamoStore, query: ir.Query, plan: Plan, resume_after: Any
                 ) -> None:
        self.store = store
        self.query = query
        self.plan = plan
        self.resume_after: dict[str, str] = dict(resume_after or {})
        self.positions: dict[str, str] = dict(self.resume_after)
        self._context: Any = None
        self._client: Any = None
        self._arn = ""
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._known: set[str] = set()
        """Shards there when the watch started, or since started."""
        self._finished: set[str] = set()
        """Shards read to their end (closed): their children are read next."""
        self._feed: Feed | None = None

    async def _stream_arn(self) -> str:
        table = self.store.table_name(self.query.collection)
        try:
            answer = await self.store.client.describe_table(TableName=table)
        except Exception as err:
            error = _driver_error(err)
            if error.code == "ResourceNotFoundException":
                raise BackendError("dynamodb", f"table {table} does not exist") from err
            raise error from err
        spec = answer["Table"].get("StreamSpecification") or {}
        arn = answer["Table"].get("LatestStreamArn")
        if not arn or not spec.get("StreamEnabled") or \
                spec.get("StreamViewType") != STREAM_SPECIFICATION["StreamViewType"]:
            raise no_stream(table, self.query.collection)
        return str(arn)

    async def _shards(self) -> list[dict[str, Any]]:
        shards: list[dict[str, Any]] = []
        request: dict[str, Any] = {"StreamArn": self._arn}
        while True:
            answer = (await self._client.describe_stream(**request))["StreamDescription"]
            shards += answer.get("Shards") or []
            last = answer.get("LastEvaluatedShardId")
            if not last:
                return shards
            request["ExclusiveStartShardId"] = last

    async def _iterator(self, shard_id: str, kind: str, sequence: str | None = None) -> Any:
        request = {"StreamArn": self._arn, "ShardId": shard_id, "ShardIteratorType": kind}
        if sequence is not None:
            request["SequenceNumber"] = sequence
        return (await self._client.get_shard_iterator(**request)).get("ShardIterator")

    async def start(self, feed: Feed, *, initial: bool) -> None:
        import aioboto3  # type: ignore[import-untyped]

        self._feed = feed
        self._arn = await self._stream_arn()
        cfg = self.store._config
        session = await _session(aioboto3, cfg)
        context = session.client("dynamodbstreams", endpoint_url=cfg.endpoint_url)
        try:
            self._client = await context.__aenter__()
            self._context = context
            # the iterators are taken before the current matches are read: the watch
            # starts here
            starts = []
            for shard in await self._shards():
                shard_id = shard["ShardId"]
                self._known.add(shard_id)
                if shard_id in self.resume_after:
                    it = await self._iterator(shard_id, "AFTER_SEQUENCE_NUMBER",
                                              self.resume_after[shard_id])
                elif self.resume_after:
                    it = await self._iterator(shard_id, "TRIM_HORIZON")
                elif "EndingSequenceNumber" in shard.get("SequenceNumberRange", {}):
                    continue  # closed before the watch: history
                else:
                    it = await self._iterator(shard_id, "LATEST")
                starts.append((shard_id, it))
            if initial:
                feed.buffer.preload([feed.initial(doc["_id"], doc)
                                     async for doc in self.store.run_plan(self.plan)])
        except BaseException as err:
            await self.stop()
            if isinstance(err, Exception) and not isinstance(err, BackendError):
                raise _driver_error(err) from err
            raise
        for shard_id, it in starts:
            self._read(shard_id, it)

    def _read(self, shard_id: str, iterator: Any) -> None:
        if shard_id not in self._tasks and self._feed is not None:
            self._tasks[shard_id] = asyncio.create_task(self._pump(shard_id, iterator))

    async def _pump(self, shard_id: str, iterator: Any) -> None:
        feed = self._feed
        assert feed is not None
        try:
            idle = 0
            while iterator is not None:
                answer = await self._client.get_records(ShardIterator=iterator)
                for record in answer.get("Records") or ():
                    await self._record(feed, shard_id, record)
                iterator = answer.get("NextShardIterator")
                if answer.get("Records"):
                    idle = 0
                    continue
                idle += 1
                if idle % DISCOVER_EVERY == 0:
                    await self._discover()
                await asyncio.sleep(IDLE_POLL)
            self._finished.add(shard_id)
            await self._discover()  # the shard is closed: read its children
        except asyncio.CancelledError:
            raise
        except BackendError as err:
            feed.buffer.fail(err)
        except Exception as err:
            feed.buffer.fail(BackendError("dynamodb", "the stream's reader stopped: "
                                          f"{_driver_error(err)}"))

    async def _discover(self) -> None:
        """Start reading the shards that appeared since the watch started (a split), each
        once its parent, if this watch reads it, is read to its end."""
        for shard in await self._shards():
            shard_id = shard["ShardId"]
            parent = shard.get("ParentShardId")
            if shard_id in self._known or (parent in self._known and parent not in self._finished):
                continue
            self._known.add(shard_id)
            self._read(shard_id, await self._iterator(shard_id, "TRIM_HORIZON"))

    async def _record(self, feed: Feed, shard_id: str, record: dict[str, Any]) -> None:
        data = record["dynamodb"]
        old, new = data.get("OldImage"), data.get("NewImage")
        before = None if old is None else self.store._document(_mended(old))
        after = None if new is None else self.store._document(_mended(new))
        self.positions[shard_id] = data["SequenceNumber"]
        doc_id = (after or before or {}).get("_id")
        await feed.put(doc_id, before, after, dict(self.positions))

    async def stop(self) -> None:
        self._feed = None
        tasks, self._tasks = list(self._tasks.values()), {}
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        context, self._context, self._client = self._context, None, None
        if context is not None:
            with contextlib.suppress(Exception):
                await context.__aexit__(None, None, None)

