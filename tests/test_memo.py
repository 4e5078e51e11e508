"""The bounded memo: bounded, shared values immutable, lookups the dict's own."""

from __future__ import annotations

import pytest

from crossql._memo import MEMOS, Memo, clear_all


def test_put_past_the_limit_starts_again_empty() -> None:
    memo: Memo[int, int] = Memo(3, "test")
    for n in range(10):
        memo.put(n, n * n)
        assert len(memo) <= 3
    assert memo == {9: 81}
    assert memo.get(9) == 81 and memo.get(1) is None


def test_every_memo_is_registered_and_clear_all_empties_it() -> None:
    memo: Memo[str, str] = Memo(8, "registered")
    memo.put("a", "b")
    assert any(m is memo for m in MEMOS)
    clear_all()
    assert len(memo) == 0


def test_a_memo_of_nothing_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        Memo(0, "empty")


def test_repr_names_the_memo() -> None:
    assert repr(Memo(4, "named")) == "Memo('named', 0/4)"
