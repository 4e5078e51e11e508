"""The memory backend's compiler: the plan is the bound query itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crossql import ir
from crossql.backends.base import CONSTRUCTS, BackendSpec, Capabilities, Plan
from crossql.grammar.formatter import format_query

CAPABILITIES = Capabilities(
    backend="memory",
    support=dict.fromkeys(CONSTRUCTS, "native"),
    notes={"matches": "Python `re` syntax, searched anywhere in the string"},
)


@dataclass(frozen=True, slots=True)
class MemoryPlan(Plan):
    """Evaluate a bound query with the reference evaluator over one collection."""

    query: ir.Query
    backend = "memory"

    @property
    def collection(self) -> str:
        """The collection the plan reads."""
        return self.query.collection

    def to_dict(self) -> dict[str, Any]:
        return {
            "backend": "memory",
            "collection": self.query.collection,
            "text": format_query(self.query),
            "query": ir.to_dict(self.query),
        }

    def explain(self) -> str:
        return (
            f"memory: scan collection `{self.query.collection}` and evaluate\n"
            f"  {format_query(self.query)}\n"
            "with the reference evaluator (exact LANGUAGE.md semantics, no index)."
        )

    def to_python(self) -> str:
        return f"crossql.evaluate({format_query(self.query)!r}, documents)"

    def summary(self) -> str:
        return "reference evaluator over the collection"


def compile_memory(query: ir.Query, *, schema: Any = None, options: Any = None) -> MemoryPlan:
    """Compile a bound query for the memory engine (it supports every construct)."""
    return MemoryPlan(query)


BACKEND = BackendSpec(name="memory", capabilities=CAPABILITIES, compile=compile_memory)
