"""Plan templates (crossql/compiler/templates.py): a prepared query's filled plan is
exactly the plan a full bind + compile gives, for every backend, on generated queries
and values; and templates are really used where they fit."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import crossql
from crossql import ir
from crossql.backends import get_backend
from crossql.compiler.checks import bind, check_query
from crossql.compiler.templates import (
    Hole,
    HoleInspected,
    StringHole,
    make_template,
    strictly_equal,
)
from crossql.errors import QueryError
from crossql.runtime.prepared import PreparedQuery
from tests.budget import examples, skip_unless_ran
from tests.strategies import any_query

DYNAMO_SCHEMA: dict[str, Any] = {
    "users": {
        "partition_key": "_id",
        "indexes": [{"name": "by_status", "partition_key": "status", "sort_key": "age"}],
        "attribute_types": {"_id": "S", "status": "S", "age": "N"},
    },
}

PROFILES: dict[str, dict[str, Any]] = {
    "memory": {"backend": "memory"},
    "mongodb": {"backend": "mongodb"},
    "dynamodb": {"backend": "dynamodb"},
    "dynamodb-schema": {"backend": "dynamodb", "schema": DYNAMO_SCHEMA},
    "firestore": {"backend": "firestore"},
    "firestore-native": {"backend": "firestore", "options": crossql.FirestoreOptions(
        native_or=True, native_not_equal=True)},
}


def _outcome(call: Callable[[], Any]) -> Any:
    """A plan, or the error as (code, message, span, hint)."""
    try:
        return call()
    except QueryError as err:
        return ("error", err.code, str(err), getattr(err, "span", None), err.hint)


def _same(prepared: PreparedQuery, checked: Any, profile: dict[str, Any],
          values: dict[str, Any]) -> None:
    spec = get_backend(profile["backend"])
    expected = _outcome(lambda: spec.compile(bind(checked, values),
                                             schema=profile.get("schema"),
                                             options=profile.get("options")))
    got = _outcome(lambda: prepared.plan(values))
    if isinstance(expected, tuple) and expected[:1] == ("error",):
        assert isinstance(got, tuple), (values, got)
        assert got[1:3] == expected[1:3], values  # same code and message
    else:
        assert strictly_equal(got, expected), (values, got, expected)


_STRINGS = st.one_of(st.text(alphabet=st.sampled_from(
    ["a", "b", "Z", ".", "/", "*", "^", "$", "\\", "\x00", "é", "\ud7ff", "\uffff", "L",
     "S", "N"]), max_size=4), st.sampled_from(["_id", "__name__", "..", "a/b", "users"]))
_INTS = st.one_of(st.integers(-3, 3), st.integers(-(2**63), 2**63 - 1))
_FLOATS = st.one_of(st.floats(-4, 4), st.floats(allow_nan=True, allow_infinity=True))
_LISTS = st.one_of(st.lists(st.integers(0, 3), max_size=3), st.lists(_STRINGS, max_size=2))
_REGEXES = st.sampled_from(["a", "b.*", "^x", "[ab]c", "é+"])
_BY_SLOT: dict[str, list[st.SearchStrategy[Any]]] = {
    # the kinds of value each kind of slot takes (compiler/checks.py), most often fitting
    "value": [_INTS, _STRINGS, _FLOATS, st.booleans(), st.none(), _LISTS],
    "orderable": [_INTS, _STRINGS, _FLOATS],
    "number": [_INTS, _FLOATS],
    "int": [_INTS],
    "count": [st.integers(0, 3), st.integers(0, 2**63 - 1)],
    "string": [_STRINGS],
    "regex": [_REGEXES],
    "list": [_LISTS],
}
_ANY = st.one_of(_INTS, _STRINGS, _FLOATS, st.booleans(), st.none(), _LISTS)


@st.composite
def _bindings(draw: st.DrawFn, query: ir.Query) -> list[dict[str, Any]]:
    """Several bindings of the query's parameters: each keeps one kind of value that
    fits its slots in most of them (so a template is made, checked, then trusted), a
    ``limit``/``offset`` mostly one value, with the odd misfit and edge values."""
    slots: dict[str, str] = {}
    for slot in check_query(query).slots:
        slots.setdefault(slot.name, slot.kind)
    kinds = {name: draw(st.sampled_from(_BY_SLOT[kind])) for name, kind in slots.items()}
    fixed = {name: draw(kinds[name]) for name in slots}
    out = []
    for _ in range(draw(st.integers(4, 9))):
        binding = {}
        for name, kind in slots.items():
            roll = draw(st.integers(0, 19))
            if roll == 0:
                binding[name] = draw(_ANY)
            elif kind == "count" and roll < 16:
                binding[name] = fixed[name]
            else:
                binding[name] = draw(kinds[name])
        out.append(binding)
    return out


def _params_of(query: ir.Query) -> list[str]:
    return sorted({slot.name for slot in check_query(query).slots})


@pytest.mark.parametrize("profile", sorted(PROFILES))
# every draw: the summary below needs a few templates trusted on every backend (DynamoDB
# without a schema trusts fewer since its keys are assumed strings; 60 draws saw 0 once)
@settings(max_examples=examples(120, at_least=120), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_filled_plans_are_compiled_plans(profile: str, data: st.DataObject) -> None:
    """Generated queries with parameters: every execution of the prepared query gives
    exactly (types included) what bind + compile gives, or the same error."""
    query = data.draw(any_query(max_leaves=6).filter(lambda q: bool(_params_of(q))))
    if not profile.startswith(("memory", "mongodb")) and data.draw(st.integers(0, 3)):
        # mostly what DynamoDB and Firestore answer: a table name, no grouping or order
        query = dataclasses.replace(query, collection="items", group_by=(), select=(),
                                    order_by=())
    options = PROFILES[profile]
    checked = check_query(query)
    try:
        prepared = PreparedQuery(query, options["backend"], schema=options.get("schema"),
                                 options=options.get("options"))
    except QueryError:
        return  # refused before any binding: nothing to fill
    for values in data.draw(_bindings(query)):
        _same(prepared, checked, options, values)
    templates = prepared._templates or {}
    TRUSTED[profile] = TRUSTED.get(profile, 0) + sum(
        1 for t in templates.values() if t is not None and not t.checks_left)


TRUSTED: dict[str, int] = {}
"""Per profile: templates the generated runs above came to trust (filled, not compiled)."""


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_generated_runs_filled_templates(profile: str) -> None:
    """The property above is not vacuous: on every backend, some generated queries got
    templates that were checked and then trusted (the later bindings were filled)."""
    skip_unless_ran(profile in TRUSTED, "the property test above")
    if profile == "memory":  # its plan is the bound query: nothing to fill
        assert TRUSTED[profile] == 0, TRUSTED
        return
    assert TRUSTED[profile] >= 3, TRUSTED
    print(f"{profile}: {TRUSTED[profile]} templates trusted")


E_PARAMS = ("from users where age >= :min and (status == :status or tags contains :tag) "
            "and name startswith :prefix select name, age order by age desc limit :n")

TABLE: list[tuple[str, str, list[dict[str, Any]]]] = [
    # backend profile, query, bindings (each compared with bind + compile)
    *[(p, E_PARAMS.replace(" order by age desc", "") if p.startswith("dynamodb")
       else E_PARAMS, [
        {"min": 18, "status": "active", "tag": "vip", "prefix": "A", "n": 10},
        {"min": 21, "status": "trial", "tag": "new", "prefix": "B", "n": 10},
        {"min": -5, "status": "x", "tag": "y", "prefix": "a.*", "n": 10},
        {"min": 7, "status": "L", "tag": "S", "prefix": "\ud7ff", "n": 10},  # a type code
        {"min": 7, "status": "same", "tag": "same", "prefix": "z\uffff", "n": 10},
        {"min": 2**62, "status": "age", "tag": "name", "prefix": "\x00", "n": 10},
        {"min": 1.5, "status": "q", "tag": "r", "prefix": "^$", "n": 0},
        {"min": 10, "status": "users", "tag": "t", "prefix": "p", "n": 10},
        {"min": 11, "status": "s2", "tag": "t2", "prefix": "", "n": 10},
        {"min": 12, "status": None, "tag": "t3", "prefix": "p3", "n": 10},
    ]) for p in sorted(PROFILES)],
    ("dynamodb-schema", "from users where _id == :id", [
        {"id": "a"}, {"id": "b"}, {"id": "c"}, {"id": 5}, {"id": "d"}, {"id": "S"},
        {"id": "x" * 1500}, {"id": "é" * 600}, {"id": "x" * 2049}, {"id": "e"}]),
    ("dynamodb-schema", "from users where status == :s and age > :a limit :n", [
        {"s": "on", "a": 3, "n": 5}, {"s": "off", "a": 4, "n": 5},
        {"s": "x", "a": 5, "n": 5}, {"s": "y", "a": 6.5, "n": 5}, {"s": "y", "a": 6, "n": 0}]),
    # an id holding `/` matches no Firestore document (the compiler makes no query);
    # a hole took that way too, so only the plain probe value shows the difference
    ("firestore", "from users where _id == :id", [
        {"id": "a/b"}, {"id": "c/d"}, {"id": "e/f"}, {"id": "plain"}, {"id": "x"}]),
    # a literal of the query the plan holds only as {"N": "-1"}: a value equal to it
    # shares its placeholder, so it is compiled, not filled (found by hypothesis)
    ("dynamodb", "from items where count < -1 and size(x) == :a", [
        {"a": 0}, {"a": 1}, {"a": 2}, {"a": 3}, {"a": -1}, {"a": 4}]),
    ("firestore", "from users where name startswith :p and age > 3", [
        {"p": "ab"}, {"p": "ac"}, {"p": "ad"}, {"p": "a\ud7ff"}, {"p": "ae"}]),
    ("mongodb", "from users where a.b == :x or c != :y offset :o", [
        {"x": 1, "y": 2, "o": 1}, {"x": 3, "y": 4, "o": 1}, {"x": 5, "y": 6, "o": 1},
        {"x": 7, "y": 7, "o": 1}, {"x": True, "y": 8, "o": 1}]),
]


@pytest.mark.parametrize(("profile", "text", "bindings"), TABLE)
def test_table(profile: str, text: str, bindings: list[dict[str, Any]]) -> None:
    options = PROFILES[profile]
    checked = check_query(crossql.parse(text))
    prepared = PreparedQuery(text, options["backend"], schema=options.get("schema"),
                             options=options.get("options"))
    for _ in range(2):  # the second round fills trusted templates
        for values in bindings:
            _same(prepared, checked, options, values)


@pytest.mark.parametrize("profile", sorted(set(PROFILES) - {"firestore", "memory"}))
def test_a_template_is_used_for_e(profile: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """E with parameters: after the checked fills, executions no longer compile (on
    the backends that fill templates; default Firestore refuses E's `or`)."""
    options = PROFILES[profile]
    text = E_PARAMS.replace(" order by age desc", "") if profile.startswith("dynamodb") \
        else E_PARAMS
    prepared = PreparedQuery(text, options["backend"], schema=options.get("schema"),
                             options=options.get("options"))
    bindings = [{"min": 18 + i, "status": f"s{i}", "tag": f"t{i}", "prefix": f"p{i}",
                 "n": 10} for i in range(8)]
    for values in bindings[:3]:
        prepared.plan(values)
    compiles: list[Any] = []
    real = PreparedQuery._compile
    monkeypatch.setattr(PreparedQuery, "_compile",
                        lambda self, q: compiles.append(q) or real(self, q))
    checked = check_query(crossql.parse(text))
    for values in bindings[3:]:
        _same(prepared, checked, options, values)
    assert compiles == []


@pytest.mark.parametrize(("profile", "text", "values"), [
    ("dynamodb-schema", "from users where _id == :id", [{"id": f"u{i}"} for i in range(6)]),
    ("dynamodb-schema", "from users where status == :s and age > :a",
     [{"s": f"s{i}", "a": 10 + i} for i in range(6)]),
    ("mongodb", "from users where a.b == :x or c != :y offset :o",
     [{"x": 1, "y": 2, "o": 1}] + [{"x": 10 + i, "y": 20 + i, "o": 1} for i in range(5)]),
])
def test_key_lookups_and_colliding_first_values_get_templates(
        profile: str, text: str, values: list[dict[str, Any]]) -> None:
    """A DynamoDB key condition on a parameter fills a template (a string hole is
    short enough for any key), and a template whose first values equal a constant of
    the plan (`1`, the offset) is kept and checked at its next fills."""
    options = PROFILES[profile]
    prepared = PreparedQuery(text, options["backend"], schema=options.get("schema"))
    checked = check_query(crossql.parse(text))
    for binding in values:
        _same(prepared, checked, options, binding)
    assert [t is not None and t.checks_left for t in (prepared._templates or {}).values()] \
        == [0]


def test_a_hole_refuses_to_be_looked_at() -> None:
    hole = StringHole("p")
    for look in (bool, hash, len, str, repr, lambda h: h == "a", lambda h: h < 1,
                 lambda h: h + "x", lambda h: f"{h}"):
        with pytest.raises(HoleInspected):
            look(hole)
    derived = hole.then(str.upper)
    assert isinstance(derived, Hole)
    assert make_template([derived, 1]).fill({"p": "ab"}) == ["AB", 1]


def test_lists_are_compiled_every_time() -> None:
    """A list's plan depends on its items (MongoDB's `$in` holds them one by one): a
    query taking a list gets no template and compiles each execution."""
    prepared = PreparedQuery("from t where a in :xs", "mongodb")
    for xs in ([1], [2, 3], [4]):
        assert strictly_equal(prepared.plan({"xs": xs}),
                              crossql.compile("from t where a in :xs", backend="mongodb",
                                              params={"xs": xs}))
    assert prepared._templates == {}  # lists are never left as holes
