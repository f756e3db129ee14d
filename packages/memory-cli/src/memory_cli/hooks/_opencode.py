"""Installing the OpenCode plugin (``opencode/memory.js``): a file OpenCode loads from its
plugin folders, ``.opencode/plugins/`` of a project or ``~/.config/opencode/plugins/``.

Install writes our file (again, when it changed); uninstall deletes it only when it is
ours (its first line), so a user's own ``memory.js`` is never touched.
"""

from __future__ import annotations

import os
from pathlib import Path

from memory_cli.hooks._settings import Change, SettingsError

PLUGIN = Path(__file__).with_name("opencode") / "memory.js"
FILE_NAME = "memory.js"


def plugin_source() -> str:
    return PLUGIN.read_text(encoding="utf-8")


def plugin_path(scope: str, project_dir: Path | None = None) -> Path:
    if scope == "user":
        config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
        return Path(config) / "opencode" / "plugins" / FILE_NAME
    return (project_dir or Path.cwd()) / ".opencode" / "plugins" / FILE_NAME


def is_ours(text: str) -> bool:
    return text.splitlines()[:1] == plugin_source().splitlines()[:1]


def plan(path: Path, install: bool) -> Change:
    """What install (or uninstall) would do to the plugin file at ``path``."""
    before = path.read_text(encoding="utf-8") if path.exists() else ""
    if before and not is_ours(before):
        raise SettingsError(f"{path} exists and is not the memory plugin; move it first")
    return Change(path, before, plugin_source() if install else "")
