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
"""

from __future__ import annotations

import contextvars
import json
import os
import secrets
import string
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from crossql import ir
from crossql.backends import Plan
from crossql.backends.firestore.compiler import compile_firestore
from crossql.backends.firestore.filters import valid_document_id
from crossql.backends.firestore.options import FirestoreOptions
from crossql.backends.firestore.plan import ID_FIELD, FirestorePlan
from crossql.errors import BackendError
from crossql.runtime.reference import MISSING, get_path
from crossql.runtime.store import Document, Store, with_id_first

if TYPE_CHECKING:
    from crossql.config import FirestoreConfig

BATCH_SIZE = 500
"""Writes per batched write: Firestore's limit for one commit."""

DEFAULT_TIMEOUT = 60.0
"""Seconds per call when the store has no configuration (``FirestoreConfig.timeout``)."""

_ID_ALPHABET = string.ascii_letters + string.digits


def _driver_error(err: BaseException) -> BackendError:
    return BackendError("firestore", f"{type(err).__name__}: {err}")


def _is_driver_error(err: BaseException) -> bool:
    return type(err).__module__.startswith(("google.", "grpc"))


def _plain(value: Any) -> Any:
    """Firestore values → plain Python (references become their path; others stay)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    path = getattr(value, "path", None)
    if type(value).__name__ in ("DocumentReference", "AsyncDocumentReference") and path:
        return str(path)
    return value


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
        return with_id_first(_plain(data), snapshot.id)
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

    def __init__(self, config: FirestoreConfig | None = None, *, client: Any = None,
                 options: FirestoreOptions | None = None, schema: Any = None,
                 plan_cache_size: int | None = None) -> None:
        opts = options if options is not None else (
            config.options if config is not None else FirestoreOptions())
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
        fplan = self._plan(plan)
        if fplan.static_rows is not None:
            for row in fplan.static_rows:
                yield json.loads(json.dumps(row))
            return
        if fplan.aggregations:
            yield await self._aggregate_row(fplan)
            return
        query = fplan.build(self.client)
        stream = query.stream(**self._call())
        calls: list[Any] = []  # the gRPC call of this stream, seen by _CallTracker
        try:
            token = _STREAM_CALLS.set(calls)
            try:
                snapshot = await anext(aiter(stream))  # the call starts here
            except StopAsyncIteration:
                return
            finally:
                _STREAM_CALLS.reset(token)
            yield _shape(fplan, snapshot)
            async for snapshot in stream:
                yield _shape(fplan, snapshot)
        except Exception as err:
            if _is_driver_error(err):
                raise _driver_error(err) from err
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

    async def _aggregate_row(self, plan: FirestorePlan) -> Document:
        try:
            results = await plan.build(self.client).get(**self._call())
        except Exception as err:
            raise _driver_error(err) from err
        values = {r.alias: r.value for r in results[0]} if results else {}
        row: Document = {}
        for agg, out in zip(plan.aggregations, plan.outputs, strict=True):
            value = values.get(agg.alias)
            if agg.func == "count" and isinstance(value, float):
                value = int(value)  # the emulator returns an empty count as 0.0
            row[out.key[0]] = value
        return row

    async def count_plan(self, plan: Plan) -> int:
        fplan = self._plan(plan)
        if fplan.static_rows is not None:
            return len(fplan.static_rows)
        if fplan.aggregations:
            return 1
        query = fplan.build(self.client)
        try:
            results = await query.count(alias="n").get(**self._call())
        except Exception as err:
            raise _driver_error(err) from err
        return int(results[0][0].value)

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
                **self._call())
        except Exception as err:
            raise _driver_error(err) from err
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
        ids = [row["_id"] async for row in self.run_plan(plan)]
        try:
            await self._delete_ids(collection, ids)
        except Exception as err:
            raise _driver_error(err) from err
        return len(ids)

    async def drop_collection(self, name: str) -> None:
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

