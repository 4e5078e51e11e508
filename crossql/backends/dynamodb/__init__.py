"""DynamoDB: a pure, key-aware compiler to Query/Scan plans, and an aioboto3 runtime."""

from crossql.backends.dynamodb.compiler import BACKEND_SPEC as BACKEND
from crossql.backends.dynamodb.compiler import CAPABILITIES, compile_dynamodb
from crossql.backends.dynamodb.plan import DynamoPlan
from crossql.backends.dynamodb.schema import DynamoOptions, IndexSchema, TableSchema

__all__ = [
    "BACKEND",
    "CAPABILITIES",
    "DynamoOptions",
    "DynamoPlan",
    "IndexSchema",
    "TableSchema",
    "compile_dynamodb",
]
