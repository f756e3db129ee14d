"""Rendering results: tables for people, JSON or YAML for scripts.

JSON output is the stable interface: a command prints the memory-core model's own JSON
form (``model_dump(mode="json")``), or a small documented object, indented by two spaces
and ending with a newline. Tables may change between versions; JSON may only grow.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

import yaml  # type: ignore[import-untyped]  # no stubs in the workspace
from pydantic import BaseModel
from rich.console import Console, RenderableType
from rich.table import Table


class OutputFormat(StrEnum):
    """Values of the global ``--format`` option."""

    TABLE = "table"
    JSON = "json"
    YAML = "yaml"


def to_data(value: Any) -> Any:
    """Plain JSON-compatible data from models, enums, datetimes and containers."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, Mapping):
        return {str(k): to_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_data(v) for v in value]
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def dumps_json(data: Any) -> str:
    return json.dumps(to_data(data), indent=2, ensure_ascii=False) + "\n"


def dumps_yaml(data: Any) -> str:
    text: str = yaml.safe_dump(to_data(data), sort_keys=False, allow_unicode=True)
    return text


def stdout_console() -> Console:
    """A console on the current ``sys.stdout`` (the test runner swaps it per call)."""
    return Console(file=sys.stdout, soft_wrap=False)


def stderr_console() -> Console:
    return Console(file=sys.stderr, soft_wrap=False)


def emit(
    fmt: OutputFormat,
    data: Any,
    table: Callable[[], RenderableType | Sequence[RenderableType]] | None = None,
) -> None:
    """Print ``data`` in the chosen format; ``table`` builds the human view lazily."""
    if fmt is OutputFormat.JSON:
        sys.stdout.write(dumps_json(data))
    elif fmt is OutputFormat.YAML:
        sys.stdout.write(dumps_yaml(data))
    else:
        console = stdout_console()
        rendered = table() if table is not None else key_value_table(to_data(data))
        if isinstance(rendered, Sequence) and not isinstance(rendered, str):
            for item in rendered:
                console.print(item)
        else:
            console.print(rendered)
    sys.stdout.flush()


def key_value_table(data: Any, title: str | None = None) -> RenderableType:
    """Two columns, key and value; nested mappings are flattened with dots."""
    if not isinstance(data, Mapping):
        return str(data)
    table = Table(title=title, show_header=False, box=None, pad_edge=False)
    table.add_column("key", style="bold")
    table.add_column("value", overflow="fold")
    for key, value in flatten(data).items():
        table.add_row(key, fmt_value(value))
    return table


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def fmt_value(value: Any) -> str:
    """One cell: ``-`` for nothing, compact JSON for lists and mappings."""
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, list | tuple):
        return ", ".join(fmt_value(v) for v in value) if value else "-"
    if isinstance(value, Mapping):
        return json.dumps(to_data(value), ensure_ascii=False) if value else "-"
    return str(value)


def fmt_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def fmt_time(value: datetime | None, *, short: bool = False) -> str:
    """``2025-01-31 12:00``; ``short`` drops the year (narrow list columns)."""
    if value is None:
        return "-"
    return value.strftime("%m-%d %H:%M" if short else "%Y-%m-%d %H:%M")


_SPARKS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float]) -> str:
    """Values in [0, 1] as block characters (one cell each)."""
    if not values:
        return "-"
    top = len(_SPARKS) - 1
    return "".join(_SPARKS[round(min(max(v, 0.0), 1.0) * top)] for v in values)
