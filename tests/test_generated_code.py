"""Code the package generates and ``exec``s is registered with ``linecache`` under a
readable name: a traceback through it shows the generated line, ``inspect.getsource``
finds it (crossql/_generated.py)."""

from __future__ import annotations

import inspect
import linecache
import traceback
from dataclasses import dataclass, field

import pytest

from crossql import _generated, ir
from crossql._frozen import fast_init
from crossql.compiler.templates import Refill, StringHole, make_template


def _boom() -> list[int]:
    raise RuntimeError("factory failed")


def test_a_fast_init_shows_its_generated_lines() -> None:
    assert ir.Compare.__init__.__code__.co_filename.startswith("<crossql fast __init__ of "
                                                               "crossql.ir #")
    assert "_set" in inspect.getsource(ir.Compare.__init__)

    @fast_init
    @dataclass(frozen=True, slots=True)
    class Node:
        items: list[int] = field(default_factory=_boom)

    with pytest.raises(RuntimeError) as caught:
        Node()
    shown = "".join(traceback.format_exception(caught.value))
    assert 'File "<crossql fast __init__ of ' in shown
    assert "if items is _MISSING: items = _factory0_items()" in shown


def test_a_template_fill_shows_its_generated_lines() -> None:
    def refuse(value: str) -> str:
        raise Refill(value)

    template = make_template([StringHole("p").then(refuse), 1])
    filename = template.fill.__code__.co_filename
    assert filename.startswith("<crossql template (list) #")
    assert inspect.getsource(template.fill).startswith("def fill(v):")
    with pytest.raises(Refill) as caught:
        template.fill({"p": "ab"})
    frames = traceback.extract_tb(caught.value.__traceback__)
    generated = [f for f in frames if f.filename == filename]
    assert generated and generated[0].line, frames  # the line is shown, not blank


def test_template_registrations_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_generated, "MAX_REGISTERED", 3)
    monkeypatch.setattr(_generated, "_bounded", type(_generated._bounded)())
    names = [make_template([StringHole("p"), n]).fill.__code__.co_filename for n in range(5)]
    assert [n in linecache.cache for n in names] == [False, False, True, True, True]
    # the fast __init__s are never forgotten
    assert ir.Compare.__init__.__code__.co_filename in linecache.cache
