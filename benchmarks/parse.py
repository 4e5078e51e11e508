"""Parse time alone (text to IR), against the suite's baseline (a Lark parse of E) in one
interleaved run: E as queries of one shape meet it (the parser's memos of spans, paths
and literals serve it), E with a literal never seen before (a miss in each memo), and the
valid corpus queries, per query.

Rows ``parse.E``, ``parse.E.new``, ``parse.corpus``; the ratios are what to compare
between two versions of the parser (docs/performance.md, "Parsing").
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

from benchmarks import workloads
from benchmarks.suite import Row, Settings, _baseline_parser
from benchmarks.timing import interleaved


def parse_rows(settings: Settings) -> list[Row]:
    """The rows of this module (see the module docstring)."""
    from crossql.grammar import parse_query, parse_statement

    lark = _baseline_parser()
    texts = [e.query for e in workloads.corpus()]
    fresh = (workloads.E.replace("age >= 18", f"age >= {n}") for n in itertools.count(10**6))

    def corpus() -> None:
        for text in texts:
            parse_statement(text)

    cases: dict[str, Callable[[], object]] = {
        "baseline": lambda: lark.parse(workloads.E),
        "parse.E": lambda: parse_query(workloads.E),
        "parse.E.new": lambda: parse_query(next(fresh)),
        "parse.corpus": corpus,
    }
    notes = {"parse.E": ("E", 1, "parse_query(E): the same text again (memo hits)"),
             "parse.E.new": ("E", 1, "parse_query of E with a number never seen before"),
             "parse.corpus": ("corpus", len(texts), "parse_query of the valid corpus "
                                                    "queries, per query")}
    timings = interleaved(cases, "baseline", rounds=settings.rounds,
                          batch_ms=settings.batch_ms)
    return [Row(key, "parse", workload, "-", timings[key].median_ns / per / 1000, "µs",
                timings[key].ratio / per, note)
            for key, (workload, per, note) in notes.items()]
