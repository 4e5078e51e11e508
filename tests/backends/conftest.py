"""Fixtures for tests that talk to real servers started by scripts/servers/.

A server is found through the environment the start scripts export
(``MONGODB_URI``, ...). When it is not configured or not reachable, the test
is skipped on a developer machine and FAILS when ``CI`` is set: CI must never
pass by skipping a backend.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import pytest

import crossql


def unavailable(message: str) -> None:
    """Fail under CI, skip elsewhere (with the reason either way)."""
    if os.environ.get("CI"):
        pytest.fail(f"{message} (CI is set: a backend that is not reachable is a failure)")
    pytest.skip(f"{message}; run the suite with scripts/test to start the servers (CI fails here)")


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def runner() -> Iterator[asyncio.Runner]:
    """One event loop for the whole session, so stores stay open across tests."""
    with asyncio.Runner() as r:
        yield r


def server_address(variable: str, what: str, default_port: int) -> str:
    """The value of ``variable`` (a URL or ``host:port``), once a server answers there;
    ``unavailable`` (a failure under CI) otherwise."""
    value = os.environ.get(variable)
    if not value:
        unavailable(f"{variable} is not set")
        raise AssertionError  # unreachable: unavailable() fails or skips
    parsed = urlparse(value if "://" in value else f"//{value}")
    if not _reachable(parsed.hostname or "127.0.0.1", parsed.port or default_port):
        unavailable(f"no {what} answers at {value}")
    return value


@pytest.fixture(scope="session")
def mongodb_uri() -> str:
    return server_address("MONGODB_URI", "MongoDB server", 27017)


@pytest.fixture(scope="session")
def mongo_store(runner: asyncio.Runner, mongodb_uri: str) -> Iterator[Any]:
    """An open MongoDB store on a database of its own, dropped afterwards."""
    database = f"crossql_test_{uuid.uuid4().hex[:8]}"
    store = crossql.connect({"driver": "mongodb", "mongodb": {
        "uri": mongodb_uri, "database": database, "server_selection_timeout_ms": 5000}})
    runner.run(store.open())
    yield store
    from pymongo.errors import AutoReconnect

    try:
        for attempt in range(3):
            try:
                runner.run(store.database.client.drop_database(database))
                break
            except AutoReconnect:  # transient by PyMongo's definition: retry, as it advises
                if attempt == 2:
                    raise
    finally:
        runner.run(store.close())


@pytest.fixture(scope="session")
def firestore_host() -> str:
    """``host:port`` of the Firestore emulator (``FIRESTORE_EMULATOR_HOST``)."""
    return server_address("FIRESTORE_EMULATOR_HOST", "Firestore emulator", 8080)


def reset_firestore(host: str, project: str) -> None:
    """Delete every document of ``project`` on the emulator (its own DELETE endpoint)."""
    url = f"http://{host}/emulator/v1/projects/{project}/databases/(default)/documents"
    with urllib.request.urlopen(urllib.request.Request(url, method="DELETE"), timeout=10):
        pass


@pytest.fixture(scope="session")
def firestore_store(runner: asyncio.Runner, firestore_host: str) -> Iterator[Any]:
    """An open Firestore store (default profile) on an emulator project of its own,
    wiped afterwards."""
    project = f"crossql-test-{uuid.uuid4().hex[:8]}"
    store = crossql.connect({"driver": "firestore", "firestore": {
        "project_id": project, "emulator_host": firestore_host}})
    runner.run(store.open())
    yield store
    reset_firestore(firestore_host, project)
    runner.run(store.close())


@pytest.fixture(scope="session")
def dynamodb_endpoint() -> str:
    return server_address("DYNAMODB_ENDPOINT", "DynamoDB", 8000)


@pytest.fixture(scope="session")
def dynamo_store(runner: asyncio.Runner, dynamodb_endpoint: str) -> Iterator[Any]:
    """An open DynamoDB store whose tables carry a prefix of their own, dropped afterwards."""
    from tests.backends.dynamo_support import drop_tables, store_config

    prefix = f"crossql_test_{uuid.uuid4().hex[:8]}_"
    store = crossql.connect(store_config(dynamodb_endpoint, table_prefix=prefix))
    runner.run(store.open())
    yield store
    runner.run(drop_tables(store))
    runner.run(store.close())


STORE_FIXTURES = {"mongodb": "mongo_store", "dynamodb": "dynamo_store",
                  "firestore": "firestore_store"}
"""The session's store fixture of each server backend."""


def store_of(request: pytest.FixtureRequest, runner: asyncio.Runner, backend: str) -> Any:
    """An open store of ``backend``: a fresh memory store (closed after the test), or the
    session's store of a server backend."""
    if backend != "memory":
        return request.getfixturevalue(STORE_FIXTURES[backend])
    memory = crossql.connect({"driver": "memory"})
    runner.run(memory.__aenter__())
    request.addfinalizer(lambda: runner.run(memory.__aexit__(None, None, None)))
    return memory


def load(runner: asyncio.Runner, store: Any, collection: str, docs: list[dict[str, Any]]) -> None:
    """Replace a collection's content with ``docs``."""
    runner.run(store.drop_collection(collection))
    if docs:
        runner.run(store.collection(collection).insert_many(docs))


def _normal(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normal(v) for v in value]
    if isinstance(value, float):
        # sums of floats may differ in the last bits with the order of addition
        return int(value) if value.is_integer() else float(f"{value:.12g}")
    return value


def canonical(row: Any) -> str:
    """A row as text that ignores key order and int/float spelling (1 == 1.0)."""
    return json.dumps(_normal(row), sort_keys=True, default=str)


def same_rows(got: list[dict[str, Any]], want: list[dict[str, Any]], *, ordered: bool) -> bool:
    """Rows equal in order (when the query's order is total) or as multisets."""
    if ordered:
        return [canonical(r) for r in got] == [canonical(r) for r in want]
    return sorted(map(canonical, got)) == sorted(map(canonical, want))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print how many generated queries each backend compared with the reference, and
    what the injection, fault and load tests counted."""
    from tests.backends.differential import STATS

    for name, counts in sorted(STATS.items()):
        parts = ", ".join(f"{k}={v}" for k, v in sorted(counts.items()))
        # a name of one word is a differential run; others say what they count
        label = name if " " in name else f"differential {name}"
        terminalreporter.write_line(f"{label}: {parts}")
