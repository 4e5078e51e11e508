"""Every backend CrossQL knows, registered by name: one line each.

A line maps the backend's name to the module whose ``BACKEND`` is its
``BackendSpec`` (``crossql/backends/base.py``): capabilities, compilers, options,
configuration block, store and docs page. The backend names, the configuration's
drivers and blocks, the support matrix, ``check`` and the command line's options,
and the configuration reference are all read from here, so a new backend is its
folder plus its line below (docs/architecture.md, "How to add a backend").

A spec is imported when first asked for: ``import crossql`` loads no backend, and
compiling for one loads only that one.
"""

from __future__ import annotations

from crossql.backends.base import BackendSpec, resolve

REGISTRY: dict[str, str] = {
    "memory": "crossql.backends.memory",
    "mongodb": "crossql.backends.mongodb",
    "dynamodb": "crossql.backends.dynamodb",
    "firestore": "crossql.backends.firestore",
}
"""Backend name → the module holding its ``BACKEND``, in the order the backends are
listed everywhere (the support matrix's columns, ``crossql check``'s verdicts)."""

_loaded: dict[str, BackendSpec] = {}


def backend_names() -> tuple[str, ...]:
    """The registered backends' names, in the registry's order."""
    return tuple(REGISTRY)


def get_backend(name: str) -> BackendSpec:
    """The backend spec called ``name``; ``ValueError`` listing the known names otherwise."""
    spec = _loaded.get(name)
    if spec is not None:
        return spec
    module = REGISTRY.get(name)
    if module is None:
        raise ValueError(f"unknown backend {name!r}; known: {', '.join(REGISTRY)}")
    spec = resolve(f"{module}:BACKEND")
    if not isinstance(spec, BackendSpec) or spec.name != name:
        raise TypeError(f"{module}.BACKEND is not the BackendSpec of {name!r}")
    _loaded[name] = spec
    return spec


def backends() -> tuple[BackendSpec, ...]:
    """Every registered backend's spec (each imported now), in the registry's order."""
    return tuple(get_backend(name) for name in REGISTRY)
