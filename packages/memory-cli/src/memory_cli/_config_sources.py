"""Where each effective setting came from: argument, env, .env, file or default.

The values themselves always come from ``MemoryConfig.load`` (one model, one loader).
This module only asks pydantic-settings' own sources which keys each of them supplies,
in the model's precedence order, and checks ``os.environ`` against each field's
validation aliases (case-insensitively, as the model reads them) to name the variable.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from memory_core import MemoryConfig
from pydantic import AliasChoices, BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import DotEnvSettingsSource, TomlConfigSettingsSource

from memory_cli._secrets import MASK, mask_url

Source = Literal["argument", "env", "dotenv", "file", "default"]

ARGUMENT_FLAGS = {"database_url": "--database-url", "tenant": "--tenant"}
_URL_FIELDS = ("database_url", "sync_url", "redis_url", "openai_base_url")


@dataclass(frozen=True)
class SettingSource:
    """One effective setting: its (masked) value, source, and origin (variable or file)."""

    key: str
    value: Any
    source: Source
    origin: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"value": self.value, "source": self.source, "origin": self.origin}


def env_names(name: str, field: FieldInfo) -> list[str]:
    """The environment variables the model reads for a field, as pydantic-settings does:
    the validation aliases when there are any, else ``env_prefix`` + field name."""
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        return [c for c in alias.choices if isinstance(c, str)]
    if isinstance(alias, str):
        return [alias]
    prefix = str(MemoryConfig.model_config.get("env_prefix") or "")
    return [f"{prefix}{name}".upper()]


def _by_field(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Map whatever key a source used (field name or any alias) to the field name."""
    lookup = {
        a.lower(): name
        for name, field in MemoryConfig.model_fields.items()
        for a in [name, *env_names(name, field)]
    }
    return {lookup.get(k.lower(), k): v for k, v in raw.items()}


def _env_origin(name: str, field: FieldInfo, environ: Mapping[str, str]) -> str | None:
    env = {k.lower(): k for k in environ}
    names = env_names(name, field)
    for alias in names:
        if alias.lower() in env:
            return env[alias.lower()]
    if "SecretStr" in str(field.annotation):
        for alias in names:
            candidate = f"{alias}_FILE".lower()
            if candidate in env:
                return env[candidate]
    return None


def _mask(name: str, value: Any) -> Any:
    if isinstance(value, SecretStr):
        return MASK if value.get_secret_value() else None
    if name in _URL_FIELDS and isinstance(value, str):
        return mask_url(value)
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return value


def effective_settings(
    config: MemoryConfig,
    *,
    config_file: Path | None,
    overrides: Mapping[str, Any],
    environ: Mapping[str, str] | None = None,
) -> list[SettingSource]:
    """Every setting of ``config`` with its source; ``limits`` is split per limit."""
    environ = os.environ if environ is None else environ
    dotenv = _by_field(DotEnvSettingsSource(MemoryConfig)())
    file_values: dict[str, Any] = {}
    if config_file is not None and config_file.is_file():
        file_values = _by_field(TomlConfigSettingsSource(MemoryConfig, toml_file=config_file)())
    file_origin = str(config_file) if config_file is not None else None
    rows: list[SettingSource] = []
    for name, field in MemoryConfig.model_fields.items():
        value = getattr(config, name)
        env_origin = _env_origin(name, field, environ)
        if name == "limits":
            rows.extend(
                _limit_rows(value, overrides, env_origin, environ, dotenv, file_values, file_origin)
            )
            continue
        source: Source
        origin: str | None
        if name in overrides:
            source, origin = "argument", ARGUMENT_FLAGS.get(name, name)
        elif env_origin is not None:
            source, origin = "env", env_origin
        elif name in dotenv:
            source, origin = "dotenv", ".env"
        elif name in file_values:
            source, origin = "file", file_origin
        else:
            source, origin = "default", None
        rows.append(SettingSource(name, _mask(name, value), source, origin))
    return rows


def _limit_rows(
    limits: BaseModel,
    overrides: Mapping[str, Any],
    env_origin: str | None,
    environ: Mapping[str, str],
    dotenv: Mapping[str, Any],
    file_values: Mapping[str, Any],
    file_origin: str | None,
) -> list[SettingSource]:

    def keys_of(raw: Any) -> set[str]:
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except ValueError:
                return set()
        return set(raw) if isinstance(raw, Mapping) else set()

    env_keys = set()
    if env_origin is not None:
        env_keys = keys_of(environ.get(env_origin))
    layers: list[tuple[Source, str | None, set[str]]] = [
        ("argument", "limits", keys_of(overrides.get("limits", {}))),
        ("env", env_origin, env_keys),
        ("dotenv", ".env", keys_of(dotenv.get("limits", {}))),
        ("file", file_origin, keys_of(file_values.get("limits", {}))),
    ]
    rows = []
    for key, value in limits.model_dump().items():
        source: Source = "default"
        origin: str | None = None
        for layer, layer_origin, keys in layers:
            if key in keys:
                source, origin = layer, layer_origin
                break
        rows.append(SettingSource(f"limits.{key}", value, source, origin))
    return rows
