"""The store API every backend shares: ``Store`` and ``Collection``.

A backend's store implements a handful of primitives (run a plan, count, write
documents); query text, the plan cache, parameters and row shape are handled
here once for all of them.
"""

from __future__ import annotations

import abc
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

from crossql import ir
from crossql._memo import Memo
from crossql.backends import Plan
from crossql.compiler.checks import bind, check_query
from crossql.compiler.statement import compile_statement
from crossql.errors import BackendError, QueryError, QuerySemanticError
from crossql.grammar import parse_condition, parse_query, parse_statement
from crossql.runtime import observe
from crossql.runtime.prepared import PlanCache, PreparedQuery
from crossql.semantics.writes import WriteResult

if TYPE_CHECKING:
    from pydantic import BaseModel

    from crossql.backends.completion import ClientSidePlan
    from crossql.builder import DeleteBuilder, QueryBuilder, UpdateBuilder
    from crossql.runtime.paging import Page, PagePlan, PageRequest
    from crossql.runtime.transaction import Transaction, TransactionScope
    from crossql.runtime.watch import Watch
    from crossql.schema import Schema
    from crossql.semantics.paging import WalkKey

Document = dict[str, Any]
T = TypeVar("T")
M = TypeVar("M", bound="BaseModel")
"""A pydantic model class rows are read into (``fetch(..., model=Order)``)."""

# `from` as a whole word (after blanks and whole-line comments) starts a query;
# `fromage == 1` and `from_date < :d` are conditions on fields that merely begin with
# "from". A comment must end at its newline, which keeps the match linear.
_STARTS_WITH_FROM = re.compile(r"(?:\s|--[^\n]*\n)*from(?![A-Za-z0-9_])", re.IGNORECASE)


CONFIGURED: Any = object()
"""``client_side`` not given to a call: the store's own (from its configuration)."""

_CLIENT_SIDE_CACHES: Memo[tuple[PlanCache, Any], PlanCache] = Memo(
    64, "plan caches of per-call client_side options")
"""Per (store's plan cache, options with a call's ``client_side``): its plan cache."""


class Store(abc.ABC):
    """A connection to one backend. Use as ``async with store:``."""

    driver: str = ""
    """The backend this store runs plans on (memory, mongodb, dynamodb, firestore)."""
    cursor_secret: str | bytes | None = None
    """The key page cursors are signed with (HMAC-SHA256; the configuration's
    ``cursor_secret``); None: cursors are checked against accidental change only."""
    page_resume: str = ("the query's condition and'ed with the range condition "
                        "`(k > last) or (k == last and _id > last_id)` on the order keys, "
                        "compiled by the backend")
    """How a page after a cursor resumes on this backend (``explain`` of a page plan)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        observe.instrument_store(cls)  # each call logged and traced (runtime/observe.py)

    def __init__(self, *, plan_cache_size: int = 256, schema: Any = None,
                 options: Any = None) -> None:
        self._cache = PlanCache(plan_cache_size)
        self._schema: Any = None if schema is None else _as_schema(schema)
        """The declared schema (a ``crossql.Schema``) the compilers read, or None."""
        self._options = options
        self._group: dict[str, Store] = {"default": self}

    # -- the declared schema ------------------------------------------------------------
    @property
    def schema(self) -> Schema | None:
        """The schema this store compiles with (docs/schemas.md), or None."""
        return self._schema  # type: ignore[no-any-return]

    def use_schema(self, schema: Any) -> None:
        """Declare ``schema`` (anything ``schema=`` takes: a ``crossql.Schema`` or a
        mapping of collection → pydantic model class, declaration dict, ...) over this
        store's own: a collection in both is declared as ``schema`` says. Plans
        compiled before are forgotten."""
        declared = _as_schema(schema)
        if declared is None:
            return
        self._schema = declared if self._schema is None else self._schema.merged(declared)
        self._cache = PlanCache(self._cache.maxsize)

    # -- named backends ------------------------------------------------------------
    def join(self, group: dict[str, Store]) -> None:
        """Make ``group`` (name → store, this one included) the backends of this store."""
        for store in group.values():
            store._group = group

    @property
    def backend_names(self) -> list[str]:
        """The names of the backends configured with this store (``default`` first)."""
        return list(self._group)

    def backend(self, name: str) -> Store:
        """The store of the named backend ``name`` (``default``: the top-level driver)."""
        try:
            return self._group[name]
        except KeyError:
            known = ", ".join(self._group)
            raise KeyError(f"no backend named {name!r} (known: {known})") from None

    def __getitem__(self, name: str) -> Store:
        return self.backend(name)

    # -- lifecycle -------------------------------------------------------------
    async def open(self) -> None:  # noqa: B027 - optional hook
        """Connect (backends with a server override this)."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections (backends with a server override this)."""

    async def __aenter__(self) -> Store:
        opened: list[Store] = []
        try:
            for store in [self, *(s for s in self._group.values() if s is not self)]:
                await store.open()
                opened.append(store)
        except BaseException:
            for store in reversed(opened):
                await store.close()
            raise
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        for store in reversed([self, *(s for s in self._group.values() if s is not self)]):
            await store.close()

    # -- queries -----------------------------------------------------------------
    def prepare(self, text: str | QueryBuilder) -> BoundQuery:
        """Parse and check ``text`` once; run it many times with different parameters (of a
        builder: its text; each run passes every value, ``**builder.params`` included)."""
        text = as_text(text, None)[0]
        return BoundQuery(self, self._cache.get(text, self.driver, schema=self._schema,
                                                options=self._options))

    def plan(self, text: str | QueryBuilder, params: Mapping[str, Any] | None = None, *,
             client_side: Any = CONFIGURED) -> Plan:
        """The plan ``fetch(text, **params)`` would run (through the plan cache).

        ``client_side``: this call's client-side completion, over the configuration's
        (``{"max_rows": N}``, a ``ClientSide``, or None for none; docs/configuration.md,
        "Client-side completion"); a backend without the option ignores it."""
        if not isinstance(text, str):  # a builder; text, the hot path, pays one check
            text, params = as_text(text, params)
        if client_side is not CONFIGURED:
            return self._client_side_plan(text, params, client_side)
        return self._cache.plan(text, self.driver, params, schema=self._schema,
                                options=self._options)

    @overload
    async def fetch(self, text: str | QueryBuilder, /, *, model: None = None,
                    client_side: Any = CONFIGURED, **params: Any) -> list[Document]: ...

    @overload
    async def fetch(self, text: str | QueryBuilder, /, *, model: type[M],
                    invalid: Literal["raise"] = "raise", client_side: Any = CONFIGURED,
                    **params: Any) -> list[M]: ...

    @overload
    async def fetch(self, text: str | QueryBuilder, /, *, model: type[M],
                    invalid: Literal["raw"], client_side: Any = CONFIGURED,
                    **params: Any) -> list[M | Document]: ...

    async def fetch(self, text: str | QueryBuilder, /, *, model: type[M] | None = None,
                    invalid: Invalid = "raise", client_side: Any = CONFIGURED,
                    **params: Any) -> list[Document] | list[M] | list[M | Document]:
        """All rows of a query (text or a ``crossql.query(...)`` builder), as plain dicts,
        or as instances of ``model`` (a pydantic model class: a row it does not validate
        raises ``DocumentError`` naming the document and field, or with
        ``invalid="raw"`` comes back as its dict; docs/schemas.md)."""
        if model is None:
            return [row async for row in self._query_rows(text, params, client_side)]
        rows = self._query_rows(text, params, client_side)
        return [row async for row in self._typed(text, rows, model, _invalid(invalid))]

    @overload
    def stream(self, text: str | QueryBuilder, /, *, model: None = None,
               client_side: Any = CONFIGURED, **params: Any) -> AsyncIterator[Document]: ...

    @overload
    def stream(self, text: str | QueryBuilder, /, *, model: type[M],
               invalid: Literal["raise"] = "raise", client_side: Any = CONFIGURED,
               **params: Any) -> AsyncIterator[M]: ...

    @overload
    def stream(self, text: str | QueryBuilder, /, *, model: type[M],
               invalid: Literal["raw"], client_side: Any = CONFIGURED,
               **params: Any) -> AsyncIterator[M | Document]: ...

    def stream(self, text: str | QueryBuilder, /, *, model: type[M] | None = None,
               invalid: Invalid = "raise", client_side: Any = CONFIGURED,
               **params: Any
               ) -> AsyncIterator[Document] | AsyncIterator[M] | AsyncIterator[M | Document]:
        """The rows of a query, one at a time, as the backend delivers them (as instances
        of ``model`` when given, as ``fetch``; ``invalid`` too)."""
        rows = self._query_rows(text, params, client_side)
        return rows if model is None else self._typed(text, rows, model, _invalid(invalid))

    def _query_rows(self, text: str | QueryBuilder, params: Mapping[str, Any] | None,
                    client_side: Any = CONFIGURED) -> AsyncIterator[Document]:
        """The rows of a query as dicts (a backend that must look something up before
        planning overrides this)."""
        return self.run_plan(self.plan(text, params, client_side=client_side))

    async def _typed(self, text: str | QueryBuilder, rows: AsyncIterator[Document],
                     model: type[M], raw: bool = False) -> AsyncIterator[Any]:
        validate = model.model_validate
        async for row in rows:
            try:
                yield validate(row)
            except ValueError:  # pydantic's ValidationError: said with the document's id
                if raw:
                    yield row
                    continue
                raise _misfit(text, row, model) from None

    async def count(self, text: str | QueryBuilder, /, *, client_side: Any = CONFIGURED,
                    **params: Any) -> int:
        """How many rows the query returns (``client_side``: as for ``plan``)."""
        return await self.count_plan(self.plan(text, params, client_side=client_side))

    def _client_side_plan(self, text: str, params: Mapping[str, Any] | None,
                          client_side: Any) -> Plan:
        """The plan of ``text`` under the store's options with ``client_side`` in place of
        theirs, from a plan cache of its own (one per such options, beside this store's)."""
        from crossql.backends.completion import with_client_side

        options = with_client_side(self._options, client_side)
        if options is self._options:
            cache = self._cache
        else:
            key = (self._cache, options)  # (a store that forgets its plans gets new caches)
            cache = _CLIENT_SIDE_CACHES.get(key) or _CLIENT_SIDE_CACHES.put(
                key, PlanCache(self._cache.maxsize))
        return cache.plan(text, self.driver, params, schema=self._schema, options=options)

    def watch(self, text: str | QueryBuilder, /, *, initial: bool = False,
              resume_after: Any = None, buffer: int = 1000, **params: Any) -> Watch:
        """A live query: ``async with store.watch(text) as changes: async for change in
        changes`` — each ``Change`` of the result (docs/live-queries.md)."""
        from crossql.runtime.watch import Watch

        return Watch(self, *as_text(text, params), initial=initial, resume_after=resume_after,
                     buffer=buffer)

    def collection(self, name: str) -> Collection:
        """A handle on one collection (nothing is created until written)."""
        return Collection(self, name)

    # -- pages ---------------------------------------------------------------------
    def page_plan(self, text: str | QueryBuilder, /, *, size: int, after: str | None = None,
                  **params: Any) -> PagePlan:
        """The plan ``page(text, size=size, after=after, **params)`` would run; its
        ``explain()`` says how the page resumes after the cursor (docs/pagination.md)."""
        text, bound = as_text(text, params)
        return self.prepare(text).page_plan(size=size, after=after, **(bound or {}))

    async def page(self, text: str | QueryBuilder, /, *, size: int, after: str | None = None,
                   total: bool = False, **params: Any) -> Page:
        """One page of a query's rows: at most ``size`` of them, in the query's order with
        ``_id`` as the last key, after the row ``after`` (a page's ``next_cursor``) ended
        on; ``total=True`` counts the query's documents too (docs/pagination.md)."""
        text, bound = as_text(text, params)
        return await self.prepare(text).page(size=size, after=after, total=total,
                                             **(bound or {}))

    def walk_keys(self, query: ir.Query) -> tuple[WalkKey, ...]:
        """The keys a page of the bound ``query`` resumes after: its order keys and
        ``_id`` (a backend with a resume key of its own overrides this)."""
        from crossql.semantics.paging import walk_keys

        return walk_keys(query)

    def resume_text(self, req: PageRequest) -> str:
        """How a page of ``req`` resumes, in words (``explain`` of a page plan)."""
        from crossql.grammar.formatter import format_condition
        from crossql.semantics.paging import resume_template

        return (f"{self.page_resume}; here: `{format_condition(resume_template(req.keys))}` "
                "with the last row's values")

    def compile_page(self, req: PageRequest) -> Plan:
        """The backend's plan reading one page (the generic form: the page query, its
        resume condition in ``where``, through the backend's compiler)."""
        from crossql.backends import get_backend

        query = req.page_query()
        try:
            return get_backend(self.driver).compile(query, schema=self._schema,
                                                    options=self._options)
        except QueryError as err:
            raise err.with_source(query.source) from None

    def check_resume(self, req: PageRequest) -> None:
        """Raise the refusal a page resuming after ``req.after`` would meet, so that no
        cursor is handed out that the next page refuses (MongoDB's bytes)."""
        self.compile_page(req)

    async def run_page(self, plan: PagePlan) -> list[Document]:
        """The whole documents of one page, at most ``plan.request.read`` of them."""
        if plan.inner is None:
            return []
        return [doc async for doc in self.run_plan(plan.inner)]

    async def count_unpaged(self, query: ir.Query) -> int:
        """How many documents a bound query matches without ``limit``/``offset``."""
        from crossql.backends import get_backend
        from crossql.runtime.paging import unpaged

        plan = get_backend(self.driver).compile(unpaged(query), schema=self._schema,
                                                options=self._options)
        return await self.count_plan(plan)

    # -- writes ------------------------------------------------------------------
    def write_plan(self, text: str | ir.Update | ir.Delete | UpdateBuilder | DeleteBuilder,
                   params: Mapping[str, Any] | None = None) -> Plan:
        """The plan ``execute(text, **params)`` would run: parsed, checked, bound and
        compiled for this store's backend (``CapabilityError`` where it runs no writes)."""
        if not isinstance(text, str | ir.Update | ir.Delete):
            text, params = as_text(text, params)
        statement = parse_statement(text) if isinstance(text, str) else text
        if not isinstance(statement, ir.Update | ir.Delete):
            raise QuerySemanticError(
                "`execute` runs `update` and `delete`; this is a read query",
                code="semantic.not-a-write", span=statement.span, source=statement.source,
                hint="read with fetch(), stream() or count()")
        return compile_statement(statement, self.driver, params, schema=self._schema,
                                 options=self._options)

    async def execute(self, text: str | ir.Update | ir.Delete | UpdateBuilder | DeleteBuilder,
                      /, **params: Any) -> WriteResult:
        """Run an ``update`` or ``delete``; return the counts (matched, modified, deleted)."""
        return await self.execute_plan(self.write_plan(text, params))

    async def execute_plan(self, plan: Plan) -> WriteResult:
        """Run a compiled write plan (each backend's store overrides this: plans are data,
        the store runs them)."""
        raise BackendError(self.driver, f"{self.driver} cannot run the write plan "
                           f"{type(plan).__name__}")

    # -- transactions --------------------------------------------------------------
    def transaction(self) -> Transaction:
        """A transaction: ``async with store.transaction() as tx:`` — commits on normal
        exit, rolls back on an exception; a conflict raises ``TransactionConflict``
        with nothing written (docs/transactions.md)."""
        # lazily: transactions bring asyncio, which `import crossql` does not need
        from crossql.runtime.transaction import Transaction

        return Transaction(self)

    async def run_transaction(self, body: Callable[[Transaction], Awaitable[T]], *,
                              max_attempts: int = 5) -> T:
        """Run ``await body(tx)`` in a transaction and return its result; a conflict rolls
        back and runs ``body`` again (jittered backoff), at most ``max_attempts`` times."""
        from crossql.runtime.transaction import run_transaction

        return await run_transaction(self, body, max_attempts=max_attempts)

    async def begin_transaction(self) -> TransactionScope:
        """Start a transaction (each backend overrides this)."""
        raise BackendError(self.driver, f"{self.driver} does not run transactions")

    def share_with(self, view: Store) -> None:
        """Give ``view`` (a store running inside a transaction) this store's plan cache,
        schema, options and named backends."""
        view._cache = self._cache
        view.cursor_secret = self.cursor_secret
        view._schema = self._schema
        view._options = self._options
        view._group = self._group

    # -- client-side completion (crossql/backends/completion.py) --------------------------
    def run_completed(self, plan: ClientSidePlan) -> AsyncIterator[Document]:
        """The rows of a plan completed client-side: the rows of its native part (through
        ``run_plan``), completed by the engine (``crossql.runtime.completion``)."""
        from crossql.runtime.completion import complete_rows

        return complete_rows(plan.completion, self.run_plan(plan.native),
                             max_rows=plan.max_rows, backend=self.driver)

    async def count_completed(self, plan: ClientSidePlan) -> int:
        """How many rows ``run_completed`` gives."""
        from crossql.runtime.completion import complete

        return len(await complete(plan.completion, self.run_plan(plan.native),
                                  max_rows=plan.max_rows, backend=self.driver))

    # -- primitives each backend implements ----------------------------------------
    @abc.abstractmethod
    def run_plan(self, plan: Plan) -> AsyncIterator[Document]:
        """Stream the rows of a compiled plan."""

    @abc.abstractmethod
    async def count_plan(self, plan: Plan) -> int:
        """Count the rows of a compiled plan."""

    @abc.abstractmethod
    async def insert_documents(self, collection: str, docs: list[Document]) -> list[Any]:
        """Store documents (each already has ``_id``); return their ids."""

    @abc.abstractmethod
    async def get_document(self, collection: str, doc_id: Any) -> Document | None:
        """The document with this id, or None."""

    @abc.abstractmethod
    async def delete_where(self, collection: str, query: ir.Query) -> int:
        """Delete the documents matching a bound query's ``where``; return how many."""

    @abc.abstractmethod
    async def drop_collection(self, name: str) -> None:
        """Remove a collection and all its documents."""

    @abc.abstractmethod
    def new_id(self) -> Any:
        """A fresh document id for a document inserted without ``_id``."""


def _as_schema(schema: Any) -> Schema | None:
    # imported here: declarations need pydantic, which a store without one does not
    from crossql.schema import as_schema

    return as_schema(schema)


def as_text(text: str | QueryBuilder | UpdateBuilder | DeleteBuilder,
            params: Mapping[str, Any] | None) -> tuple[str, Mapping[str, Any] | None]:
    """Text and parameters as given, or a builder's canonical text and its values merged
    with ``params`` (docs/builder.md)."""
    if isinstance(text, str):
        return text, params
    # imported here: a builder exists only once crossql.builder is imported
    from crossql.builder import as_text as builder_text

    return builder_text(text, params)


class BoundQuery:
    """A prepared query on a store: ``await q.fetch(**params)``."""

    __slots__ = ("prepared", "store")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        observe.instrument_prepared(cls)

    def __init__(self, store: Store, prepared: PreparedQuery) -> None:
        self.store = store
        self.prepared = prepared

    def plan(self, **params: Any) -> Plan:
        """The plan for these parameters."""
        return self.prepared.plan(params)

    async def fetch(self, **params: Any) -> list[Document]:
        """All rows for these parameters."""
        return [row async for row in self.store.run_plan(self.prepared.plan(params))]

    def stream(self, **params: Any) -> AsyncIterator[Document]:
        """The rows for these parameters, one at a time."""
        return self.store.run_plan(self.prepared.plan(params))

    async def count(self, **params: Any) -> int:
        """How many rows for these parameters."""
        return await self.store.count_plan(self.prepared.plan(params))

    def page_plan(self, *, size: int, after: str | None = None, **params: Any) -> PagePlan:
        """The plan of one page for these parameters (``Store.page_plan``)."""
        from crossql.runtime.paging import PagePlan, request

        store = self.store
        req = request(self.prepared.checked, params, store.driver, size=size, after=after,
                      secret=store.cursor_secret, keys_of=store.walk_keys)
        inner = store.compile_page(req) if req.read else None
        return PagePlan(req, inner, store.resume_text(req), store.driver)

    async def page(self, *, size: int, after: str | None = None, total: bool = False,
                   **params: Any) -> Page:
        """One page of rows for these parameters (``Store.page``)."""
        from crossql.runtime.paging import finish

        store = self.store
        plan = self.page_plan(size=size, after=after, **params)
        docs = await store.run_page(plan)
        count = await store.count_unpaged(plan.request.query) if total else None
        return finish(plan.request, docs, store.cursor_secret, count, store.check_resume)


Invalid = Literal["raise", "raw"]
"""What ``fetch``/``stream``/``get`` with ``model=`` do with a row the model does not
validate: raise ``DocumentError`` (the default), or give the row back as its dict."""


def _invalid(invalid: str) -> bool:
    """Whether ``invalid`` asks for rows back raw; a ValueError for another word."""
    if invalid == "raise":
        return False
    if invalid == "raw":
        return True
    raise ValueError(f"invalid={invalid!r}: say 'raise' (the default) or 'raw'")


def _misfit(text: str | QueryBuilder, row: Mapping[str, Any], model: type[BaseModel]
            ) -> ValueError:
    """The ``DocumentError`` of a row ``model`` does not validate."""
    from crossql.errors import DocumentError
    from crossql.schema import document_problems

    collection = parse_query(text).collection if isinstance(text, str) else \
        getattr(text, "collection", "?")
    return DocumentError(collection, row.get("_id"), document_problems(model, row),
                         against=f"the model {model.__name__}")


def _dumped(doc: Any) -> Document:
    """A pydantic model instance as the document it stores: dumped by alias, an ``_id``
    left None generated instead."""
    dump = getattr(doc, "model_dump", None)
    if dump is None:
        raise TypeError(f"a document is a dict or a pydantic model, not {type(doc).__name__}")
    out: Document = dump(by_alias=True)
    if "_id" in out and out["_id"] is None:
        del out["_id"]
    return out


def with_id_first(doc: Mapping[str, Any], doc_id: Any) -> Document:
    """A copy of ``doc`` whose first key is ``_id``."""
    out: Document = {"_id": doc_id}
    out.update((k, v) for k, v in doc.items() if k != "_id")
    return out


class Collection:
    """One collection of a store: writes by document, deletes by condition."""

    __slots__ = ("name", "store")

    def __init__(self, store: Store, name: str) -> None:
        self.store = store
        self.name = name

    async def insert_one(self, doc: Mapping[str, Any] | BaseModel) -> Any:
        """Insert a document (a dict, or a pydantic model instance: dumped by alias);
        return its ``_id`` (generated when absent)."""
        (doc_id,) = await self.insert_many([doc])
        return doc_id

    async def insert_many(self, docs: Iterable[Mapping[str, Any] | BaseModel]) -> list[Any]:
        """Insert documents (dicts or pydantic model instances); return their ids in
        order. With a schema declared for the collection, every document is checked
        against it first: one that does not fit raises ``DocumentError`` and nothing is
        written."""
        prepared = []
        for doc in docs:
            if not isinstance(doc, Mapping):
                doc = _dumped(doc)
            doc_id = doc["_id"] if "_id" in doc else self.store.new_id()
            prepared.append(with_id_first(doc, doc_id))
        if not prepared:
            return []
        schema = self.store.schema
        entry = None if schema is None else schema.collection(self.name)
        if entry is not None:
            from crossql.errors import DocumentError

            for doc in prepared:
                problems = entry.problems(doc)
                if problems:
                    raise DocumentError(self.name, doc["_id"], problems,
                                        against="its declared schema (nothing was written)")
            if entry.timestamp_fields:
                prepared = [entry.written(doc) for doc in prepared]
        return await self.store.insert_documents(self.name, prepared)

    @overload
    async def get(self, doc_id: Any, *, model: None = None) -> Document | None: ...

    @overload
    async def get(self, doc_id: Any, *, model: type[M],
                  invalid: Literal["raise"] = "raise") -> M | None: ...

    @overload
    async def get(self, doc_id: Any, *, model: type[M],
                  invalid: Literal["raw"]) -> M | Document | None: ...

    async def get(self, doc_id: Any, *, model: type[M] | None = None,
                  invalid: Invalid = "raise") -> Document | M | None:
        """The document with this ``_id``, or None (as an instance of ``model`` when
        given: one it does not validate raises ``DocumentError``, or with
        ``invalid="raw"`` comes back as its dict)."""
        raw = _invalid(invalid)
        doc = await self.store.get_document(self.name, doc_id)
        if doc is None or model is None:
            return doc
        try:
            return model.model_validate(doc)
        except ValueError:
            if raw:
                return doc
            raise _misfit(f"from {self.name}", doc, model) from None

    async def delete_many(self, where: str | ir.Condition, /, **params: Any) -> int:
        """Delete the documents matching a condition (``"age < 18"``) or a query on this
        collection (``"from users where age < 18"``); return how many were deleted."""
        query = self._where_query(where)
        return await self.store.delete_where(self.name, bind(check_query(query), params))

    def _where_query(self, where: str | ir.Condition) -> ir.Query:
        if not isinstance(where, str):
            return ir.Query(self.name, where=where)
        if _STARTS_WITH_FROM.match(where):
            query = parse_query(where)
            extra = query.group_by or query.select or query.order_by or query.limit is not None \
                or query.offset is not None
            if query.collection != self.name or extra or query.where is None:
                raise QuerySemanticError(
                    f"delete_many takes `from {self.name} where <condition>` or a condition",
                    code="semantic.invalid-delete", span=query.span, source=where,
                    hint="to delete everything, use drop_collection",
                )
            return query
        return ir.Query(self.name, where=parse_condition(where), source=where)


observe.instrument_store(Store)
observe.instrument_prepared(BoundQuery)
observe.instrument_collection(Collection)

if TYPE_CHECKING:  # mypy proves the classes implement the protocols
    from crossql.runtime.protocol import CollectionProtocol, PreparedProtocol, StoreProtocol

    def _store(store: Store) -> StoreProtocol:
        return store

    def _collection(collection: Collection) -> CollectionProtocol:
        return collection

    def _prepared(prepared: BoundQuery) -> PreparedProtocol:
        return prepared
