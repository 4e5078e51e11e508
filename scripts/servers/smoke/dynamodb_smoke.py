"""Smoke test for DynamoDB Local.

Usage: DYNAMODB_ENDPOINT=http://127.0.0.1:8000 python dynamodb_smoke.py
Creates a table, puts items, queries (boto3), then queries with aioboto3,
and deletes the table.
"""

import asyncio
import os
import sys
import uuid

import aioboto3
import boto3
from boto3.dynamodb.conditions import Key

ENDPOINT = os.environ.get("DYNAMODB_ENDPOINT", "http://127.0.0.1:8000")
REGION = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
CREDS = {
    "aws_access_key_id": os.environ.get("AWS_ACCESS_KEY_ID", "crossqllocal"),
    "aws_secret_access_key": os.environ.get("AWS_SECRET_ACCESS_KEY", "crossqllocal"),
}
TABLE = f"crossql_smoke_{uuid.uuid4().hex[:8]}"


def sync_checks() -> None:
    ddb = boto3.resource("dynamodb", endpoint_url=ENDPOINT, region_name=REGION, **CREDS)
    table = ddb.create_table(
        TableName=TABLE,
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    table.wait_until_exists()
    print(f"create_table {TABLE}: ok")
    with table.batch_writer() as batch:
        for i in range(10):
            batch.put_item(
                Item={"pk": "user#1" if i < 6 else "user#2", "sk": i, "name": f"item {i}"}
            )
    table.put_item(Item={"pk": "user#1", "sk": 100, "name": "single put"})
    resp = table.query(KeyConditionExpression=Key("pk").eq("user#1") & Key("sk").between(2, 100))
    sks = [int(item["sk"]) for item in resp["Items"]]
    assert sks == [2, 3, 4, 5, 100], sks
    print(f"put_item + query: ok {sks}")


async def async_checks() -> None:
    session = aioboto3.Session(region_name=REGION, **CREDS)
    async with session.resource("dynamodb", endpoint_url=ENDPOINT) as ddb:
        table = await ddb.Table(TABLE)
        resp = await table.query(KeyConditionExpression=Key("pk").eq("user#2"))
        sks = [int(item["sk"]) for item in resp["Items"]]
        assert sks == [6, 7, 8, 9], sks
        print(f"aioboto3 query: ok {sks}")
        await table.delete()


def main() -> int:
    print(f"boto3 {boto3.__version__}, aioboto3 {aioboto3.__version__} -> {ENDPOINT}")
    sync_checks()
    asyncio.run(async_checks())
    print("dynamodb smoke test: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
