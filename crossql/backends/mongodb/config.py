"""The ``mongodb:`` block of the configuration, and the store it opens."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from crossql.runtime.store import Store


class MongoConfig(BaseModel):
    """The ``mongodb:`` block: connection and pool settings for PyMongo's async client."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    uri: str = "mongodb://127.0.0.1:27017"
    """The connection string (hosts, credentials, URI options)."""
    database: str = "crossql"
    """The database that holds the collections."""
    max_pool_size: int = Field(100, ge=1)
    """``maxPoolSize``: connections per server at most."""
    min_pool_size: int = Field(0, ge=0)
    """``minPoolSize``: connections kept open per server."""
    server_selection_timeout_ms: int = Field(30_000, ge=1)
    """``serverSelectionTimeoutMS``: how long an operation waits for a usable server."""
    connect_timeout_ms: int = Field(20_000, ge=1)
    """``connectTimeoutMS``."""
    socket_timeout_ms: int | None = Field(60_000, ge=1)
    """``socketTimeoutMS``: a read that waits longer fails (null: wait forever, PyMongo's
    default, so a server that stops answering hangs the call)."""
    timeout_ms: int | None = Field(None, ge=1)
    """``timeoutMS``: one bound on each whole operation — server selection, every read
    and retry included (PyMongo's client-side operation timeout); null: only the
    per-step timeouts above, so a call can take several of them."""
    retry_writes: bool = True
    """``retryWrites``: retry a write once after a network error or failover."""
    retry_reads: bool = True
    """``retryReads``: the same for reads."""
    read_preference: Literal["primary", "primaryPreferred", "secondary", "secondaryPreferred",
                             "nearest"] = "primary"
    """``readPreference``: which replica-set members serve reads."""
    write_concern_w: int | Literal["majority"] | None = None
    """``w``: acknowledgement of writes (null: the server's default)."""
    auth_source: str | None = None
    """``authSource``: the database that holds the credentials."""
    tls: bool | None = None
    """``tls``: connect with TLS (null: as the URI says)."""
    tls_ca_file: str | None = None
    """``tlsCAFile``."""
    tls_certificate_key_file: str | None = None
    """``tlsCertificateKeyFile``."""
    tls_allow_invalid_certificates: bool | None = None
    """``tlsAllowInvalidCertificates`` (for tests only)."""
    plan_cache_size: int = Field(256, ge=0)
    """How many checked queries the store keeps for reuse (LRU)."""

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments for ``pymongo.AsyncMongoClient`` (unset options left out).

        The URI's own options win over this block's *defaults*: a key the user wrote
        in the block (or the environment set) is passed and overrides the URI, as in
        PyMongo; a key left at its default is not passed when the URI names that
        option (``?serverSelectionTimeoutMS=2000`` stays 2 s)."""
        options = self._block_options()
        in_uri = _uri_option_names(self.uri)
        written = {_MONGO_OPTION_OF_FIELD[f] for f in self.model_fields_set
                   if f in _MONGO_OPTION_OF_FIELD}
        return {k: v for k, v in options.items()
                if k in written or k.lower() not in in_uri}

    def _block_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {
            "maxPoolSize": self.max_pool_size,
            "minPoolSize": self.min_pool_size,
            "serverSelectionTimeoutMS": self.server_selection_timeout_ms,
            "connectTimeoutMS": self.connect_timeout_ms,
            "retryWrites": self.retry_writes,
            "retryReads": self.retry_reads,
            "readPreference": self.read_preference,
        }
        optional = {
            "socketTimeoutMS": self.socket_timeout_ms,
            "timeoutMS": self.timeout_ms,
            "w": self.write_concern_w,
            "authSource": self.auth_source,
            "tls": self.tls,
            "tlsCAFile": self.tls_ca_file,
            "tlsCertificateKeyFile": self.tls_certificate_key_file,
            "tlsAllowInvalidCertificates": self.tls_allow_invalid_certificates,
        }
        options.update({k: v for k, v in optional.items() if v is not None})
        return options


_MONGO_OPTION_OF_FIELD = {
    "max_pool_size": "maxPoolSize", "min_pool_size": "minPoolSize",
    "server_selection_timeout_ms": "serverSelectionTimeoutMS",
    "connect_timeout_ms": "connectTimeoutMS", "socket_timeout_ms": "socketTimeoutMS",
    "timeout_ms": "timeoutMS", "retry_writes": "retryWrites", "retry_reads": "retryReads",
    "read_preference": "readPreference", "write_concern_w": "w", "auth_source": "authSource",
    "tls": "tls", "tls_ca_file": "tlsCAFile",
    "tls_certificate_key_file": "tlsCertificateKeyFile",
    "tls_allow_invalid_certificates": "tlsAllowInvalidCertificates",
}
"""The ``mongodb:`` block's keys and the PyMongo option each one sets."""

_URI_ALIASES = {"ssl": "tls", "wtimeout": "wtimeoutms"}


def _uri_option_names(uri: str) -> set[str]:
    """The options a MongoDB URI sets, lower-cased (URI option names are
    case-insensitive: https://www.mongodb.com/docs/manual/reference/connection-string/)."""
    _, _, query = uri.partition("?")
    names = set()
    for part in query.replace(";", "&").split("&"):
        name = part.partition("=")[0].strip().lower()
        if name:
            names.add(_URI_ALIASES.get(name, name))
    return names


def open_store(block: MongoConfig, client: Any) -> Store:
    """A store on the block's server, or on ``client`` (a PyMongo async or Motor client,
    or a database) when one is handed in."""
    # imported when a store opens: reading a configuration needs no store
    from crossql.backends.mongodb.store import MongoStore

    if client is not None:
        return MongoStore.from_client(client, block.database)
    return MongoStore(block, plan_cache_size=block.plan_cache_size)
