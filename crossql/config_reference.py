"""The configuration reference, generated from the pydantic models of ``crossql.config``.

``configuration_reference()`` renders one Markdown table per block of the
``nosql:`` section (every key: type, constraints, default, description) and the
table of environment variables (``crossql.config.ENVIRONMENT``). The text sits
between two markers in ``docs/configuration.md``; a test fails when it differs,
so a key added to a model appears in the docs or the suite says so. From the
repository root::

    python -m crossql.config_reference --write

A key's description is its pydantic ``description``, else the docstring written
under the field in the model, else an entry of ``FALLBACK`` below (for fields the
models leave undocumented). A key with none of the three is an error.
"""

from __future__ import annotations

import argparse
import ast
import inspect
import json
import re
import sys
import textwrap
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from crossql.config import BLOCK_MODELS, CONFIG_BLOCKS, ENVIRONMENT, BackendConfig, NoSQLConfig

DEFAULT_PATH = Path("docs/configuration.md")
"""The page whose generated part ``--write`` replaces (relative to the current directory)."""

BEGIN = "<!-- BEGIN GENERATED: python -m crossql.config_reference --write -->"
END = "<!-- END GENERATED -->"

REGENERATE = "python -m crossql.config_reference --write"
"""The command that regenerates the page's tables."""


def _blocks() -> tuple[tuple[str, type[BaseModel], str], ...]:
    out: list[tuple[str, type[BaseModel], str]] = [
        ("nosql", NoSQLConfig, "The section itself: the default driver, its block, named "
                               "backends."),
        ("backends[]", BackendConfig, "One entry of the `backends:` list."),
    ]
    for name, block in CONFIG_BLOCKS.items():
        model = BLOCK_MODELS[name]
        out.append((name, model, block.summary))
        for key, summary in block.nested.items():
            out.append((f"{name}.{key}", _nested_model(model, key), summary))
    return tuple(out)


def _nested_model(model: type[BaseModel], key: str) -> type[BaseModel]:
    annotation = model.model_fields[key].annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):  # `Model | None`
        annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
    assert isinstance(annotation, type) and issubclass(annotation, BaseModel), (model, key)
    return annotation


BLOCKS: tuple[tuple[str, type[BaseModel], str], ...] = _blocks()
"""Every block of the configuration: its heading, model and a one-line summary (a
driver's block and its nested ones from its backend's ``ConfigBlock``)."""

FALLBACK: dict[tuple[str, str], str] = {
    ("NoSQLConfig", "driver"): "The default backend's driver; its block is the key of the "
                               "same name.",
    **{("NoSQLConfig", name): f"The default backend's block when `driver: {name}`."
       for name in CONFIG_BLOCKS},
    ("NoSQLConfig", "backends"): "Named backends, each reachable as `store.backend(name)` "
                                 "(names are unique; `default` is taken).",
    ("BackendConfig", "name"): "How the application and `crossql run --backend` name it.",
    ("BackendConfig", "driver"): "Its driver; the block of the same name must be given.",
    **{("BackendConfig", name): f"Its block when `driver: {name}`." for name in CONFIG_BLOCKS},
}
"""Descriptions of the fields the models leave undocumented, by (model, field): the
section's own keys (a driver block's keys have their docstrings in its model)."""

_ENVIRONMENT_EXTRA: tuple[tuple[str, str], ...] = (
    ("CROSSQL_CONFIG", "The YAML file `crossql.connect()` (and `crossql run` without "
                       "`--data` or `--config`) reads when given no configuration."),
)


def field_docstrings(model: type[BaseModel]) -> dict[str, str]:
    """The docstrings written under the fields of ``model`` (and of its bases)."""
    out: dict[str, str] = {}
    for cls in reversed(model.__mro__):
        if not (isinstance(cls, type) and issubclass(cls, BaseModel)) or cls is BaseModel:
            continue
        try:
            source = textwrap.dedent(inspect.getsource(cls))
        except (OSError, TypeError):  # pragma: no cover - no source (a frozen install)
            continue
        body = ast.parse(source).body[0]
        assert isinstance(body, ast.ClassDef)
        for node, following in zip(body.body, body.body[1:], strict=False):
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and \
                    isinstance(following, ast.Expr) and \
                    isinstance(following.value, ast.Constant) and \
                    isinstance(following.value.value, str):
                out[node.target.id] = inspect.cleandoc(following.value.value)
    return out


def describe(model: type[BaseModel], name: str, field: FieldInfo) -> str:
    """A field's description (see the module docstring); ``LookupError`` when it has none."""
    text = field.description or field_docstrings(model).get(name) or \
        FALLBACK.get((model.__name__, name))
    if not text:
        raise LookupError(f"{model.__name__}.{name} has no description: write a docstring "
                          "under the field, or add it to crossql.config_reference.FALLBACK")
    return _markdown(text)


def _markdown(text: str) -> str:
    """Docstring text as one line of Markdown for YAML writers: ``code`` → `code`,
    ``None`` → ``null``; no table breaks."""
    text = " ".join(text.split())
    text = re.sub(r"``(.+?)``", r"`\1`", text)
    # the reader writes YAML: Python's None/True/False are null/true/false there
    text = re.sub(r"(?<![`\w])(None|True|False)(?![`\w(])",
                  lambda m: {"None": "null", "True": "true", "False": "false"}[m.group(1)], text)
    return text.replace("|", "\\|")


def _type(annotation: Any) -> str:
    """A YAML-minded name for a field's type (``or`` rather than ``|``: a table cell)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return " or ".join(f"`{json.dumps(a)}`" for a in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(annotation)
        parts = [_type(a) for a in args if a is not type(None)]
        return " or ".join(parts) + (" or null" if type(None) in args else "")
    if origin is tuple:
        (item, *_rest) = typing.get_args(annotation)
        return f"list of {_type(item)}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        heading = next((h for h, m, _ in BLOCKS if m is annotation and h != "nosql"), None)
        return f"mapping ([`{heading}`](#{_anchor(heading)}))" if heading else "mapping"
    names = {bool: "boolean", int: "integer", float: "number", str: "string"}
    if annotation in names:
        return names[annotation]
    return str(annotation)  # pragma: no cover - a type this table does not know yet


def _anchor(heading: str) -> str:
    """The anchor GitHub gives a heading `` `heading` ``."""
    return re.sub(r"[^a-z0-9_ -]", "", heading.lower()).replace(" ", "-")


def _constraints(field: FieldInfo) -> str:
    parts = []
    for item in field.metadata:
        for attr, shown in (("ge", "≥ {}"), ("gt", "> {}"), ("le", "≤ {}"), ("lt", "< {}")):
            value = getattr(item, attr, None)
            if value is not None:
                parts.append(shown.format(value))
        if getattr(item, "min_length", None) == 1:
            parts.append("not empty")
        pattern = getattr(item, "pattern", None)
        if pattern is not None:
            parts.append(f"matches `{pattern}`")
    return ", ".join(parts)


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    if field.default_factory is not None:  # pragma: no cover - none in the models today
        return "—"
    value = field.default
    if value is PydanticUndefined:  # pragma: no cover
        return "required"
    if isinstance(value, BaseModel):
        value = value.model_dump()
    if value is None:
        return "null"
    if value == ():
        return "`[]`"
    return f"`{json.dumps(value)}`"


def block_table(model: type[BaseModel]) -> str:
    """One Markdown table: every key of ``model`` with type, default and description."""
    rows = ["| key | type | default | description |", "| --- | --- | --- | --- |"]
    for name, field in model.model_fields.items():
        kind = _type(field.annotation)
        limits = _constraints(field)
        if limits:
            kind += f", {limits}"
        rows.append(f"| `{name}` | {kind} | {_default(field)} | "
                    f"{describe(model, name, field)} |")
    return "\n".join(rows)


def environment_table() -> str:
    """The environment variables that configure CrossQL, as a Markdown table."""
    rows = ["| variable | sets | applies to |", "| --- | --- | --- |"]
    for var, meaning in _ENVIRONMENT_EXTRA:
        rows.append(f"| `{var}` | — | {meaning} |")
    for var, (block, key) in ENVIRONMENT.items():
        if block is None:
            rows.append(f"| `{var}` | `{key}` | the top-level section |")
        else:
            rows.append(f"| `{var}` | `{block}.{key}` | every `{block}:` block, top-level or "
                        f"named; and the top-level one when `driver: {block}` has none |")
    return "\n".join(rows)


def configuration_reference() -> str:
    """The generated part of docs/configuration.md, markers included."""
    out = [BEGIN, ""]
    for heading, model, summary in BLOCKS:
        out += [f"### `{heading}`", "", summary, "", block_table(model), ""]
    out += ["### Environment variables", "", environment_table(), "", END]
    return "\n".join(out)


def generated_part(page: str) -> str:
    """The text between the markers of ``page`` (markers included); '' when absent."""
    start, end = page.find(BEGIN), page.find(END)
    if start < 0 or end < start:
        return ""
    return page[start:end + len(END)]


def main(argv: Sequence[str] | None = None) -> int:
    """Print the generated reference, or replace it in the page (``--write [PATH]``)."""
    parser = argparse.ArgumentParser(prog="python -m crossql.config_reference",
                                     description="The configuration reference as Markdown.")
    parser.add_argument("--write", nargs="?", const=DEFAULT_PATH, type=Path, metavar="PATH",
                        help=f"replace the generated part of PATH (default: {DEFAULT_PATH})")
    args = parser.parse_args(argv)
    text = configuration_reference()
    if args.write is None:
        sys.stdout.write(text + "\n")
        return 0
    page = args.write.read_text(encoding="utf-8")
    old = generated_part(page)
    if not old:
        sys.stderr.write(f"{args.write} has no {BEGIN} ... {END} markers\n")
        return 1
    args.write.write_text(page.replace(old, text), encoding="utf-8")
    sys.stderr.write(f"wrote {args.write}\n")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
