"""``@pytest.mark.gap(backend, reason=...)`` (tests/conftest.py): the test must fail on
that backend, as a strict xfail; elsewhere it runs as usual."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SAMPLE = '''
import pytest

@pytest.mark.gap("firestore", reason="it cannot")
@pytest.mark.parametrize("backend", ["memory", "firestore"])
def test_fails_on_its_gap(backend):
    assert backend != "firestore"

@pytest.mark.gap("memory", reason="it could not")
@pytest.mark.parametrize("backend", ["memory"])
def test_a_closed_gap(backend):
    pass

@pytest.mark.gap("firestore", reason="the default profile", ids=["firestore"])
@pytest.mark.parametrize("backend", ["firestore", "firestore-native"])
def test_one_profile(backend):
    assert backend == "firestore-native"
'''


def _run(tmp_path: Path, sample: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "conftest.py").write_text(
        "from tests.conftest import pytest_collection_modifyitems, pytest_configure\n")
    (tmp_path / "test_sample.py").write_text(sample)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rxX", "-p",
                           "no:cacheprovider", str(tmp_path)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_a_gap_fails_where_declared_and_a_closed_gap_is_a_failure(tmp_path: Path) -> None:
    done = _run(tmp_path, SAMPLE)
    summary = done.stdout.strip().splitlines()[-1]
    assert "1 failed, 2 passed, 2 xfailed" in summary, done.stdout
    assert "[XPASS(strict)] gap of memory: it could not" in done.stdout, done.stdout
    assert "gap of firestore: it cannot" in done.stdout


def test_a_gap_without_a_known_backend_or_a_reason_is_refused(tmp_path: Path) -> None:
    done = _run(tmp_path, "import pytest\n\n@pytest.mark.gap('sqlite')\n"
                          "def test_x():\n    pass\n")
    assert done.returncode != 0
    assert "write @pytest.mark.gap(backend, reason=...)" in done.stdout + done.stderr
