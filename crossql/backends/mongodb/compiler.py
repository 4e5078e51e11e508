"""Bound CrossQL query → MongoDB plan (``find`` or ``aggregate``). Pure: no pymongo.

The simplest exact plan wins: ``find`` when the rows are whole documents or a
plain projection; ``aggregate`` when the query groups, aggregates or renames
fields. See ``filters.py`` for how conditions keep the reference semantics.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from crossql import ir
from crossql._memo import Memo
from crossql.backends.base import CONSTRUCTS, BackendSpec, Capabilities, refuse
from crossql.backends.mongodb.filters import NEVER, FilterBuilder, check_collection, field_name
from crossql.backends.mongodb.plan import MongoPlan
from crossql.backends.mongodb.writes import compile_mongodb_write
from crossql.compiler.shape import output_key, resolve_order_key

BACKEND = "mongodb"

CAPABILITIES = Capabilities(
    backend=BACKEND,
    support={
        **dict.fromkeys(CONSTRUCTS, "guarded"),
        **dict.fromkeys(("not", "and", "or", "exists", "limit", "offset", "select", "count()",
                         "count(p)", "sum", "avg", "min", "max"), "native"),
        **dict.fromkeys(("size", "not exists", "group by", "startswith"), "rewritten"),
    },
    notes={
        "==": "`$type: \"null\"` for `== null` (a bare null also matches missing); arrays "
              "are kept from matching element-wise",
        "!=": "built from `$exists` and `$nin: [v, null]`: `$ne` alone matches missing and null",
        "not": "pushed down by the three-valued rules, never a blanket `$nor`",
        "startswith": "an anchored, escaped, case-sensitive `$regex` (can use an index)",
        "matches": "`$regex` (PCRE); patterns should stay in the PCRE/Python common subset",
        "size": "`$size` for ==; other comparisons in `$expr` with `$isArray`",
        "contains all": "`$elemMatch` per value: `$all: []` would match nothing",
        "group by": "`$group` with `$ifNull` so missing and null keys share one group",
        "order by": "missing and null sort first, as in the reference; array-valued sort keys "
                    "sort by their smallest element in MongoDB (not promised)",
    },
    values={"timestamp": "guarded", "bytes": "guarded", "exact number": "native",
            "object id": "native"},
    value_notes={
        "timestamp": "BSON dates, read back as aware UTC datetimes; they keep milliseconds: "
                     "an ordering comparison with a finer datetime is rewritten exactly, "
                     "equality with one or a write of one refused",
        "bytes": "binary data (a `bson.Binary` keeps its subtype); `<`, `between` refused: "
                 "the server's `$lt` on binary data disagrees with its own sort order",
        "exact number": "`Decimal128` (34 digits; a `Decimal` past that refused), read back "
                        "as `Decimal`",
        "object id": "the `ObjectId` itself, as `fetch` returns it",
        "set": "BSON has no sets: a set is not written",
    },
)


def _check_clause_names(query: ir.Query) -> None:
    """The paths of group by, select and order by (the condition's paths are checked
    as its filter is built: ``FilterBuilder.field``), then the aliases."""
    field = FilterBuilder.field  # raises for a name MongoDB cannot address
    for path in query.group_by:
        field(path)
    for item in query.select:
        expr = item.expr
        if isinstance(expr, ir.Path):
            field(expr)
        elif expr.arg is not None:
            field(expr.arg)
    for key in query.order_by:
        field(key.path)
    for item in query.select:
        if item.alias is not None and ("." in item.alias or item.alias.startswith("$")):
            # the alias names a field of the output documents: a limit on field names
            raise refuse(BACKEND, "field name", item, f"`{item.alias}` is not a valid output "
                         "name in MongoDB", hint="choose an alias without `.` or a leading `$`",
                         rule="alias")


def _count(value: ir.Literal | ir.Param | None) -> int | None:
    if value is None:
        return None
    assert isinstance(value, ir.Literal) and isinstance(value.value, int)
    return value.value


_BUILDER = FilterBuilder()  # stateless: one for every compile


def compile_mongodb(query: ir.Query, *, schema: Any = None, options: Any = None) -> MongoPlan:
    """Compile a bound query into a MongoDB plan. ``schema`` (a ``crossql.Schema``)
    takes out the guards a collection's declaration proves unnecessary
    (``schema_guards.py``); the plan's explanation says how many."""
    # names are refused in the order they appear: collection, condition, the clauses
    check_collection(query.collection, query)
    match = _BUILDER.build(query.where) if query.where is not None else {}
    entry = None if schema is None or not match else _declared(schema, query.collection)
    if entry is None:
        return _plan(query, match)
    from crossql.backends.mongodb.schema_guards import without_guards

    match, dropped = without_guards(match, entry)
    plan = _plan(query, match)
    if not dropped:
        return plan
    note = (f"; the schema of `{query.collection}` proves {dropped} guard"
            f"{'s' if dropped != 1 else ''} (array, missing, null) unnecessary")
    return replace(plan, reason=plan.reason + note)


def _declared(schema: Any, collection: str) -> Any:
    """The declaration of ``collection`` in ``schema`` (a ``crossql.Schema``), or None."""
    lookup = getattr(schema, "collection", None)
    return None if lookup is None else lookup(collection)


def _plan(query: ir.Query, match: dict[str, Any]) -> MongoPlan:
    _check_clause_names(query)
    offset, limit_node = query.offset, query.limit
    skip = None if offset is None else _count(offset)
    limit = None if limit_node is None else _count(limit_node)
    nothing = limit == 0
    if nothing:
        # pymongo reads limit=0 as "no limit" and $limit rejects 0: match nothing instead
        match, limit = dict(NEVER), None
    if query.is_aggregate:
        return _grouped(query, match, skip, limit, one_row=not skip and not nothing)
    sort, dotted = _sort_keys(query)
    # plain paths of one segment, no alias (aggregates were handled above)
    names = []
    for item in query.select:
        segments = item.expr.segments  # type: ignore[union-attr]
        if item.alias is not None or len(segments) != 1:
            return _projected(query, match, sort, dotted, skip, limit)
        names.append(segments[0])
    if dotted:
        pipeline = _guarded_sort(match, sort, skip, limit)
        if names:
            pipeline.append({"$project": _projection_of(tuple(names))})
        return MongoPlan(kind="aggregate", collection=query.collection,
                         pipeline=tuple(pipeline), reason=_GUARDED_SORT_REASON)
    projection = _projection_of(tuple(names)) if names else None
    return MongoPlan("find", query.collection, match, projection,
                     _shared_sort(tuple(sort)) if sort else (), skip, limit, (), None,
                     _FIND_REASON)


def _sort_keys(query: ir.Query) -> tuple[list[tuple[str, int]], bool]:
    """The sort of an ungrouped query, ``(field, direction)`` in order without repeats,
    and whether a key is a dotted path."""
    sort: list[tuple[str, int]] = []
    dotted = False
    for key in query.order_by:
        item = resolve_order_key(query, key)
        path = item.expr if item is not None else key.path
        assert isinstance(path, ir.Path)
        field = field_name(path)
        for seen, _ in sort:  # a repeated key never changes the order
            if seen == field:
                break
        else:
            sort.append((field, -1 if key.descending else 1))
            dotted = dotted or len(path.segments) > 1
    return sort, dotted


def _projected(query: ir.Query, match: dict[str, Any], sort: list[tuple[str, int]],
               dotted: bool, skip: int | None, limit: int | None) -> MongoPlan:
    """The plan of an ungrouped query whose select renames or nests fields: an
    ``aggregate`` ending in the ``$project`` of the reference rows."""
    if dotted:
        pipeline = _guarded_sort(match, sort, skip, limit)
        reason = _GUARDED_SORT_REASON
    else:
        pipeline = [{"$match": match}] if match else []
        if sort:
            pipeline.append({"$sort": dict(sort)})
        if skip:
            pipeline.append({"$skip": skip})
        if limit is not None:
            pipeline.append({"$limit": limit})
        reason = "select renames or nests fields: $project builds exactly the reference rows"
    project = _projection(query.select)
    if "_id" not in project:
        project = {"_id": 0, **project}
    pipeline.append({"$project": project})
    return MongoPlan(kind="aggregate", collection=query.collection, pipeline=tuple(pipeline),
                     reason=reason)


_FIND_REASON = "whole documents or a plain projection: a find is enough"
_GUARDED_SORT_REASON = ("a sort key is a dotted path: $sort would read through an array on "
                        "its way, where the reference sees the key missing")


def _guarded_sort(match: dict[str, Any], sort: list[tuple[str, int]], skip: int | None,
                  limit: int | None) -> list[dict[str, Any]]:
    """``$match``, sort, ``$skip`` and ``$limit`` stages that sort as the reference does
    on dotted keys, giving back the whole documents.

    ``$sort`` on ``a.b`` reads into an array ``a`` (its elements' ``b``s,
    https://www.mongodb.com/docs/manual/reference/method/cursor.sort/#sort-by-an-array-field),
    where the reference's ``a.b`` is missing whenever ``a`` is not a map. Each document is
    wrapped as ``{k0: key, ..., doc: $$ROOT}`` (names no document field can clash with)
    with a dotted key computed as null when a proper prefix is not a map; MongoDB sorts
    null and missing together first, as the reference does. Then the document is
    unwrapped."""
    stages: list[dict[str, Any]] = [{"$match": match}] if match else []
    wrapper: dict[str, Any] = {}
    order: dict[str, int] = {}
    for i, (field, direction) in enumerate(sort):
        if "." not in field:
            order[f"doc.{field}"] = direction
            continue
        segments = tuple(field.split("."))
        guards = [_not_object(segments[:j]) for j in range(1, len(segments))]
        wrapper[f"k{i}"] = {"$cond": [guards[0] if len(guards) == 1 else {"$or": guards},
                                      None, _ref(segments)]}
        order[f"k{i}"] = direction
    wrapper["doc"] = "$$ROOT"
    stages += [{"$replaceRoot": {"newRoot": wrapper}}, {"$sort": order}]
    if skip:
        stages.append({"$skip": skip})
    if limit is not None:
        stages.append({"$limit": limit})
    stages.append({"$replaceRoot": {"newRoot": "$doc"}})
    return stages

# Plans of the same select list (or order by) share one projection document (sort
# tuple): cached plans of queries that differ only in their values hold them once
# (why sharing is safe: crossql/_memo.py; pymongo's ``find`` only reads a mapping
# projection).
_SHARED_MAX = 4096
"""Distinct select lists (sort keys) remembered."""
_PROJECTIONS: Memo[tuple[str, ...], dict[str, int]] = Memo(_SHARED_MAX, "mongodb projections")
_SORTS: Memo[tuple[tuple[str, int], ...], tuple[tuple[str, int], ...]] = Memo(
    _SHARED_MAX, "mongodb sorts")


def _projection_of(names: tuple[str, ...]) -> dict[str, int]:
    """The ``find`` projection of the one-segment paths ``names``: each included, and
    ``_id`` left out unless selected; one shared document per list of names."""
    projection = _PROJECTIONS.get(names)
    if projection is None:
        projection = dict.fromkeys(names, 1)
        projection.setdefault("_id", 0)
        _PROJECTIONS.put(names, projection)
    return projection


def _shared_sort(sort: tuple[tuple[str, int], ...]) -> tuple[tuple[str, int], ...]:
    """``sort``, or the equal tuple an earlier plan holds."""
    shared = _SORTS.get(sort)
    if shared is None:
        shared = _SORTS.put(sort, sort)
    return shared


def _ref(segments: tuple[str, ...]) -> str:
    return "$" + ".".join(segments)


def _missing(segments: tuple[str, ...]) -> dict[str, Any]:
    return {"$eq": [{"$type": _ref(segments)}, "missing"]}


def _not_object(segments: tuple[str, ...]) -> dict[str, Any]:
    return {"$ne": [{"$type": _ref(segments)}, "object"]}


def _projection(items: tuple[ir.SelectItem, ...]) -> dict[str, Any]:
    """``$project`` fields giving the reference's rows: a missing selected field is
    absent, with no empty parent map left behind, and a dotted path never reads
    through an array (``$$REMOVE`` where an inclusion projection would keep ``{}``)."""
    project: dict[str, Any] = {}
    tree: dict[str, Any] = {}
    for item in items:
        assert isinstance(item.expr, ir.Path)
        src = item.expr.segments
        if item.alias is not None or len(src) == 1:
            out = item.alias if item.alias is not None else src[0]
            if len(src) == 1:
                project[out] = _ref(src)  # $project leaves a missing field out
            else:
                guards = [_not_object(src[:i]) for i in range(1, len(src))] + [_missing(src)]
                project[out] = {"$cond": [{"$or": guards}, "$$REMOVE", _ref(src)]}
            continue
        node = tree
        for seg in src[:-1]:
            node = node.setdefault(seg, {})
        node[src[-1]] = None
    for name, children in tree.items():
        project[name] = _shell((name,), children)
    return project


def _leaves(prefix: tuple[str, ...], children: dict[str, Any]) -> list[tuple[str, ...]]:
    out = []
    for name, sub in children.items():
        out += [(*prefix, name)] if sub is None else _leaves((*prefix, name), sub)
    return out


def _shell(prefix: tuple[str, ...], children: dict[str, Any]) -> dict[str, Any]:
    """The map at ``prefix`` holding the selected children; removed when ``prefix`` is
    not a map or none of its selected leaves is present."""
    remove_if = [_not_object(prefix[:i]) for i in range(1, len(prefix) + 1)]
    remove_if.append({"$and": [_missing(leaf) for leaf in _leaves(prefix, children)]})
    body = {name: _ref((*prefix, name)) if sub is None else _shell((*prefix, name), sub)
            for name, sub in children.items()}
    return {"$cond": [{"$or": remove_if}, "$$REMOVE", body]}


def _accumulator(agg: ir.Aggregate) -> dict[str, Any]:
    if agg.arg is None:
        return {"$sum": 1}
    ref = "$" + ".".join(agg.arg.segments)
    if agg.func == "count":
        # count(p) skips missing and null values
        return {"$sum": {"$cond": [{"$in": [{"$type": ref}, ["missing", "null"]]}, 0, 1]}}
    return {f"${agg.func}": ref}


def _empty_value(agg: ir.Aggregate) -> Any:
    return 0 if agg.func in ("count", "sum") else None


def _grouped(query: ir.Query, match: dict[str, Any], skip: int | None,
             limit: int | None, *, one_row: bool) -> MongoPlan:
    pipeline: list[dict[str, Any]] = []
    if match:
        pipeline.append({"$match": match})
    key_of = {p.segments: f"_id.k{i}" for i, p in enumerate(query.group_by)}
    group_id: dict[str, Any] | None = None
    if query.group_by:
        # $ifNull: a missing key and a null key fall in the same (null) group
        group_id = {f"k{i}": {"$ifNull": ["$" + ".".join(p.segments), None]}
                    for i, p in enumerate(query.group_by)}
    group: dict[str, Any] = {"_id": group_id}
    project: dict[str, Any] = {"_id": 0}
    internal: dict[int, str] = {}
    for i, item in enumerate(query.select):
        key = output_key(item)
        if isinstance(item.expr, ir.Aggregate):
            if "." in key[0] or key[0].startswith("$"):
                raise refuse(BACKEND, "aggregate name", item,
                             f"MongoDB cannot name an output field `{key[0]}`",
                             hint=f"name it with `as`, e.g. `{key[0]} as total`",
                             rule="aggregate-name")
            group[f"a{i}"] = _accumulator(item.expr)
            internal[i] = f"a{i}"
        else:
            internal[i] = key_of[item.expr.segments]
        project[".".join(key)] = "$" + internal[i]
    if not query.select:
        for p in query.group_by:
            project[".".join(p.segments)] = "$" + key_of[p.segments]
    pipeline.append({"$group": group})
    # sort, skip and limit on the internal names, then shape the output rows
    sort: dict[str, int] = {}
    for order_key in query.order_by:
        named = resolve_order_key(query, order_key)
        field = internal[query.select.index(named)] if named is not None else \
            key_of[order_key.path.segments]
        sort.setdefault(field, -1 if order_key.descending else 1)
    if sort:
        pipeline.append({"$sort": sort})
    if skip:
        pipeline.append({"$skip": skip})
    if limit is not None:
        pipeline.append({"$limit": limit})
    pipeline.append({"$project": project})
    empty_row = None
    if not query.group_by and one_row:
        # $group emits nothing over no documents, where the reference gives one row
        # of aggregates of nothing; the plan carries that row for the runtime
        empty_row = {output_key(i)[0]: _empty_value(i.expr)  # type: ignore[arg-type]
                     for i in query.select}
    return MongoPlan(kind="aggregate", collection=query.collection, pipeline=tuple(pipeline),
                     empty_row=empty_row,
                     reason="group by / aggregates need $group")


BACKEND_SPEC = BackendSpec(name=BACKEND, capabilities=CAPABILITIES, compile=compile_mongodb,
                           compile_write=compile_mongodb_write)
