"""The fast paths of node construction, binding and MongoDB filters keep their meaning."""

from __future__ import annotations

import copy
import dataclasses
import importlib

import pytest

import crossql
from crossql import ir
from crossql.backends.mongodb.compiler import compile_mongodb
from crossql.backends.mongodb.filters import and_, escape_regex, field_name, or_
from crossql.backends.mongodb.plan import MongoPlan
from crossql.compiler.checks import bind, check_query
from crossql.errors import CapabilityError, QuerySemanticError
from crossql.grammar import parse_query

NODE_CLASSES = [c for c in vars(ir).values() if isinstance(c, type)
                and dataclasses.is_dataclass(c) and c.__module__ == ir.__name__]
PLAN_MODULES = [importlib.import_module(f"crossql.backends.{m}") for m in (
    "memory.compiler", "mongodb.plan", "mongodb.writes", "dynamodb.plan", "dynamodb.writes",
    "firestore.plan", "firestore.writes")]
PLAN_CLASSES = [c for m in PLAN_MODULES for c in vars(m).values() if isinstance(c, type)
                and dataclasses.is_dataclass(c) and c.__module__ == m.__name__]
"""Plans and the nodes of plans: built on every compile, by the one constructor
mechanism the IR's nodes use (crossql/_frozen.py)."""


@pytest.mark.parametrize("cls", NODE_CLASSES + PLAN_CLASSES, ids=lambda c: c.__name__)
def test_node_init_keeps_fields_defaults_and_frozenness(cls: type) -> None:
    assert getattr(cls.__init__, "fast_init", False), f"{cls.__name__}: add @fast_init"
    fields = dataclasses.fields(cls)
    required = [f for f in fields if f.default is dataclasses.MISSING
                and f.default_factory is dataclasses.MISSING]
    args = [object() for _ in required]
    node = cls(*args)
    for f, arg in zip(required, args, strict=False):
        assert getattr(node, f.name) is arg
    for f in fields[len(required):]:
        made = f.default_factory() if f.default is dataclasses.MISSING else f.default  # type: ignore[misc]
        assert getattr(node, f.name) == made
    by_name = cls(**{f.name: a for f, a in zip(required, args, strict=False)})
    assert by_name == node
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(node, fields[0].name, None)
    with pytest.raises(TypeError, match=rf"^{cls.__name__}\.__init__\(\) takes"):
        cls(*args, *([None] * (len(fields) - len(required) + 1)))
    assert cls.__init__.__code__.co_qualname == f"{cls.__name__}.__init__"


def test_spans_do_not_count_and_survive_replace() -> None:
    a = ir.Compare("==", ir.Path(("a",), (0, 1)), ir.Literal(1, "int", (5, 6)), (0, 6))
    b = ir.Compare("==", ir.Path(("a",)), ir.Literal(1, "int"))
    assert a == b and hash(a) == hash(b) and b.span is None
    assert dataclasses.replace(a, op="!=").span == (0, 6)


def test_and_never_mutates_its_inputs() -> None:
    first = {"a": {"$gt": 1}}
    second = {"a": {"$lt": 5}}
    third = {"$and": [{"b": {"$exists": True}}, {"a": {"$ne": 3}}]}
    before = copy.deepcopy([first, second, third])
    assert and_(first, second, third) == {"$and": [{"a": {"$gt": 1, "$lt": 5, "$ne": 3}},
                                                   {"b": {"$exists": True}}]}
    assert [first, second, third] == before
    assert or_({"a": 1}, {"$expr": False}) == {"a": 1}


def test_later_compiles_leave_earlier_plans_alone() -> None:
    text = ("from c where a.b >= 1 and a.b <= 9 and a.c == 2 and not (x.y < 3) "
            "and (k == 1 or k == 2) and tags contains 4")
    first = crossql.compile(text, backend="mongodb")
    assert isinstance(first, MongoPlan)
    snapshot = copy.deepcopy(first.filter)
    for other in (text.replace("9", "8"), "from c where a.b == 5 and a.b != 6",
                  "update c set a.b = 1 where a.c == 2", "delete from c where x.y > 1"):
        crossql.compile(other, backend="mongodb")
    assert first.filter == snapshot


def test_a_plan_built_by_position_is_the_plan_built_by_name() -> None:
    args = ("find", "c", {"a": 1}, {"a": 1, "_id": 0}, (("a", 1),), 2, 3, (), None, "why")
    names = [f.name for f in dataclasses.fields(MongoPlan)]
    assert MongoPlan(*args) == MongoPlan(**dict(zip(names, args, strict=True)))  # type: ignore[arg-type]


def test_field_names_are_checked_per_segment() -> None:
    assert field_name(ir.Path(("a", "b$", "c"))) == "a.b$.c"
    for segments, bad in ((("a", "$b"), "$b"), (("a.b", "c"), "a.b"), (("a", "b\x00"), "b\x00")):
        with pytest.raises(CapabilityError, match="cannot address the field name"):
            field_name(ir.Path(segments))
        with pytest.raises(CapabilityError, match="cannot address the field name"):
            field_name(ir.Path(segments))  # not remembered as valid either
        assert bad in segments


def test_escape_regex() -> None:
    assert escape_regex("a.b_c*\x00é(") == "a\\.b_c\\*\\x00é\\("


def test_bind_rechecks_betweens_only_when_a_bound_is_a_parameter() -> None:
    checked = check_query(parse_query("from c where n between :lo and :hi and m > :m"))
    assert checked.recheck_betweens
    with pytest.raises(QuerySemanticError, match="both be numbers or both be strings"):
        bind(checked, {"lo": 1, "hi": "z", "m": 1})
    plain = check_query(parse_query("from c where n between 1 and 5 and m > :m"))
    assert not plain.recheck_betweens
    bound = bind(plain, {"m": 2.5})
    assert compile_mongodb(bound).filter is not None
    assert bound.where == parse_query("from c where n between 1 and 5 and m > 2.5").where


def test_bind_literal_kinds() -> None:
    checked = check_query(parse_query("from c where a == :a and b == :b and c == :c "
                                      "and d == :d and e == :e and f == :f"))
    bound = bind(checked, {"a": True, "b": 1, "c": 1.0, "d": "x", "e": None, "f": [1, "y"]})
    kinds = [op.value.kind if isinstance(op.value, ir.Literal) else "list"
             for op in bound.where.operands]  # type: ignore[union-attr]
    assert kinds == ["bool", "int", "float", "string", "null", "list"]


def test_cached_entries_without_parameters_let_go_of_their_ir() -> None:
    from crossql.runtime.prepared import PlanCache, PreparedQuery

    text = 'from users where age >= 18 and name startswith "A" select name limit 5'
    cache = PlanCache(4)
    plan = cache.plan(text, "mongodb")
    entry = cache.get(text, "mongodb")
    assert entry._checked is None  # released: the plan is kept, the IR is not
    assert cache.plan(text, "mongodb") is plan and entry.plan() is plan
    assert entry.param_names == frozenset()
    assert entry.query == parse_query(text)  # parsed again on demand, then kept
    assert entry._checked is not None
    entry.release_ir()
    with pytest.raises(QuerySemanticError, match="unused parameter `:x`") as err:
        cache.plan(text, "mongodb", {"x": 1})
    assert err.value.source == text and err.value.span == (0, len(text))
    # with parameters, or built from IR, the checked query stays
    with_params = cache.get("from users where age >= :n", "mongodb")
    assert with_params._checked is not None and with_params.param_names == {"n"}
    from_ir = PreparedQuery(parse_query(text), "mongodb")
    from_ir.release_ir()
    assert from_ir._checked is not None


@pytest.mark.parametrize(("kind", "value", "error"), [
    ("count", 3, None), ("count", -1, "needs a non-negative integer"),
    ("int", 2**63, "out of the 64-bit range"), ("orderable", 2**63 - 1, None),
    ("orderable", True, "needs a number or a string"), ("value", True, None),
    ("string", "\ud800", "lone surrogate"), ("string", "x" * 100, None),
    ("regex", "(", "invalid regular expression"), ("regex", "a+", None),
    ("number", "1", "needs a number"), ("list", 1, "needs a list"),
])
def test_parameter_values_fast_and_slow_paths(kind: str, value: object, error: str | None
                                              ) -> None:
    from crossql.compiler.checks import Slot, check_param_value

    slot = Slot("p", kind, (0, 2))  # type: ignore[arg-type]
    if error is None:
        assert check_param_value(value, slot) == value
    else:
        with pytest.raises(QuerySemanticError, match=error):
            check_param_value(value, slot)


def test_and_merges_into_the_first_document_that_agrees() -> None:
    parts = [{"a": {"$gt": 1}}, {"a": {"$gt": 2}}, {"a": {"$gt": 3}}, {"a": {"$lt": 9}},
             {"a": {"$gt": 2, "$ne": 5}}, {"b": {"$gt": True}}, {"b": {"$gt": 1}}]
    assert and_(*parts) == {"$and": [
        {"a": {"$gt": 1, "$lt": 9}}, {"a": {"$gt": 2, "$ne": 5}}, {"a": {"$gt": 3}},
        {"b": {"$gt": True}}, {"b": {"$gt": 1}}]}
