"""The commented ``memory-cli.toml`` that ``memory config init`` writes.

Generated from ``MemoryConfig``'s fields (names, defaults, descriptions), so it lists
every setting the model knows. Every setting is commented out: the file as written
changes nothing, and uncommenting a ``# key = value`` line sets that value.
"""

from __future__ import annotations

import json
import typing
from typing import Any

from memory_core import MemoryConfig
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from memory_cli._config_sources import env_names

# Example values for settings that are unset by default (shown, still commented out).
_EXAMPLES: dict[str, Any] = {
    "storage_backend": "libsql",
    "sync_url": "libsql://your-database.turso.io",
    "sync_interval_seconds": 60.0,
    "cache_path": "./memory.db.cache",
    "redis_url": "redis://localhost:6379/0",
    "embedding_model": "text-embedding-3-small",
}

_HEADER = """\
# memory-cli.toml: settings for memory-core, its MCP server and the `memory` CLI.
#
# Looked up as: --config PATH, then $MEMORY_CONFIG, then ./memory-cli.toml, then
# the user config directory (`memory config path` shows which file applies).
# Environment variables override this file (and a .env file in the working directory
# is read); command-line options override both. `memory config show` prints every
# effective value and where it came from; `memory config validate` checks this file.
#
# Every line below is commented out and shows the default. Uncomment to change one.
# Keep secrets (API keys, auth tokens) out of this file: use the environment variables
# named below, or their *_FILE variants pointing at a secret file.
"""


def toml_value(value: Any) -> str:
    """A TOML literal for a default: strings, numbers, booleans, lists, flat tables."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no TOML form for {value!r}")


def _comment_lines(name: str, field: FieldInfo) -> list[str]:
    lines: list[str] = []
    if field.description:
        lines.append(f"# {field.description}")
    choices = (
        typing.get_args(field.annotation)
        if typing.get_origin(field.annotation) is typing.Literal
        else ()
    )
    if choices:
        lines.append(f"# one of: {', '.join(str(c) for c in choices)}")
    env = env_names(name, field)
    if env:
        lines.append(f"# env: {', '.join(env)}")
    return lines


def render_template() -> str:
    """The full commented file."""
    out = [_HEADER]
    defaults = MemoryConfig.model_construct()
    nested: list[tuple[str, BaseModel]] = []
    for name, field in MemoryConfig.model_fields.items():
        default = getattr(defaults, name)
        if isinstance(default, BaseModel):
            nested.append((name, default))
            continue
        out.extend(_comment_lines(name, field))
        if "Secret" in str(field.annotation):
            env = env_names(name, field)
            out.append(
                f"# {name}: secret; set {env[0] if env else name.upper()} in the environment"
            )
        elif default is None:
            example = _EXAMPLES.get(name)
            shown = toml_value(example) if example is not None else '""'
            out.append(f"# {name} = {shown}    # unset by default")
        else:
            out.append(f"# {name} = {toml_value(default)}")
        out.append("")
    for name, model in nested:
        out.append(f"# [{name}]")
        for key, sub in type(model).model_fields.items():
            if sub.description:
                out.append(f"# {sub.description}")
            out.append(f"# {key} = {toml_value(getattr(model, key))}")
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"
