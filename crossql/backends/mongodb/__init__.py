"""MongoDB: a pure compiler to find/aggregate plans, and a pymongo async runtime."""

from dataclasses import replace

from crossql.backends.base import ConfigBlock
from crossql.backends.mongodb.compiler import BACKEND_SPEC as _COMPILER
from crossql.backends.mongodb.compiler import CAPABILITIES, compile_mongodb
from crossql.backends.mongodb.plan import MongoPlan
from crossql.backends.mongodb.writes import WRITE_CAPABILITIES

# the registry's entry (crossql.backends.registry): the compiler's spec, and what the
# configuration, the support matrix and the command line read
BACKEND = replace(
    _COMPILER, write_capabilities=WRITE_CAPABILITIES, docs="backends/mongodb.md",
    config=ConfigBlock(model="crossql.backends.mongodb.config:MongoConfig",
                       open_store="crossql.backends.mongodb.config:open_store",
                       summary="MongoDB through PyMongo's `AsyncMongoClient` "
                               "([backends/mongodb.md](backends/mongodb.md)).",
                       environment={"MONGODB_URI": "uri", "MONGODB_DATABASE": "database"}))

__all__ = ["BACKEND", "CAPABILITIES", "MongoPlan", "compile_mongodb"]
