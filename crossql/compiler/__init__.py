"""Backend-neutral compiler stages: checks, binding, output shape, normal forms."""

from crossql.compiler.checks import CheckedQuery, Slot, bind, check_query

__all__ = ["CheckedQuery", "Slot", "bind", "check_query"]
