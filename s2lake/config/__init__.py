"""One typed configuration for every command.

Sources, highest priority first: CLI flags, ``S2LAKE_*`` environment variables (nested sections with
``__``, e.g. ``S2LAKE_PATCHES__WORKERS=4``), the configuration file (``--config``, ``S2LAKE_CONFIG``
or ``./s2lake.yaml`` when present; YAML or TOML), then the defaults below. Each concern has its own
section module so the schema stays readable; validation errors become one :class:`ConfigError` that
names the offending key and its source, with secrets masked.

The environment holds ``S2LAKE_*`` variables that are not settings: ``S2LAKE_CONFIG``,
``S2LAKE_SPARK_JARS`` and ``S2LAKE_SPARK_CONF`` (read by :mod:`s2lake.spark`), the ``S2LAKE_DBT_*``
values of the dbt profile. pydantic-settings' environment source reads only names that address a
setting, so those never break a command; an unknown key inside a section
(``S2LAKE_PATCHES__WORKRES``) is still an error, as is an unknown key in the file or a flag.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from s2lake.config.ingest import IngestSettings
from s2lake.config.labels import LabelsSettings
from s2lake.config.masking import mask_url_userinfo, masked
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


class ConfigFileSource(PydanticBaseSettingsSource):
    """The configuration file as a settings source.

    Not pydantic-settings' ``YamlConfigSettingsSource``/``TomlConfigSettingsSource``: those answer a
    missing file with no settings and a list with a bare ``ValueError``, and YAML's own parse errors
    quote the offending line (a password, say). This one names the file and the fix, and only the
    position of a syntax error.
    """

    def __init__(self, settings_cls: type[BaseSettings], path: Path | None) -> None:
        super().__init__(settings_cls)
        self.path = path

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # the whole file is returned at once by __call__

    def __call__(self) -> dict[str, Any]:
        return _read_config_file(self.path) if self.path else {}


def _read_config_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(
            f"configuration file {path} does not exist",
            fix="pass an existing file to --config or unset S2LAKE_CONFIG",
        )
    text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
    except tomllib.TOMLDecodeError as exc:  # its message is a position, never the text
        raise ConfigError(f"cannot parse {path}: {exc}", fix="correct the file's syntax") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"cannot parse {path}: {_yaml_problem(exc)}", fix="correct the file's syntax") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path} must hold a mapping of settings, not {type(data).__name__}",
            fix="write `key: value` lines, e.g. `warehouse: ./warehouse`",
        )
    return data


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """What YAML found wrong and where, without the quoted line (it may hold a secret)."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or "invalid YAML"
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}" if mark else problem


def _nested(flags: dict[str, Any]) -> dict[str, Any]:
    """Flags (``section__key=value``; ``None`` = not given) as a nested mapping."""
    given: dict[str, Any] = {}
    for key, value in flags.items():
        if value is None:
            continue
        node = given
        parts = key.split("__")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return given


def load_settings(config_file: str | Path | None = None, **flags: Any) -> Settings:
    """Build the effective settings from flags, environment, file and defaults.

    ``flags`` are CLI values; ``None`` means "not given" and is ignored. Nested keys use
    ``section__key`` (e.g. ``patches__workers=4``). The three sources are pydantic-settings sources,
    merged key by key in that priority by pydantic-settings itself.
    """
    path = config_file or os.environ.get("S2LAKE_CONFIG")
    if path is None and Path(DEFAULT_CONFIG_FILE).is_file():
        path = DEFAULT_CONFIG_FILE
    sources = (
        InitSettingsSource(Settings, init_kwargs=_nested(flags)),
        EnvSettingsSource(Settings),
        ConfigFileSource(Settings, Path(path) if path else None),
    )
    where = str(path) if path else "environment/flags"
    try:
        return Settings(_build_sources=(sources, {}))
    except SettingsError as exc:  # an S2LAKE_<SECTION> variable that is not JSON; the message names it
        raise ConfigError(
            f"invalid configuration: {mask_url_userinfo(str(exc))}",
            where="environment",
            fix="give single keys as S2LAKE_<SECTION>__<KEY>, or a whole section as JSON",
        ) from None
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"])
            env = "S2LAKE_" + "__".join(str(p) for p in err["loc"]).upper()
            got = masked(err.get("input"), str(err["loc"][-1]) if err["loc"] else None)
            msg = mask_url_userinfo(err["msg"])
            lines.append(f"{key}: {msg} (got {got!r}; file key `{key}`, env {env})")
        raise ConfigError(
            "invalid configuration: " + "; ".join(lines),
            where=where,
            fix="correct the value named above (see `s2lake config show --help`)",
        ) from None
