"""The `nosql:` configuration: the users' YAML as it is, named backends, the
environment, and every problem reported at once with its path."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import crossql
from crossql.config import ENVIRONMENT, NoSQLConfig, load_config

USERS_YAML = (Path(__file__).resolve().parents[1] / "examples" / "crossql.yaml").read_text()
"""The users' YAML of issue #6, as they wrote it."""


@pytest.fixture
def users_yaml(tmp_path: Path) -> Path:
    path = tmp_path / "crossql.yaml"
    path.write_text(USERS_YAML)
    return path


def test_the_users_yaml_works_as_it_is(users_yaml: Path) -> None:
    cfg = load_config(users_yaml, env={})
    assert cfg.driver == "mongodb" and cfg.primary_name == "default"
    assert cfg.block().uri == "mongodb://localhost:27017" and cfg.block().database == "app"
    assert cfg.block("analytics").endpoint_url == "http://localhost:8000"
    assert cfg.block("mobile").project_id == "my-gcp-project"
    store = crossql.connect(users_yaml)
    assert store.driver == "mongodb"
    assert store.backend_names == ["default", "analytics", "mobile"]
    assert store.backend("analytics").driver == "dynamodb"
    assert store["mobile"].driver == "firestore"
    assert store["analytics"].backend("default") is store
    with pytest.raises(KeyError, match="known: default, analytics, mobile"):
        store.backend("reports")


def test_environment_overrides_file_values(users_yaml: Path) -> None:
    cfg = load_config(users_yaml, env={
        "MONGODB_URI": "mongodb://127.0.0.1:27999", "DYNAMODB_ENDPOINT": "http://127.0.0.1:8999",
        "FIRESTORE_EMULATOR_HOST": "127.0.0.1:8998", "MONGODB_DATABASE": "other"})
    assert cfg.block().uri == "mongodb://127.0.0.1:27999"
    assert cfg.block().database == "other"
    assert cfg.block().max_pool_size == 100  # untouched keys stay
    assert cfg.block("analytics").endpoint_url == "http://127.0.0.1:8999"
    assert cfg.block("mobile").emulator_host == "127.0.0.1:8998"


def test_config_from_the_environment_alone(users_yaml: Path) -> None:
    assert load_config(None, env={"CROSSQL_CONFIG": str(users_yaml)}).driver == "mongodb"
    cfg = load_config(None, env={"CROSSQL_DRIVER": "mongodb", "MONGODB_URI": "mongodb://h:1"})
    assert cfg.driver == "mongodb" and cfg.block().uri == "mongodb://h:1"
    assert load_config(None, env={}).driver == "memory"
    assert set(ENVIRONMENT) >= {"CROSSQL_DRIVER", "MONGODB_URI", "DYNAMODB_ENDPOINT",
                                "FIRESTORE_EMULATOR_HOST"}


def test_code_configuration_is_taken_as_is() -> None:
    cfg = load_config({"driver": "mongodb", "mongodb": {"uri": "mongodb://mine:1"}},
                      env={"MONGODB_URI": "mongodb://env:2"})
    assert cfg.block().uri == "mongodb://mine:1"
    model = NoSQLConfig(driver="memory")
    assert load_config(model) is model


def test_a_named_backend_can_be_primary() -> None:
    store = crossql.connect({"driver": "memory", "backends": [
        {"name": "scratch", "driver": "memory"},
        {"name": "main", "driver": "memory", "primary": True, "memory": {"plan_cache_size": 3}},
    ]})
    assert store is store.backend("main")
    assert store.backend_names == ["default", "scratch", "main"]

    async def run() -> tuple[int, int]:
        async with store:
            await store.collection("c").insert_one({"a": 1})
            await store["scratch"].collection("c").insert_many([{"a": 1}, {"a": 2}])
            return await store.count("from c"), await store["scratch"].count("from c")

    assert asyncio.run(run()) == (1, 2)


def test_every_problem_is_listed_with_its_path() -> None:
    with pytest.raises(crossql.ConfigError) as info:
        load_config({
            "driver": "dynamodb", "colour": "blue",
            "mongodb": {"uri": "mongodb://x", "pool": 3},
            "backends": [
                {"name": "a", "driver": "mongodb", "primary": True},
                {"name": "a", "driver": "firestore", "firestore": {}, "primary": True},
                {"name": "default", "driver": "memory"},
                {"driver": "cassandra"},
            ],
        })
    problems = dict(info.value.problems)
    assert problems["colour"] == "unknown key"
    assert problems["mongodb.pool"] == "unknown key"
    assert "no `dynamodb:` block" in problems["dynamodb"]
    assert "no `mongodb:` block" in problems["backends.0.mongodb"]
    assert "duplicate name 'a'" in problems["backends.1.name"]
    assert "top-level driver" in problems["backends.2.name"]
    assert "backends.3.name" in problems and "backends.3.driver" in problems
    assert "more than one primary" in problems["backends"]
    text = str(info.value)
    assert text.startswith(f"invalid CrossQL configuration ({len(info.value.problems)} problems)")
    assert all(f"  - {path}: " in text for path in problems)


@pytest.mark.parametrize(("content", "message"), [
    ("nosql: [1, 2]", "expected a mapping"),
    ("nosql: {driver: memory", "not valid YAML"),
])
def test_bad_files(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    with pytest.raises(crossql.ConfigError, match=message):
        load_config(path, env={})


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(crossql.ConfigError, match=r"nope\.yaml"):
        load_config(tmp_path / "nope.yaml", env={})
