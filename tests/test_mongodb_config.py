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


URI_WITH_OPTIONS = ("mongodb://127.0.0.1:9/?readPreference=secondaryPreferred"
                    "&serverSelectionTimeoutMS=2000&maxPoolSize=7")


def test_the_uris_options_win_over_the_blocks_defaults() -> None:
    options = MongoConfig(uri=URI_WITH_OPTIONS).client_options()
    for name in ("readPreference", "serverSelectionTimeoutMS", "maxPoolSize"):
        assert name not in options, options  # the URI's values stand
    assert options["connectTimeoutMS"] == 20_000  # a default the URI does not name


def test_a_key_written_in_the_block_wins_over_the_uri() -> None:
    options = MongoConfig(uri=URI_WITH_OPTIONS, max_pool_size=3).client_options()
    assert options["maxPoolSize"] == 3
    assert "readPreference" not in options
    # URI option names are case-insensitive, and `ssl` is `tls`
    cfg = MongoConfig(uri="mongodb://h/?READPREFERENCE=nearest&ssl=true")
    assert "readPreference" not in cfg.client_options()
    assert "tls" not in MongoConfig(uri="mongodb://h/?ssl=true", tls=None).client_options()


@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_client_opened_from_the_uri_has_the_uris_options() -> None:
    from pymongo import ReadPreference

    store = crossql.connect({"driver": "mongodb", "mongodb": {"uri": URI_WITH_OPTIONS}})
    seen: dict[str, object] = {}

    async def run() -> None:
        async with store:
            client = store.database.client  # type: ignore[attr-defined]
            seen["read_preference"] = client.read_preference
            seen["selection_timeout"] = client.options.server_selection_timeout
            seen["pool"] = client.options.pool_options.max_pool_size
            await store.fetch("from users where age > 1")  # nothing listens on port 9

    with pytest.raises(crossql.BackendError) as info:
        asyncio.run(run())
    assert seen == {"read_preference": ReadPreference.SECONDARY_PREFERRED,
                    "selection_timeout": 2.0, "pool": 7}
    # PyMongo's message names the timeout it waited for: the URI's, not the block's 30 s
    assert "Timeout: 2.0s" in str(info.value), str(info.value)
    del info
    gc.collect()


def test_an_error_of_ours_is_not_wrapped_again() -> None:
    # a store used before `async with`: the error names the backend once (it read
    # "mongodb: BackendError: mongodb: the store is not open")
    store = crossql.connect({"driver": "mongodb", "mongodb": {"uri": "mongodb://127.0.0.1:9"}})
    with pytest.raises(crossql.BackendError) as info:
        asyncio.run(store.create_collection("users"))  # type: ignore[attr-defined]
    assert str(info.value) == "mongodb: the store is not open: use `async with store:`"
