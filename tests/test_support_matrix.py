"""The support matrix is executable: one example query per construct, compiled on every
registered backend and held to what the backend declares (``Capabilities.support``).

- ``refused``: compiling raises a ``CapabilityError`` naming that construct and backend;
- ``native``/``rewritten``/``guarded``: it compiles;
- ``option``: refused (naming the construct) without options, and compiled with every
  switch of the backend's options on.

A construct added to ``CONSTRUCTS``/``WRITE_CONSTRUCTS`` needs its example here, and a
backend added to the registry is checked without a line of its own."""

from __future__ import annotations

from typing import Any

import pytest

import crossql
from crossql import ir
from crossql.backends import backend_names, get_backend
from crossql.backends.base import CONSTRUCTS, WRITE_CONSTRUCTS, BackendSpec, Capabilities, resolve
from tests.plan_corpus import VALID, VALID_IDS

EXAMPLES: dict[str, str] = {
    "==": 'from users where status == "active"',
    "!=": 'from users where status != "banned"',
    "<, <=, >, >=": "from users where age >= 18",
    "between": "from users where age between 18 and 65",
    "in": 'from users where status in ["active", "new"]',
    "not in": 'from users where status not in ["banned", "gone"]',
    "contains": 'from users where tags contains "vip"',
    "contains any": 'from users where tags contains any ["vip", "new"]',
    "contains all": 'from users where tags contains all ["vip"]',
    "startswith": 'from users where name startswith "A"',
    "matches": 'from users where name matches "^A"',
    "exists": "from users where exists(email)",
    "not exists": "from users where not exists(email)",
    "size": "from users where size(tags) == 2",
    "not": "from users where not (age >= 18)",
    "and": 'from users where age >= 18 and status == "active"',
    "or": 'from users where status == "active" or age == 18',
    "group by": "from users group by status select status",
    "count()": "from users select count() as n",
    "count(p)": 'from users where email == "a@example.com" select count(email) as n',
    "sum": "from users select sum(age) as s",
    "avg": "from users select avg(age) as s",
    "min": "from users select min(age) as s",
    "max": "from users select max(age) as s",
    "select": "from users select name, age",
    "order by": 'from users where status == "active" and age >= 18 order by age',
    "limit": "from users limit 10",
    "offset": "from users offset 10",
}
"""A query per read construct that needs nothing but that construct (and what the
backends' notes ask of it: a field ordered by or counted is present)."""

SCHEMAS: dict[str, dict[str, Any]] = {
    "order by": {"dynamodb": {"users": {"partition_key": "status", "sort_key": "age"}}},
}
"""Schemas an example needs on a backend (DynamoDB orders a Query by its sort key)."""

WRITE_EXAMPLES: dict[str, str] = {
    "set p = v": 'update users set status = "x" where age > 1',
    "set a.b = v": 'update users set address.city = "Rome" where age > 1',
    "p = p + n": "update users set visits = visits + 1 where age > 1",
    "unset p": "update users set unset status where age > 1",
    "delete": "delete from users where age > 1",
    "limit (writes)": "delete from users where age > 1 limit 2",
}
"""A statement per write construct (``transaction`` is a store's, run by
tests/backends/test_transactions.py)."""


def test_every_construct_has_an_example() -> None:
    assert list(EXAMPLES) == list(CONSTRUCTS)
    assert list(WRITE_EXAMPLES) == [c for c in WRITE_CONSTRUCTS if c != "transaction"]


def _all_switches_on(spec: BackendSpec) -> Any:
    """The backend's options with every switch on (what an ``option`` level needs)."""
    assert spec.options is not None, f"{spec.name} declares an option level but no options"
    return resolve(spec.options.coerce)(dict.fromkeys(spec.options.flags, True))


def _held_to_its_declaration(spec: BackendSpec, caps: Capabilities, construct: str,
                             text: str) -> None:
    level = caps.support[construct]
    schema = SCHEMAS.get(construct, {}).get(spec.name)
    if level in ("refused", "option"):
        with pytest.raises(crossql.CapabilityError) as info:
            crossql.compile(text, backend=spec.name, schema=schema)
        assert (info.value.backend, info.value.construct) == (spec.name, construct), \
            info.value.render()
    if level != "refused":
        options = _all_switches_on(spec) if level == "option" else None
        plan = crossql.compile(text, backend=spec.name, schema=schema, options=options)
        assert plan.backend == spec.name


@pytest.mark.parametrize("construct", CONSTRUCTS)
@pytest.mark.parametrize("backend", backend_names())
def test_each_read_construct_is_answered_as_declared(backend: str, construct: str) -> None:
    spec = get_backend(backend)
    _held_to_its_declaration(spec, spec.capabilities, construct, EXAMPLES[construct])


@pytest.mark.parametrize("construct", list(WRITE_EXAMPLES))
@pytest.mark.parametrize("backend", backend_names())
def test_each_write_construct_is_answered_as_declared(backend: str, construct: str) -> None:
    spec = get_backend(backend)
    assert spec.write_capabilities is not None, backend
    _held_to_its_declaration(spec, spec.write_capabilities, construct,
                             WRITE_EXAMPLES[construct])


def test_a_wrong_declaration_is_caught() -> None:
    from dataclasses import replace

    spec = get_backend("memory")
    lying = replace(spec.capabilities, support={**spec.capabilities.support, "==": "refused"})
    with pytest.raises(pytest.fail.Exception):
        _held_to_its_declaration(spec, lying, "==", EXAMPLES["=="])


# -- the corpus against the declarations --------------------------------------------------

_NODES: dict[type, str] = {
    ir.Between: "between", ir.Contains: "contains", ir.ContainsAny: "contains any",
    ir.ContainsAll: "contains all", ir.StartsWith: "startswith", ir.Matches: "matches",
    ir.Exists: "exists", ir.Size: "size", ir.And: "and", ir.Or: "or", ir.Not: "not",
}


def _condition_constructs(node: ir.Condition, out: set[str]) -> None:
    if isinstance(node, ir.Compare):
        out.add(node.op if node.op in ("==", "!=") else "<, <=, >, >=")
    elif isinstance(node, ir.In):
        out.add("not in" if node.negated else "in")
    elif isinstance(node, ir.Not) and isinstance(node.operand, ir.Exists):
        out.add("not exists")
    else:
        out.add(_NODES[type(node)])
        for child in getattr(node, "operands", ()) or [getattr(node, "operand", None)]:
            if child is not None:
                _condition_constructs(child, out)


def constructs_of(query: ir.Query) -> set[str]:
    """The constructs (``CONSTRUCTS``) a query uses."""
    out: set[str] = set()
    if query.where is not None:
        _condition_constructs(query.where, out)
    for item in query.select:
        expr = item.expr
        if isinstance(expr, ir.Aggregate):
            out.add(("count(p)" if expr.arg is not None else "count()")
                    if expr.func == "count" else expr.func)
        else:
            out.add("select")
    clauses = {"group by": query.group_by, "order by": query.order_by,
               "limit": query.limit is not None, "offset": query.offset is not None}
    out.update(name for name, used in clauses.items() if used)
    return out


def test_the_constructs_of_a_query_are_found() -> None:
    query = crossql.parse("from u where not exists(a) or not (b in [1] and c not in [2]) "
                          "group by d select d, count(), count(e), min(f) order by d "
                          "limit 1 offset 2")
    assert isinstance(query, ir.Query)
    assert constructs_of(query) == {
        "not exists", "or", "not", "and", "in", "not in", "group by", "select", "count()",
        "count(p)", "min", "order by", "limit", "offset"}


@pytest.mark.parametrize("entry", [e for e in VALID if not e["query"].startswith(
    ("update", "delete"))], ids=[i for i, e in zip(VALID_IDS, VALID, strict=True)
                                 if not e["query"].startswith(("update", "delete"))])
def test_a_corpus_query_compiled_uses_no_construct_declared_refused(
        entry: dict[str, Any]) -> None:
    query = crossql.parse(entry["query"])
    assert isinstance(query, ir.Query)
    used = constructs_of(query)
    for backend in backend_names():
        try:
            crossql.compile(query, backend=backend, params=entry.get("params"))
        except crossql.CapabilityError:
            continue
        support = get_backend(backend).capabilities.support
        assert not [c for c in used if support[c] == "refused"], backend
