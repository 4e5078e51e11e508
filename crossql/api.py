"""The public functions: parse, compile, evaluate, format, connect."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from crossql import ir
from crossql.backends import Plan, get_backend
from crossql.compiler.checks import bind, check_query
from crossql.config import NoSQLConfig, load_config
from crossql.errors import QueryError
from crossql.grammar import parse_query
from crossql.grammar.formatter import format_query
from crossql.runtime import reference
from crossql.runtime.store import Store


def parse(text: str) -> ir.Query:
    """Parse query text into IR; raises ``QuerySyntaxError``."""
    return parse_query(text)


def _query(query: str | ir.Query) -> ir.Query:
    if isinstance(query, str):
        return parse_query(query)
    if isinstance(query, ir.Query):
        return query
    raise TypeError(f"a query is text or crossql.ir.Query, not {type(query).__name__}")


def compile(
    query: str | ir.Query,
    backend: str = "memory",
    params: Mapping[str, Any] | None = None,
    schema: Any = None,
    options: Any = None,
) -> Plan:
    """Parse, check, bind every parameter and compile for ``backend``.

    Raises ``QuerySyntaxError``, ``QuerySemanticError`` (including an unbound or
    unused parameter) or ``CapabilityError``; returns an immutable ``Plan``.
    """
    spec = get_backend(backend)
    q = _query(query)
    bound = bind(check_query(q), params)
    try:
        return spec.compile(bound, schema=schema, options=options)
    except QueryError as err:
        raise err.with_source(q.source) from None


def evaluate(
    query: str | ir.Query,
    documents: Iterable[Mapping[str, Any]],
    params: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The rows of ``query`` over ``documents`` under the reference semantics."""
    q = _query(query)
    return reference.run(bind(check_query(q), params), documents)


def format(query: str | ir.Query) -> str:
    """The canonical text of a query (``parse(format(q)) == q``)."""
    return format_query(_query(query))


def connect(config: NoSQLConfig | Mapping[str, Any] | str | Path | None = None, *,
            client: Any = None) -> Store:
    """A store for the configured driver (``{"driver": "memory"}`` by default).

    ``client`` hands over an existing driver object instead of opening a new
    connection (for MongoDB: a PyMongo async or Motor client, or a database; for
    DynamoDB: an aioboto3 low-level ``dynamodb`` client; for
    Firestore: a ``google.cloud.firestore.AsyncClient``).
    """
    cfg = load_config(config)
    if cfg.driver == "memory":
        from crossql.backends.memory.store import MemoryStore

        return MemoryStore(plan_cache_size=cfg.memory.plan_cache_size)
    if cfg.driver == "mongodb":
        from crossql.backends.mongodb.store import MongoStore

        assert cfg.mongodb is not None
        if client is not None:
            store = MongoStore.from_client(client, cfg.mongodb.database)
        else:
            store = MongoStore(cfg.mongodb, plan_cache_size=cfg.mongodb.plan_cache_size)
        return store
    if cfg.driver == "firestore":
        from crossql.backends.firestore.store import FirestoreStore

        assert cfg.firestore is not None
        return FirestoreStore(cfg.firestore, client=client)
    if cfg.driver == "dynamodb":
        from crossql.backends.dynamodb.store import DynamoStore

        assert cfg.dynamodb is not None
        return DynamoStore(cfg.dynamodb, client=client,
                           plan_cache_size=cfg.dynamodb.plan_cache_size)
    raise AssertionError(f"unhandled driver {cfg.driver}")  # pragma: no cover
