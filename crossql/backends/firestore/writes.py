"""CrossQL writes → Firestore: the read query, then batched writes (at most 500 per
batch), each write with the document's ``last_update_time`` as precondition.

The plan reads the documents the ``where`` selects (the read plan of ``from <c>
where <cond> [limit n]``: exactly the read's filters and refusals). From each
snapshot it computes the document's new values client-side, with the reference
semantics of writes (crossql/semantics/writes.py): ``p = p + n`` adds to a number
only, ``set a.b = v`` writes below a map or a missing ``a``; a document where an
assignment does not apply is not matched. Then it writes the fields that changed
(``batch.update(ref, {path: value | DELETE_FIELD})``) or deletes
(``batch.delete(ref)``), in batches, each write with
``write_option(last_update_time=...)`` of the snapshot read: the values are written
only on the document they were computed from. A document changed since the read
fails its batch's precondition: nothing of that batch is written, and the store
reads again (the documents not written yet, re-checked by the server's filters and
the assignments) and retries, at most ``MAX_ATTEMPTS`` times; then it raises
``BackendError``. A document the write leaves as it was is matched, not written.

Atomicity: each batch (up to 500 documents) is atomic; the statement is not
atomic across batches, nor between the read and the writes.

In a transaction (``FirestoreStore.begin_transaction``) the read runs in the
transaction, the documents the transaction already wrote are taken as it left them,
and the writes are kept for its commit (no batches, no preconditions: the
transaction holds what it read).

Refused (``CapabilityError``): a list value holding a list (Firestore cannot store
arrays in arrays).

The plan is data and its renderings; ``FirestoreStore.execute_plan`` runs it (the
driver is imported there only).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from crossql import ir
from crossql._frozen import fast_init
from crossql.backends.base import WRITE_CONSTRUCTS, Capabilities, Plan, refuse
from crossql.backends.firestore.compiler import LIMITS, compile_firestore
from crossql.backends.firestore.plan import FirestorePlan, field_path
from crossql.backends.firestore.values import DECIMAL_HINT, python_source, value_json
from crossql.errors import BackendError
from crossql.semantics.reference import get_path
from crossql.semantics.writes import assignment_applies, strict_equal, updated

BACKEND = "firestore"
BATCH_SIZE = 500
"""Writes per batch (Firestore's limit for one commit)."""
MAX_ATTEMPTS = 3
"""Reads-then-writes tried before a document that keeps changing is an error."""

Op = Literal["set", "unset", "add"]

INT_HEADROOM = 2**62
"""An int counter read within this of zero, with an int amount of at most
``INT_AMOUNT``, is incremented by Firestore's ``Increment`` transform: concurrent
increments cannot carry it out of int64 (where ``Increment`` saturates and CrossQL
refuses) unless some 2³² of them meet between one read and its write."""
INT_AMOUNT = 2**30
FLOAT_HEADROOM = 2.0**1000
"""As ``INT_HEADROOM``, for a counter or an amount that is a float (it becomes inf only
past about 2¹⁰²⁴)."""


def _headroom(value: Any, amount: Any) -> bool:
    """Whether ``value + amount`` may be left to an ``Increment`` transform: ``value`` is
    a number (the reference's condition for ``p = p + n``) far enough from the ends of
    its range that concurrent increments cannot reach them (``INT_HEADROOM``)."""
    if type(value) is bool or not isinstance(value, int | float):
        return False
    if type(value) is int and type(amount) is int:
        return abs(value) <= INT_HEADROOM and abs(amount) <= INT_AMOUNT
    return (math.isfinite(value) and math.isfinite(amount)
            and abs(value) <= FLOAT_HEADROOM and abs(amount) <= FLOAT_HEADROOM)


def changes(old: Mapping[str, Any], new: Mapping[str, Any], delete: Any,
            prefix: tuple[str, ...] = ()) -> dict[str, Any]:
    """The update that turns ``old`` into ``new``: field path → new value, or ``delete``
    (``DELETE_FIELD``) for a field ``new`` lacks. Maps in both are compared field by
    field, so fields that do not change are never written."""
    out: dict[str, Any] = {}
    for key, value in new.items():
        if not prefix and key == "_id":
            continue
        path = (*prefix, key)
        if key not in old:
            out[field_path(path)] = value
        elif isinstance(value, dict) and isinstance(old[key], dict):
            out.update(changes(old[key], value, delete, path))
        elif not strict_equal(old[key], value):
            out[field_path(path)] = value
    for key in old:
        if key not in new and (prefix or key != "_id"):
            out[field_path((*prefix, key))] = delete
    return out


@fast_init
@dataclass(frozen=True, slots=True)
class FirestoreWritePlan(Plan):
    """Read with ``read``; compute each document's new values from its snapshot; then
    batched updates of the changed fields, or deletes, each with a ``last_update_time``
    precondition."""

    kind: Literal["update", "delete"]
    collection: str
    read: FirestorePlan
    fields: tuple[tuple[tuple[str, ...], Any, Op], ...]
    """(path, value, ``set``/``unset``/``add``) per assignment."""
    statement: ir.Update | ir.Delete
    limit: int | None = None
    backend = "firestore"
    atomic = ("each batch of up to 500 documents atomically; not atomic across batches, nor "
              "between the read and the writes")

    @property
    def reads_past_limit(self) -> bool:
        """Whether the read ignores ``limit``: some documents it finds may not take the
        assignments (``p + n`` on a non-number, ``a.b`` below a non-map), so the first
        ``n`` found are not necessarily the first ``n`` written."""
        return self.limit is not None and any(
            op == "add" or len(path) > 1 for path, _, op in self.fields)

    @property
    def increments_only(self) -> bool:
        """Whether every assignment is an increment: then a document whose counters read
        as numbers with headroom (``_headroom``) is written with ``Increment`` transforms
        under an ``exists`` precondition, which concurrent increments do not fail."""
        return self.kind == "update" and bool(self.fields) and all(
            op == "add" for _, _, op in self.fields)

    def transforms(self, old: Mapping[str, Any], increment: Any) -> dict[str, Any] | None:
        """The ``Increment`` transforms (``increment(amount)``) of ``old``'s counters, or
        None when one of them is too near the end of its range (then the computed value
        is written under the ``last_update_time`` precondition, exactly)."""
        out: dict[str, Any] = {}
        for path, amount, _ in self.fields:
            if not _headroom(get_path(old, path), amount):
                return None
            out[field_path(path)] = increment(amount)
        return out

    def _update(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for path, value, op in self.fields:
            out[field_path(path)] = ("DELETE_FIELD" if op == "unset" else
                                     {"add": value} if op == "add" else value)
        return out

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "backend": "firestore", "operation": f"query then batched {self.kind}s",
            "collection": self.collection, "read": self.read.to_dict(),
            "batch_size": BATCH_SIZE, "precondition": "last_update_time of the read",
            "atomic": self.atomic}
        if self.kind == "update":
            out["update"] = self._update()
            out["computed"] = ("each document's new values from its snapshot; a document "
                               "where an assignment does not apply is not matched; only the "
                               "fields that change are written")
        if self.increments_only:
            out["increments"] = ("Increment transforms with an `exists` precondition on "
                                 "each document whose counters read as numbers with "
                                 "headroom; the computed values under the precondition "
                                 "above otherwise")
        if self.limit is not None:
            out["limit"] = self.limit
            if self.reads_past_limit:
                out["read_limit"] = "none: the first documents the assignments apply to"
        result: dict[str, Any] = json.loads(json.dumps(out, default=value_json))
        return result

    def explain(self) -> str:
        lines = [f"firestore: query `{self.collection}`, then batched {self.kind}s — "
                 f"{self.atomic}", "  read: " + self.read.explain().replace("\n", "\n  ")]
        if self.reads_past_limit:
            lines.append(f"  the read runs without its limit; the first {self.limit} "
                         "documents the assignments apply to are written")
        if self.kind == "update":
            lines.append("  update: " + json.dumps(self._update(), ensure_ascii=False,
                                                  default=value_json))
            lines.append("  each document's new values are computed from its snapshot "
                         "(`p + n` only on a number, `a.b` only below a map or a missing "
                         "`a`; a document where one does not apply is not matched); only "
                         "the fields that change are written")
        lines.append(f"  batches of {BATCH_SIZE}, each write with the document's "
                     "last_update_time as precondition; a changed document fails its batch, "
                     f"which is read again and retried (at most {MAX_ATTEMPTS} attempts)")
        if self.increments_only:
            lines.append(
                "  increments: a document whose counters read as numbers (with headroom: "
                "ints within 2^62 of zero, amounts up to 2^30) is written with Firestore's "
                "`Increment` transforms under an `exists` precondition instead, so "
                "concurrent increments all land; residual race: a writer that makes a "
                "counter a non-number between the read and the write has it overwritten "
                "(docs/backends/firestore.md)")
        return "\n".join(lines)

    def to_python(self) -> str:
        loop = ("for snapshot in ([doc] if rows else []):  # the document, when it matches"
                if self.read.document is not None else "async for snapshot in query.stream():")
        body = [self.read.to_python(), "batch = db.batch()", loop,
                "    option = db.write_option(last_update_time=snapshot.update_time)"]
        if self.kind == "update":
            update = ", ".join(
                f"{field_path(p)!r}: " + ("firestore.DELETE_FIELD" if op == "unset" else
                                          f"old[{field_path(p)!r}] + {v!r}" if op == "add"
                                          else python_source(v))
                for p, v, op in self.fields)
            body += ["    old = snapshot.to_dict()",
                     f"    new = {{{update}}}  # computed by CrossQL (reference semantics)",
                     "    if not all_assignments_apply(old):  # `p + n` on a number, "
                     "`a.b` below a map",
                     "        continue"]
            if self.increments_only:
                increments = ", ".join(f"{field_path(p)!r}: firestore.Increment({v!r})"
                                       for p, v, _ in self.fields)
                body += ["    if counters_have_headroom(old):  # ints within 2**62 of zero",
                         f"        batch.update(snapshot.reference, {{{increments}}})",
                         "        continue"]
            body.append("    batch.update(snapshot.reference, changed_fields(old, new), "
                        "option=option)")
        else:
            body.append("    batch.delete(snapshot.reference, option=option)")
        body.append(f"await batch.commit()  # every {BATCH_SIZE} writes")
        return "\n".join(body)

    def summary(self) -> str:
        return f"query then batched {self.kind}s (atomic per batch of {BATCH_SIZE})"

    # -- what the store computes from each snapshot (FirestoreStore.execute_plan) -----------
    def applies(self, doc: Mapping[str, Any]) -> bool:
        """Whether every assignment applies to ``doc`` (a delete applies everywhere): a
        document where one does not is not matched."""
        statement = self.statement
        return not isinstance(statement, ir.Update) or all(
            assignment_applies(a, doc) for a in statement.assignments)

    def new_document(self, doc: dict[str, Any], note: str = "") -> dict[str, Any]:
        """``doc`` after the assignments (reference semantics); an increment out of range
        is a ``BackendError`` whose message ends with ``note``."""
        assert isinstance(self.statement, ir.Update)
        try:
            return updated(self.statement, doc)
        except BackendError as err:  # an increment out of range
            raise BackendError(BACKEND, err.message + note) from err


def _nested_list(value: Any) -> bool:
    return isinstance(value, list) and any(isinstance(v, list) for v in value)


def _check_written(item: ir.Assignment, value: Any, source: str | None) -> None:
    """Refuse, located at the assignment, a value Firestore cannot store as it is (a
    ``Decimal`` would read back as a double: values.py)."""
    if type(value) is list:
        for v in value:
            _check_written(item, v, source)
    elif isinstance(value, Decimal):
        raise refuse(BACKEND, "value", item, f"firestore cannot store the Decimal {value} "
                     "exactly (it would read back as a double)", DECIMAL_HINT, source,
                     rule="decimal")


def compile_firestore_write(statement: ir.Update | ir.Delete, *, schema: Any = None,
                            options: Any = None) -> FirestoreWritePlan:
    """Compile a bound ``update``/``delete`` into a Firestore write plan."""
    limit = statement.limit
    n = limit.value if isinstance(limit, ir.Literal) else None
    assert n is None or isinstance(n, int)
    read = compile_firestore(ir.Query(statement.collection, statement.where, limit=limit,
                                      span=statement.span, source=statement.source),
                             schema=schema, options=options)
    assert isinstance(read, FirestorePlan)  # a `where` and a limit: nothing client-side

    def fail(node: Any, message: str, hint: str) -> Exception:
        return refuse(BACKEND, "update", node, message, hint=hint, source=statement.source,
                      rule="nested-array")

    fields: list[tuple[tuple[str, ...], Any, Op]] = []
    if isinstance(statement, ir.Update):
        for item in statement.assignments:
            segments = item.path.segments
            if len(segments) > LIMITS["field path segments"]:
                raise refuse(
                    BACKEND, "field name", item.path,
                    f"firestore field paths have at most {LIMITS['field path segments']} "
                    f"segments; `{item.path.dotted}` has {len(segments)}",
                    "Firestore nests maps at most 20 levels deep: store the value at "
                    "a shallower path", statement.source, rule="path-segments")
            if isinstance(item, ir.Increment):
                amount = item.amount
                assert isinstance(amount, ir.Literal), "a bound statement has no parameters"
                _check_written(item, amount.value, statement.source)
                fields.append((item.path.segments, amount.value, "add"))
            elif isinstance(item, ir.SetField):
                assert not isinstance(item.value, ir.Param)
                value = ir.python_value(item.value)
                _check_written(item, value, statement.source)
                if _nested_list(value):
                    raise fail(item, "firestore cannot store an array inside an array",
                               "store a map of arrays instead")
                fields.append((item.path.segments, value, "set"))
            else:
                fields.append((item.path.segments, None, "unset"))
    return FirestoreWritePlan(
        kind="update" if isinstance(statement, ir.Update) else "delete",
        collection=statement.collection, read=read, fields=tuple(fields),
        statement=statement, limit=n)


WRITE_CAPABILITIES = Capabilities(
    backend="firestore",
    constructs=WRITE_CONSTRUCTS,
    support={"set p = v": "rewritten", "set a.b = v": "rewritten", "p = p + n": "rewritten",
             "unset p": "rewritten", "delete": "rewritten", "limit (writes)": "rewritten",
             "transaction": "native"},
    notes={
        "set p = v": "the read query, then batched `update`s (500 a batch), each with the "
                     "document's `last_update_time` as precondition (a changed document "
                     "fails its batch, which is read again: at most 3 attempts); a list "
                     "holding a list is refused",
        "set a.b = v": "the new values are computed from each snapshot with the reference "
                       "semantics (a non-map `a` is not matched), then written under the "
                       "precondition",
        "p = p + n": "numbers only, checked on each snapshot (`Increment` alone would "
                     "create a missing field); a statement of increments only sends "
                     "`Increment` transforms (no lost update under contention), else the "
                     "computed value under the precondition",
        "unset p": "`DELETE_FIELD` under the precondition",
        "delete": "batched `delete`s under the precondition",
        "limit (writes)": "the read's `limit` (dropped when an assignment may not apply, "
                          "then `n` documents taken)",
        "transaction": "`AsyncClient.transaction()`: reads lock, writes kept for the commit "
                       "(at most 500); a read after a write is refused; `Aborted` → "
                       "`TransactionConflict`",
    },
)
