"""One configuration model for the library, the MCP server and the CLI.

Sources, highest precedence first:

1. keyword arguments (``MemoryConfig(database_url=...)``, CLI flags);
2. environment variables (``DATABASE_URL``, ``MCP_HOST``, ``MCP_PORT``, ``OPENAI_API_KEY``,
   ``EMBEDDING_MODEL``, ``REDIS_URL``, ``TURSO_AUTH_TOKEN`` as in the design, and
   ``MEMORY_<FIELD>`` for every other field, e.g. ``MEMORY_TENANT``);
3. a ``.env`` file in the working directory;
4. a TOML file: ``config_file`` / ``MEMORY_CONFIG``, else ``./memory-cli.toml``, else
   ``<user config dir>/memory-cli/config/memory-cli.toml``;
5. defaults.

Every secret also accepts ``<NAME>_FILE`` (the Kubernetes-secret convention).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from memory_core._errors import ConfigurationError
from memory_core._limits import Limits
from memory_core._user_data import resolve_user_url

# security: a pydantic-only leaf module (memory_core.security loads lazily, no cycle)
from memory_core.security._policy import RetentionPolicy

CONFIG_FILE_NAME = "memory-cli.toml"

_SECRET_ENV = {
    "openai_api_key": "OPENAI_API_KEY",
    "turso_auth_token": "TURSO_AUTH_TOKEN",
    # security: the encryption keyring (MEMORY_ENCRYPTION_KEYS_FILE works too)
    "encryption_keys": "MEMORY_ENCRYPTION_KEYS",
}


def user_config_dir() -> Path:
    """``$XDG_CONFIG_HOME`` (or ``~/.config``) ``/memory-cli/config``."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "memory-cli" / "config"


def find_config_file(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The TOML file that applies: explicit, ``$MEMORY_CONFIG``, cwd, then user dir."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("MEMORY_CONFIG")
    if env:
        return Path(env)
    for candidate in (Path.cwd() / CONFIG_FILE_NAME, user_config_dir() / CONFIG_FILE_NAME):
        if candidate.is_file():
            return candidate
    return None


class MemoryConfig(BaseSettings):
    """Settings for ``SelfLearningMemory`` and its front ends. See module docstring."""

    model_config = SettingsConfigDict(
        env_prefix="MEMORY_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
        case_sensitive=False,
    )

    # storage
    database_url: str = Field(
        default="file:./memory.db",
        validation_alias=AliasChoices("DATABASE_URL", "MEMORY_DATABASE_URL"),
        description="file:path (embedded), user: (the per-user database), libsql://… or "
        "https://… (remote), memory: (ephemeral)",
    )
    storage_backend: str | None = Field(
        default=None,
        description="entry-point name; default: chosen by the URL scheme",
    )
    turso_auth_token: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("TURSO_AUTH_TOKEN"),
    )
    sync_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("MEMORY_SYNC_URL", "TURSO_SYNC_URL"),
        description="remote primary for an embedded replica",
    )
    sync_interval_seconds: float | None = Field(
        default=None,
        ge=0,
    )
    busy_timeout_ms: int = Field(
        default=5_000,
        ge=0,
    )

    # cache
    cache_backend: str = Field(default="lmdb")
    cache_path: str | None = Field(
        default=None,
        description="default: '<database file>.cache' beside a file database",
    )
    cache_max_bytes: int = Field(
        default=256 * 1024 * 1024,
        ge=1024 * 1024,
    )
    cache_max_entries: int = Field(
        default=200_000,
        ge=1,
    )
    retrieval_cache_ttl_seconds: float = Field(
        default=30.0,
        ge=0,
        validation_alias=AliasChoices("MEMORY_RETRIEVAL_CACHE_TTL_SECONDS"),
    )
    min_relevance: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="calibrated relevance below which a past episode is not returned "
        "(memory_core.relevance); 0 returns every candidate",
    )
    cache_coherence_seconds: float = Field(
        default=1.0,
        ge=0,
        description="how stale a cached episode/pattern may be when another instance "
        "changed the database (checked against a per-tenant generation counter); 0 = every read",
    )
    shard_idle_seconds: float = Field(
        default=300.0,
        gt=0,
        description="close a per-tenant database ({tenant} URLs) after this idle time",
    )
    redis_url: str | None = Field(
        default=None, validation_alias=AliasChoices("REDIS_URL", "MEMORY_REDIS_URL")
    )

    # embeddings
    embedding_provider: str = Field(
        default="auto",
        description="auto (openai when OPENAI_API_KEY is set, else transformer when its "
        "weights are installed, else local), transformer, local, openai, none",
    )
    embedding_model: str | None = Field(
        default=None,
        validation_alias=AliasChoices("EMBEDDING_MODEL", "MEMORY_EMBEDDING_MODEL"),
        description="default: text-embedding-3-small for openai, the bundled model for local",
    )
    openai_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_API_KEY")
    )
    openai_base_url: str = Field(
        default="https://api.openai.com/v1",
        validation_alias=AliasChoices("OPENAI_BASE_URL", "MEMORY_OPENAI_BASE_URL"),
    )
    embedding_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        validation_alias=AliasChoices("MEMORY_EMBEDDING_TIMEOUT_SECONDS"),
    )
    embedding_batch_size: int = Field(
        default=256,
        ge=1,
    )
    embedding_mode: Literal["background", "inline"] = Field(
        default="background",
        description="background: a completed episode is acknowledged first and its vectors "
        "are written by a worker thread (lexical search is immediate; flush() waits for the "
        "vectors); inline: vectors are written in the completion's transaction",
    )
    embedding_read_wait_ms: float = Field(
        default=250.0,
        ge=0.0,
        description="a retrieval first waits this long at most for vectors still queued "
        "(read your own writes: a task completed just before is found by meaning too); "
        "0: never wait",
    )
    embedding_queue_size: int = Field(
        default=256,
        ge=1,
        description="episodes waiting for vectors at most (the semantic lag); when full, "
        "the writer embeds its own episode",
    )

    # learning loop
    tenant: str = Field(default="default")
    extraction_mode: Literal["inline", "queue"] = Field(default="inline")
    extraction_queue_size: int = Field(
        default=1_000,
        ge=1,
    )
    limits: Limits = Field(default_factory=Limits)

    # server
    mcp_host: str = Field(default="localhost", validation_alias=AliasChoices("MCP_HOST"))
    mcp_port: int = Field(default=3000, ge=0, le=65535, validation_alias=AliasChoices("MCP_PORT"))
    mcp_tool_profile: Literal["core", "full"] = Field(
        default="core",
        description="MCP tools listed: core (episode loop, hand-off, playbook) or full (also "
        "tags, relationships, feedback, pattern explanations)",
    )

    # logging
    log_level: str = Field(
        default="INFO", validation_alias=AliasChoices("MEMORY_LOG_LEVEL", "LOG_LEVEL")
    )
    log_format: Literal["console", "json"] = Field(default="console")

    # security (memory_core.security): encryption at rest, audit log, retention
    encryption_keys: SecretStr | None = Field(
        default=None,
        description="keyring 'id:base64,id:base64' of 32-byte AES-256 master keys; "
        "enables encryption of sensitive episodes",
    )
    encrypt_database: bool = Field(
        default=False,
        description="encrypt the whole database file and its WAL (libSQL), with a data key "
        "wrapped by the keyring's active master key in <database>.key; new databases only",
    )
    encryption_active_key: str | None = Field(
        default=None, description="key id that wraps new data keys; default: the last listed"
    )
    sensitive_tenants: list[str] = Field(
        default_factory=list,
        description="tenants whose every episode is encrypted ('*': all tenants)",
    )
    audit_enabled: bool = Field(
        default=True, description="append an audit record for every write and erasure"
    )
    audit_steps: bool = Field(
        default=False,
        description="also audit every log_step/log_steps call; off by default because it "
        "doubles the cost of the hot path, while the start, completion and erasure of every "
        "episode are always audited",
    )
    audit_retention_days: float | None = Field(
        default=365.0, gt=0, description="the retention job purges older audit records"
    )
    retention: dict[str, RetentionPolicy] = Field(
        default_factory=dict,
        description="tenant -> retention policy; '*' for tenants without their own",
    )
    retention_interval_seconds: float | None = Field(
        default=None, gt=0, description="run retention in a background thread this often"
    )

    feature_flags: dict[str, bool] = Field(default_factory=dict)

    @field_validator("database_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        if ":" not in value:
            raise ValueError(
                "expected a URL such as file:./memory.db, user:, libsql://host or memory:"
            )
        return resolve_user_url(value)

    @field_validator("tenant")
    @classmethod
    def _check_tenant(cls, value: str) -> str:
        if not value or len(value) > 128 or not all(c.isalnum() or c in "-_." for c in value):
            raise ValueError("1-128 characters of letters, digits, '-', '_' or '.'")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [
            init_settings,
            _SecretFileSource(settings_cls),
            env_settings,
            dotenv_settings,
        ]
        path = _ACTIVE_CONFIG_FILE.get("path")
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    @classmethod
    def load(
        cls, config_file: str | os.PathLike[str] | None = None, **overrides: Any
    ) -> MemoryConfig:
        """Build the effective config; raise ``ConfigurationError`` naming the bad key."""
        path = find_config_file(config_file)
        if path is not None and not path.is_file():
            raise ConfigurationError(f"config file not found: {path}", key="config_file")
        _ACTIVE_CONFIG_FILE["path"] = path
        try:
            return cls(**overrides)
        except ValidationError as exc:
            raise config_error_from(exc) from exc
        finally:
            _ACTIVE_CONFIG_FILE["path"] = None

    # -- derived -----------------------------------------------------------------------
    @property
    def url_scheme(self) -> str:
        return self.database_url.split(":", 1)[0].lower()

    def database_path(self) -> Path | None:
        """The local file behind a ``file:`` URL (or an embedded replica), else ``None``."""
        if self.url_scheme != "file":
            return None
        raw = self.database_url[len("file:") :]
        raw = raw.split("?", 1)[0]
        if raw.startswith("//"):
            raw = raw[2:]
        return Path(raw).expanduser()

    def resolved_cache_path(self) -> Path:
        if self.cache_path:
            return Path(self.cache_path)
        db = self.database_path()
        if db is not None:
            return db.with_name(db.name + ".cache")
        return Path("memory-cache")


_ACTIVE_CONFIG_FILE: dict[str, Path | None] = {"path": None}


class _SecretFileSource(PydanticBaseSettingsSource):
    """``OPENAI_API_KEY_FILE=/run/secrets/key`` reads the secret from that file."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for field, env in _SECRET_ENV.items():
            path = os.environ.get(f"{env}_FILE")
            if path and not os.environ.get(env):
                try:
                    values[field] = Path(path).read_text(encoding="utf-8").strip()
                except OSError as exc:
                    raise ConfigurationError(
                        f"cannot read {env}_FILE: {exc}", key=f"{env}_FILE"
                    ) from exc
        return values


def config_error_from(exc: ValidationError) -> ConfigurationError:
    first = exc.errors()[0]
    key = ".".join(str(p) for p in first.get("loc", ())) or "config"
    return ConfigurationError(f"invalid configuration value for {key}: {first.get('msg')}", key=key)
