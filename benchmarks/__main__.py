"""``python -m benchmarks [--quick] [--runtime] [--check] [--write-docs] [--json FILE]``.

- no flag: run every benchmark and print the table (nothing is asserted);
- ``--quick``: a few rounds only: a smoke test, not figures to quote;
- ``--runtime``: add store-vs-driver rows on the servers named by the environment
  (``MONGODB_URI``; see benchmarks/runtime.py); skipped, with a note, otherwise;
  ``--runtime-only``: just those rows (the servers' own CPU use would disturb
  the in-process figures, so the docs are made from separate runs, see below);
- ``--check``: compare the run's figures with the targets; exit 1 if one is missed;
- ``--results FILE`` (repeatable): use saved ``--json`` runs instead of running,
  e.g. ``--results inproc.json --results runtime.json --write-docs --check``;
- ``--write-docs``: rewrite docs/performance.md and docs/performance.png.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from benchmarks import report
from benchmarks.suite import Row, Settings, run
from benchmarks.targets import check


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="few rounds (smoke test)")
    parser.add_argument("--runtime", action="store_true",
                        help="store vs raw driver on the servers in the environment")
    parser.add_argument("--runtime-only", action="store_true",
                        help="only the store-vs-driver rows")
    parser.add_argument("--check", action="store_true",
                        help="exit 1 when a target is missed")
    parser.add_argument("--results", type=Path, action="append",
                        help="a saved --json run to report instead of running (repeatable)")
    parser.add_argument("--write-docs", action="store_true",
                        help="rewrite docs/performance.md and docs/performance.png")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON")
    args = parser.parse_args(argv)

    settings = Settings.quick() if args.quick else Settings()
    rows: list[Row]
    if args.results:
        rows = [row for path in args.results for row in report.from_json(path.read_text("utf-8"))]
    elif args.runtime_only:
        from benchmarks.runtime import runtime_rows

        rows = runtime_rows(settings)
    else:
        rows = run(settings, runtime=args.runtime)
    verdicts = check(rows)
    report.print_table(rows, verdicts)
    if args.json is not None:
        args.json.write_text(report.to_json(rows), "utf-8")
    if args.write_docs:
        from benchmarks.docs import write_docs

        write_docs(rows, verdicts, settings)
    if args.check:
        missed = [v for v in verdicts if not v.holds]
        for v in verdicts:
            shown = "no figure" if v.figure is None else f"{v.figure:.4g}"
            print(f"{'ok    ' if v.holds else 'MISSED'} {v.target.text}: {shown}")
        print(f"{len(verdicts) - len(missed)} of {len(verdicts)} targets hold")
        return 1 if missed else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
