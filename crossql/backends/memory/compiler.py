"""The memory backend's compiler: the plan is the bound query itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crossql import ir
from crossql._frozen import fast_init
from crossql.backends.base import CONSTRUCTS, VALUE_KINDS, BackendSpec, Capabilities, Plan
from crossql.grammar.formatter import format_query, format_statement

CAPABILITIES = Capabilities(
    backend="memory",
    support=dict.fromkeys(CONSTRUCTS, "native"),
    notes={"matches": "Python `re` syntax, searched anywhere in the string"},
    values=dict.fromkeys(VALUE_KINDS, "native"),
)


@fast_init
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


@fast_init
@dataclass(frozen=True, slots=True)
class MemoryWritePlan(Plan):
    """Apply a bound ``update``/``delete`` with the reference semantics of writes
    (``crossql.semantics.writes``); atomic: a failure leaves nothing written."""

    statement: ir.Update | ir.Delete
    backend = "memory"

    @property
    def collection(self) -> str:
        """The collection the plan writes."""
        return self.statement.collection

    def to_dict(self) -> dict[str, Any]:
        return {
            "backend": "memory",
            "collection": self.statement.collection,
            "text": format_statement(self.statement),
            "statement": ir.to_dict(self.statement),
            "atomic": True,
        }

    def explain(self) -> str:
        return (
            f"memory: scan collection `{self.statement.collection}` and apply\n"
            f"  {format_statement(self.statement)}\n"
            "with the reference semantics of writes, in collection order; atomic (every "
            "document is computed before any is stored)."
        )

    def to_python(self) -> str:
        text = format_statement(self.statement)
        return f"crossql.runtime.writes.apply(crossql.parse({text!r}), documents)"

    def summary(self) -> str:
        return "reference write over the collection (atomic)"


def compile_memory_write(statement: ir.Update | ir.Delete, *, schema: Any = None,
                         options: Any = None) -> MemoryWritePlan:
    """Compile a bound write for the memory engine."""
    return MemoryWritePlan(statement)


BACKEND = BackendSpec(name="memory", capabilities=CAPABILITIES, compile=compile_memory,
                      compile_write=compile_memory_write, templates=False)
