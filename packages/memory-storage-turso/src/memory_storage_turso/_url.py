"""Turning ``DATABASE_URL`` (plus the config's token and sync settings) into connect arguments.

Three modes, decided by the URL alone:

* ``file:path`` — a local libSQL file (the embedded default);
* ``libsql://host``, ``https://host``, ``http://host`` — a remote libSQL server over Hrana;
* ``file:path`` with ``sync_url`` set — an embedded replica of a remote primary.

The auth token comes from ``TURSO_AUTH_TOKEN`` (``config.turso_auth_token``) or an
``authToken`` query parameter; it is kept out of every ``repr``, log line and error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from memory_core import ConfigurationError, MemoryConfig

Mode = Literal["file", "remote", "replica"]

REMOTE_SCHEMES = ("libsql", "https", "http")
SCHEMES = ("file", *REMOTE_SCHEMES)


@dataclass(frozen=True)
class Target:
    """Where and how to connect. ``auth_token`` is excluded from ``repr``."""

    mode: Mode
    database: str
    """Local path (file, replica) or remote URL without credentials."""
    sync_url: str | None = None
    sync_interval: float | None = None
    auth_token: str = field(default="", repr=False)
    encryption_key: str | None = field(default=None, repr=False)
    """libSQL's at-rest key for a local file (``memory_core.security.database_key``)."""

    @property
    def is_local(self) -> bool:
        return self.mode != "remote"

    @property
    def display(self) -> str:
        """A description safe to log."""
        if self.mode == "replica":
            return f"replica:{self.database} <- {self.sync_url}"
        return self.database if self.mode == "remote" else f"file:{self.database}"


def parse_target(url: str, config: MemoryConfig) -> Target:
    """Connect arguments for ``url``; ``ConfigurationError(key="DATABASE_URL")`` if unusable."""
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    token = config.turso_auth_token.get_secret_value() if config.turso_auth_token else ""
    if scheme == "file":
        path = _file_path(url)
        if config.sync_url:
            sync_url, url_token = _strip_token(config.sync_url, key="sync_url")
            return Target(
                mode="replica",
                database=path,
                sync_url=sync_url,
                sync_interval=config.sync_interval_seconds or None,
                auth_token=token or url_token,
            )
        return Target(mode="file", database=path)
    if scheme in REMOTE_SCHEMES:
        remote, url_token = _strip_token(url, key="DATABASE_URL")
        return Target(mode="remote", database=remote, auth_token=token or url_token)
    raise ConfigurationError(
        f"memory-storage-turso serves {', '.join(s + ':' for s in SCHEMES)} URLs, not {scheme!r}",
        key="DATABASE_URL",
    )


def _file_path(url: str) -> str:
    raw = url[len("file:") :].split("?", 1)[0]
    if raw.startswith("//"):
        raw = raw[2:]
    if not raw:
        raise ConfigurationError(
            "DATABASE_URL file: needs a path, e.g. file:./memory.db", key="DATABASE_URL"
        )
    if raw == ":memory:":
        return raw
    path = Path(raw).expanduser()
    if path.is_dir():
        raise ConfigurationError(f"DATABASE_URL points at a directory: {path}", key="DATABASE_URL")
    return str(path)


def create_parent_directory(target: Target) -> None:
    """Create a local database's directory on first open, so a client snippet pointing at
    ``file:.memory/memory.db`` or a per-user data directory works as copied."""
    if not target.is_local or target.database == ":memory:":
        return
    parent = Path(target.database).parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigurationError(
            f"DATABASE_URL directory {parent} cannot be created: {exc.strerror or exc}",
            key="DATABASE_URL",
        ) from None


def _strip_token(url: str, *, key: str) -> tuple[str, str]:
    """Split an ``authToken``/``auth_token`` query parameter off a remote URL."""
    parts = urlsplit(url)
    if not parts.netloc:
        raise ConfigurationError(f"{key} needs a host, e.g. libsql://db.example.com", key=key)
    token = ""
    query = []
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name in ("authToken", "auth_token"):
            token = value
        else:
            query.append((name, value))
    return urlunsplit(parts._replace(query=urlencode(query))), token
