"""The backend support matrix, generated from the capability data.

Every backend declares, as data, how it answers each construct of the language
(``Capabilities.support``), a note where the answer needs one, and its limits.
``support_matrix()`` renders that data as the Markdown page
``docs/support-matrix.md``; a test fails when the checked-in page differs, so
the page cannot drift from the code. Regenerate it from the repository root::

    python -m crossql.backends.matrix --write
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from crossql.backends.base import (
    CONSTRUCTS,
    VALUE_KINDS,
    WRITE_CONSTRUCTS,
    Capabilities,
    Support,
)
from crossql.backends.registry import backend_names, get_backend

DEFAULT_PATH = Path("docs/support-matrix.md")
"""Where ``--write`` puts the page (relative to the current directory)."""

REGENERATE = "python -m crossql.backends.matrix --write"
"""The command that regenerates the page."""

LEVELS: dict[Support, tuple[str, str]] = {
    "native": ("✓ native", "the backend's own operator gives exactly the reference answer"),
    "rewritten": ("✓ rewritten", "an exact rewrite into other native operators"),
    "guarded": ("✓ guarded", "native, plus guards that keep out what the backend would "
                            "match and the reference would not (missing or null fields, "
                            "arrays, other types)"),
    "option": ("◐ option", "only with an opt-in compile option; refused otherwise"),
    "refused": ("✗ refused", "`CapabilityError` at compile time, with the span and a hint"),
}
"""How each support level is shown, and what it means."""


def _footnote(backend: str, construct: str) -> str:
    if construct in WRITE_CONSTRUCTS:
        return f"{backend}-w{WRITE_CONSTRUCTS.index(construct) + 1}"
    return f"{backend}-{CONSTRUCTS.index(construct) + 1}"


def write_capabilities(backend: str) -> Capabilities:
    """What ``backend`` does with writes and transactions (its spec's data)."""
    caps = get_backend(backend).write_capabilities
    if caps is None or caps.constructs != WRITE_CONSTRUCTS:
        raise ValueError(f"{backend} declares no write capabilities")
    return caps


def _table(caps: Sequence[Capabilities], constructs: Sequence[str]) -> list[str]:
    out = [
        "| construct | " + " | ".join(c.backend for c in caps) + " |",
        "| --- | " + " | ".join("---" for _ in caps) + " |",
    ]
    for construct in constructs:
        cells = " | ".join(_cell(c, construct) for c in caps)
        out.append(f"| `{construct}` | {cells} |")
    accepted = " | ".join(
        f"{sum(c.support[k] != 'refused' for k in constructs)} of {len(constructs)}"
        for c in caps)
    out.append(f"| **not refused** | {accepted} |")
    return out


def _escape(text: str) -> str:
    """Text for a Markdown table cell: a ``|`` would end the cell."""
    return text.replace("|", "\\|")


def _cell(caps: Capabilities, construct: str) -> str:
    text = LEVELS[caps.support[construct]][0]
    if construct in caps.notes:
        text += f" [^{_footnote(caps.backend, construct)}]"
    return text


def _limit_name(name: str) -> str:
    return name.replace("_", " ")


def support_matrix(backends: Sequence[str] | None = None) -> str:
    """The support matrix as a Markdown page: a row per construct, a column per backend
    (default: every registered one), each cell the support level (with a footnote holding
    the backend's note), then every backend's limits. Deterministic: the same capability
    data gives the same text."""
    if backends is None:
        backends = backend_names()
    caps = [get_backend(name).capabilities for name in backends]
    out: list[str] = [
        "# Backend support matrix",
        "",
        f"<!-- Generated from the capability data by `{REGENERATE}`; do not edit by hand:",
        "     tests/test_docs.py fails when this page differs from the code. -->",
        "",
        "How each backend answers each construct of the language "
        "([language.md](language.md)). A backend never answers differently from the "
        "reference semantics: what it cannot answer exactly it refuses when the query is "
        "compiled. `crossql check \"query\"` shows the verdict for one query; "
        "[semantics.md](semantics.md) explains the guards.",
        "",
        "| level | meaning |",
        "| --- | --- |",
    ]
    out += [f"| {shown} | {meaning} |" for shown, meaning in LEVELS.values()]
    out += ["", *_table(caps, CONSTRUCTS), ""]
    out += _client_side(backends)
    out += _schema_lifts(backends)

    writes = [write_capabilities(name) for name in backends]
    out += ["## Writes and transactions", "",
            "`update … set/unset … where …`, `delete from … where …` and "
            "`store.transaction()` ([language.md](language.md), \"Writes\"; "
            "[transactions.md](transactions.md)). A write's `where` is compiled as a read's, "
            "so the table above applies to it too.", "",
            *_table(writes, WRITE_CONSTRUCTS), ""]

    out += _value_table(caps)

    out += ["## Limits", "",
            "Checked on the plan a backend would send; past a limit, compiling raises "
            "`CapabilityError`.", ""]
    limited = [c for c in caps if c.limits]
    out += ["| backend | limit | value |", "| --- | --- | --- |"]
    for c in limited:
        out += [f"| {c.backend} | {_escape(_limit_name(name))} | {value:,} |"
                for name, value in c.limits.items()]
    unlimited = [c.backend for c in caps if not c.limits]
    if unlimited:
        out += ["", "No limits of their own: " + ", ".join(unlimited) + "."]
    out.append("")

    docs = [(name, get_backend(name).docs) for name in backends]
    pages = [f"[{name}]({page})" for name, page in docs if page is not None]
    out += ["## Notes", "", "Each backend's page says more: " + ", ".join(pages) + ".", ""]
    for c, w in zip(caps, writes, strict=True):
        for each, construct in [*((c, k) for k in CONSTRUCTS),
                                *((w, k) for k in WRITE_CONSTRUCTS)]:
            note = each.notes.get(construct)
            if note is not None:
                out.append(f"[^{_footnote(c.backend, construct)}]: **{c.backend}**, "
                           f"`{construct}`: {note}")
    return "\n".join(out) + "\n"


# What a declared schema (docs/schemas.md) lifts, per backend: refusals a declaration
# answers, not capabilities of the backend, so kept here rather than in Capabilities.
SCHEMA_LIFTS: dict[str, str] = {
    "mongodb": "no refusal to lift; a required field needs no `$exists`/`null` guards and "
               "a field whose kind is not a list needs no array guard",
    "dynamodb": "`order by` an index's sort key, and `scan` (allow_scan off) for a query "
                "that pins the index's partition key, where the index is sparse: declared "
                "required, its sort key puts every item in the index, so a Query serves them "
                "(`collections: {orders: {required: [created_at]}}`); declared keys and "
                "indexes (`dynamodb:`) make Queries of what pins them; a required scalar "
                "field needs no `attribute_exists`/`attribute_type` guards",
    "firestore": "`order by` a field that may be missing: declared required, every "
                 "document has it, so Firestore's order leaves none out",
}


def _schema_lifts(backends: Sequence[str]) -> list[str]:
    """The note on the refusals a declared schema lifts (``SCHEMA_LIFTS``)."""
    lines = [f"- **{name}**: {SCHEMA_LIFTS[name]}" for name in backends
             if name in SCHEMA_LIFTS]
    if not lines:
        return []
    return ["With a declared schema ([schemas.md](schemas.md)), a query refused only "
            "because a field may be missing is not refused where the schema declares the "
            "field required (and not nullable); a declared kind also refuses comparisons "
            "the field could never satisfy (`semantic.kind-mismatch`). The refusals it "
            "lifts:", "", *lines, ""]


def _client_side(backends: Sequence[str]) -> list[str]:
    """The note on the refusals the ``client_side`` option lifts (each backend's
    ``BackendSpec.completion``)."""
    lines = []
    for name in backends:
        completion = get_backend(name).completion
        if completion is not None:
            constructs = ", ".join(f"`{c}`" for c in completion.constructs)
            riders = " and ".join(f"`{c}`" for c in completion.rider_constructs)
            lines.append(f"- **{name}**: {constructs}" + (
                f"; {riders} too, with one of them" if riders else ""))
    if not lines:
        return []
    return ["With the `client_side` option ([configuration.md](configuration.md#client-side-"
            "completion)), a query refused only because the backend cannot order, group or "
            "aggregate it is not refused: the backend reads the rows of its `where`, and "
            "CrossQL's engine completes the rest over them (at most `max_rows` rows, else "
            "the call fails). The refusals it lifts:", "", *lines, ""]


def _value_table(caps: Sequence[Capabilities]) -> list[str]:
    """The section "Value kinds": a row per kind beyond JSON's, its notes below."""
    out = ["## Value kinds", "",
           "The values beyond JSON's ([language.md](language.md#values)): bound as "
           "parameters, written, compared. A backend refuses a kind it does not handle "
           "when the query is compiled (`capability.<backend>.value-kind`).", "",
           "| kind | " + " | ".join(c.backend for c in caps) + " |",
           "| --- | " + " | ".join("---" for _ in caps) + " |"]
    for kind in VALUE_KINDS:
        cells = []
        for c in caps:
            text = LEVELS[c.value_support(kind)][0]
            if kind in c.value_notes:
                text += f" [^{c.backend}-v{VALUE_KINDS.index(kind) + 1}]"
            cells.append(text)
        out.append(f"| {kind} | " + " | ".join(cells) + " |")
    out.append("")
    for c in caps:
        for kind in VALUE_KINDS:
            note = c.value_notes.get(kind)
            if note is not None:
                out.append(f"[^{c.backend}-v{VALUE_KINDS.index(kind) + 1}]: **{c.backend}**, "
                           f"{kind}: {note}")
    if out[-1]:
        out.append("")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Print the matrix, or write it (``--write [PATH]``); the exit status is 0."""
    parser = argparse.ArgumentParser(prog="python -m crossql.backends.matrix",
                                     description="The backend support matrix as Markdown.")
    parser.add_argument("--write", nargs="?", const=DEFAULT_PATH, type=Path, metavar="PATH",
                        help=f"write it to PATH (default: {DEFAULT_PATH}) instead of stdout")
    args = parser.parse_args(argv)
    text = support_matrix()
    if args.write is None:
        sys.stdout.write(text)
    else:
        args.write.write_text(text, encoding="utf-8")
        sys.stderr.write(f"wrote {args.write}\n")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
