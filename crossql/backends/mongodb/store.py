"""The MongoDB runtime: runs ``MongoPlan`` with PyMongo's native async client.

``pymongo.AsyncMongoClient`` is the driver (Motor is deprecated since May 2025).
An existing Motor client or database object is accepted too, since running
applications still hold one: the two APIs differ only in that Motor's
``aggregate`` returns a cursor where PyMongo's must be awaited first.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from crossql import ir
from crossql.backends import Plan
from crossql.backends.mongodb.compiler import compile_mongodb
from crossql.backends.mongodb.plan import MongoPlan
from crossql.backends.mongodb.writes import MongoWritePlan
from crossql.errors import BackendError
from crossql.runtime.store import Document, Store, with_id_first
from crossql.runtime.writes import WriteResult

if TYPE_CHECKING:
    from crossql.config import MongoConfig


def _driver_error(err: Exception) -> BackendError:
    return BackendError("mongodb", f"{type(err).__name__}: {err}")


_SCALARS = frozenset({str, int, float, bool, type(None)})


def _plain(value: Any) -> Any:
    """BSON values → plain Python: ObjectId → str, Decimal128 → Decimal, nested too.

    A document the driver gave us whose values are already plain is returned as it
    is (each row is a fresh dict): no copy on the common path."""
    if isinstance(value, dict):
        if type(value) is not dict:  # a SON or another mapping class: a plain copy
            return {k: _plain(v) for k, v in value.items()}
        scalars = _SCALARS
        for v in value.values():
            if type(v) not in scalars:
                return {k: _plain(v) for k, v in value.items()}
        return value
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    name = type(value).__name__
    if name == "ObjectId":
        return str(value)
    if name == "Decimal128":
        return value.to_decimal()
    return value


_END = object()
"""No first document: the cursor was empty."""


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

    @classmethod
    def from_client(cls, client_or_db: Any, database: str | None = None) -> MongoStore:
        """A store over an existing PyMongo async or Motor client (or database) object."""
        # look on the class: database objects answer any attribute with a collection
        kind = type(client_or_db)
        if hasattr(kind, "list_collection_names") and not hasattr(kind, "list_database_names"):
            return cls(client=client_or_db.client, database=client_or_db)
        if database is None:
            raise ValueError("pass database=... with a client object")
        return cls(client=client_or_db, database=client_or_db[database])

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
        self._db = self._client[cfg.database]

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

    # -- plans --------------------------------------------------------------------------
    def _plan(self, plan: Plan) -> MongoPlan:
        if not isinstance(plan, MongoPlan):
            raise TypeError(f"the MongoDB store runs MongoDB plans, not {type(plan).__name__}")
        return plan

    async def _cursor(self, plan: MongoPlan) -> Any:
        coll = self.database[plan.collection]
        if plan.kind == "find":
            return coll.find(**plan.arguments())
        cursor = coll.aggregate(list(plan.pipeline))
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
        try:
            cursor, first = await self._opened(mplan)
        except Exception as err:
            raise _driver_error(err) from err
        seen = first is not _END
        try:
            if seen:
                yield _plain(first)
                async for doc in cursor:
                    yield _plain(doc)
        except BackendError:
            raise
        except Exception as err:
            if type(err).__module__.startswith(("pymongo", "bson", "motor")):
                raise _driver_error(err) from err
            raise
        finally:
            await _close(cursor)
        if not seen and mplan.empty_row is not None:
            yield dict(mplan.empty_row)

    async def count_plan(self, plan: Plan) -> int:
        mplan = self._plan(plan)
        coll = self.database[mplan.collection]
        try:
            if mplan.kind == "find":
                kwargs: dict[str, Any] = {}
                if mplan.skip:
                    kwargs["skip"] = mplan.skip
                if mplan.limit is not None:
                    kwargs["limit"] = mplan.limit
                return int(await coll.count_documents(mplan.filter or {}, **kwargs))
            cursor = coll.aggregate(mplan.count_pipeline())
            if inspect.isawaitable(cursor):
                cursor = await cursor
            rows = [doc async for doc in cursor]
        except Exception as err:
            raise _driver_error(err) from err
        n = int(rows[0]["n"]) if rows else 0
        return 1 if n == 0 and mplan.empty_row is not None else n

    # -- writes ---------------------------------------------------------------------------
    async def execute_plan(self, plan: Plan) -> WriteResult:
        if not isinstance(plan, MongoWritePlan):
            raise TypeError(f"the MongoDB store runs MongoDB plans, not {type(plan).__name__}")
        coll = self.database[plan.collection]
        try:
            if plan.kind == "nothing":
                return WriteResult()
            filt: dict[str, Any] = plan.filter
            if plan.kind.startswith("find_then"):
                cursor = coll.find(plan.filter, {"_id": 1}).limit(plan.limit or 0)
                ids = [doc["_id"] async for doc in cursor]
                if not ids:
                    return WriteResult()
                filt = {"$and": [{"_id": {"$in": ids}}, plan.filter]}
            if plan.update is not None:
                one = plan.kind == "update_one"
                result = await (coll.update_one(filt, plan.update) if one
                                else coll.update_many(filt, plan.update))
                return WriteResult(matched=int(result.matched_count),
                                   modified=int(result.modified_count))
            one = plan.kind == "delete_one"
            result = await (coll.delete_one(filt) if one else coll.delete_many(filt))
            deleted = int(result.deleted_count)
            return WriteResult(matched=deleted, deleted=deleted)
        except Exception as err:
            raise _driver_error(err) from err

    # -- documents ------------------------------------------------------------------------
    async def insert_documents(self, collection: str, docs: list[Document]) -> list[Any]:
        try:
            await self.database[collection].insert_many([dict(d) for d in docs], ordered=True)
        except Exception as err:
            raise _driver_error(err) from err
        return [d["_id"] for d in docs]

    async def get_document(self, collection: str, doc_id: Any) -> Document | None:
        try:
            doc = await self.database[collection].find_one({"_id": {"$eq": doc_id}})
        except Exception as err:
            raise _driver_error(err) from err
        return None if doc is None else with_id_first(_plain(doc), _plain(doc["_id"]))

    async def delete_where(self, collection: str, query: ir.Query) -> int:
        plan = compile_mongodb(ir.Query(collection, where=query.where, source=query.source))
        try:
            result = await self.database[collection].delete_many(plan.filter or {})
        except Exception as err:
            raise _driver_error(err) from err
        return int(result.deleted_count)

    async def create_collection(self, name: str) -> None:
        """Create a collection explicitly (MongoDB also creates one on first write)."""
        try:
            if name not in await self.database.list_collection_names():
                await self.database.create_collection(name)
        except Exception as err:
            raise _driver_error(err) from err

    async def drop_collection(self, name: str) -> None:
        try:
            await self.database.drop_collection(name)
        except Exception as err:
            raise _driver_error(err) from err

    def new_id(self) -> str:
        from bson import ObjectId

        return str(ObjectId())
