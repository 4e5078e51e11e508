"""The ``dynamodb:`` block of the configuration, the store it opens, and the compile
options as the command line gives them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from crossql.backends.completion import ClientSide
from crossql.backends.dynamodb.schema import DynamoOptions, dynamo_options
from crossql.errors import ConfigError

if TYPE_CHECKING:
    from crossql.runtime.store import Store


class DynamoConfig(BaseModel):
    """The ``dynamodb:`` block: the endpoint and credentials for aioboto3, key naming,
    and how calls are retried (throttling, unprocessed batch items)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    region: str = "us-east-1"
    """The AWS region."""
    endpoint_url: str | None = None
    """E.g. ``http://127.0.0.1:8000`` for DynamoDB Local; None: AWS's endpoint."""
    access_key: str | None = None
    """None (with ``secret_key`` None): the usual AWS credential chain."""
    secret_key: str | None = Field(default=None, repr=False)
    """The secret of ``access_key`` (never shown in reprs)."""
    pk_field: str = Field(default="_id", min_length=1)
    """The partition-key attribute that holds CrossQL's ``_id``."""
    table_prefix: str = Field(default="", pattern=r"^[A-Za-z0-9_.-]*$")
    """Prepended to a collection's name to give its table's name."""
    allow_scan: bool = True
    """False: queries that would Scan a whole table are refused (CapabilityError)."""
    max_attempts: int = Field(default=8, ge=1)
    """Attempts per call when DynamoDB throttles or leaves batch items unprocessed."""
    backoff_base: float = Field(default=0.05, gt=0)
    """Seconds; the n-th retry waits a random time up to ``base * 2**(n-1)``..."""
    backoff_max: float = Field(default=5.0, gt=0)
    """...capped at this many seconds."""
    connect_timeout: float = Field(default=10.0, gt=0)
    """Seconds to wait for a connection."""
    read_timeout: float = Field(default=60.0, gt=0)
    """Seconds to wait for an answer."""
    max_pool_connections: int = Field(default=50, ge=1)
    """HTTP connections kept to DynamoDB, and calls in flight at once (more wait their
    turn in order)."""
    plan_cache_size: int = Field(default=256, ge=0)
    """How many checked queries the store keeps for reuse (LRU)."""
    client_side: ClientSide | None = None
    """Complete client-side what DynamoDB cannot order, group or aggregate, over at most
    ``max_rows`` rows read (docs/configuration.md, "Client-side completion"); None: such
    queries are refused."""

    @model_validator(mode="after")
    def _credentials(self) -> DynamoConfig:
        if (self.access_key is None) != (self.secret_key is None):
            raise ValueError("give both access_key and secret_key, or neither")
        return self


def open_store(block: DynamoConfig, client: Any) -> Store:
    """A store on the block's endpoint, or on ``client`` (an aioboto3 low-level
    ``dynamodb`` client) when one is handed in."""
    # imported when a store opens: reading a configuration needs no store
    from crossql.backends.dynamodb.store import DynamoStore

    return DynamoStore(block, client=client, plan_cache_size=block.plan_cache_size)


def coerce_options(raw: Mapping[str, Any]) -> DynamoOptions:
    """``DynamoOptions`` from a mapping; ``ConfigError`` whose paths are option names."""
    try:
        return dynamo_options(raw)
    except ConfigError as err:
        raise ConfigError([(path.removeprefix("options."), message)
                           for path, message in err.problems]) from None
