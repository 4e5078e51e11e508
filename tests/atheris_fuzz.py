"""Coverage-guided fuzzing of the front end with atheris (libFuzzer for Python).

    python -m tests.atheris_fuzz -runs=100000 -timeout=5 [CORPUS_DIR ...]

Each input is compiled for one of the four backends and must give a ``Plan`` or a
``QueryError``; any other exception is a crash (libFuzzer saves the input as
``crash-*`` and exits non-zero), and an input slower than ``-timeout`` seconds is one
too. The first byte picks the backend and how the rest is read:

- mode 0: the bytes as UTF-8 query text (invalid bytes replaced);
- mode 1: a query assembled from CrossQL's tokens, with values for its parameters
  drawn from the bytes (dicts, NaN, huge numbers and nested lists included).

``tests/test_fuzz_atheris.py`` runs it for a bounded number of inputs, seeded with
the query corpus (``seed_corpus``).
"""

from __future__ import annotations

import contextlib
import re
import sys
from pathlib import Path
from typing import Any

import atheris  # type: ignore[import-untyped,unused-ignore]

with atheris.instrument_imports(include=["crossql"]):
    import crossql
    import crossql.backends.dynamodb.compiler
    import crossql.backends.firestore.compiler
    import crossql.backends.memory.compiler
    import crossql.backends.mongodb.compiler
    from crossql import FirestoreOptions

BACKENDS: list[tuple[str, Any]] = [
    ("memory", None), ("mongodb", None), ("dynamodb", None),
    ("firestore", FirestoreOptions(native_not_equal=True, native_or=True)),
]
TOKENS = [
    "from", "where", "group", "by", "select", "order", "asc", "desc", "limit", "offset", "as",
    "and", "or", "not", "between", "in", "contains", "any", "all", "startswith", "matches",
    "true", "false", "null", "users", "a", "b", "a.b", "_id", "`x y`", "`a``b`", "count", "size",
    "exists", "sum", "(", ")", "[", "]", ",", ".", "==", "=", "!=", "<", "<=", ">", ">=", "1",
    "-2", "1.5", "2e3", '"s"', "'t'", '"\\u00e9"', "''", ":p", ":q", ":r", "--c\n", "\n",
    "(a+)+", '"^a"', "9223372036854775808", "[[1]]",
]
_PARAM = re.compile(r":([A-Za-z_][A-Za-z0-9_]*)")


def _value(fdp: Any, depth: int = 0) -> Any:
    kind = fdp.ConsumeIntInRange(0, 9)
    if kind == 0:
        return None
    if kind == 1:
        return fdp.ConsumeBool()
    if kind == 2:
        return fdp.ConsumeInt(9)  # up to 2^71: past 64 bits too
    if kind == 3:
        return fdp.ConsumeRegularFloat() if fdp.ConsumeBool() else fdp.ConsumeFloat()
    if kind in (4, 5):
        return fdp.ConsumeUnicode(fdp.ConsumeIntInRange(0, 40))
    if kind == 6 and depth < 10:
        return [_value(fdp, depth + 1) for _ in range(fdp.ConsumeIntInRange(0, 4))]
    if kind == 7:
        return {"$ne": None} if fdp.ConsumeBool() else {fdp.ConsumeUnicode(4): _value(fdp)}
    if kind == 8:
        return fdp.PickValueInList(["$where", "$gt", "#n0", ":v0", "\x00", "(a|a)*", "a" * 5000])
    return fdp.PickValueInList([float("nan"), float("inf"), 2**63, -(2**63), 10**300, b"x"])


def one_input(data: bytes) -> None:
    if not data:
        return
    backend, options = BACKENDS[data[0] % 4]
    params: dict[str, Any] | None = None
    if (data[0] >> 2) % 2 == 0:
        text = data[1:].decode("utf-8", errors="replace")
    else:
        fdp = atheris.FuzzedDataProvider(data[1:])
        count = fdp.ConsumeIntInRange(0, 40)
        text = " ".join(fdp.PickValueInList(TOKENS) for _ in range(count))
        params = {name: _value(fdp) for name in sorted(set(_PARAM.findall(text)))}
    with contextlib.suppress(crossql.QueryError):
        crossql.compile(text, backend=backend, options=options, params=params)


def seed_corpus(directory: Path) -> int:
    """Write the query corpus (tests/corpus/queries.yaml) as seeds, one file per query and
    mode; return how many."""
    import yaml

    entries = yaml.safe_load((Path(__file__).parent / "corpus" / "queries.yaml").read_text())
    directory.mkdir(parents=True, exist_ok=True)
    n = 0
    for entry in entries:
        query = str(entry.get("query", "")).encode("utf-8")
        for first in (0, 1, 2, 3):
            (directory / f"seed-{n}").write_bytes(bytes([first]) + query)
            n += 1
    return n


if __name__ == "__main__":
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
