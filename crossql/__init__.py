"""CrossQL: one small query language compiled for MongoDB, DynamoDB and Firestore.

>>> import crossql
>>> crossql.evaluate("from users where age >= 18 select name", [{"name": "Ada", "age": 36}])
[{'name': 'Ada'}]
"""

from typing import TYPE_CHECKING, Any

from crossql._version import __version__
from crossql.api import compile, connect, evaluate, format, parse
from crossql.backends import Plan
from crossql.errors import (
    BackendError,
    CapabilityError,
    ConfigError,
    DocumentError,
    QueryError,
    QuerySemanticError,
    QuerySyntaxError,
    TransactionConflict,
)
from crossql.portability import Verdict, check
from crossql.runtime.store import Collection, Store

if TYPE_CHECKING:
    from crossql.backends.firestore.options import FirestoreOptions
    from crossql.builder import (
        Condition,
        DeleteBuilder,
        Field,
        QueryBuilder,
        UpdateBuilder,
        and_,
        delete_from,
        field,
        not_,
        or_,
        param,
        query,
        update,
    )
    from crossql.config import NoSQLConfig
    from crossql.queries import load_queries
    from crossql.runtime.sync import connect_sync
    from crossql.schema import Schema


# imported on first use: `import crossql` and compiling do not need pydantic (~40 ms to
# import), configuration does
_LAZY = {
    "FirestoreOptions": "crossql.backends.firestore.options",
    "NoSQLConfig": "crossql.config",
    "connect_sync": "crossql.runtime.sync",  # threads and a loop: only for scripts
    "load_queries": "crossql.queries",  # query files (docs/testing.md)
    "Schema": "crossql.schema",  # declared collections (docs/schemas.md): pydantic
}
# the query builder too (docs/builder.md): its classes cost as much to create as the IR's
_LAZY.update(dict.fromkeys(
    ["Condition", "DeleteBuilder", "Field", "QueryBuilder", "UpdateBuilder", "and_",
     "delete_from", "field", "not_", "or_", "param", "query", "update"], "crossql.builder"))


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'crossql' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
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
