"""Creating declared indexes: ``store.ensure_indexes(declared)``.

MongoDB: ``create_index`` for each declared index whose keys no index has
(https://www.mongodb.com/docs/manual/reference/method/db.collection.createIndex/).
DynamoDB: a missing table is created with its indexes; a missing GSI is added with
``UpdateTable`` (one at a time, as DynamoDB requires) and waited for until ``ACTIVE``
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.OnlineOps.html); an
LSI exists only from its table's creation, so a missing one is reported, not made.
Firestore's client libraries create no composite index: ``firestore_indexes_file``
writes the ``firestore.indexes.json`` the Firebase and gcloud tools deploy.

Nothing is dropped unless asked: an index that exists under the same name or keys but
with other options is reported as ``differs``, one that is not declared as
``undeclared``; with ``prune=True`` the undeclared ones are dropped (``dropped``) —
never MongoDB's ``_id_`` index, nor a DynamoDB LSI, which lives as long as its table
(``differs``, "cannot drop").
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from crossql.errors import BackendError
from crossql.indexes.model import DynamoIndex, FirestoreIndex, Index, MongoIndex, parse_indexes

Status = Literal["exists", "created", "differs", "undeclared", "dropped"]


@dataclass(frozen=True, slots=True)
class IndexOutcome:
    """What ``ensure_indexes`` found or did for one declared index."""

    backend: str
    collection: str
    index: str
    """The index in one line (``Index.text()``)."""
    status: Status
    detail: str = ""
    name: str = ""
    """The backend's name of the index it found or made (``""`` when none)."""

    def to_dict(self) -> dict[str, str]:
        """JSON-ready."""
        return {"backend": self.backend, "collection": self.collection, "index": self.index,
                "status": self.status, "detail": self.detail, "name": self.name}


def declared_for(backend: str, declared: Mapping[str, Sequence[Any]],
                 attribute_types: Mapping[str, Mapping[str, Any]] | None = None
                 ) -> dict[str, tuple[Index, ...]]:
    """``{collection: declarations}`` (plain data or models) as models; ``ConfigError``
    located at ``<backend>.<collection>.indexes.<i>`` for a bad one."""
    out: dict[str, tuple[Index, ...]] = {}
    for collection, entries in declared.items():
        models = [e for e in entries if isinstance(e, MongoIndex | DynamoIndex | FirestoreIndex)]
        raw = [e for e in entries if not isinstance(e, MongoIndex | DynamoIndex | FirestoreIndex)]
        types = (attribute_types or {}).get(collection)
        out[collection] = (*models, *parse_indexes(raw, backend, collection=collection,
                                                   attribute_types=types))
    return out


# --- MongoDB ---------------------------------------------------------------------------------


def _mongo_differences(index: MongoIndex, info: Mapping[str, Any]) -> list[str]:
    found = []
    if bool(info.get("unique")) != index.unique:
        found.append(f"unique is {bool(info.get('unique'))}")
    if bool(info.get("sparse")) != index.sparse:
        found.append(f"sparse is {bool(info.get('sparse'))}")
    partial = info.get("partialFilterExpression")
    if (dict(partial) if partial else None) != (dict(index.partial) if index.partial else None):
        found.append(f"partial filter is {json.dumps(partial, default=str, sort_keys=True)}")
    return found


async def ensure_mongo(database: Any, declared: Mapping[str, Sequence[Index]],
                       prune: bool = False) -> list[IndexOutcome]:
    """Create on ``database`` (an async PyMongo or Motor database) each declared index
    whose keys no index of its collection has; report the collection's other indexes as
    ``undeclared``, or drop them with ``prune`` (never ``_id_``)."""
    out: list[IndexOutcome] = []
    for collection, indexes in declared.items():
        coll = database[collection]
        existing: dict[str, Any] = dict(await coll.index_information())
        names = set(existing)
        matched: set[str] = set()
        for index in indexes:
            assert isinstance(index, MongoIndex)
            outcome = await _ensure_one_mongo(coll, collection, index, existing)
            matched.add(outcome.name)
            out.append(outcome)
        for name in sorted(names - matched - {"_id_"}):
            text = "{" + ", ".join(f"{k}: {d}" for k, d in _key_pairs(existing[name])) + "}"
            if prune:
                await coll.drop_index(name)
                out.append(IndexOutcome("mongodb", collection, text, "dropped",
                                        f"index {name!r}", name))
            else:
                out.append(IndexOutcome("mongodb", collection, text, "undeclared",
                                        f"index {name!r}: --prune drops it", name))
    return out


def _key_pairs(info: Mapping[str, Any]) -> list[tuple[str, int | str]]:
    """An existing index's keys; a direction is ``1``/``-1``, or a kind such as ``text`` or
    ``2dsphere`` (which no declaration has: such an index is never the declared one)."""
    return [(str(k), int(d) if isinstance(d, int | float) else str(d))
            for k, d in info.get("key", ())]


async def _ensure_one_mongo(coll: Any, collection: str, index: MongoIndex,
                            existing: dict[str, Any]) -> IndexOutcome:
    def outcome(status: Status, detail: str, name: str) -> IndexOutcome:
        return IndexOutcome("mongodb", collection, index.text(), status, detail, name)

    keys: list[tuple[str, int | str]] = [(k, int(d)) for k, d in index.keys]
    for name, info in existing.items():
        if _key_pairs(info) == keys:
            differences = _mongo_differences(index, info)
            if differences:
                return outcome("differs", f"index {name!r}: " + ", ".join(differences), name)
            return outcome("exists", f"index {name!r}", name)
    name = index.default_name()
    if name in existing:
        return outcome("differs", f"an index named {name!r} has other keys", name)
    options: dict[str, Any] = {"name": name}
    if index.unique:
        options["unique"] = True
    if index.sparse:
        options["sparse"] = True
    if index.partial is not None:
        options["partialFilterExpression"] = dict(index.partial)
    await coll.create_index(keys, **options)
    existing[name] = {"key": keys, **{k: v for k, v in options.items() if k != "name"}}
    return outcome("created", f"index {name!r}", name)


# --- DynamoDB --------------------------------------------------------------------------------


def _dynamo_keys(index: DynamoIndex, table_pk: str) -> list[dict[str, str]]:
    keys = [{"AttributeName": index.partition_key or table_pk, "KeyType": "HASH"}]
    if index.sort_key is not None:
        keys.append({"AttributeName": index.sort_key, "KeyType": "RANGE"})
    return keys


def _dynamo_projection(index: DynamoIndex) -> dict[str, Any]:
    if isinstance(index.projection, tuple):
        return {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(index.projection)}
    return {"ProjectionType": index.projection}


def _dynamo_differences(index: DynamoIndex, table_pk: str, have: Mapping[str, Any]
                        ) -> list[str]:
    found = []
    if list(have.get("KeySchema", ())) != _dynamo_keys(index, table_pk):
        keys = ", ".join(f"{k['AttributeName']} {k['KeyType']}" for k in have["KeySchema"])
        found.append(f"its keys are {keys}")
    projection = dict(have.get("Projection") or {})
    wanted = _dynamo_projection(index)
    if projection.get("ProjectionType") != wanted["ProjectionType"] or sorted(
            projection.get("NonKeyAttributes", ())) != sorted(
            wanted.get("NonKeyAttributes", ())):
        found.append(f"it projects {json.dumps(projection, sort_keys=True)}")
    return found


async def ensure_dynamo(store: Any, declared: Mapping[str, Sequence[Index]],
                        prune: bool = False) -> list[IndexOutcome]:
    """Create what is declared and missing on ``store`` (a ``DynamoStore``): a missing
    table with its indexes, else each missing GSI, waiting until it is ``ACTIVE``; report
    the table's other indexes as ``undeclared``, or with ``prune`` delete its other GSIs,
    waiting until they are gone (an LSI cannot be dropped: ``differs``)."""
    out: list[IndexOutcome] = []
    for collection, indexes in declared.items():
        dynamo = [i for i in indexes if isinstance(i, DynamoIndex)]
        try:
            answer = await store._call("describe_table", TableName=store.table_name(collection))
        except BackendError as err:
            if getattr(err, "code", None) != "ResourceNotFoundException":
                raise
            out += await _create_table(store, collection, dynamo)
            continue
        table = answer["Table"]
        for index in dynamo:
            out.append(await _ensure_one_dynamo(store, collection, table, index))
        out += await _undeclared_dynamo(store, collection, table, dynamo, prune)
        await store.describe(collection)  # plans from now on may use the new indexes
    return out


async def _undeclared_dynamo(store: Any, collection: str, table: Mapping[str, Any],
                             declared: Sequence[DynamoIndex], prune: bool
                             ) -> list[IndexOutcome]:
    out = []
    names = {i.name for i in declared}
    for kind, local in (("GlobalSecondaryIndexes", False), ("LocalSecondaryIndexes", True)):
        for have in table.get(kind) or ():
            name = have["IndexName"]
            if name in names:
                continue
            keys = ", ".join(f"{k['AttributeName']} {k['KeyType']}" for k in have["KeySchema"])
            text = f"{'LSI' if local else 'GSI'} {name} ({keys})"
            if local:
                status: Status = "differs" if prune else "undeclared"
                detail = ("undeclared LSI, cannot drop: it lives as long as its table" if prune
                          else "an LSI lives as long as its table")
                out.append(IndexOutcome("dynamodb", collection, text, status, detail, name))
            elif prune:
                # One GSI create or delete per UpdateTable; the wait ends when DescribeTable
                # no longer lists it as DELETING.
                await store._call("update_table", TableName=store.table_name(collection),
                                  GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": name}}])
                await store._wait_gone(collection, name)
                out.append(IndexOutcome("dynamodb", collection, text, "dropped", "", name))
            else:
                out.append(IndexOutcome("dynamodb", collection, text, "undeclared",
                                        "--prune deletes it", name))
    return out


async def _create_table(store: Any, collection: str, indexes: Sequence[DynamoIndex]
                        ) -> list[IndexOutcome]:
    types: dict[str, str] = {}
    for i in indexes:
        if i.partition_key:
            types[i.partition_key] = i.partition_key_type
        if i.sort_key:
            types[i.sort_key] = i.sort_key_type
    await store.create_collection(collection, indexes=[i.definition() for i in indexes],
                                  attribute_types=types)
    return [IndexOutcome("dynamodb", collection, i.text(), "created",
                         f"with table {store.table_name(collection)}") for i in indexes]


async def _ensure_one_dynamo(store: Any, collection: str, table: Mapping[str, Any],
                             index: DynamoIndex) -> IndexOutcome:
    def outcome(status: Status, detail: str = "") -> IndexOutcome:
        return IndexOutcome("dynamodb", collection, index.text(), status, detail, index.name)

    table_pk = next(k["AttributeName"] for k in table["KeySchema"] if k["KeyType"] == "HASH")
    kind = "LocalSecondaryIndexes" if index.local else "GlobalSecondaryIndexes"
    have = next((i for i in table.get(kind) or () if i["IndexName"] == index.name), None)
    if have is not None:
        differences = _dynamo_differences(index, table_pk, have)
        return outcome("differs", "; ".join(differences)) if differences else outcome("exists")
    if index.local:
        return outcome("differs", "an LSI is made only with its table, which has none of "
                                  "this name: recreate the table to add it")
    types = {index.partition_key: index.partition_key_type}
    if index.sort_key is not None:
        types[index.sort_key] = index.sort_key_type
    create: dict[str, Any] = {"IndexName": index.name,
                              "KeySchema": _dynamo_keys(index, table_pk),
                              "Projection": _dynamo_projection(index)}
    billing = (table.get("BillingModeSummary") or {}).get("BillingMode", "PROVISIONED")
    if billing != "PAY_PER_REQUEST":
        throughput = table.get("ProvisionedThroughput") or {}
        create["ProvisionedThroughput"] = {
            "ReadCapacityUnits": max(1, int(throughput.get("ReadCapacityUnits", 1))),
            "WriteCapacityUnits": max(1, int(throughput.get("WriteCapacityUnits", 1)))}
    await store._call(
        "update_table", TableName=store.table_name(collection),
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": t}
                              for n, t in types.items() if n is not None],
        GlobalSecondaryIndexUpdates=[{"Create": create}])
    await store._wait_active(collection)
    return outcome("created")


# --- Firestore -------------------------------------------------------------------------------


def firestore_indexes_file(declared: Mapping[str, Sequence[Index]], path: str | Path
                           ) -> list[IndexOutcome]:
    """Write the declared Firestore indexes to ``path`` as ``firestore.indexes.json``
    (https://firebase.google.com/docs/reference/firestore/indexes), keeping the indexes
    and field overrides an existing file already lists."""
    target = Path(path)
    document: dict[str, Any] = {"indexes": [], "fieldOverrides": []}
    if target.exists():
        document = json.loads(target.read_text(encoding="utf-8"))
    listed = document.setdefault("indexes", [])
    document.setdefault("fieldOverrides", [])
    out = []
    for collection, indexes in declared.items():
        for index in indexes:
            assert isinstance(index, FirestoreIndex)
            entry = index.to_json()
            status: Status = "exists" if entry in listed else "created"
            if status == "created":
                listed.append(entry)
            out.append(IndexOutcome("firestore", collection, index.text(), status, str(target)))
    target.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n",
                      encoding="utf-8")
    return out
