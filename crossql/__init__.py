"""CrossQL: one small query language compiled for MongoDB, DynamoDB and Firestore.

>>> import crossql
>>> crossql.evaluate("from users where age >= 18 select name", [{"name": "Ada", "age": 36}])
[{'name': 'Ada'}]
"""

from crossql.api import compile, connect, evaluate, format, parse
from crossql.backends import Plan
from crossql.backends.firestore.options import FirestoreOptions
from crossql.config import NoSQLConfig
from crossql.errors import (
    BackendError,
    CapabilityError,
    ConfigError,
    QueryError,
    QuerySemanticError,
    QuerySyntaxError,
)
from crossql.runtime.store import Collection, Store

__version__ = "0.1.0"

__all__ = [
    "BackendError",
    "CapabilityError",
    "Collection",
    "ConfigError",
    "FirestoreOptions",
    "NoSQLConfig",
    "Plan",
    "QueryError",
    "QuerySemanticError",
    "QuerySyntaxError",
    "Store",
    "__version__",
    "compile",
    "connect",
    "evaluate",
    "format",
    "parse",
]
