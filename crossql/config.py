"""Configuration models (the ``nosql:`` section), loadable from dicts and YAML.

Every model forbids unknown keys so a typo is an error, not a silent default.
``load_config`` accepts a model, a dict, or a path to a YAML file and reports
every problem at once, each with its path in the configuration.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from crossql.errors import ConfigError

DriverName = Literal["memory"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MemoryConfig(_Model):
    """The embedded engine: collections live in the process, nothing to configure."""

    plan_cache_size: int = 256
    """How many checked queries the store keeps for reuse (LRU)."""


class NoSQLConfig(_Model):
    """The ``nosql:`` section: which driver, and one block per driver."""

    driver: DriverName = "memory"
    memory: MemoryConfig = MemoryConfig()


def _problems(err: ValidationError) -> list[tuple[str, str]]:
    out = []
    for e in err.errors():
        path = ".".join(str(p) for p in e["loc"]) or "(top)"
        msg = "unknown key" if e["type"] == "extra_forbidden" else e["msg"]
        out.append((path, msg))
    return out


def load_config(config: NoSQLConfig | Mapping[str, Any] | str | Path | None) -> NoSQLConfig:
    """A validated ``NoSQLConfig`` from a model, a dict, a YAML path, or None (defaults)."""
    if isinstance(config, NoSQLConfig):
        return config
    if config is None:
        data: Any = {}
    elif isinstance(config, str | Path):
        data = _read_yaml(Path(config))
    else:
        data = dict(config)
    if isinstance(data, Mapping) and "nosql" in data:
        data = data["nosql"]
    if not isinstance(data, Mapping):
        raise ConfigError([("(top)", f"expected a mapping, got {type(data).__name__}")])
    try:
        return NoSQLConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_problems(err)) from None


def _read_yaml(path: Path) -> Any:
    try:
        import yaml
    except ImportError:  # pragma: no cover - PyYAML is in the yaml extra
        raise ConfigError(
            [(str(path), "reading YAML needs PyYAML: pip install PyYAML")]
        ) from None
    try:
        with path.open(encoding="utf-8") as fh:
            return yaml.safe_load(fh)
    except OSError as err:
        raise ConfigError([(str(path), err.strerror or str(err))]) from None
    except yaml.YAMLError as err:
        raise ConfigError([(str(path), f"not valid YAML: {err}")]) from None
