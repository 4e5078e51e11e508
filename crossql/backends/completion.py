"""Opt-in client-side completion: what a backend cannot order, group or aggregate, the
engine does over the rows the backend reads (``client_side: {max_rows: N}``).

Without the option a backend refuses such a query (``CapabilityError``), as always.
With it, where the refusal is one the backend's ``Completion`` lists, the plan becomes
a ``ClientSidePlan``: the backend's native plan for the query's ``where`` alone (the
filter pushed down exactly as far as the backend takes it, no order, no limit, whole
documents), then the rest of the query (``group by``, ``select``, ``order by``,
``limit``, ``offset``) run by the engine over those rows (``crossql.runtime.completion``).
At most ``max_rows`` rows are read: one more fails the call (``ClientSideLimitError``),
never a partial answer. Every other refusal stays as it is (docs/configuration.md,
"Client-side completion").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from crossql import ir
from crossql.backends.base import Completion, Plan
from crossql.errors import CapabilityError, ConfigError
from crossql.grammar.formatter import format_name, format_query


class ClientSide(BaseModel):
    """The ``client_side`` option: complete on the client what the backend cannot order,
    group or aggregate, over at most ``max_rows`` rows read."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_rows: int = Field(default=10_000, ge=1)
    """The most rows a client-side completion reads; one more fails the call (never a
    partial answer)."""


@dataclass(frozen=True, slots=True)
class ClientSidePlan(Plan):
    """The backend's plan reading the rows of the query's ``where``, then ``completion``
    (the query without its ``where``) run by the engine over them."""

    native: Plan
    """What the backend runs: every row of the ``where``, whole documents, no order."""
    completion: ir.Query
    """The rest of the query, evaluated client-side on the rows ``native`` reads."""
    max_rows: int
    """The most rows ``native`` may return; one more fails the call."""

    @property
    def backend(self) -> str:  # type: ignore[override]
        return self.native.backend

    @property
    def steps(self) -> str:
        """What runs client-side, as the query's clauses: ``order by age desc, limit 5``."""
        return client_side_steps(self.completion)

    def summary(self) -> str:
        return f"{self.native.summary()}; client-side: {self.steps}"

    def to_dict(self) -> dict[str, Any]:
        out = self.native.to_dict()
        out["client_side"] = {"steps": self.steps, "max_rows": self.max_rows}
        return out

    def explain(self) -> str:
        return "\n".join([
            self.native.explain(),
            f"client-side: {self.steps}",
            f"  over every row read above, by CrossQL's engine (the reference semantics); "
            f"more than {self.max_rows} rows fail the call (client_side.max_rows), never a "
            "partial answer",
        ])

    def to_python(self) -> str:
        completion = format_query(self.completion)
        return "\n".join([
            self.native.to_python(),
            "",
            "# then, client-side: the rest of the query over the rows read above, as",
            "# plain documents with `_id` (as CrossQL's store returns them)",
            "import crossql",
            "",
            f"if len(rows) > {self.max_rows}:  # client_side.max_rows",
            '    raise RuntimeError("too many rows to complete client-side")',
            f"rows = crossql.evaluate({completion!r}, rows)",
        ])


def client_side_steps(query: ir.Query) -> str:
    """The clauses of ``query`` after ``from``/``where``, comma-separated, in the
    canonical text: ``group by country, select country, count() as n``."""
    base = ir.Query(query.collection)
    cut = len("from " + format_name(query.collection)) + 1
    clauses = [replace(base, group_by=query.group_by) if query.group_by else None,
               replace(base, select=query.select) if query.select else None,
               replace(base, order_by=query.order_by) if query.order_by else None,
               replace(base, limit=query.limit) if query.limit is not None else None,
               replace(base, offset=query.offset) if query.offset is not None else None]
    return ", ".join(format_query(c)[cut:] for c in clauses if c is not None)


def with_client_side(options: Any, client_side: Any) -> Any:
    """``options`` (a backend's compile options) with ``client_side`` (a ``ClientSide``, a
    mapping of its fields, or None: off) in place of theirs; ``options`` itself when
    they have no such option or already hold it."""
    if not isinstance(options, BaseModel) or "client_side" not in type(options).model_fields:
        return options
    if client_side is not None and not isinstance(client_side, ClientSide):
        if not isinstance(client_side, Mapping):
            raise ConfigError([("client_side", "expected {max_rows: N} or None, got "
                                f"{type(client_side).__name__}")])
        try:
            client_side = ClientSide.model_validate(client_side)
        except ValidationError as err:
            raise ConfigError([(".".join(["client_side", *(str(p) for p in e["loc"])]),
                                "unknown key" if e["type"] == "extra_forbidden" else e["msg"])
                               for e in err.errors()]) from None
    if getattr(options, "client_side", None) == client_side:
        return options
    return options.model_copy(update={"client_side": client_side})


def native_query(query: ir.Query) -> ir.Query:
    """The query the backend runs for a completion: its ``where`` alone."""
    return replace(query, group_by=(), select=(), order_by=(), limit=None, offset=None)


def complete_client_side(err: CapabilityError, query: ir.Query,
                         compile_native: Callable[[ir.Query], Plan],
                         client_side: ClientSide, completion: Completion) -> ClientSidePlan:
    """The ``ClientSidePlan`` of ``query`` that ``err`` refused, where ``completion`` lifts
    ``err``; else ``err`` raised again, unchanged. ``compile_native`` compiles a query
    the backend's own way (its refusals are the plan's: a ``where`` it cannot run stays
    refused)."""
    if err.code not in completion.lifts:
        if err.code not in completion.riders or (query.limit is None and query.offset is None):
            raise err
        try:
            compile_native(replace(query, limit=None, offset=None))
        except CapabilityError as without:
            if without.code not in completion.lifts:
                raise err from None
        else:
            raise err
    plan = compile_native(native_query(query))
    return ClientSidePlan(plan, replace(query, where=None), client_side.max_rows)
