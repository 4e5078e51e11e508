"""Compile one statement for one backend: parse (if text), check, bind every
parameter, then the backend's own compiler. ``crossql.compile``, the stores and
``crossql.check`` all go through ``compile_statement``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from crossql import ir
from crossql.backends import Plan, get_backend
from crossql.backends.base import refuse_values, refuses_values
from crossql.compiler.checks import bind, check_query
from crossql.compiler.writes import bind_write, check_write
from crossql.errors import QueryError
from crossql.grammar import parse_statement


def compile_statement(statement: str | ir.Statement, backend: str,
                      params: Mapping[str, Any] | None = None, *, schema: Any = None,
                      options: Any = None) -> Plan:
    """The plan of a read (the backend's query plan) or a write (its write plan).
    Raises ``QuerySyntaxError``, ``QuerySemanticError`` (an unbound or unused
    parameter among them) or ``CapabilityError``, located in the statement's text.
    ``schema`` (a ``crossql.Schema``) checks names and kinds first
    (``compiler/schema_checks.py``)."""
    spec = get_backend(backend)
    parsed = parse_statement(statement) if isinstance(statement, str) else statement
    if isinstance(parsed, ir.Update | ir.Delete):
        bound_write = bind_write(check_write(parsed), params)
        if schema is not None:  # (bound: a parameter's value is checked as a literal)
            from crossql.compiler.schema_checks import check_statement, convert_epochs

            check_statement(bound_write, schema)
            bound_write = convert_epochs(bound_write, schema)
        try:
            if _may_hold_native(spec, statement, params):
                refuse_values(spec.capabilities, bound_write)
            return spec.compile_write(bound_write, schema=schema, options=options)
        except QueryError as err:
            raise err.with_source(parsed.source) from None
    if not isinstance(parsed, ir.Query):
        raise TypeError(f"a query is text or crossql.ir.Query, not {type(parsed).__name__}")
    bound = bind(check_query(parsed), params)
    if schema is not None:
        from crossql.compiler.schema_checks import (  # only with a schema
            check_statement,
            convert_epochs,
        )

        check_statement(bound, schema)
        bound = convert_epochs(bound, schema)
    try:
        if _may_hold_native(spec, statement, params):  # a kind it refuses never reaches it
            refuse_values(spec.capabilities, bound.where)
        return spec.compile(bound, schema=schema, options=options)
    except QueryError as err:
        raise err.with_source(parsed.source) from None


_REFUSES: dict[str, bool] = {}
"""Per backend: whether its capabilities refuse a native value kind (``refuses_values``)."""
_PLAIN = frozenset({str, int, float, bool, type(None)})
_TIMESTAMP_WORD = re.compile("timestamp", re.IGNORECASE)


def _may_hold_native(spec: Any, statement: str | ir.Statement,
                     params: Mapping[str, Any] | None) -> bool:
    """Whether ``refuse_values`` must look at the bound statement: the backend refuses a
    native kind, and one may be there — a parameter that is not a plain value, or a text
    that holds the word ``timestamp`` (or a statement built as IR). Cheap: the look
    itself walks the whole statement."""
    refuses = _REFUSES.get(spec.name)
    if refuses is None:
        refuses = _REFUSES[spec.name] = refuses_values(spec.capabilities)
    if not refuses:
        return False
    if not isinstance(statement, str) or _TIMESTAMP_WORD.search(statement):
        return True
    if not params:
        return False
    return any(_not_plain(v) for v in params.values())


def _not_plain(value: Any) -> bool:
    if type(value) in _PLAIN:
        return False
    if type(value) is list or type(value) is tuple:
        # at C speed for a flat list of plain values (lists may hold 10,000 of them)
        if all(map(_PLAIN.__contains__, map(type, value))):
            return False
        return any(_not_plain(v) for v in value)
    return True
