"""What every backend provides: capabilities as data, a pure compiler, a plan type.

A backend package ``crossql.backends.<name>`` exposes ``BACKEND``, a
``BackendSpec``. Its ``compile`` turns a *bound* query (no parameters left) into a
``Plan``; it imports no driver. The driver adapter lives beside it and is only
imported by the runtime when a store is opened.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any
from typing import Literal as TLiteral

from crossql import ir
from crossql.errors import CapabilityError

Support = TLiteral["native", "rewritten", "guarded", "refused", "option"]
"""How a backend answers an IR construct: natively, by an exact rewrite, with
semantic guards added, only behind an option, or not at all."""

CONSTRUCTS: tuple[str, ...] = (
    "==", "!=", "<, <=, >, >=", "between", "in", "not in", "contains", "contains any",
    "contains all", "startswith", "matches", "exists", "not exists", "size", "not", "and", "or",
    "group by", "count()", "count(p)", "sum", "avg", "min", "max", "select", "order by", "limit",
    "offset",
)
"""Every construct of the language, in the order the support matrix lists them."""

WRITE_CONSTRUCTS: tuple[str, ...] = (
    "set p = v", "set a.b = v", "p = p + n", "unset p", "delete", "limit (writes)",
    "transaction",
)
"""Every construct of the writes (``update``/``delete``) and of transactions, in the order
the support matrix lists them."""


VALUE_KINDS: tuple[str, ...] = ("timestamp", "bytes", "exact number", "object id", "set",
                                "reference", "geopoint")
"""The value kinds beyond JSON's (docs/language.md, "Values"), in the order the support
matrix lists them (Firestore's references and geopoints are read and written back,
never bound)."""

_KIND_ROWS: dict[str, str] = {"timestamp": "timestamp", "bytes": "bytes",
                              "decimal": "exact number", "objectid": "object id"}
"""A native literal's kind (``ir.NATIVE_KINDS``) → its row of ``VALUE_KINDS``."""


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a backend supports, as data: one entry per construct, plus limits."""

    backend: str
    support: Mapping[str, Support]
    notes: Mapping[str, str] = field(default_factory=dict)
    limits: Mapping[str, int] = field(default_factory=dict)
    constructs: tuple[str, ...] = CONSTRUCTS
    """What ``support`` covers: the reads (``CONSTRUCTS``) or the writes
    (``WRITE_CONSTRUCTS``)."""
    values: Mapping[str, Support] = field(default_factory=dict)
    """How it handles each of ``VALUE_KINDS`` (a kind it leaves out: refused): a bound
    value of a refused kind is a located ``CapabilityError`` before its compiler runs
    (``refuse_values``, called by ``compile_statement`` and prepared queries)."""
    value_notes: Mapping[str, str] = field(default_factory=dict)
    """A note per value kind, where the answer needs one."""

    def __post_init__(self) -> None:
        missing = [c for c in self.constructs if c not in self.support]
        unknown = [c for c in self.support if c not in self.constructs]
        if missing or unknown:
            raise ValueError(f"{self.backend}: capabilities miss {missing}, unknown {unknown}")
        strange = [k for k in [*self.values, *self.value_notes] if k not in VALUE_KINDS]
        if strange:
            raise ValueError(f"{self.backend}: unknown value kinds {strange}")

    def value_support(self, kind: str) -> Support:
        """How it handles the value kind ``kind`` (one of ``VALUE_KINDS``)."""
        return self.values.get(kind, "refused")


class Plan:
    """A compiled query for one backend: immutable data, rendered three ways.

    ``to_dict()`` is deterministic (stable key order) so plans snapshot well;
    ``to_json()`` is its JSON text; ``explain()`` says in words what will run;
    ``to_python()`` shows the code a user would have written by hand.
    """

    __slots__ = ()
    backend: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The plan as plain, JSON-ready data."""
        raise NotImplementedError

    def to_json(self, indent: int | None = 2) -> str:
        """The plan as JSON text with a stable key order."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    def explain(self) -> str:
        """What will run, and why this plan was chosen, in words."""
        raise NotImplementedError

    def to_python(self) -> str:
        """The equivalent hand-written driver code."""
        raise NotImplementedError

    def summary(self) -> str:
        """One line saying what kind of plan this is (``crossql check`` shows it)."""
        return type(self).__name__


def resolve(ref: str) -> Any:
    """The object ``"package.module:name"`` names, its module imported on first use: how a
    backend's spec points at its parts that would load pydantic or a driver."""
    module, _, name = ref.partition(":")
    return getattr(import_module(module), name)


@dataclass(frozen=True, slots=True)
class ConfigBlock:
    """A backend's block of the configuration (``mongodb:``), and how its store opens.

    The references are ``"module:name"`` (``resolve``), loaded when a configuration is
    read or a store opened, so compiling loads neither pydantic nor a driver."""

    model: str
    """The block's pydantic model: ``crossql.config`` makes its key (the driver's name)
    and ``crossql.config_reference`` its table."""
    open_store: str
    """``open_store(block, client) -> Store``: the store ``crossql.connect`` returns for
    the block (``client``: a driver object handed in, or None)."""
    summary: str
    """The configuration reference's line under the block's heading (Markdown)."""
    required: bool = True
    """Whether ``driver: <name>`` needs the block written (False: its defaults serve)."""
    environment: Mapping[str, str] = field(default_factory=dict)
    """Environment variables that set a key of the block: ``{variable: key}``."""
    nested: Mapping[str, str] = field(default_factory=dict)
    """Keys of the block that hold a model of their own, with the summary of its table."""


@dataclass(frozen=True, slots=True)
class OptionsSpec:
    """A backend's compile options (``compile(..., options=...)``, ``--option b.key=v``)."""

    model: str
    """The options model (``resolve``); its fields are the options' names."""
    coerce: str
    """``coerce(mapping) -> options``: ``ConfigError`` whose paths are option names."""
    flags: Mapping[str, str] = field(default_factory=dict)
    """Boolean options with a command-line switch ``--<backend>-<option>``: its help."""
    lifts: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Refusal codes (``CapabilityError.code``) an option lifts: the options that do."""


@dataclass(frozen=True, slots=True)
class Completion:
    """Which refusals of a backend its ``client_side`` option lifts (``BackendSpec.completion``;
    crossql/backends/completion.py runs it)."""

    lifts: frozenset[str]
    """Refusal codes (``CapabilityError.code``) of what the backend cannot order, group or
    aggregate: with the option, the query is completed client-side."""
    riders: frozenset[str] = frozenset()
    """Refusal codes lifted only when the query, without ``limit`` and ``offset``, is
    refused for one of ``lifts`` (the engine applies them after its order); alone, they
    stay refusals."""
    constructs: tuple[str, ...] = ()
    """The constructs whose refusals it lifts, as the support matrix lists them."""
    rider_constructs: tuple[str, ...] = ()
    """The constructs of ``riders``, as the support matrix lists them."""


@dataclass(frozen=True, slots=True)
class BackendSpec:
    """A backend as one object: its name, capabilities, compilers, options, configuration
    block, store and docs page (``crossql.backends.registry`` lists the backends)."""

    name: str
    capabilities: Capabilities
    compile: Callable[..., Plan]
    """``compile(query, *, schema=None, options=None) -> Plan`` for a bound query."""
    compile_write: Callable[..., Plan]
    """``compile_write(statement, *, schema=None, options=None) -> Plan`` for a bound
    ``update``/``delete`` (a construct the backend cannot write is a located
    ``CapabilityError`` from it)."""
    templates: bool = True
    """Whether a prepared query fills plan templates (``compiler/templates.py``); False
    where the compile costs less than a fill (the memory engine's plan is the query)."""
    write_capabilities: Capabilities | None = None
    """What it does with writes and transactions (``WRITE_CONSTRUCTS``)."""
    options: OptionsSpec | None = None
    """Its compile options; None: it takes none."""
    config: ConfigBlock | None = None
    """Its configuration block and store; None: it cannot be configured as a driver."""
    docs: str | None = None
    """Its page, relative to ``docs/`` (the support matrix links it)."""
    completion: Completion | None = None
    """What its ``client_side`` option completes (the refusals it lifts); None: it takes
    no such option."""


LIMIT_CONSTRUCTS: tuple[str, ...] = (
    "collection name", "field name", "aggregate name", "path depth", "value", "expression size",
    "request size", "update", "scan", "parameter",
)
"""What a backend can refuse besides a construct of the language: its limits on names,
values and the size of what it sends (docs/limits.md), a whole statement, a full scan."""

REFUSABLE: frozenset[str] = frozenset(CONSTRUCTS + WRITE_CONSTRUCTS + LIMIT_CONSTRUCTS)
"""The closed list of constructs a refusal may name (``CapabilityError.construct``)."""


def refuse(backend: str, construct: str, node: Any, message: str, hint: str | None = None,
           source: str | None = None, *, rule: str | None = None) -> CapabilityError:
    """A located ``CapabilityError`` for a construct of ``node`` this backend cannot run.

    ``construct`` is one of ``REFUSABLE`` (the CLI and the support matrix read it);
    ``rule`` names which of the backend's rules refused, and makes the code
    ``capability.<backend>.<rule>`` (lower-case words joined by ``-``)."""
    if construct not in REFUSABLE:
        raise ValueError(f"{construct!r} is not a construct a refusal may name")
    span: ir.Span | None = getattr(node, "span", None)
    return CapabilityError(
        message, backend=backend, construct=construct,
        code=f"capability.{backend}.{rule}" if rule else f"capability.{backend}",
        span=span, source=source, hint=hint,
    )


def refuses_values(caps: Capabilities) -> bool:
    """Whether ``caps`` refuses some native literal kind (then ``refuse_values`` must look)."""
    return any(caps.value_support(_KIND_ROWS[k]) == "refused" for k in ir.NATIVE_KINDS)


def _native_literals(node: Any) -> Any:
    """The literals of a native kind (``ir.NATIVE_KINDS``) in a bound statement."""
    for each in ir.walk(node):
        if type(each) is ir.Literal and each.kind in ir.NATIVE_KINDS:
            yield each


def refuse_values(caps: Capabilities, node: Any, source: str | None = None) -> None:
    """Raise a located ``CapabilityError`` for the first value in ``node`` (a bound query
    or write) whose kind ``caps`` refuses."""
    for literal in _native_literals(node):
        row = _KIND_ROWS[literal.kind]
        if caps.value_support(row) == "refused":
            note = caps.value_notes.get(row)
            raise refuse(caps.backend, "value", literal,
                         f"{caps.backend} does not handle {row} values yet",
                         note or "see the support matrix (docs/support-matrix.md, "
                         "\"Value kinds\")", source, rule="value-kind")
