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
fails its batch's precondition: nothing of that batch is written, and the runtime
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
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from crossql import ir
from crossql.backends.base import WRITE_CONSTRUCTS, Capabilities, Plan, refuse
from crossql.backends.firestore.plan import FirestorePlan, field_path
from crossql.backends.firestore.results import driver_error, is_driver_error, plain
from crossql.errors import BackendError, CapabilityError
from crossql.runtime.store import Document, with_id_first
from crossql.semantics.reference import get_path
from crossql.semantics.writes import WriteResult, assignment_applies, selects, strict_equal, updated

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

    def transforms(self, old: Document, increment: Any) -> dict[str, Any] | None:
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
        result: dict[str, Any] = json.loads(json.dumps(out))
        return result

    def explain(self) -> str:
        lines = [f"firestore: query `{self.collection}`, then batched {self.kind}s — "
                 f"{self.atomic}", "  read: " + self.read.explain().replace("\n", "\n  ")]
        if self.reads_past_limit:
            lines.append(f"  the read runs without its limit; the first {self.limit} "
                         "documents the assignments apply to are written")
        if self.kind == "update":
            lines.append("  update: " + json.dumps(self._update(), ensure_ascii=False))
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
                                          else repr(v))
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

    # -- running ------------------------------------------------------------------------------
    def _applies(self, doc: Document) -> bool:
        statement = self.statement
        return not isinstance(statement, ir.Update) or all(
            assignment_applies(a, doc) for a in statement.assignments)

    def _new(self, doc: Document, note: str = "") -> Document:
        assert isinstance(self.statement, ir.Update)
        try:
            return updated(self.statement, doc)
        except BackendError as err:  # an increment out of range
            raise BackendError(BACKEND, err.message + note) from err

    async def run(self, store: Any) -> WriteResult:
        """Run on an open ``FirestoreStore`` (the store's ``execute_plan`` calls this)."""
        if store._tx is not None:
            return await self._run_in_transaction(store)
        from google.api_core import exceptions
        from google.cloud import firestore

        client = store.client
        done: set[str] = set()  # written, or matched with nothing to change
        matched = modified = 0
        left = self.limit
        for attempt in range(1, MAX_ATTEMPTS + 1):
            if self.read.static_rows is not None or left == 0:
                break
            limited = attempt == 1 and not self.reads_past_limit
            # (snapshot, fields to write or None to delete, whether they are transforms)
            writes: list[tuple[Any, dict[str, Any] | None, bool]] = []
            for snap in await store.plan_snapshots(self.read, limited=limited):
                if snap.id in done:
                    continue
                if left is not None and len(writes) >= left:
                    break
                old = with_id_first(plain(snap.to_dict() or {}), snap.id)
                if not self._applies(old):
                    continue
                fields = None
                transform = False
                if self.kind == "update":
                    note = f" ({matched} documents were written before)" if matched else ""
                    fields = changes(old, self._new(old, note), firestore.DELETE_FIELD)
                    if fields and self.increments_only:
                        # the read proved each counter a number (the reference's condition)
                        # and in range: Increment adds to whatever value concurrent
                        # increments left, where a computed value would fail its precondition
                        transforms = self.transforms(old, firestore.Increment)
                        if transforms is not None:
                            fields, transform = transforms, True
                writes.append((snap, fields, transform))
            unchanged = [snap.id for snap, fields, _ in writes if fields == {}]
            done.update(unchanged)
            matched += len(unchanged)
            if left is not None:
                left -= len(unchanged)
            writes = [w for w in writes if w[1] != {}]
            try:
                for start in range(0, len(writes), BATCH_SIZE):
                    chunk = writes[start:start + BATCH_SIZE]
                    batch = client.batch()
                    for snap, fields, transform in chunk:
                        if transform:
                            # `update` carries the precondition exists=True itself (the
                            # client refuses an explicit one)
                            batch.update(snap.reference, fields)
                            continue
                        option = client.write_option(last_update_time=snap.update_time)
                        if fields is None:
                            batch.delete(snap.reference, option=option)
                        else:
                            batch.update(snap.reference, fields, option=option)
                    await batch.commit(**store._call(write=True))
                    done.update(snap.id for snap, _, _ in chunk)
                    matched += len(chunk)
                    modified += len(chunk) if self.kind == "update" else 0
                    if left is not None:
                        left -= len(chunk)
            except (exceptions.FailedPrecondition, exceptions.NotFound, exceptions.Aborted):
                # a document changed since the read (Aborted: the emulator's lock timeout
                # while a transaction holds it): read the rest again
                continue
            except Exception as err:
                if is_driver_error(err):
                    raise driver_error(err) from err
                raise
            break
        else:
            raise BackendError("firestore", "documents kept changing (or stayed locked by a "
                               f"transaction) during the write; "
                               f"{matched} were written, the others were not")
        if self.kind == "delete":
            return WriteResult(matched=matched, deleted=matched)
        return WriteResult(matched=matched, modified=modified)

    async def _run_in_transaction(self, store: Any) -> WriteResult:
        """The write in ``store``'s transaction: read through it, then keep the writes for
        its commit (refused, with nothing kept, past the transaction's write limit)."""

        tx = store._tx
        tx.check_open()
        written = dict(tx.live(self.collection))
        docs: list[Document] = []
        if self.read.static_rows is None:
            limited = not written and not self.reads_past_limit
            for snap in await store.plan_snapshots(self.read, limited=limited):
                if snap.id in written:
                    continue  # taken as the transaction left it, below
                old = with_id_first(plain(snap.to_dict() or {}), snap.id)
                if self._applies(old):
                    docs.append(old)
        docs += [doc for doc in written.values()
                 if doc is not None and selects(self.statement, doc)]
        if self.limit is not None:
            docs = sorted(docs, key=lambda doc: str(doc["_id"]))[:self.limit]
        if self.kind == "delete":
            tx.reserve(self.collection, [doc["_id"] for doc in docs])
            for doc in docs:
                tx.stage_delete(self.collection, doc["_id"])
            return WriteResult(matched=len(docs), deleted=len(docs))
        changed = [(old, new) for old in docs
                   if not strict_equal(new := self._new(old), old)]
        tx.reserve(self.collection, [old["_id"] for old, _ in changed])
        for old, new in changed:
            tx.stage_update(self.collection, old, new)
        return WriteResult(matched=len(docs), modified=len(changed))


def _nested_list(value: Any) -> bool:
    return isinstance(value, list) and any(isinstance(v, list) for v in value)


def compile_firestore_write(statement: ir.Update | ir.Delete, *, schema: Any = None,
                            options: Any = None) -> FirestoreWritePlan:
    """Compile a bound ``update``/``delete`` into a Firestore write plan."""
    from crossql.backends.firestore.compiler import LIMITS, compile_firestore

    limit = statement.limit
    n = limit.value if isinstance(limit, ir.Literal) else None
    assert n is None or isinstance(n, int)
    read = compile_firestore(ir.Query(statement.collection, statement.where, limit=limit,
                                      span=statement.span, source=statement.source),
                             schema=schema, options=options)

    def fail(node: Any, message: str, hint: str) -> Exception:
        return refuse(BACKEND, "update", node, message, hint=hint, source=statement.source)

    fields: list[tuple[tuple[str, ...], Any, Op]] = []
    if isinstance(statement, ir.Update):
        for item in statement.assignments:
            segments = item.path.segments
            if len(segments) > LIMITS["field path segments"]:
                raise CapabilityError(
                    f"firestore field paths have at most {LIMITS['field path segments']} "
                    f"segments; `{item.path.dotted}` has {len(segments)}",
                    backend=BACKEND, construct="field name", span=item.path.span,
                    code="capability.firestore.path-segments", source=statement.source,
                    hint="Firestore nests maps at most 20 levels deep: store the value at "
                         "a shallower path")
            if isinstance(item, ir.Increment):
                amount = item.amount
                assert isinstance(amount, ir.Literal), "a bound statement has no parameters"
                fields.append((item.path.segments, amount.value, "add"))
            elif isinstance(item, ir.SetField):
                assert not isinstance(item.value, ir.Param)
                value = ir.python_value(item.value)
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
