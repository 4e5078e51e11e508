"""The documentation in docs/ is true: generated pages match the code, examples run."""

from __future__ import annotations

import ast
import doctest
import importlib
import json
import re
import shlex
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

import crossql
from crossql.backends import BACKEND_NAMES, get_backend
from crossql.backends.base import CONSTRUCTS
from crossql.backends.matrix import REGENERATE, support_matrix
from crossql.config import ENVIRONMENT
from crossql.config_reference import (
    BLOCKS,
    block_table,
    configuration_reference,
    describe,
    environment_table,
    generated_part,
)
from crossql.config_reference import REGENERATE as CONFIG_REGENERATE
from tests.test_cli import InProcess, _console_sessions

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


# -- the configuration reference -----------------------------------------------------------------


def test_the_configuration_tables_are_generated_from_the_models() -> None:
    page = (DOCS / "configuration.md").read_text(encoding="utf-8")
    assert generated_part(page) == configuration_reference(), (
        "the tables of docs/configuration.md differ from the models in crossql/config.py; "
        f"regenerate them from the repository root with `{CONFIG_REGENERATE}`")


@pytest.mark.parametrize(("heading", "model"), [(h, m) for h, m, _ in BLOCKS],
                         ids=[h for h, _, _ in BLOCKS])
def test_every_key_of_every_block_is_described(heading: str, model: type[BaseModel]) -> None:
    table = block_table(model)
    for name, field in model.model_fields.items():
        line = next(row for row in table.splitlines() if row.startswith(f"| `{name}` |"))
        assert line.rstrip(" |").split(" | ")[-1] == describe(model, name, field)
        assert describe(model, name, field).strip()


def test_every_block_of_the_config_has_a_table() -> None:
    from crossql.config import BackendConfig, NoSQLConfig

    documented = {model for _, model, _ in BLOCKS}
    nested = {typing.get_args(f.annotation)[0] for f in NoSQLConfig.model_fields.values()
              if typing.get_args(f.annotation)}
    assert BackendConfig in documented
    for model in nested:
        if isinstance(model, type) and issubclass(model, BaseModel):
            assert model in documented, model


def test_the_environment_table_lists_every_variable() -> None:
    table = environment_table()
    for name, (block, key) in ENVIRONMENT.items():
        assert f"| `{name}` | `{f'{block}.{key}' if block else key}` |" in table
    assert "| `CROSSQL_CONFIG` |" in table


def test_a_field_without_a_description_is_an_error() -> None:
    from pydantic import Field, create_model

    model = create_model("Undocumented", shiny=(bool, Field(False)))
    with pytest.raises(LookupError, match=r"Undocumented\.shiny has no description"):
        block_table(model)


def test_the_config_tables_can_be_written_into_a_page(tmp_path: Path) -> None:
    from crossql.config_reference import BEGIN, END, main

    page = tmp_path / "c.md"
    page.write_text(f"intro\n\n{BEGIN}\nstale\n{END}\n\noutro\n")
    assert main(["--write", str(page)]) == 0
    assert page.read_text() == f"intro\n\n{configuration_reference()}\n\noutro\n"
    (tmp_path / "none.md").write_text("no markers\n")
    assert main(["--write", str(tmp_path / "none.md")]) == 1


# -- examples in the pages ---------------------------------------------------------------------

_FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.DOTALL | re.MULTILINE)
_EXAMPLE_KEYS = {"query", "documents", "params", "rows", "error", "message", "accepted",
                 "refused"}


@dataclass(frozen=True)
class Block:
    """A fenced code block of a page: its info string, text and first line number."""

    page: Path
    info: str
    text: str
    line: int

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def fenced_blocks(page: Path) -> list[Block]:
    text = page.read_text(encoding="utf-8")
    return [Block(page, m.group(1).strip(), m.group(2), text.count("\n", 0, m.start()) + 1)
            for m in _FENCE.finditer(text)]


def _info_value(info: str, key: str) -> str | None:
    for word in info.split()[1:]:
        if word.startswith(f"{key}="):
            return word.split("=", 1)[1]
    return None


def datasets(page: Path) -> dict[str, list[dict[str, Any]]]:
    """The ```yaml dataset=NAME blocks of a page."""
    out = {}
    for block in fenced_blocks(page):
        name = _info_value(block.info, "dataset")
        if block.info.startswith("yaml") and name:
            out[name] = yaml.safe_load(block.text)
    return out


def examples(*pages: Path) -> list[Block]:
    return [b for page in pages for b in fenced_blocks(page) if b.info == "yaml example"]


def run_example(block: Block) -> None:
    """Evaluate one example and compare with the rows (or the error) it shows."""
    example = yaml.safe_load(block.text)
    assert isinstance(example, dict) and set(example) <= _EXAMPLE_KEYS, block.where
    assert ("rows" in example) != ("error" in example), f"{block.where}: rows or error"
    docs = example["documents"]
    if isinstance(docs, str):
        docs = datasets(block.page)[docs]
    params = example.get("params")
    if "error" in example:
        with pytest.raises(crossql.QueryError) as info:
            crossql.evaluate(example["query"], docs, params=params)
        assert type(info.value).__name__ == example["error"], block.where
        assert example.get("message", "") in info.value.render(), block.where
        return
    rows = crossql.evaluate(example["query"], docs, params=params)
    # exact: the same rows, in the same order, with the same keys in the same order and
    # the same JSON types (10 is not 10.0 here)
    assert json.dumps(rows) == json.dumps(example["rows"]), (
        f"{block.where}: the example shows\n{example['rows']}\nbut the query returns\n{rows}")
    if "accepted" in example or "refused" in example:
        verdicts = {v.backend: v.accepted for v in crossql.check(example["query"],
                                                                params=params)}
        for name in example.get("accepted", []):
            assert verdicts[name], f"{block.where}: {name} refuses it"
        for name in example.get("refused", []):
            assert not verdicts[name], f"{block.where}: {name} accepts it"


LANGUAGE_EXAMPLES = examples(DOCS / "language.md")
ALL_EXAMPLES = examples(*sorted(DOCS.glob("*.md")))


def test_the_language_page_has_examples_of_every_clause() -> None:
    queries = " ".join(yaml.safe_load(b.text)["query"].lower() for b in LANGUAGE_EXAMPLES)
    for word in ("where", "group by", "select", "order by", "limit", "offset", "between",
                 " in ", "not in", "contains any", "contains all", "startswith", "matches",
                 "exists(", "size(", " not ", " or ", "count()", "sum(", "avg(", "max(", ":"):
        assert word in queries, word
    assert len(LANGUAGE_EXAMPLES) >= 30


@pytest.mark.parametrize("block", ALL_EXAMPLES, ids=[b.where for b in ALL_EXAMPLES])
def test_an_example_returns_what_it_shows(block: Block) -> None:
    run_example(block)


# -- command-line sessions in the pages --------------------------------------------------------

PAGES = sorted(DOCS.glob("*.md"))
SESSIONS = [(page, *session) for page in PAGES for session in _console_sessions(page)]


@pytest.fixture
def inproc(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> InProcess:
    return InProcess(capsys, monkeypatch)


def _page_files(page: Path, where: Path) -> None:
    """Write the page's ```yaml file=NAME blocks into ``where``, beside a link to examples/."""
    for block in fenced_blocks(page):
        name = _info_value(block.info, "file")
        if name:
            (where / name).write_text(block.text, encoding="utf-8")
    (where / "examples").symlink_to(ROOT / "examples")


@pytest.mark.parametrize(("page", "command", "expected", "status"), SESSIONS,
                         ids=[f"{p.name}:{i}" for i, (p, *_) in enumerate(SESSIONS)])
def test_a_documented_command_prints_what_the_page_shows(
        page: Path, command: str, expected: str, status: int, tmp_path: Path,
        inproc: InProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    _page_files(page, tmp_path)
    monkeypatch.chdir(tmp_path)
    for name in ("CROSSQL_CONFIG", *ENVIRONMENT):
        monkeypatch.delenv(name, raising=False)
    argv = shlex.split(command)
    assert argv[0] == "crossql"
    code, out, err = inproc(*argv[1:])
    assert (out + err, code) == (expected, status), f"{page.name}: $ {command}"


# -- Python sessions in the pages --------------------------------------------------------------

DOCTESTS = [b for page in PAGES for b in fenced_blocks(page)
            if b.info == "python" and b.text.lstrip().startswith(">>>")]


@pytest.mark.parametrize("block", DOCTESTS, ids=[b.where for b in DOCTESTS])
def test_a_documented_python_session_runs(block: Block, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    _page_files(block.page, tmp_path)
    monkeypatch.chdir(tmp_path)
    for name in ("CROSSQL_CONFIG", *ENVIRONMENT):
        monkeypatch.delenv(name, raising=False)
    test = doctest.DocTestParser().get_doctest(block.text, {}, block.where, str(block.page),
                                               block.line)
    runner = doctest.DocTestRunner()
    runner.run(test)
    assert runner.summarize(verbose=False) == (0, len(test.examples))


# -- the migration page: filter dicts and their CrossQL text -----------------------------------

MIGRATION = DOCS / "migration.md"


@dataclass(frozen=True)
class Pair:
    """One line of the migration table."""

    filter: dict[str, Any]
    condition: str
    rows: list[Any]
    filter_rows: list[Any]
    line: int


def _ids(cell: str) -> list[Any]:
    return [] if cell == "none" else [int(x) for x in cell.split(", ")]


def migration_pairs() -> list[Pair]:
    lines = MIGRATION.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if "<!-- migration pairs" in line)
    pairs = []
    for number, line in enumerate(lines[start + 1:], start + 2):
        if not line.startswith("| `"):
            if pairs:
                break
            continue
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        assert len(cells) == 4, f"migration.md:{number}: {cells}"
        filter_text, condition, rows, filter_rows = cells
        crossql_rows = _ids(rows)
        pairs.append(Pair(ast.literal_eval(filter_text.strip("`")), condition.strip("`"),
                          crossql_rows,
                          crossql_rows if filter_rows == "same" else _ids(filter_rows), number))
    return pairs


PAIRS = migration_pairs()
PEOPLE = datasets(MIGRATION)["people"]


class _Missing:
    pass


MISSING = _Missing()


def _path(doc: Any, path: str) -> Any:
    for segment in path.split("."):
        if not isinstance(doc, dict) or segment not in doc:
            return MISSING
        doc = doc[segment]
    return doc


def _bracket(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def _same(a: Any, b: Any) -> bool:
    return _bracket(a) == _bracket(b) and a == b


def _candidates(value: Any) -> list[Any]:
    """What a MongoDB operator is applied to: the value, and each element of an array."""
    return [value, *value] if isinstance(value, list) else [value]


_ORDER = {"$gt": lambda a, b: a > b, "$gte": lambda a, b: a >= b,
          "$lt": lambda a, b: a < b, "$lte": lambda a, b: a <= b}


def _operator(value: Any, op: str, arg: Any, spec: dict[str, Any]) -> bool:
    """MongoDB's documented meaning of one query operator on a field's value."""
    if op == "$eq":
        if arg is None:
            return value is MISSING or any(c is None for c in _candidates(value))
        return value is not MISSING and any(_same(c, arg) for c in _candidates(value))
    if op == "$ne":
        return not _operator(value, "$eq", arg, spec)
    if op in _ORDER:
        return value is not MISSING and any(
            _bracket(c) == _bracket(arg) and c is not None and _ORDER[op](c, arg)
            for c in _candidates(value))
    if op == "$in":
        return any(_operator(value, "$eq", a, spec) for a in arg)
    if op == "$nin":
        return not _operator(value, "$in", arg, spec)
    if op == "$exists":
        return (value is not MISSING) == arg
    if op == "$regex":
        flags = re.IGNORECASE if "i" in spec.get("$options", "") else 0
        return value is not MISSING and any(
            isinstance(c, str) and re.search(arg, c, flags) for c in _candidates(value))
    if op == "$options":
        return True
    if op == "$size":
        return isinstance(value, list) and len(value) == arg
    if op == "$all":
        return isinstance(value, list) and all(any(_same(c, a) for c in value) for a in arg)
    if op == "$type":
        assert arg == "array"
        return isinstance(value, list)
    if op == "$not":
        return not _field_matches(value, arg)
    raise AssertionError(f"the test's MongoDB model lacks {op}")


def _field_matches(value: Any, spec: Any) -> bool:
    if isinstance(spec, dict) and spec and all(k.startswith("$") for k in spec):
        return all(_operator(value, op, arg, spec) for op, arg in spec.items())
    if isinstance(spec, list):  # a whole-array equality, or an element equal to it
        return value is not MISSING and (value == spec or (
            isinstance(value, list) and any(c == spec for c in value)))
    return _operator(value, "$eq", spec, {})


def mongo_matches(doc: dict[str, Any], query: dict[str, Any]) -> bool:
    """MongoDB's documented filter semantics for the operators the migration page uses
    (tests/backends/test_migration_mongodb.py checks this model against a server)."""
    for key, spec in query.items():
        if key == "$and":
            ok = all(mongo_matches(doc, q) for q in spec)
        elif key == "$or":
            ok = any(mongo_matches(doc, q) for q in spec)
        elif key == "$nor":
            ok = not any(mongo_matches(doc, q) for q in spec)
        else:
            ok = _field_matches(_path(doc, key), spec)
        if not ok:
            return False
    return True


def test_the_migration_table_has_twenty_pairs_and_differences() -> None:
    assert len(PAIRS) >= 20
    assert sum(p.rows != p.filter_rows for p in PAIRS) >= 5
    operators = {op for p in PAIRS for op in re.findall(r"\$\w+", repr(p.filter))}
    assert {"$ne", "$nin", "$in", "$exists", "$not", "$nor", "$all", "$size"} <= operators


@pytest.mark.parametrize("pair", PAIRS, ids=[f"migration.md:{p.line}" for p in PAIRS])
def test_a_migration_pair_returns_the_rows_it_shows(pair: Pair) -> None:
    query = f"from people where {pair.condition}"
    crossql.compile(query, backend="mongodb")  # each translation runs on MongoDB
    assert [row["_id"] for row in crossql.evaluate(query, PEOPLE)] == pair.rows
    assert [doc["_id"] for doc in PEOPLE if mongo_matches(doc, pair.filter)] == \
        pair.filter_rows



# -- links -------------------------------------------------------------------------------------

_LINK = re.compile(r"\]\(([^)\s]+)\)")


def _anchors(page: Path) -> set[str]:
    """The anchors GitHub makes for the headings of a page."""
    text = _FENCE.sub("", page.read_text(encoding="utf-8"))
    return {re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
            for m in re.finditer(r"^#{1,6} (.+)$", text, re.MULTILINE)}


@pytest.mark.parametrize("page", [*PAGES, ROOT / "README.md"], ids=lambda p: p.name)
def test_every_relative_link_of_a_page_resolves(page: Path) -> None:
    text = _FENCE.sub("", page.read_text(encoding="utf-8"))
    for target in _LINK.findall(text):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        assert resolved.exists(), f"{page.name}: {target}"
        if anchor and resolved.suffix == ".md":
            assert anchor in _anchors(resolved), f"{page.name}: {target}"


def test_every_page_is_reachable_from_the_readme() -> None:
    seen: set[Path] = set()
    todo = [ROOT / "README.md"]
    while todo:
        page = todo.pop()
        if page in seen or not page.exists() or page.suffix != ".md":
            continue
        seen.add(page)
        text = _FENCE.sub("", page.read_text(encoding="utf-8"))
        todo += [(page.parent / target.partition("#")[0]).resolve()
                 for target in _LINK.findall(text) if not re.match(r"[a-z]+:|#", target)]
    for page in [*PAGES, *sorted((DOCS / "backends").glob("*.md"))]:
        assert page.resolve() in seen, (
            f"docs/{page.relative_to(DOCS)} is linked neither from README.md (its "
            "Documentation list) nor from a page linked from there")


# one statement per write construct: every backend whose data says it is not refused
# compiles it (with the Firestore profile that accepts `or`/`!=`, irrelevant here)
WRITE_EXAMPLES = {
    "set p = v": 'update users set status = "x" where age > 1',
    "set a.b = v": 'update users set address.city = "Rome" where age > 1',
    "p = p + n": "update users set visits = visits + 1 where age > 1",
    "unset p": "update users set unset status where age > 1",
    "delete": "delete from users where age > 1",
    "limit (writes)": "delete from users where age > 1 limit 2",
}


def test_the_write_rows_match_what_each_backend_compiles() -> None:
    from crossql.backends.base import WRITE_CONSTRUCTS
    from crossql.backends.matrix import write_capabilities

    assert set(WRITE_EXAMPLES) == set(WRITE_CONSTRUCTS) - {"transaction"}
    page = support_matrix()
    for backend in BACKEND_NAMES:
        caps = write_capabilities(backend)
        for construct, text in WRITE_EXAMPLES.items():
            refused = caps.support[construct] == "refused"
            try:
                plan = crossql.compile(text, backend=backend)
            except crossql.CapabilityError:
                assert refused, (backend, construct)
            else:
                assert not refused, (backend, construct)
                assert plan.backend == backend
        for construct, note in caps.notes.items():
            assert page.count(f"**{backend}**, `{construct}`: {note}\n") == 1
        # every backend runs transactions (tests/backends/test_transactions.py)
        assert caps.support["transaction"] != "refused"
        module = importlib.import_module(f"crossql.backends.{backend}.store")
        (store_type,) = [t for t in vars(module).values() if isinstance(t, type)
                         and issubclass(t, crossql.Store) and t.driver == backend
                         and t.__module__ == module.__name__ and not t.__name__.startswith("_")]
        assert store_type.begin_transaction is not crossql.Store.begin_transaction


def test_the_support_matrix_says_what_a_declared_schema_lifts() -> None:
    from crossql.backends.matrix import SCHEMA_LIFTS, support_matrix
    page = support_matrix()
    assert "With a declared schema ([schemas.md](schemas.md))" in page
    for name, lifts in SCHEMA_LIFTS.items():
        assert f"- **{name}**: {lifts}" in page
    assert "`order by` a field that may be missing" in SCHEMA_LIFTS["firestore"]
    assert "required: [created_at]" in SCHEMA_LIFTS["dynamodb"]
