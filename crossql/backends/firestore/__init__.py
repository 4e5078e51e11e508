"""Firestore: a pure compiler to query chains, and a ``google.cloud.firestore`` async runtime.

Importing this package loads the compiler only when it is used (``BACKEND``), and
never the driver: that happens when a plan is built or a store is opened.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crossql.backends.firestore.options import FirestoreOptions

if TYPE_CHECKING:
    from crossql.backends.base import BackendSpec, Capabilities
    from crossql.backends.firestore.compiler import compile_firestore
    from crossql.backends.firestore.plan import FirestorePlan

    BACKEND: BackendSpec
    CAPABILITIES: Capabilities

_LAZY = {
    "BACKEND": ("backend", "BACKEND_SPEC"),
    "CAPABILITIES": ("compiler", "CAPABILITIES"),
    "compile_firestore": ("compiler", "compile_firestore"),
    "FirestorePlan": ("plan", "FirestorePlan"),
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    module, attr = _LAZY[name]
    return getattr(import_module(f"{__name__}.{module}"), attr)


__all__ = ["BACKEND", "CAPABILITIES", "FirestoreOptions", "FirestorePlan", "compile_firestore"]
