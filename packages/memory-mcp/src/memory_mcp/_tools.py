"""The MCP tools: typed arguments (→ input JSON schema), structured results, annotations.

Names and argument names follow the Rust implementation of this architecture, so prompts
and configs written for it keep working; only what truly is required is required.

This module deliberately has no ``from __future__ import annotations``: the argument
types are built per server from the configured ``Limits`` (maxLength, maxItems...) and
the SDK resolves them from each tool function's evaluated annotations.

Over 400 lines because each tool's signature is its schema: the core profile's tools are
one readable list of typed functions (the workflow tools are in ``_tools_workflow``).
"""

import functools
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any, ParamSpec, TypeVar
from uuid import UUID

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import ToolAnnotations
from memory_core import (
    Complexity,
    Episode,
    EpisodeFilter,
    EpisodeNotFoundError,
    ExecutionStep,
    MemoryCoreError,
    OutcomeType,
    Pattern,
    PatternFilter,
    PatternKind,
    QueryResult,
    SelfLearningMemory,
    StepResult,
    StepStatus,
    TaskContext,
    TaskOutcome,
    TaskType,
)
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, JsonValue

from memory_mcp._errors import invalid, tool_error
from memory_mcp._guard import audit_in_worker
from memory_mcp._outputs import (
    AddStepResult,
    AnalyzePatternsResult,
    CompleteEpisodeResult,
    CreateEpisodeResult,
    DeleteEpisodeResult,
    EpisodeHit,
    HeuristicHit,
    KeyStep,
    ListEpisodesResult,
    PatternHit,
    PatternOutcomeResult,
    PatternRef,
    PatternStat,
    QueryMemoryResult,
    snippet,
)
from memory_mcp._runtime import Runtime
from memory_mcp._worker_tool import worker_tool

P = ParamSpec("P")
R = TypeVar("R")

KEY_STEPS_PER_EPISODE = 5

READ_ONLY = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)
ADDITIVE = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False
)
DESTRUCTIVE = ToolAnnotations(
    read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False
)


FULL_ONLY = frozenset({"analyze_patterns", "update_episode"})
"""Tools of this module listed in the ``full`` profile only: pattern statistics are a
review (``memory pattern analyze``); an agent gets the patterns relevant to its task,
with their success rate, support and confidence, from query_memory."""


def _mapped(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Turn memory-core errors into tool errors (is_error results) that name the field."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except MemoryCoreError as exc:
            raise tool_error(exc) from exc

    return wrapper


def register_tools(server: MCPServer, rt: Runtime, profile: str = "full") -> None:
    """Add the profile's tools to ``server``; argument bounds come from ``rt.limits``."""
    lim = rt.limits
    Short = Annotated[str, Field(min_length=1, max_length=lim.max_short_text_chars)]
    Text = Annotated[str, Field(max_length=lim.max_text_chars)]
    Action = Annotated[str, Field(max_length=lim.max_action_chars)]
    Tags = Annotated[list[Short], Field(max_length=lim.max_tags)]
    Limit = Annotated[int, Field(ge=1, le=lim.max_limit)]
    Json = dict[str, JsonValue]

    class StepResultInput(BaseModel):
        """A step's result: {"type": "success", "output": ...} or {"type": "error", "message": ...}."""

        model_config = ConfigDict(extra="forbid", populate_by_name=True)
        type: StepStatus = Field(validation_alias=AliasChoices("type", "status"))
        output: Text | None = None
        message: Text | None = None

        def to_core(self) -> StepResult:
            return StepResult(status=self.type, output=self.output, message=self.message)

    StepResultArg = Annotated[
        StepResultInput | Text | None,
        Field(description="a string: success output"),
    ]

    class StepInput(BaseModel):
        """One execution step, as in add_episode_step's single form."""

        model_config = ConfigDict(extra="forbid")
        step_number: Annotated[int | None, Field(ge=1, le=lim.max_steps_per_episode)] = None
        tool: Short
        action: Action = ""
        parameters: Json = Field(default_factory=dict)
        result: StepResultArg = None
        latency_ms: Annotated[float, Field(ge=0)] = 0.0
        tokens_used: Annotated[int | None, Field(ge=0)] = None
        metadata: Json = Field(default_factory=dict)

    def result_of(result: StepResultInput | str | None) -> StepResult | None:
        if isinstance(result, StepResultInput):
            return result.to_core()
        if isinstance(result, str):
            return StepResult.success(result)
        return None

    def to_step(s: StepInput, number: int) -> ExecutionStep:
        return ExecutionStep(**step_fields(s), step_number=number)

    def step_fields(s: StepInput) -> dict[str, Any]:
        """A step as memory-core takes it; without step_number it numbers the step."""
        return {
            "tool": s.tool,
            "action": s.action,
            "parameters": s.parameters,
            "result": result_of(s.result),
            "latency_ms": s.latency_ms,
            "tokens_used": s.tokens_used,
            "metadata": s.metadata,
        }

    def outcome_of(
        outcome_type: OutcomeType,
        verdict: str,
        artifacts: list[str] | None,
        completed: list[str] | None,
        failed: list[str] | None,
        reason: str | None,
        error_details: str | None = None,
    ) -> TaskOutcome:
        if outcome_type is OutcomeType.FAILURE and not (reason or error_details or verdict):
            raise invalid("reason", "required when outcome_type is failure")
        return TaskOutcome(
            type=outcome_type,
            verdict=verdict,
            artifacts=artifacts or [],
            completed=completed or [],
            failed=failed or [],
            reason="\n".join(p for p in (reason, error_details) if p) or None,
        )

    def completion(
        mem: SelfLearningMemory, episode: Episode, tenant: str | None
    ) -> CompleteEpisodeResult:
        refs: list[PatternRef] = []
        for pid in episode.pattern_ids:
            try:
                p = mem.get_pattern(pid, tenant=tenant)
            except MemoryCoreError:
                continue  # extraction may still be queued; the id list is the truth
            refs.append(PatternRef(pattern_id=p.id, kind=p.kind, description=p.description))
        assert episode.outcome is not None
        return CompleteEpisodeResult(
            episode_id=episode.id,
            outcome_type=episode.outcome.type,
            step_count=len(episode.steps),
            reward=episode.reward,
            reflection=episode.reflection,
            patterns=refs,
        )

    async def announce(ctx: Context, done: CompleteEpisodeResult) -> None:
        await rt.sessions.resource_updated(ctx, f"memory://episodes/{done.episode_id}")
        for ref in done.patterns:
            await rt.sessions.resource_updated(ctx, f"memory://patterns/{ref.pattern_id}")
        reward = f"{done.reward.total:.2f}" if done.reward else "n/a"
        await rt.sessions.log(
            ctx,
            "info",
            f"episode {done.episode_id} completed: reward {reward}, "
            f"{len(done.patterns)} pattern(s)",
        )

    # -- episodes ------------------------------------------------------------------------

    @server.tool(annotations=ADDITIVE, title="Record episode")
    @_mapped
    async def record_episode(
        ctx: Context,
        task_description: Annotated[
            str, Field(min_length=1, max_length=lim.max_task_description_chars)
        ],
        steps: Annotated[list[StepInput], Field(max_length=lim.max_steps_per_call)],
        outcome_type: OutcomeType,
        verdict: Text = "",
        reason: Text | None = None,
        artifacts: Annotated[list[Text] | None, Field(max_length=lim.max_artifacts)] = None,
        completed: Annotated[list[Text] | None, Field(max_length=lim.max_artifacts)] = None,
        failed: Annotated[list[Text] | None, Field(max_length=lim.max_artifacts)] = None,
        domain: Short | None = None,
        task_type: TaskType = TaskType.OTHER,
        language: Short | None = None,
        framework: Short | None = None,
        tags: Tags | None = None,
        metadata: Json | None = None,
    ) -> CompleteEpisodeResult:
        """After a task: store task, steps and outcome in one call.

        All or nothing; the same as create_episode + add_episode_step + complete_episode.
        Steps without step_number are numbered in order after the ones before them."""
        outcome = outcome_of(outcome_type, verdict, artifacts, completed, failed, reason)
        context = TaskContext(
            domain=domain or "general", language=language, framework=framework, tags=tags or []
        )
        raw = [
            {**step_fields(s), **({"step_number": s.step_number} if s.step_number else {})}
            for s in steps
        ]
        tenant = rt.tenant()

        def record(mem: SelfLearningMemory) -> CompleteEpisodeResult:
            episode = mem.record_episode(
                task_description,
                raw,
                outcome,
                context,
                task_type,
                metadata=metadata,
                tenant=tenant,
            )
            return completion(mem, episode, tenant)

        done = await rt.memory.run(record, rt.memory.sync)
        await rt.sessions.resource_updated(ctx, "memory://episodes")
        await announce(ctx, done)
        return done

    @server.tool(annotations=ADDITIVE, title="Create episode")
    @_mapped
    async def create_episode(
        ctx: Context,
        task_description: Annotated[
            str,
            Field(min_length=1, max_length=lim.max_task_description_chars),
        ],
        domain: Short | None = None,
        task_type: TaskType = TaskType.OTHER,
        complexity: Complexity = Complexity.MODERATE,
        tags: Tags | None = None,
        language: Short | None = None,
        framework: Short | None = None,
        metadata: Json | None = None,
    ) -> CreateEpisodeResult:
        """Start a long task; then log steps, complete it.

        Returns the episode_id; for a finished task, record_episode does it in one call."""
        context = TaskContext(
            domain=domain or "general",
            language=language,
            framework=framework,
            complexity=complexity,
            tags=tags or [],
        )
        episode_id = await rt.memory.start_episode(
            task_description, context, task_type, metadata=metadata, tenant=rt.tenant()
        )
        await rt.sessions.resource_updated(ctx, "memory://episodes")
        return CreateEpisodeResult(
            episode_id=episode_id, task_type=task_type, domain=context.domain
        )

    @server.tool(annotations=ADDITIVE, title="Log episode step(s)")
    @_mapped
    async def add_episode_step(
        ctx: Context,
        episode_id: UUID,
        step_number: Annotated[
            int | None,
            Field(ge=1, le=lim.max_steps_per_episode, description="default: next"),
        ] = None,
        tool: Short | None = None,
        action: Action = "",
        parameters: Json | None = None,
        result: StepResultArg = None,
        latency_ms: Annotated[float, Field(ge=0)] = 0.0,
        tokens_used: Annotated[int | None, Field(ge=0)] = None,
        steps: Annotated[
            list[StepInput] | None,
            Field(max_length=lim.max_steps_per_call),
        ] = None,
    ) -> AddStepResult:
        """Log a step (or a batch) of an episode.

        A batch is stored atomically (all or nothing) and reports progress."""
        if steps is not None:
            if tool is not None or step_number is not None or result is not None:
                raise invalid(
                    "steps", "give either one step (tool, action, ...) or a steps batch, not both"
                )
            if not steps:
                raise invalid("steps", "must contain at least one step")
            inputs = list(steps)
        else:
            if tool is None:
                raise invalid("tool", "required (or pass a steps batch)")
            inputs = [
                StepInput(
                    step_number=step_number,
                    tool=tool,
                    action=action,
                    parameters=parameters or {},
                    result=result,
                    latency_ms=latency_ms,
                    tokens_used=tokens_used,
                )
            ]
        total = len(inputs)
        batch = steps is not None
        if batch:
            await ctx.report_progress(0, total, "validating steps")
        tenant = rt.tenant()

        def log(mem: SelfLearningMemory) -> AddStepResult:
            # A left-out number is assigned by the store in the transaction that inserts
            # the step, so servers in several processes never take the same one.
            prepared: list[ExecutionStep | dict[str, Any]] = []
            for i, s in enumerate(inputs):
                try:
                    step = to_step(s, s.step_number or 1)
                except ValueError as exc:
                    field = f"steps[{i}]" if batch else "step"
                    raise invalid(field, str(exc)) from exc
                left_out = s.step_number is None
                prepared.append({**step.model_dump(), "step_number": None} if left_out else step)
            if len(prepared) == 1 and not batch:
                numbers = [mem.log_step(episode_id, prepared[0], tenant=tenant)]
            else:
                numbers = mem.log_steps(episode_id, prepared, tenant=tenant)
            count = mem.get_summary(episode_id, tenant=tenant).step_count
            audit_in_worker(mem)
            return AddStepResult(
                episode_id=episode_id,
                steps_logged=len(numbers),
                step_numbers=numbers,
                total_steps=count,
            )

        outcome = await rt.memory.run(log, rt.memory.sync)
        await rt.sessions.resource_updated(ctx, f"memory://episodes/{episode_id}")
        if batch:
            await ctx.report_progress(total, total, f"stored {total} steps")
        return outcome

    @server.tool(annotations=ADDITIVE, title="Complete episode")
    @_mapped
    async def complete_episode(
        ctx: Context,
        episode_id: UUID,
        outcome_type: OutcomeType,
        verdict: Text = "",
        artifacts: Annotated[list[Text] | None, Field(max_length=lim.max_artifacts)] = None,
        completed: Annotated[list[Text] | None, Field(max_length=lim.max_artifacts)] = None,
        failed: Annotated[list[Text] | None, Field(max_length=lim.max_artifacts)] = None,
        reason: Text | None = None,
        error_details: Annotated[
            Text | None, Field(description="failure details, kept with reason")
        ] = None,
    ) -> CompleteEpisodeResult:
        """Finish an episode with its outcome.

        outcome_type: success (verdict, artifacts), partial_success (verdict, completed,
        failed) or failure (reason)."""
        outcome = outcome_of(
            outcome_type, verdict, artifacts, completed, failed, reason, error_details
        )
        tenant = rt.tenant()

        def complete(mem: SelfLearningMemory) -> CompleteEpisodeResult:
            done = completion(mem, mem.complete_episode(episode_id, outcome, tenant=tenant), tenant)
            audit_in_worker(mem)
            return done

        done = await rt.memory.run(complete, rt.memory.sync)
        await announce(ctx, done)
        return done

    @server.tool(annotations=ADDITIVE, title="Update episode")
    @_mapped
    async def update_episode(
        ctx: Context,
        episode_id: UUID,
        outcome_type: OutcomeType | None = None,
        verdict: Text = "",
        reason: Text | None = None,
        completed: Annotated[list[Text] | None, Field(max_length=lim.max_artifacts)] = None,
        failed: Annotated[list[Text] | None, Field(max_length=lim.max_artifacts)] = None,
        notes: Annotated[list[Action] | None, Field(max_length=lim.max_artifacts)] = None,
        lessons: Annotated[list[Action] | None, Field(max_length=lim.max_artifacts)] = None,
    ) -> CompleteEpisodeResult:
        """When a completed task turned out differently: correct its outcome, or add notes and lessons."""
        outcome = (
            None
            if outcome_type is None
            else outcome_of(outcome_type, verdict, None, completed, failed, reason)
        )
        tenant = rt.tenant()

        def update(mem: SelfLearningMemory) -> CompleteEpisodeResult:
            episode = mem.update_episode(
                episode_id, outcome=outcome, notes=notes, lessons=lessons, tenant=tenant
            )
            return completion(mem, episode, tenant)

        done = await rt.memory.run(update, rt.memory.sync)
        await announce(ctx, done)
        return done

    @worker_tool(server, rt, annotations=READ_ONLY, title="Get episode")
    def get_episode(mem: SelfLearningMemory, episode_id: UUID) -> Episode:
        """One episode in full (steps, outcome, reward, reflection)."""
        episode = mem.get_episode(episode_id, tenant=rt.tenant())
        audit_in_worker(mem)
        return episode

    @server.tool(annotations=READ_ONLY, title="List episodes")
    @_mapped
    async def list_episodes(
        filters: EpisodeFilter | None = None,
        limit: Limit = 20,
        cursor: Annotated[
            str | None, Field(max_length=1024, description="a page's next_cursor")
        ] = None,
    ) -> ListEpisodesResult:
        """Episode summaries, newest first."""
        page = await rt.memory.list_episodes(filters, limit, cursor, tenant=rt.tenant())
        return ListEpisodesResult(episodes=page.items, next_cursor=page.next_cursor)

    @server.tool(annotations=DESTRUCTIVE, title="Delete episode")
    @_mapped
    async def delete_episode(
        ctx: Context,
        episode_id: UUID,
        confirm: Annotated[bool, Field(strict=True, description="must be true")] = False,
    ) -> DeleteEpisodeResult:
        """Delete an episode permanently."""
        if confirm is not True:
            raise invalid(
                "confirm", f"must be true to delete episode {episode_id}; deletion is permanent"
            )
        deleted = await rt.memory.delete_episode(episode_id, tenant=rt.tenant())
        if not deleted:
            raise tool_error(EpisodeNotFoundError(episode_id))
        await rt.sessions.resource_updated(ctx, f"memory://episodes/{episode_id}")
        return DeleteEpisodeResult(episode_id=episode_id, deleted=True)

    # -- memory --------------------------------------------------------------------------

    @worker_tool(server, rt, annotations=READ_ONLY, title="Query memory")
    def query_memory(
        mem: SelfLearningMemory,
        query: Annotated[
            str, Field(min_length=1, max_length=lim.max_query_chars, description="the new task")
        ],
        domain: Short | None = None,
        task_type: TaskType | None = None,
        limit: Annotated[int, Field(ge=1, le=min(lim.max_limit, 50))] = 5,
        language: Short | None = None,
        framework: Short | None = None,
        tags: Tags | None = None,
        outcome: OutcomeType | None = None,
        since: Annotated[
            str | None,
            Field(
                max_length=64,
                description="ISO date/time, 7d, 12h, yesterday, last week",
            ),
        ] = None,
        until: Annotated[
            str | None,
            Field(max_length=64, description="forms of since"),
        ] = None,
    ) -> QueryMemoryResult:
        """Before a task: relevant past episodes and patterns.

        Filters (domain, task_type, language, framework, tags, outcome, since/until)
        restrict the episodes; the result is compact enough to paste into your context."""
        context = TaskContext(
            domain=domain or "general", language=language, framework=framework, tags=tags or []
        )
        filters: dict[str, Any] = {
            k: v
            for k, v in {
                "domain": domain,
                "task_type": task_type,
                "language": language,
                "framework": framework,
                "tags": tags,
                "outcome": outcome,
                "since": since,
                "until": until,
            }.items()
            if v
        }
        compact = _compact(mem.query(query, context, limit, tenant=rt.tenant(), **filters))
        audit_in_worker(mem)
        return compact

    @server.tool(annotations=READ_ONLY, title="Analyze patterns")
    @_mapped
    async def analyze_patterns(
        task_type: TaskType | None = None,
        min_success_rate: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0,
        limit: Limit = 20,
        kind: PatternKind | None = None,
        domain: Short | None = None,
        min_support: Annotated[int, Field(ge=0)] = 0,
    ) -> AnalyzePatternsResult:
        """Learned patterns and their success rates."""
        pf = PatternFilter(
            kind=kind,
            task_type=task_type,
            domain=domain,
            min_success_rate=min_success_rate,
            min_support=min_support,
        )
        rows = await rt.memory.analyze_patterns(pf, limit, tenant=rt.tenant())
        stats = [
            PatternStat(
                pattern_id=a.pattern.id,
                kind=a.pattern.kind,
                description=a.pattern.description,
                task_type=a.pattern.task_type,
                domain=a.pattern.domain,
                language=a.pattern.language,
                tools=a.pattern.tools,
                support=a.pattern.support,
                success_rate=round(a.success_rate, 4),
                confidence=round(a.confidence, 4),
                applications=a.pattern.applications,
                effectiveness=None if a.effectiveness is None else round(a.effectiveness, 4),
                trend=[round(t, 4) for t in a.trend],
            )
            for a in rows
        ]
        return AnalyzePatternsResult(patterns=stats, count=len(stats))

    @server.tool(annotations=ADDITIVE, title="Record pattern outcome")
    @_mapped
    async def record_pattern_outcome(
        ctx: Context,
        pattern_id: UUID,
        episode_id: UUID,
        success: bool,
    ) -> PatternOutcomeResult:
        """Say whether a retrieved pattern helped."""
        try:
            p: Pattern = await rt.memory.record_pattern_outcome(
                pattern_id, episode_id, success, tenant=rt.tenant()
            )
        except EpisodeNotFoundError as exc:  # the core's argument is applied_in_episode
            raise EpisodeNotFoundError(exc.episode_id, field="episode_id") from exc
        await rt.sessions.resource_updated(ctx, f"memory://patterns/{p.id}")
        return PatternOutcomeResult(
            pattern_id=p.id,
            applications=p.applications,
            application_successes=p.application_successes,
            effectiveness=p.effectiveness,
        )

    if profile != "full":
        for name in FULL_ONLY:
            server.remove_tool(name)


def _key_steps(steps: Sequence[ExecutionStep]) -> list[KeyStep]:
    return [
        KeyStep(
            step_number=s.step_number,
            tool=s.tool,
            action=snippet(s.action) or None,
            status=s.result.status if s.result else None,
            result=snippet(s.result.text()) if s.result else None,
        )
        for s in steps[:KEY_STEPS_PER_EPISODE]
    ]


def _compact(result: QueryResult) -> QueryMemoryResult:
    episodes = [
        EpisodeHit(
            episode_id=r.episode.id,
            task_description=snippet(r.episode.task_description) or "",
            task_type=r.episode.task_type,
            domain=r.episode.context.domain,
            language=r.episode.context.language,
            outcome=r.episode.outcome,
            verdict=snippet(r.episode.verdict),
            reward=None if r.episode.reward is None else round(r.episode.reward, 4),
            score=round(r.score, 4),
            relevance=round(r.relevance, 4),
            reason=r.reason,
            repeats=r.repeats,
            last_repeat_at=r.last_repeat_at,
            key_steps=_key_steps(r.steps),
        )
        for r in result.episodes
    ]
    patterns = [
        PatternHit(
            pattern_id=rp.pattern.id,
            kind=rp.pattern.kind,
            description=snippet(rp.pattern.description) or "",
            tools=rp.pattern.tools,
            success_rate=round(rp.pattern.success_rate, 4),
            support=rp.pattern.support,
            confidence=round(rp.pattern.confidence, 4),
            score=round(rp.score, 4),
        )
        for rp in result.patterns
    ]
    heuristics = [
        HeuristicHit(
            condition=snippet(h.condition) or "",
            action=snippet(h.action) or "",
            confidence=round(h.confidence, 4),
            support=h.support,
        )
        for h in result.heuristics
    ]
    return QueryMemoryResult(
        episodes=episodes,
        patterns=patterns,
        heuristics=heuristics,
        summary=_summary(episodes, patterns, heuristics),
    )


def _summary(
    episodes: list[EpisodeHit], patterns: list[PatternHit], heuristics: list[HeuristicHit]
) -> str:
    if not (episodes or patterns or heuristics):
        return "No relevant past episode: nothing in memory is about this task."
    lines: list[str] = []
    if not episodes:
        lines.append("No relevant past episode.")
    if episodes:
        lines.append("Past episodes (relevance 0-1, why):")
        for e in episodes:
            outcome = e.outcome.value if e.outcome else "in progress"
            again = f", ×{e.repeats}, last {e.last_repeat_at:%Y-%m-%d}" if e.last_repeat_at else ""
            lines.append(
                f"- [{outcome}] {e.task_description} ({e.domain}, {e.task_type.value}) "
                f"relevance {e.relevance:.2f}{again}: {e.reason}"
            )
            if e.verdict:
                lines.append(f"  verdict: {e.verdict}")
            for s in e.key_steps:
                mark = "ok" if s.status in (None, StepStatus.SUCCESS) else s.status.value
                lines.append(f"  {s.step_number}. {s.tool}: {s.action or ''} [{mark}]")
    if patterns:
        lines.append("Patterns:")
        for p in patterns:
            lines.append(
                f"- {p.description} (success {p.success_rate:.0%} over {p.support}, "
                f"confidence {p.confidence:.2f})"
            )
    if heuristics:
        lines.append("Heuristics:")
        for h in heuristics:
            lines.append(f"- when {h.condition}: {h.action} (confidence {h.confidence:.2f})")
    return "\n".join(lines)
