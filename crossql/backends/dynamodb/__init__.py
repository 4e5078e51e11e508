"""DynamoDB: a pure, key-aware compiler to Query/Scan plans, and an aioboto3 runtime."""

from crossql.backends.base import BackendSpec
from crossql.backends.dynamodb.compiler import BACKEND as NAME
from crossql.backends.dynamodb.compiler import CAPABILITIES, compile_dynamodb
from crossql.backends.dynamodb.plan import DynamoPlan
from crossql.backends.dynamodb.schema import DynamoOptions, IndexSchema, TableSchema
from crossql.backends.dynamodb.writes import compile_dynamodb_write

# the reads' compiler and the writes' (which builds on it) meet here, so neither
# imports the other's module back
BACKEND = BackendSpec(name=NAME, capabilities=CAPABILITIES, compile=compile_dynamodb,
                      compile_write=compile_dynamodb_write)

__all__ = [
    "BACKEND",
    "CAPABILITIES",
    "DynamoOptions",
    "DynamoPlan",
    "IndexSchema",
    "TableSchema",
    "compile_dynamodb",
    "compile_dynamodb_write",
]
