"""The time budgets of the tests scale with the load measured in the same run
(``tests/time_budget.py``): a loaded machine does not fail them, slow code still does."""

from __future__ import annotations

import pytest

from tests import time_budget
from tests.time_budget import assert_fast, load, within


def test_a_busy_machine_gets_a_proportionally_larger_budget(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # the regex-safety check once took 0.78 s against an absolute 0.5 s on a loaded 2-core box
    monkeypatch.setattr(time_budget, "load", lambda: 2.0)
    assert within(0.78, 0.5)
    assert not within(1.2, 0.5)  # twice as busy does not excuse 2.4 times slower


def test_an_idle_machine_keeps_the_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time_budget, "load", lambda: 1.0)
    assert within(0.49, 0.5)
    assert not within(0.51, 0.5)
    with pytest.raises(AssertionError, match="budget"):
        assert_fast(lambda: sum(range(2_000_000)), 1e-6, "a slow call")


def test_the_load_is_measured_and_never_below_one() -> None:
    assert load() >= 1.0
