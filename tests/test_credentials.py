"""Missing credentials are a configuration error that says what was tried and how to
give some (exit status 2), and a region the user set wins over the block's default
(no server needed: the checks run before any request)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

import crossql
from crossql.backends.dynamodb.store_base import _session
from crossql.config import DynamoConfig

_AWS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
        "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI")
_GOOGLE = ("GOOGLE_APPLICATION_CREDENTIALS", "FIRESTORE_EMULATOR_HOST",
           "GOOGLE_CLOUD_PROJECT", "CLOUDSDK_CONFIG")


@pytest.fixture
def no_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """An environment in which neither AWS nor Google can find credentials."""
    for name in (*_AWS, *_GOOGLE):
        monkeypatch.delenv(name, raising=False)
    values = {"HOME": str(tmp_path), "AWS_EC2_METADATA_DISABLED": "true",
              "AWS_CONFIG_FILE": str(tmp_path / "none"),
              "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
              "CLOUDSDK_CONFIG": str(tmp_path / "gcloud"), "NO_GCE_CHECK": "True"}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def _open(config: dict[str, object]) -> None:
    async def run() -> None:
        async with crossql.connect(config):
            pass

    asyncio.run(run())


def test_dynamodb_without_credentials_is_a_config_error(no_credentials: dict[str, str]) -> None:
    with pytest.raises(crossql.ConfigError) as info:
        _open({"driver": "dynamodb", "dynamodb": {"endpoint_url": "http://127.0.0.1:9"}})
    text = str(info.value)
    assert info.value.problems[0][0] == "dynamodb.access_key"
    assert "no AWS credentials" in text and "AWS_ACCESS_KEY_ID" in text
    assert "DynamoDB Local accepts any values" in text  # an endpoint is set: say so


def test_firestore_without_credentials_is_a_config_error(no_credentials: dict[str, str]) -> None:
    with pytest.raises(crossql.ConfigError) as info:
        _open({"driver": "firestore", "firestore": {"project_id": "p"}})
    text = str(info.value)
    assert info.value.problems[0][0] == "firestore.credentials_json"
    assert "GOOGLE_APPLICATION_CREDENTIALS" in text and "FIRESTORE_EMULATOR_HOST" in text


def test_the_command_line_exits_2_and_names_the_fix(no_credentials: dict[str, str],
                                                    tmp_path: Path) -> None:
    config = tmp_path / "crossql.yaml"
    config.write_text("nosql:\n  driver: dynamodb\n  dynamodb:\n"
                      "    endpoint_url: http://127.0.0.1:9\n", "utf-8")
    done = subprocess.run([sys.executable, "-m", "crossql", "run", "--config", str(config),
                           "from users"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "no AWS credentials were found" in done.stderr
    assert "server is reachable" not in done.stderr  # not the backend-failure hint


@pytest.mark.parametrize(("block", "environment", "region"), [
    ({}, {}, "us-east-1"),  # nothing anywhere: the block's default
    ({}, {"AWS_DEFAULT_REGION": "eu-west-1"}, "eu-west-1"),  # boto's own source wins
    ({"region": "ap-south-1"}, {"AWS_DEFAULT_REGION": "eu-west-1"}, "ap-south-1"),  # written
])
def test_a_region_the_user_set_wins(no_credentials: dict[str, str],
                                    monkeypatch: pytest.MonkeyPatch, block: dict[str, str],
                                    environment: dict[str, str], region: str) -> None:
    import aioboto3  # type: ignore[import-untyped]

    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    cfg = DynamoConfig(access_key="a", secret_key="b", **block)
    session = asyncio.run(_session(aioboto3, cfg))
    assert session.region_name == region
