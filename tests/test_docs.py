"""The documentation in docs/ is true: generated pages match the code, examples run."""

from __future__ import annotations

from pathlib import Path

from crossql.backends import BACKEND_NAMES, get_backend
from crossql.backends.base import CONSTRUCTS
from crossql.backends.matrix import REGENERATE, support_matrix

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


# -- the support matrix ------------------------------------------------------------------------


def test_the_support_matrix_page_is_generated_from_the_capability_data() -> None:
    page = (DOCS / "support-matrix.md").read_text(encoding="utf-8")
    assert page == support_matrix(), (
        "docs/support-matrix.md differs from the backends' capability data; "
        f"regenerate it from the repository root with `{REGENERATE}`")


def test_the_support_matrix_has_a_cell_for_every_construct_and_backend() -> None:
    lines = support_matrix().splitlines()
    header = next(line for line in lines if line.startswith("| construct |"))
    assert header == "| construct | " + " | ".join(BACKEND_NAMES) + " |"
    for construct in CONSTRUCTS:
        row = next(line for line in lines if line.startswith(f"| `{construct}` |"))
        cells = [c.strip() for c in row.strip("|").split(" | ")][1:]
        assert len(cells) == len(BACKEND_NAMES)
        for backend, text in zip(BACKEND_NAMES, cells, strict=True):
            caps = get_backend(backend).capabilities
            assert text.split(" [^")[0].endswith(caps.support[construct]), (backend, construct)
            assert ("[^" in text) == (construct in caps.notes)


def test_every_note_and_limit_appears_once() -> None:
    page = support_matrix()
    for backend in BACKEND_NAMES:
        caps = get_backend(backend).capabilities
        for construct, note in caps.notes.items():
            assert page.count(f"**{backend}**, `{construct}`: {note}\n") == 1
        for name, value in caps.limits.items():
            assert f"| {backend} | {name.replace('_', ' ')} | {value:,} |" in page


def test_the_matrix_can_be_written_to_a_file(tmp_path: Path) -> None:
    from crossql.backends.matrix import main

    assert main(["--write", str(tmp_path / "m.md")]) == 0
    assert (tmp_path / "m.md").read_text(encoding="utf-8") == support_matrix()
