"""The Firestore runtime: runs ``FirestorePlan`` with ``google.cloud.firestore.AsyncClient``.

- Rows stream as Firestore delivers them; ``count`` is an aggregation query.
- Writes go in batched writes of at most 500 operations (Firestore's limit per
  commit). Each batch is atomic; a failing batch leaves earlier ones written.
- Document ids are strings in Firestore. ``insert_many`` refuses a non-string
  ``_id`` with a ``TypeError`` and an id Firestore cannot hold (empty, with
  ``/``, ``.``/``..``, ``__x__``) with a ``ValueError``, before anything is
  written; ``_id`` is the document id and is not stored as a field.
- ``FIRESTORE_EMULATOR_HOST`` is honoured as the Google client does; the
  config's ``emulator_host`` takes precedence over it.
- Server errors (a missing composite index with its creation link, a limit)
  become ``crossql.BackendError`` naming ``firestore`` and keeping the message.
- Every call carries ``timeout`` (``FirestoreConfig.timeout``) and a retry policy
  bounded by it, so a server that is down fails the call in that time instead of
  the client's 300 s of retries; for a query it bounds the whole stream.
- Transactions (``store.transaction()``, docs/transactions.md): reads run in a
  Firestore transaction (which locks what they read); writes are kept in the
  transaction and committed at once. See ``FirestoreTransaction``.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import os
import secrets
import string
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from crossql import ir
from crossql.backends import Plan
from crossql.backends.completion import ClientSidePlan, with_client_side
from crossql.backends.firestore.compiler import compile_firestore
from crossql.backends.firestore.filters import valid_document_id
from crossql.backends.firestore.options import FirestoreOptions
from crossql.backends.firestore.plan import ID_FIELD, FirestorePlan, Limit, OrderBy
from crossql.backends.firestore.results import SCALARS as _SCALARS
from crossql.backends.firestore.results import driver_error as _driver_error
from crossql.backends.firestore.results import is_driver_error as _is_driver_error
from crossql.backends.firestore.results import plain as _plain
from crossql.backends.firestore.values import not_storable
from crossql.backends.firestore.writes import MAX_ATTEMPTS, FirestoreWritePlan, changes
from crossql.compiler.paging import page_query
from crossql.errors import BackendError, ConfigError, QueryError, TransactionConflict
from crossql.runtime import observe
from crossql.runtime.store import Document, Store, with_id_first
from crossql.runtime.transaction import TransactionScope
from crossql.semantics.reference import MISSING, evaluate_condition, get_path
from crossql.semantics.writes import WriteResult, selects, strict_equal

if TYPE_CHECKING:
    from crossql.backends.firestore.config import FirestoreConfig
    from crossql.runtime.paging import PagePlan, PageRequest

BATCH_SIZE = 500
"""Writes per batched write: Firestore's limit for one commit."""

TRANSACTION_WRITES = 500
"""Writes one transaction holds at most: Firestore's documented limit for the writes of
one commit (a transaction or a batched write)."""

DEFAULT_TIMEOUT = 60.0
"""Seconds per call when the store has no configuration (``FirestoreConfig.timeout``)."""

_ID_ALPHABET = string.ascii_letters + string.digits


def _no_credentials(err: BaseException) -> ConfigError:
    """Missing Google credentials: a configuration problem (exit status 2), saying what
    was tried and how to give some (google.auth's chain:
    https://cloud.google.com/docs/authentication/application-default-credentials)."""
    return ConfigError([("firestore.credentials_json", (
        "no Google credentials were found; tried `credentials_json` in the firestore: "
        "block, GOOGLE_APPLICATION_CREDENTIALS, the gcloud CLI's application default "
        "credentials (`gcloud auth application-default login`) and the metadata server. "
        "Give credentials_json (a service-account key file or its JSON), or set "
        "GOOGLE_APPLICATION_CREDENTIALS; for the emulator set FIRESTORE_EMULATOR_HOST "
        f"(or emulator_host in the block). ({err})"))])


def _build(plan: FirestorePlan, client: Any) -> Any:
    """The driver's query (or document reference) of ``plan``: the driver is imported
    when a plan first runs, not with the store's module."""
    from crossql.backends.firestore import _driver

    return _driver.build(plan, client)


def _check_storable(value: Any, where: str, in_array: bool = False) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where}: a Firestore map key is a string, not "
                                f"{type(key).__name__} {key!r}")
            _check_storable(item, f"{where}.{key}")
    elif isinstance(value, list | tuple):
        if in_array:
            raise ValueError(f"{where}: Firestore cannot store an array inside an array")
        for i, item in enumerate(value):
            _check_storable(item, f"{where}[{i}]", in_array=True)
    elif type(value) not in _SCALARS:
        why = not_storable(value)
        if why is not None:
            raise TypeError(f"{where}: {why}")


def _check_id(doc_id: Any) -> str:
    if not isinstance(doc_id, str):
        raise TypeError(f"a Firestore document id is a string, not {type(doc_id).__name__} "
                        f"{doc_id!r}: convert ids with str() before inserting")
    if not valid_document_id(doc_id):
        raise ValueError(f"{doc_id!r} cannot be a Firestore document id (it is empty, holds "
                         "`/`, is `.` or `..`, looks like `__x__`, or passes 1500 bytes)")
    return doc_id


def _credentials(credentials_json: str) -> Any:
    """Service-account credentials from a JSON file path or the JSON text itself."""
    from google.oauth2 import service_account

    # google-auth ships no annotations for these constructors
    credentials: Any = service_account.Credentials
    text = credentials_json.strip()
    if text.startswith("{"):
        return credentials.from_service_account_info(json.loads(text))
    return credentials.from_service_account_file(credentials_json)


_STREAM_CALLS: contextvars.ContextVar[list[Any] | None] = contextvars.ContextVar(
    "crossql_firestore_stream_calls", default=None)
"""Where ``_CallTracker`` puts the call a query stream starts (set around its first read)."""


def _call_tracker() -> Any:
    """A gRPC interceptor that hands each server-streaming call to the store's stream
    that started it (through ``_STREAM_CALLS``), so the stream can cancel it."""
    import grpc  # type: ignore[import-untyped]

    class _CallTracker(grpc.aio.UnaryStreamClientInterceptor):  # type: ignore[misc]
        async def intercept_unary_stream(self, continuation: Any, details: Any,
                                         request: Any) -> Any:
            call = await continuation(details, request)
            calls = _STREAM_CALLS.get()
            if calls is not None:
                calls.append(call)
            return call

    return _CallTracker()


RECONNECT_OPTIONS = [("grpc.initial_reconnect_backoff_ms", 100),
                     ("grpc.min_reconnect_backoff_ms", 100),
                     ("grpc.max_reconnect_backoff_ms", 2_000)]
"""gRPC waits between attempts to reconnect a channel: at most 2 s here, where gRPC's
default grows to 120 s, so a store would take minutes to see that a server is back."""


def _with_bounded_reconnects(client: Any) -> None:
    """Build ``client``'s gRPC channel now, as the client would, plus ``RECONNECT_OPTIONS``
    and the ``_CallTracker`` interceptor.

    google-cloud-firestore builds its channel lazily with fixed options; this repeats its
    ``_firestore_api_helper`` (2.19+) with ours. If those internals change, the client's
    own channel is kept (reconnects are then slower, never wrong)."""
    try:
        import grpc
        from google.cloud.firestore_v1 import base_client
        from google.cloud.firestore_v1.services.firestore import async_client as module
        from google.cloud.firestore_v1.services.firestore.transports.grpc_asyncio import (
            FirestoreGrpcAsyncIOTransport as Transport,
        )

        if client._firestore_api_internal is not None:
            return
        if client._emulator_host is not None:
            token = getattr(client._credentials, "id_token", None) or "owner"
            options = [("Authorization", f"Bearer {token}"),
                       *base_client._GRPC_MSG_SIZE_OPTIONS, *RECONNECT_OPTIONS]
            channel = grpc.aio.insecure_channel(client._emulator_host, options=options,
                                                interceptors=[_call_tracker()])
        else:
            channel = Transport.create_channel(
                client._target, credentials=client._credentials,
                options=[*base_client._DEFAULT_CHANNEL_OPTIONS, *RECONNECT_OPTIONS],
                interceptors=[_call_tracker()])
        client._transport = Transport(host=client._target, channel=channel)
        client._firestore_api_internal = module.FirestoreAsyncClient(
            transport=client._transport, client_options=client._client_options)
        module._client_info = client._client_info  # type: ignore[attr-defined]
    except (ImportError, AttributeError):  # pragma: no cover - another client version
        return


def _shape(plan: FirestorePlan, snapshot: Any) -> Document:
    data = snapshot.to_dict() or {}
    if plan.whole_documents:
        # one pass building the row (``with_id_first(_plain(data), id)`` copied the
        # document twice): ``to_dict`` hands over a fresh copy, read once
        whole: Document = {"_id": snapshot.id}
        for key, value in data.items():
            if key != "_id":
                whole[key] = value if type(value) in _SCALARS else _plain(value)
        return whole
    row: Document = {}
    for out in plan.outputs:
        assert out.path is not None
        value = snapshot.id if out.path == ID_FIELD else get_path(data, out.path)
        if value is MISSING:
            continue
        target = row
        for seg in out.key[:-1]:
            target = target.setdefault(seg, {})
        target[out.key[-1]] = _plain(value)
    return row


class FirestoreStore(Store):
    """A store backed by one Firestore database (or the emulator)."""

    driver = "firestore"

    _tx: FirestoreTransaction | None = None
    """The transaction this store runs in (a transaction's view), else None."""

    def __init__(self, config: FirestoreConfig | None = None, *, client: Any = None,
                 options: FirestoreOptions | None = None, schema: Any = None,
                 plan_cache_size: int | None = None) -> None:
        opts = options if options is not None else (
            config.compile_options if config is not None else FirestoreOptions())
        size = plan_cache_size if plan_cache_size is not None else (
            config.plan_cache_size if config is not None else 256)
        super().__init__(plan_cache_size=size, schema=schema, options=opts)
        self._config = config
        self._client = client
        self._owns_client = False

    @property
    def options(self) -> FirestoreOptions:
        """The profile this store compiles with."""
        opts = self._options
        assert isinstance(opts, FirestoreOptions)
        return opts

    # -- lifecycle ---------------------------------------------------------------------------
    async def open(self) -> None:
        if self._client is not None:
            return
        cfg = self._config
        if cfg is None:
            raise BackendError("firestore", "no configuration and no client given")
        try:
            from google.auth.credentials import AnonymousCredentials
            from google.cloud.firestore import AsyncClient
        except ImportError as err:  # pragma: no cover - depends on the installed extras
            raise BackendError("firestore", "the Firestore driver is missing: "
                               "pip install 'crossql[firestore]'") from err
        emulator = cfg.emulator_host or os.environ.get("FIRESTORE_EMULATOR_HOST")
        credentials: Any = None
        if cfg.credentials_json and not emulator:
            credentials = _credentials(cfg.credentials_json)
        elif emulator:
            credentials = AnonymousCredentials()  # type: ignore[no-untyped-call]
        project = cfg.project_id or os.environ.get("GOOGLE_CLOUD_PROJECT")
        if emulator and project is None:
            project = "crossql-emulator"
        try:
            client = AsyncClient(project=project, credentials=credentials,
                                 database=cfg.database_id)
        except Exception as err:
            if type(err).__name__ == "DefaultCredentialsError":
                raise _no_credentials(err) from err
            raise _driver_error(err) from err
        if emulator:
            # the client reads FIRESTORE_EMULATOR_HOST when constructed; a host given in
            # the config is set the same way instead of changing the process environment
            client._emulator_host = emulator
        _with_bounded_reconnects(client)
        self._client = client
        self._owns_client = True

    async def close(self) -> None:
        if self._owns_client and self._client is not None:
            api = getattr(self._client, "_firestore_api_internal", None)
            if api is not None:
                await api.transport.close()
            self._client = None

    def _call(self, *, write: bool = False) -> dict[str, Any]:
        """``retry`` and ``timeout`` for one call of the client: every call is bounded by
        ``timeout`` seconds, its retries on an unavailable server included (the client's
        defaults retry for up to 300 s, which looks like a hang when a server is down)."""
        from google.api_core import exceptions, retry_async

        timeout = self._config.timeout if self._config is not None else DEFAULT_TIMEOUT
        retryable: tuple[type[Exception], ...] = (
            exceptions.ServiceUnavailable, exceptions.ResourceExhausted)
        if not write:
            retryable += (exceptions.InternalServerError,)
        retry = retry_async.AsyncRetry(
            predicate=retry_async.if_exception_type(*retryable), initial=0.1,
            maximum=min(timeout / 4, 5.0), multiplier=2.0, timeout=timeout)
        return {"retry": retry, "timeout": timeout}

    def _timeout(self) -> float:
        return self._config.timeout if self._config is not None else DEFAULT_TIMEOUT

    def _read_call(self) -> dict[str, Any]:
        """``_call()`` for a read; in a transaction, with the transaction (a read after
        the transaction's writes is refused: it would not see them)."""
        if self._tx is None:
            return self._call()
        self._tx.before_read()
        return {**self._call(), "transaction": self._tx.transaction}

    def _error(self, err: BaseException) -> BackendError:
        """The ``BackendError`` for a driver error (in a transaction, a conflict is a
        ``TransactionConflict``)."""
        if self._tx is not None:
            return self._tx.error(err)
        return _driver_error(err)

    @property
    def client(self) -> Any:
        """The driver's ``AsyncClient`` (after ``open``)."""
        if self._client is None:
            raise BackendError("firestore", "the store is not open: use `async with store:`")
        return self._client

    # -- plans ---------------------------------------------------------------------------------
    def _plan(self, plan: Plan) -> FirestorePlan:
        if not isinstance(plan, FirestorePlan):
            raise TypeError(f"the Firestore store runs Firestore plans, not {type(plan).__name__}")
        return plan

    async def run_plan(self, plan: Plan) -> AsyncIterator[Document]:
        if type(plan) is ClientSidePlan:
            async for row in self.run_completed(plan):
                yield row
            return
        fplan = self._plan(plan)
        if fplan.static_rows is not None:
            for row in fplan.static_rows:
                yield json.loads(json.dumps(row))
            return
        if fplan.aggregations:
            yield await self._aggregate_row(fplan)
            return
        if fplan.document is not None:
            for snapshot in await self._get_document(fplan, self._read_call()):
                yield _shape(fplan, snapshot)
            return
        async for row in self._stream(fplan, _build(fplan, self.client)):
            yield row

    # -- pages (docs/pagination.md) -----------------------------------------------------------
    page_resume = ("`order_by` on the order keys and `__name__`, `start_after` with the last "
                   "row's values of those keys and its id, `limit` of the page's rows")

    def resume_text(self, req: PageRequest) -> str:
        return self.page_resume

    def compile_page(self, req: PageRequest) -> Plan:
        """The page query without a resume condition (its order: the keys, then the id):
        the cursor's values go to ``start_after`` when the page runs."""
        query = page_query(req.query, req.keys, None, req.read)
        # a page resumes where Firestore stopped: never completed client-side
        options = with_client_side(self._options, None)
        try:
            return compile_firestore(query, schema=self._schema, options=options)
        except QueryError as err:
            if options is not self._options:  # refused as the query is without the option
                try:
                    compile_firestore(req.query, schema=self._schema, options=options)
                except QueryError as own:
                    raise own.with_source(req.query.source) from None
            raise err.with_source(req.query.source) from None

    async def run_page(self, plan: PagePlan) -> list[Document]:
        """The page query, started after the cursor's values (``start_after``)."""
        req = plan.request
        if plan.inner is None:
            return []
        fplan = self._plan(plan.inner)
        if fplan.static_rows is not None or req.after is None:
            return [row async for row in self.run_plan(fplan)]
        by_path = {k.path.segments: v for k, v in zip(req.keys, req.after, strict=True)}
        values = []
        for step in fplan.steps:
            if isinstance(step, OrderBy):
                segments = ("_id",) if step.field == ID_FIELD else step.field
                if segments not in by_path:
                    raise BackendError("firestore", f"the page's order has the key "
                                       f"{'.'.join(segments)!r}, which its cursor does not hold")
                values.append(by_path[segments])
        query = _build(fplan, self.client).start_after(values)
        return [row async for row in self._stream(fplan, query)]

    async def _stream(self, fplan: FirestorePlan, query: Any) -> AsyncIterator[Document]:
        """The rows of a built query of ``fplan``, one RunQuery."""
        stream = query.stream(**self._read_call())
        calls: list[Any] = []  # the gRPC call of this stream, seen by _CallTracker
        try:
            token = _STREAM_CALLS.set(calls)
            try:
                snapshot = await anext(aiter(stream))  # the call starts here
            except StopAsyncIteration:
                return
            finally:
                _STREAM_CALLS.reset(token)
                observe.sent()  # one RunQuery; its documents counted as they come
            observe.sent(0, 1)
            yield _shape(fplan, snapshot)
            async for snapshot in stream:
                observe.sent(0, 1)
                yield _shape(fplan, snapshot)
        except Exception as err:
            if _is_driver_error(err):
                raise self._error(err) from err
            raise
        finally:
            # closing the client's stream does not end its gRPC call (the call lives on,
            # the server streaming into a full window, until collected or its deadline):
            # a stream left early (cancelled, broken, not read to the end) cancels it
            for call in calls:
                call.cancel()
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()

    async def _get_document(self, plan: FirestorePlan, call: dict[str, Any]) -> list[Any]:
        """A document get plan's snapshot, in a list when the document exists and the
        plan's condition is true of it (the reference evaluator: exact on one document)."""
        assert plan.document is not None
        try:
            snapshot = await _build(plan, self.client).get(**call)
        except Exception as err:
            if _is_driver_error(err):
                raise self._error(err) from err
            raise
        if not snapshot.exists:
            return []
        condition = plan.condition
        if condition is not None and evaluate_condition(condition, with_id_first(
                _plain(snapshot.to_dict() or {}), snapshot.id)) is not True:
            return []
        return [snapshot]

    async def plan_snapshots(self, plan: FirestorePlan, *, limited: bool = True) -> list[Any]:
        """The snapshots ``plan`` (a query or a document get) reads for a write statement
        (``statement_snapshots``); ``limited=False`` drops the query's ``limit``."""
        if plan.document is not None:
            call = self._call()
            if self._tx is not None:
                self._tx.check_open()
                call["transaction"] = self._tx.transaction
            return await self._get_document(plan, call)
        if limited:
            query = _build(plan, self.client)
        else:
            query = _build(replace(plan, steps=tuple(
                s for s in plan.steps if not isinstance(s, Limit))), self.client)
        return await self.statement_snapshots(query)

    async def _aggregate_row(self, plan: FirestorePlan) -> Document:
        observe.sent()
        try:
            results = await _build(plan, self.client).get(**self._read_call())
        except Exception as err:
            if isinstance(err, BackendError):
                raise
            raise self._error(err) from err
        values = {r.alias: r.value for r in results[0]} if results else {}
        row: Document = {}
        for agg, out in zip(plan.aggregations, plan.outputs, strict=True):
            value = values.get(agg.alias)
            if agg.func == "count" and isinstance(value, float):
                value = int(value)  # the emulator returns an empty count as 0.0
            row[out.key[0]] = value
        return row

    async def count_plan(self, plan: Plan) -> int:
        if type(plan) is ClientSidePlan:
            return await self.count_completed(plan)
        fplan = self._plan(plan)
        if fplan.static_rows is not None:
            return len(fplan.static_rows)
        if fplan.aggregations:
            return 1
        if fplan.document is not None:
            return len(await self._get_document(fplan, self._read_call()))
        query = _build(fplan, self.client)
        observe.sent()
        try:
            results = await query.count(alias="n").get(**self._read_call())
        except Exception as err:
            if isinstance(err, BackendError):
                raise
            raise self._error(err) from err
        return int(results[0][0].value)

    # -- writes ---------------------------------------------------------------------------------
    async def execute_plan(self, plan: Plan) -> WriteResult:
        """Run a ``FirestoreWritePlan``: the read, then batched writes, each under the
        ``last_update_time`` of its snapshot (crossql/backends/firestore/writes.py); in a
        transaction, the writes are kept for its commit."""
        if not isinstance(plan, FirestoreWritePlan):
            raise TypeError(f"the Firestore store runs Firestore plans, not {type(plan).__name__}")
        if self._tx is not None:
            return await self._write_in_transaction(plan)
        from google.api_core import exceptions

        progress = _Progress(left=plan.limit)
        for attempt in range(1, MAX_ATTEMPTS + 1):
            if plan.read.static_rows is not None or progress.left == 0:
                break
            limited = attempt == 1 and not plan.reads_past_limit
            writes = await self._planned_writes(plan, progress, limited)
            try:
                await self._commit_writes(plan, writes, progress)
            except (exceptions.FailedPrecondition, exceptions.NotFound, exceptions.Aborted):
                # a document changed since the read (Aborted: the emulator's lock timeout
                # while a transaction holds it): read the rest again
                continue
            except Exception as err:
                if _is_driver_error(err):
                    raise _driver_error(err) from err
                raise
            break
        else:
            raise BackendError("firestore", "documents kept changing (or stayed locked by a "
                               f"transaction) during the write; "
                               f"{progress.matched} were written, the others were not")
        if plan.kind == "delete":
            return WriteResult(matched=progress.matched, deleted=progress.matched)
        return WriteResult(matched=progress.matched, modified=progress.modified)

    async def _planned_writes(self, plan: FirestoreWritePlan, progress: _Progress,
                              limited: bool) -> list[_Write]:
        """One attempt's read, and what to write to each document it finds (not done yet);
        the documents the write leaves as they are count as matched, and are done."""
        from google.cloud import firestore

        left = progress.left
        writes: list[_Write] = []
        for snap in await self.plan_snapshots(plan.read, limited=limited):
            if snap.id in progress.done:
                continue
            if left is not None and len(writes) >= left:
                break
            old = with_id_first(_plain(snap.to_dict() or {}), snap.id)
            if not plan.applies(old):
                continue
            fields = None
            transform = False
            if plan.kind == "update":
                matched = progress.matched
                note = f" ({matched} documents were written before)" if matched else ""
                fields = changes(old, plan.new_document(old, note), firestore.DELETE_FIELD)
                if fields and plan.increments_only:
                    # the read proved each counter a number (the reference's condition)
                    # and in range: Increment adds to whatever value concurrent
                    # increments left, where a computed value would fail its precondition
                    transforms = plan.transforms(old, firestore.Increment)
                    if transforms is not None:
                        fields, transform = transforms, True
            writes.append((snap, fields, transform))
        unchanged = [snap.id for snap, fields, _ in writes if fields == {}]
        progress.written(unchanged, modified=False)
        return [w for w in writes if w[1] != {}]

    async def _commit_writes(self, plan: FirestoreWritePlan, writes: list[_Write],
                             progress: _Progress) -> None:
        """The writes in batches of ``BATCH_SIZE``: updates and deletes under the
        snapshot's ``last_update_time``, increments as transforms."""
        client = self.client
        for start in range(0, len(writes), BATCH_SIZE):
            chunk = writes[start:start + BATCH_SIZE]
            batch = client.batch()
            for snap, fields, transform in chunk:
                if transform:
                    # `update` carries the precondition exists=True itself (the client
                    # refuses an explicit one)
                    batch.update(snap.reference, fields)
                    continue
                option = client.write_option(last_update_time=snap.update_time)
                if fields is None:
                    batch.delete(snap.reference, option=option)
                else:
                    batch.update(snap.reference, fields, option=option)
            await batch.commit(**self._call(write=True))
            progress.written([snap.id for snap, _, _ in chunk], modified=plan.kind == "update")

    async def _write_in_transaction(self, plan: FirestoreWritePlan) -> WriteResult:
        """The write in this store's transaction: read through it, then keep the writes
        for its commit (refused, with nothing kept, past the transaction's write limit)."""
        tx = self._tx
        assert tx is not None
        tx.check_open()
        written = dict(tx.live(plan.collection))
        docs: list[Document] = []
        if plan.read.static_rows is None:
            limited = not written and not plan.reads_past_limit
            for snap in await self.plan_snapshots(plan.read, limited=limited):
                if snap.id in written:
                    continue  # taken as the transaction left it, below
                old = with_id_first(_plain(snap.to_dict() or {}), snap.id)
                if plan.applies(old):
                    docs.append(old)
        docs += [doc for doc in written.values()
                 if doc is not None and selects(plan.statement, doc)]
        if plan.limit is not None:
            docs = sorted(docs, key=lambda doc: str(doc["_id"]))[:plan.limit]
        if plan.kind == "delete":
            tx.reserve(plan.collection, [doc["_id"] for doc in docs])
            for doc in docs:
                tx.stage_delete(plan.collection, doc["_id"])
            return WriteResult(matched=len(docs), deleted=len(docs))
        changed = [(old, new) for old in docs
                   if not strict_equal(new := plan.new_document(old), old)]
        tx.reserve(plan.collection, [old["_id"] for old, _ in changed])
        for old, new in changed:
            tx.stage_update(plan.collection, old, new)
        return WriteResult(matched=len(docs), modified=len(changed))

    # -- documents ------------------------------------------------------------------------------
    async def insert_documents(self, collection: str, docs: list[Document]) -> list[Any]:
        ids = []
        bodies = []
        for doc in docs:
            doc_id = _check_id(doc["_id"])
            body = {k: v for k, v in doc.items() if k != "_id"}
            _check_storable(body, f"document {doc_id!r}")
            ids.append(doc_id)
            bodies.append(body)
        if self._tx is not None:
            self._tx.stage_inserts(collection, ids, bodies)
            return ids
        coll = self.client.collection(collection)
        try:
            for start in range(0, len(ids), BATCH_SIZE):
                batch = self.client.batch()
                for doc_id, body in zip(ids[start:start + BATCH_SIZE],
                                        bodies[start:start + BATCH_SIZE], strict=True):
                    batch.create(coll.document(doc_id), body)
                await batch.commit(**self._call(write=True))
        except Exception as err:
            raise _driver_error(err) from err
        return ids

    async def get_document(self, collection: str, doc_id: Any) -> Document | None:
        if not isinstance(doc_id, str) or not valid_document_id(doc_id):
            return None  # no Firestore document has such an id
        try:
            snapshot = await self.client.collection(collection).document(doc_id).get(
                **self._read_call())
        except Exception as err:
            if isinstance(err, BackendError):
                raise
            raise self._error(err) from err
        if not snapshot.exists:
            return None
        return with_id_first(_plain(snapshot.to_dict() or {}), snapshot.id)

    async def _delete_ids(self, collection: str, ids: list[str]) -> None:
        coll = self.client.collection(collection)
        for start in range(0, len(ids), BATCH_SIZE):
            batch = self.client.batch()
            for doc_id in ids[start:start + BATCH_SIZE]:
                batch.delete(coll.document(doc_id))
            await batch.commit(**self._call(write=True))

    async def delete_where(self, collection: str, query: ir.Query) -> int:
        plan = compile_firestore(
            ir.Query(collection, where=query.where, select=(
                ir.SelectItem(ir.Path(("_id",))),), source=query.source),
            schema=self._schema, options=self.options)
        assert isinstance(plan, FirestorePlan)  # a `where` alone: nothing client-side
        if self._tx is not None:
            return await self._tx.delete_where(self, collection, plan, query)
        ids = [row["_id"] async for row in self.run_plan(plan)]
        try:
            await self._delete_ids(collection, ids)
        except Exception as err:
            raise _driver_error(err) from err
        return len(ids)

    async def drop_collection(self, name: str) -> None:
        if self._tx is not None:
            raise BackendError("firestore", "drop_collection does not run in a transaction "
                               "(it may take more writes than one commit holds)")
        coll = self.client.collection(name)
        try:
            while True:
                ids = [snap.id async for snap in
                       coll.select([]).limit(BATCH_SIZE).stream(**self._call())]
                if not ids:
                    return
                await self._delete_ids(name, ids)
        except Exception as err:
            raise _driver_error(err) from err

    def new_id(self) -> str:
        """A 20-character random id, as Firestore's own clients make them."""
        return "".join(secrets.choice(_ID_ALPHABET) for _ in range(20))


    # -- transactions ----------------------------------------------------------------------
    async def begin_transaction(self) -> TransactionScope:
        """A Firestore transaction: reads run in it (Firestore locks what they read, or
        checks it at commit); writes are kept and sent in its commit, all or none.

        A read (``fetch``/``stream``/``count``/``get``) after a write of the same
        transaction is refused: Firestore applies the writes only at commit, so the read
        would not see them. ``execute`` and ``delete_many`` may follow writes: they read
        through the transaction and take its own writes into account. At most
        ``TRANSACTION_WRITES`` documents are written; a statement past that is refused
        before anything is written. A conflict (``Aborted``) raises
        ``TransactionConflict``; the transaction is then rolled back."""
        if self._tx is not None:
            raise BackendError("firestore", "transactions do not nest")
        transaction = self.client.transaction()
        try:
            async with asyncio.timeout(self._timeout()):
                await transaction._begin()
        except TimeoutError as err:
            raise BackendError("firestore", f"beginning a transaction took more than "
                               f"{self._timeout():g} s") from err
        except Exception as err:
            if _is_driver_error(err):
                raise _driver_error(err) from err
            raise
        view = FirestoreStore(self._config, client=self._client, options=self.options,
                              schema=self._schema)
        self.share_with(view)
        scope = FirestoreTransaction(view, transaction)
        view._tx = scope
        return scope

    async def statement_snapshots(self, query: Any) -> list[Any]:
        """The snapshots of ``query`` (an ``AsyncQuery``), read for a write statement: in a
        transaction, through it (after its writes too: the statement takes them into
        account itself)."""
        call = self._call()
        if self._tx is not None:
            self._tx.check_open()
            call["transaction"] = self._tx.transaction
        try:
            return [snapshot async for snapshot in query.stream(**call)]
        except Exception as err:
            if _is_driver_error(err):
                raise self._error(err) from err
            raise


_Write = tuple[Any, dict[str, Any] | None, bool]
"""A write of a statement: (snapshot, fields to write or None to delete, whether they
are ``Increment`` transforms)."""


@dataclass(slots=True)
class _Progress:
    """A write statement's progress over its attempts."""

    left: int | None
    """How many more documents the statement's ``limit`` lets it write (None: no limit)."""
    done: set[str] = field(default_factory=set)
    """Ids written, or matched with nothing to change."""
    matched: int = 0
    modified: int = 0

    def written(self, ids: list[str], *, modified: bool) -> None:
        """``ids`` are done (written, or left as they were), and matched."""
        self.done.update(ids)
        self.matched += len(ids)
        if modified:
            self.modified += len(ids)
        if self.left is not None:
            self.left -= len(ids)


@dataclass(slots=True)
class Pending:
    """What a transaction writes to one document at commit."""

    op: Literal["create", "set", "update", "delete", "delete-new"]
    """``create`` (inserted), ``set`` (deleted, then inserted again), ``update`` (changed
    fields of a document read), ``delete``, ``delete-new`` (inserted, then deleted: a
    delete whose precondition is that the document does not exist)."""
    doc: Document | None
    """The document after the transaction's writes (``_id`` first), None when deleted."""
    old: Document | None = None
    """For ``update``: the document as the transaction read it."""


class FirestoreTransaction(TransactionScope):
    """One Firestore transaction (``client.transaction()``) and its view.

    The Python client sends a transaction's writes only in its commit; they are kept
    here per document (``pending``), so that a later ``update``/``delete`` of the same
    transaction sees them and each document is written once."""

    def __init__(self, view: FirestoreStore, transaction: Any) -> None:
        self.view = self._view = view
        self.transaction = transaction
        self.pending: dict[tuple[str, str], Pending] = {}
        self.conflict: str | None = None
        self.finished = False

    # -- state --------------------------------------------------------------------------
    def check_open(self) -> None:
        """Refuse a call after a conflict or the end of the transaction."""
        if self.conflict is not None:
            raise TransactionConflict("firestore", f"the transaction conflicted "
                                      f"({self.conflict}) and was rolled back")
        if self.finished:
            raise BackendError("firestore", "the transaction is finished")

    def before_read(self) -> None:
        """Refuse a read after the transaction's writes (it would not see them)."""
        self.check_open()
        if self.pending:
            raise BackendError(
                "firestore", "a read after a write in the same transaction: Firestore "
                "applies a transaction's writes only when it commits, so the read would not "
                "see them; read first, then write (update/delete statements may follow "
                "writes)")

    def error(self, err: BaseException) -> BackendError:
        """A driver error in the transaction: ``Aborted`` (contention; the emulator's lock
        timeout) is a conflict, which rolls the transaction back."""
        from google.api_core import exceptions

        if isinstance(err, exceptions.Aborted):
            self.conflict = err.message or type(err).__name__
            return TransactionConflict("firestore", f"{type(err).__name__}: {err}; the "
                                       "transaction is rolled back, nothing of it is written")
        return _driver_error(err)

    # -- writes -----------------------------------------------------------------------------
    def live(self, collection: str) -> Iterator[tuple[str, Document | None]]:
        """The documents of ``collection`` the transaction wrote: (id, document after its
        writes, or None when deleted)."""
        for (coll, doc_id), pending in self.pending.items():
            if coll == collection:
                yield doc_id, pending.doc

    def reserve(self, collection: str, ids: list[str]) -> None:
        """Refuse a statement that would take the transaction past ``TRANSACTION_WRITES``
        written documents (before it writes anything)."""
        self.check_open()
        new = {doc_id for doc_id in ids if (collection, doc_id) not in self.pending}
        if len(self.pending) + len(new) > TRANSACTION_WRITES:
            raise BackendError(
                "firestore", f"this write would take the transaction to "
                f"{len(self.pending) + len(new)} written documents; Firestore commits at "
                f"most {TRANSACTION_WRITES} writes at once. Nothing of the statement was "
                "written: split the work into several transactions")

    def stage_inserts(self, collection: str, ids: list[str], bodies: list[Document]) -> None:
        """Keep inserts for the commit (a duplicate id is refused now, before any)."""
        self.check_open()
        seen: set[str] = set()
        for doc_id in ids:
            pending = self.pending.get((collection, doc_id))
            if doc_id in seen or (pending is not None and pending.doc is not None):
                raise BackendError("firestore", f"duplicate _id {doc_id!r} in {collection!r}")
            seen.add(doc_id)
        self.reserve(collection, ids)
        for doc_id, body in zip(ids, bodies, strict=True):
            doc = with_id_first(body, doc_id)
            pending = self.pending.get((collection, doc_id))
            if pending is None or pending.op == "delete-new":
                self.pending[(collection, doc_id)] = Pending("create", doc)
            else:  # it existed and the transaction deleted it
                self.pending[(collection, doc_id)] = Pending("set", doc)

    def stage_update(self, collection: str, old: Document, new: Document) -> None:
        """Keep an update: ``old`` as read (or as the transaction left it), ``new``."""
        key = (collection, old["_id"])
        pending = self.pending.get(key)
        if pending is None:
            self.pending[key] = Pending("update", new, old)
        else:
            pending.doc = new

    def stage_delete(self, collection: str, doc_id: str) -> None:
        """Keep a delete."""
        key = (collection, doc_id)
        pending = self.pending.get(key)
        if pending is not None and pending.op == "create":
            self.pending[key] = Pending("delete-new", None)
        else:
            self.pending[key] = Pending("delete", None)

    async def delete_where(self, view: FirestoreStore, collection: str, plan: FirestorePlan,
                           query: ir.Query) -> int:
        """``delete_many`` in the transaction: the documents the read finds, and those the
        transaction wrote, where the condition is true."""
        if plan.static_rows is not None:
            found: list[str] = [row["_id"] for row in plan.static_rows]
        else:
            found = [s.id for s in await view.plan_snapshots(plan)]
        written = dict(self.live(collection))
        doomed = [doc_id for doc_id in found if doc_id not in written]
        doomed += [doc_id for doc_id, doc in written.items() if doc is not None and (
            query.where is None or evaluate_condition(query.where, doc) is True)]
        self.reserve(collection, doomed)
        for doc_id in doomed:
            self.stage_delete(collection, doc_id)
        return len(doomed)

    def _write_all(self) -> None:
        """Hand the kept writes to the client's transaction."""
        from google.cloud import firestore

        client = self._view.client
        for (collection, doc_id), pending in self.pending.items():
            ref = client.collection(collection).document(doc_id)
            body = None if pending.doc is None else {
                k: v for k, v in pending.doc.items() if k != "_id"}
            if pending.op == "create":
                self.transaction.create(ref, body)
            elif pending.op == "set":
                self.transaction.set(ref, body)
            elif pending.op == "update":
                assert pending.old is not None and pending.doc is not None
                fields = changes(pending.old, pending.doc, firestore.DELETE_FIELD)
                if fields:
                    self.transaction.update(ref, fields)
            elif pending.op == "delete":
                self.transaction.delete(ref)
            else:  # inserted then deleted: only check that it did not exist
                self.transaction.delete(ref, option=client.write_option(exists=False))

    # -- end ----------------------------------------------------------------------------------
    async def commit(self) -> None:
        if self.conflict is not None:
            await self.abort()
            self.check_open()  # raises TransactionConflict
        self.check_open()
        timeout = self._view._timeout()
        try:
            self._write_all()
            async with asyncio.timeout(timeout):
                await self.transaction._commit()
        except TimeoutError as err:
            await self.abort()
            raise BackendError("firestore", f"the commit did not answer in {timeout:g} s: "
                               "whether the transaction was written is unknown") from err
        except Exception as err:
            if not _is_driver_error(err):
                await self.abort()
                raise
            failure = self.error(err)
            await self.abort()
            if not isinstance(failure, TransactionConflict):
                failure = BackendError("firestore", f"{failure.message}; the commit failed, "
                                       "nothing of the transaction was written")
            raise failure from err
        self.finished = True

    async def abort(self) -> None:
        if self.finished:
            return
        self.finished = True
        if not self.transaction.in_progress:
            return
        try:
            async with asyncio.timeout(self._view._timeout()):
                await self.transaction._rollback()
        except Exception:
            pass  # the server discards an unfinished transaction
