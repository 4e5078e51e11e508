"""One declared schema per collection, backend-neutral, as data (docs/schemas.md).

A ``Schema`` maps collection names to a ``CollectionSchema``: its fields (dotted
paths) with their value kinds, which are required (present in every document) and
which may be null, whether the field set is *closed* (an unknown name is an error)
and the backend-specific parts (DynamoDB's key schema; index declarations kept as
given). Every stage reads it through one lookup::

    spec = schema.collection("orders").field("total")   # FieldSpec | None
    spec.kind, spec.required, spec.nullable

``as_schema`` accepts everything ``schema=`` takes: a ``Schema``, or a mapping of
collection name to a pydantic model class, a declaration dict or a
``CollectionSchema``. A declaration dict is::

    {"fields": {"total": "float", "tags": "list[string]",
                "note": {"kind": "string", "nullable": true}},
     "required": ["total", "address.city"],   # also Firestore's old form alone
     "closed": true,
     "dynamodb": {"partition_key": "user_id", "sort_key": "created_at"},
     "indexes": [...]}                         # kept as given (docs/indexes)

DynamoDB's old key-schema form (``partition_key``, ``sort_key``, ``indexes``,
``attribute_types`` at the top of the entry) is accepted as the ``dynamodb`` part.
"""

from __future__ import annotations

import difflib
import enum
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from functools import cached_property
from typing import Any, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from crossql.backends.dynamodb.schema import TableSchema
from crossql.errors import ConfigError

Kind: TypeAlias = Literal["any", "string", "int", "float", "number", "bool", "null", "list",
                          "set", "map", "timestamp", "bytes", "decimal", "objectid",
                          "epoch_seconds", "epoch_millis"]
"""A field's declared value kind: the language's kinds (docs/language.md, "Values"),
``number`` for an int or a float, ``any`` for a field whose kind is not declared;
``epoch_seconds``/``epoch_millis`` for an instant stored as a number (seconds or
milliseconds since 1970-01-01 UTC), which a timestamp is compared with as that number."""

KINDS: tuple[Kind, ...] = typing.get_args(Kind)

_KIND_WORDS: dict[str, Kind] = {
    **{k: k for k in KINDS},
    "str": "string", "text": "string", "integer": "int", "double": "float",
    "boolean": "bool", "datetime": "timestamp", "dict": "map", "object": "map",
    "nested": "map", "object_id": "objectid", "exact": "decimal",
}
"""Words a declaration may use for a kind (the kind's own name, or a common synonym)."""

_CONTAINERS = frozenset({"list", "set"})
_DYNAMO_KEYS = frozenset({"partition_key", "sort_key", "attribute_types"})
_ENTRY_KEYS = frozenset({"fields", "required", "nullable", "closed", "id", "dynamodb",
                         "indexes", "model"})


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldSpec(_Model):
    """One declared field: its dotted path, kind and presence."""

    path: str = Field(min_length=1)
    """The stored name, dotted for a field inside a map (``address.city``)."""
    kind: Kind = "any"
    items: Kind | None = None
    """The kind of a ``list``'s or ``set``'s elements (None: any)."""
    required: bool = False
    """Present in every document (a nested field: whenever its parent is)."""
    nullable: bool = False
    """May hold ``null``."""

    @property
    def segments(self) -> tuple[str, ...]:
        """The path as segments."""
        return tuple(self.path.split("."))

    @property
    def scalar(self) -> bool:
        """A single value of one kind (not a list, set, map, or of any kind)."""
        return self.kind not in ("any", "list", "set", "map", "null")

    def describe(self) -> str:
        """The kind as a declaration writes it (``list[int]``, ``string?``)."""
        text = f"{self.kind}[{self.items}]" if self.items else self.kind
        return text + ("?" if self.nullable else "")


class CollectionSchema(_Model):
    """What is declared of one collection."""

    fields: Mapping[str, FieldSpec] = Field(default_factory=dict)
    """Dotted path → its declaration."""
    closed: bool = False
    """Every field is declared: an unknown name in a query is an error."""
    id_field: str = "_id"
    """The stored name of the document id (CrossQL's ``_id``)."""
    dynamodb: TableSchema | None = None
    """The DynamoDB table's key schema (keys, key types, indexes)."""
    indexes: tuple[Any, ...] = ()
    """Index declarations as given (validated by the index model, docs/indexes.md)."""
    model: type[BaseModel] | None = Field(default=None, exclude=True, repr=False)
    """The pydantic model this was read from, if any (typed results)."""

    # -- lookup ------------------------------------------------------------------
    def field(self, path: str | Sequence[str]) -> FieldSpec | None:
        """The declaration of ``path`` (dotted text or segments), or None."""
        return self.fields.get(path if isinstance(path, str) else ".".join(path))

    def required(self, path: str | Sequence[str]) -> bool:
        """Whether every document holds ``path`` (a map holding a required field counts)."""
        return _segments(path) in self.required_paths

    def nullable(self, path: str | Sequence[str]) -> bool:
        """Whether ``path`` may hold null (an undeclared path may)."""
        spec = self.field(path)
        return spec is None or spec.nullable or spec.kind in ("any", "null")

    def kind(self, path: str | Sequence[str]) -> Kind:
        """The declared kind of ``path`` (``any`` when undeclared)."""
        spec = self.field(path)
        return "any" if spec is None else spec.kind

    def known(self, path: str | Sequence[str]) -> bool:
        """Whether a query may name ``path``: the id, a declared field, a map above one,
        or anything below a declared field whose inside is not declared (a ``map``,
        ``list`` or ``any`` without declared fields of its own). Always true when the
        schema is open."""
        if not self.closed:
            return True
        segs = _segments(path)
        if segs[0] in ("_id", self.id_field) and len(segs) == 1:
            return True
        if segs in self._prefixes:
            return True
        for n in range(len(segs) - 1, 0, -1):
            spec = self.fields.get(".".join(segs[:n]))
            if spec is not None:
                return spec.kind in ("any", "map", "list", "set") and segs[:n] not in \
                    self._parents
        return False

    def suggest(self, path: str | Sequence[str]) -> str | None:
        """The declared path closest to ``path`` ("did you mean"), or None."""
        dotted = path if isinstance(path, str) else ".".join(path)
        close = difflib.get_close_matches(dotted, [*self.fields, "_id"], n=1, cutoff=0.6)
        return close[0] if close else None

    @cached_property
    def timestamp_fields(self) -> tuple[tuple[str, ...], ...]:
        """The segments of every field declared ``timestamp``."""
        return tuple(spec.segments for spec in self.fields.values()
                     if spec.kind == "timestamp")

    def written(self, doc: dict[str, Any]) -> dict[str, Any]:
        """``doc`` as it is stored: ISO-8601 text in a field declared ``timestamp`` is
        written as the instant it names (each backend stores its own timestamp form,
        e.g. DynamoDB's fixed-width text); ``doc`` itself when nothing changes. Text that
        is not ISO-8601 is left as it is."""
        out = doc
        for segs in self.timestamp_fields:
            found, value = _lookup(doc, segs)
            if not found or type(value) is not str:
                continue
            try:
                instant = datetime.fromisoformat(value)
            except ValueError:
                continue
            if out is doc:
                out = _copied_maps(doc)
            parent = out
            for seg in segs[:-1]:
                parent = parent[seg]
            parent[segs[-1]] = instant
        return out

    def problems(self, doc: Mapping[str, Any]) -> list[tuple[str, str]]:
        """What keeps ``doc`` from following this declaration: a required field missing,
        a value of another kind, a null where none is declared, and (closed) a field not
        declared; ``(path, message)`` each, none when it follows it."""
        out: list[tuple[str, str]] = []
        for spec in self.fields.values():
            found, value = _lookup(doc, spec.segments)
            if not found:
                if spec.required and _parents_present(doc, spec.segments):
                    out.append((spec.path, "required, missing"))
                continue
            problem = _value_problem(spec, value)
            if problem is not None:
                out.append((spec.path, problem))
        if self.closed:
            out += [(path, "not declared (the schema is closed)")
                    for path in _undeclared(self, doc, ())]
        return out

    @cached_property
    def required_paths(self) -> frozenset[tuple[str, ...]]:
        """Every path present in every document, as segments, with the maps above each
        (Firestore's ``order by`` and the guards read this)."""
        out: set[tuple[str, ...]] = set()
        for spec in self.fields.values():
            if spec.required:
                segs = spec.segments
                out.update(segs[:n] for n in range(1, len(segs) + 1))
        return frozenset(out)

    @cached_property
    def guard_facts(self) -> dict[str, int]:
        """Dotted path → what its declaration proves, for dropping guards: 1 never an
        array (a kind other than list, set, any), 2 always present and never null
        (required, not nullable). Paths it proves nothing of are left out."""
        out: dict[str, int] = {}
        for path, spec in self.fields.items():
            facts = 1 if spec.kind not in ("any", "list", "set") else 0
            if spec.required and not spec.nullable and spec.kind not in ("any", "null"):
                facts |= 2
            if facts:
                out[path] = facts
        return out

    @cached_property
    def present_attributes(self) -> frozenset[str]:
        """Top-level fields every document has, never null (a DynamoDB sparse index on
        one holds every item)."""
        return frozenset(spec.path for spec in self.fields.values()
                         if spec.required and not spec.nullable and "." not in spec.path
                         and spec.kind != "null")

    @cached_property
    def _prefixes(self) -> frozenset[tuple[str, ...]]:
        out: set[tuple[str, ...]] = set()
        for spec in self.fields.values():
            segs = spec.segments
            out.update(segs[:n] for n in range(1, len(segs) + 1))
        return frozenset(out)

    @cached_property
    def _parents(self) -> frozenset[tuple[str, ...]]:
        return frozenset(spec.segments[:n] for spec in self.fields.values()
                         for n in range(1, len(spec.segments)))

    # -- sources -----------------------------------------------------------------
    @classmethod
    def from_model(cls, model: type[BaseModel], *, closed: bool | None = None
                   ) -> CollectionSchema:
        """The schema of a pydantic model class (docs/schemas.md has the table):
        ``X | None`` → nullable, no default → required, ``list[X]``, nested models →
        maps (their fields declared below), ``datetime`` → timestamp, ``bytes``,
        ``Decimal``, ``Literal``/enums → their values' kind; aliases are the stored
        names. Closed unless the model allows extra fields (``extra="allow"``)."""
        fields: dict[str, FieldSpec] = {}
        _model_fields(model, "", True, fields, set())
        if closed is None:
            closed = model.model_config.get("extra") != "allow"
        return cls(fields=fields, closed=closed, model=model)

    @classmethod
    def from_declaration(cls, entry: Mapping[str, Any], name: str = "?") -> CollectionSchema:
        """A declaration dict (the module's docstring shows the form), or either old
        form; ``ConfigError`` lists every problem with its path."""
        return _declaration(entry, f"schema.{name}")


class Schema(_Model):
    """The declared collections (``crossql.Schema``; docs/schemas.md)."""

    collections: Mapping[str, CollectionSchema] = Field(default_factory=dict)
    closed: bool = False
    """Every collection is declared: a query on another is an error."""

    def collection(self, name: str) -> CollectionSchema | None:
        """What is declared of collection ``name``, or None."""
        return self.collections.get(name)

    def field(self, collection: str, path: str | Sequence[str]) -> FieldSpec | None:
        """The declaration of ``path`` in ``collection``, or None."""
        entry = self.collections.get(collection)
        return None if entry is None else entry.field(path)

    @cached_property
    def tables(self) -> dict[str, TableSchema]:
        """Collection → its DynamoDB key schema, for those that declare one."""
        return {name: c.dynamodb for name, c in self.collections.items()
                if c.dynamodb is not None}

    @cached_property
    def checks_names(self) -> bool:
        """Whether a query's names are checked at all (a collection or the set of
        collections is closed, or a field's kind is declared)."""
        return self.closed or any(c.closed or any(s.kind != "any" for s in c.fields.values())
                                  for c in self.collections.values())

    def merged(self, other: Schema | None) -> Schema:
        """This schema with ``other``'s collections over it (a collection in both is
        ``other``'s); closed if either is."""
        if other is None or (not other.collections and not other.closed):
            return self
        return Schema(collections={**self.collections, **other.collections},
                      closed=self.closed or other.closed)

    def with_tables(self, tables: Mapping[str, TableSchema]) -> Schema:
        """This schema with the DynamoDB key schemas of ``tables`` (discovered by
        ``DescribeTable``) filled in where none is declared."""
        collections = dict(self.collections)
        for name, table in tables.items():
            entry = collections.get(name)
            if entry is None:
                collections[name] = CollectionSchema(dynamodb=table)
            elif entry.dynamodb != table:
                collections[name] = entry.model_copy(update={"dynamodb": table})
        return Schema(collections=collections, closed=self.closed)

    @classmethod
    def of(cls, value: Any, *, closed: bool | None = None) -> Schema:
        """``value`` as a ``Schema`` (``as_schema``); ``closed`` overrides whether
        unknown collections are errors."""
        schema = as_schema(value) or cls()
        if closed is not None and closed != schema.closed:
            schema = schema.model_copy(update={"closed": closed})
        return schema


EMPTY = Schema()


def as_schema(value: Any, *, where: str = "schema") -> Schema | None:
    """What ``schema=`` was given, as a ``Schema`` (None stays None).

    Accepted: a ``Schema``; a mapping of collection name to a pydantic model class, a
    declaration dict (either old form too: Firestore's ``{"required": [...]}``,
    DynamoDB's key schema) or a ``CollectionSchema``; a mapping ``{"collections":
    {...}, "closed": true}`` for the whole schema. A value of the wrong type raises
    ``TypeError``; a declaration with problems ``ConfigError`` listing each with its
    path (under ``where``)."""
    if value is None or isinstance(value, Schema):
        return value
    if not isinstance(value, Mapping):
        raise TypeError(f"a schema is a mapping of collections, not {type(value).__name__}")
    if _is_whole(value):
        inner = as_schema(value["collections"], where=where) or EMPTY
        closed = value.get("closed", False)
        if not isinstance(closed, bool):
            raise ConfigError([(f"{where}.closed", "expected true or false")])
        return inner.model_copy(update={"closed": closed}) if closed else inner
    collections: dict[str, CollectionSchema] = {}
    problems: list[tuple[str, str]] = []
    for name, entry in value.items():
        try:
            collections[str(name)] = collection_schema(entry, str(name), where=where)
        except ConfigError as err:
            problems += err.problems
    if problems:
        raise ConfigError(problems)
    return Schema(collections=collections)


def _is_whole(value: Mapping[str, Any]) -> bool:
    return isinstance(value.get("collections"), Mapping) and set(value) <= {"collections",
                                                                             "closed"}


def collection_schema(entry: Any, name: str = "?", *, where: str = "schema"
                      ) -> CollectionSchema:
    """One collection's entry of ``schema=`` as a ``CollectionSchema``: a
    ``CollectionSchema``, a pydantic model class, a DynamoDB ``TableSchema`` or a
    declaration dict."""
    if isinstance(entry, CollectionSchema):
        return entry
    if isinstance(entry, TableSchema):
        return CollectionSchema(dynamodb=entry)
    if isinstance(entry, type) and issubclass(entry, BaseModel):
        return CollectionSchema.from_model(entry)
    if isinstance(entry, Mapping):
        return _declaration(entry, f"{where}.{name}")
    raise TypeError(f"schema[{name!r}] is a mapping, not {type(entry).__name__}")


# -- declaration dicts -------------------------------------------------------------------
def _declaration(entry: Mapping[str, Any], where: str) -> CollectionSchema:
    keys = set(entry)
    unknown = keys - _ENTRY_KEYS - _DYNAMO_KEYS
    old_dynamo = bool(keys & _DYNAMO_KEYS) or (unknown and not keys & _ENTRY_KEYS)
    problems: list[tuple[str, str]] = []
    table: TableSchema | None = None
    if old_dynamo:  # DynamoDB's key schema at the top of the entry (indexes are its own)
        table = _table({k: v for k, v in entry.items()
                        if k in _DYNAMO_KEYS or k == "indexes" or k in unknown},
                       where, problems)
    else:
        problems += [(f"{where}.{k}", "unknown key") for k in sorted(map(str, unknown))]
    if "dynamodb" in entry:
        if table is not None:
            problems.append((f"{where}.dynamodb", "the key schema is given twice (here and "
                                                  "at the top of the entry)"))
        table = _table(entry["dynamodb"], f"{where}.dynamodb", problems)
    base = _model_of(entry.get("model"), f"{where}.model", problems)
    fields = _declared_fields(entry, where, problems,
                              dict(base.fields) if base is not None else {})
    closed = entry.get("closed", base.closed if base is not None else False)
    if not isinstance(closed, bool):
        problems.append((f"{where}.closed", "expected true or false"))
    id_field = entry.get("id", "_id")
    if not isinstance(id_field, str) or not id_field:
        problems.append((f"{where}.id", "expected a field name"))
    indexes = () if old_dynamo else entry.get("indexes", ())
    if not isinstance(indexes, list | tuple):
        problems.append((f"{where}.indexes", "expected a list of index declarations"))
    if problems:
        raise ConfigError(problems)
    return CollectionSchema(fields=fields, closed=closed, id_field=id_field, dynamodb=table,
                            indexes=tuple(indexes),
                            model=base.model if base is not None else None)


def _model_of(ref: Any, where: str, problems: list[tuple[str, str]]
              ) -> CollectionSchema | None:
    """The schema of ``model:`` — a pydantic model class, or ``"package.module:Class"``
    (how a YAML configuration names one)."""
    if ref is None:
        return None
    model = ref
    if isinstance(ref, str):
        module, _, name = ref.partition(":")
        try:
            from importlib import import_module

            model = getattr(import_module(module), name) if name else None
        except (ImportError, AttributeError) as err:
            problems.append((where, f"cannot import {ref!r}: {err}"))
            return None
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        problems.append((where, "expected a pydantic model class or \"package.module:Class\""))
        return None
    return CollectionSchema.from_model(model)


def _table(raw: Any, where: str, problems: list[tuple[str, str]]) -> TableSchema | None:
    if isinstance(raw, TableSchema):
        return raw
    try:
        return TableSchema.model_validate(raw)
    except ValidationError as err:
        for e in err.errors():
            path = ".".join([where, *(str(p) for p in e["loc"])])
            problems.append((path, "unknown key" if e["type"] == "extra_forbidden"
                             else e["msg"]))
        return None


def _declared_fields(entry: Mapping[str, Any], where: str, problems: list[tuple[str, str]],
                     fields: dict[str, FieldSpec]) -> dict[str, FieldSpec]:
    raw = entry.get("fields", {})
    if not isinstance(raw, Mapping):
        problems.append((f"{where}.fields", "expected a mapping of field path to kind"))
        raw = {}
    for path, decl in raw.items():
        spec = _field(str(path), decl, f"{where}.fields.{path}", problems)
        if spec is not None:
            fields[spec.path] = spec
    for key, flag in (("required", "required"), ("nullable", "nullable")):
        listed = entry.get(key, ())
        if isinstance(listed, str) or not isinstance(listed, Iterable):
            problems.append((f"{where}.{key}", "expected a list of field paths"))
            continue
        for item in listed:
            if isinstance(item, str):
                path = item
            elif isinstance(item, list | tuple) and all(isinstance(s, str) for s in item):
                path = ".".join(item)
            else:
                problems.append((f"{where}.{key}", f"{item!r} is not a field path"))
                continue
            old = fields.get(path) or FieldSpec(path=path)
            fields[path] = old.model_copy(update={flag: True})
    return fields


def _field(path: str, decl: Any, where: str,
           problems: list[tuple[str, str]]) -> FieldSpec | None:
    if isinstance(decl, str):
        try:
            kind, items, nullable = parse_kind(decl)
        except ValueError as err:
            problems.append((where, str(err)))
            return None
        return FieldSpec(path=path, kind=kind, items=items, nullable=nullable)
    if isinstance(decl, Mapping):
        data = dict(decl)
        text = data.pop("kind", "any")
        try:
            kind, items, nullable = parse_kind(str(text))
        except ValueError as err:
            problems.append((f"{where}.kind", str(err)))
            return None
        data.setdefault("items", items)
        data["nullable"] = data.get("nullable", False) or nullable
        try:
            return FieldSpec.model_validate({"path": path, "kind": kind, **data})
        except ValidationError as err:
            for e in err.errors():
                loc = ".".join([where, *(str(p) for p in e["loc"])])
                problems.append((loc, "unknown key" if e["type"] == "extra_forbidden"
                                 else e["msg"]))
            return None
    problems.append((where, f"expected a kind (e.g. \"int\") or a mapping, not "
                            f"{type(decl).__name__}"))
    return None


def parse_kind(text: str) -> tuple[Kind, Kind | None, bool]:
    """``kind``, element kind and nullability of a kind as declared: ``int``,
    ``list[string]``, ``set[int]``, ``timestamp?`` (``?``: may be null); synonyms such
    as ``str``, ``datetime``, ``dict`` are accepted."""
    word = text.strip().lower()
    nullable = word.endswith("?")
    word = word.removesuffix("?").strip()
    items: Kind | None = None
    if word.endswith("]") and "[" in word:
        outer, inner = word[:-1].split("[", 1)
        outer = outer.strip()
        if _KIND_WORDS.get(outer) not in _CONTAINERS:
            raise ValueError(f"{text!r}: only list[...] and set[...] take an element kind")
        items = _word(inner.strip(), text)
        word = outer
    return _word(word, text), items, nullable


def _word(word: str, text: str) -> Kind:
    kind = _KIND_WORDS.get(word)
    if kind is None:
        close = difflib.get_close_matches(word, list(_KIND_WORDS), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"{text!r} is not a kind{hint}; kinds: {', '.join(KINDS)}")
    return kind


# -- pydantic models ---------------------------------------------------------------------
_SCALARS: tuple[tuple[type, Kind], ...] = (
    (bool, "bool"), (int, "int"), (float, "float"), (str, "string"), (bytes, "bytes"),
    (datetime, "timestamp"), (date, "timestamp"), (Decimal, "decimal"),
)


def _model_fields(model: type[BaseModel], prefix: str, parent_required: bool,
                  out: dict[str, FieldSpec], seen: set[type]) -> None:
    seen = seen | {model}
    for name, info in model.model_fields.items():
        stored = info.serialization_alias or info.alias or name
        if not isinstance(stored, str):
            stored = name
        path = f"{prefix}{stored}"
        nullable, kind, items, nested = _annotation(info.annotation)
        required = parent_required and info.is_required()
        out[path] = FieldSpec(path=path, kind=kind, items=items, required=required,
                              nullable=nullable)
        if nested is not None and nested not in seen:
            # a list of models: its elements' fields are declared, none required
            _model_fields(nested, f"{path}.", required and not nullable and kind == "map",
                          out, seen)


def _annotation(tp: Any) -> tuple[bool, Kind, Kind | None, type[BaseModel] | None]:
    """Nullable, kind, element kind and nested model of an annotation."""
    tp = _strip(tp)
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        nullable = len(args) < len(typing.get_args(tp))
        if len(args) == 1:
            _, kind, items, nested = _annotation(args[0])
            return nullable, kind, items, nested
        kinds = {_annotation(a)[1] for a in args}
        if kinds <= {"int", "float", "number"}:
            return nullable, "number", None, None
        return nullable, "any", None, None
    kind, items, nested = _kind_of(tp)
    return kind == "null", kind, items, nested


def _strip(tp: Any) -> Any:
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    return tp


def _kind_of(tp: Any) -> tuple[Kind, Kind | None, type[BaseModel] | None]:
    origin = typing.get_origin(tp)
    if tp is type(None) or tp is None:
        return "null", None, None
    if origin is Literal:
        kinds = {_kind_of(type(v))[0] for v in typing.get_args(tp)}
        return (kinds.pop() if len(kinds) == 1 else "any"), None, None
    if origin in (list, tuple, Sequence, typing.Sequence) or tp in (list, tuple):
        args = [a for a in typing.get_args(tp) if a is not Ellipsis]
        if not args:
            return "list", None, None
        _, item, _, nested = _annotation(args[0])
        kinds = {_annotation(a)[1] for a in args}
        return "list", (item if len(kinds) == 1 else None), nested
    if origin in (set, frozenset) or tp in (set, frozenset):
        members = typing.get_args(tp)
        return "set", (_annotation(members[0])[1] if members else None), None
    if origin in (dict, Mapping) or tp in (dict, Mapping):
        return "map", None, None
    if isinstance(tp, type):
        if issubclass(tp, BaseModel):
            return "map", None, tp
        if issubclass(tp, enum.Enum):
            kinds = {_kind_of(type(m.value))[0] for m in tp}
            return (kinds.pop() if len(kinds) == 1 else "any"), None, None
        for python, kind in _SCALARS:
            if issubclass(tp, python):
                return kind, None, None
        if tp.__name__ == "ObjectId":  # bson's, without importing bson
            return "objectid", None, None
    return "any", None, None


def _segments(path: str | Sequence[str]) -> tuple[str, ...]:
    return tuple(path.split(".")) if isinstance(path, str) else tuple(path)


# -- documents against a declaration ------------------------------------------------------
_MISSING: Any = object()


def _lookup(doc: Mapping[str, Any], segments: tuple[str, ...]) -> tuple[bool, Any]:
    value: Any = doc
    for seg in segments:
        if not isinstance(value, Mapping) or seg not in value:
            return False, None
        value = value[seg]
    return True, value


def _parents_present(doc: Mapping[str, Any], segments: tuple[str, ...]) -> bool:
    found, value = _lookup(doc, segments[:-1])
    return found and isinstance(value, Mapping)


def _not_bool(v: Any) -> bool:
    return not isinstance(v, bool)


_KIND_CHECKS: dict[str, Any] = {
    "string": lambda v: isinstance(v, str),
    "int": lambda v: isinstance(v, int) and _not_bool(v),
    "float": lambda v: isinstance(v, int | float) and _not_bool(v),
    "number": lambda v: isinstance(v, int | float) and _not_bool(v),
    "decimal": lambda v: isinstance(v, Decimal | int) and _not_bool(v),
    "bool": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "list": lambda v: isinstance(v, list | tuple),
    "set": lambda v: isinstance(v, set | frozenset | list | tuple),
    "map": lambda v: isinstance(v, Mapping),
    # ISO-8601 text is how some writers store a timestamp (docs/schemas.md)
    "timestamp": lambda v: isinstance(v, datetime | str),
    "bytes": lambda v: isinstance(v, bytes | bytearray),
    "epoch_seconds": lambda v: isinstance(v, int | float) and _not_bool(v),
    "epoch_millis": lambda v: isinstance(v, int | float) and _not_bool(v),
    "objectid": lambda v: isinstance(v, str) or type(v).__name__ == "ObjectId",
}
"""Declared kind → whether a Python value (as a driver returns it) is of that kind."""


def _is_kind(kind: Kind | None, value: Any) -> bool:
    return kind is None or kind == "any" or bool(_KIND_CHECKS[kind](value))


def _value_problem(spec: FieldSpec, value: Any) -> str | None:
    if value is None:
        return None if spec.nullable or spec.kind in ("any", "null") else "null, not nullable"
    if not _is_kind(spec.kind, value):
        return f"expected {spec.describe()}, got {type(value).__name__}"
    if spec.kind in _CONTAINERS and spec.items is not None:
        for i, item in enumerate(value):
            if item is not None and not _is_kind(spec.items, item):
                return f"element {i}: expected {spec.items}, got {type(item).__name__}"
    return None


def _undeclared(entry: CollectionSchema, doc: Mapping[str, Any],
                prefix: tuple[str, ...]) -> Iterable[str]:
    for key, value in doc.items():
        segs = (*prefix, str(key))
        if not entry.known(segs):
            yield ".".join(segs)
        elif isinstance(value, Mapping) and segs in entry._parents:
            yield from _undeclared(entry, value, segs)


def document_problems(model: type[BaseModel], doc: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Why ``doc`` does not validate as ``model`` (``(path, message)`` each), or []."""
    try:
        model.model_validate(doc)
    except ValidationError as err:
        return [(".".join(str(p) for p in e["loc"]), e["msg"]) for e in err.errors()]
    return []


def _copied_maps(doc: Mapping[str, Any]) -> dict[str, Any]:
    """``doc`` with its maps copied (not its other values), to set fields below them."""
    return {k: _copied_maps(v) if isinstance(v, Mapping) else v for k, v in doc.items()}
