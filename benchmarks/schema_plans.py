"""Plans with and without a declared schema (issue #17, docs/schemas.md).

A dozen queries on ``orders``, declared by a pydantic model (every field required but
``note``; ``tags`` a list), compiled for MongoDB, DynamoDB and Firestore (default
profile) with and without the schema — each backend's rows over the queries it compiles
both ways (a note says how many the schema alone lets through: Firestore's `order by` a
field the schema declares required, for one) —
interleaved with the suite's baseline (a Lark parse of E) in one run. Rows: the compile
time of the whole set each way (and its ratio to the baseline), the compile time with
the schema over without it (the checks' and the guard removal's cost), and the plans'
total JSON size with the schema over without it (what the guards the schema proves
unnecessary weighed).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

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


BACKENDS = ("mongodb", "dynamodb", "firestore")


def _compiles(query: str, backend: str, schema: object) -> bool:
    import crossql

    try:
        crossql.compile(query, backend=backend, schema=schema)
    except crossql.CapabilityError:
        return False
    return True


_EXPLANATIONS = frozenset({"assumes", "reason", "notes"})
"""Keys of a plan's dict that explain it to a person and are never sent."""


def _sent_size(plan: Any) -> int:
    """The size of what a plan sends: its JSON without the explanations (what a schema
    adds there, e.g. DynamoDB's "every item has `total`", is not sent)."""
    import json

    return len(json.dumps({k: v for k, v in plan.to_dict().items()
                           if k not in _EXPLANATIONS}, default=str))


def _compile_all(queries: list[str], backend: str,
                 schema: object) -> Callable[[], object]:
    import crossql
    from crossql.compiler.checks import bind, check_query
    from crossql.compiler.statement import compile_statement
    from crossql.grammar import parse_query

    declared = None if schema is None else crossql.Schema.of(schema)
    bound = [bind(check_query(parse_query(q)), None) for q in queries]

    def call() -> None:
        for query in bound:
            compile_statement(query, backend, schema=declared)

    return call


def schema_rows(settings: Settings) -> list[Row]:
    """The rows of this module (see the module docstring)."""
    lark = _baseline_parser()
    schema = _schema()
    rows: list[Row] = []
    for backend in BACKENDS:
        both = [q for q in QUERIES if _compiles(q, backend, None)]
        lifted = sum(1 for q in QUERIES
                     if q not in both and _compiles(q, backend, schema))
        rows += _backend_rows(settings, lark, backend, both, lifted, schema)
    return rows


def _backend_rows(settings: Settings, lark: object, backend: str, queries: list[str],
                  lifted: int, schema: object) -> list[Row]:
    import crossql

    cases: dict[str, Callable[[], object]] = {
        "baseline": lambda: lark.parse(workloads.E),  # type: ignore[attr-defined]
        "without": _compile_all(queries, backend, None),
        "with": _compile_all(queries, backend, schema),
    }
    timings = interleaved(cases, "baseline", rounds=settings.rounds,
                          batch_ms=settings.batch_ms)
    without, with_ = timings["without"], timings["with"]
    size = {kind: sum(_sent_size(crossql.compile(q, backend=backend, schema=s))
                      for q in queries)
            for kind, s in (("without", None), ("with", schema))}
    label = f"{len(queries)} queries"
    more = f"; {lifted} more compile only with the schema" if lifted else ""
    return [
        Row(f"schema.compile.without.{backend}", "schema", label, backend,
            without.median_ns / 1000, "µs", without.ratio,
            "compile of the set without a schema"),
        Row(f"schema.compile.with.{backend}", "schema", label, backend,
            with_.median_ns / 1000, "µs", with_.ratio,
            "compile of the set with the model declared (checks, guards taken out)" + more),
        Row(f"schema.compile.ratio.{backend}", "schema", label, backend,
            with_.ratio / without.ratio, "\u00d7", None,
            "compile time with the schema over without it"),
        Row(f"schema.plan-size.{backend}", "schema", label, backend,
            size["with"] / size["without"], "\u00d7", None,
            "size of what the plans send (JSON, explanations left out) with the schema "
            "over without it"),
    ]
