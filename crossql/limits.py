"""Hard limits on a query, the same on every backend (backends add their own).

They keep every stage bounded in time and memory: a query past one of them is
refused with a located ``QueryError`` before anything recursive touches it.
"""

MAX_QUERY_LENGTH = 100_000
"""Characters in a query text."""

MAX_CONDITION_DEPTH = 64
"""Nesting of ``not``/``and``/``or``/parentheses in a ``where`` condition."""

MAX_LIST_ITEMS = 10_000
"""Items in one list literal or one list bound to a parameter."""

MAX_LIST_DEPTH = 8
"""Nesting of lists inside lists (``[[1, 2], [3]]`` has depth 2)."""

MAX_PARAMETERS = 1_000
"""Distinct parameters in one query."""
