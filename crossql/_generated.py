"""Generated code with a readable name: source the package ``exec``s (fast ``__init__``s
in ``_frozen``, plan template fills in ``compiler/templates.py``) is compiled under a
filename such as ``<crossql template (mongodb) #3>`` and registered with ``linecache``,
so a traceback through it shows its lines and ``inspect.getsource`` finds them (attrs
does the same for its generated methods).

Registrations made with ``bounded=True`` (one per plan template: there is one per cached
query shape, so a long-running process makes many) are forgotten oldest first past
``MAX_REGISTERED``; a function whose lines were forgotten still runs, its traceback
shows no source line."""

from __future__ import annotations

import itertools
import linecache
from collections import deque
from typing import Any

MAX_REGISTERED = 512
"""Bounded registrations whose lines ``linecache`` keeps."""

_bounded: deque[str] = deque()
_numbers = itertools.count(1)


def exec_generated(source: str, namespace: dict[str, Any], what: str, *,
                   bounded: bool = False) -> str:
    """``exec(source, namespace)``, compiled under the filename ``<crossql {what} #n>``
    registered with ``linecache``; returns the filename."""
    filename = f"<crossql {what} #{next(_numbers)}>"
    code = compile(source, filename, "exec")
    # mtime None: linecache.checkcache() keeps the entry (it has no file to compare)
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True),
                                 filename)
    if bounded:
        if len(_bounded) >= MAX_REGISTERED:
            linecache.cache.pop(_bounded.popleft(), None)
        _bounded.append(filename)
    exec(code, namespace)
    return filename
