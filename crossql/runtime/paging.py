"""Cursor pagination at run time: ``Page``, the cursor codec and the page plan.

``store.page(text, size=n, after=cursor)`` reads one page of a query's rows in the
query's order with ``_id`` as the last key (``crossql/semantics/paging.py``). The
cursor is URL-safe text: a version byte, 4 bytes of the query's fingerprint, a
12-byte tag (HMAC-SHA256 over the query's binding and the payload, keyed with the
configuration's ``cursor_secret``, or a fixed key when none is given) and the
payload, the last row's walk-key values and the number of rows served so far, as
compact JSON — nothing else. A value JSON has no form for is a one-key map tagged
with its kind (``encode_value``): a cursor value is never a map, so the tag is
unambiguous. docs/pagination.md says what each backend guarantees.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from crossql import ir
from crossql._frozen import fast_init
from crossql.backends import Plan
from crossql.compiler.checks import CheckedQuery, bind
from crossql.compiler.shape import output_key
from crossql.errors import QuerySemanticError
from crossql.grammar.formatter import format_path, format_query
from crossql.semantics.paging import WalkKey, page_query, refuse_unpageable, type_rank, walk_keys
from crossql.semantics.reference import MISSING, copy_value, get_path, instant, is_nan, type_of

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
    backend: str = ""
    """The backend whose store reads the page (its capabilities say which value kinds a
    cursor may carry: ``handles``)."""

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


# -- the values a cursor carries ------------------------------------------------------------
# JSON's scalars as themselves; every other kind as a one-key map (two for binary data of a
# bson subtype) whose key names the kind. Equal values encode alike (a Decimal by its
# canonical text, an instant in UTC microseconds), and a decoded value is the one the
# reference compares: ``sort_key`` and ``values_equal`` of it equal the original's.

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_OBJECT_ID = re.compile(r"[0-9a-f]{24}")
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")

KIND_OF_TYPE: dict[str, str] = {"timestamp": "timestamp", "bytes": "bytes",
                                "objectid": "object id", "set": "set"}
"""A value's type (``type_of``) → its row of ``VALUE_KINDS`` (``Decimal``: "exact number")."""


def value_kind(value: Any) -> str | None:
    """The value kind (``crossql.backends.base.VALUE_KINDS``) of a value beyond JSON's;
    None for null, bools, ints, floats, strings, maps and arrays."""
    if isinstance(value, Decimal):
        return "exact number"
    return KIND_OF_TYPE.get(type_of(value))


def decimal_text(value: Decimal) -> str:
    """A ``Decimal``'s canonical text: equal values (``1.10``, ``1.1``) give one text,
    which ``Decimal(text)`` reads back exactly (no context rounds it)."""
    sign, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int):  # an infinity (a NaN is never a cursor value)
        return "-Infinity" if sign else "Infinity"
    if not any(digits):
        return "0"
    while digits[-1] == 0:
        digits, exponent = digits[:-1], exponent + 1
    return str(Decimal((sign, digits, exponent)))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def encode_value(value: Any) -> Any:
    """A cursor value (``type_rank`` not None, no NaN) as JSON-ready data."""
    if value is None or type(value) in (bool, int, str):
        return value
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if is_nan(value):  # a float's or a Decimal's: one value to the reference
        return {"f": "nan"}
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else {"f": "inf" if value > 0 else "-inf"}
    if isinstance(value, str):
        return str(value)
    if isinstance(value, datetime):
        return {"t": (instant(value) - _EPOCH) // _MICROSECOND}
    if isinstance(value, Decimal):
        return {"d": decimal_text(value)}
    if isinstance(value, bytes):
        subtype = getattr(value, "subtype", 0)
        out: dict[str, Any] = {"b": _b64(bytes(value))}
        if subtype:
            out["s"] = subtype
        return out
    if ir.is_object_id(value):
        return {"o": str(value)}
    raise TypeError(f"a cursor does not carry {type(value).__name__}")


def _decode_tagged(data: dict[str, Any]) -> Any:
    """The value of a tagged map (``encode_value``); ValueError for anything else."""
    keys = sorted(data)
    if keys == ["t"] and type(data["t"]) is int:
        return _EPOCH + data["t"] * _MICROSECOND  # OverflowError past year 9999
    if keys == ["d"] and isinstance(data["d"], str):
        number = Decimal(data["d"])  # InvalidOperation (an ArithmeticError): no number
        if number.is_nan() or decimal_text(number) != data["d"]:
            raise ValueError("not a canonical Decimal")
        return number
    if keys in (["b"], ["b", "s"]) and isinstance(data["b"], str) \
            and _BASE64URL.fullmatch(data["b"]):
        raw = base64.urlsafe_b64decode(data["b"] + "=" * (-len(data["b"]) % 4))
        if _b64(raw) != data["b"]:
            raise ValueError("not canonical base64")
        if keys == ["b"]:
            return raw
        subtype = data["s"]
        if type(subtype) is not int or not 0 < subtype < 256:
            raise ValueError("not a binary subtype")
        from bson import Binary

        return Binary(raw, subtype)
    if keys == ["o"] and isinstance(data["o"], str) and _OBJECT_ID.fullmatch(data["o"]):
        from bson import ObjectId

        return ObjectId(data["o"])
    if keys == ["f"] and data["f"] in ("inf", "-inf", "nan"):
        return float(data["f"])
    raise ValueError("not a cursor value")


def decode_value(data: Any) -> Any:
    """The cursor value ``encode_value`` gave ``data`` for; ValueError (or OverflowError,
    ImportError) for JSON no cursor holds."""
    if data is None or type(data) in (bool, int, str):
        return data
    if type(data) is float:
        if not math.isfinite(data):
            raise ValueError("a non-finite float is tagged")
        return data
    if type(data) is dict:
        return _decode_tagged(data)
    raise ValueError("not a cursor value")


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is no cursor value")


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
    payload = json.dumps([[encode_value(v) for v in values], served], separators=(",", ":"),
                         ensure_ascii=False, allow_nan=False).encode("utf-8")
    raw = bytes([_VERSION]) + binding[:_FINGERPRINT] + _tag(binding, payload, secret) + payload
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _cursor_error(query: ir.Query, message: str, code: str, hint: str) -> QuerySemanticError:
    return QuerySemanticError(message, code=f"semantic.cursor-{code}", span=query.span,
                              source=query.source, label="the cursor does not fit this query",
                              hint=hint)


_NEW_WALK = "start again from the first page (no `after`)"


def decode_cursor(cursor: Any, query: ir.Query, binding: bytes, keys: int,
                  secret: str | bytes | None, handles: Callable[[str], bool] = bool
                  ) -> tuple[tuple[Any, ...], int]:
    """The walk-key values and the rows served of a cursor made for this bound query on
    this backend (``handles``: whether the backend handles a value kind); a located
    ``QuerySemanticError`` for anything else."""
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
    values: tuple[Any, ...] | None = None
    try:
        data = json.loads(payload, parse_constant=_no_constant)
        if isinstance(data, list) and len(data) == 2 and isinstance(data[0], list) \
                and len(data[0]) == keys and type(data[1]) is int and data[1] >= 0:
            values = tuple(decode_value(v) for v in data[0])
    except (ValueError, ArithmeticError, ImportError, RecursionError):
        values = None
    if values is None or not all(type_rank(v) is not None for v in values) or \
            not all(handles(k) for k in map(value_kind, values) if k is not None):
        raise _cursor_error(query, "the cursor's content does not fit this query", "invalid",
                            _NEW_WALK)
    return values, data[1]


def handles(backend: str, kind: str) -> bool:
    """Whether ``backend`` handles values of ``kind`` (``Capabilities.value_support``), so
    that a page of it may resume after one (an unknown backend handles none)."""
    from crossql.backends import get_backend

    try:
        caps = get_backend(backend).capabilities
    except ValueError:
        return False
    return caps.value_support(kind) != "refused"


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
        values, served = decode_cursor(after, bound, binding, len(keys), secret,
                                       lambda kind: handles(backend, kind))
    limit = None
    if bound.limit is not None:
        assert isinstance(bound.limit, ir.Literal) and isinstance(bound.limit.value, int)
        limit = bound.limit.value
    take = size if limit is None else max(0, min(size, limit - served))
    more = limit is None or served + take < limit
    return PageRequest(bound, keys, values, served, take, take + (1 if more and take else 0),
                       binding, backend)


def cursor_values(req: PageRequest, doc: Mapping[str, Any]) -> list[Any]:
    """The walk-key values of a document (missing as null), for its cursor; a located
    error for a map, an array or a set, which no ordering comparison resumes after, and
    for a value of a kind the backend does not handle."""
    values = []
    for key in req.keys:
        value = get_path(doc, key.path.segments)
        value = None if value is MISSING else value
        if type_rank(value) is None:
            raise QuerySemanticError(
                f"document {doc.get('_id')!r} holds {_shown_type(value)} at the order key "
                f"`{format_path(key.path)}`: a cursor resumes after null, number, string, "
                "bool, timestamp, bytes and object id order values only (not a map, an "
                "array or a set)", code="semantic.page-order-value",
                span=req.query.span, source=req.query.source,
                hint="order the pages by a field holding scalars")
        kind = value_kind(value)
        if kind is not None and not handles(req.backend, kind):
            from crossql.backends.base import refuse

            raise refuse(req.backend or "?", "value", req.query,
                         f"document {doc.get('_id')!r} holds a {kind} value at the order key "
                         f"`{format_path(key.path)}`: {req.backend} does not handle {kind} "
                         "values, so a page cannot resume after one",
                         "order the pages by a field holding numbers or strings, or see the "
                         "support matrix (docs/support-matrix.md, \"Value kinds\")",
                         req.query.source, rule="value-kind")
        values.append(value)
    return values


def _shown_type(value: Any) -> str:
    return type(value).__name__


def finish(req: PageRequest, docs: list[Document], secret: str | bytes | None,
           total: int | None, resumes: Callable[[PageRequest], None] | None = None) -> Page:
    """The page of the documents a store read for ``req`` (at most ``req.read``);
    ``resumes`` raises the store's refusal of the next page, tried before a cursor after
    a value beyond JSON's is handed out (``Store.check_resume``)."""
    rows = docs[:req.take]
    cursor = None
    if len(docs) > req.take and rows:
        values = cursor_values(req, rows[-1])
        if resumes is not None and any(value_kind(v) is not None for v in values):
            _check_resume(req, values, resumes)
        cursor = encode_cursor(req.binding, values, req.served + len(rows), secret)
    if req.query.select:
        rows = [_project(req.query.select, doc) for doc in rows]
    return Page(rows, cursor, total)


def _check_resume(req: PageRequest, values: list[Any],
                  resumes: Callable[[PageRequest], None]) -> None:
    """The store's refusal of a page after ``values``, located at the first order key
    holding a value beyond JSON's and saying that the page cannot resume there."""
    from crossql.errors import CapabilityError

    try:
        resumes(replace(req, after=tuple(values)))
    except CapabilityError as err:
        key = next(k for k, v in zip(req.keys, values, strict=True)
                   if value_kind(v) is not None)
        at = next((o for o in req.query.order_by if o.path.segments == key.path.segments),
                  None)
        raise CapabilityError(
            f"a page cannot resume after the {value_kind(values[req.keys.index(key)])} "
            f"value at the order key `{format_path(key.path)}`: {err.message}",
            backend=err.backend, construct=err.construct, code=err.code,
            span=(at.span if at is not None else None) or req.query.span,
            source=req.query.source, hint="order the pages by a field holding numbers, "
            "strings or timestamps (docs/pagination.md)") from None


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
