"""Observability: the ``crossql`` logger and OpenTelemetry spans, one per store call.

Each store call — ``fetch``, ``stream``, ``count``, ``execute``, a prepared query's
runs, ``collection(...).insert_many``/``get``/``delete_many``, and a transaction — is
one *call*. While one is observed, the backend stores count the requests they send
and the items the server read (``sent`` below; DynamoDB's ``_call`` hands each
request to ``dynamodb_request``), and when the call ends (a stream: when it is
exhausted, closed or fails) it gives:

- one DEBUG record on the ``crossql`` logger: the operation, backend, collection, plan
  kind and index, requests, items read, rows, elapsed time and the query text
  *without parameter values* (``query_text``); the same fields are in
  ``record.crossql`` (a dict) for structured handlers;
- one OpenTelemetry span (CLIENT) named ``"{db.operation.name} {db.collection.name}"``
  with the database semantic conventions' attributes
  (https://opentelemetry.io/docs/specs/semconv/database/database-spans/), a child span
  per DynamoDB request with ``aws.dynamodb.*``
  (https://opentelemetry.io/docs/specs/semconv/database/dynamodb/), and errors
  recorded with status ERROR.

A call is observed only while the logger is enabled for DEBUG or an OpenTelemetry
tracer provider is installed; otherwise the wrappers only look that up and call
through. Independently, a DynamoDB Scan logs one WARNING when its first page is
requested, whatever the call.

OpenTelemetry is optional (``pip install 'crossql[otel]'``): it is imported here only
once the application has imported ``opentelemetry.trace`` and installed a tracer
provider (a provider cannot be set otherwise), and spans are made only then.
"""

from __future__ import annotations

import functools
import json
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, TypeVar

from crossql import ir
from crossql._version import __version__
from crossql.grammar import parse_condition, parse_query, parse_statement
from crossql.grammar.formatter import format_statement
from crossql.grammar.lexer import tokens

if TYPE_CHECKING:
    import logging

_DEBUG = 10  # logging.DEBUG, logging.WARNING: `logging` is imported on the first call
_WARNING = 30
_logger: logging.Logger | None = None


def logger() -> logging.Logger:
    """The library's logger, ``crossql``: silent unless the application configures logging
    (https://docs.python.org/3/howto/logging.html#configuring-logging-for-a-library).
    Imported on first use: ``import crossql`` does not import ``logging`` (~3 ms)."""
    global _logger
    if _logger is None:
        import logging

        _logger = logging.getLogger("crossql")
        _logger.addHandler(logging.NullHandler())
    return _logger

SYSTEMS = {"mongodb": "mongodb", "dynamodb": "aws.dynamodb", "firestore": "gcp.firestore",
           "memory": "crossql.memory"}
"""``db.system.name`` of each backend: the semantic conventions' values for MongoDB and
DynamoDB; Firestore has none yet (``gcp.*`` as ``gcp.spanner``), nor the memory engine."""

_CURRENT: ContextVar[Call | None] = ContextVar("crossql_call", default=None)
"""The observed call the running code belongs to."""

T = TypeVar("T")

_CAPACITY_METHODS = frozenset({"query", "scan", "get_item", "put_item", "update_item",
                               "delete_item", "batch_write_item", "batch_get_item",
                               "transact_write_items", "transact_get_items"})
"""DynamoDB calls that accept ``ReturnConsumedCapacity``."""

_DYNAMO_NAMES = {"query": "Query", "scan": "Scan", "get_item": "GetItem", "put_item": "PutItem",
                 "update_item": "UpdateItem", "delete_item": "DeleteItem",
                 "batch_write_item": "BatchWriteItem", "batch_get_item": "BatchGetItem",
                 "transact_write_items": "TransactWriteItems",
                 "transact_get_items": "TransactGetItems", "describe_table": "DescribeTable",
                 "create_table": "CreateTable", "delete_table": "DeleteTable"}


# -- query text -------------------------------------------------------------------------------

_LITERALS = frozenset({"STRING", "INT", "FLOAT", "TRUE", "FALSE", "NULL"})


def query_text(query: Any) -> str | None:
    """The text a log record or span shows for a query or write: its canonical text,
    parameters as ``:name`` — never their values. A statement without parameters has
    its literals replaced by ``?`` as well (the semantic conventions' sanitisation:
    parameterized text is kept as it is, other text has every literal replaced).
    None when ``query`` is not a statement (it is never raised about here)."""
    return _text_and_collection(query)[0]


def _text_and_collection(query: Any) -> tuple[str | None, str | None]:
    if isinstance(query, str):
        return _text_of(query)
    return _answer(query)


@functools.lru_cache(maxsize=256)  # thread-safe: sync stores call from their own threads
def _text_of(text: str) -> tuple[str | None, str | None]:
    return _answer(text)


def _answer(query: Any) -> tuple[str | None, str | None]:
    try:
        return _sanitised(query)
    except Exception:  # the call itself reports a bad statement
        return None, None


def _sanitised(query: Any) -> tuple[str, str]:
    statement = parse_statement(query) if isinstance(query, str) else query
    text = format_statement(statement)
    if any(isinstance(node, ir.Param) for node in ir.walk(statement)):
        return text, statement.collection
    out: list[str] = []
    pos = 0
    for kind, _value, start, end in tokens(text):
        if kind in _LITERALS:
            out.append(text[pos:start])
            out.append("?")
            pos = end
    out.append(text[pos:])
    return "".join(out), statement.collection


def describe(plan: Any) -> tuple[str | None, str | None, str | None]:
    """``(collection, plan kind, index)`` of a plan, as the log and spans show them."""
    native = getattr(plan, "native", None)
    if native is not None:  # completed client-side (crossql/backends/completion.py)
        collection, kind, index = describe(native)
        return collection, f"{kind} + client-side", index
    collection = getattr(plan, "collection", None)
    read = getattr(plan, "read", plan)  # a write plan: the read that finds its items
    if getattr(plan, "never", False) or getattr(read, "never", False):
        return collection, "no request", None
    operation = getattr(read, "operation", None)
    if operation is not None:  # DynamoDB
        return collection, str(operation), getattr(read, "index_name", None)
    if getattr(read, "static_rows", None) is not None:  # Firestore, answered without a read
        return collection, "no request", None
    backend = getattr(plan, "backend", "")
    if backend == "firestore":
        return collection, "aggregation query" if getattr(read, "aggregations", ()) \
            else "query", None
    kind = getattr(plan, "kind", None)
    if kind is not None:  # MongoDB
        return collection, str(kind), None
    if backend == "memory":
        return collection, "evaluate", None
    return collection, type(plan).__name__, None


# -- OpenTelemetry (optional) -----------------------------------------------------------------

_tracer_cache: tuple[Any, Any] | None = None


def _tracer() -> Any:
    """The ``crossql`` tracer, or None when no tracer provider is installed (OpenTelemetry
    not imported by the application, or no SDK provider set)."""
    global _tracer_cache
    trace = sys.modules.get("opentelemetry.trace")
    if trace is None:
        return None
    provider = trace.get_tracer_provider()
    if isinstance(provider, trace.ProxyTracerProvider | trace.NoOpTracerProvider):
        return None
    cached = _tracer_cache
    if cached is not None and cached[0] is provider:
        return cached[1]
    tracer = provider.get_tracer("crossql", __version__)
    _tracer_cache = (provider, tracer)
    return tracer


def observing() -> bool:
    """Whether a call starting now is observed (DEBUG logging or a tracer provider)."""
    return (_logger or logger()).isEnabledFor(_DEBUG) or _tracer() is not None


# -- one call ---------------------------------------------------------------------------------


class Call:
    """One observed store call: what it ran, what it cost, its span."""

    __slots__ = ("_ended", "backend", "capacity", "collection", "count", "error", "index",
                 "items", "kind", "operation", "parent", "plan_kind", "requests", "rows",
                 "scanned", "span", "started", "table", "text", "written")

    def __init__(self, operation: str, backend: str, query: Any = None,
                 collection: str | None = None, *, parent: Call | None = None,
                 kind: str = "op") -> None:
        self.operation = operation
        self.backend = backend
        self.kind = kind
        """``op`` (a store call) or ``transaction`` (calls inside are its children)."""
        self.parent = parent
        self.text: str | None = None
        self.collection = collection
        self.plan_kind: str | None = None
        self.index: str | None = None
        self.table: str | None = None
        """DynamoDB: the table the plan reads."""
        self.requests = 0
        self.items: int | None = None
        """Items the server read (DynamoDB: ScannedCount; others: documents returned)."""
        self.scanned = 0
        self.capacity: float | None = None
        self.rows: int | None = None
        self.count: int | None = None
        self.written: dict[str, int] | None = None
        self.error: BaseException | None = None
        self.span: Any = None
        self._ended = False
        if query is not None:
            self.text, named = _text_and_collection(query)
            if collection is None:
                self.collection = named
        self.started: float | None = None

    def start(self) -> None:
        """The call begins: its clock and its span start (once). Not at creation: a
        stream that is never read, a call whose task is cancelled before it runs, sends
        nothing and has no record."""
        if self.started is not None:
            return
        self.started = time.perf_counter()
        tracer = _tracer()
        if tracer is not None:
            self._start_span(tracer)

    # -- spans
    def _start_span(self, tracer: Any) -> None:
        from opentelemetry import trace

        attributes: dict[str, Any] = {"db.system.name": SYSTEMS.get(self.backend, self.backend),
                                      "db.operation.name": self.operation}
        if self.collection:
            attributes["db.collection.name"] = self.collection
        if self.text is not None:
            attributes["db.query.text"] = self.text
        name = self.operation if not self.collection else f"{self.operation} {self.collection}"
        self.span = tracer.start_span(name, kind=trace.SpanKind.CLIENT, attributes=attributes)

    def attach(self) -> Any:
        """Make this call's span the current OpenTelemetry span (a token, or None)."""
        if self.span is None:
            return None
        from opentelemetry import context, trace

        return context.attach(trace.set_span_in_context(self.span))

    @staticmethod
    def detach(token: Any) -> None:
        if token is not None:
            from opentelemetry import context

            context.detach(token)

    # -- what the call ran and cost
    def planned(self, plan: Any) -> None:
        """The plan the call runs (the first one it is given)."""
        if self.plan_kind is not None:
            return
        collection, self.plan_kind, self.index = describe(plan)
        if self.collection is None:
            self.collection = collection
        table = getattr(getattr(plan, "read", plan), "table", None)
        self.table = table if isinstance(table, str) else None

    def sent(self, requests: int = 1, items: int | None = None) -> None:
        """``requests`` requests sent, ``items`` items read by the server."""
        self.requests += requests
        if items is not None:
            self.items = (self.items or 0) + items

    def failed(self, err: BaseException) -> None:
        self.error = err

    def ended(self, result: Any = None) -> None:
        """The call is over (once): log it and end its span."""
        if self._ended:
            return
        self._ended = True
        self.start()  # (a call that failed before it began: recorded all the same)
        assert self.started is not None
        elapsed = (time.perf_counter() - self.started) * 1000.0
        self._result(result)
        fields = self.fields(elapsed)
        log = logger()
        if log.isEnabledFor(_DEBUG):
            log.debug("%s", _message(fields), extra={"crossql": fields})
        if self.span is not None:
            self._end_span(fields)

    def _result(self, result: Any) -> None:
        if self.error is not None:
            return
        if self.operation == "get":
            self.rows = int(result is not None)
            return
        if result is None:
            return
        if isinstance(result, list):
            if self.operation in ("fetch",):
                self.rows = len(result)
            else:
                self.written = {"inserted": len(result)}
        elif isinstance(result, bool):
            return
        elif isinstance(result, int):
            if self.operation == "delete_many":
                self.written = {"deleted": result}
            else:
                self.count = result
        elif isinstance(result, dict):
            self.rows = 1
        elif hasattr(result, "next_cursor"):  # a Page
            self.rows = len(result.rows)
        elif hasattr(result, "matched"):
            self.written = {k: int(getattr(result, k)) for k in ("matched", "modified",
                                                                 "deleted")}

    def fields(self, elapsed_ms: float) -> dict[str, Any]:
        """The structured fields of the call's log record."""
        out: dict[str, Any] = {"operation": self.operation, "backend": self.backend,
                               "collection": self.collection, "query": self.text,
                               "plan": self.plan_kind, "index": self.index,
                               "requests": self.requests, "items_read": self.items,
                               "rows": self.rows, "elapsed_ms": round(elapsed_ms, 3)}
        if self.count is not None:
            out["count"] = self.count
        if self.written is not None:
            out.update(self.written)
        if self.backend == "dynamodb":
            out["scanned_count"] = self.scanned
            if self.capacity is not None:
                out["consumed_capacity"] = self.capacity
        if self.error is not None:
            out["error"] = type(self.error).__name__
        return out

    def _end_span(self, fields: dict[str, Any]) -> None:
        span = self.span
        if self.kind == "transaction":
            span.set_attribute("crossql.transaction.state", self.plan_kind or "")
        elif self.plan_kind is not None:
            span.set_attribute("crossql.plan.kind", self.plan_kind)
        if self.index is not None:
            span.set_attribute("crossql.index", self.index)
            if self.backend == "dynamodb":
                span.set_attribute("aws.dynamodb.index_name", self.index)
        if self.table is not None:
            span.set_attribute("aws.dynamodb.table_names", [self.table])
        span.set_attribute("crossql.requests", self.requests)
        if self.items is not None:
            span.set_attribute("crossql.items_read", self.items)
        if self.rows is not None:
            span.set_attribute("db.response.returned_rows", self.rows)
        if self.count is not None:
            span.set_attribute("crossql.count", self.count)
        for key, value in (self.written or {}).items():
            span.set_attribute(f"crossql.{key}", value)
        if self.backend == "dynamodb" and self.requests:
            span.set_attribute("aws.dynamodb.scanned_count", self.scanned)
            if self.capacity is not None:
                span.set_attribute("crossql.consumed_capacity", self.capacity)
        if self.error is not None:
            _record_error(span, self.error)
        span.end()


def _record_error(span: Any, err: BaseException) -> None:
    from opentelemetry.trace import Status, StatusCode

    code = getattr(err, "code", None)
    kind = type(err).__qualname__
    span.set_attribute("error.type", str(code) if isinstance(code, str) and code else kind)
    # the exception's type only: its message may quote a value (a driver's error, a
    # refused parameter), and no value goes into a span
    span.add_event("exception", {"exception.type": f"{type(err).__module__}.{kind}"})
    span.set_status(Status(StatusCode.ERROR, kind))


def _n(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _message(fields: Mapping[str, Any]) -> str:
    head = f"{fields['operation']}"
    if fields["collection"]:
        head += f" {fields['collection']}"
    head += f" on {fields['backend']}"
    plan = fields["plan"]
    if plan:
        head += f" ({plan}" + (f", index {fields['index']}" if fields["index"] else "") + ")"
    parts = [_n(fields["requests"], "request")]
    if fields["items_read"] is not None:
        parts.append(f"{_n(fields['items_read'], 'item')} read")
    if "scanned_count" in fields and fields["requests"]:
        parts.append(f"ScannedCount {fields['scanned_count']}")
    if "consumed_capacity" in fields:
        parts.append(f"{fields['consumed_capacity']:g} capacity units")
    if fields["rows"] is not None:
        parts.append(_n(fields["rows"], "row"))
    if "count" in fields:
        parts.append(f"count {fields['count']}")
    for key in ("inserted", "matched", "modified", "deleted"):
        if key in fields:
            parts.append(f"{fields[key]} {key}")
    text = f"{head}: {', '.join(parts)} in {fields['elapsed_ms']:.2f} ms"
    if "error" in fields:
        text += f", failed ({fields['error']})"
    if fields["query"]:
        text += f" — {fields['query']}"
    return text


# -- what the backend stores report -----------------------------------------------------------


def sent(requests: int = 1, items: int | None = None) -> None:
    """A backend store sent ``requests`` requests, whose answers held ``items`` items."""
    call = _CURRENT.get()
    if call is not None:
        call.sent(requests, items)


async def dynamodb_request(table: str | None, method: str, kwargs: dict[str, Any],
                           send: Callable[[str, dict[str, Any]], Awaitable[Any]]) -> Any:
    """One DynamoDB request (with its retries): a WARNING on the first page of a Scan;
    within an observed call, its ScannedCount, Count and consumed capacity counted and
    a child span with the ``aws.dynamodb.*`` attributes."""
    if method == "scan" and "ExclusiveStartKey" not in kwargs:
        _scan_warning(table, kwargs)
    call = _CURRENT.get()
    if call is None:
        return await send(method, kwargs)
    if method in _CAPACITY_METHODS and "ReturnConsumedCapacity" not in kwargs:
        kwargs = {**kwargs, "ReturnConsumedCapacity": "TOTAL"}
    span = None
    token = None
    tracer = _tracer() if call.span is not None else None
    if tracer is not None:
        from opentelemetry import context, trace

        operation = _DYNAMO_NAMES.get(method, method)
        attributes: dict[str, Any] = {"db.system.name": "aws.dynamodb",
                                      "db.operation.name": operation,
                                      "rpc.method": f"DynamoDB.{operation}"}
        if table:
            attributes["db.collection.name"] = table
            attributes["aws.dynamodb.table_names"] = [table]
        if "IndexName" in kwargs:
            attributes["aws.dynamodb.index_name"] = kwargs["IndexName"]
        if "Limit" in kwargs:
            attributes["aws.dynamodb.limit"] = kwargs["Limit"]
        if "ConsistentRead" in kwargs:
            attributes["aws.dynamodb.consistent_read"] = bool(kwargs["ConsistentRead"])
        if "Select" in kwargs:
            attributes["aws.dynamodb.select"] = kwargs["Select"]
        span = tracer.start_span(f"{operation} {table}" if table else operation,
                                 kind=trace.SpanKind.CLIENT, attributes=attributes)
        token = context.attach(trace.set_span_in_context(span))
    try:
        answer = await send(method, kwargs)
    except BaseException as err:
        if span is not None:
            _record_error(span, err)
        raise
    else:
        _count_answer(call, method, answer, span)
        return answer
    finally:
        if span is not None:
            from opentelemetry import context

            if token is not None:
                context.detach(token)
            span.end()


def _count_answer(call: Call, method: str, answer: Any, span: Any) -> None:
    if not isinstance(answer, Mapping):
        call.sent()
        return
    scanned = answer.get("ScannedCount")
    count = answer.get("Count")
    items = scanned if scanned is not None else (1 if answer.get("Item") is not None
                                                 else None)
    if method == "get_item" and items is None:
        items = 0
    call.sent(1, int(items) if items is not None else None)
    if scanned is not None:
        call.scanned += int(scanned)
    consumed = answer.get("ConsumedCapacity")
    units = _capacity_units(consumed)
    if units is not None:
        call.capacity = (call.capacity or 0.0) + units
    if span is not None:
        if scanned is not None:
            span.set_attribute("aws.dynamodb.scanned_count", int(scanned))
        if count is not None:
            span.set_attribute("aws.dynamodb.count", int(count))
        if consumed:
            items_ = consumed if isinstance(consumed, list) else [consumed]
            span.set_attribute("aws.dynamodb.consumed_capacity",
                               [json.dumps(c, sort_keys=True, default=str) for c in items_])


def _capacity_units(consumed: Any) -> float | None:
    if not consumed:
        return None
    entries = consumed if isinstance(consumed, list) else [consumed]
    total = 0.0
    for entry in entries:
        if isinstance(entry, Mapping):
            total += float(entry.get("CapacityUnits") or 0.0)
    return total


def _scan_warning(table: str | None, kwargs: Mapping[str, Any]) -> None:
    log = logger()
    if not log.isEnabledFor(_WARNING):
        return
    call = _CURRENT.get()
    target = f"index {kwargs['IndexName']} of table {table}" if "IndexName" in kwargs \
        else f"table {table}"
    text = f" — {call.text}" if call is not None and call.text else ""
    log.warning("DynamoDB Scan of %s: every item is read and filtered on the server "
                   "(declare a key schema or an index the condition pins to run a Query)%s",
                   target, text, extra={"crossql": {"backend": "dynamodb", "plan": "Scan",
                                                    "table": table,
                                                    "index": kwargs.get("IndexName"),
                                                    "query": call.text if call else None}})


# -- the wrappers -----------------------------------------------------------------------------

Fn = Callable[..., Any]


def _own() -> bool:
    """Whether a store call starting now is a call of its own (observed): no observed
    call is running, or only a transaction; and DEBUG logging or tracing is on. (On
    every call: kept to a few dictionary lookups when nothing is observed.)"""
    parent = _CURRENT.get()
    if parent is not None and parent.kind == "op":
        return False
    if (_logger or logger()).isEnabledFor(_DEBUG):
        return True
    return "opentelemetry.trace" in sys.modules and _tracer() is not None


def _within() -> Call | None:
    """The observed call a plan runs in (None: none, or a transaction's)."""
    call = _CURRENT.get()
    return call if call is not None and call.kind == "op" else None


async def _run(call: Call, work: Callable[[], Awaitable[T]]) -> T:
    """Run ``work()`` within ``call``. The store's coroutine is made here, not by the
    wrapper: a task cancelled before it starts (``wait_for`` with no time left) leaves
    no coroutine that was never awaited."""
    call.start()
    token = _CURRENT.set(call)
    otel = call.attach()
    result: Any = None
    try:
        value = await work()
        result = value
        return value
    except BaseException as err:
        call.failed(err)
        raise
    finally:
        call.detach(otel)
        _CURRENT.reset(token)
        call.ended(result)


async def _rows(call: Call, rows: AsyncIterator[T]) -> AsyncIterator[T]:
    """The rows of a stream, each step run within the call; the call ends when the stream
    is exhausted, closed or fails."""
    n = 0
    call.start()
    try:
        while True:
            token = _CURRENT.set(call)
            otel = call.attach()
            try:
                row = await anext(rows)
            except StopAsyncIteration:
                break
            except BaseException as err:
                call.failed(err)
                raise
            finally:
                call.detach(otel)
                _CURRENT.reset(token)
            n += 1
            yield row
    finally:
        call.rows = n
        try:
            aclose = getattr(rows, "aclose", None)
            if aclose is not None:
                token = _CURRENT.set(call)
                try:
                    await aclose()
                finally:
                    _CURRENT.reset(token)
        finally:
            call.ended()


def _text_call(operation: str, start: Callable[[Call, Callable[[], Any]], Any] = _run
               ) -> Callable[[Fn], Fn]:
    """``Store.fetch``/``stream``/``count``/``execute``: the call's text is the first
    argument (``start``: how the call runs, a stream or an awaited result)."""
    def wrap(fn: Fn) -> Fn:
        @functools.wraps(fn)
        def observed(self: Any, query: Any, /, *args: Any, **params: Any) -> Any:
            # a function returning the coroutine: no frame of its own when not observed
            if not _own():
                return fn(self, query, *args, **params)
            call = Call(operation, self.driver, query, parent=_CURRENT.get())
            return start(call, lambda: fn(self, query, *args, **params))
        return observed
    return wrap


def _start_stream(call: Call, start: Callable[[], AsyncIterator[T]]) -> AsyncIterator[T]:
    token = _CURRENT.set(call)
    try:
        rows = start()
    except BaseException as err:
        call.failed(err)
        call.ended()
        raise
    finally:
        _CURRENT.reset(token)
    return _rows(call, rows)


def _plan_call(operation: str, start: Callable[[Call, Callable[[], Any]], Any] = _run
               ) -> Callable[[Fn], Fn]:
    """``run_plan``/``count_plan``/``execute_plan``: within a call, the plan is noted;
    alone, a call of its own (``start``: how it runs, a stream or an awaited result)."""
    def wrap(fn: Fn) -> Fn:
        @functools.wraps(fn)
        def observed(self: Any, plan: Any, *args: Any, **kwargs: Any) -> Any:
            call = _within()
            if call is not None:
                call.planned(plan)
                return fn(self, plan, *args, **kwargs)
            if not _own():
                return fn(self, plan, *args, **kwargs)
            call = Call(operation, self.driver, parent=_CURRENT.get())
            call.planned(plan)
            return start(call, lambda: fn(self, plan, *args, **kwargs))
        return observed
    return wrap


def _prepared_text(bound: Any) -> Any:
    prepared = bound.prepared
    return getattr(prepared, "_text", None) or prepared.query


def _prepared_call(operation: str, start: Callable[[Call, Callable[[], Any]], Any] = _run
                   ) -> Callable[[Fn], Fn]:
    """A prepared query's ``fetch``/``stream``/``count``: its text is the prepared one."""
    def wrap(fn: Fn) -> Fn:
        @functools.wraps(fn)
        def observed(self: Any, **params: Any) -> Any:
            if not _own():
                return fn(self, **params)
            call = Call(operation, self.store.driver, _prepared_text(self),
                        parent=_CURRENT.get())
            return start(call, lambda: fn(self, **params))
        return observed
    return wrap


def _collection_call(operation: str) -> Callable[[Fn], Fn]:
    def wrap(fn: Fn) -> Fn:
        @functools.wraps(fn)
        def observed(self: Any, *args: Any, **params: Any) -> Any:
            if not _own():
                return fn(self, *args, **params)
            query = None
            if operation == "delete_many" and args:
                query = _delete_text(self.name, args[0])
            call = Call(operation, self.store.driver, query, self.name, parent=_CURRENT.get())
            if operation == "get":
                call.plan_kind = "get by _id"
            return _run(call, lambda: fn(self, *args, **params))
        return observed
    return wrap


def _delete_text(collection: str, where: Any) -> Any:
    """The ``delete_many`` condition as a statement, for its text (None if not one)."""
    try:
        if isinstance(where, str):
            if where.lstrip().lower().startswith("from"):
                query = parse_query(where)
                return ir.Delete(query.collection, where=query.where)
            return ir.Delete(collection, where=parse_condition(where))
        return ir.Delete(collection, where=where)
    except Exception:
        return None


_STORE_WRAPPERS: dict[str, Callable[[Fn], Fn]] = {
    "fetch": _text_call("fetch"),
    "stream": _text_call("stream", _start_stream),
    "count": _text_call("count"),
    "page": _text_call("page"),
    "execute": _text_call("execute"),
    "run_plan": _plan_call("stream", _start_stream),
    "count_plan": _plan_call("count"),
    "execute_plan": _plan_call("execute"),
}
_PREPARED_WRAPPERS: dict[str, Callable[[Fn], Fn]] = {
    "fetch": _prepared_call("fetch"),
    "stream": _prepared_call("stream", _start_stream),
    "count": _prepared_call("count"),
    "page": _prepared_call("page"),
}
_COLLECTION_WRAPPERS: dict[str, Callable[[Fn], Fn]] = {
    "insert_many": _collection_call("insert_many"),
    "get": _collection_call("get"),
    "delete_many": _collection_call("delete_many"),
}


def instrument(cls: type, wrappers: Mapping[str, Callable[[Fn], Fn]]) -> None:
    """Wrap the methods ``cls`` itself defines among ``wrappers`` (once each)."""
    for name, wrap in wrappers.items():
        fn = cls.__dict__.get(name)
        if fn is None or getattr(fn, "__crossql_observed__", False) \
                or getattr(fn, "__isabstractmethod__", False):
            continue
        observed = wrap(fn)
        observed.__crossql_observed__ = True  # type: ignore[attr-defined]
        setattr(cls, name, observed)


def instrument_store(cls: type) -> None:
    """Observe a store class's calls (``Store`` and each subclass, by ``__init_subclass__``)."""
    instrument(cls, _STORE_WRAPPERS)


def instrument_prepared(cls: type) -> None:
    """Observe a prepared query class's runs."""
    instrument(cls, _PREPARED_WRAPPERS)


def instrument_collection(cls: type) -> None:
    """Observe a collection class's writes and reads by id."""
    instrument(cls, _COLLECTION_WRAPPERS)


# -- transactions -----------------------------------------------------------------------------


def transaction_began(tx: Any) -> None:
    """A transaction was entered: its call (the parent of the calls inside) starts."""
    if not observing():
        return
    call = Call("transaction", tx.store.driver, parent=_CURRENT.get(), kind="transaction")
    call.start()
    tx._observed = (call, _CURRENT.set(call), call.attach())


def transaction_ended(tx: Any, err: BaseException | None) -> None:
    """A transaction committed, rolled back or failed to commit: its call ends."""
    entry = tx._observed
    if entry is None:
        return
    tx._observed = None
    call, token, otel = entry
    try:
        call.detach(otel)
        _CURRENT.reset(token)
    except ValueError:  # exited in another context than entered (never by `async with`)
        _CURRENT.set(call.parent)
    if err is not None:
        call.failed(err)
    call.plan_kind = tx.state
    call.ended()

