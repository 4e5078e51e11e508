"""The MongoDB runtime: runs ``MongoPlan`` with PyMongo's native async client.

``pymongo.AsyncMongoClient`` is the driver (Motor is deprecated since May 2025).
An existing Motor client or database object is accepted too, since running
applications still hold one: the two APIs differ only in that Motor's
``aggregate`` returns a cursor where PyMongo's must be awaited first (and, for
transactions, ``start_session`` is awaited where ``start_transaction`` is not).

Transactions (``store.transaction()``): a client session with a transaction in
snapshot isolation; the transaction's view is a ``MongoStore`` that passes the
session to every call. See docs/transactions.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from datetime import UTC
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from crossql import ir
from crossql.backends import Plan
from crossql.backends.mongodb.compiler import compile_mongodb
from crossql.backends.mongodb.plan import MongoPlan
from crossql.backends.mongodb.values import decimal_fits, exact_sum, unfit_decimal
from crossql.backends.mongodb.writes import MongoWritePlan
from crossql.errors import BackendError, TransactionConflict
from crossql.runtime import observe
from crossql.runtime.store import Document, Store, with_id_first
from crossql.runtime.transaction import TransactionScope, backoff
from crossql.semantics.writes import WriteResult

if TYPE_CHECKING:
    from crossql.backends.mongodb.config import MongoConfig
    from crossql.indexes.ensure import IndexOutcome


def _driver_error(err: Exception) -> BackendError:
    if isinstance(err, BackendError):  # already ours: wrapping it again doubles the prefix
        return err
    return BackendError("mongodb", f"{type(err).__name__}: {err}")


TRANSIENT = "TransientTransactionError"
"""The error label of a transaction the server aborted (a write conflict, a lost
connection...): the whole transaction can be run again."""
UNKNOWN_COMMIT = "UnknownTransactionCommitResult"
"""The error label of a commit whose outcome is unknown: the commit can be sent again."""
COMMIT_ATTEMPTS = 4
"""Sends of ``commitTransaction`` while its outcome is unknown (PyMongo itself retries
each send once after a retryable error)."""
_MAX_TIME_EXPIRED = 50
"""MaxTimeMSExpired: labelled unknown, but sending the commit again cannot help
(PyMongo's ``with_transaction`` does not retry it either)."""


def _labelled(err: BaseException, label: str) -> bool:
    has = getattr(err, "has_error_label", None)
    return bool(has(label)) if has is not None else False


async def _maybe_await(value: Any) -> Any:
    """PyMongo's async and Motor's APIs differ in which session calls are coroutines."""
    return await value if inspect.isawaitable(value) else value


_SCALARS = frozenset({str, int, float, bool, type(None)})


def _is_plain(items: Iterable[Any]) -> bool:
    """Whether the values hold only plain dicts, lists and scalars (nothing to convert)."""
    scalars = _SCALARS
    for v in items:
        kind = type(v)
        if kind in scalars:
            continue
        if kind is dict:
            if not _is_plain(v.values()):
                return False
        elif kind is not list or not _is_plain(v):
            return False
    return True


def _at(doc: Any, field: str) -> Any:
    """The value at a dotted MongoDB path of a (projected) document, or None."""
    for part in field.split("."):
        if isinstance(doc, dict):
            doc = doc.get(part)
        elif isinstance(doc, list) and part.isdigit() and int(part) < len(doc):
            doc = doc[int(part)]
        else:
            return None
    return doc


def _plain(value: Any) -> Any:
    """BSON values → CrossQL's: Decimal128 → Decimal, nested too; an ObjectId stays one
    (binding it finds the document again: docs/backends/mongodb.md, "Value kinds").

    A document the driver gave us whose values are already plain (nested maps and
    lists included) is returned as it is (each row is a fresh dict): no copy on the
    common path."""
    if type(value) is dict and _is_plain(value.values()):
        return value
    return _converted(value)


def with_codec(database: Any) -> Any:
    """``database`` reading BSON dates as aware UTC ``datetime``s and writing a
    ``Decimal`` as ``Decimal128`` (and reading one back as ``Decimal``), whatever codec
    options the client was opened with."""
    from bson.codec_options import TypeDecoder, TypeEncoder, TypeRegistry
    from bson.decimal128 import Decimal128

    class DecimalCodec(TypeEncoder, TypeDecoder):
        python_type = Decimal
        bson_type = Decimal128

        def transform_python(self, value: Decimal) -> Decimal128:
            return Decimal128(value)

        def transform_bson(self, value: Decimal128) -> Decimal:
            return value.to_decimal()

    options = database.codec_options.with_options(
        tz_aware=True, tzinfo=UTC, type_registry=TypeRegistry([DecimalCodec()]))
    return database.with_options(codec_options=options)


def _converted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _converted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_converted(v) for v in value]
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    name = type(value).__name__
    if name == "Decimal128":  # (kept when a codec without our registry read it)
        return value.to_decimal()
    return value


_END = object()
"""No first document: the cursor was empty."""

_CHUNK = 1000
"""Documents a stream takes from the cursor at a time (its first batch aside)."""


async def _close(cursor: Any) -> None:
    """Close a PyMongo async or Motor cursor (killCursors when the server still has it)."""
    close = getattr(cursor, "close", None)
    if close is not None:
        result = close()
        if inspect.isawaitable(result):
            await result


class MongoStore(Store):
    """A store backed by one MongoDB database."""

    driver = "mongodb"

    def __init__(self, config: MongoConfig | None = None, *, client: Any = None,
                 database: Any = None, plan_cache_size: int = 256) -> None:
        super().__init__(plan_cache_size=plan_cache_size)
        self._config = config
        self._client = client
        self._db = database
        self._owns_client = False
        self._in: dict[str, Any] = {}
        """Extra arguments of every driver call (``session=`` inside a transaction)."""

    @classmethod
    def from_client(cls, client_or_db: Any, database: str | None = None) -> MongoStore:
        """A store over an existing PyMongo async or Motor client (or database) object."""
        # look on the class: database objects answer any attribute with a collection
        kind = type(client_or_db)
        if hasattr(kind, "list_collection_names") and not hasattr(kind, "list_database_names"):
            return cls(client=client_or_db.client, database=with_codec(client_or_db))
        if database is None:
            raise ValueError("pass database=... with a client object")
        return cls(client=client_or_db, database=with_codec(client_or_db[database]))

    # -- lifecycle ----------------------------------------------------------------
    async def open(self) -> None:
        if self._db is not None:
            return
        cfg = self._config
        if cfg is None:
            raise BackendError("mongodb", "no configuration and no client given")
        try:
            from pymongo import AsyncMongoClient
        except ImportError as err:  # pragma: no cover - depends on the installed extras
            raise BackendError("mongodb", "the MongoDB driver is missing: "
                               "pip install 'crossql[mongodb]'") from err
        self._client = AsyncMongoClient(cfg.uri, **cfg.client_options())
        self._owns_client = True
        self._db = with_codec(self._client[cfg.database])

    async def close(self) -> None:
        if self._owns_client and self._client is not None:
            await self._client.close()
            self._client = None
            self._db = None

    @property
    def database(self) -> Any:
        """The driver's database object (after ``open``)."""
        if self._db is None:
            raise BackendError("mongodb", "the store is not open: use `async with store:`")
        return self._db

    # -- errors ---------------------------------------------------------------------------
    def _check(self) -> None:
        """Refuse a call before it is sent (a transaction the server already aborted)."""

    def _error(self, err: Exception) -> BackendError:
        """The error to raise for a driver error."""
        return _driver_error(err)

    # -- plans --------------------------------------------------------------------------
    def _plan(self, plan: Plan) -> MongoPlan:
        if not isinstance(plan, MongoPlan):
            raise TypeError(f"the MongoDB store runs MongoDB plans, not {type(plan).__name__}")
        return plan

    async def _cursor(self, plan: MongoPlan) -> Any:
        coll = self.database[plan.collection]
        if plan.kind == "find":
            return coll.find(**plan.arguments(), **self._in)
        cursor = coll.aggregate(list(plan.pipeline), **self._in)
        if inspect.isawaitable(cursor):  # PyMongo async; Motor returns the cursor
            cursor = await cursor
        return cursor

    async def _open(self, plan: MongoPlan) -> tuple[Any, Any]:
        """The cursor and its first document (``_END`` when there is none)."""
        cursor = await self._cursor(plan)
        try:
            return cursor, await anext(aiter(cursor))
        except StopAsyncIteration:
            return cursor, _END
        except BaseException:
            await _close(cursor)
            raise

    async def _opened(self, plan: MongoPlan) -> tuple[Any, Any]:
        """``_open``, shielded from cancellation: while the find (or aggregate) is in
        flight the server holds a cursor whose id the client does not know yet, so a
        cancelled request would leave it open for the server's idle timeout (10 min).
        A cancellation waits for the reply (bounded by the socket timeout), closes that
        cursor, then goes on."""
        opening = asyncio.ensure_future(self._open(plan))
        try:
            return await asyncio.shield(opening)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                cursor, _first = await opening
                await _close(cursor)
            raise

    async def run_plan(self, plan: Plan) -> AsyncIterator[Document]:
        mplan = self._plan(plan)
        self._check()
        try:
            cursor, first = await self._opened(mplan)
        except Exception as err:
            raise self._error(err) from err
        seen = first is not _END
        observe.sent(1, int(seen))  # the find/aggregate and its first document
        try:
            if seen:
                yield _plain(first)
                # whole batches (`to_list(n)`: what the driver holds, then getMore), not a
                # driver call per document: `async for` over a cursor costs a few µs a row
                to_list = getattr(cursor, "to_list", None)
                if to_list is None:  # pragma: no cover - every supported driver has it
                    async for doc in cursor:
                        yield _plain(doc)
                else:
                    while batch := await to_list(_CHUNK):
                        observe.sent(0, len(batch))
                        for doc in batch:
                            yield _plain(doc)
        except BackendError:
            raise
        except Exception as err:
            if type(err).__module__.startswith(("pymongo", "bson", "motor")):
                raise self._error(err) from err
            raise
        finally:
            await _close(cursor)
        if not seen and mplan.empty_row is not None:
            yield dict(mplan.empty_row)

    async def count_plan(self, plan: Plan) -> int:
        mplan = self._plan(plan)
        self._check()
        coll = self.database[mplan.collection]
        observe.sent()
        try:
            if mplan.kind == "find":
                kwargs: dict[str, Any] = dict(self._in)
                if mplan.skip:
                    kwargs["skip"] = mplan.skip
                if mplan.limit is not None:
                    kwargs["limit"] = mplan.limit
                return int(await coll.count_documents(mplan.filter or {}, **kwargs))
            cursor = coll.aggregate(mplan.count_pipeline(), **self._in)
            if inspect.isawaitable(cursor):
                cursor = await cursor
            rows = [doc async for doc in cursor]
        except Exception as err:
            raise self._error(err) from err
        n = int(rows[0]["n"]) if rows else 0
        return 1 if n == 0 and mplan.empty_row is not None else n

    # -- writes ---------------------------------------------------------------------------
    async def execute_plan(self, plan: Plan) -> WriteResult:
        if not isinstance(plan, MongoWritePlan):
            raise TypeError(f"the MongoDB store runs MongoDB plans, not {type(plan).__name__}")
        self._check()
        coll = self.database[plan.collection]
        kw = self._in
        try:
            if plan.kind == "nothing":
                return WriteResult()
            if plan.overflow is not None:
                await self._check_increments(coll, plan)
            filt: dict[str, Any] = plan.filter
            if plan.kind.startswith("find_then"):
                cursor = coll.find(plan.filter, {"_id": 1}, **kw).limit(plan.limit or 0)
                ids = [doc["_id"] async for doc in cursor]
                observe.sent(1, len(ids))
                if not ids:
                    return WriteResult()
                filt = {"$and": [{"_id": {"$in": ids}}, plan.filter]}
            observe.sent()  # the update or delete command
            if plan.update is not None:
                one = plan.kind == "update_one"
                result = await (coll.update_one(filt, plan.update, **kw) if one
                                else coll.update_many(filt, plan.update, **kw))
                return WriteResult(matched=int(result.matched_count),
                                   modified=int(result.modified_count))
            one = plan.kind == "delete_one"
            result = await (coll.delete_one(filt, **kw) if one else coll.delete_many(filt, **kw))
            deleted = int(result.deleted_count)
            return WriteResult(matched=deleted, deleted=deleted)
        except BackendError:
            raise
        except Exception as err:
            raise self._error(err) from err

    # -- documents ------------------------------------------------------------------------
    async def _check_increments(self, coll: Any, plan: MongoWritePlan) -> None:
        """Refuse, before anything is written, an increment whose result on a matched
        document is not the reference's: past the finite numbers or the 64-bit range
        (``plan.overflow``), or a decimal sum past the 34 digits ``Decimal128`` keeps
        (``$inc`` would round it). One look in the common case: the second runs only
        where a document holds a decimal (or the amount is one)."""
        assert plan.update is not None
        incs: dict[str, Any] = plan.update.get("$inc", {})
        kw = self._in
        decimal = {"$and": [plan.filter, {"$or": [
            {field: {"$type": "number" if isinstance(amount, Decimal) else "decimal"}}
            for field, amount in incs.items()]}]}
        fields = {"_id": 1, **dict.fromkeys(incs, 1)}
        observe.sent()
        if await coll.find_one({"$or": [plan.overflow, decimal]}, {"_id": 1}, **kw) is None:
            return
        observe.sent()
        if await coll.find_one(plan.overflow, {"_id": 1}, **kw) is not None:
            raise BackendError("mongodb", "an increment would leave the finite "
                               "numbers (or an integer the 64-bit range) on a "
                               "matched document; nothing was written")
        observe.sent()
        async for doc in coll.find(decimal, fields, **kw):
            for field, amount in incs.items():
                total = exact_sum(_at(doc, field), amount)
                if total is not None and not decimal_fits(total):
                    raise BackendError(
                        "mongodb", f"`{field} + {amount}` is {total} on document "
                        f"{_plain(doc['_id'])!r}, past the 34 digits a Decimal128 keeps "
                        "(MongoDB would round it); nothing was written — round the amount "
                        "or the stored number to fewer digits")

    async def insert_documents(self, collection: str, docs: list[Document]) -> list[Any]:
        self._check()
        for doc in docs:
            bad = unfit_decimal(doc)
            if bad is not None:
                raise BackendError("mongodb", f"document {doc.get('_id')!r} holds {bad}, "
                                   "which a Decimal128 (34 digits) cannot keep exactly; "
                                   "nothing was written — round it to 34 significant digits")
        try:
            await self.database[collection].insert_many([dict(d) for d in docs], ordered=True,
                                                        **self._in)
        except Exception as err:
            raise self._error(err) from err
        return [d["_id"] for d in docs]

    async def get_document(self, collection: str, doc_id: Any) -> Document | None:
        self._check()
        try:
            doc = await self.database[collection].find_one({"_id": {"$eq": doc_id}}, **self._in)
        except Exception as err:
            raise self._error(err) from err
        return None if doc is None else with_id_first(_plain(doc), _plain(doc["_id"]))

    async def delete_where(self, collection: str, query: ir.Query) -> int:
        plan = compile_mongodb(ir.Query(collection, where=query.where, source=query.source))
        self._check()
        try:
            result = await self.database[collection].delete_many(plan.filter or {}, **self._in)
        except Exception as err:
            raise self._error(err) from err
        return int(result.deleted_count)

    async def create_collection(self, name: str, *, stream: bool = False) -> None:
        """Create a collection explicitly (MongoDB also creates one on first write);
        ``stream=True``: with change-stream pre-images, which make its live queries exact
        (docs/live-queries.md)."""
        images = {"changeStreamPreAndPostImages": {"enabled": True}} if stream else {}
        try:
            if name not in await self.database.list_collection_names():
                await self.database.create_collection(name, **images)
            elif images:
                await self.database.command({"collMod": name, **images})
        except Exception as err:
            raise _driver_error(err) from err

    async def drop_collection(self, name: str) -> None:
        try:
            await self.database.drop_collection(name)
        except Exception as err:
            raise _driver_error(err) from err

    async def ensure_indexes(self, declared: Mapping[str, Sequence[Any]],
                             prune: bool = False) -> list[IndexOutcome]:
        """Create the declared indexes (``{collection: [declaration, ...]}``, as in the
        schema: docs/indexes.md) that no index of the collection has. Each outcome says
        ``exists``, ``created`` or ``differs`` (same keys or name, other options); the
        collection's other indexes are ``undeclared``, or ``dropped`` with ``prune``
        (never ``_id_``)."""
        from crossql.indexes.ensure import declared_for, ensure_mongo

        models = declared_for("mongodb", declared)
        try:
            return await ensure_mongo(self.database, models, prune)
        except BackendError:
            raise
        except Exception as err:
            raise _driver_error(err) from err

    def new_id(self) -> str:
        from bson import ObjectId

        return str(ObjectId())

    # -- transactions -----------------------------------------------------------------
    async def begin_transaction(self) -> TransactionScope:
        """A transaction in a client session: snapshot reads (read concern ``snapshot``,
        on the primary), writes committed with write concern ``majority``. A write
        conflict (at a read, a write or the commit) aborts it and raises
        ``TransactionConflict``; a commit whose outcome is unknown is sent again, at
        most ``COMMIT_ATTEMPTS`` times. Needs a replica set or a sharded cluster."""
        from pymongo import ReadPreference
        from pymongo.read_concern import ReadConcern
        from pymongo.write_concern import WriteConcern

        client = self.database.client
        try:
            session = await _maybe_await(client.start_session())
        except Exception as err:
            raise _driver_error(err) from err
        try:
            # PyMongo's start_transaction is a coroutine; Motor's returns a context
            # manager (not needed: the transaction has started when it returns)
            await _maybe_await(session.start_transaction(
                read_concern=ReadConcern("snapshot"), write_concern=WriteConcern("majority"),
                read_preference=ReadPreference.PRIMARY))
        except Exception as err:
            await _finish(session)
            raise _driver_error(err) from err
        return _MongoTransaction(_MongoView(self, session))


class _MongoView(MongoStore):
    """The store inside a transaction: every driver call passes the session."""

    def __init__(self, base: MongoStore, session: Any) -> None:
        super().__init__(base._config, client=base._client, database=base.database)
        base.share_with(self)
        self.session = session
        self._in = {"session": session}
        self.failure: BackendError | None = None
        """Why the server aborted the transaction, once it did: later calls and the
        commit raise it again instead of being sent."""
        self.turn = asyncio.Lock()
        """One call of the transaction at a time (``asyncio.gather`` of several would
        otherwise race: only the first command sent starts the transaction on the
        server, and one sent before it fails with NoSuchTransaction). The server runs
        a session's commands one at a time anyway."""

    def _failed(self) -> BackendError:
        assert self.failure is not None
        return type(self.failure)("mongodb", self.failure.message)

    def _check(self) -> None:
        if self.failure is not None:
            raise self._failed()

    def _error(self, err: Exception) -> BackendError:
        from pymongo.errors import ConnectionFailure, OperationFailure

        if self.failure is not None:
            return self._failed()
        detail = f"{type(err).__name__}: {err}"
        if _labelled(err, TRANSIENT):
            self.failure = TransactionConflict(
                "mongodb", f"the transaction conflicted with a concurrent change or lost "
                f"its server ({detail}); it was rolled back: nothing of it was written")
        elif isinstance(err, OperationFailure | ConnectionFailure):
            # the server aborts a transaction at any error of one of its commands
            hint = ""
            if getattr(err, "code", None) == 20:  # IllegalOperation: no transactions here
                hint = " (transactions need a replica set or a sharded cluster)"
            self.failure = BackendError(
                "mongodb", f"{detail}{hint}; the server aborted the transaction: "
                "nothing of it will be written")
        else:  # refused by the driver before it was sent: the transaction goes on
            return _driver_error(err)
        return self._failed()

    async def _opened(self, plan: MongoPlan) -> tuple[Any, Any]:
        # the stream's first batch; its later batches (getMore) need no turn: the
        # transaction has started by then
        async with self.turn:
            return await super()._opened(plan)

    async def count_plan(self, plan: Plan) -> int:
        async with self.turn:
            return await super().count_plan(plan)

    async def execute_plan(self, plan: Plan) -> WriteResult:
        async with self.turn:
            return await super().execute_plan(plan)

    async def insert_documents(self, collection: str, docs: list[Document]) -> list[Any]:
        async with self.turn:
            return await super().insert_documents(collection, docs)

    async def get_document(self, collection: str, doc_id: Any) -> Document | None:
        async with self.turn:
            return await super().get_document(collection, doc_id)

    async def delete_where(self, collection: str, query: ir.Query) -> int:
        async with self.turn:
            return await super().delete_where(collection, query)

    async def open(self) -> None:
        """The transaction's store is open while its base store is."""

    async def close(self) -> None:
        """The base store owns the client."""

    async def create_collection(self, name: str, *, stream: bool = False) -> None:
        raise BackendError("mongodb", "create_collection runs outside a transaction "
                           "(a first insert inside one creates the collection)")

    async def drop_collection(self, name: str) -> None:
        raise BackendError("mongodb", "MongoDB does not drop a collection inside a "
                           "transaction: drop it on the store, outside the transaction")

    async def begin_transaction(self) -> TransactionScope:
        raise BackendError("mongodb", "transactions do not nest")


async def _finish(session: Any) -> None:
    """Abort the session's transaction if it is still open, and end the session; never
    raises (a transaction the server does not hear of again is aborted when its
    session expires or the transaction outlives transactionLifetimeLimitSeconds)."""
    if getattr(session, "in_transaction", False):
        with contextlib.suppress(Exception):
            await _maybe_await(session.abort_transaction())
    with contextlib.suppress(Exception):
        await _maybe_await(session.end_session())


class _MongoTransaction(TransactionScope):
    def __init__(self, view: _MongoView) -> None:
        self.view = self._view = view

    async def commit(self) -> None:
        view = self._view
        try:
            view._check()
            await self._commit(view.session)
        finally:
            await _finish(view.session)

    @staticmethod
    async def _commit(session: Any) -> None:
        # MongoDB's retry logic for the core transaction API: send the commit again
        # while its result is unknown; a transient error means it was aborted
        # (https://www.mongodb.com/docs/manual/core/transactions-in-applications/)
        for attempt in range(1, COMMIT_ATTEMPTS + 1):
            try:
                await _maybe_await(session.commit_transaction())
                return
            except Exception as err:
                detail = f"{type(err).__name__}: {err}"
                unknown = (_labelled(err, UNKNOWN_COMMIT)
                           and getattr(err, "code", None) != _MAX_TIME_EXPIRED)
                if unknown and attempt < COMMIT_ATTEMPTS:
                    await asyncio.sleep(backoff(attempt))
                    continue
                if _labelled(err, TRANSIENT):
                    raise TransactionConflict(
                        "mongodb", f"the commit conflicted ({detail}); the transaction was "
                        "rolled back: nothing of it was written") from err
                if _labelled(err, UNKNOWN_COMMIT):
                    raise BackendError(
                        "mongodb", f"the outcome of the commit is still unknown after "
                        f"{attempt} attempts ({detail}): the transaction was written in full "
                        "or not at all; read to find out which") from err
                raise BackendError(
                    "mongodb", f"the commit failed ({detail}); nothing of the transaction "
                    "was written") from err

    async def abort(self) -> None:
        await _finish(self._view.session)
