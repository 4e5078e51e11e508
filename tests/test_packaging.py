"""The package says what it is: licence file and expression, authors, classifiers."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_licence_is_declared_and_shipped() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    assert project["license"] == "MIT"
    assert project["license-files"] == ["LICENSE"]
    assert (ROOT / "LICENSE").read_text("utf-8").startswith("MIT License")


def test_the_metadata_is_complete() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    assert project["authors"] and project["description"] and project["keywords"]
    classifiers = project["classifiers"]
    assert "Typing :: Typed" in classifiers  # py.typed is shipped
    assert (ROOT / "crossql" / "py.typed").exists()
    versions = {c.rsplit(" ", 1)[-1] for c in classifiers
                if c.startswith("Programming Language :: Python :: 3.")}
    assert project["requires-python"] == ">=3.11" and min(versions) == "3.11"
