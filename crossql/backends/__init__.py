"""Backends: each one is capabilities (data) + a pure compiler + a driver adapter.

Each is registered by name in ``crossql.backends.registry``; its spec is imported
lazily, so ``import crossql`` loads no backend it does not use, and never a driver.
"""

from __future__ import annotations

from crossql.backends.base import BackendSpec, Capabilities, Plan
from crossql.backends.registry import REGISTRY, backend_names, get_backend

BACKEND_NAMES: tuple[str, ...] = tuple(REGISTRY)
"""Every backend CrossQL can compile for, as registered when ``crossql`` was imported
(``backend_names()`` reads the registry now)."""


__all__ = ["BACKEND_NAMES", "BackendSpec", "Capabilities", "Plan", "backend_names",
           "get_backend"]
