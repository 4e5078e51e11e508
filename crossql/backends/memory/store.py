"""The memory backend's store: collections are dicts in the process."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

from crossql import ir
from crossql.backends import Plan
from crossql.backends.memory.compiler import MemoryPlan, MemoryWritePlan
from crossql.errors import BackendError
from crossql.runtime.reference import copy_value, evaluate_condition, freeze, run
from crossql.runtime.store import Document, Store
from crossql.runtime.writes import WriteResult, apply


class MemoryStore(Store):
    """An embedded store whose answers are the reference semantics."""

    driver = "memory"

    def __init__(self, *, plan_cache_size: int = 256) -> None:
        super().__init__(plan_cache_size=plan_cache_size)
        self._collections: dict[str, dict[Any, Document]] = {}

    def _docs(self, plan: Plan) -> tuple[ir.Query, list[Document]]:
        if not isinstance(plan, MemoryPlan):
            raise TypeError(f"the memory store runs memory plans, not {type(plan).__name__}")
        return plan.query, list(self._collections.get(plan.collection, {}).values())

    async def run_plan(self, plan: Plan) -> AsyncIterator[Document]:
        query, docs = self._docs(plan)
        for row in run(query, docs):
            yield row

    async def count_plan(self, plan: Plan) -> int:
        query, docs = self._docs(plan)
        return len(run(query, docs))

    async def insert_documents(self, collection: str, docs: list[Document]) -> list[Any]:
        target = self._collections.setdefault(collection, {})
        ids = [doc["_id"] for doc in docs]
        seen: set[Any] = set()
        for doc_id in ids:
            key = _key(doc_id)
            if key in target or key in seen:
                raise BackendError("memory", f"duplicate _id {doc_id!r} in {collection!r}")
            seen.add(key)
        for doc in docs:
            if _depth(doc) > MAX_DOCUMENT_DEPTH:
                raise BackendError("memory", f"document {doc['_id']!r} nests maps and lists "
                                   f"deeper than {MAX_DOCUMENT_DEPTH} levels (MongoDB's limit)")
        for doc in docs:
            target[_key(doc["_id"])] = copy_value(doc)
        return ids

    async def get_document(self, collection: str, doc_id: Any) -> Document | None:
        doc = self._collections.get(collection, {}).get(_key(doc_id))
        return copy_value(doc) if doc is not None else None

    async def delete_where(self, collection: str, query: ir.Query) -> int:
        docs = self._collections.get(collection, {})
        doomed = [k for k, d in docs.items()
                  if query.where is None or evaluate_condition(query.where, d) is True]
        for k in doomed:
            del docs[k]
        return len(doomed)

    async def execute_plan(self, plan: Plan) -> WriteResult:
        if not isinstance(plan, MemoryWritePlan):
            raise TypeError(f"the memory store runs memory plans, not {type(plan).__name__}")
        docs = self._collections.get(plan.collection)
        if docs is None:
            return WriteResult()
        keys = list(docs)
        after, result = apply(plan.statement, list(docs.values()))
        # everything was computed first (an error left the collection as it was)
        if isinstance(plan.statement, ir.Delete):
            kept = {id(doc) for doc in after}
            for key in keys:
                if id(docs[key]) not in kept:
                    del docs[key]
        else:
            for key, doc in zip(keys, after, strict=True):
                docs[key] = doc
        return result

    async def drop_collection(self, name: str) -> None:
        self._collections.pop(name, None)

    def new_id(self) -> str:
        return uuid.uuid4().hex


MAX_DOCUMENT_DEPTH = 100
"""Maps and lists nested in a stored document, at most (as MongoDB): every stage that
walks a document recurses, so a deeper one would end in a RecursionError."""


def _depth(value: Any) -> int:
    """How deep maps and lists nest in ``value`` (iteratively; stops past the limit)."""
    deepest = 0
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list | tuple):
            depth += 1
            deepest = max(deepest, depth)
            if depth > MAX_DOCUMENT_DEPTH:
                return depth
            stack.extend((v, depth) for v in (item.values() if isinstance(item, dict) else item)
                         if isinstance(v, dict | list | tuple))
    return deepest


def _key(doc_id: Any) -> Any:
    """Ids are compared by CrossQL equality: 1 and 1.0 are one id, True is not 1."""
    return freeze(doc_id)
