"""Client-side completion at run time: the rows a backend read, completed by the engine.

``complete`` is the one place the engine finishes a ``ClientSidePlan``
(``crossql.backends.completion``): every store that runs such a plan calls it with the
rows of the plan's native part. It evaluates the rest of the query (``group by``,
``select``, ``order by``, ``limit``, ``offset``) with the embedded engine
(``crossql.semantics.compiled``, whose answers are the reference's), here and nowhere else.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping
from typing import Any

from crossql import ir
from crossql.errors import ClientSideLimitError

Document = dict[str, Any]


async def complete(query: ir.Query,
                   documents: AsyncIterable[Mapping[str, Any]] | Iterable[Mapping[str, Any]],
                   *, max_rows: int, backend: str) -> list[Document]:
    """The rows of the bound ``query`` over ``documents`` (async or not), which already
    satisfy its ``where`` (the backend filtered them): ``query``'s ``where`` is not
    evaluated again. More than ``max_rows`` documents raise ``ClientSideLimitError``
    (naming the option of ``backend``) as soon as the one too many arrives."""
    docs: list[Mapping[str, Any]] = []
    if isinstance(documents, AsyncIterable):
        async for doc in documents:
            if len(docs) >= max_rows:
                raise _too_many(query, max_rows, backend)
            docs.append(doc)
    else:
        for doc in documents:
            if len(docs) >= max_rows:
                raise _too_many(query, max_rows, backend)
            docs.append(doc)
    unfiltered = query if query.where is None else ir.Query(
        query.collection, None, query.group_by, query.select, query.order_by, query.limit,
        query.offset, query.span, query.source)
    # imported here: the engine is loaded when a query first needs it (start-up)
    from crossql.semantics.compiled import run_streamed

    return list(run_streamed(unfiltered, docs))


async def complete_rows(query: ir.Query, documents: AsyncIterable[Mapping[str, Any]], *,
                        max_rows: int, backend: str) -> AsyncIterator[Document]:
    """``complete``'s rows, one at a time (what a store's ``run_plan`` yields)."""
    for row in await complete(query, documents, max_rows=max_rows, backend=backend):
        yield row


def _too_many(query: ir.Query, max_rows: int, backend: str) -> ClientSideLimitError:
    from crossql.backends.completion import client_side_steps

    return ClientSideLimitError(backend, max_rows, client_side_steps(query))
