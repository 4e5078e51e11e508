"""Compile time against the length of a bound list (issue #15, item 6).

``crossql.compile('from items where x in :xs', params={"xs": [...]})`` with 100,
1,000 and 10,000 values on every backend, interleaved with the baseline of the
suite (a Lark parse of E) in one run. DynamoDB refuses an ``IN`` of more than
100 values and Firestore one of more than 30, so their figures past that time the
refusal; DynamoDB also compiles lists that repeat 100 values (accepted: deduplicated
to 100) and ``contains all`` (refused past 300 operators). Before the fix, DynamoDB
compared the values pairwise: 10,000 took seconds.

Rows: each compile's time (and ratio to the baseline); for each workload, how the
time per value grows from 1,000 to 10,000 values (``lists.linear.*``: 1 is linear,
10 quadratic); and DynamoDB's refusal of 10,000 values against the memory backend's
compile of the same list (binding the values, which every backend does first, is
most of it).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from typing import Any

from benchmarks import workloads
from benchmarks.suite import Row, Settings, _baseline_parser
from benchmarks.timing import interleaved

SIZES = (100, 1_000, 10_000)

_WORKLOADS: tuple[tuple[str, str, Callable[[int], list[Any]], tuple[str, ...]], ...] = (
    ("in", "from items where x in :xs", lambda n: list(range(n)),
     ("memory", "mongodb", "dynamodb", "firestore")),
    ("in-repeated", "from items where x in :xs", lambda n: [i % 100 for i in range(n)],
     ("dynamodb",)),
    ("contains-all", "from items where x contains all :xs", lambda n: list(range(n)),
     ("dynamodb",)),
)
"""(name, query, the bound list of n values, the backends it runs on)."""


def _compile(text: str, backend: str, options: Any, values: list[Any]) -> Callable[[], object]:
    import crossql

    def call() -> None:
        with suppress(crossql.QueryError):  # a refusal is this backend's answer
            crossql.compile(text, backend=backend, params={"xs": values}, options=options)

    return call


def list_rows(settings: Settings) -> list[Row]:
    """The rows of this module (see the module docstring)."""
    lark = _baseline_parser()
    options = {b.name: b.options for b in workloads.backends()}
    cases: dict[str, Callable[[], object]] = {
        "baseline": lambda: lark.parse(workloads.E)}
    meta: dict[str, tuple[str, str, int]] = {}
    for name, text, values, backends in _WORKLOADS:
        for backend in backends:
            for n in SIZES:
                key = f"lists.{name}.{n}.{backend}"
                cases[key] = _compile(text, backend, options[backend], values(n))
                meta[key] = (name, backend, n)
    timings = interleaved(cases, "baseline", rounds=settings.rounds,
                          batch_ms=settings.batch_ms)
    rows = []
    for key, (name, backend, n) in meta.items():
        timing = timings[key]
        rows.append(Row(key, "list length", f"{name} {n:,}", backend,
                        timing.median_ns / 1000, "µs", timing.ratio,
                        f"crossql.compile of `{name}` with {n:,} bound values"))
    for name, _, _, backends in _WORKLOADS:
        for backend in backends:
            # per value, each as its ratio to the baseline (paired per round): drift in
            # the machine's load between the two sizes cancels out
            small = timings[f"lists.{name}.1000.{backend}"].ratio / 1_000
            large = timings[f"lists.{name}.10000.{backend}"].ratio / 10_000
            rows.append(Row(f"lists.linear.{name}.{backend}", "list length",
                            f"{name} 10,000 / 1,000", backend, large / small, "\u00d7", None,
                            "time per value at 10,000 over time per value at 1,000 "
                            "(1: linear; 10: quadratic)"))
    refusal = timings["lists.in.10000.dynamodb"].ratio
    bind = timings["lists.in.10000.memory"].ratio
    rows.append(Row("lists.refusal-over-bind.dynamodb", "list length", "in 10,000",
                    "dynamodb", refusal / bind, "\u00d7", None,
                    "DynamoDB's refusal of 10,000 values over the memory backend's compile "
                    "of the same list (binding it)"))
    return rows
