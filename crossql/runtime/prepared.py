"""Prepared queries and the plan cache.

A ``PreparedQuery`` is parsed and checked once; each execution binds its
parameters and re-runs only the backend compile. A query without parameters
keeps its plan, so a cache hit is a dictionary lookup. Cached objects are
immutable and shared, never copied.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from crossql import ir
from crossql.backends import Plan, get_backend
from crossql.compiler.checks import CheckedQuery, bind, check_query
from crossql.grammar import parse_query


class PreparedQuery:
    """A checked query for one backend; ``plan(params)`` binds and compiles."""

    __slots__ = ("_backend", "_checked", "_options", "_plan", "_schema", "_text")

    def __init__(self, query: str | ir.Query, backend: str = "memory", *, schema: Any = None,
                 options: Any = None) -> None:
        parsed = parse_query(query) if isinstance(query, str) else query
        self._text = query if isinstance(query, str) else None
        self._checked: CheckedQuery | None = check_query(parsed)
        self._backend = get_backend(backend)
        self._schema = schema
        self._options = options
        self._plan: Plan | None = None
        if not self._checked.slots:
            self._plan = self._compile(self._checked.query)

    @property
    def checked(self) -> CheckedQuery:
        """The checked (unbound) query."""
        checked = self._checked
        if checked is None:  # let go by release_ir: parse the text again
            assert self._text is not None
            checked = self._checked = check_query(parse_query(self._text))
        return checked

    def release_ir(self) -> None:
        """Let go of the checked IR of a query that has its plan (it has no parameters)
        and came from text: the plan is all its runs need, and ``checked`` parses the
        text again if asked. The plan cache does this for the entries it keeps."""
        if self._plan is not None and self._text is not None:
            self._checked = None

    @property
    def query(self) -> ir.Query:
        """The checked (unbound) query."""
        return self.checked.query

    @property
    def param_names(self) -> frozenset[str]:
        """Names of the parameters each execution must bind."""
        if self._checked is None:
            return frozenset()  # the IR goes only when there are no parameters
        return self._checked.param_names

    def _compile(self, bound: ir.Query) -> Plan:
        try:
            return self._backend.compile(bound, schema=self._schema, options=self._options)
        except Exception as err:
            from crossql.errors import QueryError

            if isinstance(err, QueryError):
                raise err.with_source(bound.source) from None
            raise

    def plan(self, params: Mapping[str, Any] | None = None) -> Plan:
        """The plan for these parameter values (the shared plan when there are none)."""
        if self._plan is not None and not params:
            return self._plan
        return self._compile(bind(self.checked, params))


class PlanCache:
    """A bounded LRU of prepared queries keyed by (query text, backend).

    Beside each entry whose query has no parameters sits its plan, so that
    ``plan(text, backend)`` is one dictionary lookup (and the LRU touch) on a hit;
    such an entry lets go of its IR (``PreparedQuery.release_ir``), parsed again only
    if someone asks for it.
    """

    __slots__ = ("_entries", "_plans", "maxsize")

    def __init__(self, maxsize: int = 256) -> None:
        self.maxsize = maxsize
        self._entries: OrderedDict[tuple[str, str], PreparedQuery] = OrderedDict()
        self._plans: dict[tuple[str, str], Plan] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def plan(self, text: str, backend: str, params: Mapping[str, Any] | None = None, *,
             schema: Any = None, options: Any = None) -> Plan:
        """The plan of ``text`` on ``backend`` for ``params``: the shared plan of a
        query without parameters (a hit is a dictionary lookup), else bound and
        compiled from the prepared query."""
        key = (text, backend)
        if not params:
            plan = self._plans.get(key)
            if plan is not None:
                self._entries.move_to_end(key)
                return plan
        return self.get(text, backend, schema=schema, options=options).plan(params)

    def get(self, text: str, backend: str, *, schema: Any = None,
            options: Any = None) -> PreparedQuery:
        """The prepared query for ``text`` on ``backend``, preparing it on a miss."""
        key = (text, backend)
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
            return entry
        entry = PreparedQuery(text, backend, schema=schema, options=options)
        if self.maxsize > 0:
            self._entries[key] = entry
            if entry._plan is not None:
                self._plans[key] = entry._plan
                entry.release_ir()  # the plan is what runs: keep memory per entry small
            if len(self._entries) > self.maxsize:
                old, _ = self._entries.popitem(last=False)
                self._plans.pop(old, None)
        return entry
