"""Cursor pagination at run time: ``Page``, the cursor codec and the page plan.

``store.page(text, size=n, after=cursor)`` reads one page of a query's rows in the
query's order with ``_id`` as the last key (``crossql/compiler/paging.py``). The
cursor is URL-safe text: a version byte, 4 bytes of the query's fingerprint, a
12-byte tag (HMAC-SHA256 over the query's binding and the payload, keyed with the
configuration's ``cursor_secret``, or a fixed key when none is given) and the
payload, the last row's walk-key values and the number of rows served so far, as
compact JSON — nothing else. docs/pagination.md says what each backend guarantees.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from crossql import ir
from crossql._frozen import fast_init
from crossql.backends import Plan
from crossql.compiler.checks import CheckedQuery, bind
from crossql.compiler.paging import WalkKey, page_query, refuse_unpageable, type_rank, walk_keys
from crossql.compiler.shape import output_key
from crossql.errors import QuerySemanticError
from crossql.grammar.formatter import format_path, format_query
from crossql.semantics.reference import MISSING, copy_value, get_path

Document = dict[str, Any]

_VERSION = 1
_FINGERPRINT = 4
_TAG = 12
_UNSIGNED_KEY = b"crossql cursor, unsigned (set cursor_secret to sign cursors)"
_MAX_CURSOR = 8192
"""Characters of a cursor at most: a longer one is refused before it is decoded."""
_URL_SAFE = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a query's rows (``store.page(...)``)."""

    rows: list[Document]
    """The rows of this page, in the query's order (at most ``size``)."""
    next_cursor: str | None
    """Pass as ``after=`` for the next page; None on the last page."""
    total: int | None = None
    """With ``total=True``: how many documents the query matches without
    ``limit``/``offset`` (``count`` of it); otherwise None."""

    def to_dict(self) -> dict[str, Any]:
        """The page as JSON-ready data (``rows``, ``next_cursor``, ``total`` if asked)."""
        out: dict[str, Any] = {"rows": self.rows, "next_cursor": self.next_cursor}
        if self.total is not None:
            out["total"] = self.total
        return out


@dataclass(frozen=True, slots=True)
class PageRequest:
    """What one page reads: the bound query, its walk, where it resumes, how many rows."""

    query: ir.Query
    """The bound query as written (its ``limit`` caps the whole walk)."""
    keys: tuple[WalkKey, ...]
    """The order the pages walk: the query's keys, then ``_id``."""
    after: tuple[Any, ...] | None
    """The walk-key values of the last row served (None: the first page)."""
    served: int
    """Rows served before this page."""
    take: int
    """Rows this page serves at most."""
    read: int
    """Rows to read: ``take``, plus one when another page may follow (to know it)."""
    binding: bytes = field(repr=False)
    """The digest of the backend and the bound query's canonical text."""

    def page_query(self) -> ir.Query:
        """The bound query that reads this page (whole documents, resumed, ``read`` rows)."""
        return page_query(self.query, self.keys, self.after, self.read)


@fast_init
@dataclass(frozen=True, slots=True)
class PagePlan(Plan):
    """A page of a query: the plan that reads it, and how the next page resumes."""

    request: PageRequest
    inner: Plan | None
    """The backend's plan for this page (None when the page reads nothing)."""
    resume: str
    """How this backend resumes after the last row (``explain``)."""
    backend: str = ""

    def to_dict(self) -> dict[str, Any]:
        req = self.request
        return {
            "backend": self.backend,
            "page": {"keys": [{"path": list(k.path.segments), "descending": k.descending}
                              for k in req.keys],
                     "after": list(req.after) if req.after is not None else None,
                     "served": req.served, "take": req.take, "read": req.read},
            "plan": self.inner.to_dict() if self.inner is not None else None,
        }

    def explain(self) -> str:
        req = self.request
        order = ", ".join(format_path(k.path) + (" desc" if k.descending else "")
                          for k in req.keys)
        where = "the first page" if req.after is None else "a page after a cursor"
        lines = [f"page of at most {req.take} rows ({where}), walking `order by {order}` "
                 f"(the document id last makes the order total); {req.read} rows read "
                 "(one more than served tells whether a next page exists)",
                 f"resumes: {self.resume}"]
        if self.inner is None:
            lines.append("reads nothing: the query's limit is reached")
        else:
            lines.append(self.inner.explain())
        return "\n".join(lines)

    def to_python(self) -> str:
        return self.inner.to_python() if self.inner is not None else "rows = []"

    def summary(self) -> str:
        inner = self.inner.summary() if self.inner is not None else "nothing"
        return f"page: {inner}"


def binding_of(backend: str, bound: ir.Query) -> bytes:
    """What a cursor is bound to: the backend and the bound query's canonical text
    (the query's text with its parameters' values in place)."""
    text = f"crossql-cursor-v{_VERSION}\0{backend}\0{format_query(bound)}"
    return hashlib.sha256(text.encode("utf-8")).digest()


def _tag(binding: bytes, payload: bytes, secret: str | bytes | None) -> bytes:
    key = _UNSIGNED_KEY if not secret else (
        secret.encode("utf-8") if isinstance(secret, str) else secret)
    return hmac.new(key, binding + payload, hashlib.sha256).digest()[:_TAG]


def encode_cursor(binding: bytes, values: Sequence[Any], served: int,
                  secret: str | bytes | None) -> str:
    """The URL-safe cursor resuming after the row whose walk-key values are ``values``."""
    payload = json.dumps([list(values), served], separators=(",", ":"), ensure_ascii=False,
                         allow_nan=False).encode("utf-8")
    raw = bytes([_VERSION]) + binding[:_FINGERPRINT] + _tag(binding, payload, secret) + payload
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _cursor_error(query: ir.Query, message: str, code: str, hint: str) -> QuerySemanticError:
    return QuerySemanticError(message, code=f"semantic.cursor-{code}", span=query.span,
                              source=query.source, label="the cursor does not fit this query",
                              hint=hint)


_NEW_WALK = "start again from the first page (no `after`)"


def decode_cursor(cursor: Any, query: ir.Query, binding: bytes, keys: int,
                  secret: str | bytes | None) -> tuple[tuple[Any, ...], int]:
    """The walk-key values and the rows served of a cursor made for this bound query on
    this backend; a located ``QuerySemanticError`` for anything else."""
    if not isinstance(cursor, str) or not cursor or len(cursor) > _MAX_CURSOR \
            or not _URL_SAFE.fullmatch(cursor):
        raise _cursor_error(query, "`after` is not a cursor: a cursor is the URL-safe text "
                            "a page's `next_cursor` gave", "invalid", _NEW_WALK)
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError):
        raw = b""
    head = 1 + _FINGERPRINT + _TAG
    # a changed character that decodes to the same bytes (unused bits) is a change too
    if len(raw) <= head or base64.urlsafe_b64encode(raw).rstrip(b"=").decode() != cursor:
        raise _cursor_error(query, "`after` is not a cursor (it does not decode)", "invalid",
                            _NEW_WALK)
    if raw[0] != _VERSION or raw[1:1 + _FINGERPRINT] != binding[:_FINGERPRINT]:
        raise _cursor_error(query, "the cursor was made by another query, other parameter "
                            "values or another backend: a cursor resumes only the walk that "
                            "gave it", "foreign", "page this query from the start (no "
                            "`after`), or pass the query and parameters that gave the cursor")
    tag, payload = raw[1 + _FINGERPRINT:head], raw[head:]
    if not hmac.compare_digest(tag, _tag(binding, payload, secret)):
        raise _cursor_error(query, "the cursor was changed (or signed with another "
                            "`cursor_secret`): its signature does not match", "tampered",
                            _NEW_WALK)
    try:
        data = json.loads(payload)
    except ValueError:
        data = None
    if not (isinstance(data, list) and len(data) == 2 and isinstance(data[0], list)
            and len(data[0]) == keys and type(data[1]) is int and data[1] >= 0
            and all(type_rank(v) is not None for v in data[0])):
        raise _cursor_error(query, "the cursor's content does not fit this query", "invalid",
                            _NEW_WALK)
    return tuple(data[0]), data[1]


def request(query: CheckedQuery, params: Mapping[str, Any] | None, backend: str, *,
            size: int, after: str | None, secret: str | bytes | None,
            keys_of: Callable[[ir.Query], tuple[WalkKey, ...]] = walk_keys) -> PageRequest:
    """Bind the query and read the cursor: what the page reads (``keys_of``: the keys a
    backend resumes on, by default the query's order keys and ``_id``)."""
    if type(size) is not int or size < 1:
        raise ValueError(f"page size is a positive int, not {size!r}")
    bound = bind(query, params)
    refuse_unpageable(bound)
    keys = keys_of(bound)
    binding = binding_of(backend, bound)
    values: tuple[Any, ...] | None = None
    served = 0
    if after is not None:
        values, served = decode_cursor(after, bound, binding, len(keys), secret)
    limit = None
    if bound.limit is not None:
        assert isinstance(bound.limit, ir.Literal) and isinstance(bound.limit.value, int)
        limit = bound.limit.value
    take = size if limit is None else max(0, min(size, limit - served))
    more = limit is None or served + take < limit
    return PageRequest(bound, keys, values, served, take, take + (1 if more and take else 0),
                       binding)


def cursor_values(req: PageRequest, doc: Mapping[str, Any]) -> list[Any]:
    """The walk-key values of a document (missing as null), for its cursor; a located
    error for a map or an array, which a cursor does not carry."""
    values = []
    for key in req.keys:
        value = get_path(doc, key.path.segments)
        value = None if value is MISSING else value
        if type_rank(value) is None or (isinstance(value, float) and value != value):
            raise QuerySemanticError(
                f"document {doc.get('_id')!r} holds {type(value).__name__} at the order key "
                f"`{format_path(key.path)}`: a cursor resumes after null, number, string or "
                "bool order values only", code="semantic.page-order-value",
                span=req.query.span, source=req.query.source,
                hint="order the pages by a field holding scalars")
        values.append(value)
    return values


def finish(req: PageRequest, docs: list[Document], secret: str | bytes | None,
           total: int | None) -> Page:
    """The page of the documents a store read for ``req`` (at most ``req.read``)."""
    rows = docs[:req.take]
    cursor = None
    if len(docs) > req.take and rows:
        cursor = encode_cursor(req.binding, cursor_values(req, rows[-1]),
                               req.served + len(rows), secret)
    if req.query.select:
        rows = [_project(req.query.select, doc) for doc in rows]
    return Page(rows, cursor, total)


def unpaged(query: ir.Query) -> ir.Query:
    """The query without ``limit`` and ``offset`` (what ``total`` counts)."""
    return replace(query, limit=None, offset=None)


def _project(select: tuple[ir.SelectItem, ...], doc: Mapping[str, Any]) -> Document:
    """The row the reference gives for a document under a plain select."""
    row: Document = {}
    for item in select:
        assert isinstance(item.expr, ir.Path)
        value = get_path(doc, item.expr.segments)
        if value is MISSING:
            continue
        key = output_key(item)
        target = row
        for seg in key[:-1]:
            target = target.setdefault(seg, {})
        target[key[-1]] = copy_value(value)
    return row
