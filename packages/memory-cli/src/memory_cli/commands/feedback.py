"""``memory feedback``: which recommended patterns were applied, and how well they work."""

from __future__ import annotations

from typing import Annotated

import typer

from memory_cli._examples import examples
from memory_cli._output import emit
from memory_cli._parsing import parse_uuid
from memory_cli._state import get_state
from memory_cli._views_workflow import recommendation_stats_view

app = typer.Typer(
    help="Close the learning loop: record applied recommendations, see their effectiveness.",
    epilog=examples(
        "memory feedback record $ID --applied $PATTERN --success --rating 4",
        "memory feedback stats",
    ),
    no_args_is_help=True,
    rich_markup_mode="markdown",
)


@app.command(
    epilog=examples(
        "memory feedback record $ID --applied $P1 --applied $P2",
        "memory feedback record $ID --applied $P1 --failure --rating 2",
    )
)
def record(
    ctx: typer.Context,
    episode_id: Annotated[str, typer.Argument(help="Episode id (UUID).", show_default=False)],
    applied: Annotated[
        list[str] | None,
        typer.Option("--applied", "-a", help="A recommended pattern you applied (repeatable)."),
    ] = None,
    success: Annotated[
        bool | None,
        typer.Option(
            "--success/--failure",
            help="How it went (default: the episode's outcome).",
            show_default=False,
        ),
    ] = None,
    rating: Annotated[
        int | None, typer.Option(min=1, max=5, help="Your rating of the advice, 1-5.")
    ] = None,
) -> None:
    """Record which recommended patterns were applied in an episode (replaces earlier)."""
    state = get_state(ctx)
    ids = [parse_uuid(p, "--applied") for p in applied or []]
    fb = state.memory.record_recommendation_feedback(
        parse_uuid(episode_id, "EPISODE_ID"), ids, success, rating
    )
    emit(
        state.format,
        fb,
        lambda: (
            f"recorded: {len(fb.applied_pattern_ids)} applied of "
            f"{len(fb.recommended_pattern_ids)} recommended"
        ),
    )


@app.command(epilog=examples("memory feedback stats", "memory -f json feedback stats -n 50"))
def stats(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Patterns to list.")] = 20,
) -> None:
    """Adoption and success of recommendations, per pattern by Wilson lower bound."""
    state = get_state(ctx)
    s = state.memory.get_recommendation_stats(limit)
    emit(state.format, s, lambda: recommendation_stats_view(s))
