"""What the memory backend does with writes and transactions, as data (the support
matrix's write rows). The writes themselves are the reference semantics
(crossql/semantics/writes.py), run by ``MemoryStore.execute_plan``."""

from __future__ import annotations

from crossql.backends.base import WRITE_CONSTRUCTS, Capabilities

WRITE_CAPABILITIES = Capabilities(
    backend="memory",
    constructs=WRITE_CONSTRUCTS,
    support=dict.fromkeys(WRITE_CONSTRUCTS, "native"),
    notes={
        "limit (writes)": "the first `n` matching documents in insertion order",
        "transaction": "private copies of the collections touched; the commit conflicts "
                       "when one of them changed since (optimistic, serializable per "
                       "collection)",
    },
)
