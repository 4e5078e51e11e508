"""CrossQL's pytest plugin (the ``pytest11`` entry point ``crossql``): fixtures for
testing an application's queries (docs/testing.md).

Loading it costs nothing: it imports only pytest, and CrossQL's testing helpers
(``crossql.testing``) and syrupy when a test asks for them.

- ``@pytest.mark.crossql_plans(path, backends=[...], schema=..., options=...)`` with a
  ``crossql_plan`` argument: one test per query of the file and backend (ids
  ``query-backend``); ``crossql_plan`` is the plan, a refusal fails that test with its
  located frame. A relative path is read from the test module's folder.
- ``plan_snapshot``: syrupy's ``snapshot`` serialising plans with
  ``crossql.testing.PlanSnapshotExtension`` (needs ``crossql[testing]``).
- ``crossql_store``: an embedded store seeded from the fixture files of
  ``@pytest.mark.crossql_data(path, ...)`` (relative to the test module), or of the
  ``crossql_data`` ini option (relative to the rootdir); empty without either.
- ``crossql.testing.assert_portable(query, backends)``: fails with the refusals' frames.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from crossql.backends import Plan
    from crossql.backends.memory.store import MemoryStore


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("crossql_data", type="paths", default=[],
                  help="fixture files (JSON, JSON lines, YAML) the crossql_store fixture "
                       "is seeded from when a test has no crossql_data marker")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "crossql_plans(path, backends=('mongodb', 'dynamodb', 'firestore'), "
                   "schema=None, options=None): run the test once per query of the query "
                   "file and backend, with its plan as the crossql_plan argument")
    config.addinivalue_line(
        "markers", "crossql_data(*paths): fixture files the crossql_store fixture is "
                   "seeded from")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marker = metafunc.definition.get_closest_marker("crossql_plans")
    if marker is None:
        return
    if "crossql_plan" not in metafunc.fixturenames:
        raise pytest.UsageError(f"{metafunc.definition.nodeid}: the crossql_plans marker "
                                "needs a crossql_plan argument")
    from crossql.testing import plan_cases

    cases = plan_cases(*marker.args, base=metafunc.definition.path.parent, **marker.kwargs)
    metafunc.parametrize("crossql_plan", cases, ids=[c.id for c in cases], indirect=True)


@pytest.fixture
def crossql_plan(request: pytest.FixtureRequest) -> Plan:
    """The plan of one query by one backend (``crossql_plans`` marker or decorator)."""
    case = getattr(request, "param", None)
    if case is None:
        pytest.fail("crossql_plan comes from @pytest.mark.crossql_plans(path, backends=...) "
                    "or crossql.testing.crossql_plans(...) on the test", pytrace=False)
    from crossql.errors import QueryError

    try:
        plan: Plan = case.plan()
    except QueryError as err:
        pytest.fail(f"{case.id}:\n{err.render()}", pytrace=False)
    return plan


@pytest.fixture
def plan_snapshot(request: pytest.FixtureRequest) -> Any:
    """syrupy's ``snapshot`` with plans stored as sorted JSON and ``to_python()``."""
    try:
        from crossql.testing.snapshot import PlanSnapshotExtension
    except ImportError:  # syrupy is the testing extra's
        pytest.fail("plan_snapshot needs syrupy: pip install 'crossql[testing]'",
                    pytrace=False)
    return request.getfixturevalue("snapshot").use_extension(PlanSnapshotExtension)


@pytest.fixture
def crossql_store(request: pytest.FixtureRequest) -> MemoryStore:
    """An embedded store (the reference semantics) seeded from fixture files: those
    of the test's ``crossql_data`` marker, else of the ``crossql_data`` ini option."""
    from crossql.testing import memory_store

    marker = request.node.get_closest_marker("crossql_data")
    if marker is not None:
        base = Path(request.node.path).parent
        paths: list[Path] = [base / p for p in marker.args]
    else:
        paths = list(request.config.getini("crossql_data"))
    try:
        return memory_store(*paths)
    except (OSError, ValueError) as err:
        pytest.fail(f"crossql_store: {err}", pytrace=False)
