"""The memory backend's store: collections are dicts in the process."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any

from crossql import ir
from crossql.backends import Plan
from crossql.backends.memory.compiler import MemoryPlan, MemoryWritePlan
from crossql.errors import BackendError, TransactionConflict
from crossql.runtime import observe
from crossql.runtime.paging import PagePlan, PageRequest
from crossql.runtime.store import Document, Store
from crossql.runtime.transaction import TransactionScope
from crossql.semantics.compiled import compile_filter, compile_query
from crossql.semantics.reference import (
    MAX_DOCUMENT_DEPTH,
    copy_value,
    document_depth,
    freeze,
    get_path,
    holds_decimal,
    sort_key,
)
from crossql.semantics.writes import WriteResult, apply


class MemoryStore(Store):
    """An embedded store whose answers are the reference semantics."""

    driver = "memory"

    def __init__(self, *, plan_cache_size: int = 256) -> None:
        super().__init__(plan_cache_size=plan_cache_size)
        self._collections: dict[str, dict[Any, Document]] = {}
        self._versions: dict[str, int] = {}
        """Changes of each collection so far: a transaction that read a collection
        commits only if no one changed it since."""
        self._listeners: dict[str, list[Callable[[], None]]] = {}
        """Live queries of each collection (``backends/memory/watch.py``), told after a write."""
        self._open: dict[int, int] = {}
        """Streams reading each collection's ``dict`` (by ``id``): a write copies a dict
        that is being read instead of changing it, so a stream reads the collection as
        it was when it began without copying it up front."""

    def _changed(self, name: str) -> None:
        for listener in list(self._listeners.get(name, ())):
            listener()

    # A store changes documents only by replacing them (never in place), so a
    # transaction's shallow copy of a collection shares its documents safely.
    def _read(self, name: str) -> dict[Any, Document] | None:
        return self._collections.get(name)

    def _write(self, name: str) -> dict[Any, Document]:
        self._versions[name] = self._versions.get(name, 0) + 1
        return self._own(name)

    def _own(self, name: str) -> dict[Any, Document]:
        """The collection's dict, safe to change: a copy when a stream is reading it."""
        docs = self._collections.get(name)
        if docs is None:
            return self._collections.setdefault(name, {})
        if self._open.get(id(docs)):
            docs = self._collections[name] = dict(docs)
        return docs

    def _drop(self, name: str) -> None:
        self._versions[name] = self._versions.get(name, 0) + 1
        self._collections.pop(name, None)

    def _docs(self, plan: Plan) -> tuple[ir.Query, dict[Any, Document]]:
        if not isinstance(plan, MemoryPlan):
            raise TypeError(f"the memory store runs memory plans, not {type(plan).__name__}")
        docs = self._read(plan.collection) or {}
        observe.sent(0, len(docs))  # no request; the collection is the answer's source
        return plan.query, docs

    async def run_plan(self, plan: Plan) -> AsyncIterator[Document]:
        """The rows as the compiled evaluator produces them: without ``order by`` or
        ``group by``, each as its document matches (the collection is not copied: a
        write during the stream copies it instead, ``_own``)."""
        query, docs = self._docs(plan)
        # every stored document is a plain dict (inserts and writes copy into one)
        rows = compile_query(query).stream(docs.values(), dicts=True)
        key = id(docs)
        self._open[key] = self._open.get(key, 0) + 1
        try:
            for row in rows:
                yield row
        finally:
            left = self._open.pop(key) - 1
            if left:
                self._open[key] = left

    async def count_plan(self, plan: Plan) -> int:
        query, docs = self._docs(plan)
        return compile_query(query).count(docs.values(), dicts=True)

    page_resume = ("the reference order of every matching document, from the first row "
                   "that sorts strictly after the cursor's values (the oracle of the other "
                   "backends: no resume condition)")

    def resume_text(self, req: PageRequest) -> str:
        return self.page_resume

    async def run_page(self, plan: PagePlan) -> list[Document]:
        """The page by the reference alone: sort every matching document by the walk's
        keys and keep the rows whose keys sort strictly after the cursor's values."""
        req = plan.request
        if not req.read:
            return []
        docs = list((self._read(req.query.collection) or {}).values())
        observe.sent(0, len(docs))
        walk = replace(req.query, select=(), limit=None, offset=None,
                       order_by=tuple(ir.OrderKey(k.path, k.descending) for k in req.keys))
        rows = compile_query(walk).rows(docs, dicts=True)
        if req.after is not None:
            after = req.after
            # a key's floats count as their shortest text where a Decimal is among its
            # values, as in the sort (``sort_key``'s ``decimals``): compare alike
            decimals = [holds_decimal([value, *(get_path(row, k.path.segments)
                                                for row in rows)])
                        for k, value in zip(req.keys, after, strict=True)]
            rows = [row for row in rows if _sorts_after(req, row, after, decimals)]
        return rows[:req.read]

    async def insert_documents(self, collection: str, docs: list[Document]) -> list[Any]:
        target = self._read(collection) or {}
        ids = [doc["_id"] for doc in docs]
        seen: set[Any] = set()
        for doc_id in ids:
            key = _key(doc_id)
            if key in target or key in seen:
                raise BackendError("memory", f"duplicate _id {doc_id!r} in {collection!r}")
            seen.add(key)
        for doc in docs:
            if document_depth(doc) > MAX_DOCUMENT_DEPTH:
                raise BackendError("memory", f"document {doc['_id']!r} nests maps and lists "
                                   f"deeper than {MAX_DOCUMENT_DEPTH} levels (MongoDB's limit)")
        target = self._write(collection)
        for doc in docs:
            target[_key(doc["_id"])] = copy_value(doc)
        self._changed(collection)
        return ids

    async def get_document(self, collection: str, doc_id: Any) -> Document | None:
        doc = (self._read(collection) or {}).get(_key(doc_id))
        return copy_value(doc) if doc is not None else None

    async def delete_where(self, collection: str, query: ir.Query) -> int:
        docs = self._read(collection) or {}
        true = compile_filter(query.where)
        doomed = [k for k, d in docs.items() if true(d)]
        if doomed:
            docs = self._write(collection)
            for k in doomed:
                del docs[k]
            self._changed(collection)
        return len(doomed)

    async def execute_plan(self, plan: Plan) -> WriteResult:
        if not isinstance(plan, MemoryWritePlan):
            raise TypeError(f"the memory store runs memory plans, not {type(plan).__name__}")
        docs = self._read(plan.collection)
        if docs is None:
            return WriteResult()
        keys = list(docs)
        after, result = apply(plan.statement, list(docs.values()))
        # everything was computed first (an error left the collection as it was)
        if result.matched:
            docs = self._write(plan.collection)
        if isinstance(plan.statement, ir.Delete):
            kept = {id(doc) for doc in after}
            for key in keys:
                if id(docs[key]) not in kept:
                    del docs[key]
        else:
            for key, doc in zip(keys, after, strict=True):
                docs[key] = doc
        if result.matched:
            self._changed(plan.collection)
        return result

    async def drop_collection(self, name: str) -> None:
        self._drop(name)
        self._changed(name)

    def new_id(self) -> str:
        return uuid.uuid4().hex

    async def begin_transaction(self) -> TransactionScope:
        """A transaction on a private copy of each collection it touches; the commit
        installs the copies at once, or raises ``TransactionConflict`` when a collection
        it read or wrote was changed since (optimistic concurrency)."""
        return _MemoryTransaction(self)


class _MemoryView(MemoryStore):
    """The store inside a memory transaction: reads and writes go to copies."""

    def __init__(self, base: MemoryStore) -> None:
        super().__init__()
        base.share_with(self)
        self.base = base
        self._open = base._open  # a committed copy becomes the base's: one registry
        self.seen: dict[str, int] = {}
        """Version of each collection touched, when first touched."""
        self.dirty: set[str] = set()

    def _touch(self, name: str) -> None:
        if name not in self.seen:
            self.seen[name] = self.base._versions.get(name, 0)
            base = self.base._read(name)
            if base is not None:
                self._collections[name] = dict(base)

    def _read(self, name: str) -> dict[Any, Document] | None:
        self._touch(name)
        return self._collections.get(name)

    def _write(self, name: str) -> dict[Any, Document]:
        self._touch(name)
        self.dirty.add(name)
        return self._own(name)

    def _drop(self, name: str) -> None:
        self._touch(name)
        self.dirty.add(name)
        self._collections.pop(name, None)

    async def begin_transaction(self) -> TransactionScope:
        raise BackendError("memory", "transactions do not nest")


class _MemoryTransaction(TransactionScope):
    def __init__(self, base: MemoryStore) -> None:
        self.view = self._view = _MemoryView(base)

    async def commit(self) -> None:
        view, base = self._view, self._view.base
        changed = [name for name, version in view.seen.items()
                   if base._versions.get(name, 0) != version]
        if changed:
            raise TransactionConflict("memory", "collection "
                                      f"{', '.join(map(repr, sorted(changed)))} changed since "
                                      "the transaction read it; nothing was written")
        # no await from here: the copies replace the collections at once
        for name in view.dirty:
            docs = view._collections.get(name)
            base._versions[name] = base._versions.get(name, 0) + 1
            if docs is None:
                base._collections.pop(name, None)
            else:
                base._collections[name] = docs
        for name in view.dirty:
            base._changed(name)

    async def abort(self) -> None:
        self._view._collections.clear()


def _sorts_after(req: Any, doc: Document, values: tuple[Any, ...],
                 decimals: list[bool]) -> bool:
    """Whether ``doc`` sorts strictly after the row whose walk-key values are ``values``
    (``decimals``: per key, whether floats sort as their shortest text there)."""
    for key, value, exact in zip(req.keys, values, decimals, strict=True):
        mine = sort_key(get_path(doc, key.path.segments), exact)
        theirs = sort_key(value, exact)
        if mine != theirs:
            return bool((mine > theirs) != key.descending)
    return False


def _key(doc_id: Any) -> Any:
    """Ids are compared by CrossQL equality: 1 and 1.0 are one id, True is not 1."""
    return freeze(doc_id)
