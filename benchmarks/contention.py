"""A Firestore counter under contention (issue #15, item 8): 50 concurrent
``update counters set n = n + 1 where _id == "a"`` through CrossQL, against 50
concurrent native ``update({"n": Increment(1)})`` writes on the same document, in
the same run (interleaved rounds), on the emulator (``FIRESTORE_EMULATOR_HOST``).

The row's figure is the median time of the 50 CrossQL increments; its ratio is
that over the median time of the 50 native ones (``CONTENTION_TARGET``). Each
round also checks that the counter gained exactly 50, so a fast but lossy round
cannot pass: it raises instead.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from typing import Any

from benchmarks.suite import Row, Settings

WRITERS = 50
COLLECTION = "bench_counters"
KEY = "contention.firestore.increment-50"
CONTENTION_TARGET = 2.5
"""50 concurrent CrossQL increments take at most this many times 50 native ones. Each
CrossQL increment is a read (which proves the counter a number: the reference's
condition, which ``Increment`` alone would not keep) and then the ``Increment`` write;
a native one is the write alone. By hand, read-then-``Increment`` measured 1.24x the
native writes on the emulator, CrossQL 1.4x to 2.2x (parsing and compiling each
statement included) on a loaded two-core machine."""


async def _rows(rounds: int) -> list[Row]:
    from google.cloud import firestore

    import crossql

    env = os.environ
    store: Any = crossql.connect({"driver": "firestore", "firestore": {
        "project_id": env.get("FIRESTORE_PROJECT") or env.get("GOOGLE_CLOUD_PROJECT"),
        "emulator_host": env["FIRESTORE_EMULATOR_HOST"]}})
    text = f'update {COLLECTION} set n = n + 1 where _id == "a"'
    async with store:
        await store.drop_collection(COLLECTION)
        await store.collection(COLLECTION).insert_many([{"_id": "a", "n": 0}])
        ref = store.client.collection(COLLECTION).document("a")

        async def ours() -> None:
            await asyncio.gather(*(store.execute(text) for _ in range(WRITERS)))

        async def native() -> None:
            await asyncio.gather(*(ref.update({"n": firestore.Increment(1)})
                                   for _ in range(WRITERS)))

        async def timed(run: Any) -> float:
            before = (await ref.get()).to_dict()["n"]
            start = time.perf_counter()
            await run()
            seconds = time.perf_counter() - start
            after = (await ref.get()).to_dict()["n"]
            if after != before + WRITERS:
                raise RuntimeError(f"a counter lost increments: {before} + {WRITERS} "
                                   f"gave {after}")
            return seconds

        await timed(ours)  # warm-up: connections, plan cache
        await timed(native)
        mine: list[float] = []
        theirs: list[float] = []
        try:
            for r in range(rounds):
                if r % 2:
                    mine.append(await timed(ours))
                    theirs.append(await timed(native))
                else:
                    theirs.append(await timed(native))
                    mine.append(await timed(ours))
        finally:
            await store.drop_collection(COLLECTION)
    ratio = statistics.median(m / t for m, t in zip(mine, theirs, strict=True))
    native_ms = statistics.median(theirs) * 1000
    note = (f"{WRITERS} concurrent `set n = n + 1` on one document, none lost; ratio: over "
            f"{WRITERS} concurrent native Increment(1) ({native_ms:,.0f} ms)")
    return [Row(KEY, "contention", f"{WRITERS} concurrent increments", "firestore",
                statistics.median(mine) * 1000, "ms", ratio, note)]


def contention_rows(settings: Settings) -> list[Row]:
    """The row when the emulator is in the environment (else none, with a note)."""
    if not os.environ.get("FIRESTORE_EMULATOR_HOST"):
        print("contention: firestore skipped (set FIRESTORE_EMULATOR_HOST)", file=sys.stderr)
        return []
    return asyncio.run(_rows(max(3, settings.rounds // 3)))


def contention_targets(rows: list[Row]) -> list[Any]:
    """``CONTENTION_TARGET`` for the row, when the run has it."""
    from benchmarks.targets import Target

    return [Target(r.key, CONTENTION_TARGET, "ratio",
                   f"{r.workload} on {r.backend}: <= {CONTENTION_TARGET:g} x as many native "
                   "Increment writes") for r in rows if r.key == KEY]
