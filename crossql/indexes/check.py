"""Checking a query against declared indexes, and naming the index a plan uses.

``require_firestore_indexes`` is what ``FirestoreOptions(require_indexes=True)`` runs
after a plan compiles: a query that neither Firestore's automatic indexes nor a declared
composite index (the schema's ``indexes``) serves is refused, located on the clause
that needs the index, with the definition to add in the hint. The emulator runs every
query without indexes; production refuses such a query ("The query requires an
index"), so this brings that refusal to compile time.

``index_note`` says, for ``crossql explain``, which index a backend's plan is expected
to use.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from crossql import ir
from crossql.backends.base import refuse
from crossql.errors import CapabilityError
from crossql.indexes import rules
from crossql.indexes.model import FirestoreIndex, collection_indexes
from crossql.indexes.patterns import Pattern, patterns


def _construct(node: Any) -> str:
    if isinstance(node, ir.OrderKey):
        return "order by"
    if isinstance(node, ir.Compare):
        return node.op if node.op in ("==", "!=") else "<, <=, >, >="
    if isinstance(node, ir.In):
        return "not in" if node.negated else "in"
    names = {ir.Between: "between", ir.StartsWith: "startswith", ir.Exists: "exists",
             ir.Contains: "contains", ir.ContainsAny: "contains any",
             ir.ContainsAll: "contains all"}
    return names.get(type(node), "order by")


def _field_name(path: str) -> str:
    return rules.ID if path == rules.FIRESTORE_ID else path


def _blamed(p: Pattern) -> Any:
    """The clause that makes ``p`` need a composite index: the first ordered field after
    an equality, else the second ordered field."""
    shape = rules.firestore_shape(p)
    assert shape is not None
    prefix, suffix = shape
    field = suffix[0] if prefix else suffix[min(1, len(suffix) - 1)]
    return p.node(_field_name(field.path))


def require_firestore_indexes(query: ir.Query, schema: Any) -> None:
    """Refuse ``query`` (``CapabilityError``, code ``capability.firestore.index``) when
    no automatic or declared index serves one of its disjunctions."""
    declared = [i for i in collection_indexes(schema, "firestore", query.collection)
                if isinstance(i, FirestoreIndex)]
    for p in patterns(query):
        if rules.firestore_served(declared, p):
            continue
        need = rules.firestore_need(p)
        assert isinstance(need, FirestoreIndex)
        raise _missing(query, p, need)


def _missing(query: ir.Query, p: Pattern, need: FirestoreIndex) -> CapabilityError:
    node = _blamed(p)
    declaration = json.dumps(need.definition(), ensure_ascii=False)
    deployed = json.dumps(need.to_json(), ensure_ascii=False)
    return refuse(
        "firestore", _construct(node), node,
        f"firestore needs a composite index {need.text()} that the schema does not declare "
        "(require_indexes: production refuses the query until the index exists)",
        f"declare it in the schema's `indexes` for `{query.collection}`: {declaration} "
        f"— and deploy it (firestore.indexes.json `indexes` entry: {deployed})",
        query.source, rule="index")


def index_note(statement: ir.Statement, backend: str, schema: Any = None) -> str | None:
    """One line for ``explain``: the index the backend is expected to use for
    ``statement`` (None for a backend whose plan already says it: DynamoDB names its
    table or index, the memory engine has none)."""
    query = statement if isinstance(statement, ir.Query) else ir.Query(
        statement.collection, statement.where)
    pats = patterns(query)
    if backend == "firestore":
        return _firestore_note(query, pats, schema)
    if backend == "mongodb":
        return _mongo_note(pats, schema, query.collection)
    return None


def _firestore_note(query: ir.Query, pats: Sequence[Pattern], schema: Any) -> str:
    needs = [n for n in (rules.firestore_need(p) for p in pats) if isinstance(n, FirestoreIndex)]
    if not needs:
        return "index: Firestore's automatic single-field indexes (no composite index needed)"
    declared = {i for i in collection_indexes(schema, "firestore", query.collection)}
    parts = [n.text() + ("" if n in declared else " (not declared)")
             for n in dict.fromkeys(needs)]
    return "index: composite " + "; ".join(parts)


def _mongo_note(pats: Sequence[Pattern], schema: Any, collection: str) -> str:
    needs = [rules.mongo_need(p) for p in pats]
    found = [n for n in needs if n is not None]
    if not found:
        if any(rules.ID in p.equal for p in pats):
            return "index: _id (the collection's own)"
        return "index: none (the whole collection is read)"
    declared = collection_indexes(schema, "mongodb", collection)
    parts = []
    for p, need in zip(pats, needs, strict=True):
        if need is None:
            continue
        using = next((d for d in declared if rules.mongo_serves(d, p)), None)  # type: ignore
        parts.append(using.text() if using is not None else need.text() + " (not declared)")
    return "expected index: " + "; ".join(dict.fromkeys(parts))
