"""One typed configuration for every command.

Sources, highest priority first: CLI flags, ``S2LAKE_*`` environment variables (nested sections with
``__``, e.g. ``S2LAKE_PATCHES__WORKERS=4``), the configuration file (``--config``, ``S2LAKE_CONFIG``
or ``./s2lake.yaml`` when present; YAML or TOML), then the defaults below. Each concern has its own
section module so the schema stays readable; validation errors become one :class:`ConfigError` that
names the offending key and its source.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from s2lake.config.ingest import IngestSettings
from s2lake.config.labels import LabelsSettings
from s2lake.config.models import ModelsSettings
from s2lake.config.patches import PatchesSettings
from s2lake.errors import ConfigError

DEFAULT_CONFIG_FILE = "s2lake.yaml"


class Settings(BaseSettings):
    """All of s2lake's settings. ``s2lake config show`` prints the effective values."""

    model_config = SettingsConfigDict(
        env_prefix="S2LAKE_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    warehouse: str = Field(
        "./warehouse",
        description="Warehouse root: a local path or a URI (file://, s3://, hdfs://).",
    )
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING or ERROR.")
    patches: PatchesSettings = Field(default_factory=PatchesSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    labels: LabelsSettings = Field(default_factory=LabelsSettings)
    models: ModelsSettings = Field(default_factory=ModelsSettings)

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        value = value.upper()
        if value not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return value

    @field_validator("warehouse")
    @classmethod
    def _warehouse(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value.strip()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Flags beat environment beats file beats defaults; the file enters as init data of a
        # lower-priority source (see load_settings), so only two sources are needed here.
        return (init_settings, env_settings)


def _read_config_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(
            f"configuration file {path} does not exist",
            fix="pass an existing file to --config or unset S2LAKE_CONFIG",
        )
    text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot parse {path}: {exc}", fix="correct the file's syntax") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path} must hold a mapping of settings, not {type(data).__name__}",
            fix="write `key: value` lines, e.g. `warehouse: ./warehouse`",
        )
    return data


def _deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _env_overrides() -> dict[str, Any]:
    """The S2LAKE_* variables as a nested mapping (so they can outrank the file key by key)."""
    out: dict[str, Any] = {}
    for name, value in os.environ.items():
        if not name.startswith("S2LAKE_") or name == "S2LAKE_CONFIG":
            continue
        keys = name[len("S2LAKE_") :].lower().split("__")
        node = out
        for key in keys[:-1]:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                break
        else:
            node[keys[-1]] = value
    return out


def load_settings(config_file: str | Path | None = None, **flags: Any) -> Settings:
    """Build the effective settings from flags, environment, file and defaults.

    ``flags`` are CLI values; ``None`` means "not given" and is ignored. Nested keys use
    ``section__key`` (e.g. ``patches__workers=4``).
    """
    path = config_file or os.environ.get("S2LAKE_CONFIG")
    if path is None and Path(DEFAULT_CONFIG_FILE).is_file():
        path = DEFAULT_CONFIG_FILE
    data: dict[str, Any] = _read_config_file(Path(path)) if path else {}
    data = _deep_merge(data, _env_overrides())
    given: dict[str, Any] = {}
    for key, value in flags.items():
        if value is None:
            continue
        node = given
        parts = key.split("__")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    data = _deep_merge(data, given)
    try:
        # Environment was merged above with the right priority; keep pydantic from re-reading it.
        return Settings.model_validate(data) if data else Settings()
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"])
            env = "S2LAKE_" + "__".join(str(p) for p in err["loc"]).upper()
            lines.append(f"{key}: {err['msg']} (got {err.get('input')!r}; file key `{key}`, env {env})")
        raise ConfigError(
            "invalid configuration: " + "; ".join(lines),
            where=str(path) if path else "environment/flags",
            fix="correct the value named above (see `s2lake config show --help`)",
        ) from None
