"""The suite's own machinery: per-backend markers and hypothesis budgets by profile."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.budget import PROFILES, examples

ROOT = Path(__file__).resolve().parent.parent


def _collected(*args: str) -> set[str]:
    done = subprocess.run([sys.executable, "-m", "pytest", "--co", "-q", "-p", "no:cacheprovider",
                           *args], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return {line.split("::")[0] for line in done.stdout.splitlines() if "::" in line}


def test_a_backend_marker_selects_its_unit_and_server_tests() -> None:
    files = _collected("-m", "dynamodb", "tests")
    assert "tests/test_dynamodb_plans.py" in files  # by its file name
    assert "tests/backends/test_dynamodb_writes.py" in files  # a server test
    assert "tests/test_templates.py" in files  # by a parameter: [dynamodb]
    assert "tests/test_mongodb_plans.py" not in files
    assert "tests/backends/test_firestore_writes.py" not in files


def test_profiles_scale_the_ci_counts() -> None:
    code = ("from tests.budget import examples\n"
            "print(examples(300), examples(300, at_least=250), examples(5))")
    out = {}
    for profile in PROFILES:
        env = {**os.environ, "CROSSQL_HYPOTHESIS_PROFILE": profile}
        out[profile] = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                                      capture_output=True, text=True, check=True).stdout.split()
    assert out["ci"] == ["300", "300", "5"]
    assert out["dev"] == ["30", "250", "5"]
    assert examples(1) == 1  # never more than CI draws


def test_an_unknown_profile_is_refused() -> None:
    env = {**os.environ, "CROSSQL_HYPOTHESIS_PROFILE": "fast"}
    done = subprocess.run([sys.executable, "-c", "import tests.budget"], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    assert done.returncode != 0 and "CROSSQL_HYPOTHESIS_PROFILE='fast'" in done.stderr
