"""The embedded engine (issue #19): the compiled evaluator against plain Python over the
same list of dicts, at 10^4 and 10^5 documents.

Each engine row's ratio is to its own floor, timed back to back with it in every round
(the median of the per-round ratios, so drift in the machine's load cancels):

- ``engine.where.{1,3,10}.{n}``: the ``where`` pass (``CompiledQuery.count`` over the
  collection's documents: what the memory store runs) per document, against a
  compiled lambda with the same result on that data (``filter(lambda d: d["age"] >=
  30 and ..., docs)``, counted the same way): target within 3x;
- ``engine.in.{10,1000,10000}.{n}``: ``age in [k values]`` per document; the row
  ``engine.in.flat.{n}`` is the time at 10,000 values over the time at 10: about 1;
- ``engine.limit.{n}``: ``where … limit 10`` (rows returned) against a generator and
  ``islice``; ``engine.limit.read.{n}`` counts the documents it read;
- ``engine.topk.{n}``: ``order by score limit 10`` against ``heapq.nsmallest(10, docs,
  key=lambda d: d["score"])``: target within 2x;
- ``engine.stream.first.read.{n}``: documents read before ``stream`` yields its first
  row; ``engine.stream.peak.{n}``: peak memory (tracemalloc) while streaming every row
  of an unordered query, in KB, and ``engine.stream.peak.growth`` its ratio 10^5 /
  10^4 (1: does not grow with the collection);
- ``engine.count.peak.{n}``: peak memory of ``count`` (no rows built), in KB.

10^6 documents are left out: building them takes about 1 GB on this machine's
figures (500 bytes a document) for the same ratios.
"""

from __future__ import annotations

import heapq
import statistics
import tracemalloc
from collections import deque
from collections.abc import Callable, Iterator
from itertools import islice
from typing import Any

from benchmarks.suite import Row, Settings
from benchmarks.targets import Target
from benchmarks.timing import _batch, _inner_for

SIZES = (10_000, 100_000)
COUNTRIES = ("FR", "DE", "US", "JP", "BR")

WHERES: dict[int, tuple[str, Callable[[dict[str, Any]], bool]]] = {
    1: ("age >= 30", lambda d: d["age"] >= 30),
    3: ("age >= 30 and country == 'FR' and active == true",
        lambda d: d["age"] >= 30 and d["country"] == "FR" and d["active"] is True),
    10: ("age >= 1 and age < 89 and score >= 0.5 and score < 99.5 and country != 'JP' "
         "and active == true and name >= 'user' and age != 45 and score != 50.0 "
         "and country != 'XX'",
         lambda d: d["age"] >= 1 and d["age"] < 89 and d["score"] >= 0.5
         and d["score"] < 99.5 and d["country"] != "JP" and d["active"] is True
         and d["name"] >= "user" and d["age"] != 45 and d["score"] != 50.0
         and d["country"] != "XX"),
}
"""``where`` text, and the lambda with the same result on ``documents(n)`` (every field
present, of one type: the three-valued rules never differ from Python's there)."""

LIMIT = ("country == 'JP' and age > 80", lambda d: d["country"] == "JP" and d["age"] > 80)
IN_SIZES = (10, 1_000, 10_000)


def documents(n: int) -> list[dict[str, Any]]:
    """``n`` users: ``age`` 0-89, ``country`` of five, ``score`` 0.0-99.9, ``active``."""
    return [{"_id": i, "age": (i * 7919) % 90, "name": f"user{i}", "country": COUNTRIES[i % 5],
             "score": float((i * 31) % 1000) / 10, "active": i % 3 != 0} for i in range(n)]


def _engine_count(q: Any, docs: list[dict[str, Any]]) -> Callable[[], object]:
    return lambda: q.count(docs, dicts=True)


def _floor_count(floor: Callable[[dict[str, Any]], bool], docs: list[dict[str, Any]]
                 ) -> Callable[[], object]:
    return lambda: _count(filter(floor, docs))


def _count(items: Iterator[Any]) -> int:
    last = deque(enumerate(items, 1), maxlen=1)  # counted in C: no Python per item
    return last[0][0] if last else 0


def _query(text: str, params: dict[str, Any] | None = None) -> Any:
    from crossql.compiler.checks import bind, check_query
    from crossql.grammar import parse_query
    from crossql.semantics.compiled import compile_query

    return compile_query(bind(check_query(parse_query(text)), params))


class _Counting:
    """Documents that count how many were read."""

    def __init__(self, docs: list[dict[str, Any]]) -> None:
        self.docs, self.read = docs, 0

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for doc in self.docs:
            self.read += 1
            yield doc


def _peak_kb(call: Callable[[], object]) -> float:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        call()
        return (tracemalloc.get_traced_memory()[1] - base) / 1024
    finally:
        tracemalloc.stop()


def _cases(n: int, docs: list[dict[str, Any]]
           ) -> tuple[dict[str, Callable[[], object]], dict[str, tuple[str, str, int]]]:
    """Timed cases at size ``n``: key -> call, and key -> (workload, note, per)."""
    cases: dict[str, Callable[[], object]] = {}
    meta: dict[str, tuple[str, str, int]] = {}

    def add(key: str, call: Callable[[], object], workload: str, note: str,
            per: int = 1) -> None:
        cases[key], meta[key] = call, (workload, note, per)

    for k, (text, floor) in WHERES.items():
        q = _query(f"from u where {text}")
        assert q.count(docs, dicts=True) == _count(filter(floor, docs))
        add(f"engine.where.{k}.{n}", _engine_count(q, docs),
            f"where {k} {n:,}", f"{k} predicate(s): the where pass, per document", n)
        add(f"engine.floor.where.{k}.{n}", _floor_count(floor, docs),
            f"where {k} {n:,}", "floor: filter(lambda, docs), per document", n)
    for k in IN_SIZES:
        q = _query("from u where age in :v", {"v": list(range(0, 2 * k, 2))})
        add(f"engine.in.{k}.{n}", _engine_count(q, docs), f"in {k:,} {n:,}",
            f"`age in [{k:,} values]`, per document", n)
    q = _query(f"from u where {LIMIT[0]} limit 10")
    add(f"engine.limit.{n}", lambda: q.rows(docs, dicts=True), f"where limit 10 {n:,}",
        "where … limit 10 (10 rows copied)")
    add(f"engine.floor.limit.{n}",
        lambda: [dict(d) for d in islice((d for d in docs if LIMIT[1](d)), 10)],
        f"where limit 10 {n:,}", "floor: a generator, islice and dict copies")
    q_top = _query("from u order by score limit 10")
    assert [r["_id"] for r in q_top.rows(docs, dicts=True)] == \
        [d["_id"] for d in heapq.nsmallest(10, docs, key=lambda d: d["score"])]
    add(f"engine.topk.{n}", lambda: q_top.rows(docs, dicts=True),
        f"order by limit 10 {n:,}", "order by score limit 10")
    add(f"engine.floor.topk.{n}",
        lambda: [dict(d) for d in heapq.nsmallest(10, docs, key=lambda d: d["score"])],
        f"order by limit 10 {n:,}", "floor: heapq.nsmallest(10, docs, key=...) and copies")
    return cases, meta


def _untimed(n: int, docs: list[dict[str, Any]]) -> list[Row]:
    rows = []
    source = _Counting(docs)
    list(_query(f"from u where {LIMIT[0]} limit 10").stream(source))
    rows.append(Row(f"engine.limit.read.{n}", "engine", f"where limit 10 {n:,}", "memory",
                    source.read, "docs", None, "documents read by where … limit 10"))
    source = _Counting(docs)
    next(_query("from u where country == 'JP'").stream(source))
    rows.append(Row(f"engine.stream.first.read.{n}", "engine", f"stream {n:,}", "memory",
                    source.read, "docs", None, "documents read before the first row"))
    q = _query("from u where age >= 30")
    by_id = {d["_id"]: d for d in docs}

    def stream_all() -> None:
        for _ in q.stream(by_id.values(), dicts=True):
            pass
    rows.append(Row(f"engine.stream.peak.{n}", "engine", f"stream {n:,}", "memory",
                    _peak_kb(stream_all), "KB", None,
                    "peak memory streaming every row of an unordered query"))
    rows.append(Row(f"engine.count.peak.{n}", "engine", f"count {n:,}", "memory",
                    _peak_kb(lambda: q.count(by_id.values(), dicts=True)), "KB", None,
                    "peak memory of count: no rows built"))
    return rows


def _floor_of(key: str) -> str:
    """The case a case is measured against: its floor; `in` 10,000 values: `in` 10."""
    if key.startswith("engine.in."):
        return "engine.in.10." + key.rsplit(".", 1)[1]
    return key.replace("engine.", "engine.floor.", 1)


def _paired(cases: dict[str, Callable[[], object]], rounds: int, batch_ms: float
            ) -> tuple[dict[str, float], dict[str, float]]:
    """Each case's median time per call (ns), and each engine case over its floor,
    timed back to back in every round (the order alternating): the median of the
    per-round ratios."""
    inner = {key: _inner_for(call, batch_ms * 1e6) for key, call in cases.items()}
    times: dict[str, list[float]] = {key: [] for key in cases}
    ratios: dict[str, list[float]] = {}
    for r in range(rounds):
        for key in cases:
            floor = _floor_of(key)
            if key.startswith("engine.floor.") or key.startswith("engine.in.10."):
                continue
            pair = [key, floor] if floor in cases else [key]
            batch = {k: _batch(cases[k], inner[k]) for k in (pair if r % 2 else pair[::-1])}
            for k, t in batch.items():
                times[k].append(t)
            if floor in cases:
                ratios.setdefault(key, []).append(batch[key] / batch[floor])
    return ({k: statistics.median(v) for k, v in times.items()},
            {k: statistics.median(v) for k, v in ratios.items()})


def engine_rows(settings: Settings) -> list[Row]:
    """The rows of this module (see the module docstring)."""
    rows: list[Row] = []
    for n in SIZES:
        docs = documents(n)
        cases, meta = _cases(n, docs)
        # one call of a case is milliseconds: fewer rounds say as much
        times, paired = _paired(cases, max(3, settings.rounds // 2), settings.batch_ms)
        for key, (workload, note, per) in meta.items():
            floor = key.startswith("engine.floor.")
            ratio = None if floor or key.startswith("engine.in.") else paired.get(key)
            unit, scale = ("ns", 1.0) if per > 1 else ("ms", 1e-6)
            rows.append(Row(key, "engine", workload, "python" if floor else "memory",
                            times[key] / per * scale, unit, ratio,
                            note + (" (ratio: to its floor, same run)" if ratio else "")))
        rows.append(Row(f"engine.in.flat.{n}", "engine", f"in 10,000 / 10 {n:,}", "memory",
                        paired[f"engine.in.10000.{n}"], "\u00d7",
                        None, "time per document with 10,000 values over with 10"))
        rows += _untimed(n, docs)
        del docs, cases
    peaks = {r.key: r.value for r in rows}
    rows.append(Row("engine.stream.peak.growth", "engine", "stream 10^5 / 10^4", "memory",
                    peaks[f"engine.stream.peak.{SIZES[1]}"]
                    / max(peaks[f"engine.stream.peak.{SIZES[0]}"], 1.0), "\u00d7", None,
                    "peak memory of stream at 10^5 documents over at 10^4"))
    return rows


def engine_targets(rows: list[Row]) -> list[Target]:
    """Issue #19's targets, for the sizes in the run."""
    out = []
    for n in SIZES:
        out += [Target(f"engine.where.{k}.{n}", 3.0, "ratio",
                       f"where with {k} predicate(s) over {n:,} <= 3 x a compiled lambda")
                for k in WHERES]
        out += [
            Target(f"engine.in.flat.{n}", 1.5, "value",
                   f"`in` 10,000 values per document <= 1.5 x 10 values ({n:,} documents)"),
            # the 10th match of LIMIT is the 369th document, at every size
            Target(f"engine.limit.read.{n}", 500, "value",
                   f"where … limit 10 over {n:,} reads <= 500 documents"),
            Target(f"engine.topk.{n}", 2.0, "ratio",
                   f"order by … limit 10 over {n:,} <= 2 x heapq.nsmallest"),
            Target(f"engine.stream.first.read.{n}", 100, "value",
                   f"stream's first row over {n:,} after <= 100 documents read"),
            Target(f"engine.count.peak.{n}", 16.0, "value",
                   f"count over {n:,} allocates <= 16 KB (no rows)"),
        ]
    out.append(Target("engine.stream.peak.growth", 1.5, "value",
                      "stream's peak memory at 10^5 <= 1.5 x at 10^4 (does not grow)"))
    keys = {r.key for r in rows}
    return [t for t in out if t.key in keys or t.key.startswith("engine.")]
