"""The `mongodb:` configuration block and driver errors (no server needed)."""

from __future__ import annotations

import asyncio
import gc

import pytest

import crossql
from crossql.config import MongoConfig, load_config


def test_defaults_and_client_options() -> None:
    cfg = MongoConfig(uri="mongodb://db:27017", database="app", max_pool_size=10,
                      write_concern_w="majority", tls=True, auth_source="admin")
    assert cfg.client_options() == {
        "maxPoolSize": 10, "minPoolSize": 0, "serverSelectionTimeoutMS": 30_000,
        "connectTimeoutMS": 20_000, "retryWrites": True, "retryReads": True,
        "readPreference": "primary", "socketTimeoutMS": 60_000,  # every call is bounded
        "w": "majority", "authSource": "admin", "tls": True,
    }


def test_driver_without_its_block_is_refused() -> None:
    with pytest.raises(crossql.ConfigError, match="no `mongodb:` block"):
        load_config({"driver": "mongodb"})


@pytest.mark.parametrize(("block", "path"), [
    ({"uri": "mongodb://x", "pool": 3}, "mongodb.pool"),
    ({"max_pool_size": 0}, "mongodb.max_pool_size"),
    ({"read_preference": "fastest"}, "mongodb.read_preference"),
])
def test_bad_keys_name_their_path(block: dict[str, object], path: str) -> None:
    with pytest.raises(crossql.ConfigError) as info:
        load_config({"driver": "mongodb", "mongodb": block})
    assert path in str(info.value)


# PyMongo's async client can leave the socket of a refused connection for the
# garbage collector; that is the driver's, so it is collected here, not later
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_unreachable_server_is_a_backend_error_naming_mongodb() -> None:
    # port 9 (discard) on loopback: nothing listens, so server selection times out fast
    store = crossql.connect({"driver": "mongodb", "mongodb": {
        "uri": "mongodb://127.0.0.1:9", "server_selection_timeout_ms": 200,
        "connect_timeout_ms": 200}})

    async def run() -> None:
        async with store:
            await store.fetch("from users where age > 1")

    with pytest.raises(crossql.BackendError) as info:
        asyncio.run(run())
    assert info.value.backend == "mongodb"
    assert "127.0.0.1:9" in str(info.value)
    del info
    gc.collect()


def test_compiling_needs_no_driver() -> None:
    import subprocess
    import sys

    code = ("import sys, crossql; crossql.compile('from u where a == 1', backend='mongodb');"
            "print('pymongo' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
