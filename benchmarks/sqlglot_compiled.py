"""The sqlglot peer rows with sqlglot's compiled build (``sqlglotc``) beside pure Python.

``sqlglotc`` is not a separate package to import: its wheel holds mypyc-compiled
extension modules *inside* the ``sqlglot`` package (``sqlglot/parser.*.so`` beside
``sqlglot/parser.py``; an extension module wins over the source of the same name), and
it pins one ``sqlglot`` release (``sqlglotc 30.30.0`` requires ``sqlglot==30.30.0``).
Installed next to the pure-Python ``sqlglot`` it would replace it for every process,
so it is installed on demand into its own ``--target`` directory (outside the
repository, cached) and measured in a subprocess with that directory first on its
path: the baseline (Lark parse of E), our cold compile of E and Q30 (memory backend)
and ``sqlglot.transpile`` of E and Q30, interleaved in that process. The pure-Python
rows (``peer.*.sqlglot``, measured in the main process) keep their meaning: the
``beats sqlglot`` goals compare against them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from benchmarks import workloads
from benchmarks.suite import Row, Settings

VERSION = "30.30.0"
"""The ``sqlglotc`` release, and the ``sqlglot`` release it requires."""

_CHILD = """
import json, sys
import sqlglot.parser
from benchmarks import workloads
from benchmarks.suite import _baseline_parser
from benchmarks.timing import interleaved
import crossql
assert sqlglot.parser.__file__.endswith(".so"), sqlglot.parser.__file__
lark = _baseline_parser()
cases = {
    "baseline": lambda: lark.parse(workloads.E),
    "cold.E": lambda: crossql.compile(workloads.E, backend="memory"),
    "cold.Q30": lambda: crossql.compile(workloads.Q30, backend="memory",
                                        params=workloads.Q30_PARAMS),
    "E": workloads.sqlglot_e,
    "Q30": workloads.sqlglot_q30,
}
rounds, batch_ms = int(sys.argv[1]), float(sys.argv[2])
out = {k: [t.median_ns / 1000, t.ratio]
       for k, t in interleaved(cases, "baseline", rounds=rounds, batch_ms=batch_ms).items()}
print(json.dumps(out))
"""


def _target(install: bool) -> Path | None:
    """The directory holding ``sqlglot`` + ``sqlglotc`` (installed on first use, unless
    ``install`` is false: a quick run, such as the test suite's, never reaches PyPI)."""
    base = Path(os.environ.get("CROSSQL_BENCH_CACHE", Path.home() / ".cache" / "crossql-bench"))
    target = base / f"sqlglotc-{VERSION}"
    if (target / f"sqlglotc-{VERSION}.dist-info").is_dir():
        return target
    if not install:
        return None
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                           "--target", str(target), f"sqlglot=={VERSION}",
                           f"sqlglotc=={VERSION}"], capture_output=True, text=True)
    if done.returncode != 0:
        print(f"peer sqlglotc skipped: pip install failed: {done.stderr.strip()[-300:]}",
              file=sys.stderr)
        return None
    return target


def sqlglot_rows(settings: Settings, rows: list[Row]) -> list[Row]:
    """The compiled-build rows; the pure-Python rows of ``rows`` gain, in their note,
    their ratio to our cold compile measured in the same run (returned replaced)."""
    by_key = {r.key: r for r in rows}
    out: list[Row] = []
    for w in ("E", "Q30"):
        pure, ours = by_key.get(f"peer.{w}.sqlglot"), by_key.get(f"cold.{w}.memory")
        if pure is not None and ours is not None:
            out.append(replace(pure, note=f"{pure.note}; pure Python; "
                               f"{pure.value / ours.value:.2f}x our cold compile (memory)"))
    target = _target(install=settings != Settings.quick())
    if target is None:
        return out
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(target), str(workloads.ROOT),
                                         env.get("PYTHONPATH", "")])
    done = subprocess.run([sys.executable, "-c", _CHILD, str(settings.rounds),
                           str(settings.batch_ms)], env=env, cwd=workloads.ROOT,
                          capture_output=True, text=True)
    if done.returncode != 0:
        print(f"peer sqlglotc skipped: {done.stderr.strip()[-300:]}", file=sys.stderr)
        return out
    figures = json.loads(done.stdout)
    for w in ("E", "Q30"):
        us, ratio = figures[w]
        ours = figures[f"cold.{w}"][0]
        out.append(Row(f"peer.{w}.sqlglotc", "peer", w, "sqlglotc", us, "µs", ratio,
                       f"sqlglot.transpile (postgres -> postgres), compiled (sqlglotc "
                       f"{VERSION}, subprocess); {us / ours:.2f}x our cold compile "
                       f"(memory) in that process"))
    return out
