"""How many examples each hypothesis test draws: the profile's share of its CI count.

Every property test states the count CI runs (``max_examples=examples(300)``);
the profile, chosen by ``CROSSQL_HYPOTHESIS_PROFILE`` (``ci`` or ``dev``; default
``ci`` when ``CI`` is set, ``dev`` otherwise), scales it. ``ci`` runs the full
counts; ``dev`` a tenth of them (at least 10), so a developer's ``scripts/test``
spends its time on the example tables and the servers rather than on generation.
"""

from __future__ import annotations

import os

PROFILES = {"ci": 1.0, "dev": 0.1}
PROFILE = os.environ.get("CROSSQL_HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
if PROFILE not in PROFILES:
    raise RuntimeError(f"CROSSQL_HYPOTHESIS_PROFILE={PROFILE!r}: expected {sorted(PROFILES)}")


def examples(ci_count: int, *, at_least: int = 10) -> int:
    """The number of examples to draw under the active profile for a test that
    draws ``ci_count`` on CI; never fewer than ``at_least`` (a test whose summary
    needs a rare outcome to show up says how many draws that takes)."""
    return max(min(ci_count, at_least), round(ci_count * PROFILES[PROFILE]))


def skip_unless_ran(ran: bool, what: str) -> None:
    """For a summary test that reads what a property test before it counted: skip when
    that test was deselected (``-k``, ``-m``), but fail under CI, where the whole suite
    runs and a summary with nothing to read means the property test did not run."""
    import pytest

    if ran:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{what} did not run (CI runs the whole suite)")
    pytest.skip(f"{what} did not run in this session")
