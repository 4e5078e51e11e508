"""Writes (issue 9): the grammar of ``update``/``delete``, their checks and errors, the
reference semantics (``crossql.semantics.writes``) and ``store.execute`` on memory."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import crossql
from crossql import ir
from crossql.backends.dynamodb import compile_dynamodb
from crossql.backends.dynamodb.writes import DynamoWritePlan
from crossql.errors import BackendError, CapabilityError, QuerySemanticError, QuerySyntaxError
from crossql.semantics.reference import evaluate_condition
from crossql.semantics.writes import WriteResult, apply
from tests.backends.write_differential import near_limit_writes
from tests.budget import examples
from tests.strategies import DEFAULT_SCHEMA, conditions, documents


def P(dotted: str) -> ir.Path:
    return ir.Path(tuple(dotted.split(".")))


def L(value: Any) -> ir.Literal | ir.ListValue:
    return ir.literal_of(value)


# --- grammar: text → IR ----------------------------------------------------------

PARSES: list[tuple[str, ir.Statement]] = [
    ("update users set a = 1 where b == 2",
     ir.Update("users", (ir.SetField(P("a"), L(1)),), ir.Compare("==", P("b"), L(2)))),
    ("UPDATE users SET a.b = a.b + 2, unset c, d = :v where true limit 3",
     ir.Update("users", (ir.Increment(P("a.b"), ir.Literal(2, "int")), ir.Unset(P("c")),
                         ir.SetField(P("d"), ir.Param("v"))), None, ir.Literal(3, "int"))),
    ("update u set n = n + -1.5 where true",
     ir.Update("u", (ir.Increment(P("n"), ir.Literal(-1.5, "float")),))),
    ("update u set n = n + :k where x > 0",
     ir.Update("u", (ir.Increment(P("n"), ir.Param("k")),), ir.Compare(">", P("x"), L(0)))),
    ("update u set tags = [\"a\", null] where true",
     ir.Update("u", (ir.SetField(P("tags"), L(["a", None])),))),
    # `set`, `unset`, `update` and `delete` are not reserved: they may name fields
    ("update set set set = 1, unset unset where update == 1",
     ir.Update("set", (ir.SetField(P("set"), L(1)), ir.Unset(P("unset"))),
               ir.Compare("==", P("update"), L(1)))),
    ("delete from users where age < 18",
     ir.Delete("users", ir.Compare("<", P("age"), L(18)))),
    ("delete from users where true", ir.Delete("users")),
    ("-- tidy up\ndelete from `my users` where not exists(x) limit :n",
     ir.Delete("my users", ir.Not(ir.Exists(P("x"))), ir.Param("n"))),
    ("from users where set == 1", ir.Query("users", ir.Compare("==", P("set"), L(1)))),
]


@pytest.mark.parametrize(("text", "expected"), PARSES, ids=[t for t, _ in PARSES])
def test_statements_parse(text: str, expected: ir.Statement) -> None:
    parsed = crossql.parse(text)
    assert parsed == expected
    assert crossql.parse(crossql.format(parsed)) == parsed


def test_format_spells_where_true_and_lower_case() -> None:
    assert crossql.format("DELETE FROM u WHERE TRUE LIMIT 2") == "delete from u where true limit 2"
    assert crossql.format("update u set a = a + 1, unset b where x == 1") == \
        "update u set a = a + 1, unset b where x == 1"


def test_spans_cover_the_statement() -> None:
    text = "update users set a = 1 where b == 2 limit 5"
    statement = crossql.parse(text)
    assert isinstance(statement, ir.Update)
    assert statement.span == (0, len(text))
    assert statement.assignments[0].span == (17, 22)
    assert statement.source == text


SYNTAX_ERRORS: list[tuple[str, str, str]] = [
    # (text, words in the message, words in the hint)
    ("update users set a = 1", "`update` needs a `where` clause", "where true"),
    ("delete from users", "`delete` needs a `where` clause", "where true"),
    ("delete from users limit 3", "`delete` needs a `where` clause", "where true"),
    ("update u set a == 1 where true", "an assignment is written `path = value`", "a = ..."),
    ("update u set a = b + 1 where true", "adds to another field", "a = a + n"),
    ("update u sett a = 1 where true", "expected `set`", "update <collection> set"),
    ("update from u where true", "unexpected `from` after `update`", "delete from"),
    ("update u set remove x where true", "expected `unset <path>`", "unset c"),
    ("update u set a = a + \"x\" where true", "expected an integer, a number", ""),
    ("update u set a = 1 where true and b == 2", "unexpected `and`", ""),
]


@pytest.mark.parametrize(("text", "message", "hint"), SYNTAX_ERRORS,
                         ids=[t for t, _, _ in SYNTAX_ERRORS])
def test_syntax_errors_in_words(text: str, message: str, hint: str) -> None:
    with pytest.raises(QuerySyntaxError) as info:
        crossql.parse(text)
    assert message in info.value.message
    assert hint in (info.value.hint or "")
    assert info.value.source == text


SEMANTIC_ERRORS: list[tuple[str, str, dict[str, Any]]] = [
    ("update u set _id = 1 where true", "`_id` cannot be written", {}),
    ("update u set _id.x = 1 where true", "`_id.x` cannot be written", {}),
    ("update u set a = 1, a = 2 where true", "written by the same update", {}),
    ("update u set a = 1, a.b = 2 where true", "written by the same update", {}),
    ("update u set a.b = 1, unset a where true", "written by the same update", {}),
    ("update u set a = a + :n where true", "needs a number", {"n": "1"}),
    ("update u set a = a + :n where true", "needs a number", {"n": True}),
    ("update u set a = 1 where b < true", "compares only numbers or strings", {}),
    ("delete from u where true limit -1", "non-negative integer", {}),
    ("delete from u where a == :x", "is not bound", {}),
    ("delete from u where true", "unused parameter", {"x": 1}),
    ("update u set a = :v where true", "a parameter is a plain value", {"v": {"k": 1}}),
]


@pytest.mark.parametrize(("text", "message", "params"), SEMANTIC_ERRORS,
                         ids=[f"{t} {p}" for t, _, p in SEMANTIC_ERRORS])
def test_semantic_errors_in_words(text: str, message: str, params: dict[str, Any]) -> None:
    with pytest.raises(QuerySemanticError) as info:
        crossql.compile(text, params=params)
    assert message in info.value.message


def test_memory_write_plan_says_it_is_atomic() -> None:
    plan = crossql.compile("update u set a = a + :n where b == 1 limit 2", params={"n": 3})
    data = plan.to_dict()
    assert data["atomic"] is True
    assert data["text"] == "update u set a = a + 3 where b == 1 limit 2"
    assert "atomic" in plan.explain()


# --- reference semantics -----------------------------------------------------------

DOCS: list[dict[str, Any]] = [
    {"_id": 1, "n": 1, "s": "x", "m": {"k": 1}},
    {"_id": 2, "n": 2.5, "s": None},
    {"_id": 3, "s": "y", "m": 5},
    {"_id": 4, "n": "3", "m": {"k": 2}},
    {"_id": 5, "n": True},
]


def _apply(text: str, docs: list[dict[str, Any]] = DOCS,
           **params: Any) -> tuple[list[dict[str, Any]], WriteResult]:
    plan = crossql.compile(text, params=params)
    statement = plan.to_dict()["statement"]
    assert statement  # the plan carries the bound statement
    bound = plan.statement  # type: ignore[attr-defined]
    return apply(bound, docs)


def test_unknown_is_not_written() -> None:
    # s != "x" is unknown where s is null or missing: those documents stay
    after, result = _apply('update u set t = 1 where s != "x"')
    assert result == WriteResult(matched=1, modified=1)
    assert [d.get("t") for d in after] == [None, None, 1, None, None]


def test_increment_writes_only_numbers() -> None:
    after, result = _apply("update u set n = n + 1 where true")
    assert result == WriteResult(matched=2, modified=2)
    assert [d.get("n") for d in after] == [2, 3.5, None, "3", True]
    assert "n" not in after[2]  # a missing field is not created by an increment
    assert DOCS[0]["n"] == 1  # the input is not changed


def test_set_creates_parents_but_never_writes_through_a_non_map() -> None:
    after, result = _apply("update u set m.j = 0 where true")
    assert result == WriteResult(matched=4, modified=4)
    assert after[0]["m"] == {"k": 1, "j": 0}
    assert after[1]["m"] == {"j": 0}
    assert after[2]["m"] == 5


def test_modified_counts_changes_of_value_or_type() -> None:
    _, same = _apply('update u set s = "x" where _id == 1')
    assert same == WriteResult(matched=1, modified=0)
    _, retyped = _apply("update u set n = 1.0 where _id == 1")
    assert retyped == WriteResult(matched=1, modified=1)
    _, gone = _apply("update u set unset zz where _id == 1")
    assert gone == WriteResult(matched=1, modified=0)


def test_limit_takes_documents_in_collection_order() -> None:
    after, result = _apply("delete from u where exists(s) limit 2")
    assert result == WriteResult(matched=2, deleted=2)
    assert [d["_id"] for d in after] == [3, 4, 5]
    _, none = _apply("delete from u where true limit 0")
    assert none == WriteResult()


def test_increment_out_of_range_writes_nothing() -> None:
    docs = [{"_id": 1, "n": 1}, {"_id": 2, "n": 2**63 - 1}]
    with pytest.raises(BackendError, match="64-bit"):
        _apply("update u set n = n + 1 where true", docs)
    assert docs == [{"_id": 1, "n": 1}, {"_id": 2, "n": 2**63 - 1}]


@settings(max_examples=examples(200), deadline=None)
@given(documents(8), conditions(DEFAULT_SCHEMA))
def test_delete_removes_exactly_the_documents_where_the_condition_is_true(
        docs: list[dict[str, Any]], cond: ir.Condition) -> None:
    after, result = apply(ir.Delete("c", cond), docs)
    kept = [d for d in docs if evaluate_condition(cond, d) is not True]
    assert after == kept
    assert result.deleted == len(docs) - len(kept)
    # and a read with the same where finds exactly the deleted ones
    rows = crossql.evaluate(ir.Query("c", cond), docs)
    assert len(rows) == result.deleted


# --- the memory store ----------------------------------------------------------------


def _on_memory(body: Any) -> Any:
    async def main() -> Any:
        store = crossql.connect({"driver": "memory"})
        async with store:
            await store.collection("u").insert_many([dict(d) for d in DOCS])
            return await body(store)

    return asyncio.run(main())


def test_store_execute_updates_and_deletes() -> None:
    async def body(store: crossql.Store) -> Any:
        updated = await store.execute("update u set n = n + :k where exists(n)", k=10)
        deleted = await store.execute("delete from u where s == null")
        rows = await store.fetch("from u select _id, n order by _id")
        return updated, deleted, rows

    updated, deleted, rows = _on_memory(body)
    assert updated == WriteResult(matched=2, modified=2)
    assert deleted == WriteResult(matched=1, deleted=1)
    assert rows == [{"_id": 1, "n": 11}, {"_id": 3}, {"_id": 4, "n": "3"}, {"_id": 5, "n": True}]


def test_store_execute_refuses_reads_and_errors_leave_the_collection_alone() -> None:
    async def body(store: crossql.Store) -> Any:
        with pytest.raises(QuerySemanticError, match="this is a read query"):
            await store.execute("from u")
        await store.execute("update u set n = 9223372036854775807 where _id == 1")
        with pytest.raises(BackendError):
            await store.execute("update u set n = n + 1 where true")
        return await store.fetch("from u select n order by _id")

    rows = _on_memory(body)
    assert rows == [{"n": 9223372036854775807}, {"n": 2.5}, {}, {"n": "3"}, {"n": True}]


def test_execute_on_a_missing_collection_matches_nothing() -> None:
    async def body(store: crossql.Store) -> Any:
        return await store.execute("delete from nowhere where true")

    assert _on_memory(body) == WriteResult()


# --- MongoDB write plans (no server: tests/backends/test_mongodb_writes.py runs them) ---

MONGO_PLANS: list[tuple[str, str, dict[str, Any]]] = [
    ("delete from u where true", "delete_many", {"filter": {}}),
    ("delete from u where a == 1 limit 1", "delete_one",
     {"filter": {"a": {"$eq": 1, "$not": {"$type": "array"}}}}),
    ("update u set n = n + 2 where true", "update_many",
     {"filter": {"n": {"$type": "number", "$not": {"$type": "array"}}},
      "update": {"$inc": {"n": 2}}}),
    ("update u set m.k = [1], unset z where true limit 3", "find_then_update",
     {"filter": {"$or": [{"m": {"$exists": False}},
                         {"m": {"$type": "object", "$not": {"$type": "array"}}}]},
      "update": {"$set": {"m.k": [1]}, "$unset": {"z": ""}}, "limit": 3}),
    ("update u set a = 1 where true limit 0", "nothing", {"filter": {"$expr": False},
                                                         "update": {"$set": {"a": 1}}}),
]


@pytest.mark.parametrize(("text", "operation", "arguments"), MONGO_PLANS,
                         ids=[t for t, _, _ in MONGO_PLANS])
def test_mongodb_write_plans(text: str, operation: str, arguments: dict[str, Any]) -> None:
    plan = crossql.compile(text, backend="mongodb")
    data = plan.to_dict()
    assert data["operation"] == operation
    assert data["arguments"] == arguments
    assert ("not atomic across documents" in data["atomic"]) == operation.endswith(
        ("_many", "_update", "_delete"))
    assert ("db['u']" in plan.to_python()) == (operation != "nothing")


def test_mongodb_refuses_an_unaddressable_field_in_a_write() -> None:
    with pytest.raises(CapabilityError, match="cannot address"):
        crossql.compile("update u set `$x` = 1 where true", backend="mongodb")


# --- DynamoDB write plans (no server: tests/backends/test_dynamodb_writes.py runs them) ---


def test_dynamodb_write_plan_rechecks_the_where_on_each_item() -> None:
    plan = crossql.compile("update users set n = n + 1, unset c where x > 1 limit 5",
                           backend="dynamodb")
    data = plan.to_dict()
    assert data["operation"] == "Scan then UpdateItem per item"
    # the read also takes only numbers `n`: `limit 5` counts items that are written
    assert data["read"]["request"]["FilterExpression"] == \
        "#n0 > :v0 AND attribute_type(#n1, :v1)"
    write = data["write"]
    assert write["ConditionExpression"] == \
        "#n0 > :v0 AND attribute_type(#n1, :v1) AND attribute_exists(#n2)"
    assert write["UpdateExpression"] == "SET #n1 = #n1 + :v0 REMOVE #n3"
    assert write["ExpressionAttributeNames"] == {"#n0": "x", "#n1": "n", "#n2": "_id",
                                                 "#n3": "c"}
    assert "not atomic across items" in data["atomic"]
    assert "ConditionalCheckFailedException" in plan.to_python()


@pytest.mark.parametrize(("text", "read_filter"), [
    ("update items set m.x = 1 where true limit 1",
     "attribute_not_exists(#n0) OR attribute_type(#n0, :v0)"),
    ("update items set unset m.p.x where k == 1 limit 2",
     "#n0 = :v0 AND (attribute_not_exists(#n1) OR attribute_type(#n1, :v1)) AND "
     "(attribute_not_exists(#n1.#n2) OR attribute_type(#n1.#n2, :v1))"),
    ("update items set a = a + 1 where true limit 1", "attribute_type(#n0, :v0)"),
])
def test_dynamodb_write_reads_only_items_its_assignments_apply_to(
        text: str, read_filter: str) -> None:
    """Issue #15, item 1: a document an assignment cannot apply to is not matched, so
    the read must not return it and spend `limit` on it."""
    read = crossql.compile(text, backend="dynamodb").to_dict()["read"]["request"]
    assert read["FilterExpression"] == read_filter
    assert "Limit" not in read


def _deep_where(terms: int, depth: int = 29) -> str:
    """``p0.s0.….s28 == 1 or p1.… == 1 or …``: a long filter of few operators."""
    tail = ".".join(f"s{j}" for j in range(depth))
    return " or ".join(f"p{i}.{tail} == 1" for i in range(terms))


def _expression_bytes(request: dict[str, object]) -> list[int]:
    return [len(str(request[k]).encode()) for k in request if str(k).endswith("Expression")]


def test_dynamodb_write_condition_over_4kb_is_refused_at_compile_time() -> None:
    """Issue #15, item 10: the read's filter (4,077 bytes) fits, the UpdateItem's
    condition (4,104: `attribute_exists` of the key added) did not, and DynamoDB
    refused it at run time, after the read."""
    text = f"update items set n = n + 1 where {_deep_where(27)}"
    with pytest.raises(CapabilityError) as info:
        crossql.compile(text, backend="dynamodb")
    err = info.value
    assert err.construct == "expression size"
    assert "ConditionExpression of each write: 4104 bytes" in str(err)
    assert err.span == (text.index("where") + 6, len(text))
    # one term less: every expression of every request fits
    plan = crossql.compile(f"update items set n = n + 1 where {_deep_where(26)}",
                           backend="dynamodb").to_dict()
    sizes = _expression_bytes(plan["read"]["request"]) + _expression_bytes(plan["write"])
    assert max(sizes) == 3954 and all(size <= 4096 for size in sizes)


def test_dynamodb_write_condition_over_300_operators_is_refused() -> None:
    where = " or ".join(f"a{i} == {i}" for i in range(150))  # 299 operators
    assert crossql.compile(f"from items where {where}", backend="dynamodb")
    with pytest.raises(CapabilityError, match="each write: 301 operators"):
        crossql.compile(f"update items set x = 1 where {where}", backend="dynamodb")


def test_dynamodb_update_expression_over_4kb_is_refused_at_the_assignments() -> None:
    assignments = ", ".join(f"field{i} = {i}" for i in range(300))
    text = f"update items set {assignments} where true"
    with pytest.raises(CapabilityError, match="UpdateExpression of each write") as info:
        crossql.compile(text, backend="dynamodb")
    assert info.value.span == (len("update items set "), len("update items set ")
                               + len(assignments))
    fits = ", ".join(f"field{i} = {i}" for i in range(200))
    plan = crossql.compile(f"update items set {fits} where true", backend="dynamodb")
    assert len(plan.to_dict()["write"]["UpdateExpression"]) <= 4096


@pytest.mark.parametrize("terms", [0, 10, 20])
def test_dynamodb_per_item_requests_stay_within_the_checked_bound(terms: int) -> None:
    """Below a map each item's request is built at run time: the compile-time check
    bounds every form it can take (a map, a missing map at each depth). More and more
    assignments, until refused: the last plan compiled sends only requests that fit."""
    depth = 12
    where = _deep_where(terms, 20) if terms else "true"
    last: tuple[int, DynamoWritePlan] | None = None
    for maps in range(1, 40):
        paths = [".".join([f"m{i}"] + [f"k{j}" for j in range(depth)]) for i in range(maps)]
        text = "update items set " + ", ".join(f"{p} = 1" for p in paths) + f" where {where}"
        try:
            plan = crossql.compile(text, backend="dynamodb")
        except CapabilityError as err:
            assert "ConditionExpression of each write: at most" in str(err)
            break
        assert isinstance(plan, DynamoWritePlan)
        last = maps, plan
    assert last is not None
    maps, plan = last
    longest = 0
    for missing_at in range(depth + 1):
        doc: dict[str, Any] = {"_id": "a"}
        for i in range(maps):
            # maps down to `missing_at` (none: `m<i>` itself is missing)
            node = doc.setdefault(f"m{i}", {}) if missing_at else doc
            for j in range(missing_at - 1):
                node = node.setdefault(f"k{j}", {})
        request = plan.item_request(doc)
        assert request is not None
        longest = max(longest, *_expression_bytes(request))
    assert 3000 < longest <= 4096


REFUSED_NEAR_LIMIT: list[bool] = []


def _filter_bytes(where: ir.Condition) -> int:
    """The bytes of DynamoDB's FilterExpression of ``where`` (a refused one: more than
    any limit)."""
    try:
        plan = compile_dynamodb(ir.Query("docs", where))
    except CapabilityError:
        return 10**6
    return len(plan.request.get("FilterExpression", "").encode())


@settings(max_examples=examples(30, at_least=30), deadline=None)
@given(data=st.data())
def test_dynamodb_writes_that_compile_send_requests_within_the_limits(
        data: st.DataObject) -> None:
    """Around 4 KB: a write either is refused when compiled or sends only expressions
    DynamoDB accepts: the read, the write's condition, each item's request."""
    docs, statement = data.draw(near_limit_writes(_filter_bytes), label="write")
    try:
        plan = crossql.compile(crossql.format(statement), backend="dynamodb")
    except CapabilityError as err:
        if err.construct == "expression size":
            REFUSED_NEAR_LIMIT.append(True)
        return  # or something else DynamoDB cannot do (`matches`)
    REFUSED_NEAR_LIMIT.append(False)
    assert isinstance(plan, DynamoWritePlan)
    if plan.never:
        return  # no request is sent
    requests = [plan.read.request, plan.request]
    requests += [r for r in map(plan.item_request, docs) if r is not None]
    for request in requests:
        assert all(size <= 4096 for size in _expression_bytes(request)), request


def test_writes_near_the_limit_were_both_compiled_and_refused() -> None:
    """Runs after the property above: its writes straddle the limit."""
    assert set(REFUSED_NEAR_LIMIT) == {True, False}


def test_dynamodb_delete_by_key_is_a_query() -> None:
    plan = crossql.compile('delete from users where _id == "a"', backend="dynamodb")
    data = plan.to_dict()
    assert data["operation"] == "Query then DeleteItem per item"
    assert data["write"]["ConditionExpression"] == "#n0 = :v0 AND attribute_exists(#n0)"
    assert "UpdateExpression" not in data["write"]


@pytest.mark.parametrize(("text", "message"), [
    ("update users set a.b = a.b + 1 where true", r"increment `a\.b` below a map"),
    ("update users set k = 1 where true", "key attribute `k`"),
])
def test_dynamodb_refuses_what_it_cannot_write(text: str, message: str) -> None:
    schema = {"users": {"partition_key": "_id", "sort_key": "k"}}
    with pytest.raises(CapabilityError, match=message):
        crossql.compile(text, backend="dynamodb", schema=schema)


# --- Firestore write plans (no server: tests/backends/test_firestore_writes.py runs them) ---


def test_firestore_write_plan_batches_with_preconditions() -> None:
    plan = crossql.compile("update users set a = 1, unset c where x > 1 limit 5",
                           backend="firestore")
    data = plan.to_dict()
    assert data["operation"] == "query then batched updates"
    assert data["update"] == {"a": 1, "c": "DELETE_FIELD"}
    assert data["read"]["query"] == [{"where": {"field": "x", "op": ">", "value": 1}},
                                     {"limit": 5}]
    assert data["batch_size"] == 500
    assert "not atomic across batches" in data["atomic"]
    assert "last_update_time" in plan.to_python()


def test_firestore_write_plan_computes_increments_and_nested_assignments() -> None:
    plan = crossql.compile("update users set n = n + 2, a.b = 1 where x > 1 limit 5",
                           backend="firestore")
    data = plan.to_dict()
    assert data["update"] == {"n": {"add": 2}, "a.b": 1}
    assert "from its snapshot" in data["computed"]
    # some documents found may not take the assignments: the read is not limited
    assert data["read_limit"].startswith("none")
    assert "only on a number" in plan.explain()
    assert "old['n'] + 2" in plan.to_python()


@pytest.mark.parametrize(("text", "message"), [
    ("update users set a = [[1]] where true", "array inside an array"),
    ("delete from users where exists(a)", "exists"),
])
def test_firestore_refuses_what_it_cannot_write(text: str, message: str) -> None:
    with pytest.raises(CapabilityError, match=message):
        crossql.compile(text, backend="firestore")


def test_the_old_module_of_write_results_still_names_them() -> None:
    # the memory backend's to_python() prints crossql.runtime.writes.apply(...)
    import crossql.runtime.writes as old
    import crossql.semantics.writes as new

    assert old.WriteResult is new.WriteResult and old.apply is new.apply
    plan = crossql.compile("delete from users where age < 18")
    assert plan.to_python().startswith("crossql.runtime.writes.apply(")
