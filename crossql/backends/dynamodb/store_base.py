"""The DynamoDB runtime: runs ``DynamoPlan`` with aioboto3's low-level async client.

``DynamoStoreBase`` is the whole store but transactions: ``DynamoStore`` (store.py) adds
``begin_transaction``, and the store inside a transaction (transaction.py) subclasses
this one, so neither module imports the other's importer.

- Paging: DynamoDB returns at most 1 MB per call, and its ``Limit`` counts the
  items it *evaluated*, not those that passed the filter
  (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Query.Pagination.html).
  Rows are read page after page with ``ExclusiveStartKey`` until ``limit``
  rows matched or ``LastEvaluatedKey`` is absent; ``count`` sums
  ``Select=COUNT`` pages the same way. With ``limit n``, each page's ``Limit``
  grows from ``n`` with the share of evaluated items that matched
  (``page_limit``), so a selective ``limit 10`` does not read a whole 1 MB page.
- Key schemas: a collection's table is described with ``DescribeTable`` the
  first time a query names it (cached per store), so ``fetch`` plans a Query
  on the table's keys and indexes without a schema passed by hand.
- Writes: ``insert_many`` sends ``BatchWriteItem`` requests of 25 puts and
  re-sends ``UnprocessedItems`` with capped exponential backoff and jitter
  (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html#Programming.Errors.BatchOperations);
  throttling and 5xx errors of every call are retried the same way. Values
  are converted by ``values.py`` (floats exactly by their shortest text).
- Errors of the driver or the server become ``crossql.BackendError`` naming
  ``dynamodb`` and quoting the driver's message.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import replace
from decimal import Decimal, localcontext
from typing import TYPE_CHECKING, Any

from crossql import ir
from crossql.backends import Plan
from crossql.backends.completion import ClientSidePlan, with_client_side
from crossql.backends.dynamodb.compiler import compile_dynamodb
from crossql.backends.dynamodb.plan import DynamoPlan
from crossql.backends.dynamodb.schema import (
    DynamoOptions,
    IndexSchema,
    KeyType,
    TableSchema,
    dynamo_options,
)
from crossql.backends.dynamodb.values import (
    AttributeValue,
    UnstorableValue,
    item_to_python,
    number_text,
    python_to_item,
    to_attribute_value,
)
from crossql.backends.dynamodb.writes import DynamoWritePlan
from crossql.config import DynamoConfig
from crossql.errors import BackendError, ConfigError, QueryError
from crossql.grammar import parse_query, parse_statement
from crossql.runtime import observe
from crossql.runtime.prepared import PlanCache, PreparedQuery
from crossql.runtime.store import (
    CONFIGURED,
    BoundQuery,
    Document,
    Store,
    as_text,
    with_id_first,
)
from crossql.semantics.paging import WalkKey
from crossql.semantics.reference import MISSING, get_path
from crossql.semantics.writes import WriteResult, selects, strict_equal, updated

if TYPE_CHECKING:
    from crossql.builder import DeleteBuilder, QueryBuilder, UpdateBuilder
    from crossql.indexes.ensure import IndexOutcome
    from crossql.runtime.paging import Page, PagePlan, PageRequest

BATCH_SIZE = 25
"""Items per ``BatchWriteItem`` (DynamoDB's maximum)."""

_RETRYABLE = frozenset({
    "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
    "InternalServerError", "ServiceUnavailable", "LimitExceededException",
    "TransactionConflictException",
})
"""Error codes worth another attempt
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html):
``TransactionConflictException`` rejects (does not apply) a write to an item that a
transaction is committing."""

_IDEMPOTENT = frozenset({
    "query", "scan", "get_item", "batch_get_item", "describe_table", "list_tables",
    "batch_write_item",
})
"""Calls that are also re-sent after a network error (refused or dropped connection, read
timeout): reads, and batches of puts and deletes (re-sending writes the same items). A
conditional write is not: its first attempt may have succeeded, and the retry would then
fail its own condition."""

_CONCURRENT_BATCHES = 4

MAX_PAGE_LIMIT = 2**31 - 1
"""DynamoDB's ``Limit`` is a 32-bit integer."""
PAGE_GROWTH = 8
"""How much a page's ``Limit`` grows while no evaluated item matched."""


def page_limit(rows: int, needed: int, matched: int, evaluated: int, previous: int) -> int:
    """The ``Limit`` of the next page of a read of ``rows`` rows that has ``needed``
    left to find, after pages that evaluated ``evaluated`` items of which ``matched``
    matched (the previous page's ``Limit``: ``previous``; none yet: 0).

    DynamoDB's ``Limit`` counts evaluated items, not rows
    (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Query.Pagination.html):
    without one a selective ``limit 10`` reads a whole 1 MB page. The first page
    evaluates ``rows`` items (enough if every item matches); the next ones what the
    share of matches so far says the rows left need, or ``PAGE_GROWTH`` times more
    while nothing matched; never fewer than the rows left. The rows left get a margin
    of two standard deviations of a count of matches (``2√n + 1``): a page too short
    costs a request, items past the last row read units."""
    if evaluated == 0:
        estimate = max(rows, previous * PAGE_GROWTH)
    elif matched == 0:
        estimate = previous * PAGE_GROWTH
    elif matched >= evaluated:
        estimate = needed
    else:
        wanted = needed + 2 * math.sqrt(needed) + 1
        estimate = math.ceil(min(wanted * evaluated / matched, MAX_PAGE_LIMIT))
    return max(1, min(MAX_PAGE_LIMIT, max(estimate, needed)))
_TABLE_WAIT_SECONDS = 300.0

STREAM_SPECIFICATION = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
"""The stream a live query reads: every change, with the item before and after."""


class DynamoError(BackendError):
    """A DynamoDB call failed; ``code`` is the service's error code (or the exception's
    class name for a client-side failure)."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__("dynamodb", f"{code}: {message}")


def _driver_error(err: Exception) -> DynamoError:
    response = getattr(err, "response", None)
    if isinstance(response, Mapping):
        error = response.get("Error") or {}
        code = str(error.get("Code") or type(err).__name__)
        return DynamoError(code, str(error.get("Message") or err))
    return DynamoError(type(err).__name__, str(err))


_CREDENTIAL_CHAIN = (
    "`access_key`/`secret_key` in the dynamodb: block, the environment "
    "(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), the shared files "
    "(~/.aws/credentials and ~/.aws/config, profile AWS_PROFILE), web identity, SSO, and "
    "container and instance metadata")


async def _session(aioboto3: Any, cfg: DynamoConfig) -> Any:
    """An aioboto3 session whose region and credentials come from what the user set.

    A region written in the block wins; otherwise boto's own sources (AWS_REGION,
    AWS_DEFAULT_REGION, the profile) do, and the block's default only when they name
    none. Missing credentials are a configuration error at ``open``, not a failed
    call later (``ConfigError``, exit status 2 on the command line)."""
    written = cfg.region if "region" in cfg.model_fields_set else None
    session = aioboto3.Session(aws_access_key_id=cfg.access_key,
                               aws_secret_access_key=cfg.secret_key, region_name=written)
    if session.region_name is None:
        session = aioboto3.Session(aws_access_key_id=cfg.access_key,
                                   aws_secret_access_key=cfg.secret_key,
                                   region_name=cfg.region)
    if cfg.access_key is None and await session.get_credentials() is None:
        local = (" (DynamoDB Local accepts any values, e.g. AWS_ACCESS_KEY_ID=local "
                 "AWS_SECRET_ACCESS_KEY=local)") if cfg.endpoint_url else ""
        raise ConfigError([("dynamodb.access_key", (
            f"no AWS credentials were found; tried {_CREDENTIAL_CHAIN}. Give access_key "
            f"and secret_key in the block or set the environment variables{local}"))])
    return session


def _from_driver(err: Exception) -> bool:
    """An error of the driver stack or the network, not a bug of ours."""
    module = type(err).__module__.split(".")[0]
    return module in ("botocore", "aiobotocore", "boto3", "aioboto3", "aiohttp") or \
        isinstance(err, OSError | TimeoutError)


def _network(err: Exception) -> bool:
    """A connection that failed or broke, or an answer that did not come in time."""
    if isinstance(err, OSError | TimeoutError):
        return True
    return any(cls.__module__.split(".")[0] in ("botocore", "aiohttp") and cls.__name__ in (
        "ConnectionError", "HTTPClientError", "ClientConnectionError", "ServerTimeoutError")
        for cls in type(err).__mro__)


def _set_path(row: dict[str, Any], key: tuple[str, ...], value: Any) -> None:
    target = row
    for seg in key[:-1]:
        target = target.setdefault(seg, {})
    target[key[-1]] = value


def _key_type_of(value: Any) -> KeyType:
    if isinstance(value, bytes | bytearray):
        return "B"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "N"
    return "S"


def _schema_from_description(table: Mapping[str, Any]) -> TableSchema:
    """A ``TableSchema`` from the ``Table`` of a ``DescribeTable`` answer."""

    def keys(schema: Sequence[Mapping[str, str]]) -> tuple[str, str | None]:
        hash_key = next(k["AttributeName"] for k in schema if k["KeyType"] == "HASH")
        range_key = next((k["AttributeName"] for k in schema if k["KeyType"] == "RANGE"), None)
        return hash_key, range_key

    def projection(index: Mapping[str, Any]) -> Any:
        proj = index.get("Projection") or {}
        kind = proj.get("ProjectionType", "ALL")
        if kind == "INCLUDE":
            return tuple(proj.get("NonKeyAttributes", ()))
        return kind

    pk, sk = keys(table["KeySchema"])
    indexes = []
    for kind, local in (("LocalSecondaryIndexes", True), ("GlobalSecondaryIndexes", False)):
        for index in table.get(kind) or ():
            ipk, isk = keys(index["KeySchema"])
            indexes.append(IndexSchema(name=index["IndexName"],
                                       partition_key=None if local else ipk, sort_key=isk,
                                       local=local, projection=projection(index)))
    types = {d["AttributeName"]: d["AttributeType"] for d in table.get("AttributeDefinitions", ())}
    return TableSchema(partition_key=pk, sort_key=sk, indexes=tuple(indexes),
                       attribute_types=types)


class DynamoStoreBase(Store):
    """A store backed by DynamoDB tables, one per collection (``table_prefix`` + name)."""

    driver = "dynamodb"

    def __init__(self, config: DynamoConfig | None = None, *, client: Any = None,
                 schema: Any = None, options: Any = None, plan_cache_size: int = 256) -> None:
        if config is None:
            config = DynamoConfig()
        self._config = config
        defaults = {"allow_scan": config.allow_scan, "pk_field": config.pk_field,
                    "table_prefix": config.table_prefix, "client_side": config.client_side}
        if isinstance(options, DynamoOptions):
            opts = options
        else:
            opts = dynamo_options({**defaults, **dict(options or {})})
        self.options = opts
        from crossql.schema import EMPTY, as_schema

        self._declared = as_schema(schema) or EMPTY
        """What was declared (``schema=``, the configuration's ``collections:``); the
        store's schema is this with the key schemas discovered so far."""
        self._tables: dict[str, TableSchema] = dict(self._declared.tables)
        self._given = frozenset(self._tables)
        self._unchecked: set[str] = set(self._tables)
        """Declared key schemas not yet compared with ``DescribeTable`` (``_check``)."""
        super().__init__(plan_cache_size=plan_cache_size, schema=self._declared,
                         options=opts)
        self._plan_cache_size = plan_cache_size
        self._collection_of: OrderedDict[str, str] = OrderedDict()
        self._client = client
        self._client_context: Any = None
        self._gate = asyncio.Semaphore(config.max_pool_connections)
        self._describe_lock = asyncio.Lock()

    # -- lifecycle ------------------------------------------------------------------------
    async def open(self) -> None:
        if self._client is not None:
            return
        try:
            import aioboto3  # type: ignore[import-untyped]
            from botocore.config import Config  # type: ignore[import-untyped]
        except ImportError as err:  # pragma: no cover - depends on the installed extras
            raise BackendError("dynamodb", "the DynamoDB driver is missing: "
                               "pip install 'crossql[dynamodb]'") from err
        cfg = self._config
        session = await _session(aioboto3, cfg)
        # retries are ours (_call): botocore's own would multiply them
        boto_config = Config(retries={"total_max_attempts": 1},
                             connect_timeout=cfg.connect_timeout, read_timeout=cfg.read_timeout,
                             max_pool_connections=cfg.max_pool_connections)
        context = session.client("dynamodb", endpoint_url=cfg.endpoint_url, config=boto_config)
        try:
            self._client = await context.__aenter__()
        except Exception as err:
            raise _driver_error(err) from err
        self._client_context = context

    async def close(self) -> None:
        if self._client_context is not None:
            context, self._client_context, self._client = self._client_context, None, None
            await context.__aexit__(None, None, None)

    @property
    def client(self) -> Any:
        """The aioboto3 low-level DynamoDB client (after ``open``)."""
        if self._client is None:
            raise BackendError("dynamodb", "the store is not open: use `async with store:`")
        return self._client

    def table_name(self, collection: str) -> str:
        """The DynamoDB table that holds a collection."""
        return self.options.table_prefix + collection

    # -- calls, retries -----------------------------------------------------------------
    def _backoff(self, attempt: int) -> float:
        """Full jitter over a capped exponential: uniform in [0, min(max, base * 2^(n-1))]."""
        cfg = self._config
        return random.uniform(0, min(cfg.backoff_max, cfg.backoff_base * 2 ** (attempt - 1)))

    async def _call(self, method: str, **kwargs: Any) -> Any:
        # counted and traced within an observed call; a Scan logs a WARNING (runtime/observe.py)
        return await observe.dynamodb_request(kwargs.get("TableName"), method, kwargs,
                                              self._send)

    async def _send(self, method: str, kwargs: dict[str, Any]) -> Any:
        attempt = 0
        while True:
            try:
                # at most max_pool_connections calls in flight, queued first come, first
                # served: past its limit aiohttp's pool lets a task that just released a
                # connection take it again before the tasks waiting for one, which then
                # starve for as long as the others keep it busy (10 s under a 16-task load)
                async with self._gate:
                    return await getattr(self.client, method)(**kwargs)
            except BackendError:
                raise
            except Exception as err:
                if not _from_driver(err):
                    raise
                error = _driver_error(err)
                attempt += 1
                retry = error.code in _RETRYABLE or (method in _IDEMPOTENT and _network(err))
                if retry and attempt < self._config.max_attempts:
                    await asyncio.sleep(self._backoff(attempt))
                    continue
                raise error from err

    # -- key schemas ----------------------------------------------------------------------
    async def describe(self, collection: str) -> TableSchema | None:
        """The key schema of a collection's table from ``DescribeTable`` (None when the
        table does not exist); remembered for planning."""
        try:
            answer = await self._call("describe_table", TableName=self.table_name(collection))
        except DynamoError as err:
            if err.code == "ResourceNotFoundException":
                return None
            raise
        schema = _schema_from_description(answer["Table"])
        self._remember(collection, schema)
        return schema

    async def _check(self, collection: str, declared: TableSchema) -> None:
        """Compare a declared key schema with ``DescribeTable``, once per collection: a
        contradiction is a ``ConfigError`` naming both (a plan made from the declaration
        would fail on the server, or answer from the wrong keys). A table that does not
        exist yet is not checked."""
        self._unchecked.discard(collection)
        table = self.table_name(collection)
        try:
            answer = await self._call("describe_table", TableName=table)
        except DynamoError as err:
            if err.code == "ResourceNotFoundException":
                return
            raise
        problems = key_schema_conflicts(declared, _schema_from_description(answer["Table"]),
                                        f"collections.{collection}.dynamodb", table)
        if problems:
            from crossql.errors import ConfigError

            self._unchecked.add(collection)  # still wrong next time
            raise ConfigError(problems)

    def _remember(self, collection: str, schema: TableSchema | None) -> None:
        if collection in self._given:
            return
        if schema is None:
            self._tables.pop(collection, None)
        elif self._tables.get(collection) == schema:
            return
        else:
            self._tables[collection] = schema
        self._schema = self._declared.with_tables(self._tables)
        self._forget_plans()

    def use_schema(self, schema: Any) -> None:
        """Declare ``schema`` over what this store was given (``Store.use_schema``): its
        DynamoDB key schemas are taken as given, never looked up."""
        from crossql.schema import as_schema

        declared = as_schema(schema)
        if declared is None:
            return
        self._declared = self._declared.merged(declared)
        self._tables.update(declared.tables)
        self._given = self._given | frozenset(declared.tables)
        self._unchecked.update(declared.tables)
        self._schema = self._declared.with_tables(self._tables)
        self._forget_plans()

    def _forget_plans(self) -> None:
        # plans compiled under the old key schema must not be reused
        self._cache = PlanCache(self._plan_cache_size)

    async def _ensure_schema(self, collection: str) -> None:
        known = self._tables.get(collection)
        if known is not None:
            if collection in self._unchecked:
                await self._check(collection, known)
            if self._schema.tables.get(collection) is not known:
                # another store of the group (a transaction's base) looked it up
                self._schema = self._declared.with_tables(self._tables)
            return
        async with self._describe_lock:
            if collection not in self._tables:
                await self.describe(collection)

    def _collection(self, text: str) -> str:
        name = self._collection_of.get(text)
        if name is None:
            name = parse_query(text).collection
            self._collection_of[text] = name
            if len(self._collection_of) > max(self._plan_cache_size, 1):
                self._collection_of.popitem(last=False)
        return name

    def _prepared(self, text: str) -> PreparedQuery:
        return self._cache.get(text, self.driver, schema=self._schema, options=self._options)

    # -- queries (the table's key schema is looked up first) ---------------------------------
    def prepare(self, text: str | QueryBuilder) -> BoundQuery:
        """Parse, check and plan ``text`` with the key schemas known so far; each run
        looks the table up first (and re-plans if its schema was not known yet)."""
        return _DynamoBoundQuery(self, as_text(text, None)[0])

    async def _query_rows(self, text: str | QueryBuilder,
                          params: Mapping[str, Any] | None,
                          client_side: Any = CONFIGURED) -> AsyncIterator[Document]:
        text, params = as_text(text, params)
        await self._ensure_schema(self._collection(text))
        async for row in self.run_plan(self.plan(text, params, client_side=client_side)):
            yield row

    async def count(self, text: str | QueryBuilder, /, *, client_side: Any = CONFIGURED,
                    **params: Any) -> int:
        text, given = as_text(text, params)
        await self._ensure_schema(self._collection(text))
        return await self.count_plan(self.plan(text, given, client_side=client_side))

    # -- plans ----------------------------------------------------------------------------
    def _plan(self, plan: Plan) -> DynamoPlan:
        if not isinstance(plan, DynamoPlan):
            raise TypeError(f"the DynamoDB store runs DynamoDB plans, not {type(plan).__name__}")
        return plan

    async def _pages(self, method: str, request: Mapping[str, Any],
                     limit: int | None = None) -> AsyncIterator[Any]:
        """The pages of a read, following ``LastEvaluatedKey``. For a read that needs
        ``limit`` rows (items that pass its filter), each page gets the ``Limit``
        ``page_limit`` says; the caller stops when it has enough."""
        kwargs = dict(request)
        matched = evaluated = previous = 0
        while True:
            if limit is not None:
                previous = kwargs["Limit"] = page_limit(limit, max(limit - matched, 1),
                                                        matched, evaluated, previous)
            page = await self._call(method, **kwargs)
            yield page
            if limit is not None:
                count = int(page.get("Count", 0))
                matched += count
                evaluated += int(page.get("ScannedCount", count))
            last = page.get("LastEvaluatedKey")
            if not last:
                return
            kwargs["ExclusiveStartKey"] = last

    async def _items(self, plan: DynamoPlan) -> AsyncIterator[dict[str, Any]]:
        """Matching items as plain dicts, at most ``plan.limit`` of them."""
        if plan.never or plan.limit == 0:
            return
        left = plan.limit
        async for page in self._pages(plan.method, plan.request, plan.limit):
            for item in page.get("Items", ()):
                yield item_to_python(item)
                if left is not None:
                    left -= 1
                    if left <= 0:
                        return

    async def _count(self, plan: DynamoPlan, request: Mapping[str, Any]) -> int:
        if plan.never:
            return 0
        total = 0
        limit = plan.limit if plan.count_names is None else None  # `select count()`: rows
        async for page in self._pages(plan.method, request, limit):
            total += int(page.get("Count", 0))
            if limit is not None and total >= limit:
                break
        return total

    @staticmethod
    def _row(plan: DynamoPlan, doc: dict[str, Any]) -> Document:
        if plan.outputs is None:
            if plan.pk_field in doc:
                doc_id = doc.pop(plan.pk_field)
                return with_id_first(doc, doc_id)
            return doc
        row: Document = {}
        for key, path in plan.outputs:
            value = get_path(doc, path)
            if value is not MISSING:
                _set_path(row, key, value)
        return row

    async def run_plan(self, plan: Plan) -> AsyncIterator[Document]:
        if type(plan) is ClientSidePlan:
            async for row in self.run_completed(plan):
                yield row
            return
        dplan = self._plan(plan)
        if dplan.count_names is not None:
            if dplan.limit != 0:
                total = await self._count(dplan, dplan.request)
                yield dict.fromkeys(dplan.count_names, total)
            return
        async for doc in self._items(dplan):
            yield self._row(dplan, doc)

    async def count_plan(self, plan: Plan) -> int:
        if type(plan) is ClientSidePlan:
            return await self.count_completed(plan)
        dplan = self._plan(plan)
        if dplan.limit == 0:
            return 0
        if dplan.count_names is not None:
            return 1
        total = await self._count(dplan, dplan.count_request)
        return total if dplan.limit is None else min(total, dplan.limit)

    # -- pages (docs/pagination.md) ----------------------------------------------------------
    page_resume = ("`ExclusiveStartKey` set to the key attributes (the table's and the "
                   "index's) of the last row served, on the same Query or Scan; pages of "
                   "DynamoDB are read until the page has its rows (their `Limit` counts "
                   "items read, not returned), and the rows read past it are read again by "
                   "the next page rather than skipped")

    _last_page_read: tuple[ir.Query, Any, DynamoPlan] | None = None
    """The last page read compiled, with the schema it was compiled for."""

    def _page_read(self, query: ir.Query) -> DynamoPlan:
        """The read a page of ``query`` runs: the query itself, whole items, no limit (the
        page stops it), so a Query stays a Query and a Scan a Scan (``allow_scan``)."""
        whole = replace(query, select=(), limit=None, offset=None)
        last = self._last_page_read
        if last is not None and last[0] == whole and last[1] is self._schema:
            return last[2]  # a page compiles its read twice: for its keys, then to run
        try:
            # a page resumes where DynamoDB stopped: never completed client-side
            plan = self._plan(compile_dynamodb(whole, schema=self._schema,
                                               options=with_client_side(self._options, None)))
        except QueryError as err:
            raise err.with_source(query.source) from None
        self._last_page_read = (whole, self._schema, plan)
        return plan

    def _resume_attributes(self, plan: DynamoPlan) -> list[str]:
        """The attributes of an ``ExclusiveStartKey`` on the plan's table or index."""
        schema = self._tables.get(plan.collection)
        if schema is None:
            return [plan.pk_field]
        names: list[str | None] = []
        if plan.index_name is not None:
            index = next(i for i in schema.indexes if i.name == plan.index_name)
            names += [index.partition_key or schema.partition_key, index.sort_key]
        names += [schema.partition_key, schema.sort_key]
        return list(dict.fromkeys(n for n in names if n is not None))

    def walk_keys(self, query: ir.Query) -> tuple[WalkKey, ...]:
        """The key attributes of the table or index the query reads (``_id`` for
        ``pk_field``): what ``ExclusiveStartKey`` holds."""
        if query.is_aggregate or query.offset is not None:
            return super().walk_keys(query)  # refused next, as on every backend
        plan = self._page_read(query)
        return tuple(WalkKey(ir.Path(("_id",) if name == plan.pk_field else (name,)))
                     for name in self._resume_attributes(plan))

    def resume_text(self, req: PageRequest) -> str:
        keys = ", ".join(".".join(k.path.segments) for k in req.keys)
        return f"{self.page_resume}; here the key attributes of ({keys})"

    def compile_page(self, req: PageRequest) -> Plan:
        return self._page_read(req.query)

    async def run_page(self, plan: PagePlan) -> list[Document]:
        """Items of the plan's Query or Scan from ``ExclusiveStartKey`` (the last row
        served), page after page, until ``read`` of them matched."""
        req = plan.request
        if plan.inner is None:
            return []
        dplan = self._plan(plan.inner)
        if dplan.never:
            return []
        request = dict(dplan.request)
        if req.after is not None:
            names = self._resume_attributes(dplan)
            request["ExclusiveStartKey"] = {name: to_attribute_value(value)
                                            for name, value in zip(names, req.after,
                                                                   strict=True)}
        rows: list[Document] = []
        async for page in self._pages(dplan.method, request, req.read):
            for item in page.get("Items", ()):
                rows.append(self._row(dplan, item_to_python(item)))
                if len(rows) >= req.read:
                    return rows
        return rows

    # -- writes ---------------------------------------------------------------------------
    async def execute(self, text: str | ir.Update | ir.Delete | UpdateBuilder | DeleteBuilder,
                      /, **params: Any) -> WriteResult:
        """Look the table's key schema up, then run the write (``Store.execute``)."""
        if not isinstance(text, str | ir.Update | ir.Delete):
            text, given = as_text(text, params)
            params = dict(given or {})
        statement = parse_statement(text) if isinstance(text, str) else text
        if isinstance(statement, ir.Update | ir.Delete):
            await self._ensure_schema(statement.collection)
            return await super().execute(statement, **params)
        return await super().execute(text, **params)  # a read: refused there

    async def execute_plan(self, plan: Plan) -> WriteResult:
        if not isinstance(plan, DynamoWritePlan):
            raise TypeError(f"the DynamoDB store runs DynamoDB plans, not {type(plan).__name__}")
        if plan.never:
            return WriteResult()
        writes, docs = await self._write_targets(plan)
        matched = modified = 0
        statement = plan.statement
        if docs:
            assert isinstance(statement, ir.Update)
            # an increment the reference refuses (past the 64-bit range) is refused
            # before anything is written: DynamoDB would add the 38-digit decimals
            self._check_increments(statement, docs)
        for key, request in writes:
            try:
                answer = await self._call(plan.method, Key=key, **request)
            except DynamoError as err:
                if err.code == "ConditionalCheckFailedException":
                    continue  # changed since the read, or never matched: skipped
                raise
            matched += 1
            if isinstance(statement, ir.Update):
                old = item_to_python(answer.get("Attributes", {}))
                try:
                    changed = not strict_equal(updated(statement, old), old)
                except BackendError:  # changed since the read, past the 64-bit range
                    changed = True
                modified += changed
        if isinstance(statement, ir.Delete):
            return WriteResult(matched=matched, deleted=matched)
        return WriteResult(matched=matched, modified=modified)

    async def _write_targets(self, plan: DynamoWritePlan) -> tuple[
            list[tuple[dict[str, Any], dict[str, Any]]], list[Document]]:
        """The key and request of each item the write reads, and (for an increment) each
        item as read."""
        read = plan.read
        left = read.limit
        writes: list[tuple[dict[str, Any], dict[str, Any]]] = []
        docs: list[Document] = []
        increments = isinstance(plan.statement, ir.Update) and any(
            isinstance(a, ir.Increment) for a in plan.statement.assignments)
        # every key first (each write re-checks its item), then the writes
        async for page in self._pages(read.method, read.request, left):
            for item in page.get("Items", ()):
                # assignments below a map are written as each item needs (None: skipped)
                request = plan.item_request(self._document(item)) if plan.nested \
                    else plan.request
                if request is None:
                    continue  # not matched (the read's filter skips such items already)
                if increments:
                    docs.append(self._document(item))
                writes.append(({k: item[k] for k in plan.key_attributes}, request))
                if left is not None:
                    left -= 1
                    if left <= 0:
                        break
            if left is not None and left <= 0:
                break
        return writes, docs

    @staticmethod
    def _check_increments(statement: ir.Update, docs: list[Document]) -> None:
        """Raise the reference's error where an increment of an item as read leaves the
        64-bit range (or is not finite), before any item is written."""
        for doc in docs:
            if not selects(statement, doc):
                continue  # its write's condition skips it
            try:
                new = updated(statement, doc)
            except BackendError as err:
                raise BackendError("dynamodb", err.message) from None
            for item in statement.assignments:
                if isinstance(item, ir.Increment):
                    _check_sum(item, get_path(doc, item.path.segments),
                               get_path(new, item.path.segments))

    # -- tables ---------------------------------------------------------------------------
    async def create_collection(
        self, name: str, partition_key: str | None = None, sort_key: str | None = None,
        indexes: Sequence[IndexSchema | Mapping[str, Any]] = (),
        attribute_types: Mapping[str, KeyType] | None = None, *, stream: bool = False,
    ) -> TableSchema:
        """Create an on-demand table for a collection and wait until it is active.

        ``partition_key`` defaults to ``pk_field``; ``indexes`` are ``IndexSchema``
        models or dicts (``name``, ``partition_key``, ``sort_key``, ``local``,
        ``projection``); key attributes are strings (``S``) unless
        ``attribute_types`` says ``N`` or ``B``. ``stream=True``: with a
        ``NEW_AND_OLD_IMAGES`` stream, which live queries read (docs/live-queries.md).
        """
        schema = TableSchema(
            partition_key=partition_key or self.options.pk_field, sort_key=sort_key,
            indexes=tuple(i if isinstance(i, IndexSchema) else IndexSchema.model_validate(i)
                          for i in indexes),
            attribute_types=dict(attribute_types or {}))
        types = dict(schema.attribute_types)
        key_names = list(schema.key_attributes)
        for index in schema.indexes:
            key_names += [n for n in (index.partition_key, index.sort_key) if n]
        request: dict[str, Any] = {
            "TableName": self.table_name(name),
            "KeySchema": _key_schema(schema.partition_key, schema.sort_key),
            "AttributeDefinitions": [{"AttributeName": n, "AttributeType": types.get(n, "S")}
                                     for n in dict.fromkeys(key_names)],
            "BillingMode": "PAY_PER_REQUEST",
        }
        if stream:
            request["StreamSpecification"] = STREAM_SPECIFICATION
        for kind, local in (("LocalSecondaryIndexes", True), ("GlobalSecondaryIndexes", False)):
            chosen = [i for i in schema.indexes if i.local == local]
            if chosen:
                request[kind] = [{
                    "IndexName": i.name,
                    "KeySchema": _key_schema(i.partition_key or schema.partition_key, i.sort_key),
                    "Projection": _projection(i),
                } for i in chosen]
        await self._call("create_table", **request)
        described = await self._wait_active(name)
        self._remember(name, described)
        return described

    async def ensure_indexes(self, declared: Mapping[str, Sequence[Any]],
                             prune: bool = False) -> list[IndexOutcome]:
        """Create the declared indexes (``{collection: [declaration, ...]}``, as in the
        schema: docs/indexes.md) that are missing: a missing table with its indexes, else
        each missing GSI by ``UpdateTable``, waiting until it is ``ACTIVE``. Each outcome
        says ``exists``, ``created`` or ``differs``; the table's other indexes are
        ``undeclared``, or with ``prune`` its other GSIs are deleted (``dropped``; an LSI
        cannot be: ``differs``). The planner then knows the new indexes (a query that
        needed one becomes a ``Query`` on it)."""
        from crossql.indexes.ensure import declared_for, ensure_dynamo

        types = {name: dict(table.attribute_types) for name, table in self._tables.items()}
        return await ensure_dynamo(self, declared_for("dynamodb", declared, types), prune)

    async def _describe_until(self, table: str, done: Callable[[dict[str, Any] | None], bool],
                              failure: str) -> dict[str, Any] | None:
        """``DescribeTable`` of ``table`` (None once it does not exist), polled with a
        growing delay until ``done`` says so; ``failure`` (what is still not so) after
        ``_TABLE_WAIT_SECONDS``. Table and index changes are asynchronous in DynamoDB."""
        deadline = time.monotonic() + _TABLE_WAIT_SECONDS
        delay = 0.05
        while True:
            try:
                answer: dict[str, Any] | None = \
                    (await self._call("describe_table", TableName=table))["Table"]
            except DynamoError as err:
                if err.code != "ResourceNotFoundException":
                    raise
                answer = None
            if done(answer):
                return answer
            if time.monotonic() > deadline:
                raise BackendError("dynamodb", f"{failure} after {_TABLE_WAIT_SECONDS:.0f} s")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)

    async def _wait_gone(self, collection: str, index: str) -> None:
        """Wait until ``DescribeTable`` no longer lists the GSI ``index`` (deleted)."""
        table = self.table_name(collection)
        await self._describe_until(
            table, lambda t: t is None or all(
                i["IndexName"] != index for i in t.get("GlobalSecondaryIndexes") or ()),
            f"index {index} of table {table} is not gone")

    async def _wait_active(self, collection: str) -> TableSchema:
        table = self.table_name(collection)
        answer = await self._describe_until(
            table, lambda t: t is not None and t.get("TableStatus") == "ACTIVE" and all(
                i.get("IndexStatus") == "ACTIVE" for i in t.get("GlobalSecondaryIndexes") or ()),
            f"table {table} is not active")
        assert answer is not None  # (done only once it exists)
        return _schema_from_description(answer)

    async def drop_collection(self, name: str) -> None:
        table = self.table_name(name)
        try:
            await self._call("delete_table", TableName=table)
        except DynamoError as err:
            if err.code != "ResourceNotFoundException":
                raise
        await self._describe_until(table, lambda t: t is None,
                                   f"table {table} is still being deleted")
        self._remember(name, None)

    # -- documents ------------------------------------------------------------------------
    def _item(self, doc: Mapping[str, Any]) -> dict[str, AttributeValue]:
        pk = self.options.pk_field
        body = dict(doc)
        if pk != "_id" and "_id" in body:
            if pk in body:
                raise BackendError("dynamodb", f"a document has both `_id` and `{pk}` "
                                   f"(`_id` is stored as `{pk}`)")
            body = {pk: body.pop("_id"), **body}
        try:
            return python_to_item(body)
        except UnstorableValue as err:
            raise BackendError("dynamodb", f"cannot store document {doc.get('_id')!r}: "
                               f"{err}") from None

    async def _table_for_write(self, collection: str, docs: list[Document]) -> TableSchema:
        await self._ensure_schema(collection)
        schema = self._tables.get(collection)
        if schema is not None:
            return schema
        # like a MongoDB collection, a table appears on first write: keyed by pk_field,
        # typed by the first document's id
        pk = self.options.pk_field
        first = next((d["_id"] for d in docs if "_id" in d), "")
        return await self.create_collection(collection, attribute_types={pk: _key_type_of(first)})

    async def insert_documents(self, collection: str, docs: list[Document]) -> list[Any]:
        schema = await self._table_for_write(collection, docs)
        items = [self._item(doc) for doc in docs]
        seen: set[str] = set()
        for doc, item in zip(docs, items, strict=True):
            key = repr([item.get(k) for k in schema.key_attributes])
            if key in seen:
                raise BackendError("dynamodb", f"duplicate key {doc.get('_id')!r} in one "
                                   "insert (BatchWriteItem refuses duplicates)")
            seen.add(key)
        table = self.table_name(collection)
        if len(items) == 1:
            # one document: a conditional put, so an existing key is an error as on MongoDB
            pk_name = "#k"
            try:
                await self._call("put_item", TableName=table, Item=items[0],
                                 ConditionExpression=f"attribute_not_exists({pk_name})",
                                 ExpressionAttributeNames={pk_name: schema.partition_key})
            except DynamoError as err:
                if err.code == "ConditionalCheckFailedException":
                    raise BackendError("dynamodb", f"duplicate _id {docs[0].get('_id')!r} in "
                                       f"{collection!r}") from err
                raise
        else:
            await self._batch_write(table, [{"PutRequest": {"Item": i}} for i in items])
        return [d.get("_id") for d in docs]

    async def _batch_write(self, table: str, requests: list[dict[str, Any]]) -> None:
        gate = asyncio.Semaphore(_CONCURRENT_BATCHES)

        async def send(batch: list[dict[str, Any]]) -> None:
            async with gate:
                pending: dict[str, Any] = {table: batch}
                attempt = 0
                while pending:
                    answer = await self._call("batch_write_item", RequestItems=pending)
                    pending = answer.get("UnprocessedItems") or {}
                    if pending:
                        attempt += 1
                        if attempt >= self._config.max_attempts:
                            left = sum(len(v) for v in pending.values())
                            raise BackendError("dynamodb", f"{left} items still unprocessed "
                                               f"after {attempt} attempts of BatchWriteItem")
                        await asyncio.sleep(self._backoff(attempt))

        batches = [requests[i:i + BATCH_SIZE] for i in range(0, len(requests), BATCH_SIZE)]
        await asyncio.gather(*(send(b) for b in batches))

    async def _get_key(self, collection: str, doc_id: Any) -> dict[str, AttributeValue] | None:
        """The key of the item ``get(doc_id)`` reads (None: no item can have that id)."""
        await self._ensure_schema(collection)
        schema = self._tables.get(collection)
        if schema is None:
            return None
        if schema.sort_key is not None:
            raise BackendError("dynamodb", f"table {self.table_name(collection)} also has the "
                               f"sort key {schema.sort_key!r}: use fetch with a condition")
        declared = schema.attribute_types.get(schema.partition_key)
        if (declared is not None and _key_type_of(doc_id) != declared) or doc_id == "" \
                or isinstance(doc_id, bool) or doc_id is None:
            return None  # no item can have such a key
        try:
            return {schema.partition_key: to_attribute_value(doc_id)}
        except UnstorableValue:
            return None

    def _document(self, item: Mapping[str, AttributeValue]) -> Document:
        """A stored item as a document (``pk_field`` back to ``_id``, first)."""
        doc = item_to_python(dict(item))
        pk = self.options.pk_field
        if pk in doc:
            return with_id_first(doc, doc.pop(pk))
        return doc

    async def get_document(self, collection: str, doc_id: Any) -> Document | None:
        key = await self._get_key(collection, doc_id)
        if key is None:
            return None
        answer = await self._call("get_item", TableName=self.table_name(collection), Key=key,
                                  ConsistentRead=True)
        item = answer.get("Item")
        return None if item is None else self._document(item)

    async def delete_where(self, collection: str, query: ir.Query) -> int:
        await self._ensure_schema(collection)
        schema = self._tables.get(collection)
        if schema is None:
            return 0
        plan = compile_dynamodb(ir.Query(collection, where=query.where, source=query.source),
                                schema=self._schema, options=self.options)
        assert isinstance(plan, DynamoPlan)  # a `where` alone: nothing client-side
        requests = []
        async for item in self._raw_items(plan):
            key = {k: item[k] for k in schema.key_attributes}
            requests.append({"DeleteRequest": {"Key": key}})
        if requests:
            await self._batch_write(self.table_name(collection), requests)
        return len(requests)

    async def _raw_items(self, plan: DynamoPlan) -> AsyncIterator[dict[str, Any]]:
        if plan.never:
            return
        async for page in self._pages(plan.method, plan.request):
            for item in page.get("Items", ()):
                yield item

    def new_id(self) -> str:
        return uuid.uuid4().hex


def _key_schema(partition_key: str, sort_key: str | None) -> list[dict[str, str]]:
    schema = [{"AttributeName": partition_key, "KeyType": "HASH"}]
    if sort_key is not None:
        schema.append({"AttributeName": sort_key, "KeyType": "RANGE"})
    return schema


def _projection(index: IndexSchema) -> dict[str, Any]:
    if isinstance(index.projection, str):
        return {"ProjectionType": index.projection}
    return {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(index.projection)}


class _DynamoBoundQuery(BoundQuery):
    """A prepared query that looks its table's key schema up before each run."""

    __slots__ = ("text",)

    def __init__(self, store: DynamoStoreBase, text: str) -> None:
        super().__init__(store, store._prepared(text))
        self.text = text

    async def _fresh(self) -> PreparedQuery:
        store = self.store
        assert isinstance(store, DynamoStoreBase)
        await store._ensure_schema(self.prepared.query.collection)
        # a cache hit, unless discovering the schema replaced the cached plans
        self.prepared = store._prepared(self.text)
        return self.prepared

    async def fetch(self, **params: Any) -> list[Document]:
        prepared = await self._fresh()
        return [row async for row in self.store.run_plan(prepared.plan(params))]

    def stream(self, **params: Any) -> AsyncIterator[Document]:
        return self._stream(params)

    async def _stream(self, params: Mapping[str, Any]) -> AsyncIterator[Document]:
        prepared = await self._fresh()
        async for row in self.store.run_plan(prepared.plan(params)):
            yield row

    async def count(self, **params: Any) -> int:
        prepared = await self._fresh()
        return await self.store.count_plan(prepared.plan(params))

    async def page(self, *, size: int, after: str | None = None, total: bool = False,
                   **params: Any) -> Page:
        await self._fresh()
        return await super().page(size=size, after=after, total=total, **params)


def _check_sum(item: ir.Increment, old: Any, new: Any) -> None:
    """Raise where DynamoDB's sum (of 38-digit decimals) would not be the reference's
    ``new``: a result it cannot hold, or a float sum the decimals do not give (``0.2 +
    0.1`` is ``0.30000000000000004`` in floats, ``0.3`` in DynamoDB)."""
    amount: Any = item.amount.value  # type: ignore[union-attr]
    try:
        text = to_attribute_value(new)["N"]
        if isinstance(new, float) or isinstance(old, float) or isinstance(amount, float):
            with localcontext() as exact:
                exact.prec = 400  # the 38 digits of each side, wherever their exponents
                total = Decimal(number_text(old)) + Decimal(number_text(amount))
            if total != Decimal(text):
                raise UnstorableValue(f"DynamoDB adds decimals exactly ({total}), where the "
                                      f"float sum is {new!r}: store the number as a Decimal")
    except UnstorableValue as err:
        raise BackendError("dynamodb", f"`{item.path.dotted} + {amount!r}` gives a number "
                           f"DynamoDB cannot hold as the reference computes it ({err}); "
                           "nothing was written") from None


def key_schema_conflicts(declared: TableSchema, found: TableSchema, where: str,
                         table: str) -> list[tuple[str, str]]:
    """Where a declared key schema contradicts the one ``DescribeTable`` reports for
    ``table``, as ``ConfigError`` problems (path, message naming both). What the
    declaration leaves out (an index, a key's type) is not a contradiction."""
    said = f"DescribeTable of `{table}` says"

    def differ(path: str, mine: str | None, theirs: str | None) -> None:
        if mine != theirs:
            problems.append((f"{where}.{path}", f"declared `{mine}`, but {said} "
                             + (f"`{theirs}`" if theirs is not None else "none")))

    problems: list[tuple[str, str]] = []
    differ("partition_key", declared.partition_key, found.partition_key)
    differ("sort_key", declared.sort_key, found.sort_key)
    indexes = {index.name: index for index in found.indexes}
    for n, index in enumerate(declared.indexes):
        other = indexes.get(index.name)
        if other is None:
            problems.append((f"{where}.indexes.{n}", f"index `{index.name}` is declared, "
                             f"but {said} the table has no such index"))
            continue
        mine = _keys_text(index.partition_key or declared.partition_key, index.sort_key)
        theirs = _keys_text(other.partition_key or found.partition_key, other.sort_key)
        if mine != theirs:
            problems.append((f"{where}.indexes.{n}", f"index `{index.name}` is declared "
                             f"on {mine}, but {said} {theirs}"))
    for key, kind in declared.attribute_types.items():
        other_kind = found.attribute_types.get(key)
        if other_kind is not None and other_kind != kind:
            problems.append((f"{where}.attribute_types.{key}", f"declared `{kind}`, but "
                             f"{said} `{other_kind}`"))
    return problems


def _keys_text(partition_key: str, sort_key: str | None) -> str:
    return f"`{partition_key}`" + (f", `{sort_key}`" if sort_key else "")
