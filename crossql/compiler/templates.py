"""Plan templates: a prepared query's plan compiled once with holes for its values.

Re-binding a prepared query would otherwise bind and run the whole backend compile
again for every execution. A template is the backend's plan for the query with
each value parameter left as a ``Hole``: the compiler places the hole where the
value goes, and ``fill(values)`` rebuilds only the containers on the way to the
holes (generated code, one function per template), sharing everything else.

Why a template can be trusted (``docs/performance.md``, "Plan templates"):

- A hole refuses to be looked at: truth value, comparison, hashing, ``len``,
  ``str``/``repr``, arithmetic all raise. A compiler that decides anything from a
  value cannot build a template (the query falls back to a full compile), so the
  plan's shape depends only on what the template is keyed by: each parameter's
  exact type (a string also by being empty or not) and the values of ``limit`` and
  ``offset`` parameters, which are compiled in, not left as holes.
- The few places where a compiler *transforms* a value (a MongoDB prefix regex,
  a DynamoDB AttributeValue, a Firestore prefix range) ask the hole for a
  derived hole (``Hole.then``); the transformation runs on the real value at fill
  time and may refuse (``Refill``) when the value would change the plan's shape.
- Values equal to one another, or to a scalar the template already holds (a name,
  a type code, a constant of the query), are not filled: a compiler may merge
  equal values (DynamoDB shares one placeholder), so those executions compile.
- A template is kept only if it fills to the full compile of the first values of
  its kind and of plain probe values of the same kinds (a compiler dispatching on a
  value's type takes another way for a hole; the probe shows it). The next
  executions are compiled in full as well and compared with the filled plan (types
  included); a difference discards the template for good. The test suite compares
  filled and compiled plans on generated queries and values for every backend.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NoReturn

from crossql._generated import exec_generated

FillFunction = Callable[[Mapping[str, Any]], Any]


class HoleInspected(Exception):
    """A compiler looked at a value that a template leaves as a hole."""


class Refill(Exception):
    """A value does not fit its template (it would change the plan's shape)."""


def _inspected(self: Hole, *args: object) -> NoReturn:
    raise HoleInspected(self.name)


class Hole:
    """A parameter's value, unknown while a template compiles; see the module docstring.

    ``steps`` are the transformations a compiler asked for (``then``), applied in
    order to the real value when the template is filled.
    """

    __slots__ = ("name", "steps")

    def __init__(self, name: str, steps: tuple[Callable[[Any], Any], ...] = ()) -> None:
        self.name = name
        self.steps = steps

    def then(self, step: Callable[[Any], Any]) -> Hole:
        """The hole of ``step(value)``."""
        return type(self)(self.name, (*self.steps, step))

    __bool__ = __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = _inspected
    __hash__ = __len__ = __iter__ = __contains__ = __getitem__ = _inspected
    __str__ = __repr__ = __format__ = __bytes__ = _inspected
    __int__ = __float__ = __index__ = __complex__ = __round__ = _inspected
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _inspected
    __truediv__ = __rtruediv__ = __floordiv__ = __rfloordiv__ = _inspected
    __mod__ = __rmod__ = __pow__ = __rpow__ = __neg__ = __pos__ = __abs__ = _inspected
    __reduce__ = __reduce_ex__ = __copy__ = __deepcopy__ = _inspected


class StringHole(Hole):
    """A hole for a non-empty string of at most ``MAX_BYTES`` UTF-8 bytes (a longer one
    is never left as a hole: DynamoDB keys, for one, have a size limit)."""

    __slots__ = ()
    MAX_BYTES = 1024


class IntHole(Hole):
    """A hole for an int."""

    __slots__ = ()


class FloatHole(Hole):
    """A hole for a finite float."""

    __slots__ = ()


class BoolHole(Hole):
    """A hole for a bool."""

    __slots__ = ()


HOLE_TYPES: dict[type, type[Hole]] = {str: StringHole, int: IntHole, float: FloatHole,
                                      bool: BoolHole}
"""The hole for each exact type of value a template can leave open."""


def strictly_equal(a: Any, b: Any) -> bool:
    """Equal, and of the same types all the way down (``1 == True == 1.0`` is not)."""
    kind = type(a)
    if kind is not type(b):
        return False
    if kind is dict:
        return (len(a) == len(b) and list(a) == list(b)
                and all(strictly_equal(a[k], b[k]) for k in a))
    if kind is list or kind is tuple:
        return len(a) == len(b) and all(strictly_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, Hole):
        return False
    if dataclasses.is_dataclass(a):  # as the class compares: diagnostics left out
        return all(strictly_equal(getattr(a, f.name), getattr(b, f.name))
                   for f in dataclasses.fields(a) if f.compare)
    if kind is float and a != a:  # NaN
        return bool(b != b)
    equal: bool = a == b
    return equal


_SCALARS = (str, int, float, bool, bytes, type(None))


class _Emitter:
    """Writes the fill function of one template: a statement per rebuilt container."""

    def __init__(self, unbound: Mapping[int, Any]) -> None:
        self.unbound = unbound
        self.namespace: dict[str, Any] = {"_new": object.__new__}
        self.lines: list[str] = []
        self.constants: set[Any] = set()
        self.holes: dict[tuple[str, tuple[Any, ...]], str] = {}
        self._done: dict[int, str | None] = {}
        self._keep: list[Any] = []  # objects whose id() is memoised stay alive

    def const(self, value: Any) -> str:
        name = f"c{len(self.namespace)}"
        self.namespace[name] = value
        return name

    def emit(self, obj: Any) -> str | None:
        """The local holding ``obj`` rebuilt with its holes filled; None when ``obj``
        holds no hole (the template's own object is shared)."""
        kind = type(obj)
        if kind in _SCALARS:
            if kind is not bytes and kind is not type(None):
                self.constants.add(obj)
            return None
        if isinstance(obj, Hole):
            return self._hole(obj)
        if id(obj) in self._done:
            return self._done[id(obj)]
        self._keep.append(obj)
        out: str | None
        if kind is dict:
            out = self._dict(obj)
        elif kind is list or kind is tuple:
            out = self._sequence(obj, kind)
        elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            out = self._dataclass(obj)
        else:
            out = None  # an opaque object: the comparison at the first fills covers it
        self._done[id(obj)] = out
        return out

    def _local(self, expression: str) -> str:
        name = f"t{len(self.lines)}"
        self.lines.append(f"    {name} = {expression}")
        return name

    def _hole(self, hole: Hole) -> str:
        key = (hole.name, hole.steps)
        name = self.holes.get(key)
        if name is None:
            value = f"v[{hole.name!r}]"
            for step in hole.steps:
                value = f"{self.const(step)}({value})"
            name = self.holes[key] = self._local(value)
        return name

    def _dict(self, obj: dict[Any, Any]) -> str | None:
        parts = [(key, self.emit(key), self.emit(value), value) for key, value in obj.items()]
        if all(k is None and v is None for _, k, v, _ in parts):
            return None
        items = ", ".join(f"{k or self.const(key)}: {v or self.const(value)}"
                          for key, k, v, value in parts)
        return self._local("{" + items + "}")

    def _sequence(self, obj: list[Any] | tuple[Any, ...], kind: type) -> str | None:
        parts = [(self.emit(item), item) for item in obj]
        if all(e is None for e, _ in parts):
            return None
        items = ", ".join(e or self.const(item) for e, item in parts)
        return self._local(f"[{items}]" if kind is list else f"({items},)")

    def _dataclass(self, obj: Any) -> str | None:
        cls = type(obj)
        # an IR node's span is offsets in the query text, never a value: not a constant
        # a value could be confused with
        ir_node = cls.__module__ == "crossql.ir"
        parts: list[tuple[str, str | None, Any]] = []
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if ir_node and f.name == "span":
                parts.append((f.name, None, value))
            elif not f.compare and id(value) in self.unbound:
                # a diagnostic pointer to the query's condition (Firestore's `origin`, not
                # compared): the unbound condition, as the query holds it, not a copy
                parts.append((f.name, self.const(self.unbound[id(value)]), value))
            else:
                parts.append((f.name, self.emit(value), value))
        if all(e is None for _, e, _ in parts):
            return None
        if getattr(cls.__init__, "fast_init", False):  # crossql/_frozen.py: every field
            args = ", ".join(e or self.const(value) for _, e, value in parts)
            return self._local(f"{self.const(cls)}({args})")
        name = self._local(f"_new({self.const(cls)})")
        for field, e, value in parts:
            # a slot's own setter writes a frozen dataclass's field (as its __init__ would)
            setter = getattr(cls.__dict__.get(field), "__set__", None)
            if setter is not None:
                self.lines.append(f"    {self.const(setter)}({name}, {e or self.const(value)})")
            else:
                self.namespace["_set"] = object.__setattr__
                self.lines.append(f"    _set({name}, {field!r}, {e or self.const(value)})")
        return name


@dataclasses.dataclass(slots=True)
class Template:
    """A plan with holes, and the generated function that fills them."""

    fill: FillFunction
    constants: frozenset[Any]
    """Every scalar the template holds: a value equal to one is not filled."""
    checks_left: int = 2
    """Fills still compared with a full compile before the template is trusted."""


def unbound_nodes(unbound: Any, holed: Any) -> dict[int, Any]:
    """For each IR node of ``holed`` (the query with holes) that differs from the
    unbound query's, the unbound node (by ``id`` of the holed one)."""
    out: dict[int, Any] = {}
    stack = [(unbound, holed)]
    while stack:
        a, b = stack.pop()
        if a is b:
            continue
        out[id(b)] = a
        if type(a) is tuple and type(b) is tuple:
            stack.extend(zip(a, b, strict=False))
        elif dataclasses.is_dataclass(a) and type(a) is type(b):
            stack.extend((getattr(a, f.name), getattr(b, f.name))
                         for f in dataclasses.fields(a))
    return out


def holds_hole(obj: Any) -> bool:
    """True when a hole is left anywhere in ``obj`` (diagnostic fields included)."""
    seen: set[int] = set()
    stack = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, Hole):
            return True
        kind = type(item)
        if kind in _SCALARS or id(item) in seen:
            continue
        seen.add(id(item))
        if kind is dict:
            stack.extend(item.values())
        elif kind is list or kind is tuple:
            stack.extend(item)
        elif dataclasses.is_dataclass(item) and not isinstance(item, type):
            stack.extend(getattr(item, f.name) for f in dataclasses.fields(item))
    return False


def make_template(plan: Any, unbound: Mapping[int, Any] | None = None,
                  literals: Iterable[Any] = ()) -> Template:
    """The template of a plan compiled with holes. ``unbound`` (``unbound_nodes``) maps
    the IR nodes with holes to the query's own, for diagnostic fields to point at;
    ``literals`` are more constants a value must differ from to be filled.
    A fill raises when a step refuses a value: compile that execution in full."""
    emitter = _Emitter(unbound or {})
    result = emitter.emit(plan)
    body = [*emitter.lines, f"    return {result or emitter.const(plan)}"]
    source = "def fill(v):\n" + "\n".join(body) + "\n"
    # generated from the template's own structure; registered so tracebacks show the lines
    exec_generated(source, emitter.namespace,
                   f"template ({getattr(plan, 'backend', type(plan).__name__)})", bounded=True)
    fill: FillFunction = emitter.namespace["fill"]
    constants = emitter.constants
    constants.update(v for v in literals if type(v) in _SCALARS and v is not None)
    return Template(fill, frozenset(constants))
