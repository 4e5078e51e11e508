"""Hard limits on a query, the same on every backend (backends add their own).

They keep every stage bounded in time and memory: a query past one of them is
refused with a located ``QueryError`` before anything recursive touches it.
"""

MAX_QUERY_LENGTH = 100_000
"""Characters in a query text."""

MAX_CONDITION_DEPTH = 64
"""Nesting of ``not``/``and``/``or`` in a ``where`` condition, and of its parentheses
(counted apart, as they are read: ``((c))`` is two deep though it builds no node)."""

MAX_LIST_ITEMS = 10_000
"""Items in one list literal or one list bound to a parameter."""

MAX_LIST_DEPTH = 8
"""Nesting of lists inside lists (``[[1, 2], [3]]`` has depth 2)."""

MAX_PARAMETERS = 1_000
"""Distinct parameters in one query."""

MAX_VALUE_ITEMS = 100_000
"""Items in one value bound to a parameter, counted over all its nested lists
(each list also keeps to ``MAX_LIST_ITEMS``)."""

MAX_STRING_LENGTH = 1_000_000
"""Characters in the strings of one value bound to a parameter, all together
(a string, or every string of a list): about 1 MB of text."""

MAX_PATTERN_LENGTH = 4_096
"""Characters in a ``matches`` pattern, literal or bound (``crossql/compiler/regex_safety.py``
also refuses shapes that backtrack catastrophically)."""

MAX_CLASS_SPAN = 1_000_000
"""Characters (below U+10000) covered by all the character classes of one pattern
together: ``re.compile`` builds a table per class, ~6 ms for ``[\\u0100-\\uffff]``."""
