"""``--write-docs``: docs/performance.md (table, method, targets) and the chart."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks import report, workloads
from benchmarks.suite import Row, Settings
from benchmarks.targets import Verdict

ANALYSIS = Path(__file__).with_name("performance-notes.md")
"""Hand-written notes appended to the generated page (what changed, why misses miss)."""


def write_docs(rows: list[Row], verdicts: list[Verdict], settings: Settings) -> None:
    report.DOCS.mkdir(exist_ok=True)
    report.chart(rows, report.DOCS / "performance.png")
    analysis = ANALYSIS.read_text("utf-8") if ANALYSIS.exists() else ""
    context = {
        "machine": report.machine(),
        "settings": ("quick run (`--quick`): smoke-test figures" if settings.rounds < 10
                     else f"{settings.rounds} rounds"),
        "rounds": settings.rounds,
        "batch_ms": settings.batch_ms,
        "startup_runs": settings.startup_runs,
        "memory_plans": settings.memory_plans,
        "e": workloads.E,
        "q30_params": json.dumps(workloads.Q30_PARAMS),
        "analysis": analysis,
    }
    text = report.markdown(rows, verdicts, context)
    (report.DOCS / "performance.md").write_text(text, "utf-8")
    print(f"wrote {report.DOCS / 'performance.md'} and {report.DOCS / 'performance.png'}")
