"""Which backends can run a query: ``crossql.check`` and ``crossql check``.

This is the view a user opens before choosing where a collection lives: for
every backend, the plan it would run or the rendered refusal with its hint.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crossql import ir
from crossql.backends import Plan, backend_names, get_backend
from crossql.backends.base import resolve
from crossql.compiler.statement import compile_statement
from crossql.errors import CapabilityError
from crossql.grammar import parse_statement

if TYPE_CHECKING:
    from crossql.builder import QueryBuilder


@dataclass(frozen=True, slots=True)
class Verdict:
    """One backend's answer to a query: a plan, or the refusal."""

    backend: str
    plan: Plan | None = None
    error: CapabilityError | None = None

    @property
    def accepted(self) -> bool:
        """True when the backend compiles the query."""
        return self.plan is not None

    def to_dict(self) -> dict[str, Any]:
        """The verdict as JSON-ready data."""
        if self.plan is not None:
            return {"backend": self.backend, "accepted": True, "plan": self.plan.summary()}
        assert self.error is not None
        return {"backend": self.backend, "accepted": False, "error": self.error.to_dict(),
                "rendered": self.error.render()}


def _options_for(backend: str, options: Any) -> Any:
    if options is None:
        return None
    if isinstance(options, Mapping) and set(options) <= set(backend_names()):
        return options.get(backend)
    # a single options object goes to the backend whose options it is
    spec = get_backend(backend).options
    return options if spec is not None and isinstance(options, resolve(spec.model)) else None


def check(query: str | ir.Query | QueryBuilder, *, params: Mapping[str, Any] | None = None,
          schema: Any = None, options: Any = None) -> list[Verdict]:
    """Compile ``query`` for every backend; one ``Verdict`` per backend, in order.

    ``options`` is one backend's options object (``FirestoreOptions(native_or=True)``)
    or a mapping of backend name to options; ``schema`` is one schema for every
    backend (a ``crossql.Schema`` or a mapping of collection to its declaration,
    docs/schemas.md) or a mapping of backend name to that backend's schema. A syntax
    or semantic error is raised as is: it is the same for every backend.
    """
    if not isinstance(query, str | ir.Query):
        from crossql.builder import as_text

        query, params = as_text(query, params)
    q = parse_statement(query) if isinstance(query, str) else query
    verdicts = []
    schemas = per_backend(schema)
    for name in backend_names():
        try:
            plan = compile_statement(q, name, params, schema=schemas.get(name),
                                     options=_options_for(name, options))
        except CapabilityError as err:
            verdicts.append(Verdict(name, error=err))
        else:
            verdicts.append(Verdict(name, plan=plan))
    return verdicts


def per_backend(schema: Any) -> dict[str, Any]:
    """Backend name → its declared schema (a ``crossql.Schema``), from one schema for
    every backend or a mapping of backend name to each one's."""
    if schema is None:
        return {}
    from crossql.schema import Schema, as_schema  # a declaration needs pydantic

    names = backend_names()
    if isinstance(schema, Mapping) and schema and all(k in names for k in schema):
        return {name: as_schema(value) for name, value in schema.items()}
    shared = Schema.of(schema)
    return dict.fromkeys(names, shared)
