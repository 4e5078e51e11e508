"""Shared test settings: hypothesis profiles ("ci" when $CI is set, "dev" otherwise),
and an environment without configuration overrides for tests that use no server."""

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from crossql.config import ENVIRONMENT

settings.register_profile("dev", deadline=None)
settings.register_profile(
    "ci",
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

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
