"""``crossql run … --page-size N [--after CURSOR]`` (issue 18): a page of rows, the next
cursor on stderr and, with ``--json``, beside the rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_cli import InProcess

DATA = {"users": [{"_id": "a", "age": 3}, {"_id": "b", "age": 1}, {"_id": "c"},
                  {"_id": "d", "age": 3}]}


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> InProcess:
    return InProcess(capsys, monkeypatch)


def test_run_pages_and_prints_the_next_cursor(run: InProcess, tmp_path: Path) -> None:
    data = tmp_path / "d.json"
    data.write_text(json.dumps(DATA))
    query = "from users order by age desc"
    code, out, err = run("run", "-d", str(data), query, "--page-size", "3", "--json")
    assert code == 0
    first = json.loads(out)
    assert [r["_id"] for r in first["rows"]] == ["a", "d", "b"]
    assert err == f"next cursor: {first['next_cursor']}\n"
    code, out, err = run("run", "-d", str(data), query, "--page-size", "3", "--after",
                         first["next_cursor"], "--jsonl")
    assert code == 0 and json.loads(out) == {"_id": "c"}
    assert err == "(last page: no next cursor)\n"
    code, out, err = run("run", "-d", str(data), "from users order by age", "--page-size",
                         "3", "--after", first["next_cursor"])
    assert code == 2 and "the cursor was made by another query" in err


def test_after_needs_a_page_size_and_a_page_a_row(run: InProcess, tmp_path: Path) -> None:
    data = tmp_path / "d.json"
    data.write_text(json.dumps(DATA))
    code, _, err = run("run", "-d", str(data), "from users", "--after", "x")
    assert code == 2 and "give --page-size N too" in err
    code, _, err = run("run", "-d", str(data), "from users", "--page-size", "0")
    assert code == 2 and "a page holds at least one row, not 0" in err
