"""Rendering a run: a rich table, ``docs/performance.md`` and ``docs/performance.png``."""

from __future__ import annotations

import json
import platform
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from benchmarks.suite import Row
from benchmarks.targets import Verdict
from benchmarks.workloads import ROOT

DOCS = ROOT / "docs"


def _value(row: Row) -> str:
    if row.unit == "µs":
        return f"{row.value:,.2f} µs" if row.value < 100 else f"{row.value:,.0f} µs"
    return f"{row.value:,.2f} {row.unit}"


def _ratio(row: Row) -> str:
    return "" if row.ratio is None else f"{row.ratio:.3f}\u00d7"


def _verdicts_by_key(verdicts: list[Verdict]) -> dict[str, list[Verdict]]:
    out: dict[str, list[Verdict]] = {}
    for v in verdicts:
        out.setdefault(v.target.key, []).append(v)
    return out


def _target_cell(verdicts: list[Verdict]) -> str:
    cells = []
    for v in verdicts:
        unit = "\u00d7" if v.target.on == "ratio" else ""
        mark = "ok" if v.holds else "MISSED"
        cells.append(f"{v.target.cell or f'≤ {v.target.limit:g}{unit}'} {mark}")
    return "; ".join(cells)


def table_rows(rows: list[Row], verdicts: list[Verdict]) -> list[list[str]]:
    """The table as text cells: group, workload, backend, median, ratio, target, note."""
    by_key = _verdicts_by_key(verdicts)
    return [[r.group, r.workload, r.backend, _value(r), _ratio(r),
             _target_cell(by_key.get(r.key, [])), r.note] for r in rows]


HEADER = ["group", "workload", "backend", "median", "\u00d7 baseline", "target", "note"]


def print_table(rows: list[Row], verdicts: list[Verdict]) -> None:
    """The run as a rich table on stdout."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="CrossQL benchmark (medians; ratios to the baseline of the same run)")
    for name in HEADER:
        table.add_column(name, overflow="fold")
    for cells in table_rows(rows, verdicts):
        style = "red" if "MISSED" in cells[5] else None
        table.add_row(*cells, style=style)
    Console(width=200).print(table)


def to_json(rows: list[Row]) -> str:
    """The run as JSON (``--json``), readable by ``--check --results``."""
    return json.dumps([asdict(r) for r in rows], indent=1, ensure_ascii=False)


def from_json(text: str) -> list[Row]:
    return [Row(**item) for item in json.loads(text)]


def markdown(rows: list[Row], verdicts: list[Verdict], context: dict[str, Any]) -> str:
    """``docs/performance.md``."""
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    for cells in table_rows(rows, verdicts):
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    held = [v for v in verdicts if v.holds]
    missed = [v for v in verdicts if not v.holds]
    summary = [f"- {v.target.text}: **missed** ("
               + ("no figure" if v.figure is None else f"{v.figure:.3g}") + ")"
               for v in missed]
    return TEMPLATE.format(
        table="\n".join(lines),
        held=len(held), total=len(verdicts),
        missed="\n".join(summary) if summary else "- none",
        **context,
    )


def chart(rows: list[Row], path: Path) -> None:
    """Median latency per workload and backend against the peers (log scale)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_key = {r.key: r for r in rows}
    groups = [("cold compile", "cold"), ("backend compile", "compile")]
    series: list[tuple[str, list[float]]] = []
    workloads = ["E", "Q30"]
    for label, prefix in groups:
        for backend in ("memory", "mongodb", "dynamodb", "firestore"):
            values = [by_key[k].value if (k := f"{prefix}.{w}.{backend}") in by_key else 0.0
                      for w in workloads]
            series.append((f"{label}: {backend}", values))
    for peer, label in (("sqlglot", "peer: sqlglot (pure Python)"),
                        ("sqlglotc", "peer: sqlglot (compiled, sqlglotc)"),
                        ("boto3", "peer: boto3 conditions + builder"),
                        ("pymongo", "peer: hand-built pymongo dict")):
        values = [by_key[k].value if (k := f"peer.{w}.{peer}") in by_key else 0.0
                  for w in workloads]
        series.append((label, values))
    baseline = by_key.get("baseline")

    fig, ax = plt.subplots(figsize=(12, 5.5), dpi=110)
    width = 0.8 / len(series)
    cmap = plt.get_cmap("tab20")
    for i, (label, values) in enumerate(series):
        xs = [w + (i - len(series) / 2) * width + width / 2 for w in range(len(workloads))]
        ax.bar(xs, values, width, label=label, color=cmap(i))
    if baseline is not None:
        ax.axhline(baseline.value, color="black", linestyle="--", linewidth=1,
                   label=f"baseline: Lark parse of E ({baseline.value:.0f} µs)")
    ax.set_yscale("log")
    ax.set_xticks(range(len(workloads)), [f"workload {w}" for w in workloads])
    ax.set_ylabel("median latency per query (µs, log scale)")
    ax.set_title("CrossQL: cold compile and backend compile per backend, against peers")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def machine() -> str:
    return f"Python {sys.version.split()[0]} on {platform.machine()} ({platform.system()})"


TEMPLATE = """\
# Performance

Generated by `python -m benchmarks --write-docs` (or `scripts/bench --write-docs`);
do not edit by hand. Machine: {machine}; {settings}.

![median latency per workload and backend, against the peers](performance.png)

## How it is measured

- Every in-process figure is a **median over {rounds} interleaved rounds**: each round
  runs one batch (a `time.perf_counter_ns` loop of about {batch_ms} ms, after a warm-up)
  of every case, the baseline among them, in an order that rotates from round to
  round. The **ratio** of a row is the median over rounds of (its time / the baseline's
  time in the same round), so noise from other work on the machine hits both.
- The **baseline** is a plain `Lark(parser="lalr").parse(E)` building a tree, with a
  parser built once from the same grammar file (`crossql/grammar/crossql.lark`)
  without transformer.
- **E** is the issue's query in the contract's clause order:
  `{e}`. The issue wrote `... order by age desc limit 10 select name, age`, which
  LANGUAGE.md's fixed clause order (select before order by) makes a syntax error.
  DynamoDB cannot order a Scan, so its E rows use E without `order by age desc`
  (compiling E itself for DynamoDB is a `CapabilityError`, by design).
  Firestore rows use `FirestoreOptions(native_or=True, native_not_equal=True)`
  (its default profile refuses `or`).
- **Q30** (`benchmarks/q30.crossql`): 30 predicates, 189 tokens, nested `and`/`or`/`not`,
  lists, six parameters, `exists`, dotted paths; bound with
  `{q30_params}`. It stays inside Firestore's limits so every backend compiles it.
- **corpus**: every valid query of `tests/corpus/queries.yaml`, cold-compiled in turn;
  the figure is per query, refusals (`CapabilityError`) included.
- **cold compile**: `crossql.compile(text, backend=...)` — parse, check, bind, backend
  compile; no cache. **backend compile**: the backend's compile from the checked, bound
  IR. **cached compile**: `PlanCache.plan(text, backend)` on a hit (what
  `Store.plan`/`fetch` do). **re-bind**: `PreparedQuery.plan(params)` of E with its
  literals as parameters, alternating between two sets of values (values checked, the
  plan template filled; see the notes below).
- **start-up**: fresh interpreters (`subprocess`, {startup_runs} runs each, interleaved,
  bytecode cached as after `pip install`): `python -c pass`, `import lark`, and
  `import crossql; crossql.compile(E, backend="mongodb")`. The crossql row is the median
  of (crossql - interpreter) over paired runs: **interpreter start-up subtracted**
  (the total is the next row).
- **memory**: `tracemalloc` over {memory_plans} `PlanCache` entries of distinct texts of E's
  size: key text + checked IR + one backend plan, per entry.
- **peers, sqlglot**: `sqlglot.transpile` of E and Q30 in SQL (postgres -> postgres) in
  two builds. *pure Python* (`peer.*.sqlglot`, the installed `sqlglot`, in this process)
  is what the **beats sqlglot** goals compare our cold compile of E against, as before.
  *compiled* (`peer.*.sqlglotc`: `sqlglotc` 30.30.0, mypyc extension modules inside the
  `sqlglot` package, with the `sqlglot` 30.30.0 it pins) cannot share a process with the
  pure build, so it runs in a subprocess with its own `--target` install, its ratio to
  that subprocess's own baseline; no target compares against it. Each row's note gives
  its ratio to our cold compile of the same workload (memory backend) in the same run.
- **engine, DuckDB**: `engine.duckdb.*` run the engine rows' queries over the same
  documents in an in-memory DuckDB table (a `bench` extra; skipped without it), for
  reference: no target.
- **runtime** (only with `--runtime` and the servers' environment: `MONGODB_URI`,
  `DYNAMODB_ENDPOINT`, `FIRESTORE_EMULATOR_HOST`): `store.fetch` against the same
  request issued with the driver alone (the plan's own arguments), interleaved, for
  a 100-row result and a 1-row point lookup over 1,000 documents; the ratio of these
  rows is CrossQL / driver. The servers are the test servers of `scripts/servers`
  (SecantusDB, DynamoDB Local, the Firestore emulator) on loopback.
  `scripts/bench --write-docs` measures them after the in-process rows ran without
  servers, one backend at a time with its server alone up (the servers' own CPU
  use would disturb the other figures).

## Results

{table}

## Targets

The issue states every target as a same-run ratio against the baseline, which it
measured at about 160 µs: a target of *t* µs (or ms) is checked as
*figure / baseline ≤ t / 160 µs* (the target column shows both), so that a loaded
or slower machine moves the figure and its baseline together. The median column
keeps the absolute figure of this run; the memory targets are bytes, checked as they
are.

{held} of {total} targets and goals hold in this run. Missed:

{missed}

{analysis}
"""
