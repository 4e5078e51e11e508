"""Backends: each one is capabilities (data) + a pure compiler + a driver adapter.

Compilers are imported lazily by name so ``import crossql`` loads no backend
it does not use, and never a driver.
"""

from __future__ import annotations

from importlib import import_module

from crossql.backends.base import BackendSpec, Capabilities, Plan

BACKEND_NAMES: tuple[str, ...] = ("memory", "mongodb", "dynamodb", "firestore")
"""Every backend CrossQL can compile for."""

_cache: dict[str, BackendSpec] = {}


def get_backend(name: str) -> BackendSpec:
    """The backend spec called ``name``; ``ValueError`` listing the known names otherwise."""
    spec = _cache.get(name)
    if spec is not None:
        return spec
    if name not in BACKEND_NAMES:
        raise ValueError(f"unknown backend {name!r}; known: {', '.join(BACKEND_NAMES)}")
    spec = import_module(f"crossql.backends.{name}").BACKEND
    assert isinstance(spec, BackendSpec)
    _cache[name] = spec
    return spec


__all__ = ["BACKEND_NAMES", "BackendSpec", "Capabilities", "Plan", "get_backend"]
