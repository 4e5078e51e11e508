"""Plans with and without a declared schema (issue #17, docs/schemas.md).

A dozen queries on ``orders``, declared by a pydantic model (every field required but
``note``; ``tags`` a list), compiled for MongoDB with and without the schema,
interleaved with the suite's baseline (a Lark parse of E) in one run. Rows: the compile
time of the whole set each way (and its ratio to the baseline), the compile time with
the schema over without it (the checks' and the guard removal's cost), and the plans'
total JSON size with the schema over without it (what the guards the schema proves
unnecessary weighed).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from benchmarks import workloads
from benchmarks.suite import Row, Settings, _baseline_parser
from benchmarks.timing import interleaved

QUERIES = (
    "from orders where total >= 100",
    "from orders where total >= 100 and status == 'paid' order by created_at desc limit 10",
    "from orders where user_id == 'u1' and total between 10 and 20",
    "from orders where status in ['paid', 'sent'] and not (total < 5)",
    "from orders where status != 'void'",
    "from orders where address.city == 'Oslo' or address.city == 'Bergen'",
    "from orders where note == null",
    "from orders where tags contains 'gift' and total > 1",
    "from orders where user_id startswith 'u' select user_id, total",
    "from orders where total > 1 group by status select status, count() as n",
    "from orders where _id == 'o1'",
    "from orders where total != 3 and status not in ['x']",
)


def _schema() -> dict[str, object]:
    from pydantic import BaseModel, Field

    class Address(BaseModel):
        city: str

    class Order(BaseModel):
        id: str = Field(alias="_id")
        user_id: str
        total: float
        status: str
        created_at: datetime
        address: Address
        tags: list[str]
        note: str | None = None

    return {"orders": Order}


def _compile_all(schema: object) -> Callable[[], object]:
    import crossql
    from crossql.compiler.checks import bind, check_query
    from crossql.compiler.statement import compile_statement
    from crossql.grammar import parse_query

    declared = None if schema is None else crossql.Schema.of(schema)
    bound = [bind(check_query(parse_query(q)), None) for q in QUERIES]

    def call() -> None:
        for query in bound:
            compile_statement(query, "mongodb", schema=declared)

    return call


def schema_rows(settings: Settings) -> list[Row]:
    """The rows of this module (see the module docstring)."""
    import crossql

    lark = _baseline_parser()
    schema = _schema()
    cases: dict[str, Callable[[], object]] = {
        "baseline": lambda: lark.parse(workloads.E),
        "schema.compile.without": _compile_all(None),
        "schema.compile.with": _compile_all(schema),
    }
    timings = interleaved(cases, "baseline", rounds=settings.rounds,
                          batch_ms=settings.batch_ms)
    without, with_ = timings["schema.compile.without"], timings["schema.compile.with"]
    n = len(QUERIES)
    size = {kind: sum(len(crossql.compile(q, backend="mongodb", schema=s).to_json())
                      for q in QUERIES)
            for kind, s in (("without", None), ("with", schema))}
    return [
        Row("schema.compile.without.mongodb", "schema", f"{n} queries", "mongodb",
            without.median_ns / 1000, "µs", without.ratio,
            "compile of the set without a schema"),
        Row("schema.compile.with.mongodb", "schema", f"{n} queries", "mongodb",
            with_.median_ns / 1000, "µs", with_.ratio,
            "compile of the set with the model declared (checks, guards taken out)"),
        Row("schema.compile.ratio.mongodb", "schema", f"{n} queries", "mongodb",
            with_.ratio / without.ratio, "\u00d7", None,
            "compile time with the schema over without it"),
        Row("schema.plan-size.mongodb", "schema", f"{n} queries", "mongodb",
            size["with"] / size["without"], "\u00d7", None,
            "plans' JSON size with the schema over without it"),
    ]
