"""The ``firestore:`` block of the configuration, the store it opens, and the compile
options as the command line gives them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from crossql.backends.completion import ClientSide
from crossql.backends.firestore.options import FirestoreOptions
from crossql.errors import ConfigError

if TYPE_CHECKING:
    from crossql.runtime.store import Store


class FirestoreConfig(BaseModel):
    """The ``firestore:`` block: the project and database for ``google.cloud.firestore``.

    ``FIRESTORE_EMULATOR_HOST`` in the environment points the client at the
    emulator, as the Google client does; ``emulator_host`` does the same from the
    config (and wins over the environment).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    project_id: str | None = None
    """The Google Cloud project (None: the client's default, ``GOOGLE_CLOUD_PROJECT``)."""
    database_id: str = "(default)"
    """The Firestore database of the project."""
    credentials_json: str | None = None
    """A service-account key: the path of its JSON file, or the JSON text itself
    (None: application default credentials)."""
    emulator_host: str | None = None
    """``host:port`` of a Firestore emulator."""
    options: FirestoreOptions = FirestoreOptions()
    """The profile: ``native_not_equal``/``native_or`` opt into `!=`/`not-in` and OR."""
    timeout: float = Field(60.0, gt=0)
    """Seconds one call may take, its retries on an unavailable server included; for a
    query, the whole stream of its rows (the client's own default is 300 s of retries)."""
    plan_cache_size: int = Field(256, ge=0)
    """How many checked queries the store keeps for reuse (LRU)."""
    client_side: ClientSide | None = None
    """Complete client-side what Firestore cannot order, group or aggregate, over at most
    ``max_rows`` rows read (docs/configuration.md, "Client-side completion"); None: such
    queries are refused."""

    @model_validator(mode="after")
    def _client_side_once(self) -> FirestoreConfig:
        if self.client_side is not None and self.options.client_side is not None:
            raise ValueError("give client_side once, in the firestore block itself "
                             "(options.client_side is the same option)")
        return self

    @property
    def compile_options(self) -> FirestoreOptions:
        """The options its store compiles with: ``options``, with ``client_side``."""
        if self.client_side is None:
            return self.options
        return self.options.model_copy(update={"client_side": self.client_side})


def open_store(block: FirestoreConfig, client: Any) -> Store:
    """A store on the block's project, or on ``client`` (a
    ``google.cloud.firestore.AsyncClient``) when one is handed in."""
    # imported when a store opens: reading a configuration needs no store
    from crossql.backends.firestore.store import FirestoreStore

    return FirestoreStore(block, client=client)


def coerce_options(raw: Mapping[str, Any]) -> FirestoreOptions:
    """``FirestoreOptions`` from a mapping; ``ConfigError`` whose paths are option names."""
    try:
        return FirestoreOptions.model_validate(raw)
    except ValidationError as err:
        raise ConfigError([(".".join(str(p) for p in e["loc"]),
                            "unknown option" if e["type"] == "extra_forbidden" else e["msg"])
                           for e in err.errors()]) from None
