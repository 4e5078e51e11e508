"""`matches` patterns holding a raw NUL run on the MongoDB server (a BSON regular
expression cannot hold one: the compiler writes it as the escape ``\\x00``)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import crossql
from tests.backends.conftest import load

pytestmark = pytest.mark.integration

DOCS = [
    {"_id": 1, "s": "a\x00b"}, {"_id": 2, "s": "ab"}, {"_id": 3, "s": "\x00"},
    {"_id": 4, "s": "x\\\x00y"}, {"_id": 5, "s": "\x01\x02"}, {"_id": 6, "s": 7},
]


@pytest.mark.parametrize("pattern", ["a\x00b", "^\x00$", "[\x00-\x01]", "\\\x00", "\\\\\x00y",
                                     "(?:\x00|b)", "[^\x00]+$"])
def test_a_pattern_with_nul_answers_as_the_reference(runner: asyncio.Runner, mongo_store: Any,
                                                      pattern: str) -> None:
    load(runner, mongo_store, "nul_patterns", DOCS)
    for text in ("from nul_patterns where s matches :p select _id order by _id",
                 "from nul_patterns where not (s matches :p) select _id order by _id"):
        want = crossql.evaluate(text, DOCS, params={"p": pattern})
        assert runner.run(mongo_store.fetch(text, p=pattern)) == want, (text, pattern)
    assert any(crossql.evaluate("from c where s matches :p", DOCS, params={"p": pattern}))
