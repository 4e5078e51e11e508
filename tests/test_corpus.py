"""Snapshots of the corpus (tests/corpus/queries.yaml): IR, memory plan, canonical
text and error rendering for every entry; plus ``parse(format(q)) == parse(q)``.

Snapshots are JSON text (or the rendered error) inside syrupy's amber file, so a
diff reads like the plan a backend would print. Refresh them with
``pytest tests/test_corpus.py --snapshot-update`` and read the diff: a wrong
snapshot is a bug.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion

import crossql
from crossql import ir
from tests.plan_corpus import CORPUS, VALID, compact_json

ERRORS = [e for e in CORPUS if "error" in e]
PARSEABLE = [e for e in CORPUS if not e.get("error", "").startswith("syntax.")]
_json = compact_json


def _ids(entries: list[dict[str, Any]]) -> list[str]:
    return [e["name"] for e in entries]


def test_corpus_is_well_formed() -> None:
    assert len(CORPUS) >= 80
    names = [e["name"] for e in CORPUS]
    assert len(names) == len(set(names)), "corpus names must be unique"
    for entry in CORPUS:
        assert set(entry) <= {"name", "query", "params", "error"}, entry["name"]
        assert isinstance(entry["name"], str) and entry["name"].isidentifier()
        assert isinstance(entry["query"], str)
        assert isinstance(entry.get("params", {}), dict)
        assert entry.get("error", "syntax.").split(".")[0] in ("syntax", "semantic")


def test_corpus_covers_every_construct() -> None:
    """Each row of LANGUAGE.md's tables appears in at least one valid query."""
    seen: set[str] = set()
    for entry in VALID:
        q = crossql.parse(entry["query"])
        for node in ir.walk(q):
            name = type(node).__name__
            if isinstance(node, ir.Compare):
                name = f"Compare {node.op}"
            elif isinstance(node, ir.In):
                name = "NotIn" if node.negated else "In"
            elif isinstance(node, ir.Aggregate):
                name = f"{node.func}({'p' if node.arg else ''})"
            elif isinstance(node, ir.OrderKey):
                name = "desc" if node.descending else "asc"
            elif isinstance(node, ir.Literal):
                name = f"literal {node.kind}"
            seen.add(name)
        for clause in ("where", "group_by", "select", "order_by", "limit", "offset"):
            if getattr(q, clause):
                seen.add(clause)
    wanted = {
        "Compare ==", "Compare !=", "Compare <", "Compare <=", "Compare >", "Compare >=",
        "Between", "In", "NotIn", "Contains", "ContainsAny", "ContainsAll", "StartsWith",
        "Matches", "Exists", "Size", "Not", "And", "Or", "ListValue", "Param",
        "literal null", "literal bool", "literal int", "literal float", "literal string",
        "count()", "count(p)", "sum(p)", "avg(p)", "min(p)", "max(p)", "asc", "desc",
        "where", "group_by", "select", "order_by", "limit", "offset",
    }
    assert wanted <= seen, sorted(wanted - seen)


@pytest.mark.parametrize("entry", VALID, ids=_ids(VALID))
def test_ir(entry: dict[str, Any], snapshot: SnapshotAssertion) -> None:
    assert _json(ir.to_dict(crossql.parse(entry["query"]))) == snapshot


@pytest.mark.parametrize("entry", VALID, ids=_ids(VALID))
def test_memory_plan(entry: dict[str, Any], snapshot: SnapshotAssertion) -> None:
    plan = crossql.compile(entry["query"], backend="memory", params=entry.get("params"))
    data = plan.to_dict()
    assert json.loads(plan.to_json()) == data
    assert json.loads(_json(data)) == data
    assert _json(data) == snapshot


@pytest.mark.parametrize("entry", PARSEABLE, ids=_ids(PARSEABLE))
def test_format(entry: dict[str, Any], snapshot: SnapshotAssertion) -> None:
    text = crossql.format(entry["query"])
    assert text == snapshot
    # canonical: formatting is idempotent and parses back to the same IR
    assert crossql.format(text) == text
    assert crossql.parse(text) == crossql.parse(entry["query"])


@pytest.mark.parametrize("entry", ERRORS, ids=_ids(ERRORS))
def test_error(entry: dict[str, Any], snapshot: SnapshotAssertion) -> None:
    with pytest.raises(crossql.QueryError) as info:
        crossql.compile(entry["query"], params=entry.get("params"))
    err = info.value
    assert err.code == entry["error"], err.render()
    kind = entry["error"].split(".")[0]
    expected = crossql.QuerySyntaxError if kind == "syntax" else crossql.QuerySemanticError
    assert type(err) is expected
    assert str(err) == err.render()
    assert f"{err.code}\n{err.render()}" == snapshot


@pytest.mark.parametrize("entry", VALID, ids=_ids(VALID))
def test_evaluates_over_no_documents(entry: dict[str, Any]) -> None:
    # every valid query runs; an aggregate without group by gives exactly one row
    rows = crossql.evaluate(entry["query"], [], params=entry.get("params"))
    q = crossql.parse(entry["query"])
    expected = 1 if q.is_aggregate and not q.group_by else 0
    assert len(rows) == expected
