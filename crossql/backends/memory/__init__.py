"""The embedded engine: plans run through the reference evaluator, no server."""

from crossql.backends.memory.compiler import BACKEND, MemoryPlan

__all__ = ["BACKEND", "MemoryPlan"]
