"""Bad text → a located error, as tables: class, code, line, column and the offending text.

Every row also goes through the checks every error must pass: the message is in
words (no Lark terminal names), the position points at the offending token, the
rendering shows the source line with a caret underline, ``to_dict()`` is JSON and
the error survives pickling.
"""

from __future__ import annotations

import json
import pickle
import re
from datetime import datetime
from typing import Any, NamedTuple

import pytest

import crossql
from crossql import CapabilityError, QueryError, QuerySemanticError, QuerySyntaxError
from crossql.limits import MAX_CONDITION_DEPTH, MAX_LIST_ITEMS, MAX_QUERY_LENGTH

Syn = QuerySyntaxError
Sem = QuerySemanticError


class Case(NamedTuple):
    id: str
    text: str
    cls: type[QueryError]
    code: str
    line: int
    column: int
    snippet: str | None  # text[span[0]:span[1]]; None where it is too long to spell out
    params: dict[str, Any] | None = None
    message: str | None = None  # a regex the message must match


U = "from users where "

SYNTAX: list[Case] = [
    # unexpected token
    Case("misspelt clause", "from users wher", Syn, "syntax.unexpected-token", 1, 12, "wher",
         message="unexpected `wher`; expected .*`where`"),
    Case("operator twice", U + "age >= >= 1", Syn, "syntax.unexpected-token", 1, 25, ">=",
         message="expected a value"),
    Case("field compared with field", U + "a == b", Syn, "syntax.unexpected-token", 1, 23, "b"),
    Case("param as a name", U + ":p == 1", Syn, "syntax.unexpected-token", 1, 18, ":p"),
    Case("param inside a list", U + "a in [1, :x]", Syn, "syntax.unexpected-token", 1, 27, ":x"),
    Case("trailing comma in list", U + "a in [1,]", Syn, "syntax.unexpected-token", 1, 26, "]"),
    Case("stray close paren", U + "a == 1 )", Syn, "syntax.unexpected-token", 1, 25, ")"),
    Case("between without and", U + "a between 1 2", Syn, "syntax.unexpected-token", 1, 30, "2",
         message="expected `and`"),
    Case("not without in", U + "a not b", Syn, "syntax.unexpected-token", 1, 24, "b",
         message="expected `in`"),
    Case("contains any a scalar", U + "tags contains any 1", Syn, "syntax.unexpected-token",
         1, 36, "1"),
    Case("in a scalar", U + "a in 1", Syn, "syntax.unexpected-token", 1, 23, "1"),
    Case("float limit", "from users limit 1.5", Syn, "syntax.unexpected-token", 1, 18, "1.5",
         message="expected an integer or a parameter"),
    Case("order by an aggregate", "from users order by count()", Syn, "syntax.unexpected-token",
         1, 26, "("),
    Case("select star", "from users select a, b c", Syn, "syntax.unexpected-token", 1, 24, "c"),
    Case("no from", "users where a == 1", Syn, "syntax.unexpected-token", 1, 1, "users",
         message="expected `from`"),
    Case("collection a number", "from 1", Syn, "syntax.unexpected-token", 1, 6, "1"),
    Case("triple equals", U + "a === 1", Syn, "syntax.unexpected-token", 1, 22, "="),
    Case("desc twice", "from users order by a desc desc", Syn, "syntax.unexpected-token",
         1, 28, "desc"),
    # keyword used as a name
    Case("keyword as field", U + "select == 1", Syn, "syntax.unexpected-token", 1, 18, "select",
         message="unexpected `select`"),
    Case("keyword as collection", "from order", Syn, "syntax.unexpected-token", 1, 6, "order"),
    Case("keyword as alias", "from users select a as limit", Syn, "syntax.unexpected-token",
         1, 24, "limit"),
    Case("keyword in a path", U + "a.from == 1", Syn, "syntax.unexpected-token", 1, 20, "from"),
    Case("upper-case keyword as field", U + "NULL == 1", Syn, "syntax.unexpected-token",
         1, 18, "NULL"),
    # clause out of order or repeated
    Case("where after select", "from users select a where b == 1", Syn,
         "syntax.unexpected-token", 1, 21, "where"),
    Case("where after limit", "from users limit 1 where a == 1", Syn, "syntax.unexpected-token",
         1, 20, "where"),
    Case("offset before limit", "from users offset 1 limit 2", Syn, "syntax.unexpected-token",
         1, 21, "limit"),
    Case("group by after order by", "from users order by a group by a", Syn,
         "syntax.unexpected-token", 1, 23, "group"),
    Case("where twice", U + "a == 1 where b == 2", Syn, "syntax.unexpected-token", 1, 25,
         "where"),
    Case("limit twice", "from users limit 1 limit 2", Syn, "syntax.unexpected-token", 1, 20,
         "limit"),
    # unexpected character
    Case("at sign", U + "age @ 1", Syn, "syntax.unexpected-character", 1, 22, "@",
         message="unexpected character `@`"),
    Case("double ampersand", U + "a == 1 && b == 2", Syn, "syntax.unexpected-character",
         1, 25, "&"),
    Case("bang", U + "a == !1", Syn, "syntax.unexpected-character", 1, 23, "!"),
    Case("bare colon", U + "a == :", Syn, "syntax.unexpected-character", 1, 23, ":"),
    Case("colon digit", U + "a == :1", Syn, "syntax.unexpected-character", 1, 23, ":"),
    Case("star", "from users select count(*)", Syn, "syntax.unexpected-character", 1, 25, "*"),
    Case("non-ascii name", U + "é == 1", Syn, "syntax.unexpected-character", 1, 18, "é"),
    Case("leading dot number", U + "a == .5", Syn, "syntax.unexpected-token", 1, 23, "."),
    # unterminated
    Case("unterminated double-quoted string", U + 'name == "abc', Syn,
         "syntax.unterminated-string", 1, 26, '"abc', message="unterminated string"),
    Case("unterminated single-quoted string", U + "name == 'abc and b == 1", Syn,
         "syntax.unterminated-string", 1, 26, "'abc and b == 1"),
    Case("string ending in an escaped quote", U + 'name == "abc\\"', Syn,
         "syntax.unterminated-string", 1, 26, '"abc\\"'),
    Case("unterminated backtick name", U + "`first name == 1", Syn,
         "syntax.unterminated-name", 1, 18, "`first name == 1",
         message="unterminated backticked name"),
    # unexpected end
    Case("ends after where", "from users where", Syn, "syntax.unexpected-end", 1, 16, "e",
         message="the query ends too early"),
    Case("ends after operator", U + "age >=", Syn, "syntax.unexpected-end", 1, 23, "="),
    Case("ends after and", U + "a == 1 and", Syn, "syntax.unexpected-end", 1, 27, "d"),
    Case("ends in a paren", U + "(a == 1", Syn, "syntax.unexpected-end", 1, 24, "1",
         message="expected `\\)`"),
    Case("ends after comma", "from users select a,", Syn, "syntax.unexpected-end", 1, 20, ","),
    Case("ends after limit", "from users limit", Syn, "syntax.unexpected-end", 1, 16, "t"),
    Case("ends after a comment", U + "-- nothing here", Syn, "syntax.unexpected-end", 1, 16,
         "e"),
    Case("empty query", "", Syn, "syntax.unexpected-end", 1, 1, "",
         message="expected `from`"),
    Case("only a comment", "-- nothing", Syn, "syntax.unexpected-end", 1, 1, ""),
    Case("only whitespace", " \n\t ", Syn, "syntax.unexpected-end", 1, 1, ""),
    # literals
    Case("int64 max + 1", U + "a == 9223372036854775808", Syn, "syntax.integer-out-of-range",
         1, 23, "9223372036854775808", message="out of the 64-bit range"),
    Case("int64 min - 1", U + "a == -9223372036854775809", Syn, "syntax.integer-out-of-range",
         1, 23, "-9223372036854775809"),
    Case("huge limit", "from users limit 99999999999999999999", Syn,
         "syntax.integer-out-of-range", 1, 18, "99999999999999999999"),
    Case("float out of range", U + "a == 1e400", Syn, "syntax.float-out-of-range", 1, 23,
         "1e400"),
    Case("bad escape", U + 'a == "x\\qy"', Syn, "syntax.invalid-literal", 1, 25, "\\q",
         message="unknown escape"),
    Case("bad escape \\r", U + "a == 'x\\r'", Syn, "syntax.invalid-literal", 1, 25, "\\r"),
    Case("short \\u escape", U + 'a == "\\u12"', Syn, "syntax.invalid-literal", 1, 24, "\\u",
         message="four hex digits"),
    Case("lone high surrogate", U + 'a == "\\ud800"', Syn, "syntax.invalid-literal", 1, 23,
         '"\\ud800"', message="surrogate"),
    Case("lone low surrogate", U + 'a == "x\\uDC00"', Syn, "syntax.invalid-literal", 1, 23,
         '"x\\uDC00"'),
    Case("surrogates in the wrong order", U + 'a == "\\ude00\\ud83d"', Syn,
         "syntax.invalid-literal", 1, 23, '"\\ude00\\ud83d"'),
    Case("empty backtick name", U + "`` == 1", Syn, "syntax.empty-name", 1, 18, "``"),
    Case("empty backtick alias", "from users select a as ``", Syn, "syntax.empty-name", 1, 24,
         "``"),
    # functions
    Case("unknown function in where", U + "foo(x)", Syn, "syntax.unknown-function", 1, 18,
         "foo(x)", message="`foo\\(\\.\\.\\.\\)` is not a condition"),
    Case("unknown function compared", U + "len(x) > 1", Syn, "syntax.unknown-function", 1, 18,
         "len(x)"),
    Case("unknown function in select", "from users select upper(name)", Syn,
         "syntax.unknown-function", 1, 19, "upper(name)", message="unknown function `upper`"),
    Case("exists compared", U + "exists(x) == true", Syn, "syntax.unknown-function", 1, 18,
         "exists(x)"),
    Case("size not compared", U + "size(tags)", Syn, "syntax.unknown-function", 1, 18,
         "size(tags)"),
    Case("exists without path", U + "exists()", Syn, "syntax.missing-argument", 1, 18,
         "exists()"),
    Case("size without path", U + "size() > 1", Syn, "syntax.missing-argument", 1, 18,
         "size()"),
    # limits
    Case("too long", "from users where a in [" + "1," * (MAX_QUERY_LENGTH // 2) + "1]", Syn,
         "syntax.too-long", 1, MAX_QUERY_LENGTH + 1, None, message="characters long"),
    Case("not nested too deep", U + "not " * MAX_CONDITION_DEPTH + "a == 1", Syn,
         "syntax.too-deep", 1, 18, None, message="nests more than 64 levels"),
    Case("parens nested too deep", U + "not (a == 1 and " * 40 + "b == 2" + ")" * 40, Syn,
         "syntax.too-deep", 1, 18 + 16 * 8, None),
    Case("parens too deep", U + "(" * 1000 + "a == 1" + ")" * 1000, Syn, "syntax.too-deep",
         1, 18 + MAX_CONDITION_DEPTH, "(", message="parentheses nest more than 64 deep"),
    Case("list nested too deep", U + "a == " + "[" * 9 + "]" * 9, Syn, "syntax.too-deep",
         1, 23, "[" * 9 + "]" * 9, message="lists nest 9 deep"),
    # positions past line 1
    Case("line 2 unexpected token", "from users\nwhere age >> 1", Syn,
         "syntax.unexpected-token", 2, 12, ">"),
    Case("line 3 bad character", "from users\nwhere a == 1\n  and b # 2", Syn,
         "syntax.unexpected-character", 3, 9, "#"),
    Case("line 2 unterminated string", "from users\n  where name == 'x\n  limit 1", Syn,
         "syntax.unterminated-string", 2, 17, "'x\n  limit 1"),
    Case("line 4 keyword as name", "from users\nwhere\n  a == 1 and\n  limit == 2", Syn,
         "syntax.unexpected-token", 4, 3, "limit"),
    Case("line 2 after CRLF", "from users\r\nwhere a = = 1", Syn, "syntax.unexpected-token",
         2, 11, "="),
    Case("line 3 ends early", "from users\nwhere\n  a ==  -- value goes here\n", Syn,
         "syntax.unexpected-end", 3, 6, "="),
    Case("line 2 bad escape", "from users\nwhere a == '\\x41'", Syn, "syntax.invalid-literal",
         2, 13, "\\x"),
    Case("line 2 tab before", "from users\n\twhere a @ 1", Syn, "syntax.unexpected-character",
         2, 10, "@"),
]

P = {"min": 18}

SEMANTIC: list[Case] = [
    # ordering comparisons with a literal that cannot be ordered
    Case("less than true", U + "age < true", Sem, "semantic.unorderable-literal", 1, 24, "true",
         message="^`<` compares only numbers or strings, not a bool \\(`true`\\)$"),
    Case("less than null", U + "age < null", Sem, "semantic.unorderable-literal", 1, 24, "null",
         message="^`<` compares only numbers or strings, not null$"),
    Case("greater than false", U + "age >= false", Sem, "semantic.unorderable-literal", 1, 25,
         "false"),
    Case("less than a list", U + "age < [1]", Sem, "semantic.type-mismatch", 1, 24, "[1]"),
    Case("between null", U + "age between null and 3", Sem, "semantic.unorderable-literal",
         1, 30, "null"),
    Case("between true", U + "age between 1 and true", Sem, "semantic.unorderable-literal",
         1, 36, "true"),
    Case("between a list", U + "age between [1] and 3", Sem, "semantic.type-mismatch", 1, 30,
         "[1]"),
    Case("between mixed bounds", U + 'age between 1 and "z"', Sem, "semantic.type-mismatch",
         1, 18, 'age between 1 and "z"', message="both be numbers or both be strings"),
    Case("between mixed bound params", U + "age between :lo and :hi", Sem,
         "semantic.type-mismatch", 1, 18, "age between :lo and :hi",
         params={"lo": 1, "hi": "z"}),
    # string predicates
    Case("startswith a number", U + "name startswith 1", Sem, "semantic.type-mismatch", 1, 34,
         "1", message="`startswith` takes a string"),
    Case("startswith null", U + "name startswith null", Sem, "semantic.type-mismatch", 1, 34,
         "null"),
    Case("startswith a list", U + 'name startswith ["a"]', Sem, "semantic.type-mismatch",
         1, 34, '["a"]'),
    Case("matches a bool", U + "name matches true", Sem, "semantic.type-mismatch", 1, 31,
         "true"),
    Case("invalid regex", U + 'name matches "(ab"', Sem, "semantic.invalid-regex", 1, 31,
         '"(ab"', message="invalid regular expression"),
    Case("invalid regex repeat", U + 'name matches "*a"', Sem, "semantic.invalid-regex", 1, 31,
         '"*a"'),
    Case("regex repeat too large", U + 'name matches "a{4294967296}"', Sem,
         "semantic.invalid-regex", 1, 31, '"a{4294967296}"'),
    Case("regex nested too deep", U + 'name matches "' + "(" * 2000 + ")" * 2000 + '"', Sem,
         "semantic.invalid-regex", 1, 31, None),
    Case("regex too long", U + 'name matches "' + "a" * 4097 + '"', Sem,
         "semantic.pattern-too-long", 1, 31, None, message="limit is 4096"),
    Case("regex that backtracks", U + 'name matches "(a+)+b"', Sem, "semantic.unsafe-regex",
         1, 31, '"(a+)+b"', message="exponentially many"),
    Case("invalid regex param", U + "name matches :re", Sem, "semantic.invalid-regex", 1, 31,
         ":re", params={"re": "[z-a]"}),
    # size
    Case("size with a float", U + "size(tags) > 1.5", Sem, "semantic.type-mismatch", 1, 31,
         "1.5", message="compares with an integer"),
    Case("size with a string", U + 'size(tags) == "2"', Sem, "semantic.type-mismatch", 1, 32,
         '"2"'),
    Case("size with null", U + "size(tags) == null", Sem, "semantic.type-mismatch", 1, 32,
         "null"),
    Case("size with a float param", U + "size(tags) >= :n", Sem, "semantic.invalid-parameter",
         1, 32, ":n", params={"n": 2.0}),
    # aggregates and grouping
    Case("mixed aggregate without group by", "from orders select country, count()", Sem,
         "semantic.mixed-aggregate", 1, 20, "country",
         message="`country` is neither grouped nor aggregated"),
    Case("mixed aggregate after the aggregate", "from orders select sum(total), country", Sem,
         "semantic.mixed-aggregate", 1, 32, "country"),
    Case("non-grouped field in grouped select", "from orders group by country select city",
         Sem, "semantic.mixed-aggregate", 1, 37, "city"),
    Case("non-grouped sub-path", "from orders group by address select address.city", Sem,
         "semantic.mixed-aggregate", 1, 37, "address.city"),
    Case("aggregate needs a path", "from orders select sum()", Sem, "semantic.missing-argument",
         1, 20, "sum()"),
    Case("group key twice", "from orders group by country, country", Sem,
         "semantic.duplicate-group-key", 1, 31, "country"),
    Case("unknown alias in order by", "from orders group by country select country, count() "
         "as n order by total desc", Sem, "semantic.unknown-alias", 1, 68, "total",
         message="`total` is not an output"),
    Case("order by a non-key in grouped query", "from orders group by country order by city",
         Sem, "semantic.unknown-alias", 1, 39, "city"),
    Case("order by an unaliased aggregate field", "from orders select count() order by n",
         Sem, "semantic.unknown-alias", 1, 37, "n"),
    # select outputs
    Case("duplicate alias", "from users select name as x, age as x", Sem,
         "semantic.duplicate-alias", 1, 30, "age as x", message="two select items are named"),
    Case("alias equals a path", "from users select name, age as name", Sem,
         "semantic.duplicate-alias", 1, 25, "age as name"),
    Case("same aggregate twice", "from orders select count(), count()", Sem,
         "semantic.duplicate-alias", 1, 29, "count()"),
    Case("same path twice", "from users select name, name", Sem, "semantic.duplicate-alias",
         1, 25, "name"),
    Case("conflicting output paths", "from users select a, a.b", Sem,
         "semantic.conflicting-output", 1, 22, "a.b", message="`a.b` overlaps `a`"),
    Case("conflicting output paths reversed", "from users select a.b.c, x, a", Sem,
         "semantic.conflicting-output", 1, 29, "a", message="`a` overlaps `a.b.c`"),
    Case("alias over a path", "from users select address.city, age as address", Sem,
         "semantic.conflicting-output", 1, 33, "age as address"),
    # limit and offset
    Case("negative limit", "from users limit -1", Sem, "semantic.invalid-limit", 1, 18, "-1",
         message="`limit` takes a non-negative integer"),
    Case("negative offset", "from users offset -5", Sem, "semantic.invalid-limit", 1, 19, "-5"),
    Case("negative limit param", "from users limit :n", Sem, "semantic.invalid-parameter",
         1, 18, ":n", params={"n": -1}),
    Case("float limit param", "from users limit :n", Sem, "semantic.invalid-parameter", 1, 18,
         ":n", params={"n": 10.0}),
    Case("bool offset param", "from users offset :n", Sem, "semantic.invalid-parameter", 1, 19,
         ":n", params={"n": True}),
    # parameters
    Case("unbound parameter", U + "age >= :min", Sem, "semantic.unbound-parameter", 1, 25,
         ":min", message="parameter `:min` is not bound"),
    Case("one of two unbound", U + "age >= :min and name == :name", Sem,
         "semantic.unbound-parameter", 1, 42, ":name", params=P),
    Case("unused parameter", U + "age >= 18", Sem, "semantic.unused-parameter", 1, 1,
         "from users where age >= 18", params=P, message="unused parameter `:min`"),
    Case("unused parameters", U + "age >= :min", Sem, "semantic.unused-parameter", 1, 1, None,
         params={"min": 1, "max": 2, "x": 3}, message="unused parameters `:max`, `:x`"),
    Case("param bound to a dict", U + "age == :min", Sem, "semantic.invalid-parameter", 1, 25,
         ":min", params={"min": {"$gt": 1}}, message="bound to a dict"),
    Case("param list holding a dict", U + "age in :ages", Sem, "semantic.invalid-parameter",
         1, 25, ":ages", params={"ages": [1, {"$ne": 2}]}),
    Case("param bound to NaN", U + "score > :s", Sem, "semantic.invalid-parameter", 1, 26, ":s",
         params={"s": float("nan")}, message="not a finite number"),
    Case("param bound to infinity", U + "score == :s", Sem, "semantic.invalid-parameter", 1, 27,
         ":s", params={"s": float("-inf")}),
    # bytes and a set filling a list are values since issue 16; a naive datetime is not
    Case("param bound to a naive datetime", U + "name == :n", Sem,
         "semantic.invalid-parameter", 1, 26, ":n", params={"n": datetime(2026, 1, 2)}),
    Case("param bound to a set", U + "name == :n", Sem, "semantic.invalid-parameter", 1, 26,
         ":n", params={"n": {1, 2}}),
    Case("timestamp without a timezone", U + 'at > timestamp "2026-01-02"', Syn,
         "syntax.invalid-timestamp", 1, 33, '"2026-01-02"'),
    Case("timestamp that is no date", U + "at > timestamp 'soon'", Syn,
         "syntax.invalid-timestamp", 1, 33, "'soon'"),
    Case("param int out of range", U + "a == :n", Sem, "semantic.invalid-parameter", 1, 23,
         ":n", params={"n": 2**63}),
    Case("param lone surrogate", U + "a == :n", Sem, "semantic.invalid-parameter", 1, 23,
         ":n", params={"n": "\ud800"}),
    Case("param bool in ordering", U + "age < :x", Sem, "semantic.invalid-parameter", 1, 24,
         ":x", params={"x": True}, message="needs a number or a string"),
    Case("param null in ordering", U + "age < :x", Sem, "semantic.invalid-parameter", 1, 24,
         ":x", params={"x": None}),
    Case("param scalar for in", U + "status in :s", Sem, "semantic.invalid-parameter", 1, 28,
         ":s", params={"s": "active"}, message="needs a list"),
    Case("param scalar for contains any", U + "tags contains any :t", Sem,
         "semantic.invalid-parameter", 1, 36, ":t", params={"t": "vip"}),
    Case("param int for startswith", U + "name startswith :p", Sem,
         "semantic.invalid-parameter", 1, 34, ":p", params={"p": 1}),
    Case("param used twice, wrong for one", U + "a < :x and b startswith :x", Sem,
         "semantic.invalid-parameter", 1, 42, ":x", params={"x": 1}),
    # lists
    Case("list too long", U + "a in [" + "1," * MAX_LIST_ITEMS + "1]", Sem,
         "semantic.list-too-long", 1, 23, None, message="the list has 10001 items"),
    Case("nested list too long", U + "a in [[" + "1," * MAX_LIST_ITEMS + "1]]", Sem,
         "semantic.list-too-long", 1, 24, None),
    Case("list param too long", U + "a in :xs", Sem, "semantic.list-too-long", 1, 23, ":xs",
         params={"xs": list(range(MAX_LIST_ITEMS + 1))}),
    # positions past line 1
    Case("line 3 semantic", "from users\nwhere a == 1\n  and age < true", Sem,
         "semantic.unorderable-literal", 3, 13, "true"),
    Case("line 2 unbound", "from users\n  where age >= :min", Sem, "semantic.unbound-parameter",
         2, 16, ":min"),
    Case("line 5 unknown alias", "from orders\ngroup by country\nselect country,\n"
         "  count() as n\norder by m", Sem, "semantic.unknown-alias", 5, 10, "m"),
]

CASES = SYNTAX + SEMANTIC

# Lark's own vocabulary must never reach a user
_TERMINAL_WORDS = re.compile(
    r"\$END|__ANON|\b_?(NAME|QUOTED_NAME|PARAM|STRING|INT|FLOAT|COMPARE|LPAR|RPAR|LSQB|RSQB|"
    r"COMMA|DOT|_WHERE|_SELECT|_AND|_OR|_IN)\b|Token\(|UnexpectedToken|UnexpectedCharacters"
)


def _raise(case: Case) -> QueryError:
    with pytest.raises(QueryError) as info:
        crossql.compile(case.text, params=case.params)
    return info.value


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_error(case: Case) -> None:
    err = _raise(case)
    assert type(err) is case.cls, err.render()
    assert err.code == case.code, err.render()
    assert (err.line, err.column) == (case.line, case.column), err.render()
    start, end = err.span
    assert 0 <= start <= end <= len(case.text)
    if case.snippet is not None:
        assert case.text[start:end] == case.snippet, err.render()
    if case.message is not None:
        assert re.search(case.message, err.message), err.message


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_error_is_well_formed(case: Case) -> None:
    err = _raise(case)
    # in words: no terminal names (unless the user typed them)
    for found in _TERMINAL_WORDS.finditer(err.message):
        assert found.group(0) in case.text, err.message
    if err.hint is not None:
        assert not _TERMINAL_WORDS.search(err.hint), err.hint
    assert isinstance(err, ValueError)
    assert err.message[0].islower() or err.message[0] in "`\\"
    # line and column are those of the span's start
    before = case.text[: err.span[0]]
    assert err.line == before.count("\n") + 1
    assert err.column == err.span[0] - (before.rfind("\n") + 1) + 1
    # str() is the rendering
    assert str(err) == err.render()
    # JSON for tools
    data = err.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["error"] == type(err).__name__
    assert (data["code"], data["line"], data["column"]) == (err.code, err.line, err.column)
    assert data["span"] == list(err.span)
    assert data["message"] == err.message
    assert data["hint"] == err.hint
    # picklable, and equal once unpickled
    again = pickle.loads(pickle.dumps(err))
    assert type(again) is type(err)
    assert again.to_dict() == err.to_dict()
    assert str(again) == str(err)


def _frame(err: QueryError, text: str) -> tuple[list[str], str, str, int]:
    """The frame's lines, the source line, the underline, and the column (0-based) in
    the underline where the source line's first character would be (negative when a
    long line is shown cut, from ``…`` on)."""
    lines = err.render().split("\n")
    gutter = " " * len(str(err.line))
    assert lines[0] == f"crossql.{type(err).__name__}: {err.message}"
    assert lines[1] == f"{gutter} --> query:{err.line}:{err.column}"
    assert lines[2] == f"{gutter}  |"
    source_line = text.split("\n")[err.line - 1]
    shown = lines[3].removeprefix(f" {err.line} | ")
    shift = 0
    if len(source_line) <= crossql.errors.FRAME_WIDTH:
        assert shown == source_line
    else:  # a window of the line, `…` where it is cut
        assert len(shown) <= crossql.errors.FRAME_WIDTH + 2
        body = shown.removeprefix("…").removesuffix("…")
        start = max(0, err.column - 1 - crossql.errors._CONTEXT)
        assert source_line[start:start + len(body)] == body
        assert (start > 0) == shown.startswith("…")
        assert (start + len(body) < len(source_line)) == shown.endswith("…")
        shift = start - (1 if start > 0 else 0)
    prefix = f"{gutter}  | "
    assert lines[4].startswith(prefix)
    return lines, source_line, lines[4][len(prefix) :], shift


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_rendering_underlines_the_span(case: Case) -> None:
    err = _raise(case)
    lines, _, underline, shift = _frame(err, case.text)
    col = err.column - 1 - shift
    assert underline[:col].strip() == "", underline
    carets = underline[col:].split(" ")[0]
    assert carets and set(carets) == {"^"}, underline
    # the underline covers the span on its first line (at least one caret)
    start, end = err.span
    line_end = case.text.find("\n", start)
    visible_end = end if line_end == -1 else min(end, line_end)
    assert len(carets) == min(max(1, visible_end - start), crossql.errors.FRAME_WIDTH -
                              2 * crossql.errors._CONTEXT), underline
    # the hint, when there is one, comes last
    if err.hint is not None:
        assert lines[-1].endswith(f"= hint: {err.hint}")
        assert len(lines) == 6
    else:
        assert len(lines) == 5


def test_rendering_matches_the_contract_example() -> None:
    text = "from cities where capital != false"
    err = CapabilityError(
        "firestore cannot evaluate `!=`", backend="firestore", construct="!=",
        code="capability.firestore", span=(18, 34), source=text,
        hint="enable native `!=` with FirestoreOptions(native_not_equal=True)",
    )
    assert err.render() == "\n".join([
        "crossql.CapabilityError: firestore cannot evaluate `!=`",
        "  --> query:1:19",
        "   |",
        " 1 | from cities where capital != false",
        "   |                   ^^^^^^^^^^^^^^^^ not supported by this backend",
        "   = hint: enable native `!=` with FirestoreOptions(native_not_equal=True)",
    ])
    data = err.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert (data["backend"], data["construct"]) == ("firestore", "!=")
    again = pickle.loads(pickle.dumps(err))
    assert isinstance(again, CapabilityError)
    assert (again.backend, again.construct, str(again)) == ("firestore", "!=", str(err))


def test_depth_limits_are_inclusive() -> None:
    # a predicate is one level, each `not` / `and` / `or` one more
    crossql.compile(U + "not " * (MAX_CONDITION_DEPTH - 1) + "a == 1")
    crossql.compile(U + "a == " + "[" * 8 + "]" * 8)
    crossql.compile(U + "a in [" + "1," * (MAX_LIST_ITEMS - 1) + "1]")
    # parentheses count too, even redundant ones that build no node (issue #15, item 7)
    crossql.compile(U + "(" * MAX_CONDITION_DEPTH + "a == 1" + ")" * MAX_CONDITION_DEPTH)


def test_hierarchy() -> None:
    for cls in (QuerySyntaxError, QuerySemanticError, CapabilityError):
        assert issubclass(cls, QueryError)
    assert issubclass(QueryError, ValueError)


def test_syntax_errors_come_from_parse_and_semantic_ones_from_compile() -> None:
    with pytest.raises(QuerySyntaxError):
        crossql.parse("from users where")
    # a semantic error parses fine; compile and evaluate refuse it
    q = crossql.parse("from users where age < true")
    with pytest.raises(QuerySemanticError):
        crossql.compile(q)
    with pytest.raises(QuerySemanticError):
        crossql.evaluate(q, [])


def test_error_on_a_parsed_query_keeps_the_source_frame() -> None:
    text = "from users\nwhere name startswith 3"
    with pytest.raises(QuerySemanticError) as info:
        crossql.compile(crossql.parse(text))
    assert (info.value.line, info.value.column) == (2, 23)
    assert " 2 | where name startswith 3" in info.value.render()


def test_hints() -> None:
    def hint(text: str, params: dict[str, Any] | None = None) -> str:
        with pytest.raises(QueryError) as info:
            crossql.compile(text, params=params)
        assert info.value.hint is not None, info.value.render()
        return info.value.hint

    assert "backticks" in hint(U + "select == 1")
    assert "from, where, group by, select, order by, limit, offset" in hint(
        "from users select a where b == 1")
    assert "`and`" in hint(U + "a == 1 && b == 2")
    assert "`or`" in hint(U + "a == 1 || b == 2")
    assert "`!=`" in hint(U + "a ! 1")
    assert "close the string" in hint(U + "a == 'x")
    assert "group by" in hint("from orders select country, count()")
    assert "p == null" in hint(U + "age < null")
    assert "as" in hint("from users select name as x, age as x")
    assert "a query starts with `from" in hint("")
    assert "order by one of: country, n" in hint(
        "from orders group by country select country, count() as n order by total")


@pytest.mark.parametrize("before, after", [(0, 5000), (5000, 0), (5000, 5000), (30, 30)])
def test_a_frame_shows_a_window_of_a_long_line_with_the_caret_in_place(before: int,
                                                                        after: int) -> None:
    head = "from users where " + " and ".join(f"a{i} == {i}" for i in range(before // 10))
    head += " and " if before else ""
    tail = "".join(" and z == 1" for _ in range(after // 11))
    text = head + "foo === 1" + tail
    with pytest.raises(crossql.QuerySyntaxError) as info:
        crossql.parse(text)
    err = info.value
    lines = err.render().split("\n")
    source_line = next(line for line in lines if line.startswith(" 1 | "))[5:]
    underline = lines[lines.index(" 1 | " + source_line) + 1][5:]
    assert len(source_line) <= crossql.errors.FRAME_WIDTH + 2
    caret = underline.index("^")
    offset = err.span[0]
    assert source_line[caret] == text[offset] == "="
    assert source_line.startswith("…") == (len(text) > crossql.errors.FRAME_WIDTH and
                                           offset > crossql.errors._CONTEXT)
    assert len(err.render()) < 700
