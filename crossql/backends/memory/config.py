"""The ``memory:`` block of the configuration, and the store it opens."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from crossql.runtime.store import Store


class MemoryConfig(BaseModel):
    """The embedded engine: collections live in the process, nothing to configure."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    plan_cache_size: int = 256
    """How many checked queries the store keeps for reuse (LRU)."""


def open_store(block: MemoryConfig, client: Any) -> Store:
    """The embedded store (``client`` does not apply: there is no driver)."""
    # imported when a store opens: reading a configuration needs no store
    from crossql.backends.memory.store import MemoryStore

    return MemoryStore(plan_cache_size=block.plan_cache_size)
