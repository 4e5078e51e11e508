"""How MongoDB's compiler is built: its memos are the one bounded ``Memo``, and its
condition compiler is a closed-world visitor (a node without a handler fails at class
definition, naming the backend and the node)."""

from __future__ import annotations

import crossql
from crossql._memo import MEMOS, Memo
from crossql.backends.mongodb import compiler, filters


def test_the_memos_are_bounded_memos_and_stay_bounded() -> None:
    memos = [filters._DOTTED, filters._PREFIXES, compiler._PROJECTIONS, compiler._SORTS]
    for memo in memos:
        assert isinstance(memo, Memo) and any(m is memo for m in MEMOS)
        assert memo.name.startswith("mongodb ")
    for n in range(filters._MEMO_SIZE + 10):
        crossql.compile(f"from c where a.b{n}.c == 1 select x{n % 50} order by y{n}",
                        backend="mongodb")
    for memo in memos:
        assert 0 < len(memo) <= memo.limit, memo
    # after the memos started again, names and prefixes are still right
    plan = crossql.compile("from c where a.b0.c == 1", backend="mongodb")
    assert plan.filter == {"$and": [{"a": {"$not": {"$type": "array"}}},
                                    {"a.b0": {"$not": {"$type": "array"}}},
                                    {"a.b0.c": {"$eq": 1, "$not": {"$type": "array"}}}]}
