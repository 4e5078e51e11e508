"""DynamoDB: a pure, key-aware compiler to Query/Scan plans, and an aioboto3 runtime."""

from crossql.backends.base import BackendSpec, ConfigBlock, OptionsSpec
from crossql.backends.dynamodb.compiler import BACKEND as NAME
from crossql.backends.dynamodb.compiler import CAPABILITIES, COMPLETION, compile_dynamodb
from crossql.backends.dynamodb.plan import DynamoPlan
from crossql.backends.dynamodb.schema import DynamoOptions, IndexSchema, TableSchema
from crossql.backends.dynamodb.writes import WRITE_CAPABILITIES, compile_dynamodb_write

# the reads' compiler and the writes' (which builds on it) meet here, so neither
# imports the other's module back
BACKEND = BackendSpec(
    name=NAME, capabilities=CAPABILITIES, compile=compile_dynamodb,
    compile_write=compile_dynamodb_write, write_capabilities=WRITE_CAPABILITIES,
    options=OptionsSpec(model="crossql.backends.dynamodb.schema:DynamoOptions",
                        coerce="crossql.backends.dynamodb.config:coerce_options"),
    config=ConfigBlock(model="crossql.backends.dynamodb.config:DynamoConfig",
                       open_store="crossql.backends.dynamodb.config:open_store",
                       summary="DynamoDB through aioboto3 "
                               "([backends/dynamodb.md](backends/dynamodb.md)).",
                       environment={"DYNAMODB_ENDPOINT": "endpoint_url",
                                    "DYNAMODB_REGION": "region"},
                       nested={"client_side": "Client-side completion, in the `dynamodb:` "
                                              "and `firestore:` blocks ([Client-side "
                                              "completion](#client-side-completion))."}),
    docs="backends/dynamodb.md", completion=COMPLETION)

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
