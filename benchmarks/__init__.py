"""CrossQL's benchmark suite (issue 7): ``python -m benchmarks`` or ``scripts/bench``.

- ``suite``: the rows (front end, backend compile, plan cache, binding, start-up,
  memory, peers), timed interleaved with the baseline; ``runtime``: store vs raw
  driver on real servers (``--runtime``);
- ``targets``: the issue's targets, checked by ``--check`` (the benchmark never
  asserts); ``report``: the rich table, ``docs/performance.md`` and its chart.
"""

from benchmarks.suite import Row, Settings, run
from benchmarks.targets import Verdict, check

__all__ = ["Row", "Settings", "Verdict", "check", "run"]
