"""What a query asks of an index: its access patterns, one per disjunction.

A condition is put in disjunctive normal form (``not`` pushed down by De Morgan's
laws); each disjunct says which fields it pins by equality (``==``, ``in``), which it
looks up in arrays (``contains``, ``contains any``, ``contains all``), which it bounds
(``<``, ``between``, ``startswith``, ``!=``, ``not in``, ``exists``) and which it only
filters (``matches``, ``size``, negated array tests: no index helps them). The query's
``order by`` goes with every disjunct. The backends' rules (``rules.py``) read these
patterns; they work on text with parameters unbound, since only shapes matter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from crossql import ir

MAX_DISJUNCTS = 64
"""Disjuncts past which the normal form is not expanded further: the query is taken as
one pattern with its ``or`` left as a filter (no index is derived for what it holds)."""

_FLIP: dict[str, ir.CompareOp] = {"==": "!=", "!=": "==", "<": ">=", "<=": ">", ">": "<=",
                                  ">=": "<"}


@dataclass(frozen=True, slots=True)
class Pattern:
    """One disjunct of a query, as an index sees it. Fields are dotted paths."""

    collection: str
    equal: frozenset[str] = frozenset()
    """Fields pinned with ``==`` (one value)."""
    listed: frozenset[str] = frozenset()
    """Fields pinned with ``in`` (several values): an equality for MongoDB and Firestore."""
    contains: frozenset[str] = frozenset()
    """Array fields looked up by element (``contains``, ``contains any``/``all``)."""
    ranges: frozenset[str] = frozenset()
    """Fields bounded by an inequality (``<``, ``!=``, ``startswith``, ``exists`` ...)."""
    filtered: frozenset[str] = frozenset()
    """Fields only filtered (``matches``, ``size``): no index serves them."""
    order: tuple[tuple[str, bool], ...] = ()
    """``order by`` keys: ``(field, descending)``."""
    needs: frozenset[str] | None = None
    """Top-level fields the rows need (None: whole documents)."""
    nodes: Any = field(default=None, compare=False, hash=False, repr=False)
    """Field → the IR node that asks for it, for located errors: its ``order by`` key when
    it has one (the index orders by it), else its first predicate."""

    @property
    def equalities(self) -> frozenset[str]:
        """Fields pinned by ``==`` or ``in``."""
        return self.equal | self.listed

    def node(self, name: str) -> Any:
        """The IR node that asks for ``name`` (None when unknown)."""
        return None if self.nodes is None else self.nodes.get(name)


class _Conj:
    """One conjunction while the normal form is built."""

    __slots__ = ("contains", "equal", "filtered", "listed", "nodes", "ranges")
    SETS = ("contains", "equal", "filtered", "listed", "ranges")

    def __init__(self) -> None:
        self.equal: set[str] = set()
        self.listed: set[str] = set()
        self.contains: set[str] = set()
        self.ranges: set[str] = set()
        self.filtered: set[str] = set()
        self.nodes: dict[str, Any] = {}

    def merge(self, other: _Conj) -> _Conj:
        out = _Conj()
        for name in self.SETS:
            getattr(out, name).update(getattr(self, name), getattr(other, name))
        out.nodes = {**other.nodes, **self.nodes}
        return out

    def add(self, kind: str, path: ir.Path, node: Any) -> _Conj:
        getattr(self, kind).add(path.dotted)
        self.nodes.setdefault(path.dotted, node)
        return self


def _leaf(kind: str, path: ir.Path, node: Any) -> list[_Conj]:
    return [_Conj().add(kind, path, node)]


def _and(parts: list[list[_Conj]]) -> list[_Conj]:
    out = [_Conj()]
    for part in parts:
        if len(out) * len(part) > MAX_DISJUNCTS:
            return [_Conj()]
        out = [a.merge(b) for a in out for b in part]
    return out


def _or(parts: list[list[_Conj]]) -> list[_Conj]:
    out = [c for part in parts for c in part]
    return out if len(out) <= MAX_DISJUNCTS else [_Conj()]


def _positive(node: ir.Condition) -> list[_Conj]:
    if isinstance(node, ir.And):
        return _and([_positive(o) for o in node.operands])
    if isinstance(node, ir.Or):
        return _or([_positive(o) for o in node.operands])
    if isinstance(node, ir.Not):
        return _negative(node.operand)
    if isinstance(node, ir.Compare):
        return _leaf("equal" if node.op == "==" else "ranges", node.path, node)
    if isinstance(node, ir.In):
        return _leaf("ranges" if node.negated else "listed", node.path, node)
    if isinstance(node, ir.Contains | ir.ContainsAny | ir.ContainsAll):
        return _leaf("contains", node.path, node)
    if isinstance(node, ir.Between | ir.StartsWith | ir.Exists):
        return _leaf("ranges", node.path, node)
    return _leaf("filtered", node.path, node)  # matches, size


def _negative(node: ir.Condition) -> list[_Conj]:
    if isinstance(node, ir.And):
        return _or([_negative(o) for o in node.operands])
    if isinstance(node, ir.Or):
        return _and([_negative(o) for o in node.operands])
    if isinstance(node, ir.Not):
        return _positive(node.operand)
    if isinstance(node, ir.Compare):
        return _leaf("equal" if _FLIP[node.op] == "==" else "ranges", node.path, node)
    if isinstance(node, ir.In):
        return _leaf("listed" if node.negated else "ranges", node.path, node)
    if isinstance(node, ir.Between):
        return _or([_leaf("ranges", node.path, node), _leaf("ranges", node.path, node)])
    return _leaf("filtered", node.path, node)  # negated array tests, startswith, exists


def _order(query: ir.Query) -> tuple[tuple[tuple[str, bool], ...], dict[str, Any]]:
    if query.is_aggregate:
        return (), {}
    aliases = {item.alias: item.expr for item in query.select if item.alias is not None}
    keys: list[tuple[str, bool]] = []
    nodes: dict[str, Any] = {}
    for key in query.order_by:
        target = aliases.get(key.path.dotted, key.path)
        if not isinstance(target, ir.Path):
            continue
        keys.append((target.dotted, key.descending))
        nodes.setdefault(target.dotted, key)
    return tuple(keys), nodes


def _needs(query: ir.Query) -> frozenset[str] | None:
    if not query.select and not query.is_aggregate:
        return None
    out: set[str] = set()
    for item in query.select:
        arg = item.expr.arg if isinstance(item.expr, ir.Aggregate) else item.expr
        if arg is not None:
            out.add(arg.segments[0])
    out.update(p.segments[0] for p in query.group_by)
    return frozenset(out)


def patterns(query: ir.Query) -> tuple[Pattern, ...]:
    """The access patterns of a query (parameters may be unbound): one per disjunct of
    its condition in normal form, each with the query's order and the fields its rows
    need."""
    conjs = _positive(query.where) if query.where is not None else [_Conj()]
    order, order_nodes = _order(query)
    needs = _needs(query)
    out: list[Pattern] = []
    seen: set[Pattern] = set()
    for c in conjs:
        p = Pattern(query.collection, frozenset(c.equal), frozenset(c.listed - c.equal),
                    frozenset(c.contains), frozenset(c.ranges), frozenset(c.filtered),
                    order, needs, {**c.nodes, **order_nodes})
        if p not in seen:
            seen.add(p)
            out.append(p)
    return tuple(out)


def filter_fields(p: Pattern) -> frozenset[str]:
    """Top-level fields the pattern's filter reads."""
    return frozenset(f.split(".")[0] for f in (p.equal | p.listed | p.contains | p.ranges
                                               | p.filtered))


def _flat(cond: ir.Condition | None) -> list[ir.Condition]:
    if cond is None:
        return []
    if isinstance(cond, ir.And):
        return [c for o in cond.operands for c in _flat(o)]
    return [cond]


def key_pattern(query: ir.Query) -> Pattern:
    """The one pattern a key-based planner sees (DynamoDB's: a ``Query`` keys on the
    top-level ``and`` of the condition only): its predicates as in ``patterns``; an
    ``or`` or ``not`` below it only filters."""
    conj = _Conj()
    for cond in _flat(query.where):
        if isinstance(cond, ir.Or | ir.Not):
            for node in ir.walk(cond):
                path = getattr(node, "path", None)
                if isinstance(path, ir.Path) and not isinstance(node, ir.OrderKey):
                    conj.add("filtered", path, node)
            continue
        conj = conj.merge(_positive(cond)[0])
    order, order_nodes = _order(query)
    return Pattern(query.collection, frozenset(conj.equal), frozenset(conj.listed - conj.equal),
                   frozenset(conj.contains), frozenset(conj.ranges), frozenset(conj.filtered),
                   order, _needs(query), {**conj.nodes, **order_nodes})
