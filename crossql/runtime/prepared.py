"""Prepared queries and the plan cache.

A ``PreparedQuery`` is parsed and checked once; each execution checks its
parameters' values and fills a plan template compiled once for values of their
kinds (``compiler/templates.py``), or binds and re-runs the backend compile where
no template fits. A query without parameters keeps its plan, so a cache hit is a
dictionary lookup. Cached objects are immutable and shared, never copied.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from crossql import ir
from crossql.backends import Plan, get_backend
from crossql.backends.base import refuse_values, refuses_values
from crossql.compiler.checks import CheckedQuery, bind_values, check_query, substitute
from crossql.compiler.templates import (
    HOLE_TYPES,
    StringHole,
    Template,
    holds_hole,
    make_template,
    strictly_equal,
    unbound_nodes,
)
from crossql.errors import QueryError
from crossql.grammar import parse_query

if TYPE_CHECKING:  # the schema checks are imported when a schema is given
    from crossql.compiler.schema_checks import ParamUses

_INF = float("inf")
_UNSEEN: Any = object()
_SHORT = StringHole.MAX_BYTES // 4
"""Characters of a string that surely fits ``StringHole.MAX_BYTES`` (4 bytes at most each)."""
_MAX_TEMPLATES = 16
"""Templates kept per prepared query (one per kind of values: types, limit, offset)."""


class PreparedQuery:
    """A checked query for one backend; ``plan(params)`` gives the plan for values."""

    __slots__ = ("_backend", "_checked", "_counts", "_options", "_plan", "_schema",
                 "_templates", "_text", "_uses")

    def __init__(self, query: str | ir.Query, backend: str = "memory", *, schema: Any = None,
                 options: Any = None) -> None:
        parsed = parse_query(query) if isinstance(query, str) else query
        self._text = query if isinstance(query, str) else None
        self._checked: CheckedQuery | None = check_query(parsed)
        self._backend = get_backend(backend)
        if schema is not None and not hasattr(schema, "checks_names"):
            from crossql.schema import as_schema  # a declaration: pydantic

            schema = as_schema(schema)
        self._schema = schema
        self._uses: ParamUses | None = None
        """Parameters compared with declared fields: their values are checked when bound."""
        if schema is not None:
            # imported here: start-up without a schema does not pay for the schema checks
            from crossql.compiler.schema_checks import check_statement

            self._uses = check_statement(parsed, schema) or None
        self._options = options
        self._plan: Plan | None = None
        self._templates: dict[tuple[Any, ...], Template | None] | None = None
        self._counts: frozenset[str] = frozenset()
        if not self._checked.slots:
            self._plan = self._compile(self._checked.query)
        elif self._backend.templates and not self._checked.recheck_betweens:
            # (a `between` with a parameter bound needs its check at each binding)
            self._templates = {}
            self._counts = frozenset(s.name for s in self._checked.slots if s.kind == "count")

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
            caps = self._backend.capabilities
            if refuses_values(caps):  # (a template fill never holds a native value)
                refuse_values(caps, bound.where)
            if self._schema is not None:
                from crossql.compiler.schema_checks import convert_epochs

                bound = convert_epochs(bound, self._schema)
            return self._backend.compile(bound, schema=self._schema, options=self._options)
        except Exception as err:
            if isinstance(err, QueryError):
                raise err.with_source(bound.source) from None
            raise

    def plan(self, params: Mapping[str, Any] | None = None) -> Plan:
        """The plan for these parameter values (the shared plan when there are none).

        A query with parameters fills a plan template (``compiler/templates.py``) when
        one fits the values' kinds, else binds and compiles."""
        if self._plan is not None and not params:
            return self._plan
        checked = self._checked or self.checked
        values = bind_values(checked, params)
        if self._uses is not None:
            from crossql.compiler.schema_checks import check_params

            values = check_params(self._uses, values, checked.query.source)
        templates = self._templates
        if templates is not None:
            key = self._template_key(values)
            if key is not None:
                template = templates.get(key, _UNSEEN)
                if template is _UNSEEN:
                    return self._first_of_kind(key, checked, values, templates)
                if template is not None:
                    plan = self._fill(template, values)
                    if plan is not None:
                        if not template.checks_left:
                            return plan
                        return self._checked_fill(plan, template, key, checked, values,
                                                  templates)
        return self._compile(substitute(checked, values))

    def _template_key(self, values: dict[str, Any]) -> tuple[Any, ...] | None:
        """What a template is chosen by: each value's type (a string's being non-empty
        and short too), and the values of ``limit``/``offset`` parameters; None: these
        values are compiled in full."""
        key: list[Any] = []
        counts = self._counts
        for name, value in values.items():
            if name in counts:
                key.append(value)
                continue
            kind = type(value)
            if kind is str:
                if not value or (len(value) > _SHORT and
                                 len(value.encode("utf-8")) > StringHole.MAX_BYTES):
                    return None
            elif kind is float:
                if value != value or value in (_INF, -_INF):
                    return None
            elif kind is not int and kind is not bool:
                return None  # null, lists: their plans differ in shape
            key.append(kind)
        return tuple(key)

    def _first_of_kind(self, key: tuple[Any, ...], checked: CheckedQuery,
                       values: dict[str, Any],
                       templates: dict[tuple[Any, ...], Template | None]) -> Plan:
        """Compile in full, and try a template for the values of this kind: kept when
        it fills to the compiled plan for these values and for plain probe values of
        the same kinds (a compiler that took another way for a hole than for a value of
        its type, unseen by the hole, differs from the compile there)."""
        plan = self._compile(substitute(checked, values))
        if len(templates) >= _MAX_TEMPLATES:
            return plan
        holes = {name: value if name in self._counts else HOLE_TYPES[type(value)](name)
                 for name, value in values.items()}
        template: Template | None
        try:
            holed = substitute(checked, holes)
            template = make_template(
                self._backend.compile(holed, schema=self._schema, options=self._options),
                unbound_nodes(checked.query, holed),
                # the query's own literals too: a plan may hold one only in another
                # form (DynamoDB's {"N": "-1"}) and still merge an equal value with it
                [n.value for n in ir.walk(checked.query) if type(n) is ir.Literal])
            probe = _probe_values(values, self._counts, template.constants)
            probe_plan = self._compile(substitute(checked, bind_values(checked, probe)))
            # the probe is always filled; the first values may not be (one equal to a
            # constant, say: then the next fills are checked instead)
            if (self._fills_to(template, probe, probe_plan) is not True
                    or self._fills_to(template, values, plan) is False):
                template = None
        except Exception:  # the compiler looked at a value, or failed: no template
            template = None
        templates[key] = template
        return plan

    def _fills_to(self, template: Template, values: dict[str, Any], plan: Plan
                  ) -> bool | None:
        """Whether the template filled with ``values`` is ``plan`` (None: not filled)."""
        filled = self._fill(template, values)
        return None if filled is None else _same_plan(filled, plan)

    def _fill(self, template: Template, values: dict[str, Any]) -> Plan | None:
        """The filled template, or None when these values must be compiled in full."""
        counts = self._counts
        constants = template.constants
        seen: list[Any] = []
        for name, value in values.items():
            if name in counts:
                continue
            if value in constants or value in seen:
                return None  # equal values may be merged by the compiler
            seen.append(value)
        try:
            plan: Plan = template.fill(values)
        except Exception:  # Refill, or a value a step refuses: compile, which
            return None  # refuses it with the located error
        return plan

    def _checked_fill(self, plan: Plan, template: Template, key: tuple[Any, ...],
                      checked: CheckedQuery, values: dict[str, Any],
                      templates: dict[tuple[Any, ...], Template | None]) -> Plan:
        """A fill of a template not trusted yet: compiled in full as well and compared
        (a difference discards the template)."""
        compiled = self._compile(substitute(checked, values))
        if _same_plan(plan, compiled):
            template.checks_left -= 1
        else:
            templates[key] = None
        return compiled


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


def _same_plan(filled: Plan, compiled: Plan) -> bool:
    return strictly_equal(filled, compiled) and not holds_hole(filled)


def _probe_values(values: dict[str, Any], counts: frozenset[str],
                  constants: frozenset[Any]) -> dict[str, Any]:
    """Plain values of the same types as ``values`` (``limit``/``offset`` as they are),
    distinct from one another and from the template's constants."""
    probe: dict[str, Any] = {}
    seen = set(constants)
    flag = True
    for n, (name, value) in enumerate(values.items()):
        kind = type(value)
        if name in counts:
            probe[name] = value
            continue
        if kind is bool:
            candidate: Any = flag  # two values only: the other kind of a repeat collides
            flag = not flag
        else:
            for attempt in range(100):
                if kind is str:
                    candidate = f"qz{n}probe{attempt}"
                elif kind is int:
                    candidate = 7919 + 104729 * (n + 100 * attempt)
                else:
                    candidate = 0.4375 + n + 100 * attempt
                if candidate not in seen:
                    break
        seen.add(candidate)
        probe[name] = candidate
    return probe
