"""``memory tag``: an episode's tags after creation, search by tags, tag statistics."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from memory_cli._examples import examples
from memory_cli._output import emit
from memory_cli._parsing import parse_uuid
from memory_cli._state import get_state
from memory_cli._views import episodes_table, or_empty
from memory_cli._views_workflow import tag_stats_table

app = typer.Typer(
    help="Tag episodes after creation, find episodes by tags, see which tags are used.",
    epilog=examples(
        "memory tag add $ID backend flaky",
        "memory tag search backend flaky --all",
        "memory tag stats",
    ),
    no_args_is_help=True,
    rich_markup_mode="markdown",
)

EpisodeId = Annotated[str, typer.Argument(help="Episode id (UUID).", show_default=False)]
TagsArg = Annotated[list[str], typer.Argument(help="Tags (no commas).", show_default=False)]
LimitOpt = Annotated[int, typer.Option("--limit", "-n", min=1, help="At most this many results.")]


def _show(ctx: typer.Context, episode_id: str, tags: list[str]) -> None:
    state = get_state(ctx)
    data = {"episode_id": episode_id, "tags": tags}
    emit(state.format, data, lambda: ", ".join(tags) if tags else "(no tags)")


@app.command(epilog=examples("memory tag add $ID backend api", "memory -f json tag add $ID urgent"))
def add(ctx: typer.Context, episode_id: EpisodeId, tags: TagsArg) -> None:
    """Add tags to an episode (present ones are kept once); print its tags."""
    eid = parse_uuid(episode_id, "EPISODE_ID")
    _show(ctx, str(eid), get_state(ctx).memory.add_tags(eid, tags))


@app.command(epilog=examples("memory tag remove $ID urgent"))
def remove(ctx: typer.Context, episode_id: EpisodeId, tags: TagsArg) -> None:
    """Remove tags from an episode (absent ones are ignored); print its tags."""
    eid = parse_uuid(episode_id, "EPISODE_ID")
    _show(ctx, str(eid), get_state(ctx).memory.remove_tags(eid, tags))


@app.command("set", epilog=examples("memory tag set $ID backend api", "memory tag set $ID"))
def set_(
    ctx: typer.Context,
    episode_id: EpisodeId,
    tags: Annotated[
        list[str] | None, typer.Argument(help="The new tags; none clears them.", show_default=False)
    ] = None,
) -> None:
    """Replace all of an episode's tags."""
    eid = parse_uuid(episode_id, "EPISODE_ID")
    _show(ctx, str(eid), get_state(ctx).memory.set_tags(eid, tags or []))


@app.command("list", epilog=examples("memory tag list $ID"))
def list_(ctx: typer.Context, episode_id: EpisodeId) -> None:
    """Print an episode's tags."""
    eid = parse_uuid(episode_id, "EPISODE_ID")
    _show(ctx, str(eid), get_state(ctx).memory.list_tags(eid))


@app.command(
    epilog=examples(
        "memory tag search backend api",
        "memory tag search backend api --all -n 10",
        "memory -f json tag search api --cursor $CURSOR",
    )
)
def search(
    ctx: typer.Context,
    tags: TagsArg,
    all_tags: Annotated[
        bool, typer.Option("--all", help="Episodes with every tag (default: any of them).")
    ] = False,
    limit: LimitOpt = 50,
    cursor: Annotated[str | None, typer.Option(help="Page cursor from a previous search.")] = None,
) -> None:
    """Episodes carrying any (or all) of the tags, newest first, paged."""
    state = get_state(ctx)
    page = state.memory.search_episodes_by_tags(
        tags, "all" if all_tags else "any", limit=limit, cursor=cursor
    )

    def table() -> Any:
        parts: list[Any] = [or_empty(episodes_table(page.items), "episodes with these tags")]
        if page.next_cursor:
            parts.append(f"[dim]more: --cursor {page.next_cursor}[/dim]")
        return parts

    emit(state.format, page, table)


@app.command(epilog=examples("memory tag stats", "memory -f json tag stats -n 10"))
def stats(ctx: typer.Context, limit: LimitOpt = 100) -> None:
    """Tags by how many episodes carry them, with when each was last used."""
    state = get_state(ctx)
    items = state.memory.tag_statistics(limit)
    emit(state.format, items, lambda: or_empty(tag_stats_table(items), "tags"))
