"""Firestore plans: the corpus as syrupy snapshots under both profiles (read the diffs: a
wrong plan is a bug), table tests of the filter each rule produces, every refusal code,
and the plan's three renderings agreeing with each other."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion

import crossql
from crossql.backends import get_backend
from crossql.backends.base import CONSTRUCTS
from crossql.backends.firestore.compiler import CAPABILITIES, LIMITS
from crossql.backends.firestore.filters import successor, valid_document_id
from crossql.backends.firestore.plan import FirestorePlan, field_path
from tests.backends.firestore_support import LIMIT_CASES, PROFILES
from tests.plan_corpus import VALID, VALID_IDS, compact_json


def compile_fs(query: str, profile: str = "default", **kwargs: Any) -> FirestorePlan:
    plan = crossql.compile(query, backend="firestore", options=PROFILES[profile], **kwargs)
    assert isinstance(plan, FirestorePlan)
    return plan


def refusal(query: str, profile: str = "default", **kwargs: Any) -> crossql.CapabilityError:
    with pytest.raises(crossql.CapabilityError) as info:
        compile_fs(query, profile, **kwargs)
    assert info.value.backend == "firestore"
    return info.value


def snapshot_text(entry: dict[str, Any], profile: str) -> str:
    try:
        plan = crossql.compile(entry["query"], backend="firestore", params=entry.get("params"),
                               options=PROFILES[profile])
    except crossql.CapabilityError as err:
        return f"REFUSED {err.code}\n{err.render()}"
    return compact_json(plan.to_dict()) + "\n\n" + plan.to_python()


@pytest.mark.parametrize("profile", list(PROFILES))
@pytest.mark.parametrize("entry", VALID, ids=VALID_IDS)
def test_corpus_plan(entry: dict[str, Any], profile: str, snapshot: SnapshotAssertion) -> None:
    assert snapshot_text(entry, profile) == snapshot


def test_the_native_profile_accepts_more_of_the_corpus() -> None:
    accepted = {p: {e["name"] for e in VALID if not snapshot_text(e, p).startswith("REFUSED")}
                for p in PROFILES}
    assert accepted["default"] < accepted["native"]
    assert len(accepted["default"]) >= len(VALID) // 3


# --- filters, rule by rule -----------------------------------------------------------------


def where(condition: str, profile: str = "default") -> Any:
    steps = compile_fs(f"from c where {condition}", profile).to_dict()["query"]
    return steps[0]["where"]


def leaf(field: str, op: str, value: Any) -> dict[str, Any]:
    return {"field": field, "op": op, "value": value}


@pytest.mark.parametrize(("condition", "profile", "expected"), [
    ("f == 5", "default", leaf("f", "==", 5)),
    ("f == null", "default", leaf("f", "==", None)),
    ("not (f > 5)", "default", leaf("f", "<=", 5)),
    ("not (not (f == 1))", "default", leaf("f", "==", 1)),
    ("f between 1 and 2", "default", {"and": [leaf("f", ">=", 1), leaf("f", "<=", 2)]}),
    ("f == 1 or f == 2 or f in [2, 3]", "default", leaf("f", "in", [1, 2, 3])),
    ("f in [1]", "default", leaf("f", "==", 1)),
    ("f in [null]", "default", leaf("f", "==", None)),
    ("f != 5", "native", leaf("f", "!=", 5)),
    ("f != null", "native", leaf("f", "!=", None)),
    ("f != null and f > 1", "default", leaf("f", ">", 1)),  # `> 1` already means non-null
    ("not (f == 1 or f == 2)", "native", leaf("f", "not-in", [1, 2])),
    ("f not in [1, null]", "native", leaf("f", "!=", 1)),  # a listed null matches nothing
    ("f not in []", "native", leaf("f", "!=", None)),
    ("f in [1, null]", "native", {"or": [leaf("f", "==", 1), leaf("f", "==", None)]}),
    ("not (f between 1 and 2)", "native", {"or": [leaf("f", "<", 1), leaf("f", ">", 2)]}),
    ('s startswith "ab"', "default", {"and": [leaf("s", ">=", "ab"), leaf("s", "<", "ac")]}),
    ('s startswith "a\\uffff"', "default",
     {"and": [leaf("s", ">=", "a\uffff"), leaf("s", "<", "a\U00010000")]}),
    ('s startswith ""', "default", leaf("s", ">=", "")),
    ('not (s startswith "b")', "native", {"or": [leaf("s", "<", "b"), leaf("s", ">=", "c")]}),
    ('t contains "x"', "default", leaf("t", "array_contains", "x")),
    ('t contains any ["x", "y", "x"]', "default", leaf("t", "array_contains_any", ["x", "y"])),
    ('t contains any ["x"]', "default", leaf("t", "array_contains", "x")),
    ('t contains all ["x", "x"]', "default", leaf("t", "array_contains", "x")),
    ("exists(f) and f > 1", "default", leaf("f", ">", 1)),
    ("exists(f)", "native", {"or": [leaf("f", "==", None), leaf("f", "!=", None)]}),
    ("exists(a) and a.b == 1", "default", leaf("a.b", "==", 1)),
    ('_id in ["d1", 5, "a/b", "d2"]', "default",
     leaf("__name__", "in", [{"document_id": "d1"}, {"document_id": "d2"}])),
    ('_id startswith "d0"', "default", {"and": [leaf("__name__", ">=", {"document_id": "d0"}),
                                                leaf("__name__", "<", {"document_id": "d1"})]}),
    ("`first name` == \"Ada\"", "default", leaf("`first name`", "==", "Ada")),
    ("`a.b`.c == 1", "default", leaf("`a.b`.c", "==", 1)),
])
def test_filter_rules(condition: str, profile: str, expected: Any) -> None:
    assert where(condition, profile) == expected


@pytest.mark.parametrize(("condition", "why"), [
    ("f in []", "no value to equal"),
    ("f == [[1]]", "no field holds an array inside an array"),
    ('t contains ["x"]', "no array holds an array"),
    ('t contains all ["x", ["y"]]', "no array holds an array"),
    ("_id == 5", "ids are strings"),
    ("_id == null", "every document has an id"),
    ('_id == "a/b"', "no id holds `/`"),
    ("_id < 3", "an id against a number is unknown"),
    ("not exists(_id)", "every document has an id"),
    ("_id contains 1", "an id is not an array"),
    ('not (s startswith "")', "every string starts with the empty string"),
])
def test_conditions_no_document_satisfies_send_no_query(condition: str, why: str) -> None:
    plan = compile_fs(f"from c where {condition}", "native")
    assert plan.static_rows == (), why
    assert plan.to_dict()["static_rows"] == []


@pytest.mark.parametrize("condition", [
    "_id != 5",  # every id differs from a number
    "_id != null",
    '_id > ""',
    "exists(_id)",
    '_id startswith ""',
])
def test_conditions_every_document_satisfies_need_no_filter(condition: str) -> None:
    plan = compile_fs(f"from c where {condition}")
    assert plan.filter is None and plan.static_rows is None


def test_a_false_equality_with_an_unstorable_value_is_non_null() -> None:
    assert where("not (f == [[1]])", "native") == leaf("f", "!=", None)


# --- refusals: each rule has its own code -----------------------------------------------------


@pytest.mark.parametrize(("query", "profile", "code", "construct", "underlined"), [
    ("from c where f != 1", "default", "not-equal", "!=", "f != 1"),
    ("from c where not (f == 1)", "default", "not-equal", "!=", "not (f == 1)"),
    ("from c where f not in [1]", "default", "not-equal", "not in", "f not in [1]"),
    ("from c where f == 1 or g == 2", "default", "or", "or", "f == 1 or g == 2"),
    ("from c where not (f == 1 and g == 2)", "default", "or", "or",
     "not (f == 1 and g == 2)"),
    ("from c where f in [1, null]", "default", "or", "or", "f in [1, null]"),
    ("from c where exists(f)", "default", "exists", "exists", "exists(f)"),
    ("from c where exists(f)", "native", None, None, None),
    ("from c where not exists(f)", "native", "not-exists", "not exists", "not exists(f)"),
    ("from c where not (f != null)", "native", "not-exists", "not exists", "not (f != null)"),
    # `== null` is false (not unknown) on a missing field, so its negation keeps those
    ("from c where not (f == null)", "native", "not-exists", "not exists", "not (f == null)"),
    ('from c where _id in ["a", "b"] and f > 1', "native", "id-equality-with-inequality", "in",
     '_id in ["a", "b"]'),
    ('from c where f matches "a"', "native", "matches", "matches", 'f matches "a"'),
    ("from c where size(f) == 1", "native", "size", "size", "size(f) == 1"),
    ('from c where not (t contains "x")', "native", "not-contains", "contains",
     'not (t contains "x")'),
    ("from c where t contains null", "native", "contains-null", "contains",
     "t contains null"),
    ('from c where t contains any ["x", null]', "native", "contains-null", "contains any",
     't contains any ["x", null]'),
    ('from c where t contains all ["x", "y"]', "native", "contains-all", "contains all",
     't contains all ["x", "y"]'),
    ("from c where t contains all []", "native", "contains-all", "contains all",
     "t contains all []"),
    ('from c where _id > "a/b"', "native", "id-value", "value", '_id > "a/b"'),
    ("from c group by g select g", "native", "group-by", "group by", "g"),
    ("from c select min(f) as m", "native", "aggregate", "min", "min(f)"),
    ("from c select max(f) as m", "native", "aggregate", "max", "max(f)"),
    ("from c select count(f) as n", "native", "count-field", "count(p)", "count(f)"),
    ("from c select sum(_id) as n", "native", "aggregate", "sum", "sum(_id)"),
    ("from c select count() as n, sum(f) as s", "native", "aggregate-missing-field", "sum",
     "sum(f) as s"),
    ("from c order by f", "native", "order-missing-field", "order by", "f"),
    ("from c where f == 1 or g == 1 order by f", "native", "order-missing-field",
     "order by", "f"),
    ("from c where f > 1 or g == 1", "native", "inequality-missing-field", "or", "f > 1"),
    ("from c where f > 1 order by _id", "native", "order-after-inequality", "order by", "_id"),
    ("from c order by _id desc", "native", "descending-id", "order by", "_id desc"),
    ("from c where f == 1 order by f, _id desc", "native", None, None, None),
    ("from `a/b`", "native", "name", "collection name", "from `a/b`"),
    ("from c where `__x__` == 1", "native", "name", "field name", "`__x__`"),
])
def test_refusals(query: str, profile: str, code: str | None, construct: str | None,
                  underlined: str | None) -> None:
    if code is None:
        compile_fs(query, profile)
        return
    err = refusal(query, profile)
    assert err.code == f"capability.firestore.{code}", err.render()
    assert err.construct == construct
    assert query[err.span[0]:err.span[1]] == underlined
    assert err.hint
    assert "not supported by this backend" in err.render()


def test_the_contract_example_renders_as_written() -> None:
    err = refusal("from cities where capital != false")
    assert err.render() == (
        "crossql.CapabilityError: firestore cannot evaluate `!=`\n"
        "  --> query:1:19\n"
        "   |\n"
        " 1 | from cities where capital != false\n"
        "   |                   ^^^^^^^^^^^^^^^^ not supported by this backend\n"
        "   = hint: enable native `!=` with FirestoreOptions(native_not_equal=True)")


def test_options_as_a_mapping_and_bad_options() -> None:
    plan = crossql.compile("from c where f != 1", backend="firestore",
                           options={"native_not_equal": True})
    assert plan.to_dict()["profile"] == "native_not_equal"
    with pytest.raises(TypeError, match="FirestoreOptions"):
        crossql.compile("from c", backend="firestore", options=42)
    with pytest.raises(ValueError, match="native_typo"):
        crossql.FirestoreOptions(native_typo=True)  # type: ignore[call-arg]


def test_schema_required_fields_allow_ordering() -> None:
    refusal("from users order by age", "native")
    plan = compile_fs("from users order by age desc, _id", schema={"users": {"required": ["age"]}})
    assert plan.to_dict()["query"] == [
        {"order_by": "age", "direction": "DESCENDING"},
        {"order_by": "__name__", "direction": "ASCENDING"}]
    # a required map makes nothing below it required
    refusal("from users order by a.b", schema={"users": {"required": ["a"]}})
    compile_fs("from users order by a.b", schema={"users": {"required": [["a", "b"]]}})
    # other backends' keys are left alone
    compile_fs("from users order by age",
               schema={"users": {"required": ["age"], "partition_key": "id"}})


def test_order_by_a_select_alias_and_repeated_keys() -> None:
    plan = compile_fs("from c where n > 0 select n as k order by k desc, n, _id")
    assert plan.to_dict()["query"][1:3] == [
        {"order_by": "n", "direction": "DESCENDING"},
        {"order_by": "__name__", "direction": "ASCENDING"}]


def test_keys_after_the_id_order_nothing() -> None:
    plan = compile_fs("from c order by _id, f, g")
    assert plan.to_dict()["query"] == [{"order_by": "__name__", "direction": "ASCENDING"}]


def test_implicit_inequality_orders_are_noted() -> None:
    plan = compile_fs("from c where n > 0 and m == 1 order by m")
    assert "`n`" in plan.explain() and any("inequality" in n for n in plan.notes)


# --- limits: one just inside, one just past (the inside ones also run on the emulator:
# tests/backends/test_firestore_limits.py) ---------------------------------------------------


@pytest.mark.parametrize(("name", "inside", "past", "code"), LIMIT_CASES,
                         ids=[c[0] for c in LIMIT_CASES])
def test_limits_just_inside_and_just_past(name: str, inside: str, past: str, code: str) -> None:
    compile_fs(inside, "native")
    err = refusal(past, "native")
    assert err.code == f"capability.firestore.{code}", err.render()


def test_every_limit_has_a_case() -> None:
    assert set(LIMITS) <= {c[0] for c in LIMIT_CASES}


# --- capabilities and renderings -----------------------------------------------------------------


def test_capabilities_cover_every_construct_with_notes() -> None:
    assert set(CAPABILITIES.support) == set(CONSTRUCTS)
    assert get_backend("firestore").capabilities is CAPABILITIES
    for construct, support in CAPABILITIES.support.items():
        if support != "native":
            assert CAPABILITIES.notes.get(construct), construct
    assert {c for c, s in CAPABILITIES.support.items() if s == "option"} == {
        "!=", "not in", "or", "exists"}


def test_compiling_imports_no_google_package() -> None:
    code = ("import sys, crossql; "
            "crossql.compile('from c where a == 1 or b == 2 order by _id', backend='firestore', "
            "options=crossql.FirestoreOptions(native_or=True)).to_python(); "
            "print(sorted(m for m in sys.modules if m.startswith(('google', 'grpc'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("segments", [
    ("a",), ("a", "b"), ("first name",), ("a.b",), ("`x`",), ("back\\slash",), ("é",),
    ("_x1",), ("1a",), ("a-b", "c"),
])
def test_field_paths_render_as_the_google_client_does(segments: tuple[str, ...]) -> None:
    from google.cloud.firestore_v1.field_path import FieldPath, render_field_path

    assert field_path(segments) == render_field_path(segments)
    assert FieldPath.from_string(field_path(segments)).parts == segments


def test_successor_and_ids() -> None:
    assert successor("ab") == "ac"
    assert successor("a\uffff") == "a\U00010000"
    assert successor("a\ud7ff") == "a\ue000"
    assert successor("a\U0010ffff") == "b"
    assert successor("\U0010ffff") is None
    assert successor("") is None
    assert valid_document_id("d01") and valid_document_id("é")
    for bad in ("", "a/b", ".", "..", "__x__", "x" * 1501):
        assert not valid_document_id(bad)


def _executed_chain(plan: FirestorePlan, client: Any) -> Any:
    """Run the synchronous part of ``to_python()`` (imports and the chain) with ``client``."""
    code = plan.to_python()
    head = code.split("\n(results,)")[0].split("\nrows = ")[0].split("\n# each row")[0]
    head = head.replace("db = firestore.AsyncClient()", "db = CLIENT")
    namespace: dict[str, Any] = {"CLIENT": client}
    exec(compile(head, "<to_python>", "exec"), namespace)
    return namespace.get("aggregation", namespace.get("query"))


def _proto(query: Any) -> Any:
    if not hasattr(query, "_to_protobuf"):  # a bare collection reference
        query = query._query()
    return query._to_protobuf()


@pytest.mark.parametrize("profile", list(PROFILES))
def test_to_python_is_the_query_build_makes(profile: str) -> None:
    """For every corpus plan, the code to_python() shows builds the same request as
    build(): what the user reads is what runs."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud.firestore import AsyncClient

    from crossql.backends.firestore import _driver

    client = AsyncClient(project="p", credentials=AnonymousCredentials())  # type: ignore[no-untyped-call]
    checked = 0
    for entry in VALID:
        try:
            plan = crossql.compile(entry["query"], backend="firestore",
                                   params=entry.get("params"), options=PROFILES[profile])
        except crossql.CapabilityError:
            continue
        assert isinstance(plan, FirestorePlan)
        ast.parse("async def f():\n" + "\n".join("    " + line
                                                  for line in plan.to_python().splitlines()))
        if plan.static_rows is not None:
            continue
        if plan.document is not None:
            assert _driver.build(plan, client).path == f"{plan.collection}/{plan.document}"
            assert f'.document("{plan.document}").get()' in plan.to_python()
            continue
        built = _driver.build(plan, client)
        shown = _executed_chain(plan, client)
        assert _proto(shown) == _proto(built), entry["name"]
        checked += 1
    assert checked >= 20


def test_to_dict_is_json_and_deterministic() -> None:
    plan = compile_fs('from c where (a == 1 or b contains "x") and s startswith "p" '
                      "select a as x, b.c order by a limit 3", "native",
                      schema={"c": {"required": ["a"]}})
    data = plan.to_dict()
    assert json.loads(plan.to_json()) == data
    assert data == compile_fs('from c where (a == 1 or b contains "x") and s startswith "p" '
                              "select a as x, b.c order by a limit 3", "native",
                              schema={"c": {"required": ["a"]}}).to_dict()
    assert data["rows"] == {"x": "a", "b.c": "b.c"}
    assert data["query"][-1] == {"select": ["a", "b.c"]}


@pytest.mark.parametrize(("condition", "expected"), [
    ("exists(f)", None),
    ("not exists(f)", "static"),
    ("not (f == null)", leaf("f", "!=", None)),
    ("not (f != null)", leaf("f", "==", None)),
])
def test_a_required_field_is_never_missing(condition: str, expected: Any) -> None:
    plan = compile_fs(f"from c where {condition}", "native", schema={"c": {"required": ["f"]}})
    if expected == "static":
        assert plan.static_rows == ()
    elif expected is None:
        assert plan.filter is None and plan.static_rows is None
    else:
        assert plan.to_dict()["query"][0]["where"] == expected


def test_an_id_equality_next_to_an_inequality_becomes_a_range() -> None:
    """Firestore refuses `__name__ ==` with an inequality on another field."""
    assert where('(_id == "d1" or g == 2) and f > 1', "native") == {"and": [
        {"or": [{"and": [leaf("__name__", ">=", {"document_id": "d1"}),
                         leaf("__name__", "<=", {"document_id": "d1"})]},
                leaf("g", "==", 2)]},
        leaf("f", ">", 1)]}


@pytest.mark.parametrize("condition", [
    '_id == "d1"', '_id == "d1" and f > 1', '_id == "d1" and f == 1',
    'f == 1 and (g == 2 or h == 3) and _id == "d1"', '_id in ["d1"] and f > 1',
])
def test_a_fixed_document_id_is_a_document_get(condition: str) -> None:
    """`where _id == "..."` (alone or next to conditions on the same document) gets the
    document instead of running a query (issue #15, item 11b); the whole `where` is then
    evaluated on it by the reference evaluator, as explain() says."""
    plan = compile_fs(f"from c where {condition} select f, g as x order by f limit 2",
                      "native", schema={"c": {"required": ["f"]}})
    data = plan.to_dict()
    assert "query" not in data and data["get"] == {"document_id": "d1"}
    assert data["rows"] == {"f": "f", "x": "g"}
    assert plan.document == "d1" and plan.steps == ()
    text = plan.explain()
    assert 'document("d1").get()' in text
    if condition == '_id == "d1"':  # nothing more to evaluate
        assert plan.condition is None and "then" not in data
    else:
        assert "reference evaluator" in text and "reference evaluator" in data["then"]
        assert crossql.format(f"from c where {condition}").split("where ", 1)[1] in text
    skipped = compile_fs(f"from c where {condition} offset 1", "native")
    assert skipped.static_rows == () and skipped.document is None


def test_an_id_equality_inside_an_or_stays_a_query() -> None:
    plan = compile_fs('from c where _id == "d1" or f == 1', "native")
    assert plan.document is None and "query" in plan.to_dict()
    plan = compile_fs('from c where _id == "d1" select count() as n')
    assert plan.document is None and plan.aggregations


def test_an_aggregated_field_is_ordered_after_an_id_filter() -> None:
    """Firestore sums a field after a document-id filter only when it is ordered."""
    plan = compile_fs('from c where _id >= "d1" select sum(n) as s')
    assert plan.to_dict()["query"][1] == {"order_by": "n", "direction": "ASCENDING"}
    plan = compile_fs("from c where n > 1 select sum(n) as s")
    assert [step for step in plan.to_dict()["query"] if "order_by" in step] == []


# --- query value size and path depth (issue #15, item 5) -----------------------------------------

_X = "x" * 1500
_VALUE_PAST_LIMIT = [
    # (query, the part the error underlines); each value is 1,501 bytes or more as Firestore
    # counts it (a string: UTF-8 bytes + 1; a number 8; an array: the sum of its values)
    (f'from c where s == "{_X}"', f's == "{_X}"'),
    (f'from c where s < "{_X}"', f's < "{_X}"'),
    (f'from c where s != "{_X}"', f's != "{_X}"'),
    (f'from c where s in ["a", "{_X}"]', f's in ["a", "{_X}"]'),
    (f'from c where s startswith "{_X}"', f's startswith "{_X}"'),
    (f'from c where t contains "{_X}"', f't contains "{_X}"'),
    (f'from c where t contains any ["{_X}"]', f't contains any ["{_X}"]'),
    (f'from c where s == "{"é" * 750}"', f's == "{"é" * 750}"'),
    (f'from c where s == ["{"x" * 749}", "{"x" * 750}"]',
     f's == ["{"x" * 749}", "{"x" * 750}"]'),
    ("from c where s == [" + ", ".join(["1"] * 188) + "]",
     "s == [" + ", ".join(["1"] * 188) + "]"),
    (f'from c where a == 1 and s > "{_X}" order by s', f's > "{_X}"'),
    (f'from c where s >= "{_X}" select count() as n', f's >= "{_X}"'),
]


@pytest.mark.parametrize(("query", "underlined"), _VALUE_PAST_LIMIT,
                         ids=range(len(_VALUE_PAST_LIMIT)))
def test_query_values_past_1500_bytes_are_refused_located(query: str, underlined: str) -> None:
    err = refusal(query, "native")
    assert err.code == "capability.firestore.value-bytes", err.render()
    assert err.span is not None and query[err.span[0]:err.span[1]] == underlined
    assert err.hint and "hash" in err.hint


@pytest.mark.parametrize("query", [
    f'from c where s == "{"x" * 1499}"',
    f'from c where s in ["{"x" * 1499}", "{"y" * 1499}"]',  # each value counts, not the list
    f'from c where s == "{"é" * 749}x"',
    f'from c where s == ["{"x" * 749}", "{"x" * 749}"]',
    "from c where s == [" + ", ".join(["1"] * 187) + "]",
    f'from c where _id == "{_X}"',  # ids are references, not sized values
    f'from c where _id > "{_X}"',
    f'from c where s == [["{_X}"]]',  # an array in an array: decided without a query
])
def test_query_values_within_the_limit_compile(query: str) -> None:
    compile_fs(query, "native")


def test_a_long_value_bound_to_a_prepared_query_is_refused_located() -> None:
    from crossql.runtime.prepared import PreparedQuery

    query = "from c where s == :p and n > :q"
    prepared = PreparedQuery(query, "firestore")
    for short in ("a", "b", "c", "d"):  # a template for strings is made and trusted
        prepared.plan({"p": short, "q": 1})
    for value in (_X, "é" * 750, "x" * 1024 + "é" * 300):
        with pytest.raises(crossql.CapabilityError) as info:
            prepared.plan({"p": value, "q": 2})
        err = info.value
        assert err.code == "capability.firestore.value-bytes"
        assert err.span is not None and query[err.span[0]:err.span[1]] == "s == :p"
    plan = prepared.plan({"p": "x" * 1499, "q": 3})
    assert isinstance(plan, FirestorePlan)


def test_field_paths_of_more_than_20_segments_are_refused_located() -> None:
    deep = ".".join(f"a{i}" for i in range(21))
    for query in (f"from c where {deep} == 1", f"from c select {deep}",
                  f"from c where x > 1 order by {deep}", f"from c select sum({deep}) as s"):
        err = refusal(query, "native")
        assert err.code == "capability.firestore.path-segments", err.render()
        assert err.span is not None and query[err.span[0]:err.span[1]] == deep
        assert err.hint
    compile_fs("from c where " + ".".join(f"a{i}" for i in range(20)) + " == 1")


def test_an_assignment_path_of_more_than_20_segments_is_refused_located() -> None:
    deep = ".".join(f"a{i}" for i in range(21))
    for text in (f"update c set {deep} = 1 where x == 1",
                 f"update c set {deep} = {deep} + 1 where x == 1",
                 f"update c set unset {deep} where x == 1"):
        with pytest.raises(crossql.CapabilityError) as info:
            crossql.compile(text, backend="firestore")
        err = info.value
        assert err.code == "capability.firestore.path-segments", err.render()
        assert err.span is not None and text[err.span[0]:err.span[1]] == deep
    crossql.compile("update c set " + ".".join(f"a{i}" for i in range(20)) + " = 1 where x == 1",
                    backend="firestore")


def test_an_increments_only_update_says_it_sends_increment_transforms() -> None:
    from crossql.backends.firestore.writes import FirestoreWritePlan, _headroom

    plan = crossql.compile('update c set n = n + 1, m.k = m.k + 0.5 where _id == "a"',
                           backend="firestore")
    assert isinstance(plan, FirestoreWritePlan) and plan.increments_only
    assert "Increment transforms" in plan.to_dict()["increments"]
    assert "residual race" in plan.explain() and "firestore.Increment(1)" in plan.to_python()
    assert plan.transforms({"n": 5, "m": {"k": 1.5}}, lambda v: ("inc", v)) == {
        "n": ("inc", 1), "m.k": ("inc", 0.5)}
    assert plan.transforms({"n": 2**62 + 1, "m": {"k": 1.5}}, lambda v: v) is None
    mixed = crossql.compile("update c set n = n + 1, s = 2 where x == 1", backend="firestore")
    assert isinstance(mixed, FirestoreWritePlan) and not mixed.increments_only
    assert "increments" not in mixed.to_dict()
    # the read proves a number; ends of the range keep the exact computed write
    assert _headroom(2**62, 2**30) and _headroom(-(2**62), -1) and _headroom(1.5, 1)
    assert not _headroom(2**62 + 1, 1) and not _headroom(0, 2**30 + 1)
    assert not _headroom(True, 1) and not _headroom("1", 1) and not _headroom(None, 1)
    assert not _headroom(2.0**1001, 1) and not _headroom(float("inf"), 1)
