"""A faster ``__init__`` for frozen, slotted dataclasses (IR nodes, plan nodes).

A frozen dataclass's generated ``__init__`` sets each field through
``object.__setattr__`` (looked up and called per field), which makes building one of
the small nodes every stage creates (parser, binding, compilers) about twice as dear
as it needs to be. The replacement has the same parameters and defaults and stores
each field through its slot's own descriptor; the instance stays frozen
(``obj.field = x`` still raises ``FrozenInstanceError``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import MISSING, fields
from typing import Any, TypeVar

from crossql._generated import exec_generated

T = TypeVar("T", bound=type)


def fast_inits(classes: Iterable[type]) -> None:
    """Replace the ``__init__`` of each frozen, slotted dataclass in ``classes``; one
    ``exec`` for all of them (it counts at start-up)."""
    classes = list(classes)
    namespace: dict[str, Any] = {"_MISSING": MISSING}
    sources = []
    for n, cls in enumerate(classes):
        params, body = [], []
        for f in fields(cls):
            assert f.init, f"{cls.__name__}.{f.name}"
            name = f"{n}_{f.name}"
            namespace[f"_set{name}"] = cls.__dict__[f.name].__set__
            if f.default is not MISSING:
                namespace[f"_default{name}"] = f.default
                params.append(f"{f.name}=_default{name}")
            elif f.default_factory is not MISSING:
                namespace[f"_factory{name}"] = f.default_factory
                params.append(f"{f.name}=_MISSING")
                body.append(f"    if {f.name} is _MISSING: {f.name} = _factory{name}()")
            else:
                params.append(f.name)
            body.append(f"    _set{name}(self, {f.name})")
        sources.append(f"def __init__{n}(self, {', '.join(params)}):\n"
                       + "\n".join(body or ["    pass"]))
    # generated from the classes' field names; registered so tracebacks show the lines
    exec_generated("\n".join(sources) + "\n", namespace,
                   f"fast __init__ of {classes[0].__module__}" if classes else "fast __init__")
    for n, cls in enumerate(classes):
        init = namespace[f"__init__{n}"]
        init.__name__ = "__init__"
        init.__qualname__ = f"{cls.__qualname__}.__init__"
        init.__code__ = init.__code__.replace(co_name="__init__", co_qualname=init.__qualname__)
        init.__module__ = cls.__module__
        init.__doc__ = cls.__init__.__doc__  # type: ignore[misc]
        init.fast_init = True  # plan templates call such a constructor (compiler/templates.py)
        setattr(cls, "__init__", init)  # noqa: B010 - mypy keeps the dataclass signature


def fast_init(cls: T) -> T:
    """Class decorator form of ``fast_inits`` (above ``@dataclass(frozen=True, slots=True)``)."""
    fast_inits([cls])
    return cls
