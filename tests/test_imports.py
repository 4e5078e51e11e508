"""``import crossql`` and compiling stay light: no Lark, pydantic, rich or YAML until
configuration, the command line or Lark's own parser (``lark_support``) needs them, and
no asyncio until a store runs (start-up is a benchmark target: asyncio alone costs
about a third of it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("lark", "pydantic", "rich", "yaml", "opentelemetry", "asyncio")


def _loaded_after(code: str) -> list[str]:
    probe = f"{code}\nimport sys\nprint(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                          text=True, check=True, timeout=60)
    loaded: list[str] = eval(done.stdout)
    return loaded


def test_import_and_compile_load_none_of_the_heavy_modules() -> None:
    code = ("import crossql\n"
            "crossql.compile('from users where age >= :a select name order by age limit 3',"
            " backend='mongodb', params={'a': 18})\n"
            "crossql.evaluate('from users where age > 1', [{'age': 2}])\n"
            "crossql.parse('from users where name startswith \"A\"')")
    assert _loaded_after(code) == []


def test_configuration_names_are_still_there_on_first_use() -> None:
    assert _loaded_after("import crossql\ncrossql.NoSQLConfig") == ["pydantic"]
    code = ("import crossql\n"
            "assert 'NoSQLConfig' in dir(crossql) and 'FirestoreOptions' in dir(crossql)")
    assert "pydantic" not in _loaded_after(code)


LATE = ("crossql.compiler.schema_checks", "crossql.schema", "crossql.semantics.compiled",
        "crossql.indexes", "difflib")
"""Loaded when a schema, the engine or indexes are used, never by a first compile."""


def test_first_compile_loads_no_schema_checks_engine_or_indexes() -> None:
    code = ("import crossql, sys\n"
            "crossql.compile('from c where a == 1', 'memory')\n"
            "crossql.compile('from users where age >= :a', backend='mongodb', params={'a': 1})\n"
            f"print(sorted(m for m in {LATE!r} if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, check=True, timeout=60)
    assert eval(done.stdout) == []
