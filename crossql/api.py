"""The public functions: parse, compile, evaluate, format, connect."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from crossql import ir
from crossql.backends import Plan, get_backend
from crossql.backends.base import resolve
from crossql.compiler.checks import bind, check_query
from crossql.compiler.statement import compile_statement
from crossql.grammar import parse_query, parse_statement
from crossql.grammar.formatter import format_statement
from crossql.semantics import reference

if TYPE_CHECKING:
    from pathlib import Path

    from crossql.builder import DeleteBuilder, QueryBuilder, UpdateBuilder
    from crossql.config import NoSQLConfig
    from crossql.runtime.store import Store


def parse(text: str) -> ir.Statement:
    """Parse text into IR: an ``ir.Query`` for a read (``from ...``), an ``ir.Update`` or
    ``ir.Delete`` for a write (``update ...``, ``delete from ...``); raises
    ``QuerySyntaxError``."""
    return parse_statement(text)


def _query(query: str | ir.Query) -> ir.Query:
    if isinstance(query, str):
        return parse_query(query)
    if isinstance(query, ir.Query):
        return query
    raise TypeError(f"a query is text or crossql.ir.Query, not {type(query).__name__}")


def compile(
    query: str | ir.Statement | QueryBuilder | UpdateBuilder | DeleteBuilder,
    backend: str = "memory",
    params: Mapping[str, Any] | None = None,
    schema: Any = None,
    options: Any = None,
) -> Plan:
    """Parse, check, bind every parameter and compile for ``backend``.

    A read compiles to the backend's query plan, a write (``update``/``delete``) to
    its write plan (``store.execute`` runs it); a backend that compiles no writes
    refuses one with ``CapabilityError``. Raises ``QuerySyntaxError``,
    ``QuerySemanticError`` (including an unbound or unused parameter) or
    ``CapabilityError``; returns an immutable ``Plan``.

    ``schema`` declares the collections (docs/schemas.md): a ``crossql.Schema``, or a
    mapping of collection name to a pydantic model class, a declaration dict or a
    ``CollectionSchema``.

    A builder (``crossql.query(...)``, docs/builder.md) compiles as its canonical
    text, with its values merged into ``params``.
    """
    if not isinstance(query, str | ir.Query | ir.Update | ir.Delete):
        query, params = _builder_text(query, params)
    if schema is not None:
        schema = _declared(schema)
    return compile_statement(query, backend, params, schema=schema, options=options)


def _declared(schema: Any) -> Any:
    # imported here: a declaration needs pydantic, compiling without one does not
    from crossql.schema import as_schema

    return as_schema(schema)


def _builder_text(query: QueryBuilder | UpdateBuilder | DeleteBuilder,
                  params: Mapping[str, Any] | None) -> tuple[str, Mapping[str, Any] | None]:
    # imported here: a builder exists only once crossql.builder is imported
    from crossql.builder import as_text

    return as_text(query, params)


def evaluate(
    query: str | ir.Query | QueryBuilder,
    documents: Iterable[Mapping[str, Any]],
    params: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The rows of ``query`` (text, IR or a ``crossql.query(...)`` builder) over
    ``documents`` under the reference semantics.

    A document nested deeper than Python's recursion allows (thousands of levels;
    MongoDB stores at most 100) raises ``ValueError`` naming it."""
    if not isinstance(query, str | ir.Query):
        query, params = _builder_text(query, params)
    bound = bind(check_query(_query(query)), params)
    docs = documents if isinstance(documents, list | tuple) else list(documents)
    # imported here: `import crossql` (start-up, a target) does not pay for the engine
    from crossql.semantics import compiled

    try:
        return compiled.run(bound, docs)
    except RecursionError:
        # found only on failure: measuring every document first would slow every call
        limit = reference.MAX_DOCUMENT_DEPTH
        for i, doc in enumerate(docs):
            if reference.document_depth(doc) > limit:
                raise ValueError(f"document {i} nests maps and lists deeper than Python's "
                                 "recursion allows; CrossQL evaluates documents nested at "
                                 f"most {limit} levels (MongoDB's limit)") from None
        raise


def format(query: str | ir.Statement | QueryBuilder | UpdateBuilder | DeleteBuilder) -> str:
    """The canonical text of a query or a write (``parse(format(q)) == q``); of a
    builder, with its values as parameters ``:p0``, ``:p1``, ..."""
    if not isinstance(query, str | ir.Query | ir.Update | ir.Delete):
        query = _builder_text(query, None)[0]
    return format_statement(parse_statement(query) if isinstance(query, str) else query)


def connect(config: NoSQLConfig | Mapping[str, Any] | str | Path | None = None, *,
            client: Any = None, schema: Any = None) -> Store:
    """The primary store of a configuration, with every named backend reachable from it.

    ``config`` is a ``NoSQLConfig``, a dict, a path to a YAML file, or None (the
    environment: ``CROSSQL_CONFIG``, ``MONGODB_URI``, ... — see
    ``crossql.config.ENVIRONMENT``). ``store.backend("analytics")`` (or
    ``store["analytics"]``) is a named backend's store; ``default`` is the
    top-level driver's. ``async with store:`` opens and closes them all.

    ``client`` hands an existing driver object to the primary store instead of
    opening a new connection (MongoDB: a PyMongo async or Motor client, or a
    database; DynamoDB: an aioboto3 low-level ``dynamodb`` client; Firestore: a
    ``google.cloud.firestore.AsyncClient``).

    ``schema`` declares collections for every backend (docs/schemas.md): a
    ``crossql.Schema`` or a mapping of collection name to a pydantic model class,
    declaration dict or ``CollectionSchema`` — over the configuration's
    ``collections:`` (a collection declared in both is declared as ``schema`` says).
    """
    from crossql.config import load_config

    cfg = load_config(config)
    primary = cfg.primary_name
    given = None if schema is None else _declared(schema)
    stores: dict[str, Store] = {}
    for name, driver in [("default", cfg.driver), *((b.name, b.driver) for b in cfg.backends)]:
        block = cfg.block(None if name == "default" else name)
        store = stores[name] = _open_store(driver, block, client if name == primary else None)
        declared = cfg.declared_schema(name)
        if declared is not None or given is not None:
            store.use_schema(given if declared is None else declared.merged(given))
    store = stores[primary]
    store.join(stores)
    if cfg.cursor_secret is not None:
        for each in stores.values():
            each.cursor_secret = cfg.cursor_secret.get_secret_value()
    return store


def _open_store(driver: str, block: Any, client: Any) -> Store:
    config = get_backend(driver).config
    assert config is not None, driver  # the configuration's drivers are those with a block
    store: Store = resolve(config.open_store)(block, client)
    return store
