"""Configuration models (the ``nosql:`` section), loadable from dicts and YAML.

Every model forbids unknown keys so a typo is an error, not a silent default.
``load_config`` accepts a model, a dict, or a path to a YAML file and reports
every problem at once, each with its path in the configuration.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from crossql.backends.firestore.options import FirestoreOptions
from crossql.errors import ConfigError

DriverName = Literal["memory", "mongodb", "dynamodb", "firestore"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MemoryConfig(_Model):
    """The embedded engine: collections live in the process, nothing to configure."""

    plan_cache_size: int = 256
    """How many checked queries the store keeps for reuse (LRU)."""


class MongoConfig(_Model):
    """The ``mongodb:`` block: connection and pool settings for PyMongo's async client."""

    uri: str = "mongodb://127.0.0.1:27017"
    database: str = "crossql"
    max_pool_size: int = Field(100, ge=1)
    min_pool_size: int = Field(0, ge=0)
    server_selection_timeout_ms: int = Field(30_000, ge=1)
    connect_timeout_ms: int = Field(20_000, ge=1)
    socket_timeout_ms: int | None = Field(60_000, ge=1)
    """``socketTimeoutMS``: a read that waits longer fails (null: wait forever, PyMongo's
    default, so a server that stops answering hangs the call)."""
    timeout_ms: int | None = Field(None, ge=1)
    """``timeoutMS``: one bound on each whole operation — server selection, every read
    and retry included (PyMongo's client-side operation timeout); null: only the
    per-step timeouts above, so a call can take several of them."""
    retry_writes: bool = True
    retry_reads: bool = True
    read_preference: Literal["primary", "primaryPreferred", "secondary", "secondaryPreferred",
                             "nearest"] = "primary"
    write_concern_w: int | Literal["majority"] | None = None
    auth_source: str | None = None
    tls: bool | None = None
    tls_ca_file: str | None = None
    tls_certificate_key_file: str | None = None
    tls_allow_invalid_certificates: bool | None = None
    plan_cache_size: int = Field(256, ge=0)

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


class DynamoConfig(_Model):
    """The ``dynamodb:`` block: the endpoint and credentials for aioboto3, key naming,
    and how calls are retried (throttling, unprocessed batch items)."""

    region: str = "us-east-1"
    endpoint_url: str | None = None
    """E.g. ``http://127.0.0.1:8000`` for DynamoDB Local; None: AWS's endpoint."""
    access_key: str | None = None
    """None (with ``secret_key`` None): the usual AWS credential chain."""
    secret_key: str | None = Field(default=None, repr=False)
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
    read_timeout: float = Field(default=60.0, gt=0)
    max_pool_connections: int = Field(default=50, ge=1)
    """HTTP connections kept to DynamoDB, and calls in flight at once (more wait their
    turn in order)."""
    plan_cache_size: int = Field(default=256, ge=0)

    @model_validator(mode="after")
    def _credentials(self) -> DynamoConfig:
        if (self.access_key is None) != (self.secret_key is None):
            raise ValueError("give both access_key and secret_key, or neither")
        return self


class FirestoreConfig(_Model):
    """The ``firestore:`` block: the project and database for ``google.cloud.firestore``.

    ``FIRESTORE_EMULATOR_HOST`` in the environment points the client at the
    emulator, as the Google client does; ``emulator_host`` does the same from the
    config (and wins over the environment).
    """

    project_id: str | None = None
    """The Google Cloud project (None: the client's default, ``GOOGLE_CLOUD_PROJECT``)."""
    database_id: str = "(default)"
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


_BLOCKS: tuple[DriverName, ...] = ("memory", "mongodb", "dynamodb", "firestore")


class BackendConfig(_Model):
    """One named backend of the ``backends:`` list: a driver and its block."""

    name: str = Field(min_length=1)
    driver: DriverName
    primary: bool = False
    """The store ``connect`` returns; at most one backend is primary (default: the
    top-level driver)."""
    memory: MemoryConfig | None = None
    mongodb: MongoConfig | None = None
    dynamodb: DynamoConfig | None = None
    firestore: FirestoreConfig | None = None


class NoSQLConfig(_Model):
    """The ``nosql:`` section: the default driver with its block, and named backends.

    ```yaml
    nosql:
      driver: mongodb
      mongodb: {uri: "mongodb://localhost:27017", database: app}
      backends:
        - {name: analytics, driver: dynamodb, dynamodb: {region: us-east-1}}
    ```
    """

    driver: DriverName = "memory"
    memory: MemoryConfig | None = None
    mongodb: MongoConfig | None = None
    dynamodb: DynamoConfig | None = None
    firestore: FirestoreConfig | None = None
    backends: tuple[BackendConfig, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> NoSQLConfig:
        problems = _semantic_problems(self.model_dump(exclude_none=True))
        if problems:
            raise ValueError("; ".join(f"{path}: {msg}" for path, msg in problems))
        return self

    def block(self, name: str | None = None) -> Any:
        """The driver block of the default backend, or of the backend called ``name``."""
        holder: NoSQLConfig | BackendConfig = self if name is None else self.named(name)
        block = getattr(holder, holder.driver)
        return block if block is not None else MemoryConfig()

    def named(self, name: str) -> BackendConfig:
        """The named backend ``name``; ``ConfigError`` listing the names otherwise."""
        for backend in self.backends:
            if backend.name == name:
                return backend
        known = ", ".join(["default", *(b.name for b in self.backends)])
        raise ConfigError([("backends", f"no backend named {name!r} (known: {known})")])

    @property
    def primary_name(self) -> str:
        """``default`` (the top-level driver) unless a named backend says ``primary: true``."""
        return next((b.name for b in self.backends if b.primary), "default")


def _semantic_problems(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Problems pydantic cannot see field by field: missing driver blocks, names."""
    problems: list[tuple[str, str]] = []

    def needs_block(holder: Mapping[str, Any], path: str) -> None:
        driver = holder.get("driver", "memory" if path == "" else None)
        if driver in _BLOCKS and driver != "memory" and not isinstance(holder.get(driver),
                                                                       Mapping):
            where = f"{path}.{driver}" if path else driver
            problems.append((where, f"driver is {driver} but there is no `{driver}:` block"))

    needs_block(data, "")
    backends = data.get("backends") or ()
    if not isinstance(backends, list | tuple):
        return problems
    seen: dict[str, int] = {}
    primaries = []
    for i, entry in enumerate(backends):
        if not isinstance(entry, Mapping):
            continue
        path = f"backends.{i}"
        needs_block(entry, path)
        name = entry.get("name")
        if isinstance(name, str):
            if name == "default":
                problems.append((f"{path}.name", "`default` names the top-level driver; "
                                                 "choose another name"))
            elif name in seen:
                problems.append((f"{path}.name", f"duplicate name {name!r} (also backends."
                                                 f"{seen[name]})"))
            else:
                seen[name] = i
        if entry.get("primary") is True:
            primaries.append(f"{path}")
    if len(primaries) > 1:
        problems.append(("backends", "more than one primary backend: "
                                     + ", ".join(primaries)))
    return problems


def _problems(err: ValidationError) -> list[tuple[str, str]]:
    out = []
    for e in err.errors():
        if e["type"] == "value_error" and not e["loc"]:
            continue  # our own consistency check: reported from the raw data instead
        path = ".".join(str(p) for p in e["loc"]) or "(top)"
        msg = "unknown key" if e["type"] == "extra_forbidden" else e["msg"]
        out.append((path, msg))
    return out


ENVIRONMENT: dict[str, tuple[str | None, str]] = {
    "CROSSQL_DRIVER": (None, "driver"),
    "MONGODB_URI": ("mongodb", "uri"),
    "MONGODB_DATABASE": ("mongodb", "database"),
    "DYNAMODB_ENDPOINT": ("dynamodb", "endpoint_url"),
    "DYNAMODB_REGION": ("dynamodb", "region"),
    "FIRESTORE_EMULATOR_HOST": ("firestore", "emulator_host"),
    "FIRESTORE_PROJECT": ("firestore", "project_id"),
}
"""Environment variables that override configuration read from a file (or the
defaults): ``(driver block, key)``; each applies to every block of that driver."""


def _apply_environment(data: dict[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    data = dict(data)
    holders: list[dict[str, Any]] = [data]
    backends = data.get("backends")
    if isinstance(backends, list):
        data["backends"] = [dict(b) if isinstance(b, Mapping) else b for b in backends]
        holders += [b for b in data["backends"] if isinstance(b, dict)]
    for var, (block, key) in ENVIRONMENT.items():
        value = env.get(var)
        if not value:
            continue
        if block is None:
            data[key] = value
            continue
        for holder in holders:
            driver = holder.get("driver", "memory")
            if isinstance(holder.get(block), Mapping) or (driver == block and holder is data):
                holder[block] = {**(holder.get(block) or {}), key: value}
    return data


def load_config(config: NoSQLConfig | Mapping[str, Any] | str | Path | None = None, *,
                env: Mapping[str, str] | None = None) -> NoSQLConfig:
    """A validated ``NoSQLConfig``.

    ``config`` is a model or a dict (taken as is), a path to a YAML file (its
    ``nosql:`` section, or the whole file if there is none), or None: then
    ``CROSSQL_CONFIG`` names the file, or the defaults apply. Values read from a
    file or defaulted are overridden by the environment (``ENVIRONMENT``). Every
    problem is reported at once, each with its path.
    """
    import os

    if isinstance(config, NoSQLConfig):
        return config
    environ = os.environ if env is None else env
    from_code = config is not None and not isinstance(config, str | Path)
    if config is None and environ.get("CROSSQL_CONFIG"):
        config = environ["CROSSQL_CONFIG"]
    if config is None:
        data: Any = {}
    elif isinstance(config, str | Path):
        data = _read_yaml(Path(config))
    else:
        data = dict(config)
    if isinstance(data, Mapping) and "nosql" in data:
        data = data["nosql"]
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError([("(top)", f"expected a mapping, got {type(data).__name__}")])
    if not from_code:
        data = _apply_environment(dict(data), environ)
    problems = _semantic_problems(data)
    try:
        cfg = NoSQLConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_problems(err) + problems) from None
    return cfg


def _read_yaml(path: Path) -> Any:
    try:
        import yaml
    except ImportError:  # pragma: no cover - PyYAML is in the yaml extra
        raise ConfigError([(str(path), "reading YAML needs PyYAML")]) from None
    try:
        with path.open(encoding="utf-8") as fh:
            return yaml.safe_load(fh)
    except OSError as err:
        raise ConfigError([(str(path), err.strerror or str(err))]) from None
    except yaml.YAMLError as err:
        raise ConfigError([(str(path), f"not valid YAML: {err}")]) from None
