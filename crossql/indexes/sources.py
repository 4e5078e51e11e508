"""Where ``crossql indexes suggest`` finds queries besides its arguments: a Python module's
string constants and a YAML/JSON list of queries (the test corpus's format).

**A Python module** (``app/queries.py`` or the dotted ``app.queries``) is read with
``ast``, never imported or executed. Its queries are, at module level:

- each ``NAME = "..."`` (or ``NAME: str = "..."``, ``NAME: Final = "..."``) whose name ends
  in ``_QUERY``, labelled ``NAME``;
- ``CROSSQL_QUERIES``: a tuple or list of strings (labelled ``CROSSQL_QUERIES[i]``) or a
  dict of name → string (labelled by the name).

A constant that follows the convention but is not a literal string (an f-string, a call)
is a ``SourceError`` naming its file and line. A dotted name is found along ``sys.path``
(the current directory first) without importing its packages.

**A YAML or JSON file** holds a list of ``{name, query, params}`` mappings (entries with an
``error`` key, queries meant to be refused, are skipped) or a mapping of name → query.
"""

from __future__ import annotations

import ast
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

QUERY_SUFFIX = "_QUERY"
QUERIES_NAME = "CROSSQL_QUERIES"
DATA_SUFFIXES = (".yaml", ".yml", ".json")

_DOTTED = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+")


class SourceError(Exception):
    """A query source that does not follow its convention (file and line in the text)."""


@dataclass(frozen=True, slots=True)
class SourceQuery:
    """One query found in a source: its label, text, and the values it binds (if any)."""

    label: str
    text: str
    params: dict[str, Any] | None = None
    offset: int | None = None
    """Where ``text`` stands verbatim in the file (a plain one-line literal), so an error
    in the query is located in the file; else ``None``."""
    node: ast.expr | None = field(default=None, compare=False, repr=False)


def module_path(item: str) -> Path | None:
    """The Python file ``item`` names (``x.py``, or a dotted module name found along
    ``sys.path`` without importing anything), or ``None`` if it names none."""
    if item.endswith(".py"):
        return Path(item)
    if not _DOTTED.fullmatch(item):
        return None
    parts = item.split(".")
    for root in ("", *sys.path):
        base = Path(root or ".").joinpath(*parts)
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                return candidate
    return None


def python_queries(path: Path, source: str) -> list[SourceQuery]:
    """The queries of a Python module's text by the convention above."""
    try:
        tree = ast.parse(source, filename=str(path))
    except SyntaxError as err:
        raise SourceError(f"{path}:{err.lineno}: not Python: {err.msg}") from None
    found: list[SourceQuery] = []
    for name, value in _assignments(tree):
        if name == QUERIES_NAME:
            found += _collection(path, value)
        elif name.endswith(QUERY_SUFFIX):
            found.append(SourceQuery(name, _string(path, name, value), node=value))
    # ast numbers lines at "\n" (a "\r\n" ends with one too)
    starts = [0, *(m.end() for m in re.finditer("\n", source)), len(source) + 1]
    out = [_verbatim(q, source, starts) for q in found]
    if not out:
        raise SourceError(f"{path}: no queries: name module-level strings `..._QUERY` or "
                          f"list them in `{QUERIES_NAME}`")
    return out


def _verbatim(query: SourceQuery, source: str, starts: list[int]) -> SourceQuery:
    node = query.node
    query = SourceQuery(query.label, query.text, query.params)
    if node is None or node.end_lineno != node.lineno or node.end_col_offset is None:
        return query
    # col_offset counts UTF-8 bytes; a line of ASCII up to the literal counts the same
    line = source[starts[node.lineno - 1]:starts[node.lineno]]
    if not line[:node.col_offset].isascii():
        return query
    at = starts[node.lineno - 1] + node.col_offset + 1
    if source[at - 1:at] in ("'", '"') and source[at:at + len(query.text) + 1] == \
            query.text + source[at - 1]:
        return SourceQuery(query.label, query.text, query.params, at)
    return query


def _assignments(tree: ast.Module) -> Iterator[tuple[str, ast.expr]]:
    for node in tree.body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    yield target.id, node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) \
                and node.value is not None:
            yield node.target.id, node.value


def _string(path: Path, label: str, node: ast.expr) -> str:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    raise SourceError(f"{path}:{node.lineno}: {label} is not a literal string (the module "
                      "is read, not run)")


def _collection(path: Path, node: ast.expr) -> list[SourceQuery]:
    if isinstance(node, ast.Tuple | ast.List):
        return [SourceQuery(f"{QUERIES_NAME}[{i}]",
                            _string(path, f"{QUERIES_NAME}[{i}]", item), node=item)
                for i, item in enumerate(node.elts)]
    if isinstance(node, ast.Dict):
        out = []
        for key, value in zip(node.keys, node.values, strict=True):
            if key is None:
                raise SourceError(f"{path}:{value.lineno}: {QUERIES_NAME} unpacks a "
                                  "mapping: list its queries literally")
            label = _string(path, f"a key of {QUERIES_NAME}", key)
            out.append(SourceQuery(label, _string(path, label, value), node=value))
        return out
    raise SourceError(f"{path}:{node.lineno}: {QUERIES_NAME} is not a literal tuple, list "
                      "or dict of strings")


def data_queries(path: Path, source: str) -> list[SourceQuery]:
    """The queries of a YAML or JSON file: a list of ``{name, query, params}`` (``error``
    entries skipped) or a mapping of name → query."""
    import yaml

    try:
        data = json.loads(source) if path.suffix == ".json" else yaml.safe_load(source)
    except (ValueError, yaml.YAMLError) as err:
        raise SourceError(f"{path}: not {path.suffix[1:].upper()}: {err}") from None
    if isinstance(data, dict):
        data = [{"name": k, "query": v} for k, v in data.items()]
    if not isinstance(data, list):
        raise SourceError(f"{path}: expected a list of {{name, query}} or a mapping of "
                          "name to query")
    out = []
    for i, entry in enumerate(data):
        if not isinstance(entry, dict) or not isinstance(entry.get("query"), str):
            raise SourceError(f"{path}: entry {i}: expected {{name, query}} with a "
                              "query string")
        if "error" in entry:
            continue
        params = entry.get("params")
        out.append(SourceQuery(str(entry.get("name", f"{path}[{i}]")), entry["query"],
                               dict(params) if isinstance(params, dict) else None))
    return out
