"""The reference evaluator, checked by hand against LANGUAGE.md ("Semantics") and
docs/decisions.md. Every expectation below is written out, never computed."""

from __future__ import annotations

from typing import Any

import pytest

import crossql
from crossql.grammar import parse_condition
from crossql.semantics.reference import evaluate_condition

T, F, U = True, False, None  # U: unknown


def ids(query: str, docs: list[dict[str, Any]], **params: Any) -> list[Any]:
    return [row["_id"] for row in crossql.evaluate(query, docs, params=params or None)]


def truth(cond: str, doc: dict[str, Any]) -> bool | None:
    return evaluate_condition(parse_condition(cond), doc)


# --- one field `p` holding every kind of value ---------------------------------------

P_DOCS: list[dict[str, Any]] = [
    {"_id": "missing"},
    {"_id": "null", "p": None},
    {"_id": "five", "p": 5},
    {"_id": "str5", "p": "5"},
    {"_id": "float5", "p": 5.0},
    {"_id": "true", "p": True},
    {"_id": "one", "p": 1},
    {"_id": "arr", "p": [5]},
    {"_id": "map", "p": {"q": 5}},
    {"_id": "empty", "p": ""},
]
PRESENT = ["five", "str5", "float5", "true", "one", "arr", "map", "empty"]


def _all_but(*excluded: str) -> list[str]:
    return [d["_id"] for d in P_DOCS if d["_id"] not in excluded]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        # rule 2: null is a value; missing is not null
        ("p == null", ["null"]),
        ("p != null", PRESENT),
        ("exists(p)", _all_but("missing")),
        ("not exists(p)", ["missing"]),
        ("not (p == null)", _all_but("null")),  # `== null` is never unknown
        ("not (p != null)", ["missing", "null"]),
        ("p == null or p == 5", ["null", "five", "float5"]),
        # rule 1: a predicate on a missing or null field is unknown
        ("p == 5", ["five", "float5"]),
        ("p = 5", ["five", "float5"]),
        ("p != 5", ["str5", "true", "one", "arr", "map", "empty"]),
        ("not (p == 5)", ["str5", "true", "one", "arr", "map", "empty"]),
        ("not (p != 5)", ["five", "float5"]),
        ("p != 5 or p == 5", PRESENT),  # missing/null: unknown or unknown
        # type mismatch: equality is plainly false, inequality plainly true
        ('p == "5"', ["str5"]),
        ('p != "5"', ["five", "float5", "true", "one", "arr", "map", "empty"]),
        ("p == true", ["true"]),
        ("p == 1", ["one"]),  # true is not 1
        ("p == 1.0", ["one"]),  # 1 == 1.0
        ("p == 5.0", ["five", "float5"]),
        ("p != true", ["five", "str5", "float5", "one", "arr", "map", "empty"]),
        ("p == false", []),
        ('p == ""', ["empty"]),
        # rule 4: arrays are compared whole; scalars never look inside arrays
        ("p == [5]", ["arr"]),
        ("p == [5.0]", ["arr"]),
        ("p == []", []),
        ("p == [5, 5]", []),
        ("p != [5]", ["five", "str5", "float5", "true", "one", "map", "empty"]),
        ("p > 4", ["five", "float5"]),
        ("p in [[5]]", ["arr"]),
        ("p.q == 5", ["map"]),
        # ordering: numbers with numbers, strings with strings, otherwise unknown
        ("p < 100", ["five", "float5", "one"]),
        ("p >= 5", ["five", "float5"]),
        ("p > 5", []),
        ('p >= "5"', ["str5"]),
        ('p < "a"', ["str5", "empty"]),
        ("not (p > 4)", ["one"]),
        ("p <= 4", ["one"]),
        ("not (p > 4) or p > 4", ["five", "float5", "one"]),
        ('not (p < "a")', []),
        # between
        ("p between 1 and 5", ["five", "float5", "one"]),
        ("p between 1.5 and 5", ["five", "float5"]),
        ('p between "0" and "9"', ["str5"]),
        ("p between 5 and 1", []),
        ("not (p between 2 and 9)", ["one"]),
        # in / not in (decisions: `in` is `==` with any; null in the list matches null)
        ('p in [5, "x"]', ["five", "float5"]),
        ("p in [1, null]", ["null", "one"]),
        ("p in [null]", ["null"]),
        ("not (p in [null])", PRESENT),
        ("p in []", []),
        ("p not in []", PRESENT),  # never a document without p
        ("not (p in [])", PRESENT),
        ("p not in [5]", ["str5", "true", "one", "arr", "map", "empty"]),
        ("p not in [5, null]", ["str5", "true", "one", "arr", "map", "empty"]),
        ("p not in [null]", PRESENT),  # like `p != null`: not the missing document
        ('p not in [5, "5", true, 1, [5], ""]', ["map"]),
        ("not (p in [5])", ["str5", "true", "one", "arr", "map", "empty"]),
        # contains / any / all / size: only arrays; anything else is unknown
        ("p contains 5", ["arr"]),
        ("p contains 5.0", ["arr"]),
        ('p contains "5"', []),
        ("not (p contains 5)", []),
        ("not (p contains 6)", ["arr"]),
        ("p contains any [5, 6]", ["arr"]),
        ("p contains any []", []),
        ("not (p contains any [])", ["arr"]),
        ("p contains all [5]", ["arr"]),
        ("p contains all [5, 6]", []),
        ("p contains all []", ["arr"]),
        ("not (p contains all [])", []),
        ("size(p) == 1", ["arr"]),
        ("size(p) >= 0", ["arr"]),
        ("size(p) != 1", []),
        ("not (size(p) == 1)", []),
        ("not (size(p) > 1)", ["arr"]),
        # startswith / matches: only strings
        ('p startswith "5"', ["str5"]),
        ('p startswith ""', ["str5", "empty"]),
        ('not (p startswith "x")', ["str5", "empty"]),
        ('p matches "^5$"', ["str5"]),
        ('p matches "5"', ["str5"]),
        ('p matches "^$"', ["empty"]),
        ('not (p matches "x")', ["str5", "empty"]),
        # nested paths through non-maps are missing
        ("p.q == null", []),
        ("exists(p.q)", ["map"]),
        ("not exists(p.q)", _all_but("map")),
        ("p.q != null", ["map"]),
        ("p.q.r == null", []),
        ("p.`0` == 5", []),  # never looks inside arrays
    ],
)
def test_rows_of_a_condition(where: str, expected: list[str]) -> None:
    assert ids(f"from c where {where}", P_DOCS) == expected


@pytest.mark.parametrize(
    ("cond", "doc", "expected"),
    [
        ("a == 1", {}, U),
        ("a == 1", {"a": None}, U),
        ("a == null", {}, F),
        ("a == null", {"a": None}, T),
        ("a == null", {"a": 0}, F),
        ("a != null", {}, F),
        ("a != null", {"a": None}, F),
        ("a != null", {"a": 0}, T),
        ("a != 1", {}, U),
        ("a != 1", {"a": None}, U),
        ("exists(a)", {"a": None}, T),
        ("exists(a)", {}, F),
        ("not exists(a)", {}, T),
        ('a == "5"', {"a": 5}, F),
        ('a != "5"', {"a": 5}, T),
        ("a == true", {"a": 1}, F),
        ("a == 1", {"a": True}, F),
        ("a == 0", {"a": False}, F),
        ("a == 1", {"a": 1.0}, T),
        ("a < 1", {"a": "0"}, U),
        ('a < "1"', {"a": 0}, U),
        ("a < 1", {"a": True}, U),
        ("a < 1", {"a": [0]}, U),
        ("a < 1", {"a": {"b": 0}}, U),
        ("a between 1 and 3", {"a": "2"}, U),
        ("a between 1 and 3", {"a": 4}, F),
        ("a between 1 and 3", {}, U),
        ('a startswith "x"', {"a": 1}, U),
        ('a startswith "x"', {"a": ["x"]}, U),
        ('a matches "x"', {"a": None}, U),
        ('a matches "x"', {"a": True}, U),
        ('a matches "b"', {"a": "abc"}, T),  # searched, not anchored
        ('a matches "^b"', {"a": "abc"}, F),
        ("a contains 1", {"a": 1}, U),
        ('a contains "x"', {"a": "xyz"}, U),  # a string is not an array
        ("a contains 1", {}, U),
        ("a contains null", {"a": [None]}, T),
        ("a contains [1]", {"a": [[1], 2]}, T),
        ("a contains 1", {"a": [[1], 2]}, F),
        ("a contains any [1]", {"a": "1"}, U),
        ("a contains all [1]", {"a": None}, U),
        ("size(a) == 0", {"a": ""}, U),
        ("size(a) == 0", {"a": {}}, U),
        ("size(a) == 0", {"a": []}, T),
        ("a in [1, 2]", {}, U),
        ("a in [1, 2]", {"a": None}, U),
        ("a in [1, null]", {"a": None}, T),
        ("a in [1, null]", {}, U),
        ("a in [null]", {}, U),  # decisions: `in` on a missing field is unknown
        ("not (a in [null])", {}, U),
        ("a not in [null]", {}, U),
        ("a not in [null]", {"a": None}, F),
        ("a not in [null]", {"a": 1}, T),
        ("a not in [1, 2]", {"a": 3}, T),
        ("a not in [1, 2]", {"a": None}, U),
        ("a in []", {"a": 1}, F),
        ("a in []", {}, U),
        ("a not in []", {"a": 1}, T),
        ("a not in []", {}, U),
        ("a == [1, 2]", {"a": [1, 2]}, T),
        ("a == [1, 2]", {"a": [2, 1]}, F),
        ("a == [1, [2]]", {"a": [1, [2.0]]}, T),
        ("a == [true]", {"a": [1]}, F),
        ("a == 1", {"a": [1]}, F),
        ("a != 1", {"a": [1]}, T),
        ("a.b == 1", {"a": {"b": 1}}, T),
        ("a.b == 1", {"a": [{"b": 1}]}, U),
        ("a.b == null", {"a": 5}, F),
        ("a.b == null", {"a": None}, F),
        ("a.b == null", {"a": {"b": None}}, T),
        # strings compare by code point
        ('a < "a"', {"a": "B"}, T),
        ('a < "é"', {"a": "z"}, T),
        ('a < "\U0001f600"', {"a": "\uffff"}, T),
        ('a > "ab"', {"a": "b"}, T),
        ('a < "ab"', {"a": "a"}, T),
    ],
)
def test_truth_value(cond: str, doc: dict[str, Any], expected: bool | None) -> None:
    assert truth(cond, doc) is expected


# --- Kleene logic --------------------------------------------------------------------
# `x` and `y` are true when the field is 1, false when 2, unknown when missing

_TRUTHS = {"T": 1, "F": 2, "U": None}
KLEENE_DOCS = [
    {"_id": a + b, **({"x": _TRUTHS[a]} if a != "U" else {}),
     **({"y": _TRUTHS[b]} if b != "U" else {})}
    for a in "TFU" for b in "TFU"
]


@pytest.mark.parametrize(
    ("cond", "true", "false"),
    [
        # (the unknown rows are the remaining ones)
        ("x == 1 and y == 1", ["TT"], ["TF", "FT", "FF", "FU", "UF"]),
        ("x == 1 or y == 1", ["TT", "TF", "TU", "FT", "UT"], ["FF"]),
        ("not x == 1", ["FT", "FF", "FU"], ["TT", "TF", "TU"]),
        ("not (x == 1 and y == 1)", ["TF", "FT", "FF", "FU", "UF"], ["TT"]),
        ("not x == 1 or not y == 1", ["TF", "FT", "FF", "FU", "UF"], ["TT"]),
        ("not not x == 1", ["TT", "TF", "TU"], ["FT", "FF", "FU"]),
        ("x == 1 or not x == 1", ["TT", "TF", "TU", "FT", "FF", "FU"], []),
        ("x == 1 and not x == 1", [], ["TT", "TF", "TU", "FT", "FF", "FU"]),
    ],
)
def test_kleene(cond: str, true: list[str], false: list[str]) -> None:
    assert ids(f"from c where {cond}", KLEENE_DOCS) == true
    assert ids(f"from c where not ({cond})", KLEENE_DOCS) == false
    unknown = [d["_id"] for d in KLEENE_DOCS if d["_id"] not in true + false]
    assert [d["_id"] for d in KLEENE_DOCS if truth(cond, d) is None] == unknown


def test_precedence_not_and_or() -> None:
    # not > and > or: `not a and b or c` is `((not a) and b) or c`
    docs = [{"_id": i, "a": a, "b": b, "c": c}
            for i, (a, b, c) in enumerate([(1, 1, 1), (0, 1, 0), (0, 0, 1), (1, 1, 0), (0, 0, 0)])]
    assert ids("from c where not a == 1 and b == 1 or c == 1", docs) == [0, 1, 2]
    assert ids("from c where not (a == 1 and b == 1 or c == 1)", docs) == [1, 4]


# --- order by ------------------------------------------------------------------------

ORDER_DOCS: list[dict[str, Any]] = [
    {"_id": 1, "k": 2, "s": "b"},
    {"_id": 2, "s": "B"},
    {"_id": 3, "k": None, "s": "a"},
    {"_id": 4, "k": 1, "s": "é"},
    {"_id": 5, "k": 2, "s": "ab"},
    {"_id": 6, "k": 1.5},
]


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        ("k", [2, 3, 4, 6, 1, 5]),  # missing/null first; ties keep their order
        ("k asc", [2, 3, 4, 6, 1, 5]),
        ("k desc", [1, 5, 6, 4, 2, 3]),  # missing/null last
        ("k, _id desc", [3, 2, 4, 6, 5, 1]),
        ("k desc, _id desc", [5, 1, 6, 4, 3, 2]),
        ("k desc, _id", [1, 5, 6, 4, 2, 3]),
        ("s", [6, 2, 3, 5, 1, 4]),  # code points: "B" < "a" < "ab" < "b" < "é"
        ("s desc", [4, 1, 5, 3, 2, 6]),
        ("_id desc", [6, 5, 4, 3, 2, 1]),
        ("nothing", [1, 2, 3, 4, 5, 6]),
    ],
)
def test_order_by(order: str, expected: list[int]) -> None:
    assert ids(f"from c order by {order}", ORDER_DOCS) == expected


def test_order_by_does_not_filter_and_orders_by_alias_and_nested_paths() -> None:
    docs = [{"_id": 1, "m": {"v": 3}}, {"_id": 2, "m": 5}, {"_id": 3, "m": {"v": 1}},
            {"_id": 4}]
    assert ids("from c order by m.v", docs) == [2, 4, 3, 1]
    assert ids("from c order by m.v desc", docs) == [1, 3, 2, 4]
    rows = crossql.evaluate("from c select _id, m.v as v order by v desc", docs)
    assert rows == [{"_id": 1, "v": 3}, {"_id": 3, "v": 1}, {"_id": 2}, {"_id": 4}]
    # an alias wins over a document field of the same name
    docs2 = [{"_id": 1, "a": 1, "b": 9}, {"_id": 2, "a": 2, "b": 8}]
    assert crossql.evaluate("from c select b as a order by a", docs2) == [{"a": 8}, {"a": 9}]
    assert crossql.evaluate("from c select a order by b", docs2) == [{"a": 2}, {"a": 1}]


def test_order_by_mixed_types_uses_the_documented_type_order() -> None:
    # decisions: missing/null, numbers, strings, maps, arrays, bools
    docs = [{"_id": 1, "k": True}, {"_id": 2, "k": [1]}, {"_id": 3, "k": {"a": 1}},
            {"_id": 4, "k": "s"}, {"_id": 5, "k": 7}, {"_id": 6, "k": None}, {"_id": 7}]
    assert ids("from c order by k", docs) == [6, 7, 5, 4, 3, 2, 1]
    assert ids("from c order by k desc", docs) == [1, 2, 3, 4, 5, 6, 7]


# --- limit / offset --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tail", "expected"),
    [
        ("order by _id limit 2", [1, 2]),
        ("order by _id limit 0", []),
        ("order by _id offset 4", [5, 6]),
        ("order by _id offset 6", []),
        ("order by _id offset 9", []),
        ("order by _id limit 2 offset 1", [2, 3]),
        ("order by _id desc limit 2 offset 1", [5, 4]),
        ("order by _id limit 100", [1, 2, 3, 4, 5, 6]),
        ("where k >= 1 order by k desc limit 2", [1, 5]),
    ],
)
def test_limit_offset(tail: str, expected: list[int]) -> None:
    assert ids(f"from c {tail}", ORDER_DOCS) == expected


def test_limit_offset_params() -> None:
    assert ids("from c order by _id limit :n offset :o", ORDER_DOCS, n=2, o=3) == [4, 5]


# --- select -------------------------------------------------------------------------

SELECT_DOCS: list[dict[str, Any]] = [
    {"_id": 1, "a": 1, "b": {"c": 2, "d": 3}, "first name": "Ada"},
    {"_id": 2, "a": None, "b": 7},
    {"_id": 3, "b": {"d": 4}},
]


@pytest.mark.parametrize(
    ("select", "expected"),
    [
        ("a", [{"a": 1}, {"a": None}, {}]),  # missing is absent, null is kept
        ("a, b.c", [{"a": 1, "b": {"c": 2}}, {"a": None}, {}]),
        ("b.c, b.d", [{"b": {"c": 2, "d": 3}}, {}, {"b": {"d": 4}}]),
        ("b.c as c", [{"c": 2}, {}, {}]),
        ("b.c as c, a as `the a`", [{"c": 2, "the a": 1}, {"the a": None}, {}]),
        ("_id", [{"_id": 1}, {"_id": 2}, {"_id": 3}]),
        ("b", [{"b": {"c": 2, "d": 3}}, {"b": 7}, {"b": {"d": 4}}]),
        ("`first name`", [{"first name": "Ada"}, {}, {}]),
        ("zzz", [{}, {}, {}]),
    ],
)
def test_select(select: str, expected: list[dict[str, Any]]) -> None:
    assert crossql.evaluate(f"from c select {select}", SELECT_DOCS) == expected


def test_without_select_a_row_is_the_whole_document_and_a_copy() -> None:
    docs = [{"_id": 1, "a": {"b": [1, 2]}}]
    rows = crossql.evaluate("from c", docs)
    assert rows == docs
    rows[0]["a"]["b"].append(3)
    assert docs == [{"_id": 1, "a": {"b": [1, 2]}}]


# --- group by and aggregates ----------------------------------------------------------

ORDERS: list[dict[str, Any]] = [
    {"_id": 1, "country": "fr", "total": 10, "qty": 1},
    {"_id": 2, "country": "de", "total": 5.5, "qty": None},
    {"_id": 3, "total": 4},
    {"_id": 4, "country": None, "total": "n/a", "qty": 2},
    {"_id": 5, "country": "fr", "total": 20, "qty": 3},
    {"_id": 6, "country": "de", "total": None},
]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("from o group by country select country, count() as n",
         [{"country": "fr", "n": 2}, {"country": "de", "n": 2}, {"country": None, "n": 2}]),
        ("from o group by country",  # keys only; missing and null are one null group
         [{"country": "fr"}, {"country": "de"}, {"country": None}]),
        ("from o group by country select country, count(total) as n, count(qty) as q",
         [{"country": "fr", "n": 2, "q": 2}, {"country": "de", "n": 1, "q": 0},
          {"country": None, "n": 2, "q": 1}]),
        ("from o group by country select country, sum(total) as s, avg(total) as a",
         [{"country": "fr", "s": 30, "a": 15.0}, {"country": "de", "s": 5.5, "a": 5.5},
          {"country": None, "s": 4, "a": 4.0}]),  # "n/a" is skipped
        ("from o group by country select country, min(qty) as lo, max(qty) as hi",
         [{"country": "fr", "lo": 1, "hi": 3}, {"country": "de", "lo": None, "hi": None},
          {"country": None, "lo": 2, "hi": 2}]),
        ("from o group by country select country, sum(qty) as s, avg(qty) as a",
         [{"country": "fr", "s": 4, "a": 2.0}, {"country": "de", "s": 0, "a": None},
          {"country": None, "s": 2, "a": 2.0}]),
        ("from o group by country select count() as n, country order by n desc, country",
         [{"n": 2, "country": None}, {"n": 2, "country": "de"}, {"n": 2, "country": "fr"}]),
        ("from o group by country select country, sum(total) as s order by s desc limit 2",
         [{"country": "fr", "s": 30}, {"country": "de", "s": 5.5}]),
        ("from o group by country select country as c order by country desc",
         [{"c": "fr"}, {"c": "de"}, {"c": None}]),
        ("from o group by country select country, count() order by country",
         [{"country": None, "count()": 2}, {"country": "de", "count()": 2},
          {"country": "fr", "count()": 2}]),
        ("from o where total > 100 group by country select country, count() as n", []),
        ("from o group by country select sum(total) offset 2", [{"sum(total)": 4}]),
        # aggregates without group by: exactly one row
        ("from o select count(), sum(total), avg(qty), min(total), max(total)",
         [{"count()": 6, "sum(total)": 39.5, "avg(qty)": 2.0, "min(total)": 4,
           "max(total)": "n/a"}]),
        ("from o where total > 100 select count() as n, count(total) as c, sum(total) as s, "
         "avg(total) as a, min(total) as lo, max(total) as hi",
         [{"n": 0, "c": 0, "s": 0, "a": None, "lo": None, "hi": None}]),
    ],
)
def test_group_by_and_aggregates(query: str, expected: list[dict[str, Any]]) -> None:
    assert crossql.evaluate(query, ORDERS) == expected


def test_aggregates_over_no_documents_at_all() -> None:
    assert crossql.evaluate("from o select count() as n, sum(x) as s, avg(x) as a", []) == [
        {"n": 0, "s": 0, "a": None}
    ]
    assert crossql.evaluate("from o group by k select k, count() as n", []) == []


def test_sum_types() -> None:
    ints = [{"v": 1}, {"v": 2}, {"v": True}]
    (row,) = crossql.evaluate("from o select sum(v) as s, count(v) as c", ints)
    assert row == {"s": 3, "c": 3}
    assert type(row["s"]) is int  # sum of ints is an int; bools are not numbers
    (row,) = crossql.evaluate("from o select sum(v) as s", [{"v": 1}, {"v": 0.5}])
    assert row == {"s": 1.5}


def test_min_max_use_the_type_order() -> None:
    docs = [{"v": "a"}, {"v": 3}, {"v": True}, {"v": None}, {}, {"v": [0]}, {"v": -1.5}]
    assert crossql.evaluate("from o select min(v) as lo, max(v) as hi", docs) == [
        {"lo": -1.5, "hi": True}
    ]
    strings = [{"v": "b"}, {"v": "B"}, {"v": "é"}]
    assert crossql.evaluate("from o select min(v) as lo, max(v) as hi", strings) == [
        {"lo": "B", "hi": "é"}
    ]


def test_group_keys_compare_as_values() -> None:
    # 1 and 1.0 are one group (1 == 1.0); true is not 1; arrays group by whole value
    docs = [{"k": 1}, {"k": 1.0}, {"k": True}, {"k": [1, 2]}, {"k": [1, 2]}, {"k": [2, 1]},
            {"k": {"a": 1}}, {"k": {"a": 1.0}}]
    rows = crossql.evaluate("from o group by k select k, count() as n", docs)
    assert rows == [{"k": 1, "n": 2}, {"k": True, "n": 1}, {"k": [1, 2], "n": 2},
                    {"k": [2, 1], "n": 1}, {"k": {"a": 1}, "n": 2}]


def test_group_by_two_keys_and_nested_keys() -> None:
    docs = [{"a": {"b": 1}, "c": "x"}, {"a": {"b": 1}, "c": "y"}, {"a": {"b": 1}, "c": "x"},
            {"a": 5, "c": "x"}, {"c": "x"}]
    assert crossql.evaluate("from o group by a.b, c select a.b, c, count() as n", docs) == [
        {"a": {"b": 1}, "c": "x", "n": 2},
        {"a": {"b": 1}, "c": "y", "n": 1},
        {"a": {"b": None}, "c": "x", "n": 2},
    ]
    assert crossql.evaluate("from o group by a.b", docs) == [
        {"a": {"b": 1}}, {"a": {"b": None}}
    ]


def test_evaluate_binds_parameters() -> None:
    docs = [{"_id": 1, "t": ["a"], "s": "xy"}, {"_id": 2, "t": ["b"], "s": "yz"}]
    assert ids("from c where t contains any :v", docs, v=["b", "c"]) == [2]
    assert ids("from c where s startswith :p", docs, p="x") == [1]
    assert ids("from c where s matches :r", docs, r="z$") == [2]
    assert ids("from c where _id in :ids", docs, ids=(2, 3)) == [2]


def _deep(levels: int) -> dict[str, Any]:
    deep: dict[str, Any] = {"a": 1}
    for _ in range(levels):
        deep = {"x": deep}
    return deep


@pytest.mark.parametrize("query", ["from c", "from c where exists(x) select x",
                                   "from c select x order by _id"])
def test_a_document_deeper_than_python_recursion_is_a_clear_error(query: str) -> None:
    with pytest.raises(ValueError, match="document 1 nests maps and lists deeper"):
        crossql.evaluate(query, [{"_id": 1}, _deep(5000)])


def test_a_deep_document_is_answered_where_the_query_does_not_walk_it() -> None:
    assert crossql.evaluate("from c where x.x == 1 select _id", [{"_id": 1}, _deep(5000)]) == []
    assert crossql.evaluate("from c select count() as n", [_deep(5000)]) == [{"n": 1}]
