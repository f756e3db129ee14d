"""Workflow tools: tags, relationships, checkpoints and hand-off, playbooks, feedback.

Names and argument names follow the Rust implementation where it has the tool
(``from_episode_id``, ``to_episode_id``, ``relationship_type``, ``require_all``,
``handoff_pack``, ``depth``). Which tools are listed depends on the tool profile
(``MemoryConfig.mcp_tool_profile``, ``MEMORY_MCP_TOOL_PROFILE``, ``memory-mcp --tools``):
``core`` adds only hand-off and playbooks to the episode tools, so ``tools/list`` stays
small for an agent's context; ``full`` lists every tool here.

No ``from __future__ import annotations``: argument types are built per server from the
configured ``Limits`` and the SDK reads each function's evaluated annotations.
"""

import functools
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any, Literal, ParamSpec, TypeVar
from uuid import UUID

from mcp.server.mcpserver import Context, MCPServer
from memory_core import (
    EpisodeNotFoundError,
    InvalidInputError,
    MemoryCoreError,
    RelationshipType,
    SelfLearningMemory,
    TaskContext,
)
from memory_core.errors import RelationshipCycleError, RelationshipNotFoundError
from memory_core.workflow import (
    ACYCLIC_TYPES,
    HandoffPack,
    PatternExplanation,
    Playbook,
    RecommendationFeedback,
    RecommendationStats,
    ResumeResult,
)
from pydantic import Field, JsonValue

from memory_mcp._errors import invalid, tool_error
from memory_mcp._outputs_workflow import (
    CheckpointResult,
    CycleCheckResult,
    DependencyGraphResult,
    EpisodeRelationshipsResult,
    EpisodeTagsResult,
    OrderedEpisode,
    RelatedEpisodeHit,
    RelatedEpisodesResult,
    RelationshipEdge,
    RemoveRelationshipResult,
    TagChangeResult,
    TagSearchResult,
    TagStatisticsResult,
    TopologicalOrderResult,
)
from memory_mcp._runtime import Runtime
from memory_mcp._tools import ADDITIVE, DESTRUCTIVE, READ_ONLY

P = ParamSpec("P")
R = TypeVar("R")

Profile = Literal["core", "full"]
PROFILES: tuple[Profile, ...] = ("core", "full")

CORE_WORKFLOW_TOOLS = frozenset(
    {"checkpoint_episode", "get_handoff_pack", "resume_from_handoff", "recommend_playbook"}
)
"""Listed in the ``core`` profile too: what lets a long task survive a context reset."""

WORKFLOW_TOOLS = (
    "add_episode_tags",
    "remove_episode_tags",
    "set_episode_tags",
    "get_episode_tags",
    "search_episodes_by_tags",
    "get_tag_statistics",
    "add_episode_relationship",
    "remove_episode_relationship",
    "get_episode_relationships",
    "find_related_episodes",
    "get_dependency_graph",
    "validate_no_cycles",
    "get_topological_order",
    "checkpoint_episode",
    "get_handoff_pack",
    "resume_from_handoff",
    "recommend_playbook",
    "explain_pattern",
    "record_recommendation_feedback",
    "get_recommendation_stats",
)

MAX_DEPTH = 10
MAX_PLAYBOOK_STEPS = 50
MAX_ID_CHARS = 200
MAX_PACK_BYTES = 1_000_000

IDEMPOTENT = ADDITIVE.model_copy(update={"idempotent_hint": True})

_DIRECTIONS: dict[str, Literal["out", "in", "both"]] = {
    "outgoing": "out",
    "incoming": "in",
    "both": "both",
}


def _fields(
    renames: Mapping[str, str],
) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    """Map memory-core errors to tool errors, renaming core field names to this tool's
    argument names (``target_id`` → ``to_episode_id``), so the message names what to fix."""

    def decorate(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        @functools.wraps(fn)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return await fn(*args, **kwargs)
            except MemoryCoreError as exc:
                if isinstance(exc, InvalidInputError) and exc.field:
                    exc = _renamed(exc, renames)
                elif isinstance(exc, EpisodeNotFoundError) and exc.field:
                    field = renames.get(exc.field, exc.field)
                    exc = EpisodeNotFoundError(exc.episode_id, field=field)
                raise tool_error(exc) from exc

        return wrapper

    return decorate


def _renamed(exc: InvalidInputError, renames: Mapping[str, str]) -> InvalidInputError:
    field = exc.field or ""
    for old, new in renames.items():
        if field == old or field.startswith((old + ".", old + "[")):
            text = str(exc)
            if text.startswith(old):
                text = new + text[len(old) :]
            out = InvalidInputError(text, field=new + field[len(old) :], limit=exc.limit)
            out.__cause__ = exc
            return out
    return exc


_mapped = _fields({})


def register_workflow_tools(server: MCPServer, rt: Runtime, profile: str = "core") -> list[str]:
    """Add the workflow tools the profile lists; returns their names."""
    if profile not in PROFILES:
        raise ValueError(f"tool profile must be one of {', '.join(PROFILES)}; got {profile!r}")
    lim = rt.limits
    Short = Annotated[str, Field(min_length=1, max_length=lim.max_short_text_chars)]
    Tags = Annotated[list[Short], Field(min_length=1, max_length=lim.max_tags)]
    Limit = Annotated[int, Field(ge=1, le=lim.max_limit)]
    Reason = Annotated[str, Field(max_length=lim.max_action_chars)]
    Depth = Annotated[int, Field(ge=1, le=MAX_DEPTH)]
    Direction = Annotated[
        Literal["outgoing", "incoming", "both"], Field(description="relative to episode_id")
    ]
    Types = Annotated[list[RelationshipType] | None, Field(max_length=len(RelationshipType))]
    CheckpointId = Annotated[str, Field(min_length=1, max_length=64)]
    registered: list[str] = []

    def tool(**options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
            if profile == "full" or fn.__name__ in CORE_WORKFLOW_TOOLS:
                server.tool(**options)(fn)
                registered.append(fn.__name__)
            return fn

        return decorate

    # -- tags ----------------------------------------------------------------------------

    async def change_tags(
        ctx: Context, episode_id: UUID, op: str, tags: list[str]
    ) -> TagChangeResult:
        tenant = rt.tenant()

        def change(mem: SelfLearningMemory) -> TagChangeResult:
            before = mem.list_tags(episode_id, tenant=tenant)
            after = getattr(mem, op)(episode_id, tags, tenant=tenant)
            return TagChangeResult(
                episode_id=episode_id,
                current_tags=after,
                added=[t for t in after if t not in before],
                removed=[t for t in before if t not in after],
            )

        result = await rt.memory.run(change, rt.memory.sync)
        if result.added or result.removed:
            await rt.sessions.resource_updated(ctx, f"memory://episodes/{episode_id}")
        return result

    @tool(annotations=IDEMPOTENT, title="Add episode tags")
    @_mapped
    async def add_episode_tags(ctx: Context, episode_id: UUID, tags: Tags) -> TagChangeResult:
        """Add tags to an episode (present ones are kept once)."""
        return await change_tags(ctx, episode_id, "add_tags", tags)

    @tool(annotations=IDEMPOTENT, title="Remove episode tags")
    @_mapped
    async def remove_episode_tags(ctx: Context, episode_id: UUID, tags: Tags) -> TagChangeResult:
        """Remove tags from an episode (absent ones are ignored)."""
        return await change_tags(ctx, episode_id, "remove_tags", tags)

    @tool(annotations=IDEMPOTENT, title="Set episode tags")
    @_mapped
    async def set_episode_tags(
        ctx: Context,
        episode_id: UUID,
        tags: Annotated[list[Short], Field(max_length=lim.max_tags, description="[] clears")],
    ) -> TagChangeResult:
        """Replace all of an episode's tags."""
        return await change_tags(ctx, episode_id, "set_tags", tags)

    @tool(annotations=READ_ONLY, title="Get episode tags")
    @_mapped
    async def get_episode_tags(episode_id: UUID) -> EpisodeTagsResult:
        """An episode's tags."""
        tags = await rt.memory.list_tags(episode_id, tenant=rt.tenant())
        return EpisodeTagsResult(episode_id=episode_id, tags=tags)

    @tool(annotations=READ_ONLY, title="Search episodes by tags")
    @_mapped
    async def search_episodes_by_tags(
        tags: Tags,
        require_all: Annotated[bool, Field(description="all tags (AND); default any (OR)")] = False,
        limit: Limit = 20,
        cursor: Annotated[str | None, Field(max_length=1024, description="next_cursor")] = None,
    ) -> TagSearchResult:
        """Episodes carrying any (or all) of the tags, newest first, paged."""
        match: Literal["any", "all"] = "all" if require_all else "any"
        page = await rt.memory.search_episodes_by_tags(
            tags, match, limit, cursor, tenant=rt.tenant()
        )
        return TagSearchResult(
            episodes=page.items, count=len(page.items), next_cursor=page.next_cursor
        )

    @tool(annotations=READ_ONLY, title="Tag statistics")
    @_mapped
    async def get_tag_statistics(limit: Limit = 50) -> TagStatisticsResult:
        """Tags by how many episodes carry them, with when each was last used."""
        stats = await rt.memory.tag_statistics(limit, tenant=rt.tenant())
        return TagStatisticsResult(tags=stats, count=len(stats))

    # -- relationships -------------------------------------------------------------------

    link_fields = _fields(
        {"source_id": "from_episode_id", "target_id": "to_episode_id", "type": "relationship_type"}
    )
    types_field = _fields({"types": "relationship_types"})

    @tool(annotations=IDEMPOTENT, title="Link two episodes")
    @link_fields
    async def add_episode_relationship(
        from_episode_id: UUID,
        to_episode_id: UUID,
        relationship_type: Annotated[
            RelationshipType,
            Field(description="read as: from <type> to, e.g. A depends_on B, A blocks B"),
        ],
        reason: Reason = "",
        priority: Annotated[int, Field(ge=1, le=10, description="higher is more important")] = 5,
    ) -> RelationshipEdge:
        """Add a typed link between episodes; refused if it would close a dependency cycle."""
        rel = await rt.memory.add_relationship(
            from_episode_id,
            to_episode_id,
            relationship_type,
            reason,
            priority,
            tenant=rt.tenant(),
        )
        return RelationshipEdge.of(rel)

    @tool(annotations=DESTRUCTIVE, title="Remove a link")
    @_mapped
    async def remove_episode_relationship(
        relationship_id: Annotated[
            str, Field(min_length=1, max_length=MAX_ID_CHARS, description="from:type:to")
        ],
    ) -> RemoveRelationshipResult:
        """Remove a link by its relationship_id."""
        removed = await rt.memory.remove_relationship(relationship_id, tenant=rt.tenant())
        if not removed:
            raise tool_error(RelationshipNotFoundError(relationship_id))
        return RemoveRelationshipResult(relationship_id=relationship_id, removed=True)

    @tool(annotations=READ_ONLY, title="Get episode links")
    @link_fields
    async def get_episode_relationships(
        episode_id: UUID,
        direction: Direction = "both",
        relationship_type: RelationshipType | None = None,
    ) -> EpisodeRelationshipsResult:
        """An episode's links, outgoing and incoming, by priority."""
        types = [relationship_type] if relationship_type is not None else None
        rels = await rt.memory.list_relationships(
            episode_id, _DIRECTIONS[direction], types, tenant=rt.tenant()
        )
        out = [RelationshipEdge.of(r) for r in rels if r.source_id == episode_id]
        inc = [RelationshipEdge.of(r) for r in rels if r.target_id == episode_id]
        return EpisodeRelationshipsResult(
            episode_id=episode_id, outgoing=out, incoming=inc, total_count=len(rels)
        )

    @tool(annotations=READ_ONLY, title="Find related episodes")
    @_fields({"max_depth": "depth", "types": "relationship_type"})
    async def find_related_episodes(
        episode_id: UUID,
        relationship_type: RelationshipType | None = None,
        depth: Annotated[Depth, Field(description="links to follow")] = 2,
        direction: Direction = "both",
        limit: Limit = 50,
    ) -> RelatedEpisodesResult:
        """Episodes reachable by following links, nearest first."""
        types = [relationship_type] if relationship_type is not None else None
        found = await rt.memory.find_related_episodes(
            episode_id, depth, _DIRECTIONS[direction], types, limit, tenant=rt.tenant()
        )
        hits = [
            RelatedEpisodeHit(
                episode_id=r.episode_id,
                task_description=r.task_description,
                status=r.status,
                outcome=r.outcome,
                depth=r.depth,
                path=r.path,
                via=RelationshipEdge.of(r.via),
            )
            for r in found
        ]
        return RelatedEpisodesResult(episode_id=episode_id, related_episodes=hits, count=len(hits))

    @tool(annotations=READ_ONLY, title="Dependency graph")
    @_fields({"max_depth": "depth", "types": "relationship_types"})
    async def get_dependency_graph(
        episode_id: Annotated[UUID | None, Field(description="root; omit for every link")] = None,
        depth: Depth = 3,
        format: Literal["json", "dot"] = "json",
        relationship_types: Types = None,
    ) -> DependencyGraphResult:
        """Episodes and links around an episode (or all), as JSON or Graphviz DOT."""
        graph = await rt.memory.relationship_graph(
            episode_id, depth, relationship_types, tenant=rt.tenant()
        )
        result = DependencyGraphResult(
            root=graph.root,
            format=format,
            node_count=len(graph.nodes),
            edge_count=len(graph.edges),
        )
        if format == "dot":
            result.dot = graph.to_dot()
        else:
            result.nodes = graph.nodes
            result.edges = [RelationshipEdge.of(e) for e in graph.edges]
        return result

    @tool(annotations=READ_ONLY, title="Check for cycles")
    @link_fields
    async def validate_no_cycles(
        from_episode_id: Annotated[
            UUID | None, Field(description="proposed link (optional)")
        ] = None,
        to_episode_id: UUID | None = None,
        relationship_type: RelationshipType | None = None,
    ) -> CycleCheckResult:
        """Cycles among stored dependency links; with a proposed link, whether it would close one."""
        proposal = (from_episode_id, to_episode_id, relationship_type)
        if any(x is not None for x in proposal) and any(x is None for x in proposal):
            missing = [
                n
                for n, v in zip(
                    ("from_episode_id", "to_episode_id", "relationship_type"), proposal, strict=True
                )
                if v is None
            ]
            raise invalid(
                missing[0],
                "a proposed link needs from_episode_id, to_episode_id and relationship_type",
            )
        tenant = rt.tenant()

        def check(mem: SelfLearningMemory) -> CycleCheckResult:
            report = mem.check_relationship_cycles(tenant=tenant)
            result = CycleCheckResult(
                acyclic=report.acyclic, cycles=report.cycles, checked_types=report.checked_types
            )
            if from_episode_id and to_episode_id and relationship_type:
                cycle = mem.relationship_would_cycle(
                    from_episode_id, to_episode_id, relationship_type, tenant=tenant
                )
                result.would_create_cycle = cycle is not None
                result.cycle_path = cycle
            return result

        return await rt.memory.run(check, rt.memory.sync)

    @tool(annotations=READ_ONLY, title="Topological order")
    @types_field
    async def get_topological_order(
        episode_ids: Annotated[
            list[UUID] | None,
            Field(max_length=lim.max_limit, description="only these, in dependency order"),
        ] = None,
        relationship_types: Annotated[
            Types, Field(description="default depends_on, follows, blocks")
        ] = None,
    ) -> TopologicalOrderResult:
        """Episodes ordered so that each comes after what it depends on."""
        tenant = rt.tenant()
        for t in relationship_types or []:
            if t not in ACYCLIC_TYPES:
                raise invalid(
                    "relationship_types",
                    f"{t.value} has no order; use parent_child, depends_on, follows or blocks",
                )

        def order(mem: SelfLearningMemory) -> TopologicalOrderResult:
            try:
                topo = mem.relationship_topological_order(relationship_types, tenant=tenant)
            except RelationshipCycleError as exc:
                chosen = relationship_types or [
                    RelationshipType.BLOCKS,
                    RelationshipType.DEPENDS_ON,
                    RelationshipType.FOLLOWS,
                ]
                return TopologicalOrderResult(
                    order=[],
                    count=0,
                    has_cycles=True,
                    cycle=exc.cycle,
                    relationship_types=sorted(chosen),
                )
            ids = list(topo.order)
            if episode_ids is not None:
                wanted = list(dict.fromkeys(episode_ids))
                ranked, keep = set(ids), set(wanted)
                ids = [i for i in ids if i in keep] + [i for i in wanted if i not in ranked]
            graph = mem.relationship_graph(None, types=topo.types, tenant=tenant)
            described = {n.id: n.task_description for n in graph.nodes}
            missing = [i for i in ids if i not in described]
            for i in missing:  # episodes with no link of these types
                described[i] = mem.get_episode(i, tenant=tenant).task_description
            return TopologicalOrderResult(
                order=[
                    OrderedEpisode(position=n, episode_id=i, task_description=described[i])
                    for n, i in enumerate(ids, start=1)
                ],
                count=len(ids),
                has_cycles=False,
                relationship_types=topo.types,
            )

        return await rt.memory.run(order, rt.memory.sync)

    # -- checkpoints and hand-off ------------------------------------------------------------

    @tool(annotations=ADDITIVE, title="Checkpoint episode")
    @_mapped
    async def checkpoint_episode(
        episode_id: UUID,
        reason: Annotated[
            str,
            Field(max_length=lim.max_short_text_chars, description="e.g. context full"),
        ] = "",
        note: Annotated[
            str, Field(max_length=lim.max_action_chars, description="state, open questions")
        ] = "",
    ) -> CheckpointResult:
        """Snapshot an episode for a hand-off or context reset."""
        cp = await rt.memory.checkpoint_episode(episode_id, reason, note, tenant=rt.tenant())
        return CheckpointResult(
            checkpoint_id=cp.id,
            episode_id=cp.episode_id,
            step_count=cp.step_count,
            last_step_number=cp.last_step_number,
            created_at=cp.created_at,
        )

    @tool(annotations=READ_ONLY, title="Get hand-off pack")
    @_mapped
    async def get_handoff_pack(checkpoint_id: CheckpointId) -> HandoffPack:
        """A checkpoint's goal, steps, open questions, patterns."""
        pack: HandoffPack = await rt.memory.get_handoff_pack(checkpoint_id, tenant=rt.tenant())
        return pack

    @tool(annotations=ADDITIVE, title="Resume from hand-off")
    @_fields({"pack": "handoff_pack"})
    async def resume_from_handoff(
        ctx: Context,
        checkpoint_id: CheckpointId | None = None,
        handoff_pack: Annotated[
            dict[str, JsonValue] | None, Field(description="or a get_handoff_pack result")
        ] = None,
    ) -> ResumeResult:
        """Continue from a checkpoint or hand-off pack."""
        if (checkpoint_id is None) == (handoff_pack is None):
            raise invalid("checkpoint_id", "give either checkpoint_id or handoff_pack")
        tenant = rt.tenant()
        if handoff_pack is not None and len(str(handoff_pack)) > MAX_PACK_BYTES:
            raise invalid("handoff_pack", f"larger than {MAX_PACK_BYTES} characters")

        def resume(mem: SelfLearningMemory) -> ResumeResult:
            pack: HandoffPack | dict[str, Any]
            if checkpoint_id is not None:
                pack = mem.get_handoff_pack(checkpoint_id, tenant=tenant)
            else:
                assert handoff_pack is not None
                pack = dict(handoff_pack)
            return mem.resume_from_handoff(pack, tenant=tenant)

        result = await rt.memory.run(resume, rt.memory.sync)
        if not result.continued:
            await rt.sessions.resource_updated(ctx, "memory://episodes")
        return result

    # -- playbooks and feedback ---------------------------------------------------------------

    @tool(annotations=READ_ONLY, title="Recommend playbook")
    @_fields({"for_episode": "episode_id"})
    async def recommend_playbook(
        task_description: Annotated[str, Field(min_length=1, max_length=lim.max_query_chars)],
        domain: Short | None = None,
        language: Short | None = None,
        framework: Short | None = None,
        tags: Annotated[list[Short] | None, Field(max_length=lim.max_tags)] = None,
        max_steps: Annotated[int, Field(ge=1, le=MAX_PLAYBOOK_STEPS)] = 7,
        episode_id: Annotated[
            UUID | None, Field(description="the episode it is for (needs write scope)")
        ] = None,
    ) -> Playbook:
        """Before a task: steps that worked before, with evidence."""
        context = TaskContext(
            domain=domain or "general", language=language, framework=framework, tags=tags or []
        )
        playbook: Playbook = await rt.memory.recommend_playbook(
            task_description, context, max_steps, for_episode=episode_id, tenant=rt.tenant()
        )
        return playbook

    @tool(annotations=READ_ONLY, title="Explain pattern")
    @_mapped
    async def explain_pattern(pattern_id: UUID) -> PatternExplanation:
        """When a pattern applies, how often it worked, and where it was learned."""
        explained: PatternExplanation = await rt.memory.explain_pattern(
            pattern_id, tenant=rt.tenant()
        )
        return explained

    @tool(annotations=ADDITIVE, title="Record recommendation feedback")
    @_mapped
    async def record_recommendation_feedback(
        episode_id: UUID,
        applied_pattern_ids: Annotated[
            list[UUID], Field(max_length=lim.max_limit, description="recommended patterns used")
        ],
        success: Annotated[bool | None, Field(description="default: the episode's outcome")] = None,
        rating: Annotated[
            int | None, Field(ge=1, le=5, description="your rating of the advice")
        ] = None,
    ) -> RecommendationFeedback:
        """Which recommended patterns you applied in an episode, and how it went."""
        fb: RecommendationFeedback = await rt.memory.record_recommendation_feedback(
            episode_id, applied_pattern_ids, success, rating, tenant=rt.tenant()
        )
        return fb

    @tool(annotations=READ_ONLY, title="Recommendation statistics")
    @_mapped
    async def get_recommendation_stats(limit: Limit = 20) -> RecommendationStats:
        """Adoption and success of recommendations, per pattern by Wilson lower bound."""
        stats: RecommendationStats = await rt.memory.get_recommendation_stats(
            limit, tenant=rt.tenant()
        )
        return stats

    return registered
