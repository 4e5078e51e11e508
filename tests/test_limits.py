"""The documented limits (docs/limits.md, crossql/limits.py): each one just inside is
accepted, just past is a clear ``QueryError``; and each known way for input to cost
unbounded time or stack (deep nesting, shared or cyclic values, huge strings and
patterns, many names) is shown to stay within a time bound.

The timed tests assert on the best of two runs, so a busy machine does not fail them;
each bound is far above what the code takes (see the comment at each) and far below
what the unguarded code took.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

import crossql
from crossql import ir, limits
from crossql.backends.dynamodb import expressions as dynamo_expressions
from crossql.backends.registry import backend_names
from crossql.limits import (
    MAX_CONDITION_DEPTH,
    MAX_LIST_DEPTH,
    MAX_LIST_ITEMS,
    MAX_PARAMETERS,
    MAX_PATTERN_LENGTH,
    MAX_QUERY_LENGTH,
    MAX_STRING_LENGTH,
    MAX_VALUE_ITEMS,
)
from tests.budget import examples
from tests.strategies import bound_lists_near_limits
from tests.time_budget import assert_fast

BACKENDS = list(backend_names())


def error_of(text: str, params: dict[str, Any] | None = None,
             backend: str = "memory") -> crossql.QueryError:
    with pytest.raises(crossql.QueryError) as info:
        crossql.compile(text, backend=backend, params=params)
    return info.value


def fast(call: Callable[[], Any], budget: float, what: object = "") -> None:
    """``call`` keeps to ``budget`` seconds on an idle machine, scaled by a baseline timed
    in the same run (a QueryError is an outcome): ``tests/time_budget.py``."""
    assert_fast(call, budget, what)


# --- each limit: just inside, just past -------------------------------------------------


def nested_list(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


LIMIT_CASES: list[tuple[str, str, dict[str, Any] | None, str, dict[str, Any] | None, str]] = [
    # name, text inside, params inside, text past, params past, code past
    ("query length", "from c" + " " * (MAX_QUERY_LENGTH - 6), None,
     "from c" + " " * (MAX_QUERY_LENGTH - 5), None, "syntax.too-long"),
    ("condition depth", "from c where " + "not " * (MAX_CONDITION_DEPTH - 1) + "a == 1", None,
     "from c where " + "not " * MAX_CONDITION_DEPTH + "a == 1", None, "syntax.too-deep"),
    ("parenthesis depth", "from c where " + "(" * MAX_CONDITION_DEPTH + "a == 1"
     + ")" * MAX_CONDITION_DEPTH, None, "from c where " + "(" * (MAX_CONDITION_DEPTH + 1)
     + "a == 1" + ")" * (MAX_CONDITION_DEPTH + 1), None, "syntax.too-deep"),
    ("parentheses and not", "from c where " + "not (" * (MAX_CONDITION_DEPTH - 1) + "a == 1"
     + ")" * (MAX_CONDITION_DEPTH - 1), None, "from c where " + "(not " * MAX_CONDITION_DEPTH
     + "a == 1" + ")" * MAX_CONDITION_DEPTH, None, "syntax.too-deep"),
    ("list items (literal)", "from c where a in [" + ",".join(["1"] * MAX_LIST_ITEMS) + "]",
     None, "from c where a in [" + ",".join(["1"] * (MAX_LIST_ITEMS + 1)) + "]", None,
     "semantic.list-too-long"),
    ("list depth (literal)", "from c where a == " + "[" * MAX_LIST_DEPTH + "]" * MAX_LIST_DEPTH,
     None, "from c where a == " + "[" * (MAX_LIST_DEPTH + 1) + "]" * (MAX_LIST_DEPTH + 1),
     None, "syntax.too-deep"),
    ("parameters", "from c where " + " or ".join(f"a == :p{i}" for i in range(MAX_PARAMETERS)),
     {f"p{i}": i for i in range(MAX_PARAMETERS)},
     "from c where " + " or ".join(f"a == :p{i}" for i in range(MAX_PARAMETERS + 1)),
     {f"p{i}": i for i in range(MAX_PARAMETERS + 1)}, "semantic.too-many-parameters"),
    ("list items (bound)", "from c where a in :p", {"p": list(range(MAX_LIST_ITEMS))},
     "from c where a in :p", {"p": list(range(MAX_LIST_ITEMS + 1))}, "semantic.list-too-long"),
    ("list depth (bound)", "from c where a == :p", {"p": nested_list(MAX_LIST_DEPTH)},
     "from c where a == :p", {"p": nested_list(MAX_LIST_DEPTH + 1)},
     "semantic.invalid-parameter"),
    ("items in a bound value", "from c where a == :p",
     {"p": [[1] * 1_000] * (MAX_VALUE_ITEMS // 1_000 - 1)},
     "from c where a == :p", {"p": [[1] * 1_000] * (MAX_VALUE_ITEMS // 1_000)},
     "semantic.value-too-large"),
    ("string length (bound)", "from c where a == :p", {"p": "x" * MAX_STRING_LENGTH},
     "from c where a == :p", {"p": "x" * (MAX_STRING_LENGTH + 1)}, "semantic.value-too-large"),
    ("text in a bound list", "from c where a in :p", {"p": ["x" * 1_000] * 1_000},
     "from c where a in :p", {"p": ["x" * 1_000] * 1_000 + ["x"]},
     "semantic.value-too-large"),
    ("pattern length (literal)", f"from c where a matches '{'a' * MAX_PATTERN_LENGTH}'", None,
     f"from c where a matches '{'a' * (MAX_PATTERN_LENGTH + 1)}'", None,
     "semantic.pattern-too-long"),
    ("pattern length (bound)", "from c where a matches :p", {"p": "a" * MAX_PATTERN_LENGTH},
     "from c where a matches :p", {"p": "a" * (MAX_PATTERN_LENGTH + 1)},
     "semantic.pattern-too-long"),
]


@pytest.mark.parametrize(("text", "params", "past", "past_params", "code"),
                         [c[1:] for c in LIMIT_CASES], ids=[c[0] for c in LIMIT_CASES])
def test_limit_just_inside_and_just_past(text: str, params: dict[str, Any] | None, past: str,
                                         past_params: dict[str, Any] | None, code: str) -> None:
    assert isinstance(crossql.compile(text, params=params), crossql.Plan)
    err = error_of(past, past_params)
    assert err.code == code, err
    # the message says what the limit is, in words and numbers
    assert "limit" in err.message or "more than" in err.message or "deeper" in err.message, err
    assert f"--> query:{err.line}:{err.column}" in err.render()
    assert len(err.message) < 200  # the message never repeats the offending input


def test_every_limit_is_documented() -> None:
    """docs/limits.md names every constant of crossql/limits.py with its value."""
    from pathlib import Path

    doc = (Path(__file__).parents[1] / "docs" / "limits.md").read_text(encoding="utf-8")
    names = [n for n in dir(limits) if n.startswith("MAX_")]
    assert len(names) >= 8
    for name in names:
        value = getattr(limits, name)
        assert f"`{name}`" in doc, name
        assert f"{value:,}" in doc, (name, value)


def test_the_limits_are_the_same_on_every_backend() -> None:
    past = "from c where a in :p"
    for backend in BACKENDS:
        err = error_of(past, {"p": ["x"] * (MAX_LIST_ITEMS + 1)}, backend=backend)
        assert err.code == "semantic.list-too-long", backend
        err = error_of("from c where a == :p", {"p": "x" * (MAX_STRING_LENGTH + 1)},
                       backend=backend)
        assert err.code == "semantic.value-too-large", backend


# --- bounded time: one test per risk ---------------------------------------------------------


def test_a_huge_regex_parameter_is_refused_at_once() -> None:
    # before the length limit, re.compile took ~1.3 s on a million characters
    pattern = "a" * 1_000_000
    fast(lambda: crossql.compile("from c where s matches :p", params={"p": pattern}), 0.05)
    assert error_of("from c where s matches :p", {"p": pattern}).code == \
        "semantic.pattern-too-long"


def test_a_megabyte_string_parameter_binds_in_linear_time() -> None:
    # ~5 ms: one surrogate scan and one copy
    for text in ("x" * MAX_STRING_LENGTH, "é" * MAX_STRING_LENGTH):
        for backend in BACKENDS:
            query = "from c where s == :p"
            fast(lambda q=query, b=backend, t=text: crossql.compile(
                q, backend=b, params={"p": t}), 0.5, backend)


def test_shared_and_cyclic_lists_cost_at_most_the_item_budget() -> None:
    # 10,000 references to one list of 10,000: 10^8 items if walked; refused after 10^5
    inner = list(range(MAX_LIST_ITEMS))
    shared = [inner] * MAX_LIST_ITEMS
    cyclic: list[Any] = []
    cyclic.append(cyclic)
    wide_cycle: list[Any] = [0] * 100
    wide_cycle.append(wide_cycle)
    for value, code in ((shared, "semantic.value-too-large"),
                        (cyclic, "semantic.invalid-parameter"),
                        (wide_cycle, "semantic.invalid-parameter")):
        assert error_of("from c where a == :p", {"p": value}).code == code
        fast(lambda v=value: crossql.compile("from c where a == :p", params={"p": v}), 0.5)


def test_a_very_deep_parameter_raises_no_recursion_error() -> None:
    deep: list[Any] = []
    cursor = deep
    for _ in range(200_000):  # far past the interpreter's recursion limit
        cursor.append([])
        cursor = cursor[0]
    err = error_of("from c where a == :p", {"p": deep})
    assert "nest deeper" in err.message


def test_many_unused_parameters_give_a_short_error() -> None:
    params = {f"p{i}": i for i in range(1_000_000)}
    params["a"] = 1
    err = error_of("from c where x == :a", params)
    assert err.code == "semantic.unused-parameter"
    assert "and 999,990 more" in err.message
    assert len(err.render()) < 1_000
    fast(lambda: crossql.compile("from c where x == :a", params=params), 3.0)


def test_big_lists_compile_in_linear_time_on_every_backend() -> None:
    # the largest bound list each backend takes (DynamoDB's IN holds 100, Firestore's 30:
    # past that a CapabilityError), for `in`, `not in`, `contains any`, `contains all`
    values = [f"v{i}" for i in range(MAX_LIST_ITEMS)]
    for backend in BACKENDS:
        for op in ("in", "not in", "contains any", "contains all"):
            text = f"from c where a {op} :p"
            fast(lambda t=text, b=backend: crossql.compile(t, backend=b, params={"p": values}),
                 1.0, (backend, op))


def test_many_alternatives_compile_without_blowing_up() -> None:
    # 2^20 terms in disjunctive normal form: a backend that needs DNF refuses it early
    text = "from c where " + " and ".join(f"(a{i} == 1 or b{i} == 2)" for i in range(20))
    from crossql import FirestoreOptions

    for backend, options in (("memory", None), ("mongodb", None), ("dynamodb", None),
                             ("firestore", None),
                             ("firestore", FirestoreOptions(native_or=True))):
        fast(lambda b=backend, o=options: crossql.compile(text, backend=b, options=o), 0.5,
             (backend, options))


def test_catastrophic_patterns_never_reach_the_memory_engine() -> None:
    docs = [{"_id": i, "s": "a" * 40 + "!"} for i in range(3)]
    for pattern in ("(a+)+b", "(a|a)*b", "(.*)*b", "(a*)*b", "(a|aa)+b", "\\w+\\w+\\w+b"):
        for params in ({}, {"p": pattern}):
            text = f"from c where s matches {':p' if params else repr(pattern)}"
            error = assert_fast(lambda t=text, p=params: crossql.evaluate(t, docs, params=p), 0.5,
                                pattern)
            assert isinstance(error, crossql.QuerySemanticError), pattern
            assert error.code == "semantic.unsafe-regex", pattern


def test_the_memory_store_refuses_documents_nested_past_100_levels() -> None:
    import asyncio

    def nested(depth: int) -> Any:
        value: Any = 1
        for i in range(depth):
            value = {"a": value} if i % 2 else [value]
        return value

    async def scenario() -> list[Any]:
        async with crossql.connect({"driver": "memory"}) as store:
            await store.collection("c").insert_one({"_id": 1, "x": nested(99)})
            for depth in (101, 100_000):  # far past the recursion limit: no RecursionError
                with pytest.raises(crossql.BackendError, match="deeper than 100 levels"):
                    await store.collection("c").insert_many([{"_id": 2}, {"_id": 3,
                                                                          "x": nested(depth)}])
            assert await store.collection("c").get(2) is None  # nothing of the batch
            return await store.fetch("from c where exists(x) order by x")

    assert [row["_id"] for row in asyncio.run(scenario())] == [1]


# --- bound lists near the backends' limits (issue #15, item 6) --------------------------

_COMPARED = (ir.Literal, ir.ListValue, *ir.PREDICATE_TYPES, ir.Not, ir.And, ir.Or,
             *(cls for cls in vars(dynamo_expressions).values()
               if isinstance(cls, type) and cls.__module__ == dynamo_expressions.__name__
               and dataclasses.is_dataclass(cls)))
"""IR nodes and DynamoDB expression nodes: what a dedup of a list's values compares."""


@contextlib.contextmanager
def equality_tests() -> Iterator[list[int]]:
    """A one-item list counting every ``==`` between nodes of ``_COMPARED`` in the block:
    the work of a deduplication, counted instead of timed."""
    calls = [0]
    saved = {cls: cls.__dict__["__eq__"] for cls in _COMPARED}

    def counting(eq: Any) -> Any:
        def counted(self: Any, other: Any) -> Any:
            calls[0] += 1
            return eq(self, other)
        return counted

    try:
        for cls, eq in saved.items():
            setattr(cls, "__eq__", counting(eq))  # noqa: B010 - restored below
        yield calls
    finally:
        for cls, eq in saved.items():
            setattr(cls, "__eq__", eq)  # noqa: B010


@settings(max_examples=examples(60), deadline=None, suppress_health_check=list(HealthCheck))
@given(bound_lists_near_limits())
def test_bound_lists_near_the_limits_compile_or_are_refused_in_linear_work(
        case: tuple[str, dict[str, Any], int]) -> None:
    # DynamoDB once compared a list's values pairwise before refusing more than 100:
    # 10,000 values took 35 s; now each backend either compiles the list or refuses it
    # with a located error, comparing values a bounded number of times per value
    text, params, length = case
    for backend in BACKENDS:
        with equality_tests() as calls:
            try:
                crossql.compile(text, backend=backend, params=params)
            except crossql.QueryError as err:
                assert err.span is not None, (backend, err)
        # a nested node compares its fields too: a few tests per value and per level
        assert calls[0] <= 20 * length + 1000, (backend, length, calls[0])


# --- nesting is counted as the query is read ----------------------------------------------

W = "from c where "


def _lexed_tokens(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A counter of the tokens the parser reads (its scanner's matches)."""
    from crossql.grammar import parser

    read = [0]
    real = parser.scanner

    def counting(text: str) -> Any:
        match = real(text)

        def next_token() -> Any:
            read[0] += 1
            return match()

        return next_token

    monkeypatch.setattr(parser, "scanner", counting)
    return read


def test_49000_parentheses_are_refused_at_the_first_one_past_the_limit(
        monkeypatch: pytest.MonkeyPatch) -> None:
    read = _lexed_tokens(monkeypatch)
    text = W + "(" * 49_000 + "a == 1" + ")" * 49_000
    err = error_of(text)
    assert isinstance(err, crossql.QuerySyntaxError)
    assert err.code == "syntax.too-deep"
    assert "parentheses nest more than 64 deep" in err.message
    first_past = len(W) + MAX_CONDITION_DEPTH
    assert err.span == (first_past, first_past + 1)
    assert (err.line, err.column) == (1, first_past + 1)
    # the check is linear: the parser stopped reading right there (`from c where`, 65
    # parentheses, and the first token once more: `compile` looks for `update`/`delete`)
    assert read[0] == 3 + MAX_CONDITION_DEPTH + 1 + 1, read[0]


def test_lark_s_parser_refuses_the_same_parenthesis() -> None:
    from crossql.grammar.lark_support import parse_with_lark

    text = W + "a == 1 or " + "(" * 70 + "b == 2" + ")" * 70
    with pytest.raises(crossql.QuerySyntaxError) as ours:
        crossql.parse(text)
    for lexer in ("crossql", "basic"):
        with pytest.raises(crossql.QuerySyntaxError) as lark:
            parse_with_lark(text, lexer=lexer)
        assert (lark.value.code, lark.value.span) == (ours.value.code, ours.value.span), lexer


def test_parentheses_of_calls_and_closed_ones_do_not_count() -> None:
    # 64 open at most, however many there are in all; `exists(` is a call, not nesting
    deep = "(" * MAX_CONDITION_DEPTH + "exists(a)" + ")" * MAX_CONDITION_DEPTH
    crossql.compile(W + " and ".join([deep] * 20))
    crossql.compile(W + "(" * (MAX_CONDITION_DEPTH - 1) + "not (a == 1)"
                    + ")" * (MAX_CONDITION_DEPTH - 1))


def test_the_depth_check_visits_each_node_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # 61 levels of `not` over a wide `and` of `or`s: walking the subtree at each new
    # level (as the check once did) visits it 61 times over
    from crossql.grammar import parser

    visited = [0]
    real = parser.condition_depth

    def counting(cond: Any) -> int:
        stack = [cond]
        while stack:
            node = stack.pop()
            visited[0] += 1
            if isinstance(node, crossql.ir.Not):
                stack.append(node.operand)
            elif isinstance(node, crossql.ir.And | crossql.ir.Or):
                stack.extend(node.operands)
        return real(cond)

    monkeypatch.setattr(parser, "condition_depth", counting)
    wide = " and ".join(["(a == 1 or b == 2)"] * 2_000)
    crossql.parse(W + "not " * 61 + "(" + wide + ")")  # 61 + and + or + predicate: 64
    nodes = 61 + 1 + 2_000 * 3
    assert visited[0] <= 2 * nodes, visited[0]


def test_the_depth_memo_is_emptied_after_each_parse_and_bounded(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from crossql.grammar import parser
    from crossql.grammar.lark_support import lark_parser

    crossql.parse(W + "not " * 60 + "(a == 1 or (b == 2 and c == 3))")
    assert not parser._DEPTHS
    with pytest.raises(crossql.QuerySyntaxError):
        crossql.parse(W + "not " * 70 + "a == 1")
    assert not parser._DEPTHS
    # Lark's parser used directly (no `_run` around it) keeps the memo bounded
    monkeypatch.setattr(parser._DEPTHS, "limit", 1_000)
    for _ in range(3):
        lark_parser().parse(W + " or ".join(["not (a == 1 and b == 2)"] * 700), start="start")
    assert 0 < len(parser._DEPTHS) <= 1_000
    parser._DEPTHS.clear()
