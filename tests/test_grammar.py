"""Text → IR, as tables: every construct of LANGUAGE.md parses to the IR built by hand.

Spans do not count in IR equality, so expected nodes are built without them; a
few tests at the end check spans on their own.
"""

from __future__ import annotations

import pytest

import crossql
from crossql import ir

# --- hand-built IR ------------------------------------------------------------


def P(*segments: str) -> ir.Path:
    return ir.Path(segments)


def S(value: str) -> ir.Literal:
    return ir.Literal(value, "string")


def I(value: int) -> ir.Literal:  # noqa: E743 - reads like the other one-letter builders
    return ir.Literal(value, "int")


def F(value: float) -> ir.Literal:
    return ir.Literal(value, "float")


TRUE = ir.Literal(True, "bool")
FALSE = ir.Literal(False, "bool")
NULL = ir.Literal(None, "null")


def L(*items: ir.Literal | ir.ListValue) -> ir.ListValue:
    return ir.ListValue(items)


def X(name: str) -> ir.Param:
    return ir.Param(name)


def cmp(path: str, op: ir.CompareOp, value: ir.Value) -> ir.Compare:
    return ir.Compare(op, P(*path.split(".")), value)


def And(*ops: ir.Condition) -> ir.And:
    return ir.And(ops)


def Or(*ops: ir.Condition) -> ir.Or:
    return ir.Or(ops)


def Not(op: ir.Condition) -> ir.Not:
    return ir.Not(op)


def Q(collection: str = "users", **fields: object) -> ir.Query:
    return ir.Query(collection, **fields)  # type: ignore[arg-type]


def item(expr: ir.Path | ir.Aggregate, alias: str | None = None) -> ir.SelectItem:
    return ir.SelectItem(expr, alias)


def agg(func: ir.AggregateFunc, *path: str) -> ir.Aggregate:
    return ir.Aggregate(func, P(*path) if path else None)


def key(*path: str, desc: bool = False) -> ir.OrderKey:
    return ir.OrderKey(P(*path), desc)


A1 = cmp("a", "==", I(1))
B2 = cmp("b", "==", I(2))
C3 = cmp("c", "==", I(3))


def where(text: str) -> ir.Condition | None:
    return crossql.parse("from users where " + text).where


# --- conditions -----------------------------------------------------------------

CONDITIONS: list[tuple[str, ir.Condition]] = [
    # comparisons
    ("age == 18", cmp("age", "==", I(18))),
    ("age = 18", cmp("age", "==", I(18))),
    ("age != 18", cmp("age", "!=", I(18))),
    ("age < 18", cmp("age", "<", I(18))),
    ("age <= 18", cmp("age", "<=", I(18))),
    ("age > 18", cmp("age", ">", I(18))),
    ("age >= 18", cmp("age", ">=", I(18))),
    ("age>=18", cmp("age", ">=", I(18))),
    ("age=18", cmp("age", "==", I(18))),
    ("age<-1", cmp("age", "<", I(-1))),
    ('name < "m"', cmp("name", "<", S("m"))),
    ("age >= :min", cmp("age", ">=", X("min"))),
    ("deleted_at == null", cmp("deleted_at", "==", NULL)),
    ("deleted_at != null", cmp("deleted_at", "!=", NULL)),
    ("active == true", cmp("active", "==", TRUE)),
    ("tags == []", cmp("tags", "==", L())),
    ("point == [1, [2, 3]]", cmp("point", "==", L(I(1), L(I(2), I(3))))),
    ("address.city == 'Paris'", cmp("address.city", "==", S("Paris"))),
    # between
    ("age between 18 and 65", ir.Between(P("age"), I(18), I(65))),
    ('name between "a" and "m"', ir.Between(P("name"), S("a"), S("m"))),
    ("score between -0.5 and 2e3", ir.Between(P("score"), F(-0.5), F(2000.0))),
    ("age between :lo and :hi", ir.Between(P("age"), X("lo"), X("hi"))),
    ("age between 18 and 65 and x == 1",
     And(ir.Between(P("age"), I(18), I(65)), cmp("x", "==", I(1)))),
    # in / not in
    ('status in ["active", "trial"]', ir.In(P("status"), L(S("active"), S("trial")))),
    ("status in []", ir.In(P("status"), L())),
    ("status in :statuses", ir.In(P("status"), X("statuses"))),
    ('status not in ["banned"]', ir.In(P("status"), L(S("banned")), negated=True)),
    ("status not in :bad", ir.In(P("status"), X("bad"), negated=True)),
    ("x in [1, null, true, 1.5, 'a']", ir.In(P("x"), L(I(1), NULL, TRUE, F(1.5), S("a")))),
    ("pair in [[1, 2], [3]]", ir.In(P("pair"), L(L(I(1), I(2)), L(I(3))))),
    # contains
    ('tags contains "vip"', ir.Contains(P("tags"), S("vip"))),
    ("tags contains :tag", ir.Contains(P("tags"), X("tag"))),
    ("scores contains 10", ir.Contains(P("scores"), I(10))),
    ("pairs contains [1, 2]", ir.Contains(P("pairs"), L(I(1), I(2)))),
    ('tags contains any ["a", "b"]', ir.ContainsAny(P("tags"), L(S("a"), S("b")))),
    ("tags contains any :wanted", ir.ContainsAny(P("tags"), X("wanted"))),
    ('tags contains all ["a", "b"]', ir.ContainsAll(P("tags"), L(S("a"), S("b")))),
    ("tags contains all []", ir.ContainsAll(P("tags"), L())),
    ("tags contains all :needed", ir.ContainsAll(P("tags"), X("needed"))),
    # strings
    ('name startswith "A"', ir.StartsWith(P("name"), S("A"))),
    ("name startswith :prefix", ir.StartsWith(P("name"), X("prefix"))),
    ('email matches "@example\\\\.com$"', ir.Matches(P("email"), S("@example\\.com$"))),
    ("email matches :re", ir.Matches(P("email"), X("re"))),
    # functions
    ("exists(email)", ir.Exists(P("email"))),
    ("EXISTS(address.zip)", ir.Exists(P("address", "zip"))),
    ("exists(`first name`)", ir.Exists(P("first name"))),
    ("exists ( email )", ir.Exists(P("email"))),
    ("size(tags) == 0", ir.Size("==", P("tags"), I(0))),
    ("size(tags) = 0", ir.Size("==", P("tags"), I(0))),
    ("size(tags) != 1", ir.Size("!=", P("tags"), I(1))),
    ("size(tags) < 2", ir.Size("<", P("tags"), I(2))),
    ("size(tags) <= 2", ir.Size("<=", P("tags"), I(2))),
    ("size(tags) > 2", ir.Size(">", P("tags"), I(2))),
    ("Size(items.list) >= :n", ir.Size(">=", P("items", "list"), X("n"))),
    # boolean structure and precedence: not > and > or
    ("not a == 1", Not(A1)),
    ("not not a == 1", Not(Not(A1))),
    ("not exists(email)", Not(ir.Exists(P("email")))),
    ("a == 1 and b == 2", And(A1, B2)),
    ("a == 1 or b == 2", Or(A1, B2)),
    ("a == 1 and b == 2 and c == 3", And(A1, B2, C3)),
    ("a == 1 or b == 2 or c == 3", Or(A1, B2, C3)),
    ("a == 1 or b == 2 and c == 3", Or(A1, And(B2, C3))),
    ("a == 1 and b == 2 or c == 3", Or(And(A1, B2), C3)),
    ("not a == 1 and b == 2", And(Not(A1), B2)),
    ("not a == 1 or b == 2", Or(Not(A1), B2)),
    ("a == 1 or not b == 2 and c == 3", Or(A1, And(Not(B2), C3))),
    ("(a == 1 or b == 2) and c == 3", And(Or(A1, B2), C3)),
    ("not (a == 1 or b == 2)", Not(Or(A1, B2))),
    ("not (a == 1 and b == 2)", Not(And(A1, B2))),
    ("a == 1 and (b == 2 and c == 3)", And(A1, And(B2, C3))),
    ("(a == 1 and b == 2) and c == 3", And(And(A1, B2), C3)),
    ("a == 1 or (b == 2 or c == 3)", Or(A1, Or(B2, C3))),
    ("((a == 1))", A1),
    ("(((not (a == 1))))", Not(A1)),
    ("(a==1)or(b==2)", Or(A1, B2)),
    ("a == 1 AND b == 2 Or NOT c == 3", Or(And(A1, B2), Not(C3))),
]


@pytest.mark.parametrize(("text", "expected"), CONDITIONS, ids=[c[0] for c in CONDITIONS])
def test_condition(text: str, expected: ir.Condition) -> None:
    assert where(text) == expected


# --- literals -----------------------------------------------------------------------

LITERALS: list[tuple[str, ir.Value]] = [
    ('"abc"', S("abc")),
    ("'abc'", S("abc")),
    ('""', S("")),
    ("''", S("")),
    ('"it\'s"', S("it's")),
    ("'say \"hi\"'", S('say "hi"')),
    ('"a\\"b"', S('a"b')),
    ("'a\\'b'", S("a'b")),
    ('"a\\\'b"', S("a'b")),
    ("'a\\\"b'", S('a"b')),
    ('"a\\\\b"', S("a\\b")),
    ('"a\\nb"', S("a\nb")),
    ('"a\\tb"', S("a\tb")),
    ('"\\u00e9t\\u00C9"', S("\u00e9t\u00c9")),
    ('"\\u0000"', S("\x00")),
    ('"\\uD83D\\uDE00"', S("\U0001f600")),
    ('"\\ud83d\\ude00!"', S("\U0001f600!")),
    ('"😀 café"', S("😀 café")),
    ('"-- not a comment"', S("-- not a comment")),
    ('"line\nbreak"', S("line\nbreak")),
    ('"\\\\n"', S("\\n")),
    ('"\\\\\\""', S('\\"')),
    ("0", I(0)),
    ("42", I(42)),
    ("-7", I(-7)),
    ("-0", I(0)),
    ("9223372036854775807", I(2**63 - 1)),
    ("-9223372036854775808", I(-(2**63))),
    ("1.5", F(1.5)),
    ("2e3", F(2000.0)),
    ("2E3", F(2000.0)),
    ("-0.25", F(-0.25)),
    ("1.5e-3", F(0.0015)),
    ("1e+2", F(100.0)),
    ("1.0", F(1.0)),
    ("true", TRUE),
    ("TRUE", TRUE),
    ("False", FALSE),
    ("null", NULL),
    ("NULL", NULL),
    ("[]", L()),
    ("[1]", L(I(1))),
    ('[1, "a", true, false, null, 2.5]', L(I(1), S("a"), TRUE, FALSE, NULL, F(2.5))),
    ("[[]]", L(L())),
    ("[[1, 2], [3, [4]]]", L(L(I(1), I(2)), L(I(3), L(I(4))))),
    ("[ 1 ,\n 2 ]", L(I(1), I(2))),
    (":p", X("p")),
    (":_min_age2", X("_min_age2")),
]


@pytest.mark.parametrize(("text", "expected"), LITERALS, ids=[v[0] for v in LITERALS])
def test_literal(text: str, expected: ir.Value) -> None:
    cond = where("x == " + text)
    assert isinstance(cond, ir.Compare)
    assert cond.value == expected
    # the kind is part of equality, and Python's 1 == 1.0 == True must not blur it
    if isinstance(expected, ir.Literal):
        assert isinstance(cond.value, ir.Literal)
        assert cond.value.kind == expected.kind
        assert type(cond.value.value) is type(expected.value)


def test_literal_kinds_are_distinct() -> None:
    assert I(1) != F(1.0)
    assert I(1) != TRUE
    assert I(0) != FALSE
    assert S("1") != I(1)


# --- names --------------------------------------------------------------------------

PATHS: list[tuple[str, tuple[str, ...]]] = [
    ("age", ("age",)),
    ("address.city", ("address", "city")),
    ("a.b.c.d", ("a", "b", "c", "d")),
    ("a . b", ("a", "b")),
    ("_id", ("_id",)),
    ("_x9", ("_x9",)),
    ("Age", ("Age",)),
    ("`first name`", ("first name",)),
    ("`order`.`from`", ("order", "from")),
    ("`a``b`", ("a`b",)),
    ("````", ("`",)),
    ("`a.b`", ("a.b",)),
    ("a.`b.c`.d", ("a", "b.c", "d")),
    ("`select`", ("select",)),
    ("`WHERE`", ("WHERE",)),
    ("`null`", ("null",)),
    ("`e-mail`", ("e-mail",)),
    ("`é`", ("é",)),
    ("`--x`", ("--x",)),
    ("` `", (" ",)),
    # names that start with a keyword are plain names
    ("fromage", ("fromage",)),
    ("order_id", ("order_id",)),
    ("notes", ("notes",)),
    ("index", ("index",)),
    ("android", ("android",)),
    ("ascending", ("ascending",)),
    ("description", ("description",)),
    ("nullable", ("nullable",)),
    ("true_value", ("true_value",)),
    ("selected", ("selected",)),
    ("limits", ("limits",)),
    ("between_x", ("between_x",)),
    ("contains2", ("contains2",)),
    # function names are not reserved
    ("count", ("count",)),
    ("size", ("size",)),
    ("exists", ("exists",)),
    ("sum.avg", ("sum", "avg")),
]


@pytest.mark.parametrize(("text", "segments"), PATHS, ids=[p[0] for p in PATHS])
def test_path(text: str, segments: tuple[str, ...]) -> None:
    assert where(text + " == 1") == ir.Compare("==", ir.Path(segments), I(1))


def test_identifiers_are_case_sensitive() -> None:
    assert where("Age == 1") != where("age == 1")


def test_backticked_collection() -> None:
    assert crossql.parse("from `order`").collection == "order"
    assert crossql.parse("from `my orders`").collection == "my orders"
    assert crossql.parse("from Users").collection == "Users"


# --- whole queries: clauses ----------------------------------------------------------

QUERIES: list[tuple[str, ir.Query]] = [
    ("from users", Q()),
    ("FROM users", Q()),
    ("from users where age >= 18", Q(where=cmp("age", ">=", I(18)))),
    ("from orders group by country", Q("orders", group_by=(P("country"),))),
    ("from orders group by country, address.city",
     Q("orders", group_by=(P("country"), P("address", "city")))),
    ("from users select name", Q(select=(item(P("name")),))),
    ("from users select name, address.city",
     Q(select=(item(P("name")), item(P("address", "city"))))),
    ("from users select address.city as city", Q(select=(item(P("address", "city"), "city"),))),
    ("from users select name as `from`", Q(select=(item(P("name"), "from"),))),
    ("from users select name as `full name`", Q(select=(item(P("name"), "full name"),))),
    ("from users select count()", Q(select=(item(agg("count")),))),
    ("from users select COUNT()", Q(select=(item(agg("count")),))),
    ("from users select count( )", Q(select=(item(agg("count")),))),
    ("from users select count() as n", Q(select=(item(agg("count"), "n"),))),
    ("from users select count(email)", Q(select=(item(agg("count", "email")),))),
    ("from orders select sum(total) as revenue",
     Q("orders", select=(item(agg("sum", "total"), "revenue"),))),
    ("from orders select avg(total), min(total), max(total), Sum(a.b)",
     Q("orders", select=(item(agg("avg", "total")), item(agg("min", "total")),
                         item(agg("max", "total")), item(agg("sum", "a", "b"))))),
    ("from users select count, size", Q(select=(item(P("count")), item(P("size"))))),
    ("from users order by age", Q(order_by=(key("age"),))),
    ("from users order by age asc", Q(order_by=(key("age"),))),
    ("from users order by age desc", Q(order_by=(key("age", desc=True),))),
    ("from users order by age DESC, name, _id Asc",
     Q(order_by=(key("age", desc=True), key("name"), key("_id")))),
    ("from users order by address.city desc", Q(order_by=(key("address", "city", desc=True),))),
    ("from users limit 10", Q(limit=I(10))),
    ("from users limit 0", Q(limit=I(0))),
    ("from users limit :n", Q(limit=X("n"))),
    ("from users offset 5", Q(offset=I(5))),
    ("from users offset :skip", Q(offset=X("skip"))),
    ("from users limit 10 offset 20", Q(limit=I(10), offset=I(20))),
    ("from users limit :n offset :o", Q(limit=X("n"), offset=X("o"))),
    # every clause, in order
    ("from orders where status == 'paid' group by country select country, count() as n "
     "order by n desc limit 5 offset 1",
     Q("orders", where=cmp("status", "==", S("paid")), group_by=(P("country"),),
       select=(item(P("country")), item(agg("count"), "n")),
       order_by=(key("n", desc=True),), limit=I(5), offset=I(1))),
    # case-insensitive keywords everywhere
    ("FrOm users WHERE a == 1 GROUP BY a SELECT a, COUNT() AS n ORDER BY n DESC LIMIT 1 OFFSET 2",
     Q(where=A1, group_by=(P("a"),), select=(item(P("a")), item(agg("count"), "n")),
       order_by=(key("n", desc=True),), limit=I(1), offset=I(2))),
    # the examples of LANGUAGE.md
    ('from users where age >= 18 and status == "active" order by age desc limit 10',
     Q(where=And(cmp("age", ">=", I(18)), cmp("status", "==", S("active"))),
       order_by=(key("age", desc=True),), limit=I(10))),
    ('from users where (status == "active" or tags contains "vip") and name startswith "A" '
     "select name, age",
     Q(where=And(Or(cmp("status", "==", S("active")), ir.Contains(P("tags"), S("vip"))),
                 ir.StartsWith(P("name"), S("A"))),
       select=(item(P("name")), item(P("age"))))),
    ('from orders where status == "paid" group by country select country, count() as n, '
     "sum(total) as revenue order by revenue desc",
     Q("orders", where=cmp("status", "==", S("paid")), group_by=(P("country"),),
       select=(item(P("country")), item(agg("count"), "n"), item(agg("sum", "total"), "revenue")),
       order_by=(key("revenue", desc=True),))),
    ("from orders where placed_at >= :since select count() as n",
     Q("orders", where=cmp("placed_at", ">=", X("since")), select=(item(agg("count"), "n"),))),
]


@pytest.mark.parametrize(("text", "expected"), QUERIES, ids=[q[0][:60] for q in QUERIES])
def test_query(text: str, expected: ir.Query) -> None:
    assert crossql.parse(text) == expected


# --- comments and whitespace ---------------------------------------------------------

LAYOUT: list[str] = [
    "from users where a == 1 and b == 2",
    "from users where a==1 and b==2",
    "  from   users   where   a  ==  1   and   b  ==  2  ",
    "from users\nwhere a == 1\n  and b == 2\n",
    "from users\r\nwhere a == 1\r\n\tand b == 2\r\n",
    "\n\n\tfrom\tusers\fwhere\ta\t==\t1\tand\tb\t==\t2",
    "-- adults named b\nfrom users -- the collection\nwhere a == 1 -- first\nand b == 2 -- last",
    "from users where a == 1 and b == 2 -- no newline at the end",
    "from users where a == 1 -- and c == 3\nand b == 2",
    "from users where a == 1 ---- dashes and `backticks` and 'quotes\nand b == 2",
    "from users where a == 1 -- where select from ))) [[[ :p\nand b == 2\n-- trailing\n",
    "from users where(a == 1)and(b == 2)",
]


@pytest.mark.parametrize("text", LAYOUT)
def test_layout_is_free(text: str) -> None:
    assert crossql.parse(text) == Q(where=And(A1, B2))


def test_comment_marker_inside_string_and_name_is_text() -> None:
    assert where('note == "a -- b"') == cmp("note", "==", S("a -- b"))
    assert where("`a -- b` == 1") == ir.Compare("==", P("a -- b"), I(1))


# --- spans ------------------------------------------------------------------------------


def _text(source: str, node: object) -> str:
    span = node.span  # type: ignore[attr-defined]
    assert span is not None
    return source[span[0] : span[1]]


def test_spans_of_nodes() -> None:
    src = 'from users where age >= 18 and not name startswith "A" and size(tags) > 2'
    q = crossql.parse(src)
    assert _text(src, q) == src
    cond = q.where
    assert isinstance(cond, ir.And)
    assert _text(src, cond) == 'age >= 18 and not name startswith "A" and size(tags) > 2'
    age, not_name, size = cond.operands
    assert isinstance(age, ir.Compare)
    assert _text(src, age) == "age >= 18"
    assert age.span == (17, 26)
    assert _text(src, age.path) == "age"
    assert _text(src, age.value) == "18"
    assert isinstance(not_name, ir.Not)
    assert _text(src, not_name) == 'not name startswith "A"'
    assert _text(src, not_name.operand) == 'name startswith "A"'
    assert isinstance(not_name.operand, ir.StartsWith)
    assert _text(src, not_name.operand.value) == '"A"'
    assert isinstance(size, ir.Size)
    assert _text(src, size) == "size(tags) > 2"


def test_spans_of_values_and_paths() -> None:
    src = "from users where `first name`.x in [1, [2, 3]] or t between :lo and 'z'"
    cond = crossql.parse(src).where
    assert isinstance(cond, ir.Or)
    in_, between = cond.operands
    assert isinstance(in_, ir.In)
    assert _text(src, in_.path) == "`first name`.x"
    assert isinstance(in_.values, ir.ListValue)
    assert _text(src, in_.values) == "[1, [2, 3]]"
    assert _text(src, in_.values.items[1]) == "[2, 3]"
    assert isinstance(between, ir.Between)
    assert _text(src, between) == "t between :lo and 'z'"
    assert _text(src, between.low) == ":lo"
    assert _text(src, between.high) == "'z'"


def test_spans_of_clauses() -> None:
    src = ("from orders group by country select country, sum(total) as revenue "
           "order by revenue desc, country limit :n")
    q = crossql.parse(src)
    assert [_text(src, p) for p in q.group_by] == ["country"]
    assert [_text(src, i) for i in q.select] == ["country", "sum(total) as revenue"]
    agg_item = q.select[1].expr
    assert _text(src, agg_item) == "sum(total)"
    assert [_text(src, k) for k in q.order_by] == ["revenue desc", "country"]
    assert q.limit is not None
    assert _text(src, q.limit) == ":n"


def test_spans_of_exists_and_multiline() -> None:
    src = "from users\nwhere\n  exists(email)\n  and age > 1"
    cond = crossql.parse(src).where
    assert isinstance(cond, ir.And)
    assert _text(src, cond.operands[0]) == "exists(email)"
    assert _text(src, cond.operands[1]) == "age > 1"


def test_spans_cover_parentheses() -> None:
    # a parenthesised operand's span takes its parentheses, so spans stay balanced
    src = "from users where (a == 1 or b == 2) and not (c == 3)"
    cond = crossql.parse(src).where
    assert isinstance(cond, ir.And)
    assert _text(src, cond) == "(a == 1 or b == 2) and not (c == 3)"
    left, right = cond.operands
    assert _text(src, left) == "(a == 1 or b == 2)"
    assert isinstance(left, ir.Or)
    assert [_text(src, op) for op in left.operands] == ["a == 1", "b == 2"]
    assert _text(src, right) == "not (c == 3)"
    src = "from users where ((a == 1))"
    assert _text(src, crossql.parse(src).where) == "((a == 1))"


def test_spans_do_not_count_in_equality() -> None:
    assert ir.Path(("a",), (0, 1)) == ir.Path(("a",), (10, 11))
    assert hash(ir.Path(("a",), (0, 1))) == hash(ir.Path(("a",), None))
    assert crossql.parse("from users where a==1") == crossql.parse("from  users  where  a == 1")


def test_parse_keeps_the_source() -> None:
    src = "from users where a == 1"
    assert crossql.parse(src).source == src


def test_parse_rejects_non_text() -> None:
    with pytest.raises(TypeError):
        crossql.parse(b"from users")  # type: ignore[arg-type]
