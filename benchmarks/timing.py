"""Interleaved timing: every case and the baseline in each round, so noise hits all.

Each case runs in batches (a ``perf_counter_ns`` loop of ``inner`` calls, sized
to about ``batch_ms``) after a warm-up. A round runs one batch of every case, in
an order that rotates from round to round; the figure of a case is the median
over rounds of its time per call, and its ratio is the median over rounds of
(its time / the baseline's time in the same round).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Timing:
    """The median time per call of one case, and its paired ratio to the baseline."""

    median_ns: float
    ratio: float
    rounds: int
    inner: int


def _batch(call: Callable[[], object], inner: int) -> float:
    clock = time.perf_counter_ns
    start = clock()
    for _ in range(inner):
        call()
    return (clock() - start) / inner


def _inner_for(call: Callable[[], object], batch_ns: float) -> int:
    """How many calls make a batch of about ``batch_ns`` (after a warm-up)."""
    for _ in range(3):
        call()
    inner = 1
    while True:
        per_call = _batch(call, inner)
        if per_call * inner >= batch_ns / 4 or inner >= 1 << 20:
            return max(1, int(batch_ns / max(per_call, 1.0)))
        inner *= 4


def interleaved(cases: dict[str, Callable[[], object]], baseline: str, *, rounds: int,
                batch_ms: float) -> dict[str, Timing]:
    """Time every case (the baseline among them) over ``rounds`` interleaved rounds."""
    names = list(cases)
    batch_ns = batch_ms * 1e6
    inner = {name: _inner_for(cases[name], batch_ns) for name in names}
    samples: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            samples[name].append(_batch(cases[name], inner[name]))
    base = samples[baseline]
    return {
        name: Timing(
            median_ns=statistics.median(samples[name]),
            ratio=statistics.median(s / b for s, b in zip(samples[name], base, strict=True)),
            rounds=rounds, inner=inner[name],
        )
        for name in names
    }
