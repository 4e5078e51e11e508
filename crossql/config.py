"""Configuration models (the ``nosql:`` section), loadable from dicts and YAML.

The driver blocks are the registered backends' (``crossql.backends.registry``): each
backend's ``ConfigBlock`` names its model (``crossql/backends/<name>/config.py``), its
store factory and environment variables; ``DriverName``, the ``<driver>:`` keys and
``ENVIRONMENT`` are made from them when this module is imported.

Every model forbids unknown keys so a typo is an error, not a silent default.
``load_config`` accepts a model, a dict, or a path to a YAML file and reports
every problem at once, each with its path in the configuration.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from crossql.backends.base import ConfigBlock, resolve
from crossql.backends.registry import backend_names, get_backend
from crossql.errors import ConfigError

if TYPE_CHECKING:
    # the blocks' models by their old names here (they live in their backend's folder)
    from crossql.backends.dynamodb.config import DynamoConfig as DynamoConfig
    from crossql.backends.firestore.config import FirestoreConfig as FirestoreConfig
    from crossql.backends.memory.config import MemoryConfig as MemoryConfig
    from crossql.backends.mongodb.config import MongoConfig as MongoConfig
    from crossql.schema import Schema


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _configurable() -> dict[str, ConfigBlock]:
    out = {}
    for name in backend_names():
        block = get_backend(name).config
        if block is not None:
            out[name] = block
    return out


CONFIG_BLOCKS: dict[str, ConfigBlock] = _configurable()
"""Every registered backend that can be configured as a driver, and its block
(``crossql.backends.registry``)."""

BLOCK_MODELS: dict[str, type[BaseModel]] = {name: resolve(block.model)
                                            for name, block in CONFIG_BLOCKS.items()}
"""Driver name → the model of its block (the key of the same name)."""

DEFAULT_DRIVER = "memory"
"""The driver of a configuration that names none."""

if TYPE_CHECKING:
    DriverName = str
else:
    DriverName = Literal[tuple(BLOCK_MODELS)]


def _with_blocks(namespace: dict[str, Any]) -> None:
    """Declare, in a model's class body, one optional key per driver: its block."""
    annotations = namespace["__annotations__"]
    for name, model in BLOCK_MODELS.items():
        annotations[name] = model | None
        namespace[name] = None


class BackendConfig(_Model):
    """One named backend of the ``backends:`` list: a driver and its block."""

    name: str = Field(min_length=1)
    driver: DriverName
    primary: bool = False
    """The store ``connect`` returns; at most one backend is primary (default: the
    top-level driver)."""
    collections: Mapping[str, Any] | None = None
    """Declared collections of this backend, over the shared `collections:` (a
    collection declared in both is declared as here; docs/schemas.md)."""
    _with_blocks(locals())  # then a key per driver, in the registry's order


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

    driver: DriverName = DEFAULT_DRIVER
    _with_blocks(locals())  # a key per driver, in the registry's order
    backends: tuple[BackendConfig, ...] = ()
    collections: Mapping[str, Any] | None = None
    """Declared collections, for every backend (docs/schemas.md): per collection its
    `fields` (path: kind), `required`, `nullable`, `closed`, `model`
    ("package.module:Class"), `dynamodb` key schema and `indexes`."""
    cursor_secret: SecretStr | None = None
    """The key page cursors are signed with (HMAC-SHA256), for every backend: a cursor
    changed by its holder is refused. Without it a cursor is checked against accidental
    change only (docs/pagination.md)."""

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
        return block if block is not None else BLOCK_MODELS[holder.driver]()

    def named(self, name: str) -> BackendConfig:
        """The named backend ``name``; ``ConfigError`` listing the names otherwise."""
        for backend in self.backends:
            if backend.name == name:
                return backend
        known = ", ".join(["default", *(b.name for b in self.backends)])
        raise ConfigError([("backends", f"no backend named {name!r} (known: {known})")])

    def declared_schema(self, name: str | None = None) -> Schema | None:
        """The declared schema of the default backend, or of the backend called
        ``name``: the shared ``collections:`` with the backend's own over it."""
        from crossql.schema import as_schema

        shared = as_schema(self.collections, where="collections")
        own = None if name is None or name == "default" else self.named(name).collections
        if own is None:
            return shared
        mine = as_schema(own, where=f"backends.{name}.collections")
        return mine if shared is None else shared.merged(mine)

    @property
    def primary_name(self) -> str:
        """``default`` (the top-level driver) unless a named backend says ``primary: true``."""
        return next((b.name for b in self.backends if b.primary), "default")


def _semantic_problems(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Problems pydantic cannot see field by field: missing driver blocks, names."""
    problems: list[tuple[str, str]] = []

    def needs_block(holder: Mapping[str, Any], path: str) -> None:
        driver = holder.get("driver", DEFAULT_DRIVER if path == "" else None)
        config = CONFIG_BLOCKS.get(driver) if isinstance(driver, str) else None
        if config is not None and config.required and not isinstance(holder.get(driver),
                                                                     Mapping):
            where = f"{path}.{driver}" if path else driver
            problems.append((where, f"driver is {driver} but there is no `{driver}:` block"))

    needs_block(data, "")
    problems += _schema_problems(data.get("collections"), "collections")
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
        problems += _schema_problems(entry.get("collections"), f"{path}.collections")
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


def _schema_problems(collections: Any, where: str) -> list[tuple[str, str]]:
    """What is wrong with a ``collections:`` block (each problem with its path)."""
    if collections is None:
        return []
    from crossql.schema import as_schema  # the block's declarations are pydantic models

    try:
        as_schema(collections, where=where)
    except ConfigError as err:
        return list(err.problems)
    except TypeError as err:
        return [(where, str(err))]
    return []


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
    "CROSSQL_CURSOR_SECRET": (None, "cursor_secret"),
    **{var: (name, key) for name, block in CONFIG_BLOCKS.items()
       for var, key in block.environment.items()},
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
            driver = holder.get("driver", DEFAULT_DRIVER)
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


def __getattr__(name: str) -> Any:
    # the blocks' models by their old names (``crossql.config.MongoConfig``)
    for model in BLOCK_MODELS.values():
        if model.__name__ == name:
            return model
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
