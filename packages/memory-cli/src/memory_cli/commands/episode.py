"""``memory episode``: the episode lifecycle (start, log, complete) and inspection."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from memory_core import (
    Complexity,
    EpisodeFilter,
    EpisodePage,
    InvalidInputError,
    OutcomeType,
    StepResult,
    StepStatus,
    TaskContext,
    TaskOutcome,
    TaskType,
)

from memory_cli._errors import EXIT_FAILED, CliError
from memory_cli._examples import examples
from memory_cli._filters import (
    DomainOpt,
    FrameworkOpt,
    LanguageOpt,
    OutcomeOpt,
    SinceOpt,
    StatusOpt,
    TagOpt,
    TypeOpt,
    UntilOpt,
    episode_filter,
)
from memory_cli._output import emit
from memory_cli._parsing import parse_json_object, parse_pairs, parse_uuid
from memory_cli._state import get_state
from memory_cli._views import (
    episode_view,
    episodes_table,
    or_empty,
    retrieved_episodes_table,
)
from memory_cli.commands import handoff

app = typer.Typer(
    help="Record and inspect episodes: one task an agent worked on, from start to outcome.",
    epilog=examples(
        "ID=$(memory -f json episode start 'Add /health' --domain web | jq -r .id)",
        "memory episode log $ID --tool edit --action 'add route'",
        "memory episode complete $ID --outcome success --verdict 'route added'",
        "memory episode show $ID",
    ),
    no_args_is_help=True,
    rich_markup_mode="markdown",
)

EpisodeId = Annotated[str, typer.Argument(help="Episode id (UUID).", show_default=False)]
LimitOpt = Annotated[int, typer.Option("--limit", "-n", min=1, help="At most this many results.")]


def filter_kwargs(filters: EpisodeFilter) -> dict[str, Any]:
    """The set fields of a filter, as keyword arguments for retrieval calls."""
    return {k: getattr(filters, k) for k in filters.model_fields_set if getattr(filters, k)}


@app.command(
    epilog=examples(
        "memory episode start 'Add a /health endpoint' --domain web --language py",
        "memory -f json episode start 'Fix flaky test' --type debugging",
    )
)
def start(
    ctx: typer.Context,
    task: Annotated[str, typer.Argument(help="What the task is, in one or two sentences.")],
    task_type: Annotated[TaskType, typer.Option("--type", help="Kind of task.")] = TaskType.OTHER,
    domain: Annotated[str, typer.Option(help="Domain, e.g. web, data, infra.")] = "general",
    language: Annotated[str | None, typer.Option(help="Programming language.")] = None,
    framework: Annotated[str | None, typer.Option(help="Framework.")] = None,
    complexity: Annotated[Complexity, typer.Option(help="How hard.")] = Complexity.MODERATE,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="A tag (repeatable).")] = None,
    metadata: Annotated[
        str | None, typer.Option("--metadata", help="Extra data as a JSON object.")
    ] = None,
) -> None:
    """Start an episode and print its id."""
    state = get_state(ctx)
    context = TaskContext(
        domain=domain,
        language=language,
        framework=framework,
        complexity=complexity,
        tags=tag or [],
    )
    episode_id = state.memory.start_episode(
        task, context, task_type, metadata=parse_json_object(metadata, "--metadata") or None
    )
    emit(state.format, {"id": str(episode_id)}, lambda: str(episode_id))


def _read_steps(source: str) -> list[dict[str, Any]]:
    """Steps from a file or ``-``: a JSON object, a JSON array, or JSON lines."""
    text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except ValueError:
        try:
            data = [json.loads(line) for line in text.splitlines() if line.strip()]
        except ValueError as exc:
            raise InvalidInputError(f"--json: invalid JSON: {exc}", field="--json") from None
    items = data if isinstance(data, list) else [data]
    if not all(isinstance(i, dict) for i in items):
        raise InvalidInputError("--json: expected step objects", field="--json")
    return items


@app.command(
    epilog=examples(
        "memory episode log $ID --tool edit --action 'add route' --output done",
        "memory episode log $ID --tool pytest --status error --message '2 failed'",
        "memory episode log $ID --json steps.jsonl",
    )
)
def log(
    ctx: typer.Context,
    episode_id: EpisodeId,
    tool: Annotated[str | None, typer.Option(help="Tool used (required without --json).")] = None,
    action: Annotated[str, typer.Option(help="What was done.")] = "",
    step: Annotated[
        int | None, typer.Option("--step", min=1, help="Step number (default: next).")
    ] = None,
    status: Annotated[StepStatus, typer.Option(help="Result status.")] = StepStatus.SUCCESS,
    output: Annotated[str | None, typer.Option(help="Output on success.")] = None,
    message: Annotated[str | None, typer.Option(help="Message on error or timeout.")] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", help="Parameter KEY=VALUE (repeatable).")
    ] = None,
    latency_ms: Annotated[float, typer.Option(min=0, help="Duration in milliseconds.")] = 0.0,
    tokens: Annotated[int | None, typer.Option(min=0, help="Tokens used.")] = None,
    json_file: Annotated[
        str | None,
        typer.Option("--json", help="Read steps (JSON object, array or lines) from FILE or -."),
    ] = None,
) -> None:
    """Append one step (or a batch from --json) to an in-progress episode."""
    state = get_state(ctx)
    eid = parse_uuid(episode_id, "EPISODE_ID")
    memory = state.memory
    if json_file is not None:
        raw = _read_steps(json_file)
    else:
        if not tool:
            raise CliError("give --tool (or --json FILE with whole steps)", exit_code=2)
        raw = [
            {
                "step_number": step,
                "tool": tool,
                "action": action,
                "parameters": parse_pairs(param or [], "--param"),
                "result": StepResult(status=status, output=output, message=message),
                "latency_ms": latency_ms,
                "tokens_used": tokens,
            }
        ]
    # steps without a number are numbered by the memory (one past the highest stored)
    numbers = memory.log_steps(eid, raw)
    data = {"episode_id": str(eid), "step_numbers": numbers}
    emit(state.format, data, lambda: f"logged step {', '.join(map(str, numbers))}")


@app.command(
    epilog=examples(
        "memory episode complete $ID --outcome success --verdict 'endpoint added'",
        "memory episode complete $ID --outcome failure --reason 'tests still fail'",
        "memory episode complete $ID --outcome partial_success --failed docs",
    )
)
def complete(
    ctx: typer.Context,
    episode_id: EpisodeId,
    outcome: Annotated[OutcomeType, typer.Option(help="How the task ended.")],
    verdict: Annotated[str, typer.Option(help="One-line summary of the result.")] = "",
    reason: Annotated[str | None, typer.Option(help="Why it failed.")] = None,
    artifact: Annotated[
        list[str] | None, typer.Option("--artifact", help="Produced artifact (repeatable).")
    ] = None,
    completed: Annotated[
        list[str] | None, typer.Option("--completed", help="Sub-goal done (repeatable).")
    ] = None,
    failed: Annotated[
        list[str] | None, typer.Option("--failed", help="Sub-goal not done (repeatable).")
    ] = None,
) -> None:
    """Complete an episode: score it, reflect on it and extract patterns."""
    state = get_state(ctx)
    result = TaskOutcome(
        type=outcome,
        verdict=verdict,
        reason=reason,
        artifacts=artifact or [],
        completed=completed or [],
        failed=failed or [],
    )
    episode = state.memory.complete_episode(parse_uuid(episode_id, "EPISODE_ID"), result)
    emit(state.format, episode, lambda: episode_view(episode))


@app.command(
    epilog=examples(
        "memory episode update $ID --outcome failure --reason 'broke sign-up'",
        "memory episode update $ID --lesson 'run the sign-up tests too'",
        "memory episode update $ID --note 'reverted in 1.2.1'",
    )
)
def update(
    ctx: typer.Context,
    episode_id: EpisodeId,
    outcome: Annotated[
        OutcomeType | None, typer.Option(help="The corrected outcome (default: keep it).")
    ] = None,
    verdict: Annotated[str, typer.Option(help="One-line summary of the result.")] = "",
    reason: Annotated[str | None, typer.Option(help="Why it failed.")] = None,
    completed: Annotated[
        list[str] | None, typer.Option("--completed", help="Sub-goal done (repeatable).")
    ] = None,
    failed: Annotated[
        list[str] | None, typer.Option("--failed", help="Sub-goal not done (repeatable).")
    ] = None,
    note: Annotated[
        list[str] | None, typer.Option("--note", help="Note to add (repeatable).")
    ] = None,
    lesson: Annotated[
        list[str] | None, typer.Option("--lesson", help="Lesson learnt to add (repeatable).")
    ] = None,
) -> None:
    """Correct a completed episode's outcome or add notes and lessons; its reward,
    reflection and patterns are recomputed."""
    state = get_state(ctx)
    result = (
        None
        if outcome is None
        else TaskOutcome(
            type=outcome,
            verdict=verdict,
            reason=reason,
            completed=completed or [],
            failed=failed or [],
        )
    )
    episode = state.memory.update_episode(
        parse_uuid(episode_id, "EPISODE_ID"), outcome=result, notes=note, lessons=lesson
    )
    emit(state.format, episode, lambda: episode_view(episode))


@app.command(epilog=examples("memory episode show 3f2b8c1e-...", "memory -f json episode show $ID"))
def show(ctx: typer.Context, episode_id: EpisodeId) -> None:
    """Show one episode with its steps, outcome, reward and reflection."""
    state = get_state(ctx)
    episode = state.memory.get_episode(parse_uuid(episode_id, "EPISODE_ID"))
    emit(state.format, episode, lambda: episode_view(episode))


@app.command(
    "list",
    epilog=examples(
        "memory episode list --domain web --outcome success --since 7d",
        "memory episode list --tag backend --tag api -n 20",
        "memory -f json episode list -n 100 --cursor $CURSOR",
        "memory -f json episode list --all | jq '.items | length'",
    ),
)
def list_(
    ctx: typer.Context,
    domain: DomainOpt = None,
    task_type: TypeOpt = None,
    outcome: OutcomeOpt = None,
    status: StatusOpt = None,
    language: LanguageOpt = None,
    framework: FrameworkOpt = None,
    tag: TagOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    limit: LimitOpt = 50,
    cursor: Annotated[str | None, typer.Option(help="Page cursor from a previous list.")] = None,
    all_pages: Annotated[bool, typer.Option("--all", help="Follow cursors to the end.")] = False,
) -> None:
    """List episodes, newest first, filtered and paged."""
    state = get_state(ctx)
    filters = episode_filter(
        domain=domain,
        task_type=task_type,
        outcome=outcome,
        status=status,
        language=language,
        framework=framework,
        tags=tag,
        since=since,
        until=until,
    )
    page = state.memory.list_episodes(filters, limit=limit, cursor=cursor)
    if all_pages:
        items = list(page.items)
        while page.next_cursor:
            page = state.memory.list_episodes(filters, limit=limit, cursor=page.next_cursor)
            items.extend(page.items)
        page = EpisodePage(items=items, next_cursor=None)

    def table() -> Any:
        parts: list[Any] = [or_empty(episodes_table(page.items), "episodes")]
        if page.next_cursor:
            parts.append(f"[dim]more: --cursor {page.next_cursor}[/dim]")
        return parts

    emit(state.format, page, table)


@app.command(
    epilog=examples(
        "memory episode search 'timeout in http client' --domain web",
        "memory -f json episode search 'flaky test' -n 3",
    )
)
def search(
    ctx: typer.Context,
    text: Annotated[str, typer.Argument(help="Task description to find similar episodes for.")],
    domain: DomainOpt = None,
    task_type: TypeOpt = None,
    outcome: OutcomeOpt = None,
    language: LanguageOpt = None,
    framework: FrameworkOpt = None,
    tag: TagOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    limit: LimitOpt = 5,
) -> None:
    """Find the past episodes most relevant to a task, with score components."""
    state = get_state(ctx)
    filters = episode_filter(
        domain=domain,
        task_type=task_type,
        outcome=outcome,
        language=language,
        framework=framework,
        tags=tag,
        since=since,
        until=until,
    )
    hits = state.memory.retrieve_relevant_context(text, limit=limit, **filter_kwargs(filters))
    emit(state.format, hits, lambda: or_empty(retrieved_episodes_table(hits), "matching episodes"))


@app.command(epilog=examples("memory episode delete $ID --yes"))
def delete(
    ctx: typer.Context,
    episode_id: EpisodeId,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Erase an episode everywhere (steps, search indexes, vectors, pattern sources)."""
    state = get_state(ctx)
    eid = parse_uuid(episode_id, "EPISODE_ID")
    if not yes and not typer.confirm(f"Delete episode {eid}?", err=True):
        raise typer.Abort()
    deleted = state.memory.delete_episode(eid)
    if not deleted:
        raise CliError(f"episode not found: {eid}", exit_code=EXIT_FAILED)
    emit(state.format, {"id": str(eid), "deleted": True}, lambda: f"deleted {eid}")


# checkpoint, handoff, resume: the hand-off flow (commands/handoff.py)
handoff.register(app)
