"""What the DynamoDB compiler knows about a table: its keys, its indexes, and options.

A DynamoDB query can only use a table's *keys*: the partition key must be
pinned with ``==`` for a ``Query``, and rows come back in the order of a sort
key. So the compiler takes the key schema of every table it compiles for::

    crossql.compile(text, backend="dynamodb", schema={
        "music": {"partition_key": "Artist", "sort_key": "SongTitle",
                  "indexes": [{"name": "by_album", "partition_key": "AlbumTitle",
                               "sort_key": "Awards"}]}})

Plain dicts are validated into these pydantic models; a ``DynamoStore`` fills
them from ``DescribeTable``. A collection without an entry is assumed to be the
table ``create_collection`` makes: the string (``S``) partition key ``pk_field``
(``_id`` by default) and no sort key; its plans state that assumption.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from crossql._memo import Memo
from crossql.backends.completion import ClientSide
from crossql.errors import ConfigError

KeyType = Literal["S", "N", "B"]
"""The scalar types DynamoDB allows for a key attribute."""

_NAME_PATTERN = r"^[A-Za-z0-9_.-]+$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IndexSchema(_Model):
    """A secondary index: global (its own partition key) or local (the table's).

    ``projection`` is ``"ALL"``, ``"KEYS_ONLY"`` or the non-key attributes it
    includes (``INCLUDE``). An index that does not project every attribute can
    only serve queries whose filter (and, for a global index, whose rows) need
    nothing else.
    """

    name: str = Field(min_length=3, max_length=255, pattern=_NAME_PATTERN)
    partition_key: str | None = Field(default=None, min_length=1)
    """None for a local index: it shares the table's partition key."""
    sort_key: str | None = Field(default=None, min_length=1)
    local: bool = False
    projection: Literal["ALL", "KEYS_ONLY"] | tuple[str, ...] = "ALL"


class TableSchema(_Model):
    """The key schema of one table, as ``DescribeTable`` reports it."""

    partition_key: str = Field(min_length=1)
    sort_key: str | None = Field(default=None, min_length=1)
    indexes: tuple[IndexSchema, ...] = ()
    attribute_types: Mapping[str, KeyType] = Field(default_factory=dict)
    """Types of key attributes (``S``, ``N``, ``B``) where known. A Query needs
    key values of the key's type: with the type unknown, the literal's own type
    is assumed."""

    @model_validator(mode="after")
    def _check(self) -> TableSchema:
        seen: set[str] = set()
        for index in self.indexes:
            if index.name in seen:
                raise ValueError(f"two indexes are named {index.name!r}")
            seen.add(index.name)
            if index.local:
                if index.partition_key not in (None, self.partition_key):
                    raise ValueError(f"local index {index.name!r} must use the table's "
                                     f"partition key {self.partition_key!r}")
                if index.sort_key is None:
                    raise ValueError(f"local index {index.name!r} needs a sort key")
            elif index.partition_key is None:
                raise ValueError(f"global index {index.name!r} needs a partition key")
        return self

    @property
    def key_attributes(self) -> tuple[str, ...]:
        """The table's own key attributes (partition key, then sort key)."""
        return (self.partition_key,) if self.sort_key is None else (
            self.partition_key, self.sort_key)

    def access_paths(self) -> list[AccessPath]:
        """The table itself, then each index, as the planner weighs them."""
        return list(table_paths(self))


def _build_paths(table: TableSchema) -> tuple[AccessPath, ...]:
    table_keys = frozenset(table.key_attributes)
    paths = [AccessPath(None, table.partition_key, table.sort_key, None, table_keys,
                        local=False)]
    for index in table.indexes:
        pk = index.partition_key or table.partition_key
        keys = table_keys | {pk} | ({index.sort_key} if index.sort_key else set())
        projected: frozenset[str] | None
        if index.projection == "ALL":
            projected = None
        elif index.projection == "KEYS_ONLY":
            projected = frozenset(keys)
        else:
            projected = frozenset(keys | set(index.projection))
        paths.append(AccessPath(index.name, pk, index.sort_key, projected, table_keys,
                                local=index.local))
    return tuple(paths)


_PATHS: Memo[tuple[str, str | None, tuple[IndexSchema, ...]], tuple[AccessPath, ...]] = \
    Memo(256, "dynamodb access paths")
"""Access paths per key schema: every compile weighs them, and they depend only on the
keys and indexes (frozen models, so the key is their value, never a stale object)."""


def table_paths(table: TableSchema) -> tuple[AccessPath, ...]:
    """``table.access_paths()``, computed once per key schema."""
    key = (table.partition_key, table.sort_key, table.indexes)
    paths = _PATHS.get(key)
    if paths is None:
        paths = _PATHS.put(key, _build_paths(table))
    return paths


@dataclass(frozen=True, slots=True)
class AccessPath:
    """One way to read a table: the table itself (``index`` None) or an index."""

    index: str | None
    partition_key: str
    sort_key: str | None
    projected: frozenset[str] | None
    """Top-level attributes the index holds; None when it holds every attribute."""
    table_keys: frozenset[str]
    local: bool

    @property
    def keys(self) -> frozenset[str]:
        """The attributes a Query on this path may not filter on (its own keys)."""
        return frozenset((self.partition_key,) if self.sort_key is None
                         else (self.partition_key, self.sort_key))

    def always_present(self, attribute: str) -> bool:
        """Every item of the table has this attribute (it is a table key)."""
        return attribute in self.table_keys


class DynamoOptions(_Model):
    """Compile options for DynamoDB (a dict with these keys is accepted too)."""

    allow_scan: bool = True
    """False: a query that would need a ``Scan`` (no partition key pinned with
    ``==``) is refused with a ``CapabilityError`` instead."""
    pk_field: str = Field(default="_id", min_length=1)
    """The attribute CrossQL's ``_id`` stands for (the default partition key)."""
    table_prefix: str = Field(default="", pattern=r"^[A-Za-z0-9_.-]*$")
    """Prepended to a collection's name to give its table's name."""
    client_side: ClientSide | None = None
    """``{max_rows: N}``: what DynamoDB cannot order, group or aggregate is completed
    client-side over at most N rows read (docs/configuration.md, "Client-side
    completion"); None: refused."""


def _problems(err: ValidationError, prefix: str) -> list[tuple[str, str]]:
    out = []
    for e in err.errors():
        path = ".".join([prefix, *(str(p) for p in e["loc"])])
        msg = "unknown key" if e["type"] == "extra_forbidden" else e["msg"]
        out.append((path, msg))
    return out


def table_schemas(schema: Any) -> dict[str, TableSchema]:
    """The key schemas of ``schema`` by collection: a ``crossql.Schema`` (its DynamoDB
    parts, validated when it was declared), or ``{collection: table schema}`` (models
    or plain dicts), validated here; ``ConfigError`` lists every problem with its path.
    The answer may be the schema's own: copy it to change it."""
    if schema is None:
        return {}
    if not isinstance(schema, Mapping):
        tables = getattr(schema, "tables", None)  # a crossql.Schema
        if isinstance(tables, dict):
            return tables
        raise ConfigError([("schema", "expected a mapping of collection name to table "
                            f"schema, got {type(schema).__name__}")])
    out: dict[str, TableSchema] = {}
    problems: list[tuple[str, str]] = []
    for name, table in schema.items():
        if isinstance(table, TableSchema):
            out[str(name)] = table
            continue
        try:
            out[str(name)] = TableSchema.model_validate(table)
        except ValidationError as err:
            problems += _problems(err, f"schema.{name}")
    if problems:
        raise ConfigError(problems)
    return out


_DEFAULT_TABLES: Memo[str, TableSchema] = Memo(256, "dynamodb default tables")


def default_table(pk_field: str) -> TableSchema:
    """The schema of a collection without one: the table ``create_collection`` makes by
    default, keyed by ``pk_field`` alone, a string (``S``) partition key (validated once
    per ``pk_field``; the model is frozen, so it is shared). A plan compiled on it says
    so (``DynamoPlan.assumptions``): a table keyed otherwise may reject it."""
    table = _DEFAULT_TABLES.get(pk_field)
    if table is None:
        table = _DEFAULT_TABLES.put(pk_field, TableSchema(
            partition_key=pk_field, sort_key=None, attribute_types={pk_field: "S"}))
    return table


_DEFAULT_OPTIONS = DynamoOptions()
"""Frozen, so one instance serves every compile without options."""


def dynamo_options(options: Any) -> DynamoOptions:
    """Validate compile options (a ``DynamoOptions``, a dict or None)."""
    if options is None:
        return _DEFAULT_OPTIONS
    if isinstance(options, DynamoOptions):
        return options
    if not isinstance(options, Mapping):
        raise ConfigError([("options", "expected DynamoOptions or a mapping, got "
                            f"{type(options).__name__}")])
    try:
        return DynamoOptions.model_validate(options)
    except ValidationError as err:
        raise ConfigError(_problems(err, "options")) from None
