"""Shared test settings: hypothesis profiles (``ci`` when $CI is set, ``dev`` otherwise;
``CROSSQL_HYPOTHESIS_PROFILE`` chooses, see tests/budget.py), and an environment
without configuration overrides for tests that use no server."""

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from crossql.backends.registry import backend_names
from crossql.config import ENVIRONMENT
from tests.budget import PROFILE, examples

settings.register_profile("dev", deadline=None, max_examples=examples(100))
settings.register_profile(
    "ci",
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(PROFILE)

_BACKENDS_DIR = Path(__file__).parent / "backends"


@pytest.fixture(autouse=True)
def _no_config_from_the_environment(request: pytest.FixtureRequest,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """scripts/test exports MONGODB_URI, DYNAMODB_ENDPOINT, ... for the server tests;
    they would override the values of every configuration file a unit test loads
    (and its subprocesses inherit them), so tests outside tests/backends/ run
    without them."""
    if _BACKENDS_DIR in Path(str(request.node.fspath)).parents:
        return
    for name in [*ENVIRONMENT, "CROSSQL_CONFIG"]:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """An OpenTelemetry SDK tracer provider exporting to memory, installed for this test
    only (the SDK is in the dev extra; its API is what crossql's spans use)."""
    if os.environ.get("CI"):  # the dev extra installs the SDK: under CI, missing is a failure
        import opentelemetry.sdk.trace as sdk
        import opentelemetry.trace as trace
    else:
        trace = pytest.importorskip("opentelemetry.trace")
        sdk = pytest.importorskip("opentelemetry.sdk.trace")
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = sdk.TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", provider)
    yield exporter
    provider.shutdown()


BACKENDS = backend_names()
_FIXTURE_BACKEND = {"mongodb_uri": "mongodb", "mongo_store": "mongodb",
                    "dynamodb_endpoint": "dynamodb", "dynamo_store": "dynamodb",
                    "firestore_host": "firestore", "firestore_store": "firestore"}


def _backends_of(item: pytest.Item) -> set[str]:
    """The backends a test exercises: named by its file, by the server fixtures it
    uses, or by a parameter of its id (``[dynamodb]``, ``[firestore-native]``)."""
    found = {b for b in BACKENDS if b in Path(str(item.fspath)).stem}
    found |= {_FIXTURE_BACKEND[f] for f in getattr(item, "fixturenames", ())
              if f in _FIXTURE_BACKEND}
    callspec = getattr(item, "callspec", None)
    if callspec is not None:
        words = set("-".join(str(v) for v in callspec.params.values()).split("-"))
        words |= set(callspec.id.split("-"))
        found |= words & set(BACKENDS)
    return found


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "gap(backend, *, reason, ids=None): a known gap of `backend`, declared instead of an "
        "`if store.driver == ...` in the test: there the test must fail (a strict xfail, "
        "so a gap that closes fails until its marker goes); `ids` limits it to those "
        "parameter ids (a profile of the backend)")


def _gap(item: pytest.Item) -> pytest.MarkDecorator | None:
    """The strict xfail of the first ``gap`` marker that applies to ``item``."""
    for mark in item.iter_markers("gap"):
        backend = mark.args[0] if len(mark.args) == 1 else None
        reason = mark.kwargs.get("reason")
        if backend not in BACKENDS or not reason:
            raise pytest.UsageError(f"{item.nodeid}: write @pytest.mark.gap(backend, "
                                    f"reason=...) with a backend of {BACKENDS}")
        ids = mark.kwargs.get("ids")
        callspec = getattr(item, "callspec", None)
        if ids is not None and (callspec is None or callspec.id not in ids):
            continue
        if backend in _backends_of(item):
            return pytest.mark.xfail(strict=True, reason=f"gap of {backend}: {reason}")
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """``pytest -m dynamodb`` selects a backend's unit and server tests alike; a ``gap``
    marker becomes a strict xfail where its backend runs."""
    for item in items:
        for backend in sorted(_backends_of(item)):
            item.add_marker(getattr(pytest.mark, backend))
        gap = _gap(item)
        if gap is not None:
            item.add_marker(gap)
