"""``memory playbook``: next steps for a task from what worked, and why a pattern applies."""

from __future__ import annotations

from typing import Annotated

import typer
from memory_core import TaskContext

from memory_cli._examples import examples
from memory_cli._output import emit
from memory_cli._parsing import parse_uuid
from memory_cli._state import get_state
from memory_cli._views_workflow import explanation_view, playbook_view

app = typer.Typer(
    help="Turn learned patterns into an ordered playbook for a task; explain a pattern.",
    epilog=examples(
        "memory playbook recommend 'Deploy the web service' --domain web",
        "memory playbook explain $PATTERN",
    ),
    no_args_is_help=True,
    rich_markup_mode="markdown",
)


@app.command(
    epilog=examples(
        "memory playbook recommend 'Add a /health endpoint' --domain web",
        "memory -f json playbook recommend 'Fix flaky test' --max-steps 5",
        "memory playbook recommend 'Deploy to staging' --episode $ID",
    )
)
def recommend(
    ctx: typer.Context,
    task: Annotated[str, typer.Argument(help="The task, in one or two sentences.")],
    domain: Annotated[str, typer.Option(help="Domain, e.g. web, data, infra.")] = "general",
    language: Annotated[str | None, typer.Option(help="Programming language.")] = None,
    framework: Annotated[str | None, typer.Option(help="Framework.")] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="A tag (repeatable).")] = None,
    max_steps: Annotated[
        int, typer.Option("--max-steps", min=1, max=50, help="At most this many steps (1-50).")
    ] = 7,
    episode: Annotated[
        str | None,
        typer.Option("--episode", help="Record the recommendation for this episode (feedback)."),
    ] = None,
) -> None:
    """Ordered next steps for a task, each with its evidence and confidence."""
    state = get_state(ctx)
    context = TaskContext(domain=domain, language=language, framework=framework, tags=tag or [])
    for_episode = parse_uuid(episode, "--episode") if episode is not None else None
    pb = state.memory.recommend_playbook(task, context, max_steps, for_episode=for_episode)
    emit(state.format, pb, lambda: playbook_view(pb))


@app.command(
    epilog=examples("memory playbook explain $PATTERN", "memory -f json playbook explain $PATTERN")
)
def explain(
    ctx: typer.Context,
    pattern_id: Annotated[str, typer.Argument(help="Pattern id (UUID).", show_default=False)],
) -> None:
    """When a pattern applies, how often it worked, and which episodes it came from."""
    state = get_state(ctx)
    x = state.memory.explain_pattern(parse_uuid(pattern_id, "PATTERN_ID"))
    emit(state.format, x, lambda: explanation_view(x))
