"""One bounded memo for the hot paths (parser, compilers): a ``dict`` that starts again
empty when it is full.

Why sharing what a memo hands out is safe: every value a memo holds is immutable (IR
nodes and plan parts are frozen dataclasses, tuples, strings, or mappings no caller
mutates: plans copy before they hand a document to a driver), so two queries that get
the same object cannot see each other's changes. Why "start again empty" rather than
LRU: the keys are query shapes, a working set either fits (an application has tens to
hundreds of query shapes) or it does not, and a clear costs nothing per lookup, where
LRU bookkeeping costs on every hit.

Lookups are the ``dict``'s own (``memo.get(key)`` stays a C call); insertion goes
through ``put``, the one place the bound is kept.

>>> m: Memo[str, int] = Memo(2, "example")
>>> m.put("a", 1), m.put("b", 2), m.put("c", 3)
(1, 2, 3)
>>> sorted(m)
['c']
"""

from __future__ import annotations

from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")

MEMOS: list[Memo[object, object]] = []
"""Every memo created (tests clear them all with ``clear_all``)."""


class Memo(dict[K, V]):
    """A memo of at most ``limit`` entries; ``put`` past it starts again empty."""

    __slots__ = ("limit", "name")

    def __init__(self, limit: int, name: str) -> None:
        super().__init__()
        if limit < 1:
            raise ValueError("a memo holds at least one entry")
        self.limit = limit
        self.name = name
        MEMOS.append(self)  # type: ignore[arg-type]

    def put(self, key: K, value: V) -> V:
        """Remember ``value`` for ``key`` and return it (clearing first when full)."""
        if len(self) >= self.limit:
            self.clear()
        self[key] = value
        return value

    def __repr__(self) -> str:
        return f"Memo({self.name!r}, {len(self)}/{self.limit})"


def clear_all() -> None:
    """Empty every memo (a test that measures a cold compile starts here)."""
    for memo in MEMOS:
        memo.clear()
