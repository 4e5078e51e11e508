"""Bound CrossQL query → Firestore plan. Pure: imports no Google package.

The condition becomes one filter tree (``filters.py``), checked against the
chosen profile (``FirestoreOptions``) and against Firestore's documented limits
(https://firebase.google.com/docs/firestore/query-data/queries#limits_on_or_queries,
https://firebase.google.com/docs/firestore/query-data/multiple-range-fields,
https://firebase.google.com/docs/firestore/quotas#queries). Each refusal is a
``CapabilityError`` with a code of its own (``capability.firestore.<rule>``),
the span of the construct and a hint.

Faithfulness rules beyond the filter itself:

- Firestore leaves out documents that lack an ``order_by`` field, and it orders
  by every inequality field implicitly (even one inside an ``Or``). So each such
  field must be present in every document the condition accepts — the filter
  implies it, or the schema declares it required — else the query is refused.
- Implicit orders go before the document id, so ``order by ..., _id`` is exact
  only when every inequality field is one of the keys before ``_id``.
- An aggregation query with several aggregations counts only documents that
  have every aggregated field; ``count(p)`` exists only as ``count()`` over a
  condition that makes ``p`` non-null; ``min``/``max``/``group by`` do not exist.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from datetime import datetime
from typing import Any

from crossql import ir, visitor
from crossql._memo import Memo
from crossql.backends.base import Capabilities, Completion, refuse
from crossql.backends.completion import ClientSidePlan, complete_client_side
from crossql.backends.firestore.filters import (
    ALWAYS,
    BACKEND,
    GOOD_NAMES,
    SHORT_STRING,
    Exists,
    FilterBuilder,
    and_,
    expand_exists,
    expand_top_exists,
    fields_present,
    fits,
    has_field,
    non_null_fields,
    or_,
    scan,
    valid_document_id,
)
from crossql.backends.firestore.options import FirestoreOptions
from crossql.backends.firestore.plan import (
    ID_FIELD,
    Aggregation,
    And,
    FieldFilter,
    Filter,
    FirestorePlan,
    Limit,
    Offset,
    Or,
    OrderBy,
    Output,
    Select,
    Step,
    Where,
    composites,
    field_path,
    leaves,
)
from crossql.backends.firestore.values import (
    BYTES_ORDER_HINT,
    DECIMAL_FILTER_HINT,
    DECIMAL_HINT,
    OBJECT_ID_HINT,
    inexact_decimal,
    ordered_bytes,
)
from crossql.compiler.shape import output_key
from crossql.compiler.templates import Hole, StringHole
from crossql.errors import CapabilityError

LIMITS: dict[str, int] = {
    "in values": 30,
    "not-in values": 10,
    "array-contains-any values": 30,
    "not-equal filters": 1,
    "disjunctions": 30,
    "array-contains per disjunction": 1,
    "filters and orders": 100,
    "inequality fields": 10,
    "aggregations": 5,
    "limit": 2**31 - 1,
    "offset": 2**31 - 1,
    "field path bytes": 1499,
    "field path segments": 20,
    "value bytes": 1500,
}
"""Firestore's limits, each checked at compile time with an error code of its own."""

_WALK_PER_FIELD = 64
"""Inequality leaves up to which each field's presence is found by its own walk of the
filter (``has_field``, which stops early); past it, one walk finds them all (that walk
costs a third of Q30's compile, whose 16 inequality leaves each stop at the top)."""

_OPTION_HINT = {
    "!=": "enable native `!=` with FirestoreOptions(native_not_equal=True)",
    "not in": "enable native `not-in` with FirestoreOptions(native_not_equal=True)",
    "or": "enable native OR filters with FirestoreOptions(native_or=True)",
}

CAPABILITIES = Capabilities(
    backend=BACKEND,
    support={
        "==": "guarded", "!=": "option", "<, <=, >, >=": "native", "between": "rewritten",
        "in": "guarded", "not in": "option", "contains": "guarded", "contains any": "guarded",
        "contains all": "rewritten", "startswith": "rewritten", "matches": "refused",
        "exists": "option", "not exists": "refused", "size": "refused", "not": "rewritten",
        "and": "native", "or": "option", "group by": "refused", "count()": "native",
        "count(p)": "rewritten", "sum": "guarded", "avg": "guarded", "min": "refused",
        "max": "refused", "select": "native", "order by": "guarded", "limit": "native",
        "offset": "native",
    },
    notes={
        "==": "`== null` is IS_NULL (explicit null only); an equality with a value holding "
              "an array is false at compile time (Firestore cannot store one)",
        "!=": "FirestoreOptions(native_not_equal=True): `!=`/`!= null`, one per query; "
              "Firestore leaves out missing and null fields, as CrossQL does",
        "<, <=, >, >=": "Firestore compares numbers with numbers, strings with strings",
        "between": "`>= a and <= b`; `not between` needs FirestoreOptions(native_or=True)",
        "in": "up to 30 values; a listed null becomes `or == null` (Firestore's `in` never "
              "matches null)",
        "not in": "FirestoreOptions(native_not_equal=True): `not-in`, up to 10 values, null "
                  "dropped; not with `in`, `array-contains-any` or OR",
        "contains": "array-contains, one per disjunction; `contains null` and negations are "
                    "refused",
        "contains any": "array-contains-any, up to 30 values, no null",
        "contains all": "one array-contains, so only with one distinct value",
        "startswith": "the exact range `>= p and < successor(p)`",
        "matches": "Firestore has no regular expressions",
        "exists": "needs both options: `p == null or p != null`; dropped when another "
                  "filter on `p` implies it",
        "not exists": "Firestore cannot match a missing field",
        "size": "Firestore cannot filter on an array's length",
        "not": "pushed down by the three-valued rules; the pushed form may need an option",
        "or": "FirestoreOptions(native_or=True): `Or` filters, at most 30 disjunctions; "
              "`==`s on one field become `in` without it",
        "group by": "Firestore aggregates a whole query only",
        "count(p)": "as `count()` when the condition makes `p` non-null",
        "sum": "several aggregations in one query need their fields present (Firestore "
               "counts only documents that have them all)",
        "avg": "as for sum",
        "min": "no Firestore aggregation",
        "max": "no Firestore aggregation",
        "order by": "only on fields the condition (or the schema) makes present; inequality "
                    "fields order before `_id`; no leading `_id desc`",
    },
    limits=LIMITS,
    values={"timestamp": "native", "bytes": "guarded", "exact number": "guarded",
            "reference": "guarded", "geopoint": "guarded"},
    value_notes={
        "timestamp": "Firestore timestamps (microseconds; finer digits rounded down), read "
                     "back as aware UTC datetimes; `<`, `between` match timestamps only",
        "bytes": "Firestore bytes; `==`, `in` native; `<`, `between` refused "
                 "(`bytes-order`): Firestore orders bytes bytewise, CrossQL length first "
                 "(so `order by` bytes of several lengths is not promised)",
        "exact number": "Firestore has no exact decimal: a `Decimal` in a filter compares "
                        "as the double it is exactly when that double's shortest text is "
                        "the same decimal (`1.5`, not `0.1`), else refused (`decimal`); "
                        "written or inserted, refused. " + DECIMAL_HINT,
        "object id": "an `ObjectId` is refused. " + OBJECT_ID_HINT,
        "reference": "read as the client's `DocumentReference` and written back as it is; "
                     "equal by path; not a parameter (a located error); `--json`: its path",
        "geopoint": "read as the client's `GeoPoint` and written back as it is; equal by "
                    "latitude and longitude; not a parameter",
        "set": "Firestore has no sets: a Python set in a document is not written (a set "
               "parameter fills a list of values, as everywhere)",
    },
)


_DEFAULT_OPTIONS = FirestoreOptions()
_VALIDATED: Memo[tuple[tuple[Any, type, Any], ...], FirestoreOptions] = Memo(
    64, "firestore options")
"""Options validated from mappings, by their items: a model is frozen, so one is
shared by every plan of the same options (validating one costs microseconds)."""


def coerce_options(options: Any) -> FirestoreOptions:
    """``FirestoreOptions`` from None, a ``FirestoreOptions`` or a mapping of its fields."""
    if options is None:
        return _DEFAULT_OPTIONS
    if isinstance(options, FirestoreOptions):
        return options
    if isinstance(options, Mapping):
        try:
            # the type is in the key: 1 == True, yet validation may treat them apart
            key = tuple(sorted((name, type(value), value) for name, value in options.items()))
            known = _VALIDATED.get(key)
        except TypeError:  # unhashable or unorderable: validation says what is wrong
            return FirestoreOptions.model_validate(dict(options))
        if known is None:
            known = _VALIDATED.put(key, FirestoreOptions.model_validate(dict(options)))
        return known
    raise TypeError(f"firestore takes FirestoreOptions, not {type(options).__name__}")


def required_fields(schema: Any, collection: str) -> frozenset[tuple[str, ...]]:
    """Paths the schema declares present in every document of ``collection``, with the
    maps above each (``CollectionSchema.required_paths``). ``schema`` is a
    ``crossql.Schema`` or anything ``crossql.schema.as_schema`` takes, Firestore's old
    form among them: ``{"users": {"required": ["age", "address.city"]}}`` (a path is
    dotted text or a list of segments)."""
    if schema is None:
        return frozenset()
    from crossql.schema import as_schema  # only a compile with a schema needs pydantic

    declared = as_schema(schema)
    entry = None if declared is None else declared.collection(collection)
    return _NO_FIELDS if entry is None else entry.required_paths


_NO_FIELDS: frozenset[tuple[str, ...]] = frozenset()
_SHORT_PATH = LIMITS["field path bytes"] // 20
"""Field paths of at most this many characters fit the byte limit however they are
quoted: each character takes at most 4 bytes in UTF-8 and quoting at most doubles a
segment and adds 3 characters (backticks, a dot) to each (non-empty) segment."""

assert (LIMITS["value bytes"] - 1) // 4 == SHORT_STRING, "scan's fits() must match the limit"
_LISTED_OPS = frozenset({"in", "not-in", "array_contains_any"})
_RANGE_OPS = frozenset({"<", "<=", ">", ">="})
"""Operators whose values Firestore sizes one by one (the list as a whole is not)."""


def value_size(value: Any) -> int:
    """A value's size as Firestore counts it against the query value limit
    (https://firebase.google.com/docs/firestore/storage-size#field-value-size): a string
    is its UTF-8 bytes + 1, a number 8, a bool or null 1, an array the sum of its values,
    a map the sum of its keys' string sizes and its values' sizes (the emulator counts an
    array or map no more than that: ``tests/backends/test_firestore_limits.py``)."""
    kind = type(value)
    if kind is str:
        return len(value.encode("utf-8")) + 1
    if kind is bool or value is None:
        return 1
    if kind is int or kind is float:
        return 8
    if kind is tuple or kind is list:
        return sum(value_size(v) for v in value)
    if kind is dict:
        return sum(len(k.encode("utf-8")) + 1 + value_size(v) for k, v in value.items())
    if kind is bytes:
        return len(value)
    if isinstance(value, datetime):
        return 8
    if isinstance(value, Hole):
        # a plan template's hole: a string hole is at most StringHole.MAX_BYTES (< the
        # limit, see ``_HOLE_FITS``), the others are scalars; a longer string is never a
        # hole, so its execution compiles in full and is refused here
        return 0
    return 8  # pragma: no cover - plans hold JSON values only


_HOLE_FITS = LIMITS["value bytes"] >= StringHole.MAX_BYTES + 1
assert _HOLE_FITS, "a string hole could hold a value Firestore refuses in a query"


def _leaf_oversized(node: FieldFilter) -> bool:
    """Whether the leaf's value passes the query value limit (the values of
    ``in``/``not-in``/``array-contains-any`` one by one; document ids are references,
    which the limit does not count)."""
    value: Any = node.value
    kind = type(value)
    limit = LIMITS["value bytes"]
    if kind is dict:
        return value_size(value) > limit
    if node.field == ID_FIELD:
        return False
    if kind is str:
        return len(value) > SHORT_STRING and len(value.encode("utf-8")) >= limit
    if kind is bytes:
        return len(value) > limit
    if kind is tuple and node.op in _LISTED_OPS:
        return any(value_size(v) > limit for v in value
                   if not fits(v))
    if kind is tuple:
        return value_size(value) > limit
    return False


_SET_LIMITS = {op: (name, construct, LIMITS[f"{name} values"]) for op, name, construct in (
    ("in", "in", "in"), ("not-in", "not-in", "not in"),
    ("array_contains_any", "array-contains-any", "contains any"))}
"""Operators with a list of values: their name in ``LIMITS`` and in messages, the
construct they answer, and how many values they take."""


def _remember(name: str | tuple[str, ...]) -> None:
    GOOD_NAMES.put(name, True)


class _Compiler(FilterBuilder):
    """One compile. It is the condition's ``FilterBuilder`` too (one object, and
    ``refusal`` is its own)."""

    # what the condition's final tree holds (``analyse``); the class defaults are an
    # empty condition's (fewer stores per compile)
    leaf_count = 0
    """How many leaves (filters) the condition's final filter tree has."""
    disjunctions = 1
    """How many disjunctions the tree has in normal form (as Firestore counts)."""
    arrays_per_disjunction = 0
    """The most array-contains(-any) filters in one disjunction."""
    inequality_fields = 0
    """How many fields the tree has inequalities on (the document id included)."""
    inequalities: Sequence[FieldFilter] = ()
    """The leaves with an inequality (``INEQUALITY_OPS``), in order."""
    special: Sequence[FieldFilter] = ()
    """The leaves with a list of values or a ``!=``: those with limits of their own."""
    large: Sequence[FieldFilter] = ()
    """The leaves whose value may pass the query value limit (``check_values``)."""
    on_id: Sequence[FieldFilter] = ()
    """The leaves on the document id."""
    may_hold_id = False
    """Whether the builder made a filter on the document id."""
    present: AbstractSet[tuple[str, ...]] = frozenset()
    """Fields every document the final filter accepts has (some of them)."""
    notes: tuple[str, ...] = ()
    """What the plan says beside its steps (most plans: nothing)."""
    # the FilterBuilder's state
    made_exists = 0
    made_id = False
    new_names = False
    names_checked = False

    def __init__(self, query: ir.Query, schema: Any, options: FirestoreOptions) -> None:
        self.query = query
        self.options = options
        self.required = _NO_FIELDS if schema is None else required_fields(
            schema, query.collection)

    def refusal(self, rule: str, construct: str, node: Any, message: str,
                hint: str | None = None) -> CapabilityError:
        """The located refusal of ``construct`` (one of ``REFUSABLE``) at ``node``, coded
        ``capability.firestore.<rule>``."""
        return refuse(BACKEND, construct, node, message, hint, self.query.source, rule=rule)

    # -- names ------------------------------------------------------------------------
    def check_names(self) -> None:
        """Refuse a collection name or field path Firestore cannot address (each found
        valid is remembered in ``GOOD_NAMES``)."""
        q = self.query
        self.names_checked = True
        if not valid_document_id(q.collection):
            raise self.refusal(
                "name", "collection name", q,
                f"`{q.collection}` is not a valid Firestore collection id",
                "a collection id is not empty, has no `/`, is not `.` or `..` or `__...__`, "
                "and is at most 1500 bytes")
        _remember(q.collection)
        for node in visitor.paths(q):
            segments = node.segments
            if segments in GOOD_NAMES:
                continue
            if len(segments) > LIMITS["field path segments"]:
                raise self.refusal(
                    "path-segments", "field name", node,
                    f"firestore field paths have at most {LIMITS['field path segments']} "
                    f"segments; `{node.dotted}` has {len(segments)}",
                    "Firestore nests maps at most 20 levels deep "
                    "(https://firebase.google.com/docs/firestore/quotas#collections_"
                    "documents_and_fields): store the value at a shallower path")
            length = 0
            for seg in segments:
                if seg == "" or (len(seg) >= 4 and seg.startswith("__") and seg.endswith("__")):
                    raise self.refusal(
                        "name", "field name", node,
                        f"firestore cannot address the field name `{seg}`",
                        "field names are not empty, and names like `__x__` are reserved")
                length += len(seg)
            # Firestore documents 1500 bytes; the emulator refuses a 1500-byte path
            if length > _SHORT_PATH and len(
                    field_path(segments).encode("utf-8")) > LIMITS["field path bytes"]:
                raise self.refusal("name", "field name", node,
                                  f"firestore field paths in a query are at most "
                                  f"{LIMITS['field path bytes']} bytes")
            _remember(segments)

    # -- the condition ---------------------------------------------------------------------
    def condition(self) -> Filter:
        q = self.query
        if q.where is None:
            return ALWAYS
        if self.names_checked:
            built = self.build(q.where)
        else:
            try:
                built = self.build(q.where)
            except Exception:
                self.check_names()  # a bad name is refused first, as when checked first
                raise
            if self.new_names:
                self.check_names()
        self.may_hold_id = self.made_id
        if self.made_exists:
            both = self.options.native_not_equal and self.options.native_or
            top = (expand_top_exists(built, self.made_exists, both, self.refusal)
                   if type(built) is And else None)
            tree = top if top is not None else expand_exists(built, both, self.refusal)
        else:
            # the tree is normalised already: expanding nothing would rebuild it alike
            assert not isinstance(built, Exists)
            tree = built
        self.analyse(tree)
        options = self.options
        if not (options.native_or and options.native_not_equal):
            self.check_profile(tree)  # (every filter the builder makes is allowed else)
        return self.key_equalities(tree) if self.on_id else tree

    def analyse(self, tree: Filter) -> None:
        """The final tree's normal form, size and the leaves the checks look at, sorted
        out in one walk (``scan``)."""
        inequalities: list[FieldFilter] = []
        special: list[FieldFilter] = []
        present: set[tuple[str, ...]] = set()
        self.inequalities, self.special, self.present = inequalities, special, present
        large: list[FieldFilter] = []
        self.large = large
        self.leaf_count, self.disjunctions, self.arrays_per_disjunction = scan(
            tree, inequalities, special, present, large)
        if self.may_hold_id:
            self.on_id = [leaf for leaf in leaves(tree) if leaf.field == ID_FIELD]

    def key_equalities(self, tree: Filter) -> Filter:
        """Firestore refuses `==`/`in` on the document id next to an inequality on another
        field ("Equality on key is not allowed if there are other inequality fields and
        key does not appear in inequalities"): `_id == x` becomes the exact range
        `>= x and <= x`; an `in` on the id is refused."""
        on_id = self.on_id
        if not on_id:
            return tree
        for leaf in self.inequalities:
            if leaf.field != ID_FIELD:
                break
        else:
            return tree
        for leaf in on_id:
            if leaf.op == "in":
                raise self.refusal(
                    "id-equality-with-inequality", "in", leaf.origin,
                    "firestore cannot combine `_id in [..]` with an inequality on another "
                    "field", "run one query per id, or turn the other inequality into `==`")
        if not any(leaf.op == "==" for leaf in on_id):
            return tree  # nothing to rewrite (rebuilding the tree would give it back)

        def rewrite(node: Filter) -> Filter:
            if isinstance(node, FieldFilter):
                if node.on_id and node.op == "==":
                    ranged = and_([FieldFilter(ID_FIELD, ">=", node.value, node.origin),
                                   FieldFilter(ID_FIELD, "<=", node.value, node.origin)])
                    assert not isinstance(ranged, Exists)
                    return ranged
                return node
            children = [rewrite(c) for c in node.filters]
            out = and_(children) if isinstance(node, And) else or_(children, node.origin)
            assert not isinstance(out, Exists)
            return out

        tree = rewrite(tree)
        self.analyse(tree)
        return tree

    def check_profile(self, tree: Filter) -> None:
        native_or, native_not_equal = self.options.native_or, self.options.native_not_equal
        if native_or and native_not_equal:
            return  # every filter the builder makes is allowed
        if not native_or and type(tree) is not FieldFilter:
            for node in composites(tree):
                if isinstance(node, Or) and node.filters:
                    # Firestore answers OR filters since 2023; leaving them out is
                    # the profile's choice, and the message says so
                    raise self.refusal("or", "or", node.origin,
                                      f"the {self.options.profile} Firestore profile does "
                                      "not emit `or`", _OPTION_HINT["or"])
        if native_not_equal:
            return
        for leaf in self.special:
            if leaf.op in ("!=", "not-in"):
                origin = leaf.origin.operand if isinstance(leaf.origin, ir.Not) else leaf.origin
                construct = "not in" if leaf.op == "not-in" or isinstance(origin, ir.In) else "!="
                raise self.refusal("not-equal", construct, leaf.origin,
                                  f"firestore cannot evaluate `{construct}`",
                                  _OPTION_HINT[construct])

    def check_special_limits(self, tree: Filter) -> None:
        """The limits of the filters with a list of values or a ``!=`` (``special``)."""
        not_equal: list[FieldFilter] = []
        for leaf in self.special:
            op = leaf.op
            limit = _SET_LIMITS.get(op)
            if limit is not None and len(leaf.value) > limit[2]:
                name, construct, most = limit
                raise self.refusal(
                    f"{name}-values", construct, leaf.origin,
                    f"firestore's `{name}` takes at most {most} values; "
                    f"this one has {len(leaf.value)}", "split the values over several queries")
            if op == "!=" or op == "not-in":
                not_equal.append(leaf)
        if len(not_equal) > LIMITS["not-equal filters"]:
            raise self.refusal(
                "not-equal-count", "!=", not_equal[1].origin,
                "firestore allows one `!=`, `not-in` or `!= null` filter per query; this "
                f"query needs {len(not_equal)}",
                "keep one of them and narrow the others with `==`, `in` or ranges")
        # (one `!=`/`not-in` at most now)
        not_in = not_equal if not_equal and not_equal[0].op == "not-in" else []
        if not_in:
            ors = [n for n in composites(tree) if isinstance(n, Or)]
            others = [leaf for leaf in self.special if leaf.op in ("in", "array_contains_any")]
            if ors or others:
                raise self.refusal(
                    "not-in-combination", "not in", not_in[0].origin,
                    "firestore cannot combine `not-in` with `in`, `array-contains-any` or OR "
                    "in one query",
                    "write the excluded values as separate `!=` tests, or drop the `or`/`in`")

    def check_limits(self, tree: Filter, orders: int) -> None:
        where = self.query.where
        if where is not None and self.large:  # (the leaves whose values may not fit)
            self.check_values()
        if self.special:  # most conditions have no list and no `!=`
            self.check_special_limits(tree)
        if self.arrays_per_disjunction > LIMITS["array-contains per disjunction"]:
            arrays = [leaf for leaf in leaves(tree)
                      if leaf.op in ("array_contains", "array_contains_any")]
            raise self.refusal(
                "array-contains-per-disjunction", "contains", arrays[-1].origin,
                "firestore allows one `array-contains` or `array-contains-any` per "
                "disjunction",
                "combine the values into one `contains any`, or split the query")
        count = self.disjunctions
        if count > LIMITS["disjunctions"]:
            raise self.refusal(
                "disjunctions", "or", where,
                f"firestore allows {LIMITS['disjunctions']} disjunctions in normal form; the "
                f"condition has {count}",
                "each `in`/`contains any` value and each `or` branch multiplies across `and`; "
                "shorten the lists or split the query")
        if self.inequality_fields > LIMITS["inequality fields"]:
            raise self.refusal(
                "inequality-fields", "<, <=, >, >=", where,
                f"firestore allows inequalities on {LIMITS['inequality fields']} fields; the "
                f"condition has {self.inequality_fields}",
                "turn some ranges into equalities, or split the query")
        total = self.leaf_count + orders
        if total > LIMITS["filters and orders"]:
            raise self.refusal(
                "filters-and-orders", "and", where,
                f"firestore allows {LIMITS['filters and orders']} filters and orders in all; "
                f"the query has {self.leaf_count} filters and {orders} orders",
                "split the query")

    def check_values(self) -> None:
        """Refuse a value past Firestore's query value limit (1,500 bytes as Firestore
        sizes values: ``value_size``); the server would refuse the query ("too large to
        be used in a query")."""
        # `large` holds, in the tree's order, every leaf whose value may not fit (and
        # every native value: bytes, timestamps)
        for each in self.large:
            if each.op in _RANGE_OPS and ordered_bytes(each.value):
                raise self.refusal(
                    "bytes-order", "<, <=, >, >=", each.origin,
                    "firestore orders bytes bytewise, CrossQL length first (b\"b\" < "
                    "b\"ab\"): an ordering comparison with bytes would disagree",
                    BYTES_ORDER_HINT)
            inexact = inexact_decimal(each.value)
            if inexact is not None:
                raise self.refusal(
                    "decimal", "value", each.origin,
                    f"firestore has no exact decimal, and {inexact} is no double exactly",
                    DECIMAL_FILTER_HINT)
        leaf = next((leaf for leaf in self.large if _leaf_oversized(leaf)), None)
        if leaf is None:
            return
        value = leaf.value
        sizes = [value_size(v) for v in value] if (
            type(value) is tuple and leaf.op in _LISTED_OPS) else [value_size(value)]
        size = max(sizes)
        raise self.refusal(
            "value-bytes", "value", leaf.origin,
            f"firestore compares values of at most {LIMITS['value bytes']} bytes in a "
            f"query; this one is {size} bytes (a string counts its UTF-8 bytes + 1)",
            "Firestore does not index longer values: compare a shorter value (a prefix with "
            "`startswith`), or store a hash of the long value in a field of its own and "
            "compare that")

    # -- presence --------------------------------------------------------------------------
    def is_present(self, tree: Filter, field: tuple[str, ...]) -> bool:
        """Whether every document the condition (``tree``, the final filter) accepts
        has ``field``: the filter implies it, or the schema declares it required."""
        if field in self.required:
            return True
        return field in self.present or has_field(tree, field)

    def check_inequality_fields(self, tree: Filter) -> list[tuple[str, ...]]:
        """Inequality fields (document id aside), each checked to be present."""
        out: list[tuple[str, ...]] = []
        seen: set[tuple[str, ...]] = set()
        on_id = 0
        present, required = self.present, self.required
        if len(self.inequalities) > _WALK_PER_FIELD:  # one walk for all, not one per field
            in_tree = fields_present(tree)
            present = present | (in_tree if in_tree is not None else
                                 {leaf.field for leaf in self.inequalities})
        for leaf in self.inequalities:
            field = leaf.field
            if field in seen:
                continue
            seen.add(field)
            if field == ID_FIELD:
                on_id = 1
                continue
            # is_present, inline: most inequality fields are at the top of the tree
            if field not in present and field not in required and not has_field(tree, field):
                dotted = ".".join(field)
                raise self.refusal(
                    "inequality-missing-field", "or", leaf.origin,
                    f"firestore orders by `{dotted}` for this inequality and so leaves out "
                    f"documents without `{dotted}`, which the condition would keep",
                    f"make every branch of the `or` test `{dotted}`, or declare it required: "
                    f"schema={{{self.query.collection!r}: {{'required': [{dotted!r}]}}}}")
            out.append(field)
        self.inequality_fields = len(out) + on_id
        return out

    # -- plain queries -------------------------------------------------------------------------
    def order_steps(self, tree: Filter, inequality: list[tuple[str, ...]],
                    aliases: Mapping[str, tuple[str, ...]]) -> tuple[list[OrderBy], int]:
        """The ``order_by`` steps, and how many inequality fields Firestore orders by
        after them (implicitly). ``aliases``: the path each select alias names."""
        q = self.query
        steps: list[OrderBy] = []
        seen: set[tuple[str, ...]] = set()
        for key in q.order_by:
            segs = key.path.segments
            if aliases and len(segs) == 1:  # resolve_order_key: an alias names a select item
                segs = aliases.get(segs[0], segs)
            if segs == ("_id",):
                segs = ID_FIELD
            if segs in seen:
                continue  # a repeated key orders nothing more
            seen.add(segs)
            if segs == ID_FIELD:
                if not steps and key.descending:
                    raise self.refusal(
                        "descending-id", "order by", key,
                        "firestore cannot start an ordering with the document id descending",
                        "the emulator refuses descending key scans and production needs an "
                        "index for them; order by another field first")
                missing = [f for f in inequality if f not in seen]
                if missing:
                    dotted = ".".join(missing[0])
                    raise self.refusal(
                        "order-after-inequality", "order by", key,
                        f"firestore orders by the inequality field `{dotted}` before the "
                        "document id, so `_id` cannot come first",
                        f"order by `{dotted}` before `_id`")
                steps.append(_order_by(ID_FIELD, key.descending))
                break  # keys after the id order nothing
            if segs not in self.present and not self.is_present(tree, segs):
                dotted = ".".join(segs)
                raise self.refusal(
                    "order-missing-field", "order by", key,
                    f"firestore leaves out documents without `{dotted}` when ordering by it",
                    f"add a condition on `{dotted}` to `where` (any test of it means it is "
                    f"present), or declare it required: "
                    f"schema={{{q.collection!r}: {{'required': [{dotted!r}]}}}}")
            if segs in self.required and segs not in self.present and \
                    not has_field(tree, segs):
                self.notes += (f"ordered by `{'.'.join(segs)}`, which the schema declares "
                               "required: no document is left out",)
            found = _SHARED.get((OrderBy, segs, key.descending))
            steps.append(found if found is not None else _order_by(segs, key.descending))
        implicit: list[tuple[str, ...]] = []
        for f in inequality:
            if f not in seen:
                implicit.append(f)
        if implicit and steps:
            fields = tuple(implicit)
            note = _SHARED.get(("implicit order note", fields))
            self.notes += (note if note is not None else _implicit_order_note(fields),)
        return steps, len(implicit)

    def page(self) -> tuple[int, int | None]:
        q = self.query
        offset = 0 if q.offset is None else _count(q.offset) or 0
        limit = None if q.limit is None else _count(q.limit)
        if offset > LIMITS["offset"]:
            raise self.refusal("offset-range", "offset", q.offset,
                              f"firestore's offset is at most {LIMITS['offset']}")
        if limit is not None and limit > LIMITS["limit"]:
            raise self.refusal("limit-range", "limit", q.limit,
                              f"firestore's limit is at most {LIMITS['limit']}",
                              "leave `limit` out to read every row")
        return offset, limit

    def plain(self, tree: Filter, selected: tuple[tuple[str, ...] | str | None, ...]
              ) -> FirestorePlan:
        """The plan of a query without aggregates; ``selected``: each selected path's
        segments followed by its alias (``_select_shape``)."""
        q = self.query
        count = q.limit
        value = count.value if type(count) is ir.Literal else None
        if q.offset is None and (count is None or (
                type(value) is int and value <= LIMITS["limit"])):
            offset, limit = 0, value if type(value) is int else None  # page(), inline
        else:
            offset, limit = self.page()
        outputs: tuple[Output, ...] = ()
        projection: Select | None = None
        aliases: Mapping[str, tuple[str, ...]] = _NO_ALIASES
        if selected:
            shape = _SHARED.get((Select, selected))
            if shape is None:
                shape = _shared((Select, selected), lambda: _select_shape(selected))
            outputs, projection, aliases = shape
        never = type(tree) is Or and not tree.filters
        if never or limit == 0:
            reason = "the condition matches no document" if never else "`limit 0`"
            return FirestorePlan(q.collection, (), (), outputs, (), self.options,
                                 (f"no rows: {reason}",))
        inequality = self.check_inequality_fields(tree) if self.inequalities else []
        orders, implicit = (self.order_steps(tree, inequality, aliases) if q.order_by
                            else ([], len(inequality)))
        self.check_limits(tree, len(orders) + implicit)
        if self.on_id:
            document = _id_equality(tree)
            if document is not None:
                # the id alone needs nothing evaluated on the document
                return self.document_get(document, outputs, offset,
                                         type(tree) is not FieldFilter)
        steps: list[Step] = [] if type(tree) is And and not tree.filters else [Where(tree)]
        if orders:
            steps.extend(orders)
        if offset:
            steps.append(Offset(offset))
        if limit is not None:
            found = _SHARED.get((Limit, type(limit), limit))
            steps.append(found if found is not None else _limit(limit))
        if projection is not None:
            steps.append(projection)
        return FirestorePlan(q.collection, tuple(steps), (), outputs, None, self.options,
                             self.notes)

    def document_get(self, document: str, outputs: tuple[Output, ...], offset: int,
                     evaluate: bool) -> FirestorePlan:
        """The plan of a plain query whose condition fixes the document id: one document
        get, the whole ``where`` then evaluated on that document by the reference
        evaluator (exact; ``order by`` and ``limit`` cannot change one row, an offset
        drops it). Checked first as the query it replaces, so what it accepts and
        refuses is the query's. ``evaluate``: the ``where`` says more than the id."""
        q = self.query
        if offset:
            return FirestorePlan(q.collection, (), (), outputs, (), self.options,
                                 ("no rows: the condition fixes the document id, so at "
                                  "most one document matches, and the offset skips it",))
        return FirestorePlan(q.collection, (), (), outputs, None, self.options, (),
                             document, q.where if evaluate else None)

    # -- aggregates -------------------------------------------------------------------------------
    def aggregate(self, tree: Filter) -> FirestorePlan:
        """The plan of an aggregation query (no ``group by``): one row."""
        q = self.query
        offset, limit = self.page()
        aggregations, outputs, empty, fields = self.aggregations(tree)
        one_row = offset == 0 and (limit is None or limit > 0)
        row = {".".join(o.key): empty[o.aggregation or ""] for o in outputs}
        if _matches_nothing(tree) or not one_row:
            reason = ("the condition matches no document, so the aggregates are of nothing"
                      if one_row else "the offset/limit leaves out the single row")
            return FirestorePlan(q.collection, outputs=tuple(outputs),
                                 static_rows=(row,) if one_row else (),
                                 options=self.options, notes=(reason,))
        inequality = self.check_inequality_fields(tree)
        orders = self.aggregated_orders(fields) if self.on_id else []
        implicit = [f for f in inequality if f not in {o.field for o in orders}]
        self.check_limits(tree, len(orders) + len(implicit))
        steps: tuple[Step, ...] = (() if _matches_all(tree) else (Where(tree),)) + tuple(orders)
        return FirestorePlan(q.collection, steps=steps, aggregations=tuple(aggregations),
                             outputs=tuple(outputs), options=self.options,
                             notes=self.notes)

    def aggregations(self, tree: Filter) -> tuple[
            list[Aggregation], list[Output], dict[str, Any],
            list[tuple[tuple[str, ...], ir.SelectItem]]]:
        """The select list's aggregations, their outputs, the row of an empty input (by
        alias) and the aggregated fields (with their items), each checked."""
        q = self.query
        aggregations: list[Aggregation] = []
        outputs: list[Output] = []
        empty: dict[str, Any] = {}
        fields: list[tuple[tuple[str, ...], ir.SelectItem]] = []
        non_null: frozenset[tuple[str, ...]] | None = _NO_FIELDS
        non_null_known = False  # computed for the first count(p) only
        for i, item in enumerate(q.select):
            agg = item.expr
            assert isinstance(agg, ir.Aggregate)
            alias = f"a{i}"
            arg = agg.arg.segments if agg.arg is not None else None
            if agg.func == "count":
                if arg is not None and arg != ("_id",) and not non_null_known:
                    non_null, non_null_known = non_null_fields(tree), True
                self.check_count(agg, arg, non_null)
                aggregations.append(Aggregation("count", None, alias))
                empty[alias] = 0
            else:
                self.check_aggregated(agg, arg)
                assert arg is not None
                aggregations.append(Aggregation(agg.func, arg, alias))  # type: ignore[arg-type]
                fields.append((arg, item))
                empty[alias] = 0 if agg.func == "sum" else None
            outputs.append(Output(output_key(item), aggregation=alias))
        if len(aggregations) > LIMITS["aggregations"]:
            raise self.refusal(
                "aggregations", "select", q.select[LIMITS["aggregations"]],
                f"firestore runs at most {LIMITS['aggregations']} aggregations in one query",
                "split the aggregates over several queries")
        if len(aggregations) > 1:
            self.check_aggregated_present(tree, fields)
        return aggregations, outputs, empty, fields

    def check_count(self, agg: ir.Aggregate, arg: tuple[str, ...] | None,
                    non_null: frozenset[tuple[str, ...]] | None) -> None:
        """``count(p)`` is ``count()`` only where the condition makes ``p`` non-null
        (``non_null``: those paths, None for all)."""
        if arg is not None and arg != ("_id",) and not (non_null is None or arg in non_null):
            dotted = ".".join(arg)
            raise self.refusal(
                "count-field", "count(p)", agg,
                f"firestore cannot evaluate `count({dotted})`",
                f"Firestore counts documents only; add a test of `{dotted}` that "
                f"excludes null to `where` (e.g. `{dotted} != null`) and use count()")

    def check_aggregated(self, agg: ir.Aggregate, arg: tuple[str, ...] | None) -> None:
        """Firestore has no ``min``/``max``; a document id adds up to nothing."""
        if agg.func in ("min", "max"):
            raise self.refusal(
                "aggregate", agg.func, agg, f"firestore cannot evaluate `{agg.func}(...)`",
                f"Firestore has count, sum and avg only; for {agg.func} order by the "
                f"field {'desc' if agg.func == 'max' else 'asc'} and take `limit 1`")
        if arg == ("_id",):
            raise self.refusal(
                "aggregate", agg.func, agg,
                f"firestore cannot evaluate `{agg.func}(_id)`",
                "document ids are strings; there is nothing to add up")

    def check_aggregated_present(self, tree: Filter,
                                 fields: list[tuple[tuple[str, ...], ir.SelectItem]]) -> None:
        """With several aggregations Firestore counts only the documents that have every
        aggregated field: each must be present wherever the condition holds."""
        for arg, item in fields:
            if not self.is_present(tree, arg):
                dotted = ".".join(arg)
                raise self.refusal(
                    "aggregate-missing-field", item.expr.func if isinstance(
                        item.expr, ir.Aggregate) else "sum", item,
                    f"with several aggregations firestore counts only documents that "
                    f"have `{dotted}`",
                    f"run this aggregate in a query of its own, add a test of `{dotted}` "
                    "to `where`, or declare it required in the schema")

    def aggregated_orders(self, fields: list[tuple[tuple[str, ...], ir.SelectItem]]
                          ) -> list[OrderBy]:
        """The orders an aggregation with a filter on the document id needs (noted)."""
        # with a filter on the document id, Firestore sums only fields ordered before
        # the id ("requires an index that has fields [..] after __name__"); ordering
        # drops documents without the field, which add nothing to sum or avg, and
        # several aggregations already need their fields present
        orders: list[OrderBy] = []
        for arg, _item in fields:
            if arg not in {o.field for o in orders}:
                orders.append(OrderBy(arg))
        if orders:
            self.notes += ("ordered by the aggregated field"
                           f"{'s' if len(orders) > 1 else ''}: Firestore aggregates "
                           "a field after a document-id filter only when it is ordered",)
        return orders

    def run(self) -> FirestorePlan:
        q = self.query
        # one pass over the select list: whether it aggregates, whether its paths are known
        # good (``GOOD_NAMES``; the builder looks at the condition's), and the key of a
        # plain query's select shape: each path's segments followed by its alias (flat:
        # fewer tuples to build and hash)
        good = GOOD_NAMES
        known = q.collection in good and not q.group_by
        aggregate = False
        selected: list[tuple[str, ...] | str | None] = []
        for item in q.select:
            expr = item.expr
            if isinstance(expr, ir.Path):
                segments = expr.segments
                if segments not in good:
                    known = False
                selected.append(segments)
                selected.append(item.alias)
            else:
                aggregate = True  # q.is_aggregate (no group by past the check below)
                if expr.arg is not None and expr.arg.segments not in good:
                    known = False
        if known:
            for key in q.order_by:
                if key.path.segments not in good:
                    known = False
                    break
        if not known:
            self.check_names()
        if q.group_by:
            raise self.refusal(
                "group-by", "group by", q.group_by[0],
                "firestore cannot evaluate `group by`",
                "Firestore aggregates a whole query; run one query per group value")
        tree = self.condition()
        return self.aggregate(tree) if aggregate else self.plain(tree, tuple(selected))


_SHARED: Memo[Any, Any] = Memo(4096, "firestore plan parts")
"""Small plan objects and notes by value, so plans share them: they are immutable,
a lookup is cheaper than building one, and a cache of plans holds fewer copies.
Bounded: the values come from queries."""


def _shared(key: Any, make: Any) -> Any:
    """The shared object for ``key`` (``make()`` builds it the first time)."""
    found = _SHARED.get(key)
    if found is None:
        found = _SHARED.put(key, make())
    return found


def _order_by(field: tuple[str, ...], descending: bool) -> OrderBy:
    found = _SHARED.get((OrderBy, field, descending))
    return found if found is not None else _shared(  # type: ignore[no-any-return]
        (OrderBy, field, descending), lambda: OrderBy(field, descending))


def _limit(count: int) -> Limit:
    # the count's type is in the key: True == 1, yet a limit is an int
    found = _SHARED.get((Limit, type(count), count))
    return found if found is not None else _shared(  # type: ignore[no-any-return]
        (Limit, type(count), count), lambda: Limit(count))


_NO_ALIASES: Mapping[str, tuple[str, ...]] = {}


def _select_shape(items: tuple[tuple[str, ...] | str | None, ...]
                  ) -> tuple[tuple[Output, ...], Select, Mapping[str, tuple[str, ...]]]:
    """The outputs and the ``select`` step of the selected paths, and the path each
    alias names: ``items`` is each path's segments followed by its alias (or None)."""
    outputs: list[Output] = []
    projection: list[tuple[str, ...]] = []
    aliases: dict[str, tuple[str, ...]] = {}
    for at in range(0, len(items), 2):
        segs, alias = items[at], items[at + 1]
        assert isinstance(segs, tuple) and not isinstance(alias, tuple)
        key = segs if alias is None else (alias,)  # output_key(item)
        if alias is not None:
            aliases.setdefault(alias, segs)  # the first item an alias names (resolve_order_key)
        if segs == ("_id",):
            outputs.append(Output(key, ID_FIELD))
        else:
            outputs.append(Output(key, segs))
            projection.append(segs)
    # a path under another selected path comes with it
    paths = tuple(p for p in projection
                  if not any(o != p and p[:len(o)] == o for o in projection))
    return tuple(outputs), Select(tuple(dict.fromkeys(paths))), aliases or _NO_ALIASES


def _implicit_order_note(fields: tuple[tuple[str, ...], ...]) -> str:
    return _shared(  # type: ignore[no-any-return]
        ("implicit order note", fields),
        lambda: "Firestore appends the inequality field"
                f"{'s' if len(fields) > 1 else ''} "
                + ", ".join(f"`{'.'.join(f)}`" for f in fields)
                + " to the order (ties only)")


def _id_equality(tree: Filter) -> str | None:
    """The document id ``tree`` fixes at its top (``__name__ == id``, or the range
    ``>= id and <= id`` ``key_equalities`` makes of it), else None."""
    if type(tree) is FieldFilter:
        return tree.value if tree.field == ID_FIELD and tree.op == "==" else None
    if type(tree) is not And:
        return None
    low = high = None
    for child in tree.filters:
        if type(child) is FieldFilter and child.field == ID_FIELD:
            if child.op == "==":
                return child.value  # type: ignore[no-any-return]
            if child.op == ">=":
                low = child.value
            elif child.op == "<=":
                high = child.value
    if low is not None and high is not None and type(low) is str and low == high:
        return low
    return None


def _matches_all(tree: Filter) -> bool:
    """``tree == ALWAYS``, without the dataclass comparison."""
    return type(tree) is And and not tree.filters


def _matches_nothing(tree: Filter) -> bool:
    """``tree == NEVER``, without the dataclass comparison."""
    return type(tree) is Or and not tree.filters


def _count(value: ir.Literal | ir.Param | None) -> int | None:
    if value is None:
        return None
    assert isinstance(value, ir.Literal) and isinstance(value.value, int)
    return value.value


def compile_firestore(query: ir.Query, *, schema: Any = None,
                      options: FirestoreOptions | Mapping[str, Any] | None = None
                      ) -> FirestorePlan | ClientSidePlan:
    """Compile a bound query into a Firestore plan under ``options`` (default profile:
    no ``!=``, no OR). ``schema`` may declare fields present in every document:
    ``{"users": {"required": ["age"]}}``, and composite indexes (``"indexes": [...]``,
    which ``require_indexes`` checks the query against: docs/indexes.md). With
    ``options.client_side``, a query refused only for what Firestore cannot order, group
    or aggregate is a ``ClientSidePlan`` (whose native part is not checked for indexes).
    """
    opts = options if type(options) is FirestoreOptions else coerce_options(options)
    try:
        plan = _Compiler(query, schema, opts).run()
    except CapabilityError as err:
        if opts.client_side is None:
            raise
        return complete_client_side(err, query, lambda q: _Compiler(q, schema, opts).run(),
                                    opts.client_side, COMPLETION)
    if opts.require_indexes and plan.static_rows is None and plan.document is None:
        # imported here: only a profile that asks for the check pays for it
        from crossql.indexes.check import require_firestore_indexes

        require_firestore_indexes(query, schema)
    return plan


COMPLETION = Completion(
    lifts=frozenset(f"capability.firestore.{rule}" for rule in (
        "group-by", "aggregate", "count-field", "aggregate-missing-field",
        "order-missing-field", "descending-id", "order-after-inequality")),
    riders=frozenset({"capability.firestore.offset-range", "capability.firestore.limit-range"}),
    constructs=("group by", "count(p)", "sum", "avg", "min", "max", "order by"),
    rider_constructs=("limit", "offset"))
"""What ``client_side`` completes: ``group by``, the aggregates Firestore has not (or
not over documents that may miss the field), and the orders it cannot give (a field
that may be missing, the document id first descending or before an inequality field);
a ``limit``/``offset`` past Firestore's range too, with one of them."""
