"""Hypothesis strategies for CrossQL: arbitrary IR, and typed documents with queries.

Two families live here.

1. **Arbitrary IR** (``any_query``, ``any_condition``, ``any_value``): every node type
   of ``crossql.ir``, names that need backticks (keywords in any case, unicode,
   backticks, dots, spaces), every literal kind (unicode strings, extreme ints and
   floats, nested lists) and parameters, shaped exactly as the parser builds them
   (``And``/``Or`` with at least two operands, lists nested at most 8 deep, no
   parameter inside a list, ``limit`` an int literal or a parameter). With
   ``valid=True`` (the default) the IR also passes ``check_query``: ordering
   compares with numbers or strings, ``startswith`` takes a string, ``matches`` a
   valid regex, ``size`` an int, ``in``/``contains any``/``all`` a list, select
   outputs are distinct, grouped queries select only group keys and aggregates, and
   so on. With ``valid=False`` it is anything the grammar accepts. For round-trip
   tests (format → parse).

2. **A typed document model** for differential tests against real servers
   (LANGUAGE.md semantics rule 7): ``DEFAULT_SCHEMA`` fixes a set of fields, each
   of ONE type (int, float, string, bool, array of strings, array of ints, a
   nested map with its own typed fields), whose values are sometimes ``null`` and
   sometimes missing. ``documents(n)`` draws up to ``n`` documents with unique
   string ``_id``; ``conditions(schema)`` and ``queries(schema)`` compare each field
   only with values of its type, using every condition form, ``order by``
   (``total_order=True`` appends ``_id`` so the order is total), ``limit``/
   ``offset``, ``select`` and ``group by`` with aggregates. Domains are tiny so
   values collide and predicates come out true, false and unknown in useful
   proportions.

   Caveat for differential use: ``sum``/``avg`` over the float field may differ in
   the last bits between engines (summation order); compare them with a tolerance.
"""

from __future__ import annotations

import functools
import operator
import re
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from hypothesis import strategies as st

from crossql import ir
from crossql.compiler.shape import output_key, output_name
from crossql.grammar.parser import INT64_MAX, INT64_MIN, KEYWORDS, condition_depth
from crossql.limits import MAX_CONDITION_DEPTH

__all__ = [
    "DEFAULT_SCHEMA",
    "ID_DOMAIN",
    "MAX_DOCS",
    "MISSING",
    "REGEX_PATTERNS",
    "Field",
    "Schema",
    "any_condition",
    "any_literal",
    "any_query",
    "any_value",
    "any_write",
    "bound_lists_near_limits",
    "conditions",
    "documents",
    "drop_paging",
    "firestore_sized_values",
    "key_conditions",
    "names",
    "queries",
    "queries_by_id",
    "wild_documents",
]

# =============================================================================
# 1. Arbitrary IR
# =============================================================================

_KEYWORD_LIST = sorted(KEYWORDS)
_FUNCTION_NAMES = ["count", "sum", "avg", "min", "max", "exists", "size"]

_IDENT_START = string.ascii_letters + "_"
_plain_identifiers = st.builds(  # [A-Za-z_][A-Za-z0-9_]*, cheaper than st.from_regex
    operator.add, st.sampled_from(_IDENT_START), st.text(_IDENT_START + string.digits, max_size=7)
)
_any_char = st.characters(exclude_categories=("Cs",))  # no lone surrogates


@st.composite
def _keyword_any_case(draw: st.DrawFn) -> str:
    word = draw(st.sampled_from(_KEYWORD_LIST))
    flips = draw(st.lists(st.booleans(), min_size=len(word), max_size=len(word)))
    return "".join(c.upper() if f else c for c, f in zip(word, flips, strict=True))


_tricky_chars = st.sampled_from(list("` .-:\"'\\\n\t()[],=<>!é😀\u00a0\u2028"))


@functools.cache
def names() -> st.SearchStrategy[str]:
    """One name segment: plain, a keyword in any case, a function name, or text
    that needs backticks (unicode, backticks, dots, spaces, newlines)."""
    return st.one_of(
        _plain_identifiers,
        _plain_identifiers,
        _keyword_any_case(),
        st.sampled_from(_FUNCTION_NAMES),
        st.text(st.one_of(_any_char, _tricky_chars), min_size=1, max_size=6),
    )


@functools.cache
def _paths() -> st.SearchStrategy[ir.Path]:
    return st.lists(names(), min_size=1, max_size=3).map(lambda s: ir.Path(tuple(s)))


_param_names = st.one_of(_plain_identifiers, _keyword_any_case())
_params = _param_names.map(ir.Param)

_string_text = st.text(
    st.one_of(_any_char, st.sampled_from(list("\"'\\\n\t\r\x00\x1f\x7f`:-"))), max_size=10
)

_ints = st.one_of(
    st.integers(-100, 100),
    st.integers(INT64_MIN, INT64_MAX),
    st.sampled_from([INT64_MIN, INT64_MAX, 0, -1]),
)
_floats = st.floats(allow_nan=False, allow_infinity=False)


def _lit(value: Any, kind: ir.LiteralKind) -> ir.Literal:
    return ir.Literal(value, kind)


_int_literals = _ints.map(lambda v: _lit(v, "int"))
_float_literals = _floats.map(lambda v: _lit(v, "float"))
_string_literals = _string_text.map(lambda v: _lit(v, "string"))
_number_literals = st.one_of(_int_literals, _float_literals)
_orderable_literals = st.one_of(_int_literals, _float_literals, _string_literals)


@functools.cache
def any_literal() -> st.SearchStrategy[ir.Literal]:
    """Any scalar literal: null, bool, 64-bit int, finite float, unicode string."""
    return st.one_of(
        st.just(_lit(None, "null")),
        st.booleans().map(lambda v: _lit(v, "bool")),
        _int_literals,
        _float_literals,
        _string_literals,
    )


@functools.cache
def _list_values(depth: int = 3) -> st.SearchStrategy[ir.ListValue]:
    """Lists of literals, nested up to ``depth`` levels (the parser allows 8)."""
    item: st.SearchStrategy[Any] = any_literal()
    if depth > 1:
        item = st.one_of(any_literal(), any_literal(), _list_values(depth - 1))
    return st.lists(item, max_size=4).map(lambda xs: ir.ListValue(tuple(xs)))


@functools.cache
def any_value() -> st.SearchStrategy[ir.Value]:
    """A value as the parser builds it: a scalar, a (nested) list or a parameter."""
    return st.one_of(any_literal(), any_literal(), _list_values(), _params)


_list_or_param = st.one_of(_list_values(), _list_values(), _params)
_compare_ops = st.sampled_from(["==", "!=", "<", "<=", ">", ">="])
_equality_ops = st.sampled_from(["==", "!="])
_ordering_ops = st.sampled_from(["<", "<=", ">", ">="])

_safe_regex = st.one_of(
    st.sampled_from(["a", "^a", "b$", "^(a|b)$", "[A-Z]+", "x.*y", ".", "^$", "é+", r"\d"]),
    _string_text.map(re.escape),
)


@st.composite
def _between(draw: st.DrawFn, valid: bool) -> ir.Between:
    path = draw(_paths())
    if not valid:
        return ir.Between(path, draw(any_value()), draw(any_value()))
    kind = draw(st.sampled_from(["number", "string", "param"]))
    bound = {"number": _number_literals, "string": _string_literals}.get(
        kind, st.one_of(_params, _orderable_literals))
    if kind == "param":
        return ir.Between(path, draw(_params), draw(bound))
    return ir.Between(path, draw(bound), draw(bound))


def _predicates(valid: bool) -> st.SearchStrategy[ir.Condition]:
    paths = _paths()
    value = any_value()
    if valid:
        ordering = st.builds(ir.Compare, _ordering_ops, paths,
                             st.one_of(_orderable_literals, _params))
        equality = st.builds(ir.Compare, _equality_ops, paths, value)
        compares = st.one_of(equality, ordering)
        starts = st.one_of(_string_literals, _params)
        regex = st.one_of(_safe_regex.map(lambda s: _lit(s, "string")), _params)
        size_value = st.one_of(_int_literals, _params)
    else:
        compares = st.builds(ir.Compare, _compare_ops, paths, value)
        starts = regex = size_value = value
    return st.one_of(
        compares,
        compares,
        _between(valid),
        st.builds(ir.In, paths, _list_or_param, st.booleans()),
        st.builds(ir.Contains, paths, value),
        st.builds(ir.ContainsAny, paths, _list_or_param),
        st.builds(ir.ContainsAll, paths, _list_or_param),
        st.builds(ir.StartsWith, paths, starts),
        st.builds(ir.Matches, paths, regex),
        st.builds(ir.Exists, paths),
        st.builds(ir.Size, _compare_ops, paths, size_value),
    )


def _boolean_structure(
    leaves: st.SearchStrategy[ir.Condition], max_leaves: int
) -> st.SearchStrategy[ir.Condition]:
    def extend(inner: st.SearchStrategy[ir.Condition]) -> st.SearchStrategy[ir.Condition]:
        operands = st.lists(inner, min_size=2, max_size=4).map(tuple)
        # `not` adds no leaf, so unweighted it would wrap most trees
        return st.one_of(
            inner.map(ir.Not),
            operands.map(ir.And),
            operands.map(ir.Or),
            operands.map(ir.And),
            operands.map(ir.Or),
        )

    return st.recursive(leaves, extend, max_leaves=max_leaves).filter(
        lambda c: condition_depth(c) <= MAX_CONDITION_DEPTH
    )


def any_condition(valid: bool = True, max_leaves: int = 12) -> st.SearchStrategy[ir.Condition]:
    """A condition of every predicate form under not/and/or nesting, as the parser
    builds it. ``valid=True``: it also passes the compiler's checks."""
    return _boolean_structure(_predicates(valid), max_leaves)


_AGG_FUNCS = list(ir.AGGREGATE_FUNCS)


class _Outputs:
    """Select items whose output names and keys do not clash (as check_query wants)."""

    def __init__(self) -> None:
        self.items: list[ir.SelectItem] = []
        self._names: set[str] = set()
        self._keys: list[tuple[str, ...]] = []

    def add(self, item: ir.SelectItem) -> bool:
        name, key = output_name(item), output_key(item)
        if name in self._names:
            return False
        for other in self._keys:
            shorter = min(len(other), len(key))
            if other[:shorter] == key[:shorter]:
                return False
        self.items.append(item)
        self._names.add(name)
        self._keys.append(key)
        return True

    @property
    def aliases(self) -> list[str]:
        return [i.alias for i in self.items if i.alias is not None]


def _count(valid: bool) -> st.SearchStrategy[ir.Literal | ir.Param | None]:
    ints = st.integers(0, INT64_MAX) if valid else _ints
    return st.one_of(st.none(), st.none(), ints.map(lambda v: _lit(v, "int")), _params)


@st.composite
def _aggregate(draw: st.DrawFn, valid: bool) -> ir.Aggregate:
    func = draw(st.sampled_from(_AGG_FUNCS))
    optional = func == "count" or not valid
    arg = draw(st.one_of(st.none(), _paths()) if optional else _paths())
    return ir.Aggregate(func, arg)  # type: ignore[arg-type]


@st.composite
def _valid_query(draw: st.DrawFn, where: st.SearchStrategy[Any]) -> ir.Query:
    aliases = st.one_of(st.none(), names())
    outputs = _Outputs()
    group_by: list[ir.Path] = []
    order_by: list[ir.OrderKey] = []
    grouped = draw(st.booleans())
    if grouped:
        for path in draw(st.lists(_paths(), max_size=3)):
            if all(p.segments != path.segments for p in group_by):
                group_by.append(path)
        for path in group_by:
            if draw(st.booleans()):
                outputs.add(ir.SelectItem(path, draw(aliases)))
        for agg in draw(st.lists(_aggregate(True), min_size=0 if group_by else 1, max_size=3)):
            outputs.add(ir.SelectItem(agg, draw(aliases)))
        if not group_by and not any(isinstance(i.expr, ir.Aggregate) for i in outputs.items):
            outputs.add(ir.SelectItem(ir.Aggregate("count", None), None))
        choices = [ir.Path((a,)) for a in outputs.aliases] + group_by
        if choices:
            for path in draw(st.lists(st.sampled_from(choices), max_size=3)):
                order_by.append(ir.OrderKey(path, draw(st.booleans())))
    else:
        for path in draw(st.lists(_paths(), max_size=4)):
            outputs.add(ir.SelectItem(path, draw(aliases)))
        alias_paths = [ir.Path((a,)) for a in outputs.aliases]
        keys = st.one_of(_paths(), st.sampled_from(alias_paths)) if alias_paths else _paths()
        for path in draw(st.lists(keys, max_size=3)):
            order_by.append(ir.OrderKey(path, draw(st.booleans())))
    return ir.Query(
        collection=draw(names()),
        where=draw(st.one_of(st.none(), where)),
        group_by=tuple(group_by),
        select=tuple(outputs.items),
        order_by=tuple(order_by),
        limit=draw(_count(True)),
        offset=draw(_count(True)),
    )


_SYNTACTIC_ITEMS = st.builds(
    ir.SelectItem, st.one_of(_paths(), _aggregate(False)), st.one_of(st.none(), names())
)
_SYNTACTIC_ORDER = st.lists(st.builds(ir.OrderKey, _paths(), st.booleans()), max_size=3)


@st.composite
def _syntactic_query(draw: st.DrawFn, where: st.SearchStrategy[Any]) -> ir.Query:
    items = _SYNTACTIC_ITEMS
    return ir.Query(
        collection=draw(names()),
        where=draw(st.one_of(st.none(), where)),
        group_by=tuple(draw(st.lists(_paths(), max_size=3))),
        select=tuple(draw(st.lists(items, max_size=4))),
        order_by=tuple(draw(_SYNTACTIC_ORDER)),
        limit=draw(_count(False)),
        offset=draw(_count(False)),
    )


def any_query(valid: bool = True, max_leaves: int = 8) -> st.SearchStrategy[ir.Query]:
    """A whole query with every clause, as the parser builds it. ``valid=True``: it also
    passes ``check_query`` (parameters stay unbound)."""
    where = any_condition(valid, max_leaves)
    return _valid_query(where) if valid else _syntactic_query(where)


@st.composite
def _assignments(draw: st.DrawFn, valid: bool) -> tuple[ir.Assignment, ...]:
    out: list[ir.Assignment] = []
    for path in draw(st.lists(_paths(), min_size=1, max_size=4)):
        segs = path.segments
        if valid and (segs[0] == "_id" or any(
                o.path.segments[:len(segs)] == segs or segs[:len(o.path.segments)]
                == o.path.segments for o in out)):
            continue
        kind = draw(st.sampled_from(["set", "increment", "unset"]))
        if kind == "set":
            out.append(ir.SetField(path, draw(any_value())))
        elif kind == "increment":
            out.append(ir.Increment(path, draw(st.one_of(_number_literals, _params))))
        else:
            out.append(ir.Unset(path))
    if not out:
        out.append(ir.Unset(ir.Path(("x",))))
    return tuple(out)


@st.composite
def _write(draw: st.DrawFn, valid: bool, max_leaves: int) -> ir.Update | ir.Delete:
    collection = draw(names())
    where = draw(st.one_of(st.none(), any_condition(valid, max_leaves)))
    limit = draw(_count(valid))
    if draw(st.booleans()):
        return ir.Delete(collection, where, limit)
    return ir.Update(collection, draw(_assignments(valid)), where, limit)


def any_write(valid: bool = True, max_leaves: int = 6) -> st.SearchStrategy[ir.Update | ir.Delete]:
    """An ``update`` or ``delete`` as the parser builds it (``where=None`` is ``where
    true``). ``valid=True``: it also passes ``check_write`` (no ``_id``, no two
    assignments on one field or a field inside another; parameters stay unbound)."""
    return _write(valid, max_leaves)


# =============================================================================
# 2. Typed documents and the queries that respect their types
# =============================================================================


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
"""Marker a value strategy returns for "leave the field out"."""

MAX_DOCS = 20
ID_DOMAIN: tuple[str, ...] = tuple(f"d{i:02d}" for i in range(MAX_DOCS))
"""Document ids are strings (a Firestore id is one); their order is their text order."""

SCALAR_KINDS = ("int", "float", "string", "bool", "id")
ARRAY_KINDS = ("strings", "ints")


@dataclass(frozen=True)
class Field:
    """One field of a typed schema.

    ``kind`` is ``int``, ``float``, ``string``, ``bool``, ``id`` (the string ``_id``),
    ``strings``/``ints`` (arrays of that element type; ``domain`` holds the element
    values) or ``map`` (``fields`` are its own typed fields). ``domain`` is small on
    purpose so documents and literals collide. ``nullable``/``optional``: whether a
    document may hold ``null`` / leave the field out.
    """

    name: str
    kind: str
    domain: tuple[Any, ...] = ()
    fields: tuple[Field, ...] = ()
    nullable: bool = True
    optional: bool = True


@dataclass(frozen=True)
class Schema:
    """Fields of one type each; ``_id`` is implicit (unique strings from ID_DOMAIN)."""

    fields: tuple[Field, ...]

    def paths(self) -> list[tuple[ir.Path, Field]]:
        """Every path a query may use, with its field: ``_id``, each field, and the
        fields nested in maps (``m.k``)."""
        out = [(ir.Path(("_id",)), Field("_id", "id", ID_DOMAIN, nullable=False,
                                         optional=False))]

        def visit(prefix: tuple[str, ...], fields: Sequence[Field]) -> None:
            for f in fields:
                out.append((ir.Path((*prefix, f.name)), f))
                if f.kind == "map":
                    visit((*prefix, f.name), f.fields)

        visit((), self.fields)
        return out

    def paths_of(self, *kinds: str) -> list[tuple[ir.Path, Field]]:
        """The paths whose field has one of ``kinds``."""
        return [(p, f) for p, f in self.paths() if f.kind in kinds]


DEFAULT_SCHEMA = Schema((
    Field("n", "int", (-1, 0, 1, 2, 3)),
    Field("x", "float", (-0.5, 0.0, 1.0, 1.5, 2.25)),
    Field("s", "string", ("", "a", "ab", "abc", "b", "B", "é", "a b")),
    Field("b", "bool", (False, True)),
    Field("tags", "strings", ("a", "b", "c")),
    Field("nums", "ints", (0, 1, 2, 3)),
    Field("m", "map", fields=(
        Field("k", "string", ("a", "b", "c")),
        Field("v", "int", (0, 1, 2)),
    )),
    Field("first name", "string", ("Ada", "Bob", "ada")),  # needs backticks
))
"""The schema the differential tests use by default."""


# --- documents -----------------------------------------------------------------
# Strategies are built once per field and cached: building (and validating) fresh
# strategy objects inside every draw is what makes generation slow.

_ROLL = st.integers(0, 19)


@functools.cache
def _present_value(f: Field) -> st.SearchStrategy[Any]:
    if f.kind in SCALAR_KINDS:
        return st.sampled_from(f.domain)
    if f.kind in ARRAY_KINDS:
        return st.lists(st.sampled_from(f.domain), max_size=3)
    if f.kind == "map":
        return _body(f.fields)
    raise ValueError(f"unknown field kind {f.kind}")


@functools.cache
def _field_value(f: Field) -> st.SearchStrategy[Any]:
    present = _present_value(f)

    @st.composite
    def value(draw: st.DrawFn) -> Any:
        roll = draw(_ROLL)  # 15% missing, 15% null, 70% a value
        if f.optional and roll < 3:
            return MISSING
        if f.nullable and roll < 6:
            return None
        return draw(present)

    return value()


@functools.cache
def _body(fields: tuple[Field, ...]) -> st.SearchStrategy[dict[str, Any]]:
    values = st.tuples(*(_field_value(f) for f in fields))
    names = [f.name for f in fields]
    return values.map(
        lambda vs: {n: v for n, v in zip(names, vs, strict=True) if v is not MISSING}
    )


@st.composite
def documents(
    draw: st.DrawFn, n: int = 12, *, schema: Schema = DEFAULT_SCHEMA, min_size: int = 0
) -> list[dict[str, Any]]:
    """Between ``min_size`` and ``n`` documents of ``schema``, each with a unique string
    ``_id`` (first key); ids come in shuffled order so insertion order is not id order."""
    if n > MAX_DOCS:
        raise ValueError(f"at most {MAX_DOCS} documents (ID_DOMAIN)")
    bodies = draw(st.lists(_body(schema.fields), min_size=min_size, max_size=n))
    ids = draw(st.permutations(ID_DOMAIN[: len(bodies)]))
    return [{"_id": doc_id, **body} for doc_id, body in zip(ids, bodies, strict=True)]


@st.composite
def documents_with_arrays_of_maps(
    draw: st.DrawFn, n: int = 12, *, schema: Schema = DEFAULT_SCHEMA, min_size: int = 0
) -> list[dict[str, Any]]:
    """``documents``, where a map field sometimes holds an array of maps of its fields
    instead (``m: [{k: "a"}, {k: "b", v: 1}]``). The reference reads ``m.k`` as missing
    there, in every clause; a backend that reads into the array (MongoDB's ``$sort`` on
    ``m.k`` did) sorts, filters or groups those documents differently."""
    docs = draw(documents(n, schema=schema, min_size=min_size))
    maps = [f for f in schema.fields if f.kind == "map"]
    for doc in docs:
        for f in maps:
            if draw(_ROLL) < 7:  # about a third of the documents
                doc[f.name] = draw(st.lists(_body(f.fields), max_size=3))
    return docs


_wild_scalar = st.one_of(
    st.none(), st.booleans(), st.integers(-2, 3), st.sampled_from([0.0, 1.0, 1.5, -0.5]),
    st.sampled_from(["", "a", "ab", "b", "1", "é"]),
)
_wild_value = st.recursive(
    _wild_scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["k", "v", "n"]), inner, max_size=2),
    ),
    max_leaves=4,
)


@functools.cache
def _wild_field(f: Field) -> st.SearchStrategy[Any]:
    choices: list[st.SearchStrategy[Any]] = [st.just(MISSING), _wild_value, _wild_value,
                                             _wild_value]
    if f.kind == "map":
        choices.append(_body(f.fields))
    return st.one_of(choices)


@st.composite
def wild_documents(
    draw: st.DrawFn, n: int = 12, *, schema: Schema = DEFAULT_SCHEMA
) -> list[dict[str, Any]]:
    """Documents that break the type rule: each field of ``schema`` holds a value of
    any type (or null, or is missing). For laws that hold whatever the data."""
    body = st.tuples(*(_wild_field(f) for f in schema.fields))
    bodies = draw(st.lists(body, max_size=n))
    ids = draw(st.permutations(ID_DOMAIN[: len(bodies)]))
    docs = []
    for doc_id, values in zip(ids, bodies, strict=True):
        doc: dict[str, Any] = {"_id": doc_id}
        for f, v in zip(schema.fields, values, strict=True):
            if v is not MISSING:
                doc[f.name] = v
        docs.append(doc)
    return docs


# --- conditions over a schema ----------------------------------------------------

REGEX_PATTERNS: tuple[str, ...] = (
    "a", "^a", "b$", "^a.", "a|B", "^(a|b)$", "[bB]", "^$", "é", "^a b$", "c", "d",
    "^[a-c]+$", "^Ad",
)
"""Patterns in the common subset of PCRE, Python ``re`` and RE2: no escapes,
no lookaround, no backreferences, no flags."""
_ID_PATTERNS = ("^d0", "1$", "d1[0-3]", "^d0[2468]$")
_PREFIXES = ("", "a", "ab", "b", "d", "é", "A", "Ad")
_ID_PREFIXES = ("", "d", "d0", "d1", "d05", "x")
_NULL = ir.Literal(None, "null")


def _scalar_values(f: Field) -> st.SearchStrategy[Any]:
    """Plain values of the field's type (numbers mix ints and floats: both are numbers)."""
    domain = st.sampled_from(f.domain)
    if f.kind == "int":
        return st.one_of(domain, domain, st.sampled_from([1.0, 1.5, -0.5]))
    if f.kind == "float":
        return st.one_of(domain, domain, st.sampled_from([0, 1, 2]))
    if f.kind == "string":
        return st.one_of(domain, domain, st.sampled_from(["aa", "zz", "A"]))
    if f.kind == "id":
        return st.sampled_from(ID_DOMAIN[:14])
    return domain


def _value_list(values: st.SearchStrategy[Any], *, with_null: bool) -> st.SearchStrategy[Any]:
    item = st.one_of(values, values, values, st.none()) if with_null else values
    return st.lists(item, max_size=3).map(ir.literal_of)


@functools.cache
def _field_predicates(path: ir.Path, f: Field) -> st.SearchStrategy[ir.Condition]:
    """Every condition form that suits the field's type, on ``path``."""
    p = st.just(path)
    out: list[st.SearchStrategy[Any]] = []
    nullable = f.kind != "id"
    if nullable:
        out += [st.just(ir.Exists(path)), st.builds(ir.Compare, _equality_ops, p, st.just(_NULL))]
    if f.kind in ("int", "float", "string", "id", "bool"):
        scalar = _scalar_values(f).map(ir.literal_of)
        values = _value_list(_scalar_values(f), with_null=nullable)
        eq = st.builds(ir.Compare, _equality_ops, p, scalar)
        out += [eq, eq, st.builds(ir.In, p, values, st.booleans())]
        if f.kind != "bool":
            order = st.builds(ir.Compare, _ordering_ops, p, scalar)
            out += [order, order, st.builds(ir.Between, p, scalar, scalar)]
        if f.kind in ("string", "id"):
            prefixes = _ID_PREFIXES if f.kind == "id" else _PREFIXES
            patterns = _ID_PATTERNS if f.kind == "id" else REGEX_PATTERNS
            out += [
                st.builds(ir.StartsWith, p, st.sampled_from(prefixes).map(ir.literal_of)),
                st.builds(ir.Matches, p, st.sampled_from(patterns).map(ir.literal_of)),
            ]
    elif f.kind in ARRAY_KINDS:
        element = st.sampled_from(f.domain)
        arrays = st.lists(element, max_size=3).map(ir.literal_of)
        out += [
            st.builds(ir.Contains, p, element.map(ir.literal_of)),
            st.builds(ir.ContainsAny, p, arrays),
            st.builds(ir.ContainsAll, p, arrays),
            st.builds(ir.Size, _compare_ops, p, st.integers(0, 3).map(ir.literal_of)),
            st.builds(ir.Size, _compare_ops, p, st.integers(0, 3).map(ir.literal_of)),
            st.builds(ir.Compare, _equality_ops, p, arrays),
            st.builds(ir.In, p, st.lists(st.lists(element, max_size=2), min_size=1,
                                         max_size=2).map(ir.literal_of), st.booleans()),
        ]
    return st.one_of(out)


@functools.cache
def conditions(
    schema: Schema = DEFAULT_SCHEMA, max_leaves: int = 6
) -> st.SearchStrategy[ir.Condition]:
    """Conditions that compare each field of ``schema`` only with values of its type,
    using every form (==, !=, ordering, between, in, not in, contains, contains
    any/all, startswith, matches, exists, size, == null, != null) under not/and/or."""
    leaves = st.one_of([_field_predicates(path, f) for path, f in schema.paths()])
    return _boolean_structure(leaves, max_leaves)


# --- queries over a schema -------------------------------------------------------

_SORTABLE_KINDS = ("int", "float", "string", "bool", "id")
_GROUPABLE_KINDS = ("int", "string", "bool")
_ALIASES = [f"out{i}" for i in range(8)]
_LIMITS = st.one_of(st.none(), st.integers(0, 6))
_OFFSETS = st.one_of(st.none(), st.none(), st.integers(0, 4))
_QUARTER = st.integers(0, 3)


@dataclass(frozen=True)
class _Parts:
    """The strategies a schema's queries draw from, built once per schema."""

    where: st.SearchStrategy[ir.Condition | None]
    selected: st.SearchStrategy[list[tuple[ir.Path, Field]]]
    sortable: list[tuple[ir.Path, Field]]
    order_keys: st.SearchStrategy[list[tuple[ir.Path, Field]]]
    group_keys: st.SearchStrategy[list[tuple[ir.Path, Field]]]
    aggregates: st.SearchStrategy[list[ir.Aggregate]]
    aggregates_1: st.SearchStrategy[list[ir.Aggregate]]


@functools.cache
def _parts(schema: Schema) -> _Parts:
    def pick(kinds: tuple[str, ...] | None = None) -> st.SearchStrategy[ir.Path]:
        found = schema.paths() if kinds is None else schema.paths_of(*kinds)
        return st.sampled_from([p for p, _ in found])

    aggregate = st.one_of(
        st.just(ir.Aggregate("count", None)),
        pick().map(lambda p: ir.Aggregate("count", p)),
        pick(("int", "float")).map(lambda p: ir.Aggregate("sum", p)),
        pick(("int", "float")).map(lambda p: ir.Aggregate("avg", p)),
        pick(("int", "float", "string")).map(lambda p: ir.Aggregate("min", p)),
        pick(("int", "float", "string")).map(lambda p: ir.Aggregate("max", p)),
    )
    sortable = schema.paths_of(*_SORTABLE_KINDS)
    return _Parts(
        where=st.one_of(st.none(), conditions(schema)),
        selected=st.lists(st.sampled_from(schema.paths()), max_size=4),
        sortable=sortable,
        order_keys=st.lists(st.sampled_from(sortable), max_size=3),
        group_keys=st.lists(st.sampled_from(schema.paths_of(*_GROUPABLE_KINDS)), max_size=2),
        aggregates=st.lists(aggregate, max_size=3),
        aggregates_1=st.lists(aggregate, min_size=1, max_size=3),
    )


def _literal_or_none(value: int | None) -> ir.Literal | None:
    return None if value is None else ir.Literal(value, "int")


@st.composite
def _plain_query(draw: st.DrawFn, schema: Schema, total_order: bool) -> ir.Query:
    parts = _parts(schema)
    outputs = _Outputs()
    alias_pool = iter(_ALIASES)
    if draw(st.booleans()):
        for path, _f in draw(parts.selected):
            alias = next(alias_pool) if draw(_QUARTER) == 0 else None
            outputs.add(ir.SelectItem(path, alias))
    keys: list[ir.OrderKey] = []
    for path, _f in draw(parts.order_keys):
        if all(k.path != path for k in keys):
            keys.append(ir.OrderKey(path, draw(st.booleans())))
    # sometimes order by a select alias of a sortable path
    aliased = [i.alias for i in outputs.items if i.alias is not None
               and any(i.expr == p for p, _ in parts.sortable)]
    if aliased and draw(st.booleans()):
        alias = aliased[draw(st.integers(0, len(aliased) - 1))]
        keys.insert(0, ir.OrderKey(ir.Path((alias,)), draw(st.booleans())))
    limit, offset = draw(_LIMITS), draw(_OFFSETS)
    if total_order and (keys or limit is not None or offset is not None):
        keys = [k for k in keys if k.path.segments != ("_id",)]
        keys.append(ir.OrderKey(ir.Path(("_id",)), draw(st.booleans())))
    return ir.Query(
        collection="docs",
        where=draw(parts.where),
        select=tuple(outputs.items),
        order_by=tuple(keys),
        limit=_literal_or_none(limit),
        offset=_literal_or_none(offset),
    )


@st.composite
def _grouped_query(draw: st.DrawFn, schema: Schema, total_order: bool) -> ir.Query:
    parts = _parts(schema)
    group_by: list[ir.Path] = []
    for path, _f in draw(parts.group_keys):
        if path not in group_by:
            group_by.append(path)
    alias_pool = iter(_ALIASES)
    outputs = _Outputs()
    for path in group_by:
        if draw(_QUARTER) > 0:
            alias = next(alias_pool) if draw(st.booleans()) else None
            outputs.add(ir.SelectItem(path, alias))
    for agg in draw(parts.aggregates if group_by else parts.aggregates_1):
        outputs.add(ir.SelectItem(agg, next(alias_pool)))
    choices = [ir.Path((a,)) for a in outputs.aliases] + group_by
    keys: list[ir.OrderKey] = []
    for _ in range(draw(st.integers(0, 2)) if choices else 0):
        path = choices[draw(st.integers(0, len(choices) - 1))]
        if all(k.path != path for k in keys):
            keys.append(ir.OrderKey(path, draw(st.booleans())))
    limit, offset = draw(_LIMITS), draw(_OFFSETS)
    if total_order:  # groups are unique by their keys, so ordering by all keys is total
        keys += [ir.OrderKey(p, draw(st.booleans())) for p in group_by
                 if all(k.path != p for k in keys)]
    return ir.Query(
        collection="docs",
        where=draw(parts.where),
        group_by=tuple(group_by),
        select=tuple(outputs.items),
        order_by=tuple(keys),
        limit=_literal_or_none(limit),
        offset=_literal_or_none(offset),
    )


@functools.cache
def queries(
    schema: Schema = DEFAULT_SCHEMA, *, total_order: bool = False, grouped: bool | None = None
) -> st.SearchStrategy[ir.Query]:
    """Queries on collection ``docs`` of ``schema``: a typed ``where``, ``select`` (paths,
    aliases), ``order by`` (sortable scalar fields, aliases), ``limit``/``offset``, or
    ``group by`` with ``count()``, ``count(p)``, ``sum``, ``avg``, ``min``, ``max``.

    ``total_order=True``: whenever order matters (order by, limit, offset) the
    order is total — ``_id`` is the last key of a plain query, every group key is
    a key of a grouped one — so every backend must return the rows in the same
    order. ``grouped``: only grouped (True) or only plain (False) queries.
    """
    plain = _plain_query(schema, total_order)
    group = _grouped_query(schema, total_order)
    if grouped is True:
        return group
    if grouped is False:
        return plain
    return st.one_of(plain, plain, plain, group)


def drop_paging(query: ir.Query) -> ir.Query:
    """The query without ``limit``/``offset`` (to compare a page with the whole)."""
    return replace(query, limit=None, offset=None)


# --- values near Firestore's query value limit (issue #15, item 5) ----------------------


@st.composite
def firestore_sized_values(draw: st.DrawFn, limit: int = 1500) -> Any:
    """A query value within a few bytes of Firestore's query value limit (``limit`` bytes,
    a string counting its UTF-8 bytes + 1, a number 8, a bool or null 1, an array the sum
    of its values): a string of 1- to 4-byte characters, or an array of strings, numbers
    or bools; on either side of the edge in about equal proportions."""
    slack = draw(st.integers(-3, 3))
    kind = draw(st.sampled_from(["ascii", "wide", "strings", "numbers", "bools"]))
    if kind == "ascii":
        return "x" * (limit - 1 + slack)
    if kind == "wide":
        wide = draw(st.sampled_from(["é", "€", "😀"]))
        width = len(wide.encode("utf-8"))
        count = (limit - 1 + slack) // width
        return wide * count + "x" * (limit - 1 + slack - count * width)
    if kind == "strings":
        half = (limit + slack) // 2
        return ["a" * (half - 1), "b" * (limit + slack - half - 1)]
    if kind == "numbers":
        count = (limit + 8 * slack) // 8
        return [draw(st.sampled_from([1, 2.5]))] * count
    return [True] * (limit + slack)


# --- queries that fix the document id (issue #15, item 11b) ------------------------------


@st.composite
def queries_by_id(draw: st.DrawFn, schema: Schema = DEFAULT_SCHEMA) -> ir.Query:
    """A plain query of ``queries(schema)`` whose ``where`` is ``_id == <an id>``, alone or
    ``and``-ed with (before or after) a typed condition on the same document: a backend
    may answer it with a get by key; ``select``, ``order by``, ``limit`` and ``offset``
    stay as drawn, so paging a single document is exercised too. The id is sometimes
    one no document has."""
    query = draw(queries(schema, grouped=False))
    doc_id = draw(st.sampled_from((*ID_DOMAIN, "d-none")))
    on_id = ir.Compare("==", ir.Path(("_id",)), _lit(doc_id, "string"))
    rest = draw(st.one_of(st.none(), conditions(schema)))
    if rest is None:
        where: ir.Condition = on_id
    else:
        where = ir.And((on_id, rest) if draw(st.booleans()) else (rest, on_id))
    return replace(query, where=where)


# --- bound lists near the backends' limits ------------------------------------------

LIST_LENGTHS = (0, 1, 2, 9, 10, 11, 29, 30, 31, 99, 100, 101, 299, 300, 301, 1_000, 10_000)
"""Lengths around each backend's list limits (Firestore: 10 for `not in`, 30 for `in`;
DynamoDB: 100 values of an `IN`, 300 operators), and long lists past them all (10,000 is
the most a parameter may hold, ``MAX_LIST_ITEMS``)."""

_LIST_OPS = ("in", "not in", "contains any", "contains all")


def _bound_list(length: int, mode: str, seed: int) -> list[Any]:
    """``length`` values: distinct ints, distinct strings, a few values repeated (so the
    distinct ones stay under a limit however long the list), ints and floats that
    are equal numbers (1 and 1.0), or with nulls among them."""
    if mode == "ints":
        return [seed + i for i in range(length)]
    if mode == "strings":
        return [f"v{seed}_{i}" for i in range(length)]
    if mode == "repeated":
        return [i % (seed + 1) for i in range(length)]
    if mode == "numbers":
        return [i // 2 if i % 2 == 0 else float(i // 2) for i in range(length)]
    return [None if i % (seed + 2) == 0 else i for i in range(length)]  # "nulls"


@st.composite
def bound_lists_near_limits(draw: st.DrawFn) -> tuple[str, dict[str, Any], int]:
    """(query text, params, list length): ``a <op> :xs`` (``in``, ``not in``,
    ``contains any``, ``contains all``), alone or beside another predicate, with a
    bound list of a length near the backends' limits (``LIST_LENGTHS``). The list is
    built from a few drawn choices, not drawn item by item (10,000 items are more
    than a Hypothesis example holds)."""
    length = draw(st.sampled_from(LIST_LENGTHS))
    mode = draw(st.sampled_from(("ints", "strings", "repeated", "numbers", "nulls")))
    values = _bound_list(length, mode, draw(st.integers(0, 3)))
    op = draw(st.sampled_from(_LIST_OPS))
    condition = f"a {op} :xs"
    shape = draw(st.sampled_from(("alone", "not", "and", "or")))
    if shape == "not":
        condition = f"not ({condition})"
    elif shape != "alone":
        condition = f"{condition} {shape} b == 1"
    return f"from items where {condition}", {"xs": values}, length


# --- conditions on a table's key attributes --------------------------------------------


@functools.cache
def _key_predicates(path: ir.Path, kind: str) -> st.SearchStrategy[ir.Condition]:
    """Every condition form on a key attribute of type ``kind`` (``S`` or ``N``): also
    those a key never satisfies (it is never missing, ``null`` or an array) and values
    of the other type."""
    if kind == "S":
        values = st.one_of(st.sampled_from(ID_DOMAIN[:6]), st.sampled_from(_ID_PREFIXES))
    else:
        values = st.integers(-1, 6)
    other = st.integers(0, 3) if kind == "S" else st.sampled_from(ID_DOMAIN[:3])
    scalar = st.one_of(values, values, other).map(ir.literal_of)
    same = values.map(ir.literal_of)
    items = st.one_of(values, values, other, st.none())
    p = st.just(path)
    listed = st.lists(items, max_size=3).map(ir.literal_of)
    return st.one_of(
        st.builds(ir.Compare, _compare_ops, p, scalar),
        st.builds(ir.Compare, _equality_ops, p, st.just(_NULL)),
        st.builds(ir.Between, p, same, same),
        st.builds(ir.In, p, listed, st.booleans()),
        st.builds(ir.StartsWith, p, st.sampled_from(_ID_PREFIXES).map(ir.literal_of)),
        st.just(ir.Exists(path)),
        st.builds(ir.Contains, p, scalar),
        st.builds(ir.ContainsAny, p, listed.filter(lambda v: _NULL not in v.items)),
        st.builds(ir.ContainsAll, p, listed.filter(lambda v: _NULL not in v.items)),
        st.builds(ir.Size, _compare_ops, p, st.integers(0, 2).map(ir.literal_of)),
    )


@functools.cache
def key_conditions(keys: tuple[tuple[str, str], ...] = (("_id", "S"),),
                   schema: Schema = DEFAULT_SCHEMA,
                   max_leaves: int = 5) -> st.SearchStrategy[ir.Condition]:
    """Conditions on a table's key attributes (``keys``: name and type, ``S`` or ``N``)
    in every form, mixed under not/and/or with ``conditions(schema)``: a key is on
    every item, of its type, so the DynamoDB compiler drops the guards of missing,
    ``null`` and non-array values there (issue #15, item 11a); the answers must not
    change."""
    on_keys = st.one_of([_key_predicates(ir.Path((name,)), kind) for name, kind in keys])
    others = st.one_of([_field_predicates(path, f) for path, f in schema.paths()])
    return _boolean_structure(st.one_of(on_keys, on_keys, others), max_leaves)


# =============================================================================
# Names a backend may refuse
# =============================================================================

_REFUSED_NAME_PARTS = st.sampled_from(["$", "$x", ".", "a.b", "x.", "system.", "__x__", "\x00",
                                       "_id"])


def names_backends_may_refuse() -> st.SearchStrategy[str]:
    """A name that some backend cannot address, or accept as a collection or an output
    name: a `$` first, a `.` inside, NUL, `system.` first, `__x__`, `_id`."""
    return st.one_of(_REFUSED_NAME_PARTS,
                     st.tuples(_REFUSED_NAME_PARTS, names()).map("".join),
                     st.tuples(names(), _REFUSED_NAME_PARTS).map("".join))


@st.composite
def queries_with_names_backends_may_refuse(draw: st.DrawFn) -> ir.Query:
    """``any_query(valid=True)`` with its collection, its aliases (in ``order by`` too) and
    the first segment of its selected paths maybe renamed by ``names_backends_may_refuse``.
    It may no longer pass ``check_query``: a compile must then answer a located
    ``QueryError``, as it must for a name the backend refuses; never another exception."""
    query = draw(any_query(valid=True, max_leaves=4))
    hostile = names_backends_may_refuse()
    renamed: dict[str, str] = {}
    select = []
    for item in query.select:
        expr, alias = item.expr, item.alias
        if alias is not None and draw(st.booleans()):
            alias = renamed[alias] = draw(hostile)
        if isinstance(expr, ir.Path) and draw(st.booleans()):
            expr = ir.Path((draw(hostile), *expr.segments[1:]))
        select.append(replace(item, expr=expr, alias=alias))
    order_by = tuple(
        replace(k, path=ir.Path((renamed[k.path.segments[0]],)))
        if len(k.path.segments) == 1 and k.path.segments[0] in renamed else k
        for k in query.order_by)
    # a refused collection is refused first: renamed less often, the rest is reached
    collection = draw(hostile) if draw(st.integers(0, 3)) == 0 else query.collection
    return replace(query, collection=collection, select=tuple(select),
                               order_by=order_by)


# --- cursor pagination (issue 18) --------------------------------------------------------

PAGE_ORDERS: tuple[str, ...] = ("order by v", "order by v desc", "order by a desc, b asc",
                                "", "order by a, v desc", "order by b desc, a desc")
"""The orders the paging differential walks (``""``: no order by, the id alone)."""


def _page_value(draw: st.DrawFn, shared: list[Any], mixed: bool) -> Any:
    """An order value: often one of a few shared ones (ties), null or missing
    (``MISSING_VALUE``), of mixed types when ``mixed``."""
    roll = draw(st.integers(0, 19))
    if roll < 2:
        return None
    if roll < 4:  # enough null and missing that pages end among them
        return MISSING_VALUE
    if roll < 10:
        return draw(st.sampled_from(shared))
    if mixed and roll < 13:
        return draw(st.one_of(st.booleans(), st.text("abcz", max_size=3)))
    return draw(st.integers(-50, 50) | st.floats(-50, 50, allow_nan=False).map(
        lambda x: round(x, 1)))


MISSING_VALUE: Any = object()
"""``_page_value``'s stand-in for a field left out of the document."""


@st.composite
def paging_documents(draw: st.DrawFn, max_docs: int = 40, *,
                     mixed: bool = True) -> list[dict[str, Any]]:
    """Documents to page through: ids of mixed widths, order fields ``v``, ``a``, ``b``
    heavy with ties, null and missing values (and, when ``mixed``, strings and bools,
    which sort after numbers in the reference)."""
    count = draw(st.integers(0, max_docs))
    shared = [1, 2, 2.5, "x"] if mixed else [1, 2, 2.5]
    ids = draw(st.lists(st.integers(0, 10_000), min_size=count, max_size=count, unique=True))
    docs = []
    for n in ids:
        doc: dict[str, Any] = {"_id": f"d{n}"}
        for name in ("v", "a", "b"):
            value = _page_value(draw, shared, mixed)
            if value is not MISSING_VALUE:
                doc[name] = value
        docs.append(doc)
    return docs


# --- the native value kinds (issue 16) ---------------------------------------------
# Documents holding what drivers write (dates, object ids, binary data, exact numbers)
# and queries comparing them with values of their kind, of other kinds (a timestamp
# with its ISO text, an object id with its hex string) and with finer-than-millisecond
# instants. Values are Python objects (bson's where a kind is bson's): the queries are
# IR, compiled without a text round trip (bytes, decimals and object ids have no text).

def _native_domains() -> dict[str, tuple[Any, ...]]:
    from datetime import UTC, datetime, timedelta
    from decimal import Decimal

    from bson import ObjectId

    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    times = tuple(t0 + timedelta(hours=h, milliseconds=ms) for h, ms in
                  ((0, 0), (0, 1), (5, 0), (24, 250), (-24, 0)))
    oids = tuple(ObjectId(f"5f{n:022x}") for n in (1, 2, 3, 255))
    return {
        "at": times,
        "oid": oids,
        # one subtype in the documents: across subtypes the order is not promised
        # (MongoDB's $min put Binary(b"ab", 4) below b"ab", against its documented order)
        "bin": (b"", b"a", b"ab", b"b"),
        "dec": (Decimal("1.5"), Decimal("0.1"), Decimal("2"), 1.5, 2, 0.1, Decimal("-3.25")),
        # a field whose values are of several kinds: each native value beside its text
        "mix": (times[0], times[0].isoformat(), oids[0], str(oids[0]), b"a", "a", 1.5),
    }


NATIVE_FIELDS: tuple[str, ...] = ("at", "oid", "bin", "dec", "mix")
"""The fields of ``native_documents``."""


@functools.cache
def _native_field(name: str) -> st.SearchStrategy[Any]:
    domain = _native_domains()[name]
    return st.one_of(st.just(MISSING), st.none(), st.sampled_from(domain),
                     st.sampled_from(domain), st.sampled_from(domain))


@st.composite
def native_documents(draw: st.DrawFn, n: int = 12, *, min_size: int = 0) -> list[dict[str, Any]]:
    """Documents whose fields hold the native kinds (missing and null too); string ids."""
    size = draw(st.integers(min_size, min(n, MAX_DOCS)))
    docs = []
    for doc_id in draw(st.permutations(ID_DOMAIN[:size])):
        doc: dict[str, Any] = {"_id": doc_id}
        for name in NATIVE_FIELDS:
            value = draw(_native_field(name))
            if value is not MISSING:
                doc[name] = value
        docs.append(doc)
    return docs


@functools.cache
def _native_operand(name: str) -> st.SearchStrategy[Any]:
    """A value to compare field ``name`` with: of its kinds mostly, sometimes of another
    kind (text for a timestamp), sometimes an instant finer than a millisecond."""
    from datetime import timedelta

    from bson import Binary

    domain = _native_domains()[name]
    extra: list[Any] = []
    if name == "at":
        extra = [domain[0] + timedelta(microseconds=500), domain[0].isoformat(), "2026"]
    elif name == "oid":
        extra = [str(domain[0])]
    elif name == "bin":
        extra = ["a", Binary(b"ab", 4)]
    return st.sampled_from(domain + tuple(extra))


_NATIVE_ORDERED = ("at", "oid", "bin", "dec")


@functools.cache
def _native_predicates(name: str) -> st.SearchStrategy[ir.Condition]:
    path = ir.Path((name,))
    value = _native_operand(name).map(ir.literal_of)
    values = st.lists(_native_operand(name), max_size=3).map(ir.literal_of)
    out: list[st.SearchStrategy[Any]] = [
        st.builds(ir.Compare, _equality_ops, st.just(path), value),
        st.builds(ir.In, st.just(path), values, st.booleans()),
        st.just(ir.Exists(path)),
    ]
    if name in _NATIVE_ORDERED:
        same_kind = st.sampled_from(_native_domains()[name]).map(ir.literal_of)
        out += [st.builds(ir.Compare, _ordering_ops, st.just(path), value),
                st.builds(ir.Between, st.just(path), same_kind, same_kind)]
    return st.one_of(out)


@st.composite
def native_queries(draw: st.DrawFn) -> ir.Query:
    """Plain queries over ``native_documents``: a condition on the native fields under
    not/and/or, maybe ordered by one of them (``_id`` last, so the order is total), or
    ``min``/``max``/``count`` of one."""
    leaves = st.one_of([_native_predicates(n) for n in NATIVE_FIELDS])
    where = draw(st.one_of(st.none(), _boolean_structure(leaves, 4)))
    name = draw(st.sampled_from(NATIVE_FIELDS))
    if draw(st.integers(0, 4)) == 0:
        func = draw(st.sampled_from(["min", "max", "count"]))
        agg = ir.Aggregate(func, ir.Path((name,)))  # type: ignore[arg-type]
        return ir.Query("docs", where, select=(ir.SelectItem(agg, "out"),))
    order: tuple[ir.OrderKey, ...] = ()
    if draw(st.booleans()):
        order = (ir.OrderKey(ir.Path((name,)), draw(st.booleans())),
                 ir.OrderKey(ir.Path(("_id",))))
    return ir.Query("docs", where, order_by=order)


# --- pages ordered by native values (issue 16 meets issue 18) ------------------------------

@st.composite
def native_paging_documents(draw: st.DrawFn, max_docs: int = 30, *,
                            kinds: tuple[str, ...] = ("at", "oid", "dec", "bin")
                            ) -> list[dict[str, Any]]:
    """``paging_documents`` whose order fields ``v``, ``a``, ``b`` also hold native values
    of ``kinds`` (``_native_domains``: timestamps, object ids, exact numbers beside
    floats, ints and NaN, bytes), ties among them, mixed with numbers, strings, bools, null
    and missing: a page may end on any of them and resume across their types."""
    domains = _native_domains()
    natives = [v for kind in kinds for v in domains[kind]]
    if "dec" in kinds:
        natives.append(float("nan"))  # below every number, equal to itself
    count = draw(st.integers(0, max_docs))
    ids = draw(st.lists(st.integers(0, 10_000), min_size=count, max_size=count, unique=True))
    docs = []
    for n in ids:
        doc: dict[str, Any] = {"_id": f"d{n}"}
        for name in ("v", "a", "b"):
            value = draw(st.sampled_from(natives)) if natives and draw(st.booleans()) \
                else _page_value(draw, [1, 2.5, "x"], True)
            if value is not MISSING_VALUE:
                doc[name] = value
        docs.append(doc)
    return docs


# --- values whose equality and order cross kinds (issue 19: the compiled evaluator) ------
# Equal across kinds (1 == 1.0 == Decimal(1), 0.1 == Decimal("0.1")), never equal across
# kinds (True is not 1), NaNs of both kinds, instants naive and aware, and numbers past
# 2**53 (where a float's shortest text is not its exact value): the values that tell a
# hashed `in` or a heap from the reference's element-by-element equality and stable sort.

@functools.cache  # one set of objects: pools pick literals by identity
def _crossing_groups() -> tuple[tuple[Any, ...], ...]:
    """Values that look alike, by group: equal or not across kinds, or ordered
    differently by exact value and by shortest text."""
    from datetime import UTC, datetime, timedelta, timezone
    from decimal import Decimal

    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    exact_tenth = Decimal(0.1)  # noqa: RUF032 - the float's exact value, not 0.1
    return (
        (1, 1.0, Decimal(1), Decimal("1.0"), True),
        (0.1, Decimal("0.1"), exact_tenth, 0.2, Decimal("0.2")),
        (2**53 + 1, float(2**53), 1e23, 10**23, Decimal("1e23")),
        (float("nan"), Decimal("NaN"), float("inf"), 2.5, Decimal("2.5")),
        (t0, t0.replace(tzinfo=None), t0.astimezone(timezone(timedelta(hours=2))),
         t0 + timedelta(microseconds=1)),
        (0, -3, False, "1", "a", "", None, [1], [1.0], {"k": 1}, b"a"),
    )


@functools.cache
def _crossing_values() -> tuple[Any, ...]:
    return tuple(v for group in _crossing_groups() for v in group)


@functools.cache
def _crossing_literals() -> tuple[Any, ...]:
    """The crossing values a literal can hold (not a map, not a naive instant)."""
    out = []
    for value in _crossing_values():
        try:
            ir.literal_of(value)
        except TypeError:
            continue
        out.append(value)
    return tuple(out)


CROSSING_FIELDS: tuple[str, ...] = ("v", "w")
"""The fields of ``crossing_documents`` (any of ``_crossing_values``, null or missing)."""


@st.composite
def crossing_documents(draw: st.DrawFn, n: int = 12,
                       pool: tuple[Any, ...] | None = None) -> list[dict[str, Any]]:
    """Documents whose fields ``v``, ``w`` hold values that cross kinds (from ``pool``,
    default all of them); string ids."""
    present = st.sampled_from(pool or _crossing_values())
    values = st.one_of(present, present, st.just(MISSING))  # the first is favoured
    size = draw(st.integers(0, min(n, MAX_DOCS)) | st.integers(3, min(n, MAX_DOCS)))
    docs = []
    for doc_id in draw(st.permutations(ID_DOMAIN[:size])):
        doc: dict[str, Any] = {"_id": doc_id}
        for name in CROSSING_FIELDS:
            value = draw(values)
            if value is not MISSING:
                doc[name] = value
        docs.append(doc)
    return docs


@st.composite
def crossing_queries(draw: st.DrawFn, pool: tuple[Any, ...] | None = None) -> ir.Query:
    """Plain queries over ``crossing_documents``: ``in``/``not in`` lists, comparisons
    and ``between`` with crossing values (from ``pool``) under not/and/or, maybe ordered
    (by one or both fields, any directions, sometimes ``_id`` last) with a limit and
    offset."""
    literals = _crossing_literals()
    values = st.sampled_from([v for v in pool if any(v is x for x in literals)]
                             if pool else literals)
    path = st.sampled_from(CROSSING_FIELDS).map(lambda n: ir.Path((n,)))
    lists = st.lists(values, max_size=6).map(ir.literal_of)
    leaves = st.one_of(
        st.builds(ir.In, path, lists, st.booleans()),
        st.builds(ir.In, path, lists, st.booleans()),
        st.builds(ir.Compare, st.sampled_from(["==", "!=", "<", "<=", ">", ">="]), path,
                  values.map(ir.literal_of)),
        st.builds(ir.Between, path, values.map(ir.literal_of), values.map(ir.literal_of)),
        st.builds(ir.Exists, path),
    )
    where = draw(st.one_of(leaves, st.none(), _boolean_structure(leaves, 4)))
    order = [ir.OrderKey(ir.Path((name,)), draw(st.booleans()))
             for name in draw(st.lists(st.sampled_from(CROSSING_FIELDS), max_size=2,
                                       unique=True))]
    if order and draw(st.booleans()):
        order.append(ir.OrderKey(ir.Path(("_id",)), draw(st.booleans())))
    # a limit mostly: `order by … limit` is the heap, whose ties are the hard part
    limit = draw(st.one_of(st.integers(1, 5), st.none(), st.integers(0, 5)))
    offset = draw(st.one_of(st.none(), st.none(), st.integers(0, 3)))
    return ir.Query("docs", where, order_by=tuple(order), limit=_literal_or_none(limit),
                    offset=_literal_or_none(offset))


CROSSING_GROUPS = 6
"""How many groups of look-alike values ``crossing_cases`` takes a pool from."""


@st.composite
def crossing_cases(draw: st.DrawFn, group: int, n: int = 14
                   ) -> tuple[ir.Query, list[dict[str, Any]]]:
    """A crossing query and documents drawing on one group of look-alike values (and
    sometimes the plain values too): a literal and a document then often hold the same
    value in two kinds."""
    groups = _crossing_groups()
    pool = groups[group] + (groups[-1] if draw(_QUARTER) == 0 else ())
    return draw(crossing_queries(pool)), draw(crossing_documents(n, pool))

# --- documents that follow a declared schema (docs/schemas.md) -----------------------------

DECLARED_SCHEMA = Schema((
    Field("n", "int", (-1, 0, 1, 2, 3), nullable=False, optional=False),
    Field("x", "float", (-0.5, 0.0, 1.0, 1.5, 2.25), nullable=False),
    Field("s", "string", ("", "a", "ab", "abc", "b", "B", "é", "a b"), optional=False),
    Field("b", "bool", (False, True), nullable=False, optional=False),
    Field("tags", "strings", ("a", "b", "c"), nullable=False, optional=False),
    Field("nums", "ints", (0, 1, 2, 3)),
    Field("m", "map", nullable=False, optional=False, fields=(
        Field("k", "string", ("a", "b", "c"), nullable=False, optional=False),
        Field("v", "int", (0, 1, 2)),
    )),
))
"""A schema whose fields are declared (``declaration``): some required and never null,
so a declaration lets the compilers drop guards; ``documents(schema=DECLARED_SCHEMA)``
follow it."""

_DECLARED_KINDS = {"int": "int", "float": "float", "string": "string", "bool": "bool",
                   "strings": "list[string]", "ints": "list[int]", "map": "map"}


def declaration(schema: Schema = DECLARED_SCHEMA, *, closed: bool = True) -> dict[str, Any]:
    """The CrossQL declaration (``crossql.Schema`` dict form) of a test schema: each
    field's kind, required when never left out (below a map: when the map is too), nullable
    when it may hold null."""
    fields: dict[str, Any] = {}

    def visit(prefix: str, group: Sequence[Field], required: bool) -> None:
        for f in group:
            path = f"{prefix}{f.name}"
            here = required and not f.optional
            fields[path] = {"kind": _DECLARED_KINDS[f.kind], "required": here,
                            "nullable": f.nullable}
            if f.kind == "map":
                visit(f"{path}.", f.fields, here and not f.nullable)

    visit("", schema.fields, True)
    return {"fields": fields, "closed": closed}


# --- the native value kinds on DynamoDB (issue 16) ---------------------------------------
# What DynamoDB holds beyond JSON: timestamps (as its fixed-width text), exact numbers of
# up to 38 digits, bytes, sets (SS, NS, BS); no object ids. Each field also holds values
# of other kinds (a timestamp beside ISO text of another form, a set beside lists).

def _dynamodb_native_domains() -> dict[str, tuple[Any, ...]]:
    from datetime import UTC, datetime, timedelta
    from decimal import Decimal

    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    times = tuple(t0 + timedelta(hours=h, microseconds=us) for h, us in
                  ((0, 0), (0, 1), (5, 0), (24, 250), (-24, 0)))
    return {
        "at": (*times, times[0].isoformat(), "2026-01-01", "9"),
        "dec": (Decimal("12345678901234567890.123456789"), Decimal("-0.1000000000000000000001"),
                Decimal("12345678901234567890123456789012345678"), 1.5, 2, 0.1,
                Decimal("1.5"), 4611686018427388000, -3),
        "bin": (b"", b"a", b"ab", b"b", "ab"),
        "tags": (frozenset({"a", "b"}), frozenset({"b"}), ["a", "b"], ["b", "a"], ["a", "a"],
                 frozenset({1, 2.5}), [1, 2.5], frozenset({b"x", b"yz"}), "ab"),
    }


DYNAMODB_NATIVE_FIELDS: tuple[str, ...] = ("at", "dec", "bin", "tags")
"""The fields of ``dynamodb_native_documents``."""


@functools.cache
def _dynamodb_native_field(name: str) -> st.SearchStrategy[Any]:
    domain = _dynamodb_native_domains()[name]
    return st.one_of(st.just(MISSING), st.none(), st.sampled_from(domain),
                     st.sampled_from(domain))


@st.composite
def dynamodb_native_documents(draw: st.DrawFn, n: int = 12, *,
                              min_size: int = 0) -> list[dict[str, Any]]:
    """Documents whose fields hold DynamoDB's native kinds (missing and null too); a set
    as a Python ``set``, as DynamoDB's client reads one."""
    docs = _native_documents(draw, DYNAMODB_NATIVE_FIELDS, _dynamodb_native_field, n,
                             min_size)
    for doc in docs:
        for name, value in doc.items():
            if isinstance(value, frozenset):
                doc[name] = set(value)
    return docs


def _native_documents(draw: st.DrawFn, fields: Sequence[str],
                      field: Callable[[str], st.SearchStrategy[Any]], n: int,
                      min_size: int) -> list[dict[str, Any]]:
    """Documents with string ids whose ``fields`` are drawn from ``field(name)`` (which
    may draw ``MISSING``: the field is left out)."""
    size = draw(st.integers(min_size, min(n, MAX_DOCS)))
    docs = []
    for doc_id in draw(st.permutations(ID_DOMAIN[:size])):
        doc: dict[str, Any] = {"_id": doc_id}
        for name in fields:
            value = draw(field(name))
            if value is not MISSING:
                doc[name] = value
        docs.append(doc)
    return docs


@functools.cache
def _dynamodb_native_predicates(name: str) -> st.SearchStrategy[ir.Condition]:
    domain = tuple(v for v in _dynamodb_native_domains()[name] if not isinstance(v, frozenset))
    path = ir.Path((name,))
    value = st.sampled_from(domain).map(ir.literal_of)
    scalar = [v for v in domain if not isinstance(v, list)]
    values = st.lists(st.sampled_from(scalar), max_size=3).map(ir.literal_of)
    out: list[st.SearchStrategy[Any]] = [
        st.builds(ir.Compare, _equality_ops, st.just(path), value),
        st.builds(ir.In, st.just(path), values, st.booleans()),
        st.just(ir.Exists(path)),
    ]
    if name in ("at", "dec"):
        kind = (lambda v: not isinstance(v, str)) if name == "at" else (lambda v: True)
        same_kind = st.sampled_from([v for v in domain if kind(v)]).map(ir.literal_of)
        out += [st.builds(ir.Compare, _ordering_ops, st.just(path), same_kind),
                st.builds(ir.Between, st.just(path), same_kind, same_kind)]
    if name == "tags":
        scalars = st.sampled_from(["a", "b", 1, 2.5, b"x"])
        out += [st.builds(ir.Contains, st.just(path), scalars.map(ir.literal_of)),
                st.builds(ir.ContainsAny, st.just(path),
                          st.lists(scalars, max_size=3).map(ir.literal_of)),
                st.builds(ir.Size, _ordering_ops, st.just(path),
                          st.integers(0, 3).map(ir.literal_of))]
    return st.one_of(out)


@st.composite
def dynamodb_native_queries(draw: st.DrawFn) -> ir.Query:
    """Plain queries over ``dynamodb_native_documents`` (no order: a Scan has none)."""
    leaves = st.one_of([_dynamodb_native_predicates(n) for n in DYNAMODB_NATIVE_FIELDS])
    return ir.Query("docs", draw(st.one_of(st.none(), _boolean_structure(leaves, 4))))


@st.composite
def dynamodb_native_writes(draw: st.DrawFn) -> ir.Update:
    """An update over ``dynamodb_native_documents`` assigning native values (a timestamp,
    an exact number, bytes) or incrementing ``dec`` by an int or a float."""
    from datetime import UTC, datetime
    from decimal import Decimal

    leaves = st.one_of([_dynamodb_native_predicates(n) for n in DYNAMODB_NATIVE_FIELDS])
    where = draw(st.one_of(st.none(), _boolean_structure(leaves, 3)))
    values = st.sampled_from([datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC),
                              Decimal("98765432109876543210.0123456789"), b"\x00\xff", 7,
                              Decimal("0.25")])
    assignments: list[ir.Assignment] = []
    if draw(st.booleans()):
        amount = draw(st.sampled_from([1, -2, 10**18, 0.5]))
        assignments.append(ir.Increment(ir.Path(("dec",)), ir.literal_of(amount)))
    for name in draw(st.lists(st.sampled_from(["at", "bin", "x"]), min_size=0 if assignments
                              else 1, max_size=2, unique=True)):
        assignments.append(ir.SetField(ir.Path((name,)), ir.literal_of(draw(values))))
    return ir.Update("docs", tuple(assignments), where)


# --- Firestore's native kinds (issue 16) -------------------------------------
# Timestamps (to the microsecond), bytes, references and geopoints, beside values of
# other kinds in the same fields. A reference is drawn as its path (``FirestorePath``):
# the test makes it a ``DocumentReference`` of the store's own client.


class FirestorePath(str):
    """A document path the test turns into a reference of its store's client."""

    __slots__ = ()


def _firestore_domains() -> dict[str, tuple[Any, ...]]:
    from datetime import UTC, datetime, timedelta

    from google.cloud.firestore_v1 import GeoPoint

    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    times = tuple(t0 + timedelta(hours=h, microseconds=us) for h, us in
                  ((0, 0), (0, 1), (5, 0), (24, 250_001), (-24, 0)))
    return {
        "at": (*times, *times, times[0].isoformat(), "2026", 1.5),
        # bytes of several lengths (Firestore orders them bytewise, CrossQL length first)
        "bin": (b"", b"a", b"ab", b"b", b"\xff", "a"),
        "ref": (*(FirestorePath(p) for p in ("users/1", "users/2", "orders/1/lines/1")),
                "users/1"),
        "geo": (GeoPoint(0, 0), GeoPoint(1.5, -2), GeoPoint(-90, 180),
                {"latitude": 1.5, "longitude": -2}),
        # numbers a Decimal operand meets (Firestore stores none): ints, doubles, text
        "num": (1, 2, 1.5, 0.1, 0.25, -3, 2**53 + 1, 1e20, "1.5"),
    }


_FIRESTORE_OPERANDS: dict[str, tuple[Any, ...]] = {}
"""Per field, operands beyond the field's own values (filled on first use)."""


def _firestore_operands(name: str) -> tuple[Any, ...]:
    from decimal import Decimal

    if not _FIRESTORE_OPERANDS:
        _FIRESTORE_OPERANDS["num"] = (
            Decimal("1.5"), Decimal("0.25"), Decimal("2"), Decimal("-3"), Decimal("1e20"),
            Decimal("0.1"), Decimal("1.50000000000000000001"), 1.5, 2, 0.1)
    return _FIRESTORE_OPERANDS.get(name, ())


FIRESTORE_NATIVE_FIELDS: tuple[str, ...] = ("at", "bin", "ref", "geo", "num")
"""The fields of ``firestore_native_documents``."""


@functools.cache
def _firestore_field(name: str) -> st.SearchStrategy[Any]:
    domain = _firestore_domains()[name]
    return st.one_of(st.just(MISSING), st.none(), st.sampled_from(domain),
                     st.sampled_from(domain))


@st.composite
def firestore_native_documents(draw: st.DrawFn, n: int = 12, *,
                               min_size: int = 0) -> list[dict[str, Any]]:
    """Documents whose fields hold Firestore's native kinds (missing and null too)."""
    return _native_documents(draw, FIRESTORE_NATIVE_FIELDS, _firestore_field, n, min_size)


@functools.cache
def _firestore_predicates(name: str) -> st.SearchStrategy[ir.Condition]:
    path = ir.Path((name,))
    out: list[st.SearchStrategy[Any]] = [
        st.just(ir.Exists(path)),
        st.builds(ir.Compare, _equality_ops, st.just(path), st.just(ir.Literal(None, "null"))),
    ]
    if name == "num":
        numbers = _firestore_operands(name)
        value = st.sampled_from(numbers).map(ir.literal_of)
        out += [st.builds(ir.Compare, _equality_ops, st.just(path), value),
                st.builds(ir.In, st.just(path),
                          st.lists(st.sampled_from(numbers), max_size=3).map(ir.literal_of),
                          st.booleans()),
                st.builds(ir.Compare, _ordering_ops, st.just(path), value),
                st.builds(ir.Between, st.just(path), value, value)]
    if name in ("at", "bin"):
        domain = tuple(v for v in _firestore_domains()[name] if not isinstance(v, float))
        value = st.sampled_from(domain).map(ir.literal_of)
        values = st.lists(st.sampled_from(domain), max_size=3).map(ir.literal_of)
        same_kind = st.sampled_from([v for v in domain if not isinstance(v, str)]).map(
            ir.literal_of)
        out += [st.builds(ir.Compare, _equality_ops, st.just(path), value),
                st.builds(ir.In, st.just(path), values, st.booleans()),
                st.builds(ir.Compare, _ordering_ops, st.just(path), value),
                st.builds(ir.Between, st.just(path), same_kind, same_kind)]
    return st.one_of(out)


@st.composite
def firestore_native_queries(draw: st.DrawFn) -> ir.Query:
    """Plain queries over ``firestore_native_documents``: a condition under not/and/or;
    maybe ordered by the timestamps (behind a condition that keeps timestamps only, as
    the order of two kinds is not promised) or by ``_id``, maybe limited."""
    leaves = st.one_of([_firestore_predicates(n) for n in FIRESTORE_NATIVE_FIELDS])
    where = draw(st.one_of(st.none(), _boolean_structure(leaves, 3)))
    order: tuple[ir.OrderKey, ...] = ()
    choice = draw(st.integers(0, 2))
    if choice == 1:
        t_min = min(v for v in _firestore_domains()["at"] if not isinstance(v, str | float))
        only_times = ir.Compare(">=", ir.Path(("at",)), ir.literal_of(t_min))
        where = only_times if where is None else ir.And((only_times, where))
        order = (ir.OrderKey(ir.Path(("at",)), draw(st.booleans())),
                 ir.OrderKey(ir.Path(("_id",))))
    elif choice == 2:
        order = (ir.OrderKey(ir.Path(("_id",)), False),)
    limit = draw(st.one_of(st.none(), st.integers(0, 5))) if order else None
    return ir.Query("docs", where, order_by=order,
                    limit=None if limit is None else ir.Literal(limit, "int"))


@st.composite
def firestore_native_writes(draw: st.DrawFn) -> ir.Update | ir.Delete:
    """A write over ``firestore_native_documents``: its ``where`` as the queries'; set a
    field to a timestamp, bytes, a number or a ``Decimal`` (refused: Firestore cannot
    keep one), unset one, or add to ``num``."""
    leaves = st.one_of([_firestore_predicates(n) for n in FIRESTORE_NATIVE_FIELDS])
    where = draw(st.one_of(st.none(), _boolean_structure(leaves, 3)))
    if draw(st.integers(0, 4)) == 0:
        return ir.Delete("docs", where)
    domains = _firestore_domains()
    values = (*domains["at"][:5], *domains["bin"][:5], *_firestore_operands("num")[:3], 7)
    paths = [ir.Path((n,)) for n in (*FIRESTORE_NATIVE_FIELDS, "w")]
    chosen = draw(st.lists(st.sampled_from(paths), min_size=1, max_size=2, unique=True))
    assignments: list[ir.Assignment] = []
    for path in chosen:
        form = draw(st.sampled_from(["set", "set", "set", "unset", "add"]))
        if form == "unset":
            assignments.append(ir.Unset(path))
        elif form == "add":
            amount = draw(st.sampled_from([1, -0.5]))
            kind = "int" if isinstance(amount, int) else "float"
            assignments.append(ir.Increment(path, ir.Literal(amount, kind)))
        else:
            assignments.append(ir.SetField(path, ir.literal_of(draw(st.sampled_from(values)))))
    return ir.Update("docs", tuple(assignments), where)


@st.composite
def firestore_decimal_queries(draw: st.DrawFn) -> ir.Query:
    """Queries over ``firestore_native_documents`` whose conditions test ``num`` only
    (against ``Decimal``, int and float operands), maybe ordered by ``_id``."""
    where = draw(_boolean_structure(_firestore_predicates("num"), 3))
    order = (ir.OrderKey(ir.Path(("_id",))),) if draw(st.booleans()) else ()
    return ir.Query("docs", where, order_by=order)


def index_corpora(max_size: int = 8) -> st.SearchStrategy[list[ir.Query]]:
    """Lists of queries for the index rules (crossql/indexes): typed queries over one
    collection's few fields (``queries``), so equalities, ranges, array lookups and orders
    meet on the same fields across and within queries, mixed with arbitrary ones
    (``any_query``: names and shapes no schema allows)."""
    return st.lists(st.one_of(queries(), queries(), any_query(max_leaves=6)), min_size=1,
                    max_size=max_size)


# --- MongoDB's Decimal128 (34 digits) under increments (issue 16) ------------------


@st.composite
def decimal128_increments(draw: st.DrawFn) -> tuple[Any, Any]:
    """A stored number (an int, a double or a ``Decimal`` that fits a Decimal128) and an
    increment amount, often decimals whose exact sum needs more than 34 digits (which
    ``$inc`` would round) and often ones whose sum fits."""
    from decimal import Decimal

    def decimal(digits: int, exponent: int) -> Decimal:
        sign = draw(st.sampled_from(["", "-"]))
        body = str(draw(st.integers(10 ** (digits - 1), 10**digits - 1)))
        return Decimal(f"{sign}{body}E{exponent}")

    def number() -> Any:
        kind = draw(st.sampled_from(["int", "float", "decimal"]))
        if kind == "int":
            return draw(st.sampled_from([0, 1, -7, 2**62, 10**18]))
        if kind == "float":
            return draw(st.sampled_from([0.5, 1.5, 0.1, -2.25]))
        return decimal(draw(st.integers(1, 34)), draw(st.integers(-40, 20)))

    start, amount = number(), number()
    if not any(isinstance(v, Decimal) for v in (start, amount)):
        amount = decimal(draw(st.integers(1, 34)), draw(st.integers(-40, 20)))
    return start, amount


@st.composite
def aware_datetimes_at_the_edges(draw: st.DrawFn) -> Any:
    """An aware ``datetime`` with a fixed offset, often within a day of year 1 or 9999,
    where its UTC form may fall outside the years a ``datetime`` holds."""
    from datetime import datetime, timedelta, timezone

    offset = timedelta(minutes=draw(st.integers(-(24 * 60 - 1), 24 * 60 - 1)))
    edge = draw(st.sampled_from([datetime(1, 1, 1), datetime(9999, 12, 31)]))
    naive = draw(st.one_of(
        st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(1, 1, 2, 23, 59)),
        st.datetimes(min_value=datetime(9999, 12, 30), max_value=datetime(9999, 12, 31, 23, 59)),
        st.just(edge)))
    return naive.replace(tzinfo=timezone(offset))


# --- fields declared epoch_seconds / epoch_millis (docs/schemas.md, "Kinds") ------------------
# A numeric instant compared with datetime parameters; one parameter may meet an epoch
# field, the other epoch unit and a timestamp field at once, each use its own form.

EPOCH_DECLARATION: dict[str, Any] = {"fields": {"at": "epoch_seconds", "at_ms": "epoch_millis?",
                                                "ts": "timestamp?",
                                                "ats": "list[epoch_seconds]?"}}
"""The declaration of ``epoch_cases``' collection: seconds, millis (optional), a timestamp."""


def _epoch_instants() -> tuple[Any, ...]:
    from datetime import UTC, datetime, timedelta

    noon = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)
    return tuple(noon + timedelta(milliseconds=250 * k) for k in range(-5, 6))


def epoch_form(field: str, instant: Any) -> Any:
    """``instant`` as ``EPOCH_DECLARATION``'s ``field`` holds it: seconds (an int when
    whole), millis (an int), the datetime itself for ``ts``."""
    from datetime import UTC, datetime, timedelta

    delta = instant - datetime(1970, 1, 1, tzinfo=UTC)
    if field == "at_ms":
        return delta // timedelta(milliseconds=1)
    if field == "at":
        seconds = delta.total_seconds()
        return int(seconds) if seconds == int(seconds) else seconds
    return instant


@st.composite
def epoch_cases(draw: st.DrawFn) -> tuple[str, dict[str, Any], str, dict[str, Any],
                                          list[dict[str, Any]]]:
    """(text, its datetime parameters, the reference's text, its parameters by hand,
    documents): parameters ``:t``/``:u`` each compared with ``at``, ``at_ms`` or ``ts``
    (often the same parameter with several); the reference names each use apart and
    binds the field's own form (``epoch_form``), so it needs no schema."""
    instants = _epoch_instants()
    docs = []
    for doc_id in ID_DOMAIN[:draw(st.integers(1, 10))]:
        doc: dict[str, Any] = {"_id": doc_id}
        at = epoch_form("at", draw(st.sampled_from(instants)))
        doc["at"] = float(at) if draw(_QUARTER) == 0 else at  # a whole float too
        for name in ("at_ms", "ts"):
            if draw(_QUARTER):
                doc[name] = epoch_form(name, draw(st.sampled_from(instants)))
        if draw(_QUARTER):
            doc["ats"] = [epoch_form("at", i) for i in
                          draw(st.lists(st.sampled_from(instants), max_size=3))]
        docs.append(doc)
    bound = {name: draw(st.sampled_from(instants)) for name in ("t", "u")}
    uses = draw(st.lists(st.tuples(st.sampled_from(("at", "at_ms", "ts", "ats")),
                                   st.sampled_from(("==", "<", "<=", ">", ">=")),
                                   st.sampled_from(("t", "t", "u"))), min_size=1, max_size=4))
    uses = [(f, "contains" if f == "ats" else op, p) for f, op, p in uses]
    joiner = draw(st.sampled_from((" and ", " or ")))
    text = joiner.join(f"{f} {op} :{p}" for f, op, p in uses)
    ref_text = joiner.join(f"{f} {op} :r{i}" for i, (f, op, _) in enumerate(uses))
    params = {p: bound[p] for _, _, p in uses}
    ref_params = {f"r{i}": epoch_form("at" if f == "ats" else f, bound[p])
                  for i, (f, _, p) in enumerate(uses)}
    return (f"from events where {text}", params, f"from events where {ref_text}",
            ref_params, docs)
