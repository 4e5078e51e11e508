"""Smoke test for the MongoDB test server (SecantusDB or a real mongod).

Usage: MONGODB_URI=mongodb://127.0.0.1:27017/ python mongodb_smoke.py
Inserts, finds with a filter, runs a multi-document transaction and pings
with AsyncMongoClient. Uses (and drops) the database "crossql_smoke".
"""

import asyncio
import os
import sys

import pymongo
from pymongo import AsyncMongoClient, MongoClient

URI = os.environ.get("MONGODB_URI", "mongodb://127.0.0.1:27017/")
DB = "crossql_smoke"


def sync_checks() -> None:
    client = MongoClient(URI, serverSelectionTimeoutMS=5000)
    try:
        hello = client.admin.command("hello")
        print(
            f"hello: setName={hello.get('setName')!r} maxWireVersion={hello.get('maxWireVersion')}"
        )
        coll = client[DB].items
        coll.drop()
        coll.insert_many(
            [{"_id": i, "n": i, "tag": "even" if i % 2 == 0 else "odd"} for i in range(10)]
        )
        found = [d["_id"] for d in coll.find({"tag": "odd", "n": {"$gt": 3}}).sort("n", 1)]
        assert found == [5, 7, 9], found
        assert coll.count_documents({"tag": "even"}) == 5
        print(f"insert + find with filter: ok {found}")

        if hello.get("setName"):  # transactions need a replica set (member)
            with client.start_session() as session, session.start_transaction():
                coll.insert_one({"_id": 100}, session=session)
                assert coll.find_one({"_id": 100}) is None  # not visible outside yet
            assert coll.find_one({"_id": 100}) is not None
            with client.start_session() as session:
                session.start_transaction()
                coll.insert_one({"_id": 101}, session=session)
                session.abort_transaction()
            assert coll.find_one({"_id": 101}) is None
            print("transactions (commit + abort): ok")
        else:
            print("transactions: skipped (standalone server)")
        client.drop_database(DB)
    finally:
        client.close()


async def async_checks() -> None:
    client = AsyncMongoClient(URI, serverSelectionTimeoutMS=5000)
    try:
        reply = await client.admin.command("ping")
        assert reply.get("ok") == 1.0, reply
        print("AsyncMongoClient ping: ok")
    finally:
        await client.close()


def main() -> int:
    print(f"pymongo {pymongo.version} -> {URI}")
    sync_checks()
    asyncio.run(async_checks())
    print("mongodb smoke test: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
