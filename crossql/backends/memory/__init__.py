"""The embedded engine: plans run through the reference evaluator, no server."""

from dataclasses import replace

from crossql.backends.base import ConfigBlock
from crossql.backends.memory.compiler import BACKEND as _COMPILER
from crossql.backends.memory.compiler import MemoryPlan
from crossql.backends.memory.writes import WRITE_CAPABILITIES

# the registry's entry (crossql.backends.registry): the compiler's spec, and what the
# configuration, the support matrix and the command line read
BACKEND = replace(
    _COMPILER, write_capabilities=WRITE_CAPABILITIES,
    config=ConfigBlock(model="crossql.backends.memory.config:MemoryConfig",
                       open_store="crossql.backends.memory.config:open_store",
                       summary="The embedded engine.", required=False))

__all__ = ["BACKEND", "MemoryPlan"]
