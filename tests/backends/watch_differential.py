"""Differential testing of live queries (issue 23): while a watch runs, a generated
sequence of writes is applied; the changes a backend reports must equal, per document
and in order, those the memory store (the reference semantics) reports for the same
writes. The memory watch is itself held to the result of the query re-run after each
write (``result_diff``)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

import crossql
from crossql import ir
from crossql.errors import CapabilityError
from crossql.runtime.watch import Change
from tests.backends.conftest import canonical
from tests.backends.write_differential import typed_writes
from tests.strategies import ID_DOMAIN, conditions, documents

COLLECTION = "docs"
"""The collection ``typed_writes`` writes to."""

_IDS = ID_DOMAIN[:8]

NativePut = Callable[[Any, str, dict[str, Any]], Awaitable[None]]
"""Replace (or create) a whole document through the backend's own driver."""


@dataclass(frozen=True)
class Step:
    """One write of a scenario: ``put`` (delete by id, then insert), ``native`` (a whole
    document through the backend's driver) or ``write`` (an ``update``/``delete``)."""

    kind: str
    doc: dict[str, Any] | None = None
    write: ir.Update | ir.Delete | None = None


@st.composite
def _doc(draw: st.DrawFn) -> dict[str, Any]:
    (body,) = draw(documents(1, min_size=1))
    return {**body, "_id": draw(st.sampled_from(_IDS))}


def _step() -> st.SearchStrategy[Step]:
    return st.one_of(
        _doc().map(lambda d: Step("put", doc=d)),
        _doc().map(lambda d: Step("native", doc=d)),
        typed_writes().map(lambda w: Step("write", write=w)),
    )


@st.composite
def watch_scenarios(draw: st.DrawFn, max_steps: int = 10
                    ) -> tuple[ir.Condition | None, list[dict[str, Any]], list[Step]]:
    """A watched ``where``, the documents before the watch starts, and the writes."""
    where = draw(st.one_of(st.none(), conditions(max_leaves=3)), label="where")
    start = draw(documents(6), label="start")
    steps = draw(st.lists(_step(), min_size=2, max_size=max_steps), label="steps")
    return where, start, steps


def query_text(where: ir.Condition | None) -> str:
    """The watched query's text."""
    return crossql.format(ir.Query(COLLECTION, where=where))


async def memory_native_put(store: Any, collection: str, doc: dict[str, Any]) -> None:
    """The memory store's "native driver": the document replaced in its dict."""
    from crossql.backends.memory.store import _key

    store._write(collection)[_key(doc["_id"])] = dict(doc)
    store._changed(collection)


async def apply_steps(store: Any, steps: list[Step], native_put: NativePut,
                      after_each: Callable[[], Awaitable[None]] | None = None) -> list[Step]:
    """Apply ``steps`` to ``store`` (calling ``after_each`` after each write); the steps
    it ran (a write the backend refuses with a ``CapabilityError`` is left out, and so
    left out of the reference run too)."""
    done = []
    for step in steps:
        if step.kind == "write":
            assert step.write is not None
            try:
                await store.execute(step.write)
            except CapabilityError:
                continue
        elif step.kind == "put":
            assert step.doc is not None
            await store.collection(COLLECTION).delete_many("_id == :id", id=step.doc["_id"])
            if after_each is not None:
                await after_each()
            await store.collection(COLLECTION).insert_one(step.doc)
        else:
            assert step.doc is not None
            await native_put(store, COLLECTION, step.doc)
        done.append(step)
        if after_each is not None:
            await after_each()
    return done


async def load(store: Any, docs: list[dict[str, Any]], **create: Any) -> None:
    """Replace the collection's content with ``docs`` (``create``: the arguments of the
    store's ``create_collection``, e.g. ``stream=True``)."""
    await store.drop_collection(COLLECTION)
    if create:
        await store.create_collection(COLLECTION, **create)
    if docs:
        await store.collection(COLLECTION).insert_many(docs)


def by_document(changes: list[Change], *, old: bool) -> dict[str, list[str]]:
    """Each document's changes in order, as comparable text (with the old row or not)."""
    out: dict[str, list[str]] = {}
    for c in changes:
        key = canonical(c.id)
        out.setdefault(key, []).append(canonical([c.kind, c.row, c.old if old else None]))
    return out


async def reference_changes(where: ir.Condition | None, start: list[dict[str, Any]],
                            steps: list[Step]) -> list[Change]:
    """The changes the memory store (the reference semantics) reports for ``steps``."""
    async with crossql.connect({"driver": "memory"}) as memory:
        await load(memory, start)
        async with memory.watch(query_text(where), buffer=10_000) as watch:
            await apply_steps(memory, steps, memory_native_put)
            watch.buffer.finish()
            return [c async for c in watch]


async def collect(watch: Any, count: int, *, timeout: float = 10.0,
                  grace: float = 0.3) -> list[Change]:
    """``count`` changes (or what came within ``timeout``), then any that come within
    ``grace`` more: a backend that reports too many is caught too."""
    got: list[Change] = []
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout):
            while len(got) < count:
                got.append(await watch.__anext__())
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(grace):
            while True:
                got.append(await watch.__anext__())
    return got


async def compare(store: Any, where: ir.Condition | None, start: list[dict[str, Any]],
                  steps: list[Step], native_put: NativePut, *, old: bool,
                  **create: Any) -> None:
    """Run the scenario on ``store`` and on the reference; assert the same changes."""
    text = query_text(where)
    try:
        store.watch(text)
    except CapabilityError:
        return  # the backend refuses this `where` for reads too
    await load(store, start, **create)
    async with store.watch(text) as watch:
        done = await apply_steps(store, steps, native_put)
        want = await reference_changes(where, start, done)
        got = await collect(watch, len(want))
    assert by_document(got, old=old) == by_document(want, old=old), (text, done)


async def resume(store: Any, where: ir.Condition | None, start: list[dict[str, Any]],
                 steps: list[Step], native_put: NativePut, *, old: bool,
                 **create: Any) -> None:
    """Cut a watch after the first half of the writes, resume from its last token while
    the second half is written: together they report what the reference does, nothing
    lost, nothing repeated."""
    text = query_text(where)
    try:
        store.watch(text)
    except CapabilityError:
        return  # the backend refuses this `where` for reads too (as in `compare`)
    await load(store, start, **create)
    half = len(steps) // 2
    async with store.watch(text) as first:
        done = await apply_steps(store, steps[:half], native_put)
        want_first = await reference_changes(where, start, done)
        got = await collect(first, len(want_first))
    token = got[-1].token if got else None
    if token is None:  # nothing to resume from: start the second watch before writing
        return
    done += await apply_steps(store, steps[half:], native_put)
    want = await reference_changes(where, start, done)
    async with store.watch(text, resume_after=token) as second:
        got += await collect(second, len(want) - len(got))
    assert by_document(got, old=old) == by_document(want, old=old), (text, done)


def _compiles(store: Any, write: ir.Update | ir.Delete) -> bool:
    try:
        store.write_plan(write)
    except CapabilityError:
        return False
    return True


async def compare_stepwise(store: Any, where: ir.Condition | None,
                           start: list[dict[str, Any]], steps: list[Step],
                           native_put: NativePut, **create: Any) -> None:
    """``compare`` for a backend that batches the changes it reports (Firestore's
    snapshots): each write's changes, as many as the reference reports for it, are read
    before the next write. Rows only (the backend reports no old row)."""
    text = query_text(where)
    try:
        store.watch(text)
    except CapabilityError:
        return
    steps = [s for s in steps if s.write is None or _compiles(store, s.write)]
    counts: list[int] = []
    want: list[Change] = []
    async with crossql.connect({"driver": "memory"}) as memory:
        await load(memory, start)
        async with memory.watch(text, buffer=10_000) as reference:
            async def count() -> None:
                before = len(want)
                while len(reference.buffer):
                    want.append(await reference.__anext__())
                counts.append(len(want) - before)

            await apply_steps(memory, steps, memory_native_put, count)
    await load(store, start, **create)
    got: list[Change] = []
    async with store.watch(text) as watch:
        writes = iter(counts)

        async def read() -> None:
            got.extend(await collect(watch, next(writes), grace=0))

        await apply_steps(store, steps, native_put, read)
        got += await collect(watch, 0)
    assert by_document(got, old=False) == by_document(want, old=False), (text, steps)
