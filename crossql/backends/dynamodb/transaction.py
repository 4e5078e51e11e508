"""DynamoDB transactions: writes collected, reads re-checked, one ``TransactWriteItems``.

DynamoDB has no interactive transaction: ``TransactWriteItems`` applies up to 100
actions at once, each with its own condition, or none of them
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html).
A CrossQL transaction is built on it (docs/transactions.md, "DynamoDB"):

- Writes are collected, not sent. An insert becomes a ``Put`` with
  ``attribute_not_exists`` of the partition key; ``tx.execute(update/delete)``
  and ``delete_many`` read their items at once (the write plan's Query/Scan,
  outside any transaction) and become one ``Update``/``Delete`` per item with
  the condition the non-transactional write sends (it re-checks the ``where``
  and the guards on the item as it is at commit).
- Reads are optimistic: every item a read returned is remembered with the
  attributes it returned; the commit asserts (a ``ConditionCheck``, or a term
  of that item's write condition) that they still hold those values, and that
  the attributes read as missing are still missing. An item that changed since
  the transaction read it cancels the whole commit: ``TransactionConflict``,
  nothing written.
- A read cannot see the transaction's own writes, so one that could is refused
  (``BackendError``); so is a transaction past DynamoDB's limits (100 actions,
  4 MB, one action per item), at the statement that overflows.
"""

from __future__ import annotations

import asyncio
import copy
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from crossql import ir
from crossql.backends import Plan
from crossql.backends.completion import ClientSidePlan
from crossql.backends.dynamodb.plan import DynamoPlan
from crossql.backends.dynamodb.schema import IndexSchema, KeyType, TableSchema
from crossql.backends.dynamodb.store_base import (
    _RETRYABLE,
    DynamoStoreBase,
    _driver_error,
    _DynamoBoundQuery,
    _from_driver,
    _network,
)
from crossql.backends.dynamodb.values import AttributeValue, item_to_python
from crossql.backends.dynamodb.writes import DynamoWritePlan
from crossql.compiler.checks import bind, check_query
from crossql.errors import BackendError, TransactionConflict
from crossql.grammar import parse_query
from crossql.runtime.completion import complete_rows
from crossql.runtime.prepared import PlanCache, PreparedQuery
from crossql.runtime.store import CONFIGURED, BoundQuery, Document, Store, as_text
from crossql.runtime.transaction import TransactionScope
from crossql.semantics.reference import evaluate_condition
from crossql.semantics.writes import WriteResult, selects, strict_equal, updated

if TYPE_CHECKING:
    from crossql.builder import QueryBuilder
    from crossql.runtime.paging import Page, PagePlan

MAX_ACTIONS = 100
"""Actions in one ``TransactWriteItems`` (DynamoDB's limit)."""
MAX_BYTES = 4 * 1024 * 1024
"""The aggregate size of a ``TransactWriteItems`` (DynamoDB's limit: 4 MB)."""
MAX_CONDITION_BYTES = 4096
"""The longest expression DynamoDB accepts."""

_CONFLICT_REASONS = frozenset({"ConditionalCheckFailed", "TransactionConflict"})
_TRANSIENT_REASONS = frozenset({"ThrottlingError", "ProvisionedThroughputExceeded",
                                "RequestLimitExceeded"})
_WRITE_KEYS = ("UpdateExpression", "ConditionExpression", "ExpressionAttributeNames",
               "ExpressionAttributeValues")
"""What of a write plan's request goes into a transaction's action (not ReturnValues)."""

_ItemId = tuple[str, str]
"""An item of a transaction: its table and the text of its key."""
Path = tuple[str, ...]


def _item_id(table: str, key: Mapping[str, AttributeValue]) -> _ItemId:
    return table, repr(sorted((name, _normal(av)) for name, av in key.items()))


def _normal(av: AttributeValue) -> Any:
    # a key's number read back from DynamoDB may be spelt differently ("1" vs "1.0")
    (kind, value), = av.items()
    if kind == "N":
        return kind, float(value) if any(c in value for c in ".eE") else int(value)
    return kind, value


def _size(value: Any) -> int:
    """Bytes a value takes in a request, about (names and values as sent)."""
    if isinstance(value, str):
        return len(value.encode("utf-8"))
    if isinstance(value, bytes | bytearray):
        return len(value)
    if isinstance(value, Mapping):
        return sum(_size(k) + _size(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return sum(_size(v) for v in value) + 1
    return 1


def _av_at(item: Mapping[str, AttributeValue], path: Path) -> AttributeValue | None:
    """The AttributeValue at a path of a raw item (None: missing)."""
    av = item.get(path[0])
    for segment in path[1:]:
        if av is None or "M" not in av:
            return None
        av = av["M"].get(segment)
    return av


def _same(a: AttributeValue | None, b: AttributeValue | None) -> bool:
    if a is None or b is None:
        return a is b
    return strict_equal(item_to_python({"v": a})["v"], item_to_python({"v": b})["v"])


def _no_pages() -> BackendError:
    return BackendError("dynamodb", "pages are not read inside a DynamoDB transaction (it "
                        "re-checks every item read at commit, and a cursor's walk outlives "
                        "it): page before or after the transaction (docs/pagination.md)")


@dataclass
class _Seen:
    """What the transaction read of one item: asserted again at commit."""

    table: str
    collection: str
    key: dict[str, AttributeValue]
    exists: bool
    values: dict[Path, AttributeValue | None] = field(default_factory=dict)
    """Attribute paths read, with the value read (None: read as missing)."""

    def condition(self) -> tuple[str, dict[str, str], dict[str, AttributeValue]]:
        """The condition that the item is still as read: text, names, values (``#rK``,
        ``:rK``: distinct from the write plans' ``#nK``, ``:vK``)."""
        names: dict[str, str] = {}
        values: dict[str, AttributeValue] = {}
        name_of: dict[str, str] = {}

        def name(segment: str) -> str:
            if segment not in name_of:
                name_of[segment] = f"#r{len(name_of)}"
                names[name_of[segment]] = segment
            return name_of[segment]

        pk = name(next(iter(self.key)))
        if not self.exists:
            return f"attribute_not_exists({pk})", names, values
        terms = [f"attribute_exists({pk})"]
        for path, av in self.values.items():
            text = ".".join(name(s) for s in path)
            if av is None:
                terms.append(f"attribute_not_exists({text})")
            else:
                placeholder = f":r{len(values)}"
                values[placeholder] = av
                terms.append(f"{text} = {placeholder}")
        return " AND ".join(terms), names, values


@dataclass
class _Write:
    """One write of the transaction: its action, and the item before and after (as
    documents) for the reads that follow."""

    collection: str
    kind: Literal["Put", "Update", "Delete", "ConditionCheck"]
    action: dict[str, Any]
    before: Document | None
    after: Document | None


class DynamoView(DynamoStoreBase):
    """The store inside a DynamoDB transaction: it shares the connection, key schemas
    and plan cache of its store; reads are remembered, writes collected."""

    def __init__(self, base: DynamoStoreBase) -> None:
        # not DynamoStoreBase.__init__: the view opens nothing of its own
        self.base = base
        Store.__init__(self, plan_cache_size=base._plan_cache_size)
        base.share_with(self)
        self._config = base._config
        self.options = base.options
        self._tables = base._tables
        self._given = base._given
        self._unchecked = base._unchecked  # shared: the base checks each table once
        self._declared = base._declared
        self._plan_cache_size = base._plan_cache_size
        self._collection_of = base._collection_of
        self._client = base.client
        self._client_context = None
        self._gate = base._gate
        self._describe_lock = base._describe_lock
        self.seen: dict[_ItemId, _Seen] = {}
        self.writes: dict[_ItemId, _Write] = {}
        self.sizes: dict[_ItemId, int] = {}
        """The size of each item's action at commit, and their sum (``total``)."""
        self.total = 0
        self.finished = False

    # the plan cache is the store's: a key schema discovered here re-plans both
    @property
    def _cache(self) -> PlanCache:
        return self.base._cache

    @_cache.setter
    def _cache(self, cache: PlanCache) -> None:
        pass  # Store.__init__ and share_with: the store's cache is used

    def _forget_plans(self) -> None:
        self.base._forget_plans()

    async def begin_transaction(self) -> TransactionScope:
        raise BackendError("dynamodb", "transactions do not nest")

    async def create_collection(
        self, name: str, partition_key: str | None = None, sort_key: str | None = None,
        indexes: Sequence[IndexSchema | Mapping[str, Any]] = (),
        attribute_types: Mapping[str, KeyType] | None = None, *, stream: bool = False,
    ) -> TableSchema:
        raise BackendError("dynamodb", "a DynamoDB transaction cannot create a table: "
                           "create it before the transaction")

    async def drop_collection(self, name: str) -> None:
        raise BackendError("dynamodb", "a DynamoDB transaction cannot drop a table: "
                           "drop it outside the transaction")

    # -- limits -----------------------------------------------------------------------
    def _action(self, iid: _ItemId, write: _Write | None, seen: _Seen | None) -> dict[str, Any]:
        """The action of one item at commit: its write (the read's condition folded in:
        DynamoDB takes one action per item) or a ``ConditionCheck``."""
        if write is None:
            assert seen is not None
            text, names, values = seen.condition()
            check: dict[str, Any] = {"TableName": seen.table, "Key": seen.key,
                                     "ConditionExpression": text,
                                     "ExpressionAttributeNames": names}
            if values:
                check["ExpressionAttributeValues"] = values
            action: dict[str, Any] = {"ConditionCheck": check}
        elif seen is None:
            action = write.action
        else:
            action = copy.deepcopy(write.action)
            inner = action[write.kind]
            text, names, values = seen.condition()
            inner["ConditionExpression"] = f"({inner['ConditionExpression']}) AND ({text})"
            inner["ExpressionAttributeNames"] = {**inner.get("ExpressionAttributeNames", {}),
                                                 **names}
            if values:
                inner["ExpressionAttributeValues"] = {
                    **inner.get("ExpressionAttributeValues", {}), **values}
        (inner_action,) = action.values()
        condition = inner_action["ConditionExpression"]
        if len(condition.encode("utf-8")) > MAX_CONDITION_BYTES:
            raise BackendError("dynamodb", f"the transaction's condition on item "
                               f"{self._describe(iid)} is {len(condition.encode())} bytes "
                               f"(it re-checks every attribute read): DynamoDB allows "
                               f"{MAX_CONDITION_BYTES}; select fewer attributes; nothing "
                               "was written")
        return action

    def _check_room(self, seen: Mapping[_ItemId, _Seen], writes: Mapping[_ItemId, _Write],
                    statement: str) -> dict[_ItemId, int]:
        """Refuse a statement that would take the transaction past DynamoDB's limits
        (before it changes anything of the transaction); the sizes of the actions of the
        items it adds or changes."""
        changed = seen.keys() | writes.keys()
        count = len(self.sizes.keys() | changed)
        if count > MAX_ACTIONS:
            raise BackendError(
                "dynamodb", f"{statement} brings the transaction to {count} items "
                f"(each item written or read is one action of its TransactWriteItems, at "
                f"commit): DynamoDB allows {MAX_ACTIONS}; nothing was written — split it "
                "into smaller transactions")
        sizes = {iid: _size(self._action(iid, writes.get(iid) or self.writes.get(iid),
                                         seen.get(iid) or self.seen.get(iid)))
                 for iid in changed}
        total = self.total + sum(sizes.values()) - sum(self.sizes.get(i, 0) for i in sizes)
        if total > MAX_BYTES:
            raise BackendError(
                "dynamodb", f"{statement} brings the transaction to about {total} bytes: "
                f"a TransactWriteItems holds at most {MAX_BYTES} (4 MB); nothing was "
                "written — split it into smaller transactions")
        return sizes

    def _add(self, seen: Mapping[_ItemId, _Seen], writes: Mapping[_ItemId, _Write],
             statement: str) -> None:
        """Add reads and writes to the transaction, within its limits."""
        twice = writes.keys() & self.writes.keys()
        if twice:
            # two statements of the transaction ran at once and both wrote this item
            raise BackendError("dynamodb", f"item {self._describe(next(iter(twice)))} is "
                               "written twice in this transaction (DynamoDB takes one action "
                               "per item in a transaction); nothing was written")
        sizes = self._check_room(seen, writes, statement)
        self.seen.update(seen)
        self.writes.update(writes)
        self.total += sum(sizes.values()) - sum(self.sizes.get(i, 0) for i in sizes)
        self.sizes.update(sizes)

    def _describe(self, iid: _ItemId) -> str:
        record = self.seen.get(iid)
        key = record.key if record is not None else None
        if key is None:
            write = self.writes.get(iid)
            if write is not None:
                inner = next(iter(write.action.values()))
                key = inner.get("Key") or {k: inner["Item"][k] for k in self._key_names(iid)}
        table = iid[0]
        shown = ", ".join(f"{name}={item_to_python({'v': av})['v']!r}"
                          for name, av in (key or {}).items())
        return f"{shown} of table {table}"

    def _key_names(self, iid: _ItemId) -> tuple[str, ...]:
        prefix = self.options.table_prefix
        schema = self._tables.get(iid[0][len(prefix):])
        return schema.key_attributes if schema is not None else (self.options.pk_field,)

    # -- read after write ---------------------------------------------------------------
    def _refuse_read_after_write(self, collection: str, where: ir.Condition | None,
                                 what: str) -> None:
        """A read runs outside the transaction: refuse one whose answer a pending write
        of the transaction could change (a written item matches its ``where``, before or
        after the write; None: every read of the collection)."""
        for write in self.writes.values():
            if write.collection != collection:
                continue
            for doc in (write.before, write.after):
                if doc is None:
                    continue
                if where is None or evaluate_condition(where, doc) is True:
                    raise BackendError(
                        "dynamodb", f"{what} after a write of this transaction to "
                        f"{collection!r} that could change its answer: DynamoDB cannot "
                        "read a transaction's writes before its commit — read before you "
                        "write in a DynamoDB transaction")

    # -- reads --------------------------------------------------------------------------
    def _consistent(self, request: dict[str, Any], collection: str) -> None:
        # a strongly consistent read where DynamoDB has one (the table, a local index):
        # fewer reads that are stale at once, so fewer conflicts at commit
        index = request.get("IndexName")
        schema = self._tables.get(collection)
        if index is None or (schema is not None and any(
                i.name == index and i.local for i in schema.indexes)):
            request["ConsistentRead"] = True

    def _full_items(self, plan: DynamoPlan) -> bool:
        """Whether the read returns whole items (so an attribute absent from one is
        known to be missing)."""
        if plan.index_name is None:
            return True
        schema = self._tables.get(plan.collection)
        return schema is not None and any(i.name == plan.index_name and i.projection == "ALL"
                                          for i in schema.indexes)

    async def _raw(self, plan: DynamoPlan, request: dict[str, Any],
                   limit: int | None) -> AsyncIterator[dict[str, AttributeValue]]:
        if plan.never or limit == 0:
            return
        left = limit
        async for page in self._pages(plan.method, request, limit):
            for item in page.get("Items", ()):
                yield item
                if left is not None:
                    left -= 1
                    if left <= 0:
                        return

    def _read_request(self, plan: DynamoPlan, keys: tuple[str, ...]) -> dict[str, Any]:
        request = copy.deepcopy(plan.request)
        self._consistent(request, plan.collection)
        projection = request.get("ProjectionExpression")
        if projection is not None:
            # each row's key, to re-check its item at commit
            names = request.setdefault("ExpressionAttributeNames", {})
            paths = [p for _, p in plan.outputs or ()]
            for i, key in enumerate(keys):
                if not any(p[0] == key for p in paths):
                    names[f"#rk{i}"] = key
                    projection += f", #rk{i}"
            request["ProjectionExpression"] = projection
        return request

    def _seen(self, plan: DynamoPlan, schema: TableSchema,
              item: Mapping[str, AttributeValue]) -> tuple[_ItemId, _Seen]:
        try:
            key = {k: item[k] for k in schema.key_attributes}
        except KeyError:
            raise BackendError("dynamodb", f"a row of {plan.collection!r} came back without "
                               "its key: a transaction cannot re-check it") from None
        full = self._full_items(plan)
        values: dict[Path, AttributeValue | None] = {}
        if plan.outputs is None:
            values.update(((name,), av) for name, av in item.items() if name not in key)
            if full:
                # the attributes the query names and the item lacks: read as missing
                for name in plan.request.get("ExpressionAttributeNames", {}).values():
                    if name not in item:
                        values[(name,)] = None
        else:
            for _, path in plan.outputs:
                if path[0] in key:
                    continue
                av = _av_at(item, path)
                if av is not None or full:
                    values[path] = av
        record = _Seen(plan.table, plan.collection, key, True, values)
        return _item_id(plan.table, key), record

    def _merge(self, seen: dict[_ItemId, _Seen], iid: _ItemId, record: _Seen) -> None:
        """Add a read of one item to ``seen``; an item read twice with different values
        changed during the transaction: a conflict."""
        old = seen.get(iid) or self.seen.get(iid)
        if old is None:
            seen[iid] = record
            return
        changed = old.exists != record.exists or any(
            path in old.values and not _same(old.values[path], av)
            for path, av in record.values.items())
        if changed:
            raise TransactionConflict("dynamodb", f"item {self._describe(iid)} changed "
                                      "between two reads of the transaction; nothing was "
                                      "written")
        merged = _Seen(old.table, old.collection, old.key, old.exists,
                       {**record.values, **old.values})
        seen[iid] = merged

    def _where(self, prepared: PreparedQuery, params: Mapping[str, Any]) -> ir.Condition | None:
        """The bound ``where`` of a query (only needed once the transaction wrote)."""
        if not self.writes:
            return None
        return bind(prepared.checked, params).where

    def prepare(self, text: str | QueryBuilder) -> BoundQuery:
        return _ViewQuery(self, as_text(text, None)[0])

    async def _query_rows(self, text: str | QueryBuilder,
                          params: Mapping[str, Any] | None,
                          client_side: Any = CONFIGURED) -> AsyncIterator[Document]:
        text, params = as_text(text, params)
        await self._ensure_schema(self._collection(text))
        plan = self.plan(text, params, client_side=client_side)
        if type(plan) is ClientSidePlan:
            # (its where bound here: the store's prepared query may be refused without
            # this call's client_side)
            where = bind(check_query(parse_query(text)), params or {}).where \
                if self.writes else None
            rows = complete_rows(plan.completion, self._rows(self._plan(plan.native), where),
                                 max_rows=plan.max_rows, backend=self.driver)
        else:
            rows = self._rows(self._plan(plan), self._where(self._prepared(text), params or {}))
        async for row in rows:
            yield row

    async def count(self, text: str | QueryBuilder, /, *, client_side: Any = CONFIGURED,
                    **params: Any) -> int:
        text, given = as_text(text, params)
        await self._ensure_schema(self._collection(text))
        plan = self.plan(text, given, client_side=client_side)
        if type(plan) is ClientSidePlan:
            return len([row async for row in self._query_rows(text, given, client_side)])
        return await self._count_rows(self._plan(plan),
                                      self._where(self._prepared(text), given or {}))

    def run_plan(self, plan: Plan) -> AsyncIterator[Document]:
        if type(plan) is ClientSidePlan:
            return self.run_completed(plan)  # its native plan's items are remembered
        return self._rows(self._plan(plan), None)

    async def page(self, text: str | QueryBuilder, /, *, size: int, after: str | None = None,
                   total: bool = False, **params: Any) -> Page:
        """Refused: a transaction re-checks at commit each item it read, and a page's
        read stops at the page, so no cursor could resume it inside the transaction."""
        raise _no_pages()

    async def run_page(self, plan: PagePlan) -> list[Document]:
        raise _no_pages()  # a prepared query's page inside the transaction

    async def count_plan(self, plan: Plan) -> int:
        if type(plan) is ClientSidePlan:
            return await self.count_completed(plan)
        return await self._count_rows(self._plan(plan), None)

    async def _count_rows(self, plan: DynamoPlan, where: ir.Condition | None) -> int:
        self._refuse_read_after_write(plan.collection, where, "a count")
        # a count reads no item: nothing to re-check (read committed)
        return await DynamoStoreBase.count_plan(self, plan)

    async def _rows(self, dplan: DynamoPlan,
                    where: ir.Condition | None) -> AsyncIterator[Document]:
        """The rows of a plan, each item remembered; ``where``: the query's (None: every
        item of the collection may match)."""
        self._refuse_read_after_write(dplan.collection, where, "a query")
        if dplan.count_names is not None:
            # a count reads no item: nothing to re-check (read committed)
            async for row in DynamoStoreBase.run_plan(self, dplan):
                yield row
            return
        schema = self._tables.get(dplan.collection)
        if schema is None:  # no table: the read fails as outside a transaction
            async for row in DynamoStoreBase.run_plan(self, dplan):
                yield row
            return
        request = self._read_request(dplan, schema.key_attributes)
        async for item in self._raw(dplan, request, dplan.limit):
            seen: dict[_ItemId, _Seen] = {}
            iid, record = self._seen(dplan, schema, item)
            self._merge(seen, iid, record)
            self._add(seen, {}, "this query")
            yield self._row(dplan, item_to_python(item))

    async def get_document(self, collection: str, doc_id: Any) -> Document | None:
        key = await self._get_key(collection, doc_id)
        if key is None:
            return None
        table = self.table_name(collection)
        iid = _item_id(table, key)
        if iid in self.writes:
            raise BackendError("dynamodb", f"get({doc_id!r}) after a write of this "
                               "transaction to that item: DynamoDB cannot read a "
                               "transaction's writes before its commit — read before you "
                               "write in a DynamoDB transaction")
        answer = await self._call("get_item", TableName=table, Key=key, ConsistentRead=True)
        item = answer.get("Item")
        record = _Seen(table, collection, key, item is not None)
        if item is not None:
            record.values.update(((n,), av) for n, av in item.items() if n not in key)
        seen: dict[_ItemId, _Seen] = {}
        self._merge(seen, iid, record)
        self._add(seen, {}, f"get({doc_id!r})")
        return None if item is None else self._document(item)

    # -- writes -------------------------------------------------------------------------
    async def insert_documents(self, collection: str, docs: list[Document]) -> list[Any]:
        # a table that does not exist yet is created now, outside the transaction
        schema = await self._table_for_write(collection, docs)
        table = self.table_name(collection)
        writes: dict[_ItemId, _Write] = {}
        keys = []
        for doc in docs:
            item = self._item(doc)
            try:
                key = {k: item[k] for k in schema.key_attributes}
            except KeyError as err:
                raise BackendError("dynamodb", f"document {doc.get('_id')!r} lacks the key "
                                   f"attribute {err.args[0]!r} of table {table}") from None
            iid = _item_id(table, key)
            if iid in writes or iid in self.writes:
                raise BackendError("dynamodb", f"document {doc.get('_id')!r} is written "
                                   "twice in this transaction (DynamoDB takes one action "
                                   "per item in a transaction); nothing was written")
            keys.append(key)
            writes[iid] = _Write(collection, "Put", {"Put": {
                "TableName": table, "Item": item,
                "ConditionExpression": "attribute_not_exists(#pk)",
                "ExpressionAttributeNames": {"#pk": schema.partition_key}}},
                before=None, after=copy.deepcopy(doc))
        self._check_room({}, writes, f"inserting {len(docs)} document(s)")
        # an id taken before the transaction is a plain error, as outside transactions;
        # one taken by a concurrent insert is caught by the Put's condition at commit
        answers = await asyncio.gather(*(
            self._call("get_item", TableName=table, Key=key, ConsistentRead=True,
                       ProjectionExpression="#pk",
                       ExpressionAttributeNames={"#pk": schema.partition_key})
            for key in keys))
        for doc, answer in zip(docs, answers, strict=True):
            if answer.get("Item") is not None:
                raise BackendError("dynamodb", f"duplicate _id {doc.get('_id')!r} in "
                                   f"{collection!r}")
        self._add({}, writes, f"inserting {len(docs)} document(s)")
        return [d.get("_id") for d in docs]

    async def execute_plan(self, plan: Plan) -> WriteResult:
        if not isinstance(plan, DynamoWritePlan):
            raise TypeError(f"the DynamoDB store runs DynamoDB plans, not {type(plan).__name__}")
        statement = plan.statement
        self._refuse_read_after_write(plan.collection, statement.where, f"an {plan.kind}")
        if plan.never:
            return WriteResult()
        read = copy.deepcopy(plan.read.request)
        self._consistent(read, plan.collection)
        writes: dict[_ItemId, _Write] = {}
        modified = 0
        async for item in self._raw(plan.read, read, plan.read.limit):
            doc = self._document(item)
            # what the write's condition would refuse now is skipped now, as outside a
            # transaction; at commit a refused condition means the item changed: conflict
            if not selects(statement, doc):
                continue
            request = plan.item_request(doc)
            if request is None:  # pragma: no cover - selects() skipped it above
                continue
            # nothing left to write (an `unset` below a missing map) is a ConditionCheck:
            # the item still matches, and is counted
            kind: Literal["Update", "Delete", "ConditionCheck"] = \
                "Delete" if plan.kind == "delete" else \
                "Update" if "UpdateExpression" in request else "ConditionCheck"
            key = {k: item[k] for k in plan.key_attributes}
            iid = _item_id(plan.table, key)
            if iid in self.writes:  # pragma: no cover - refused above (it matched before)
                raise BackendError("dynamodb", f"item {self._describe(iid)} is written twice "
                                   "in this transaction; nothing was written")
            after: Document | None = None
            if isinstance(statement, ir.Update):
                # an increment DynamoDB would not add as the reference does (past the
                # 64-bit range or 38 digits, a float sum the decimals do not give) is
                # refused here, before this statement adds anything to the transaction
                DynamoStoreBase._check_increments(statement, [doc])
                after = updated(statement, doc)
                if not strict_equal(after, doc):
                    modified += 1
            action = {k: request[k] for k in _WRITE_KEYS if k in request}
            writes[iid] = _Write(plan.collection, kind,
                                 {kind: {"TableName": plan.table, "Key": key, **action}},
                                 before=doc, after=after)
        self._add({}, writes, f"this {plan.kind}")
        if plan.kind == "delete":
            return WriteResult(matched=len(writes), deleted=len(writes))
        return WriteResult(matched=len(writes), modified=modified)

    async def delete_where(self, collection: str, query: ir.Query) -> int:
        await self._ensure_schema(collection)
        if collection not in self._tables:
            return 0
        statement = ir.Delete(collection, where=query.where, source=query.source)
        result = await self.execute_plan(self.write_plan(statement))
        return result.deleted

    # -- commit -------------------------------------------------------------------------
    def actions(self) -> tuple[list[_ItemId], list[dict[str, Any]]]:
        """The items and the actions of the commit's ``TransactWriteItems``."""
        items = list(self.writes) + [iid for iid in self.seen if iid not in self.writes]
        return items, [self._action(iid, self.writes.get(iid), self.seen.get(iid))
                       for iid in items]


class _ViewQuery(_DynamoBoundQuery):
    """A prepared query inside a transaction: its rows are remembered, and the pending
    writes are checked against its bound ``where``."""

    __slots__ = ()

    def _view(self) -> DynamoView:
        assert isinstance(self.store, DynamoView)
        return self.store

    async def fetch(self, **params: Any) -> list[Document]:
        return [row async for row in self._stream(params)]

    async def _stream(self, params: Mapping[str, Any]) -> AsyncIterator[Document]:
        prepared = await self._fresh()
        view = self._view()
        plan = view._plan(prepared.plan(params))
        async for row in view._rows(plan, view._where(prepared, params)):
            yield row

    async def count(self, **params: Any) -> int:
        prepared = await self._fresh()
        view = self._view()
        plan = view._plan(prepared.plan(params))
        return await view._count_rows(plan, view._where(prepared, params))


class DynamoTransaction(TransactionScope):
    """A transaction of a ``DynamoStore``: commit sends one ``TransactWriteItems``."""

    def __init__(self, base: DynamoStoreBase) -> None:
        self.view = self._view = DynamoView(base)

    async def commit(self) -> None:
        view = self._view
        if view.finished:
            raise BackendError("dynamodb", "the transaction is finished")
        view.finished = True
        items, actions = view.actions()
        if not actions:
            return
        config = view._config
        # the token makes a re-sent commit idempotent (for 10 minutes): one whose answer
        # was lost is not applied twice
        token = uuid.uuid4().hex
        attempt = 0
        while True:
            try:
                async with view._gate:
                    await view.client.transact_write_items(TransactItems=actions,
                                                           ClientRequestToken=token)
                return
            except BackendError:
                raise
            except Exception as err:
                if not _from_driver(err):
                    raise
                error = _driver_error(err)
                attempt += 1
                response = getattr(err, "response", None) or {}
                reasons = [str(r.get("Code")) for r in response.get("CancellationReasons", ())]
                failed = [(items[i], code) for i, code in enumerate(reasons[:len(items)])
                          if code not in ("None", "")]
                if error.code == "TransactionCanceledException":
                    conflicts = [(iid, code) for iid, code in failed
                                 if code in _CONFLICT_REASONS]
                    if conflicts:
                        shown = "; ".join(
                            f"{view._describe(iid)}: " + (
                                "changed since the transaction read it"
                                if code == "ConditionalCheckFailed"
                                else "written by a concurrent transaction")
                            for iid, code in conflicts[:3])
                        raise TransactionConflict(
                            "dynamodb", f"the commit was cancelled ({shown}); nothing was "
                            "written") from err
                    if failed and all(code in _TRANSIENT_REASONS for _, code in failed) \
                            and attempt < config.max_attempts:
                        token = uuid.uuid4().hex  # cancelled: nothing was written
                        await asyncio.sleep(view._backoff(attempt))
                        continue
                    raise BackendError("dynamodb", f"the commit was cancelled "
                                       f"({', '.join(c for _, c in failed) or error.message});"
                                       " nothing was written") from err
                transient = error.code in _RETRYABLE or _network(err) or \
                    error.code == "TransactionInProgressException"
                if transient and attempt < config.max_attempts:
                    await asyncio.sleep(view._backoff(attempt))
                    continue
                if transient:
                    raise BackendError("dynamodb", f"the commit failed {attempt} times "
                                       f"({error.message}): whether it was written is "
                                       "unknown") from err
                raise BackendError("dynamodb", f"the commit was refused ({error.message}); "
                                   "nothing was written") from err

    async def abort(self) -> None:
        self._view.finished = True
        self._view.seen.clear()
        self._view.writes.clear()
