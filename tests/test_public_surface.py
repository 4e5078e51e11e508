"""The public surface is small and stable: ``crossql.__all__`` is the list below, sorted,
and every name in it resolves (the lazily imported pydantic models included)."""

from __future__ import annotations

import crossql

PUBLIC = [
    "BackendError",
    "CapabilityError",
    "Collection",
    "Condition",
    "ConfigError",
    "DeleteBuilder",
    "DocumentError",
    "Field",
    "FirestoreOptions",
    "NoSQLConfig",
    "Plan",
    "QueryBuilder",
    "QueryError",
    "QuerySemanticError",
    "QuerySyntaxError",
    "Schema",
    "Store",
    "TransactionConflict",
    "UpdateBuilder",
    "Verdict",
    "__version__",
    "and_",
    "check",
    "compile",
    "connect",
    "connect_sync",
    "delete_from",
    "evaluate",
    "field",
    "format",
    "load_queries",
    "not_",
    "or_",
    "param",
    "parse",
    "query",
    "update",
]


def test_all_is_the_public_surface_sorted() -> None:
    # a change here is a change of the public API: say so in the changelog and docs
    assert crossql.__all__ == PUBLIC
    assert crossql.__all__ == sorted(crossql.__all__)


def test_every_public_name_resolves() -> None:
    for name in crossql.__all__:
        assert getattr(crossql, name) is not None, name


def test_errors_share_one_root() -> None:
    for name in ("CapabilityError", "QuerySemanticError", "QuerySyntaxError"):
        assert issubclass(getattr(crossql, name), crossql.QueryError)
