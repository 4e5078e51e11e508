"""MongoDB: a pure compiler to find/aggregate plans, and a pymongo async runtime."""

from crossql.backends.mongodb.compiler import BACKEND_SPEC as BACKEND
from crossql.backends.mongodb.compiler import CAPABILITIES, compile_mongodb
from crossql.backends.mongodb.plan import MongoPlan

__all__ = ["BACKEND", "CAPABILITIES", "MongoPlan", "compile_mongodb"]
