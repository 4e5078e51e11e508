"""Query files: an application's named queries and writes in ``*.crossql`` files.

::

    -- backends: mongodb, dynamodb, firestore
    -- (a comment before the first query: the file's header)

    -- name: user_orders
    -- The orders of one user, newest first.
    -- example: {"user": "u1"}
    from orders where user == :user order by created desc

    -- name: cancel_order
    update orders set status = "cancelled" where _id == :id

``crossql.load_queries(path)`` reads such a file, parses and checks every query
at once (an error is rendered against the file: its path, the line in the file
and the query's name), and gives an object whose attributes are the queries::

    queries = crossql.load_queries("queries.crossql")
    rows = await queries.user_orders.fetch(store, user="u1")

A query's header is the comment lines right after its ``-- name:`` line: the
description, ``-- example: {JSON object}`` (parameter values the plan snapshots
and ``crossql check``/``explain``/``compile`` use), ``-- backends: a, b`` (where
the query must run: ``crossql check`` exits 1 when one of them refuses it; the
file's header may say it for every query). docs/testing.md has the details.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crossql import ir
from crossql.backends import BACKEND_NAMES, Plan
from crossql.compiler.checks import bind_values, check_query
from crossql.compiler.statement import compile_statement
from crossql.compiler.writes import bind_write, check_write
from crossql.errors import QueryError, QuerySyntaxError
from crossql.grammar import parse_statement

if TYPE_CHECKING:
    from crossql.runtime.paging import Page
    from crossql.runtime.store import Store
    from crossql.semantics.writes import WriteResult

    Document = dict[str, Any]

__all__ = ["FILE_SUFFIX", "NamedQuery", "QueryFile", "load_queries", "parse_query_file"]

FILE_SUFFIX = ".crossql"
"""The suffix of a query file (``crossql check FILE.crossql``)."""

_NAME = re.compile(r"--\s*name\s*:(.*)$")
_DIRECTIVE = re.compile(r"--\s*(example|backends)\s*:(.*)$")
_CODE = "syntax.query-file"


def _error(message: str, source: str, start: int, end: int, origin: str,
           hint: str | None = None, context: str = "") -> QueryError:
    """A problem with the file itself (not with a query's text), located in it."""
    err = QuerySyntaxError(message, code=_CODE, span=(start, end), source=source, hint=hint)
    return err.in_file(source, 0, origin, context)


@dataclass(frozen=True, slots=True, eq=False)
class NamedQuery:
    """One named query (or write) of a query file: parsed and checked when the file was
    loaded; ``fetch``/``stream``/``count`` run a read on a store, ``execute`` a write.

    Its errors (a parameter value of the wrong kind, a backend's refusal) are rendered
    against the file, as the load-time ones are."""

    name: str
    """The name after ``-- name:``."""
    text: str
    """The query's text, as the file holds it."""
    description: str
    """The comment lines of its header, without ``--`` (directives left out)."""
    statement: ir.Statement
    """The parsed statement (``ir.Query``, ``ir.Update`` or ``ir.Delete``)."""
    path: str
    """The file it came from, as ``load_queries`` was given it."""
    line: int
    """The line of the file where the query's text starts."""
    example: Mapping[str, Any] | None = None
    """``-- example:`` values for its parameters (None when it gives none)."""
    backends: tuple[str, ...] | None = None
    """``-- backends:`` of the query, or of the file's header: where it must run (None:
    not said, so every backend)."""
    offset: int = field(default=0, repr=False)
    """Where ``text`` starts in ``source``."""
    source: str = field(default="", repr=False)
    """The whole file's text (errors are rendered against it)."""

    @property
    def is_write(self) -> bool:
        """True for an ``update`` or ``delete``."""
        return isinstance(self.statement, ir.Update | ir.Delete)

    @property
    def param_names(self) -> frozenset[str]:
        """The names of its parameters."""
        statement = self.statement
        if isinstance(statement, ir.Update | ir.Delete):
            return check_write(statement).param_names
        return check_query(statement).param_names

    @property
    def id(self) -> str:
        """``path:name``, as the command line takes it."""
        return f"{self.path}:{self.name}"

    def located(self, err: QueryError) -> QueryError:
        """``err`` (about this query's text) rendered against the file."""
        if err.source not in (None, self.text) or err.origin != "query":
            return err
        return err.in_file(self.source, self.offset, self.path, f" (query `{self.name}`)")

    def plan(self, backend: str = "memory", /, *, schema: Any = None, options: Any = None,
             **params: Any) -> Plan:
        """The plan for ``backend`` with these parameter values (the example's when none
        are given); a refusal is a ``CapabilityError`` rendered against the file."""
        if not params and self.example is not None:
            params = dict(self.example)
        try:
            return compile_statement(self.statement, backend, params, schema=schema,
                                     options=options)
        except QueryError as err:
            raise self.located(err) from None

    def _require(self, write: bool, method: str) -> None:
        if self.is_write != write:
            kind, use = (("an update or delete", "execute") if self.is_write
                         else ("a read query", "fetch, stream, count or page"))
            raise TypeError(f"query `{self.name}` of {self.path} is {kind}: "
                            f"call {use}, not {method}")

    async def fetch(self, store: Store, /, **params: Any) -> list[Document]:
        """Every row of the query on ``store``."""
        self._require(False, "fetch")
        try:
            rows: list[Document] = await store.fetch(self.text, **params)
            return rows
        except QueryError as err:
            raise self.located(err) from None

    async def stream(self, store: Store, /, **params: Any) -> AsyncIterator[Document]:
        """The rows of the query on ``store``, one at a time."""
        self._require(False, "stream")
        try:
            async for row in store.stream(self.text, **params):
                yield row
        except QueryError as err:
            raise self.located(err) from None

    async def count(self, store: Store, /, **params: Any) -> int:
        """How many rows the query returns on ``store``."""
        self._require(False, "count")
        try:
            return await store.count(self.text, **params)
        except QueryError as err:
            raise self.located(err) from None

    async def execute(self, store: Store, /, **params: Any) -> WriteResult:
        """Run the write (``update``/``delete``) on ``store``."""
        self._require(True, "execute")
        try:
            return await store.execute(self.text, **params)
        except QueryError as err:
            raise self.located(err) from None

    async def page(self, store: Store, /, *, size: int, after: str | None = None,
                   total: bool = False, **params: Any) -> Page:
        """One page of the query's rows on ``store`` and the cursor of the next
        (``Store.page``; docs/pagination.md)."""
        self._require(False, "page")
        try:
            return await store.page(self.text, size=size, after=after, total=total, **params)
        except QueryError as err:
            raise self.located(err) from None


class QueryFile:
    """The queries of one query file, as attributes (``queries.user_orders``), by name
    (``queries["user_orders"]``) and in file order (``for query in queries``)."""

    __slots__ = ("_queries", "backends", "path", "source")

    def __init__(self, path: str, source: str, queries: Mapping[str, NamedQuery],
                 backends: tuple[str, ...] | None = None) -> None:
        self.path = path
        """The file, as ``load_queries`` was given it."""
        self.source = source
        """The file's text."""
        self.backends = backends
        """``-- backends:`` of the file's header (None when it says none)."""
        self._queries = dict(queries)

    @property
    def names(self) -> list[str]:
        """The queries' names, in file order."""
        return list(self._queries)

    def __getattr__(self, name: str) -> NamedQuery:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._queries[name]
        except KeyError:
            raise AttributeError(self._unknown(name)) from None

    def __getitem__(self, name: str) -> NamedQuery:
        try:
            return self._queries[name]
        except KeyError:
            raise KeyError(self._unknown(name)) from None

    def _unknown(self, name: str) -> str:
        return (f"{self.path} has no query named {name!r}; it has "
                f"{', '.join(self._queries) or 'none'}")

    def __contains__(self, name: object) -> bool:
        return name in self._queries

    def __iter__(self) -> Iterator[NamedQuery]:
        return iter(self._queries.values())

    def __len__(self) -> int:
        return len(self._queries)

    def __dir__(self) -> list[str]:
        return sorted(set(object.__dir__(self)) | set(self._queries))

    def __repr__(self) -> str:
        return f"<QueryFile {self.path}: {', '.join(self._queries)}>"


_RESERVED = frozenset(dir(QueryFile)) | {"backends", "path", "source"}


def load_queries(path: str | os.PathLike[str] | Traversable, *,
                 package: str | None = None) -> QueryFile:
    """The queries of a ``*.crossql`` file, each parsed and checked now.

    ``path`` is a file path, or a package resource: ``importlib.resources.files("app")
    / "queries.crossql"``, or its name inside ``package`` (``load_queries(
    "queries.crossql", package="app")``). A problem raises a ``QueryError`` whose frame
    names the file, the line in the file and the query."""
    if package is not None:
        name = os.fspath(path)  # type: ignore[arg-type]
        return parse_query_file(resources.files(package).joinpath(name).read_text(
            encoding="utf-8"), f"{package}:{name}")
    if isinstance(path, str | os.PathLike):
        origin = os.fspath(path)
        return parse_query_file(Path(origin).read_text(encoding="utf-8"), origin)
    return parse_query_file(path.read_text(encoding="utf-8"), str(path))


@dataclass(slots=True)
class _Block:
    name: str
    name_at: tuple[int, int]
    description: list[str] = field(default_factory=list)
    example: tuple[str, int] | None = None
    backends: tuple[str, int] | None = None
    start: int = -1
    end: int = -1


class _Reader:
    """The file cut into blocks: a header, then one block per ``-- name:`` line."""

    def __init__(self, text: str, origin: str) -> None:
        self.text = text
        self.origin = origin
        self.file_backends: tuple[str, int] | None = None
        self.blocks: list[_Block] = []

    def fail(self, message: str, start: int, end: int, hint: str | None = None,
             block: _Block | None = None) -> QueryError:
        context = f" (query `{block.name}`)" if block is not None else ""
        return _error(message, self.text, start, end, self.origin, hint, context)

    def read(self) -> None:
        offset = 0
        for line in self.text.splitlines(keepends=True):
            self._line(line, offset)
            offset += len(line)
        for block in self.blocks:
            if block.start < 0:
                raise self.fail(f"query `{block.name}` has no text", *block.name_at,
                                hint="write the query on the lines after its `-- name:`",
                                block=block)

    def _line(self, line: str, offset: int) -> None:
        stripped = line.strip()
        lead = offset + len(line) - len(line.lstrip())
        named = _NAME.match(stripped)
        if named:
            self._name(named.group(1).strip(), lead, offset + len(line.rstrip()))
            return
        block = self.blocks[-1] if self.blocks else None
        if block is None or block.start < 0:  # a header: the file's or a query's
            if not stripped:
                return
            if not stripped.startswith("--"):
                if block is None:
                    raise self.fail("a query file starts each query with `-- name: NAME`",
                                    lead, offset + len(line.rstrip()),
                                    hint="put `-- name: my_query` on the line above")
                block.start = lead
                block.end = offset + len(line.rstrip())
                return
            directive = _DIRECTIVE.match(stripped)
            if directive:
                value = (directive.group(2).strip(), lead + directive.start(2) +
                         len(directive.group(2)) - len(directive.group(2).lstrip()))
                self._directive(block, directive.group(1), value, lead)
            elif block is not None:
                block.description.append(stripped[2:].strip())
            return
        if stripped:
            block.end = offset + len(line.rstrip())

    def _name(self, name: str, start: int, end: int) -> None:
        block = self.blocks[-1] if self.blocks else None
        if not name.isidentifier() or name.startswith("_") or name in _RESERVED:
            raise self.fail(f"`{name}` cannot name a query", start, end,
                            hint="a query's name is a Python identifier, not starting with "
                                 "`_`, nor one of " + ", ".join(sorted(
                                     n for n in _RESERVED if not n.startswith("_"))))
        if any(b.name == name for b in self.blocks):
            raise self.fail(f"two queries are named `{name}`", start, end,
                            hint="give each query of a file its own name")
        if block is not None and block.start < 0:
            raise self.fail(f"query `{block.name}` has no text", *block.name_at,
                            hint="write the query on the lines after its `-- name:`",
                            block=block)
        self.blocks.append(_Block(name, (start, end)))

    def _directive(self, block: _Block | None, key: str, value: tuple[str, int],
                   lead: int) -> None:
        if key == "example":
            if block is None:
                raise self.fail("`-- example:` belongs to a query, after its `-- name:`",
                                lead, value[1] + len(value[0]))
            if block.example is not None:
                raise self.fail("a query has one `-- example:`", lead,
                                value[1] + len(value[0]), block=block)
            block.example = value
        elif block is None:
            self.file_backends = value
        else:
            block.backends = value


def _backends(reader: _Reader, value: tuple[str, int] | None,
              block: _Block | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    text, at = value
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in BACKEND_NAMES]
    if unknown or not names:
        raise reader.fail(f"unknown backend `{unknown[0]}`" if unknown
                          else "`-- backends:` names no backend", at, at + len(text),
                          hint=f"the backends are {', '.join(BACKEND_NAMES)}", block=block)
    return names


def _example(reader: _Reader, block: _Block) -> dict[str, Any] | None:
    if block.example is None:
        return None
    text, at = block.example
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise reader.fail(f"`-- example:` is not JSON: {exc}", at, at + len(text),
                          hint='a JSON object of parameter values: {"min": 18}',
                          block=block) from None
    if not isinstance(value, dict):
        raise reader.fail("`-- example:` is a JSON object of parameter values", at,
                          at + len(text), hint='for example {"min": 18}', block=block)
    return value


def _checked(query: NamedQuery) -> None:
    """The checks that need no parameter value, and the example's values bound."""
    statement = query.statement
    try:
        if isinstance(statement, ir.Update | ir.Delete):
            checked_write = check_write(statement)
            if query.example is not None:
                bind_write(checked_write, query.example)
        else:
            checked = check_query(statement)
            if query.example is not None:
                bind_values(checked, query.example)
    except QueryError as err:
        raise query.located(err) from None


def parse_query_file(text: str, origin: str = "queries.crossql") -> QueryFile:
    """The queries of a query file's ``text``; ``origin`` names it in errors."""
    reader = _Reader(text, origin)
    reader.read()
    file_backends = _backends(reader, reader.file_backends, None)
    queries: dict[str, NamedQuery] = {}
    for block in reader.blocks:
        body = text[block.start:block.end]
        try:
            statement = parse_statement(body)
        except QueryError as err:
            raise err.in_file(text, block.start, origin, f" (query `{block.name}`)") from None
        query = NamedQuery(
            name=block.name, text=body, description="\n".join(block.description).strip(),
            statement=statement, path=origin, line=text.count("\n", 0, block.start) + 1,
            example=_example(reader, block),
            backends=_backends(reader, block.backends, block) or file_backends,
            offset=block.start, source=text)
        _checked(query)
        queries[block.name] = query
    return QueryFile(origin, text, queries, file_backends)
