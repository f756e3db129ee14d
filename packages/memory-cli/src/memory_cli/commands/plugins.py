"""``memory plugins``: installed backends per entry-point group."""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

import typer
from memory_core import MemoryCoreError
from memory_core.plugins import (
    CACHE_GROUP,
    EMBEDDINGS_GROUP,
    STORAGE_GROUP,
    installed_plugins,
    load_plugin,
)
from rich import box
from rich.table import Table

from memory_cli._examples import examples
from memory_cli._output import emit
from memory_cli._state import get_state

EPILOG = examples("memory plugins", "memory -f json plugins | jq '.\"memory_core.storage\"'")
GROUPS = (STORAGE_GROUP, CACHE_GROUP, EMBEDDINGS_GROUP)


def describe(group: str) -> list[dict[str, Any]]:
    """Each plugin: name, target, distribution; storage plugins also list URL schemes."""
    eps = {ep.name: ep for ep in entry_points(group=group)}
    out = []
    for name in installed_plugins(group):
        ep = eps[name]
        dist = ep.dist
        item: dict[str, Any] = {
            "name": name,
            "target": ep.value,
            "distribution": f"{dist.name} {dist.version}" if dist is not None else None,
        }
        try:
            factory = load_plugin(group, name)
            if group == STORAGE_GROUP:
                item["schemes"] = list(getattr(factory, "schemes", ()))
            item["error"] = None
        except MemoryCoreError as exc:
            item["error"] = str(exc)
        out.append(item)
    return out


def plugins(ctx: typer.Context) -> None:
    """List installed storage, cache and embedding backends (entry points)."""
    state = get_state(ctx)
    data = {group: describe(group) for group in GROUPS}

    def table() -> Table:
        t = Table(box=box.SIMPLE_HEAD, pad_edge=False)
        t.add_column("group", no_wrap=True)
        t.add_column("name", no_wrap=True, style="bold")
        t.add_column("distribution", overflow="fold")
        t.add_column("notes", overflow="fold", ratio=1)
        for group, items in data.items():
            for item in items:
                notes = (
                    f"[red]{item['error']}[/]"
                    if item["error"]
                    else ("schemes: " + ", ".join(item["schemes"]) if item.get("schemes") else "")
                )
                t.add_row(
                    group.rsplit(".", 1)[-1], item["name"], item["distribution"] or "-", notes
                )
        return t

    emit(state.format, data, table)
