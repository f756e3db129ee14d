"""Adding our hook entries to Claude Code's ``settings.json`` and taking them out again.

The merge keeps every other key and every other hook exactly as it was: our handler is
appended as its own matcher group under each event, never mixed into someone else's.
A handler is ours when its command runs ``memory hook claude-code`` (any path to
``memory``, any environment prefix), which is how install stays idempotent and
uninstall removes nothing else.
"""

from __future__ import annotations

import difflib
import json
import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_COMMAND = "memory hook claude-code"
TIMEOUT_SECONDS = 10
# Events and whether they take a tool matcher.
EVENTS: tuple[tuple[str, bool], ...] = (
    ("SessionStart", False),
    ("UserPromptSubmit", False),
    ("PostToolUse", True),
    ("PostToolUseFailure", True),
    ("Stop", False),
    ("SessionEnd", False),
)


class SettingsError(ValueError):
    """The settings file cannot be merged (not JSON, or hooks of an unexpected shape)."""


def settings_path(scope: str, project_dir: Path | None = None) -> Path:
    if scope == "user":
        return Path.home() / ".claude" / "settings.json"
    return (project_dir or Path.cwd()) / ".claude" / "settings.json"


def is_ours(handler: Any) -> bool:
    if not isinstance(handler, dict) or not isinstance(handler.get("command"), str):
        return False
    try:
        words = shlex.split(handler["command"])
    except ValueError:
        return False
    return any(
        os.path.basename(words[i]) == "memory" and words[i + 1 : i + 3] == ["hook", "claude-code"]
        for i in range(len(words) - 2)
    )


def _copy(data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(json.dumps(data))
    return out


def _handler(command: str) -> dict[str, Any]:
    return {"type": "command", "command": command, "timeout": TIMEOUT_SECONDS}


def _hooks_of(data: dict[str, Any]) -> dict[str, Any]:
    hooks = data.get("hooks", {})
    if not isinstance(hooks, dict):
        raise SettingsError("'hooks' in the settings file is not an object")
    return hooks


def add_ours(data: dict[str, Any], command: str = DEFAULT_COMMAND) -> dict[str, Any]:
    """``data`` with our handler under every event, once; others untouched."""
    out = _copy(data)
    hooks = _hooks_of(out)
    for event, tool_event in EVENTS:
        groups = hooks.setdefault(event, [])
        if not isinstance(groups, list):
            raise SettingsError(f"hooks.{event} in the settings file is not a list")
        found = False
        for group in groups:
            handlers = group.get("hooks") if isinstance(group, dict) else None
            if not isinstance(handlers, list):
                continue
            for i, h in enumerate(handlers):
                if is_ours(h):
                    if not found:
                        handlers[i] = _handler(command)  # refresh command and timeout
                    found = True
        if not found:
            group = {"matcher": "*", "hooks": [_handler(command)]} if tool_event else {}
            group.setdefault("hooks", [_handler(command)])
            groups.append(group)
    out["hooks"] = hooks
    return out


def remove_ours(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` without our handlers; groups and events left empty by that are dropped."""
    out = _copy(data)
    if "hooks" not in out:
        return out
    hooks = _hooks_of(out)
    for event in list(hooks):
        groups = hooks[event]
        if not isinstance(groups, list):
            continue
        kept = []
        for group in groups:
            handlers = group.get("hooks") if isinstance(group, dict) else None
            if not isinstance(handlers, list) or not any(is_ours(h) for h in handlers):
                kept.append(group)
                continue
            rest = [h for h in handlers if not is_ours(h)]
            if rest:
                kept.append({**group, "hooks": rest})
        if kept:
            hooks[event] = kept
        else:
            del hooks[event]
    if not hooks:
        del out["hooks"]
    return out


def render(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


@dataclass(frozen=True)
class Change:
    path: Path
    before: str
    after: str

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def diff(self) -> str:
        return "".join(
            difflib.unified_diff(
                self.before.splitlines(keepends=True),
                self.after.splitlines(keepends=True),
                fromfile=f"{self.path} (before)",
                tofile=f"{self.path} (after)",
            )
        )

    def write(self) -> None:
        """Write ``after``; an empty ``after`` deletes the file."""
        if not self.after:
            self.path.unlink(missing_ok=True)
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".memory-tmp")
        tmp.write_text(self.after, encoding="utf-8")
        os.replace(tmp, self.path)


def plan(path: Path, install: bool, command: str = DEFAULT_COMMAND) -> Change:
    """What install (or uninstall) would make of the file at ``path``."""
    before = path.read_text(encoding="utf-8") if path.exists() else ""
    try:
        data = json.loads(before) if before.strip() else {}
    except ValueError as exc:
        raise SettingsError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise SettingsError(f"{path} does not hold a JSON object")
    new = add_ours(data, command) if install else remove_ours(data)
    if new == data:
        return Change(path, before, before)
    return Change(path, before, render(new))
