"""The per-user database: one memory shared by every project a user works on.

``DATABASE_URL=user:`` names ``<user data dir>/memory.db`` (``~/.local/share/memory`` on
Linux, honouring ``$XDG_DATA_HOME``; ``~/Library/Application Support/memory`` on macOS;
``%LOCALAPPDATA%\\memory`` on Windows), so one client snippet works on every machine and
needs no shell expansion, which MCP clients each spell differently.
"""

from __future__ import annotations

from pathlib import Path

import platformdirs

USER_SCHEME = "user"
APP_NAME = "memory"
DEFAULT_FILE_NAME = "memory.db"


def user_data_dir() -> Path:
    """Where the per-user database lives (created on first open, not here)."""
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def resolve_user_url(url: str) -> str:
    """``user:`` / ``user:name.db`` → ``file:<user data dir>/name.db``; other URLs unchanged."""
    scheme, _, rest = url.partition(":")
    if scheme.lower() != USER_SCHEME:
        return url
    name, sep, query = rest.partition("?")
    name = name or DEFAULT_FILE_NAME
    if "/" in name or "\\" in name or name in (".", ".."):
        raise ValueError("user: takes a file name only, e.g. user: or user:work.db")
    return f"file:{user_data_dir() / name}{sep}{query}"
