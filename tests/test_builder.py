"""The query builder (``crossql.query``, ``field``, ``and_``...): docs/builder.md.

The acceptance of issue 22 (point 1): a search with 8 optional filters, written without
string concatenation, compiles for each of its 256 combinations to exactly the plan of the
equivalent hand-written text, on every backend.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
from hypothesis import given, settings
from pydantic import BaseModel
from pydantic import Field as PydanticField

import crossql
from crossql import and_, field, ir, not_, or_, param, query
from crossql.backends import BACKEND_NAMES
from crossql.builder import Condition, Field, QueryBuilder
from crossql.grammar.formatter import format_query
from crossql.runtime.store import Store
from tests.budget import examples
from tests.strategies import any_condition

R = TypeVar("R")


# -- the acceptance: 8 optional filters, 256 combinations --------------------------------------


@dataclass(frozen=True)
class Search:
    """What a user may fill in on a search form; None (False) leaves a filter out."""

    status: str | None = None
    min_total: float | None = None
    max_total: float | None = None
    countries: list[str] | None = None
    tag: str | None = None
    name_prefix: str | None = None
    has_coupon: bool = False
    created: tuple[str, str] | None = None


FULL = Search(status="paid", min_total=10, max_total=500.5, countries=["FR", "GB"], tag="vip",
              name_prefix="A", has_coupon=True, created=("2024-01-01", "2024-12-31"))
FILTERS = ["status", "min_total", "max_total", "countries", "tag", "name_prefix", "has_coupon",
           "created"]


def search_query(s: Search, *, sort: str | None, limit: int | None) -> QueryBuilder:
    """The search with the builder: no text is concatenated, every value is a parameter."""
    return query("orders").where(
        field("status") == s.status if s.status is not None else None,
        field("total") >= s.min_total if s.min_total is not None else None,
        field("total") <= s.max_total if s.max_total is not None else None,
        field("country").in_(s.countries) if s.countries is not None else None,
        field("tags").contains(s.tag) if s.tag is not None else None,
        field("name").startswith(s.name_prefix) if s.name_prefix is not None else None,
        field("coupon").exists() if s.has_coupon else None,
        field("created_at").between(*s.created) if s.created is not None else None,
    ).order_by(*([sort] if sort else []), desc=True).limit(limit)


def search_text(s: Search, *, sort: str | None, limit: int | None
                ) -> tuple[str, dict[str, Any]]:
    """The same search written by hand, the way the issue says it was done: text pieces."""
    clauses: list[str] = []
    params: dict[str, Any] = {}
    if s.status is not None:
        clauses.append("status == :status")
        params["status"] = s.status
    if s.min_total is not None:
        clauses.append("total >= :min_total")
        params["min_total"] = s.min_total
    if s.max_total is not None:
        clauses.append("total <= :max_total")
        params["max_total"] = s.max_total
    if s.countries is not None:
        clauses.append("country in :countries")
        params["countries"] = s.countries
    if s.tag is not None:
        clauses.append("tags contains :tag")
        params["tag"] = s.tag
    if s.name_prefix is not None:
        clauses.append("name startswith :prefix")
        params["prefix"] = s.name_prefix
    if s.has_coupon:
        clauses.append("exists(coupon)")
    if s.created is not None:
        clauses.append("created_at between :since and :until")
        params["since"], params["until"] = s.created
    text = "from orders"
    if clauses:  # the `where` keyword itself must go when no filter is chosen
        text += " where " + " and ".join(clauses)
    if sort:
        text += f" order by {sort} desc"
    if limit is not None:
        text += " limit :limit"
        params["limit"] = limit
    return text, params


def combinations() -> list[Search]:
    out = []
    for chosen in itertools.product([False, True], repeat=len(FILTERS)):
        out.append(Search(**{name: getattr(FULL, name) if on else Search.__dataclass_fields__[
            name].default for name, on in zip(FILTERS, chosen, strict=True)}))
    return out


COMBINATIONS = combinations()
SHAPES = [(None, None), ("created_at", 20)]


def outcome(compile_it: Callable[[], crossql.Plan]) -> tuple[str, Any]:
    """A plan as data, or the refusal's class, code and message."""
    try:
        plan = compile_it()
    except crossql.QueryError as err:
        return "refused", (type(err).__name__, err.code, err.message)
    return "plan", (plan, plan.to_dict(), plan.explain())


ORDERS_TABLE = {"orders": {"partition_key": "_id", "indexes": [
    {"name": "by_status", "partition_key": "status", "sort_key": "created_at"}]}}
"""A DynamoDB key schema under which `status == ...` is a Query of an index."""
TARGETS = [(b, None) for b in BACKEND_NAMES] + [("dynamodb", ORDERS_TABLE)]


@pytest.mark.parametrize(("backend", "schema"), TARGETS,
                         ids=[*BACKEND_NAMES, "dynamodb-keyed"])
@pytest.mark.parametrize(("sort", "limit"), SHAPES)
def test_every_combination_of_8_optional_filters_compiles_to_the_hand_written_plan(
        backend: str, schema: Any, sort: str | None, limit: int | None) -> None:
    assert len(COMBINATIONS) == 256
    texts = set()
    plans = 0
    for s in COMBINATIONS:
        built = search_query(s, sort=sort, limit=limit)
        text, params = search_text(s, sort=sort, limit=limit)
        texts.add(built.format())
        got = outcome(lambda built=built: crossql.compile(built, backend=backend,
                                                         schema=schema))
        want = outcome(lambda text=text, params=params: crossql.compile(
            text, backend=backend, params=params, schema=schema))
        assert got == want, (backend, text)
        plans += got[0] == "plan"
    assert len(texts) == 256  # every combination is a different query
    # how many of the 256 each backend plans (the others are refused alike, above)
    assert plans == PLANNED[backend if schema is None else "dynamodb-keyed", sort]


PLANNED = {
    ("memory", None): 256, ("memory", "created_at"): 256,
    ("mongodb", None): 256, ("mongodb", "created_at"): 256,
    ("dynamodb", None): 256,
    ("dynamodb", "created_at"): 0,  # a Scan cannot be ordered (no key schema given)
    ("dynamodb-keyed", None): 256,
    # ordered where `status ==` and `created_at between` make a Query of the index
    ("dynamodb-keyed", "created_at"): 64,
    ("firestore", None): 128,  # Firestore cannot evaluate exists(...)
    ("firestore", "created_at"): 64,
}


def test_no_filter_chosen_drops_the_where_keyword() -> None:
    built = search_query(Search(), sort=None, limit=None)
    assert built.format() == "from orders"
    assert built.params == {}


def test_every_value_is_a_parameter_named_in_text_order() -> None:
    built = search_query(FULL, sort="created_at", limit=20)
    assert built.format() == (
        "from orders where status == :p0 and total >= :p1 and total <= :p2 and country in :p3"
        " and tags contains :p4 and name startswith :p5 and exists(coupon) and created_at"
        " between :p6 and :p7 order by created_at desc limit :p8")
    assert built.params == {"p0": "paid", "p1": 10, "p2": 500.5, "p3": ["FR", "GB"],
                            "p4": "vip", "p5": "A", "p6": "2024-01-01", "p7": "2024-12-31",
                            "p8": 20}
    assert str(built) == built.format() == crossql.format(built)


# -- every predicate of the language, generated ------------------------------------------------


def _flat(cond: ir.Condition) -> ir.Condition:
    """``(a and b) and c`` as ``a and b and c``: the builder writes nested and/or flat."""
    if isinstance(cond, ir.And | ir.Or):
        kind = type(cond)
        ops: list[ir.Condition] = []
        for op in (_flat(o) for o in cond.operands):
            ops.extend(op.operands if isinstance(op, kind) else (op,))
        return kind(tuple(ops))
    if isinstance(cond, ir.Not):
        return ir.Not(_flat(cond.operand))
    return cond


def _value(value: ir.Value) -> Any:
    if isinstance(value, ir.Param):
        return param(value.name)
    return ir.python_value(value)


def to_builder(cond: ir.Condition) -> Condition:
    """The builder's spelling of an IR condition."""
    match cond:
        case ir.And(operands=ops):
            return and_(*(to_builder(o) for o in ops))
        case ir.Or(operands=ops):
            return or_(*(to_builder(o) for o in ops))
        case ir.Not(operand=op):
            return not_(to_builder(op))
    f = Field(cond.path.segments)
    match cond:
        case ir.Compare(op=op, value=value):
            v = _value(value)
            return {"==": f.__eq__, "!=": f.__ne__, "<": f.__lt__, "<=": f.__le__,
                    ">": f.__gt__, ">=": f.__ge__}[op](v)
        case ir.Size(op=op, value=value):
            size = f.size()
            v = _value(value)
            return {"==": size.__eq__, "!=": size.__ne__, "<": size.__lt__,
                    "<=": size.__le__, ">": size.__gt__, ">=": size.__ge__}[op](v)
        case ir.Between(low=low, high=high):
            return f.between(_value(low), _value(high))
        case ir.In(values=values, negated=negated):
            return (f.not_in if negated else f.in_)(_value(values))
        case ir.Contains(value=value):
            return f.contains(_value(value))
        case ir.ContainsAny(values=values):
            return f.contains_any(_value(values))
        case ir.ContainsAll(values=values):
            return f.contains_all(_value(values))
        case ir.StartsWith(value=value):
            return f.startswith(_value(value))
        case ir.Matches(value=value):
            return f.matches(_value(value))
        case ir.Exists():
            return f.exists()
    raise AssertionError(cond)


def _named_params(cond: ir.Condition) -> dict[str, Any]:
    return {node.name: 1 for node in ir.walk(cond) if isinstance(node, ir.Param)}


@settings(max_examples=examples(300), deadline=None)
@given(any_condition(valid=True, max_leaves=6))
def test_a_generated_condition_built_compiles_like_its_text(cond: ir.Condition) -> None:
    names = _named_params(cond)
    if any(name[0] == "p" and name[1:].isdigit() for name in names):
        return  # p0, p1, ... are the builder's own names
    flat = _flat(cond)
    built = query("c").where(to_builder(cond))
    text = format_query(ir.Query("c", where=flat))
    for backend in BACKEND_NAMES:
        got = outcome(lambda backend=backend: crossql.compile(built, backend=backend,
                                                              params=names))
        want = outcome(lambda backend=backend: crossql.compile(text, backend=backend,
                                                               params=names))
        assert got == want, (backend, text, built.format())


# -- and_, or_, not_ with zero or one operand ---------------------------------------------------


def test_zero_operands_are_no_condition_and_one_operand_is_itself() -> None:
    a = field("a") == 1
    for empty in (and_(), or_(), not_(), and_(None, or_()), not_(and_())):
        assert empty.is_empty
        assert query("c").where(empty).format() == "from c"
    assert and_(a) is a and or_(None, a) is a
    assert query("c").where(a, and_()).format() == "from c where a == :p0"
    assert query("c").where(not_(or_(a, field("b") < 2)), field("c").exists()).format() == (
        "from c where not (a == :p0 or b < :p1) and exists(c)")
    # nested and/or are flat, as the text writes them
    assert query("c").where((a & (field("b") == 2)) & field("c").exists()).format() == (
        "from c where a == :p0 and b == :p1 and exists(c)")
    assert query("c").where(~a | field("b").is_null()).format() == (
        "from c where not a == :p0 or b == :p1")


def test_where_accumulates_and_a_builder_is_immutable() -> None:
    base = query("orders").where(field("status") == "paid")
    recent = base.where(field("year") >= 2024).order_by("total", desc=True)
    assert base.format() == "from orders where status == :p0"
    assert recent.format() == "from orders where status == :p0 and year >= :p1 order by total desc"
    assert recent.params == {"p0": "paid", "p1": 2024}


def test_a_condition_has_no_truth_value() -> None:
    with pytest.raises(TypeError, match="no truth value"):
        bool(field("a") == 1)
    with pytest.raises(TypeError, match="between"):
        assert 1 < field("a") < 5  # a chained comparison is refused
    with pytest.raises(TypeError, match="not with another field"):
        field("a") == field("b")  # noqa: B015
    with pytest.raises(TypeError, match="list of values"):
        field("a").in_("abc")
    with pytest.raises(TypeError, match="takes conditions"):
        and_(field("a") == 1, "")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="takes a condition"):
        not_(field("a"))  # type: ignore[arg-type]


# -- names: the text's rules, and a declared schema ---------------------------------------------


@pytest.mark.parametrize(("name", "segments"), [
    ("status", ("status",)), ("address.city", ("address", "city")),
    ("`order`", ("order",)), ("`first name`.x", ("first name", "x")),
    ("`a``b`", ("a`b",)), ("_id", ("_id",)), ("`plain`", ("plain",)),
])
def test_a_name_follows_the_rules_of_the_text(name: str, segments: tuple[str, ...]) -> None:
    assert field(name).segments == segments
    # the text names the same path
    built = query("c").order_by(name)
    assert crossql.parse(built.format()) == crossql.parse(f"from c order by {name}")


@pytest.mark.parametrize(("name", "column"), [
    ("total desc", 6), ("a or b", 2), ("order", 1), ("a..b", 3), ("", 1), ("a.", 3),
    (" a", 1), ("a--x", 2), ("x)", 2), ("é", 1), ("a; drop", 2), ("``", 1),
    ("total, secret", 6), (":p0", 1),
])
def test_a_name_that_is_not_one_path_is_refused_where_it_goes_wrong(name: str,
                                                                    column: int) -> None:
    with pytest.raises(crossql.QuerySemanticError) as info:
        query("c").order_by(name)
    assert info.value.code == "semantic.invalid-name"
    assert info.value.column == column
    assert info.value.hint
    assert "-->" in info.value.render()


def test_a_keyword_name_gets_the_texts_hint() -> None:
    with pytest.raises(crossql.QuerySemanticError) as info:
        field("order")
    assert info.value.hint == "`order` is a keyword; to use it as a name, put it in backticks"


def test_a_collection_is_one_name() -> None:
    assert query("`order items`").format() == "from `order items`"
    with pytest.raises(crossql.QuerySemanticError):
        query("a.b")
    with pytest.raises(crossql.QuerySemanticError):
        query("users where true")


def test_field_of_takes_segments_as_they_are() -> None:
    assert query("c").where(Field.of("first name", "order") == 1).format() == (
        "from c where `first name`.`order` == :p0")


class Address(BaseModel):
    city: str
    zip_code: str = PydanticField(alias="zip")


class Order(BaseModel):
    status: str
    total: float
    created: str = PydanticField(alias="created_at")
    address: Address | None = None


def test_a_model_declares_the_fields_a_user_may_choose() -> None:
    orders = query("orders", model=Order)
    assert orders.order_by("created_at").format() == "from orders order by created_at"
    assert orders.where(orders.field("address.zip") == "75001").select("_id", "total").format() \
        == "from orders where address.zip == :p0 select _id, total"
    for name in ("created", "secret", "address.zip_code", "address.street"):
        with pytest.raises(crossql.QuerySemanticError) as info:
            orders.order_by(name)
        assert info.value.code == "semantic.undeclared-field"
        assert "status" in (info.value.hint or "")
    with pytest.raises(crossql.QuerySemanticError, match="not a declared field"):
        orders.where(field("secret") == 1)
    with pytest.raises(crossql.QuerySemanticError, match="not a declared field"):
        orders.select(field("secret").as_("s"))


def test_a_select_alias_may_be_a_sort_key_under_a_schema() -> None:
    orders = query("orders", fields=["total"])
    assert orders.select(field("total").as_("amount")).order_by("amount").format() == (
        "from orders select total as amount order by amount")
    with pytest.raises(crossql.QuerySemanticError):
        orders.order_by("amount")


def test_a_builder_shows_its_text() -> None:
    assert repr(query("c").where(field("a") == 1)) == "<QueryBuilder from c where a == :p0>"
    assert repr(crossql.update("c")) == "<UpdateBuilder of c: an update sets nothing>"


def test_a_fields_list_declares_the_fields() -> None:
    orders = query("orders", fields=["status", "total", "address.city"])
    assert orders.order_by("address.city").format() == "from orders order by address.city"
    with pytest.raises(crossql.QuerySemanticError):
        orders.order_by("address")
    with pytest.raises(TypeError):
        query("orders", fields="status")


# -- parameters ----------------------------------------------------------------------------------


def test_a_named_param_is_given_when_the_query_runs() -> None:
    q = query("users").where(field("age") >= param("min"), field("name") == "Ada")
    assert q.format() == "from users where age >= :min and name == :p0"
    docs = [{"name": "Ada", "age": 36}, {"name": "Ada", "age": 3}]
    assert crossql.evaluate(q, docs, params={"min": 18}) == [{"name": "Ada", "age": 36}]
    with pytest.raises(crossql.QuerySemanticError, match="not bound"):
        crossql.compile(q)
    with pytest.raises(crossql.QuerySemanticError) as info:
        crossql.compile(q, params={"min": 1, "p0": "x"})
    assert info.value.code == "semantic.duplicate-parameter"
    with pytest.raises(ValueError, match="reserved"):
        param("p1")
    with pytest.raises(ValueError):
        param("a b")


def test_a_bad_value_is_refused_where_its_parameter_is() -> None:
    with pytest.raises(crossql.QuerySemanticError) as info:
        crossql.compile(query("c").where(field("a") == {"$gt": 1}))
    assert info.value.source == "from c where a == :p0"
    assert info.value.column == len("from c where a == ") + 1
    with pytest.raises(crossql.QueryError):
        crossql.compile(query("c").where(field("a").matches("(")))


def test_null_is_a_parameter_and_means_an_explicit_null() -> None:
    q = query("c").where(field("a") == None)  # noqa: E711 - the builder's equality
    assert q.format() == "from c where a == :p0" and q.params == {"p0": None}
    for backend in BACKEND_NAMES:
        assert outcome(lambda b=backend: crossql.compile(q, backend=b)) == outcome(
            lambda b=backend: crossql.compile("from c where a == null", backend=b))


def test_limit_and_offset_take_ints_or_params() -> None:
    q = query("c").limit(5).offset(param("skip"))
    assert q.format() == "from c limit :p0 offset :skip"
    assert query("c").limit(5).limit(None).format() == "from c"
    with pytest.raises(TypeError):
        query("c").limit("5")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        query("c").limit(True)


# -- the store takes a builder wherever it takes text ------------------------------------------


USERS: list[dict[str, Any]] = [
    {"_id": "u1", "name": "Ada", "age": 36, "tags": ["admin", "vip"]},
    {"_id": "u2", "name": "Bob", "age": 17, "tags": []},
    {"_id": "u3", "name": "Cy", "age": None, "tags": ["vip"]},
    {"_id": "u4", "name": "Di", "age": 52},
]


def run(body: Callable[[Store], Awaitable[R]]) -> R:
    async def main() -> R:
        async with crossql.connect({"driver": "memory"}) as store:
            await store.collection("users").insert_many(USERS)
            return await body(store)

    return asyncio.run(main())


def test_fetch_stream_count_plan_prepare_take_a_builder() -> None:
    adults = query("users").where(field("age") >= 18).order_by("age", desc=True)

    async def body(store: Store) -> Any:
        rows = await store.fetch(adults.select("name"))
        streamed = [r async for r in store.stream(adults)]
        counted = await store.count(adults)
        planned = store.plan(adults)
        prepared = store.prepare(query("users").where(field("age") >= param("min")))
        again = await prepared.fetch(min=40)
        vip = await store.fetch(query("users").where(field("tags").contains(param("t"))), t="vip")
        return rows, streamed, counted, planned, again, vip

    rows, streamed, counted, planned, again, vip = run(body)
    assert rows == [{"name": "Di"}, {"name": "Ada"}]
    assert [r["_id"] for r in streamed] == ["u4", "u1"]
    assert counted == 2
    assert planned == crossql.compile("from users where age >= 18 order by age desc")
    assert [r["_id"] for r in again] == ["u4"]
    assert [r["_id"] for r in vip] == ["u1", "u3"]


def test_execute_takes_update_and_delete_builders() -> None:
    async def body(store: Store) -> Any:
        updated = await store.execute(crossql.update("users").set("status", "adult")
                                      .increment("age", 1).where(field("age") >= 18))
        deleted = await store.execute(crossql.delete_from("users")
                                      .where(field("age") < param("max")), max=18)
        rows = await store.fetch(query("users").select("_id", "age", "status"))
        async with store.transaction() as tx:
            in_tx = await tx.count(query("users").where(field("status") == "adult"))
        return updated, deleted, rows, in_tx

    updated, deleted, rows, in_tx = run(body)
    assert (updated.matched, updated.modified) == (2, 2)
    assert deleted.deleted == 1
    assert rows == [{"_id": "u1", "age": 37, "status": "adult"}, {"_id": "u3", "age": None},
                    {"_id": "u4", "age": 53, "status": "adult"}]
    assert in_tx == 2


def test_a_write_without_a_condition_must_say_so() -> None:
    with pytest.raises(crossql.QuerySemanticError) as info:
        crossql.compile(crossql.delete_from("users").where(and_()))
    assert info.value.code == "semantic.write-without-condition"
    assert crossql.delete_from("users").everything().limit(2).format() == (
        "delete from users where true limit :p0")
    with pytest.raises(crossql.QuerySemanticError, match="sets nothing"):
        crossql.update("users").where(field("a") == 1).format()
    assert crossql.update("users").set("a.b", [1, 2]).unset("`x y`").where(
        field("a") == 1).format() == "update users set a.b = :p0, unset `x y` where a == :p1"


def test_check_takes_a_builder() -> None:
    q = query("orders").where(field("coupon").exists(), field("total") > param("min"))
    verdicts = {v.backend: v.accepted for v in crossql.check(q, params={"min": 5})}
    text = {v.backend: v.accepted for v in crossql.check(
        "from orders where exists(coupon) and total > :min", params={"min": 5})}
    assert verdicts == text
    assert verdicts["memory"] and not verdicts["firestore"]


def test_import_crossql_and_compiling_text_do_not_load_the_builder() -> None:
    import subprocess
    import sys
    from pathlib import Path

    probe = ("import sys, crossql\n"
             "crossql.compile('from users where age >= :a', backend='mongodb', params={'a': 1})\n"
             "print('crossql.builder' in sys.modules)\n"
             "crossql.field\n"
             "print('crossql.builder' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True, timeout=60, cwd=Path(__file__).resolve().parent.parent)
    assert done.stdout.split() == ["False", "True"]
