"""The query corpus (tests/corpus/queries.yaml) as backends' plan snapshot tests use it.

``plan_text(entry, backend, ...)`` compiles one entry and renders what a reader
should review in a snapshot: the plan's JSON and its ``to_python()`` code, or
the rendered ``CapabilityError`` when the backend refuses the query.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

import crossql

CORPUS_FILE = Path(__file__).parent / "corpus" / "queries.yaml"
CORPUS: list[dict[str, Any]] = yaml.safe_load(CORPUS_FILE.read_text("utf-8"))
VALID: list[dict[str, Any]] = [e for e in CORPUS if "error" not in e]
VALID_IDS: list[str] = [e["name"] for e in VALID]


def compact_json(data: Any, indent: str = "") -> str:
    """JSON text that keeps a value on one line when it fits: short, readable diffs."""
    flat = json.dumps(data, ensure_ascii=False)
    if len(indent) + len(flat) <= 88 or not isinstance(data, dict | list) or not data:
        return flat
    inner = indent + "  "
    if isinstance(data, list):
        body = [inner + compact_json(v, inner) for v in data]
        return "[\n" + ",\n".join(body) + "\n" + indent + "]"
    body = [f"{inner}{json.dumps(k, ensure_ascii=False)}: {compact_json(v, inner)}"
            for k, v in data.items()]
    return "{\n" + ",\n".join(body) + "\n" + indent + "}"


def plan_text(entry: dict[str, Any], backend: str, **kwargs: Any) -> str:
    """The snapshot text of one corpus entry compiled for ``backend``."""
    try:
        plan = crossql.compile(entry["query"], backend=backend, params=entry.get("params"),
                               **kwargs)
    except crossql.CapabilityError as err:
        assert err.backend == backend
        return "REFUSED\n" + err.render()
    return compact_json(plan.to_dict()) + "\n\n" + plan.to_python()
