"""``memory query``: exactly what an agent gets before a task."""

from __future__ import annotations

from typing import Annotated

import typer
from memory_core import Complexity, TaskContext

from memory_cli._examples import examples
from memory_cli._output import emit
from memory_cli._state import get_state
from memory_cli._views import (
    heuristics_table,
    or_empty,
    retrieved_episodes_table,
    retrieved_patterns_table,
)

EPILOG = examples(
    "memory query 'add a health check route' --domain web --language python",
    "memory -f json query 'fix a flaky test' -n 3 | jq '.episodes[].score'",
    "memory query 'what did I change in the billing code' --since 7d",
    "memory query 'deploy failures' --since 2026-11-01 --until 2026-12-01",
)


def query(
    ctx: typer.Context,
    task: Annotated[str, typer.Argument(help="The new task, as the agent would describe it.")],
    domain: Annotated[str | None, typer.Option(help="The task's domain (context match).")] = None,
    language: Annotated[str | None, typer.Option(help="The task's language.")] = None,
    framework: Annotated[str | None, typer.Option(help="The task's framework.")] = None,
    complexity: Annotated[Complexity | None, typer.Option(help="The task's complexity.")] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="A tag (repeatable).")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Episodes to return.")] = 5,
    since: Annotated[
        str | None,
        typer.Option(
            help="Only episodes begun at or after: an ISO date/time, 90m, 12h, 7d, 2w, "
            "today, yesterday, last week, last month."
        ),
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Only episodes begun before (the same forms).")
    ] = None,
) -> None:
    """Retrieve relevant episodes, patterns and heuristics, with score components.

    The context options describe the new task; they raise the score of episodes from the
    same context (the `ctx` component) rather than filter others out.
    """
    state = get_state(ctx)
    context = None
    if any(v is not None for v in (domain, language, framework, complexity)) or tag:
        context = TaskContext(
            domain=domain or "general",
            language=language,
            framework=framework,
            complexity=complexity or Complexity.MODERATE,
            tags=tag or [],
        )
    window = {k: v for k, v in (("since", since), ("until", until)) if v is not None}
    result = state.memory.query(task, context, limit=limit, **window)
    emit(
        state.format,
        result,
        lambda: [
            or_empty(
                retrieved_episodes_table(result.episodes),
                "relevant past episode (nothing scored above MEMORY_MIN_RELEVANCE)",
            ),
            or_empty(retrieved_patterns_table(result.patterns), "matching patterns"),
            or_empty(heuristics_table(result.heuristics), "heuristics yet"),
        ],
    )
