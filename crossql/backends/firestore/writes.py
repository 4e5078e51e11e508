"""CrossQL writes → Firestore: the read query, then batched writes (at most 500 per
batch), each write with the document's ``last_update_time`` as precondition.

The plan reads the documents the ``where`` selects (the read plan of ``from <c>
where <cond> [limit n]``: exactly the read's filters and refusals), then writes
them in batches: ``batch.update(ref, {field: value | DELETE_FIELD})`` or
``batch.delete(ref)``, each with ``write_option(last_update_time=...)`` of the
snapshot read. A document changed since the read fails its batch's precondition:
nothing of that batch is written, and the runtime reads again (the documents not
written yet, re-checked by the server's filters) and retries, at most
``MAX_ATTEMPTS`` times; then it raises ``BackendError``.

Atomicity: each batch (up to 500 documents) is atomic; the statement is not
atomic across batches, nor between the read and the writes.

Refused (``CapabilityError``): ``p = p + n`` (``firestore.Increment`` creates a
missing field and overwrites a non-number, and Firestore cannot filter on "holds
a number" without an inequality that reshapes the query); an assignment to a
nested path (``a.b``: Firestore would replace a non-map ``a``, where the
reference leaves the document alone); a list value holding a list (Firestore
cannot store arrays in arrays).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from crossql import ir
from crossql.backends.base import Plan, refuse
from crossql.backends.firestore.plan import FirestorePlan, field_path
from crossql.errors import BackendError
from crossql.runtime.writes import WriteResult, strict_equal, updated

BACKEND = "firestore"
BATCH_SIZE = 500
"""Writes per batch (Firestore's limit for one commit)."""
MAX_ATTEMPTS = 3
"""Reads-then-writes tried before a document that keeps changing is an error."""


@dataclass(frozen=True, slots=True)
class FirestoreWritePlan(Plan):
    """Read with ``read``, then batched updates (``fields``: path → value, None for
    ``DELETE_FIELD``) or deletes, each with a ``last_update_time`` precondition."""

    kind: Literal["update", "delete"]
    collection: str
    read: FirestorePlan
    fields: tuple[tuple[tuple[str, ...], Any, bool], ...]
    """(path, value, is unset) per assignment."""
    statement: ir.Update | ir.Delete
    limit: int | None = None
    backend = "firestore"
    atomic = ("each batch of up to 500 documents atomically; not atomic across batches, nor "
              "between the read and the writes")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "backend": "firestore", "operation": f"query then batched {self.kind}s",
            "collection": self.collection, "read": self.read.to_dict(),
            "batch_size": BATCH_SIZE, "precondition": "last_update_time of the read",
            "atomic": self.atomic}
        if self.kind == "update":
            out["update"] = {field_path(p): ("DELETE_FIELD" if unset else v)
                             for p, v, unset in self.fields}
        if self.limit is not None:
            out["limit"] = self.limit
        result: dict[str, Any] = json.loads(json.dumps(out))
        return result

    def explain(self) -> str:
        lines = [f"firestore: query `{self.collection}`, then batched {self.kind}s — "
                 f"{self.atomic}", "  read: " + self.read.explain().replace("\n", "\n  ")]
        if self.kind == "update":
            lines.append("  update: " + json.dumps(self.to_dict()["update"], ensure_ascii=False))
        lines.append(f"  batches of {BATCH_SIZE}, each write with the document's "
                     "last_update_time as precondition; a changed document fails its batch, "
                     f"which is read again and retried (at most {MAX_ATTEMPTS} attempts)")
        return "\n".join(lines)

    def to_python(self) -> str:
        body = [self.read.to_python(), "batch = db.batch()",
                "async for snapshot in query.stream():",
                "    option = db.write_option(last_update_time=snapshot.update_time)"]
        if self.kind == "update":
            update = ", ".join(
                f"{field_path(p)!r}: " + ("firestore.DELETE_FIELD" if unset else repr(v))
                for p, v, unset in self.fields)
            body.append(f"    batch.update(snapshot.reference, {{{update}}}, option=option)")
        else:
            body.append("    batch.delete(snapshot.reference, option=option)")
        body.append(f"await batch.commit()  # every {BATCH_SIZE} writes")
        return "\n".join(body)

    def summary(self) -> str:
        return f"query then batched {self.kind}s (atomic per batch of {BATCH_SIZE})"

    async def run(self, store: Any) -> WriteResult:
        """Run on an open ``FirestoreStore`` (the store's ``execute_plan`` calls this)."""
        from google.api_core import exceptions
        from google.cloud import firestore

        from crossql.backends.firestore.store import _driver_error, _is_driver_error, _plain

        client = store.client
        written: set[str] = set()
        matched = modified = 0
        left = self.limit
        for attempt in range(1, MAX_ATTEMPTS + 1):
            if self.read.static_rows is not None or left == 0:
                break
            query = self.read.build(client) if attempt == 1 or left is None else \
                self.read_without_limit(client)
            try:
                snapshots = [s async for s in query.stream(**store._call())
                             if s.id not in written]
            except Exception as err:
                if _is_driver_error(err):
                    raise _driver_error(err) from err
                raise
            if left is not None:
                snapshots = snapshots[:left]
            try:
                for start in range(0, len(snapshots), BATCH_SIZE):
                    chunk = snapshots[start:start + BATCH_SIZE]
                    batch = client.batch()
                    changed = 0
                    for snap in chunk:
                        option = client.write_option(last_update_time=snap.update_time)
                        if self.kind == "delete":
                            batch.delete(snap.reference, option=option)
                            continue
                        old = _plain(snap.to_dict() or {})
                        if not strict_equal(updated(self.statement, old), old):  # type: ignore[arg-type]
                            changed += 1
                        batch.update(snap.reference, {
                            field_path(p): firestore.DELETE_FIELD if unset else v
                            for p, v, unset in self.fields}, option=option)
                    await batch.commit(**store._call(write=True))
                    written.update(s.id for s in chunk)
                    matched += len(chunk)
                    modified += changed
                    if left is not None:
                        left -= len(chunk)
            except (exceptions.FailedPrecondition, exceptions.NotFound):
                continue  # a document changed since the read: read the rest again
            except Exception as err:
                if _is_driver_error(err):
                    raise _driver_error(err) from err
                raise
            break
        else:
            raise BackendError("firestore", f"documents kept changing during the write; "
                               f"{matched} were written, the others were not")
        if self.kind == "delete":
            return WriteResult(matched=matched, deleted=matched)
        return WriteResult(matched=matched, modified=modified)

    def read_without_limit(self, client: Any) -> Any:
        """The read query without its ``limit`` (a retry skips the documents written)."""
        from dataclasses import replace

        from crossql.backends.firestore.plan import Limit

        return replace(self.read, steps=tuple(
            s for s in self.read.steps if not isinstance(s, Limit))).build(client)


def _nested_list(value: Any) -> bool:
    return isinstance(value, list) and any(isinstance(v, list) for v in value)


def compile_firestore_write(statement: ir.Update | ir.Delete, *, schema: Any = None,
                            options: Any = None) -> FirestoreWritePlan:
    """Compile a bound ``update``/``delete`` into a Firestore write plan."""
    from crossql.backends.firestore.compiler import compile_firestore

    limit = statement.limit
    n = limit.value if isinstance(limit, ir.Literal) else None
    assert n is None or isinstance(n, int)
    read = compile_firestore(ir.Query(statement.collection, statement.where, limit=limit,
                                      span=statement.span, source=statement.source),
                             schema=schema, options=options)

    def fail(node: Any, message: str, hint: str) -> Exception:
        return refuse(BACKEND, "update", node, message, hint=hint, source=statement.source)

    fields: list[tuple[tuple[str, ...], Any, bool]] = []
    if isinstance(statement, ir.Update):
        for item in statement.assignments:
            if isinstance(item, ir.Increment):
                raise fail(item, "firestore cannot add to a field faithfully: "
                           "`Increment` creates a missing field and overwrites a non-number",
                           "read the value and set it, in a transaction")
            if len(item.path.segments) > 1:
                raise fail(item, f"firestore cannot write `{item.path.dotted}` below a map: "
                           "it would replace a non-map parent", "set the whole map instead")
            if isinstance(item, ir.SetField):
                assert not isinstance(item.value, ir.Param)
                value = ir.python_value(item.value)
                if _nested_list(value):
                    raise fail(item, "firestore cannot store an array inside an array",
                               "store a map of arrays instead")
                fields.append((item.path.segments, value, False))
            else:
                fields.append((item.path.segments, None, True))
    return FirestoreWritePlan(
        kind="update" if isinstance(statement, ir.Update) else "delete",
        collection=statement.collection, read=read, fields=tuple(fields),
        statement=statement, limit=n)
