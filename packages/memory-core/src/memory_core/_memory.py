"""``SelfLearningMemory``: the learning loop (start → log → complete → retrieve).

A thin façade: each concept lives in its own service and this class wires them and keeps
the public signatures in one place. Why this module is longer than ~400 lines: it *is*
the public API (about 60 methods), each a signature, its docstring and one delegating
line; splitting it would scatter what a user reads without moving any logic.

=======================  ============================================================
``_backends.Backends``   opening storage, cache and embedder lazily, once
``_episodes``            the episode lifecycle: start, log, complete, read, delete, move
``_retriever``           episodes and patterns for a task (``retrieve_*``, ``query``)
``_patterns``            pattern reads, applied outcomes, credit from retrieval
``_extraction_worker``   patterns and heuristics, inline or on a background thread
``_embedding_worker``    vectors, after the write is acknowledged (bounded, flushed)
``_stamped_cache``       generation-stamped cache reads and write-through
``_guard``               audit, sensitivity and encryption-required checks
``_operations``          health, metrics, reembed
``_events``              lifecycle events that features (workflow) listen to
``workflow``             ``WorkflowService``: tags, links, checkpoints, playbooks, feedback
=======================  ============================================================
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Literal, Unpack
from uuid import UUID

from memory_core._backends import Backends, cache_name
from memory_core._config import MemoryConfig
from memory_core._context import MemoryContext
from memory_core._episodes import EpisodeLifecycle
from memory_core._models import (
    Episode,
    EpisodeFilter,
    EpisodeFilterArgs,
    EpisodePage,
    EpisodeSummary,
    ExecutionStep,
    Heuristic,
    Pattern,
    PatternFilter,
    TaskContext,
    TaskOutcome,
    TaskType,
)
from memory_core._operations import Operations
from memory_core._patterns import PatternService, RetrievalFeedback
from memory_core._plugins import load_cache_factory, storage_factory_for_url
from memory_core._protocols import CacheBackend, EmbeddingProvider, StorageBackend
from memory_core._results import (
    HealthReport,
    MetricsSnapshot,
    PatternAnalysis,
    QueryResult,
    RetrievedEpisode,
    RetrievedPattern,
)
from memory_core._retriever import Retriever
from memory_core._updates import update_episode
from memory_core.bulk_import import DEFAULT_BATCH_SIZE, ImportReport, bulk_import
from memory_core.retrieval import RankingWeights
from memory_core.security._erasure import ErasureReport
from memory_core.workflow._context import WorkflowContext
from memory_core.workflow._models import (
    Checkpoint,
    CycleReport,
    DependencyGraph,
    Direction,
    HandoffPack,
    PatternExplanation,
    Playbook,
    RecommendationFeedback,
    RecommendationSession,
    RecommendationStats,
    RelatedEpisode,
    Relationship,
    RelationshipType,
    ResumeResult,
    TagMatch,
    TagStat,
    TopologicalOrder,
)
from memory_core.workflow._service import WorkflowService

if TYPE_CHECKING:
    from memory_core.security._audit import AuditLog


class SelfLearningMemory:
    """Synchronous, thread-safe facade over storage, cache and embeddings.

    ``SelfLearningMemory()`` is ephemeral (in-memory storage, no cache, the local
    embedder); ``SelfLearningMemory.from_config()`` is the durable default (libSQL file +
    LMDB cache) and opens its backends on first use, or at once with ``warm()``.

    Every method takes an optional keyword ``tenant``; without it the config's tenant is
    used. Calls are serialised by one lock: backends see one thread at a time.
    ``AsyncSelfLearningMemory`` wraps the same methods for asyncio callers.
    """

    def __init__(
        self,
        storage: StorageBackend | None = None,
        cache: CacheBackend | None = None,
        embedder: EmbeddingProvider | Literal["auto"] | None = "auto",
        config: MemoryConfig | None = None,
        *,
        weights: RankingWeights | None = None,
    ) -> None:
        if config is None:
            config = MemoryConfig(database_url="memory:", cache_backend="none")
        self.config = config
        self.limits = config.limits
        self.weights = weights or RankingWeights()
        self._backends = Backends(config, storage, cache, embedder)
        self._ctx = MemoryContext.build(config, self._backends, self.weights)
        self.metrics_registry = self._ctx.metrics
        self._episodes = EpisodeLifecycle(self._ctx)
        self._retriever = Retriever(self._ctx)
        self._patterns = PatternService(self._ctx)
        self._operations = Operations(self._ctx, self._episodes)
        feedback = RetrievalFeedback(self._patterns)
        self._workflow = WorkflowService(
            WorkflowContext(
                self._ctx, self._episodes, self._retriever, self._patterns, feedback.shown
            )
        )
        # Workflow first: explicit recommendation feedback replaces the retrieval credit.
        self._ctx.events.subscribe(self._workflow)
        self._ctx.events.subscribe(feedback)
        self._closed = False

    @classmethod
    def from_config(cls, config: MemoryConfig | None = None) -> SelfLearningMemory:
        """Storage, cache and embedder from config through entry points, opened lazily.

        Errors in the configuration of the plugins (unknown names) are raised here; the
        backends themselves open on first use or ``warm()``.
        """
        config = config or MemoryConfig.load()
        storage_factory_for_url(config.database_url, config.storage_backend)
        if cache_name(config) != "none":
            load_cache_factory(cache_name(config))
        return cls(config=config)

    # -- backends ----------------------------------------------------------------------
    @property
    def storage(self) -> StorageBackend:
        """The durable backend (opened on first use). Operators may call its extra
        methods (``integrity_check``, ``vacuum``, ``backup``, ``sync``) via getattr."""
        return self._backends.storage

    @property
    def cache(self) -> CacheBackend:
        return self._backends.cache

    @property
    def embedder(self) -> EmbeddingProvider | None:
        """The embedding provider, or ``None``: retrieval is then lexical + context only."""
        return self._backends.embedder

    def warm(self) -> None:
        """Open storage and cache and load the embedding model now (servers call this in
        the background after the handshake); otherwise everything opens on first use."""
        self._backends.warm()

    # -- episodes ----------------------------------------------------------------------
    def start_episode(
        self,
        task_description: str,
        context: TaskContext | dict[str, Any] | None = None,
        task_type: TaskType | str = TaskType.OTHER,
        *,
        metadata: dict[str, Any] | None = None,
        tenant: str | None = None,
    ) -> UUID:
        """Record the start of a task; returns the new episode's id."""
        return self._episodes.start_episode(task_description, context, task_type, metadata, tenant)

    def log_step(
        self,
        episode_id: UUID | str,
        step: ExecutionStep | dict[str, Any],
        *,
        tenant: str | None = None,
    ) -> int:
        """Append one step to an in-progress episode (durable when this returns); returns
        its number. A dict step without ``step_number`` gets the next one: one past the
        highest number stored, read and written in one transaction, so servers in several
        processes appending to one episode never take the same number."""
        return self._episodes.append(episode_id, [step], tenant, "log_step")[0]

    def log_steps(
        self,
        episode_id: UUID | str,
        steps: Sequence[ExecutionStep | dict[str, Any]],
        *,
        tenant: str | None = None,
    ) -> list[int]:
        """Append many steps in one transaction: all of them or none. Dict steps without
        ``step_number`` are numbered as in ``log_step``; returns the numbers, in order."""
        return self._episodes.append(episode_id, steps, tenant, "log_steps")

    def complete_episode(
        self,
        episode_id: UUID | str,
        outcome: TaskOutcome | dict[str, Any],
        *,
        tenant: str | None = None,
    ) -> Episode:
        """Finish an episode: reward, reflection, patterns, heuristics, embeddings.

        The episode is durable, and lexically searchable, before this returns. In
        ``inline`` extraction mode its patterns are written in the same transaction; in
        ``queue`` mode a worker finishes them, and pending work resumes after a crash.
        Its vectors are written by the embedding worker a moment later (``flush()`` waits
        for them), or in the same transaction with ``embedding_mode="inline"``.
        """
        return self._episodes.complete_episode(episode_id, outcome, tenant)

    def update_episode(
        self,
        episode_id: UUID | str,
        *,
        outcome: TaskOutcome | dict[str, Any] | None = None,
        notes: Sequence[str] | None = None,
        lessons: Sequence[str] | None = None,
        tenant: str | None = None,
    ) -> Episode:
        """Correct a completed episode's outcome and/or add notes or lessons learnt later;
        its reward, reflection and patterns are recomputed and the change is audited
        (``memory_core._updates``)."""
        return update_episode(self, episode_id, outcome, notes, lessons, tenant)

    def record_episode(
        self,
        task_description: str,
        steps: Sequence[ExecutionStep | dict[str, Any]],
        outcome: TaskOutcome | dict[str, Any],
        context: TaskContext | dict[str, Any] | None = None,
        task_type: TaskType | str = TaskType.OTHER,
        *,
        metadata: dict[str, Any] | None = None,
        tenant: str | None = None,
    ) -> Episode:
        """Store a finished task in one call: ``start_episode``, ``log_steps`` and
        ``complete_episode`` at once, and all or nothing.

        Steps without ``step_number`` are numbered in order after the ones before them.
        Every argument is checked before anything is written (errors name the field and
        the limit; at most ``limits.max_steps_per_call`` steps); returns the completed
        episode with its reward, reflection and patterns.
        """
        return self._episodes.record_episode(
            task_description, context, task_type, steps, outcome, metadata, tenant
        )

    def flush(self) -> None:
        """Wait until queued background work is done: every episode acknowledged so far
        has its patterns and its vectors (semantically searchable), and vectors a crash
        or a model change left missing are written."""
        self._ctx.worker.flush()
        self._ctx.embeddings.flush()

    @property
    def queue_depth(self) -> int:
        """Episodes waiting for background extraction or for their vectors."""
        return self._ctx.worker.queue_depth + self._ctx.embeddings.depth

    def get_episode(self, episode_id: UUID | str, *, tenant: str | None = None) -> Episode:
        """The full episode. Completed episodes are served from the cache when hot."""
        return self._episodes.get_episode(episode_id, tenant)

    def get_summary(self, episode_id: UUID | str, *, tenant: str | None = None) -> EpisodeSummary:
        """The episode without its steps (cheap: one row), e.g. its ``step_count``."""
        return self._episodes.get_summary(episode_id, tenant)

    def list_episodes(
        self,
        filters: EpisodeFilter | dict[str, Any] | None = None,
        limit: int = 50,
        cursor: str | None = None,
        *,
        tenant: str | None = None,
    ) -> EpisodePage:
        return self._episodes.list_episodes(filters, limit, cursor, tenant)

    def count_episodes(
        self, filters: EpisodeFilter | dict[str, Any] | None = None, *, tenant: str | None = None
    ) -> int:
        return self._episodes.count_episodes(filters, tenant)

    def delete_episode(self, episode_id: UUID | str, *, tenant: str | None = None) -> bool:
        """Erase an episode everywhere, physically (storage, indexes, patterns, cache;
        see ``_deletion``)."""
        return bool(self._delete_episode(episode_id, tenant).episode_ids)

    def _delete_episode(self, episode_id: UUID | str, tenant: str | None) -> ErasureReport:
        return self._episodes.delete_episode(episode_id, tenant, self)

    def export_episodes(self, *, tenant: str | None = None, batch: int = 200) -> Iterator[Episode]:
        """Every episode of the tenant, full, newest first (streaming, in pages)."""
        return self._episodes.export_episodes(tenant, batch)

    def import_episode(self, episode: Episode | dict[str, Any] | str) -> bool:
        """Store an exported episode as is, into ``episode.tenant``; False if it exists.

        Its vectors are recomputed with the configured model; its patterns are merged as
        if the episode had just completed, so importing twice changes nothing.
        """
        return self._episodes.import_episode(episode)

    def import_episodes(
        self,
        episodes: Iterable[Episode | dict[str, Any] | str],
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        progress: Callable[[ImportReport], None] | None = None,
    ) -> ImportReport:
        """Store many exported episodes (``Episode``, dict or JSON, as
        ``export_episodes`` yields), ``batch_size`` per transaction; idempotent like
        ``import_episode`` (an id already stored, or repeated, counts as a duplicate).

        Each batch is one transaction with its vectors (one embedder call) and its
        patterns merged once; ``progress(report)`` runs after each batch is committed, so
        everything a reported batch imported survives a crash. An input that does not
        parse or is refused is skipped and listed in ``report.problems`` with its index
        in ``episodes`` and the field; nothing of it is stored. Stable API: the whole-
        memory import (patterns, relationships, checkpoints) builds on it.
        """
        return bulk_import(
            self._ctx, self.import_episode, episodes, batch_size=batch_size, progress=progress
        )

    def export_memory(self, *, tenant: str | None = None) -> Iterator[str]:
        """The tenant's whole memory as versioned JSON Lines, line by line: a header, its
        episodes, patterns (with observed and applied counts), heuristics, and records
        (tags, relationships, checkpoints and hand-off packs, recommendation sessions and
        feedback). Deterministic: the same memory gives the same bytes (``_transfer``)."""
        from memory_core._transfer import export_lines

        self._ctx.guard.audit("export_memory", self._tenant(tenant))  # security: bulk read
        return export_lines(self, tenant)

    def import_memory(
        self, lines: Iterable[str], *, as_tenant: str | None = None
    ) -> tuple[dict[str, int], ImportReport]:
        """Store an ``export_memory`` file (or a version 1 episodes-only one): every line
        is validated first; the patterns and heuristics then stand exactly as exported,
        so a memory restored into an empty store ranks and exports as before. Returns
        the counts stored and the episodes' ``ImportReport``."""
        from memory_core._transfer import import_lines

        return import_lines(self, lines, as_tenant)

    # -- retrieval ---------------------------------------------------------------------
    def retrieve_relevant_context(
        self,
        /,
        task_description: str,
        context: TaskContext | dict[str, Any] | None = None,
        limit: int = 5,
        *,
        tenant: str | None = None,
        max_steps_per_episode: int = 3,
        **filters: Unpack[EpisodeFilterArgs],
    ) -> list[RetrievedEpisode]:
        """Past episodes most relevant to a task, best first, with score components and
        their most relevant steps. ``filters``: any ``EpisodeFilter`` field (domain,
        task_type, outcome, status, language, framework, tags, since, until)."""
        return self._retriever.retrieve_relevant_context(
            task_description, context, limit, tenant, max_steps_per_episode, filters
        )

    def retrieve_relevant_patterns(
        self,
        task_description: str,
        context: TaskContext | dict[str, Any] | None = None,
        limit: int = 5,
        *,
        tenant: str | None = None,
        for_episode: UUID | str | None = None,
    ) -> list[RetrievedPattern]:
        """Patterns most likely to help with a task, best first.

        With ``for_episode``, the patterns returned are remembered for that episode and
        credited or debited automatically when it completes.
        """
        return self._retriever.retrieve_relevant_patterns(
            task_description, context, limit, tenant, for_episode
        )

    def query(
        self,
        /,
        task_description: str,
        context: TaskContext | dict[str, Any] | None = None,
        limit: int = 5,
        *,
        tenant: str | None = None,
        for_episode: UUID | str | None = None,
        **filters: Unpack[EpisodeFilterArgs],
    ) -> QueryResult:
        """Everything an agent wants before a task: episodes, patterns and heuristics.

        One retrieval serves both lists: the patterns are ranked by the evidence of the
        episodes scored for the episode list (the same filters apply to both).
        """
        return self._retriever.query(task_description, context, limit, tenant, for_episode, filters)

    # -- patterns ----------------------------------------------------------------------
    def record_pattern_outcome(
        self,
        pattern_id: UUID | str,
        applied_in_episode: UUID | str,
        success: bool,
        *,
        tenant: str | None = None,
    ) -> Pattern:
        """Feedback: a retrieved pattern was applied in an episode and helped or not."""
        return self._patterns.record_pattern_outcome(
            pattern_id, applied_in_episode, success, tenant
        )

    def get_pattern(self, pattern_id: UUID | str, *, tenant: str | None = None) -> Pattern:
        return self._patterns.get_pattern(pattern_id, tenant)

    def list_patterns(
        self,
        filters: PatternFilter | dict[str, Any] | None = None,
        limit: int = 50,
        *,
        tenant: str | None = None,
    ) -> list[Pattern]:
        return self._patterns.list_patterns(filters, limit, tenant)

    def analyze_patterns(
        self,
        filters: PatternFilter | dict[str, Any] | None = None,
        limit: int = 20,
        *,
        tenant: str | None = None,
    ) -> list[PatternAnalysis]:
        """Patterns with success rate, confidence, applied effectiveness and its trend."""
        return self._patterns.analyze_patterns(filters, limit, tenant)

    def list_heuristics(
        self, limit: int = 20, *, tenant: str | None = None, min_confidence: float = 0.0
    ) -> list[Heuristic]:
        return self._patterns.list_heuristics(limit, tenant, min_confidence)

    # -- operations --------------------------------------------------------------------
    def health(self) -> HealthReport:
        """Status of storage, cache and embeddings; never raises."""
        return self._operations.health()

    def metrics(self, *, tenant: str | None = None) -> MetricsSnapshot:
        return self._operations.metrics(tenant)

    def reembed(
        self,
        *,
        tenant: str | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> int:
        """Re-embed every completed episode with the configured model; returns how many.

        Vectors of other models are dropped at the end, so retrieval stays consistent.
        """
        return self._operations.reembed(tenant, progress)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._ctx.worker.close()
        self._ctx.embeddings.close()  # writes the vectors of every acknowledged episode
        self._backends.close()

    def __enter__(self) -> SelfLearningMemory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- workflow: tags --------------------------------------------------------------------
    def list_tags(self, episode_id: UUID | str, *, tenant: str | None = None) -> list[str]:
        """The episode's tags, in the order they were added."""
        return self._workflow.tags.list_tags(episode_id, tenant)

    def add_tags(
        self,
        episode_id: UUID | str,
        tags: Sequence[str],
        *,
        tenant: str | None = None,
    ) -> list[str]:
        """Add tags (already present ones are kept once); returns the episode's tags."""
        return self._workflow.tags.add_tags(episode_id, tags, tenant)

    def remove_tags(
        self,
        episode_id: UUID | str,
        tags: Sequence[str],
        *,
        tenant: str | None = None,
    ) -> list[str]:
        """Remove tags (absent ones are ignored); returns the episode's tags."""
        return self._workflow.tags.remove_tags(episode_id, tags, tenant)

    def set_tags(
        self,
        episode_id: UUID | str,
        tags: Sequence[str],
        *,
        tenant: str | None = None,
    ) -> list[str]:
        """Replace the episode's tags; returns them."""
        return self._workflow.tags.set_tags(episode_id, tags, tenant)

    def search_episodes_by_tags(
        self,
        tags: Sequence[str],
        match: TagMatch = "any",
        limit: int = 50,
        cursor: str | None = None,
        *,
        filters: EpisodeFilter | dict[str, Any] | None = None,
        tenant: str | None = None,
    ) -> EpisodePage:
        """Episodes carrying any (or all) of the tags, newest first, paged by ``cursor``.

        ``filters`` narrows further (domain, status, since, ...). ``all`` is one storage
        query; ``any`` merges one query per tag, so its cursor is its own.
        """
        return self._workflow.tags.search_episodes_by_tags(
            tags, match, limit, cursor, filters, tenant
        )

    def tag_statistics(self, limit: int = 100, *, tenant: str | None = None) -> list[TagStat]:
        """Tags by how many episodes carry them (most first), with when each was last used.

        Counts come from a scan of the tenant's episode summaries (pages of 1,000), so
        they are exact whatever wrote the tags; the cost grows with the tenant's size.
        """
        return self._workflow.tags.tag_statistics(limit, tenant)

    # -- workflow: relationships -----------------------------------------------------------
    def add_relationship(
        self,
        source_id: UUID | str,
        target_id: UUID | str,
        type: RelationshipType | str,
        reason: str = "",
        priority: int = 5,
        *,
        tenant: str | None = None,
    ) -> Relationship:
        """Link ``source <type> target``; adding the same link again updates it.

        Raises ``EpisodeNotFoundError`` if either episode is missing in the tenant,
        ``InvalidInputError`` for a self-link, ``RelationshipCycleError`` if the link
        would close a cycle of an acyclic type.
        """
        return self._workflow.relationships.add_relationship(
            source_id, target_id, type, reason, priority, tenant
        )

    def relationship_would_cycle(
        self,
        source_id: UUID | str,
        target_id: UUID | str,
        type: RelationshipType | str,
        *,
        tenant: str | None = None,
    ) -> list[UUID] | None:
        """Dry run of ``add_relationship``: the cycle ``source <type> target`` would close
        (first id repeated at the end), or ``None``. Writes nothing; the same checks
        (self-link, both episodes in the tenant) apply."""
        return self._workflow.relationships.relationship_would_cycle(
            source_id, target_id, type, tenant
        )

    def get_relationship(self, relationship_id: str, *, tenant: str | None = None) -> Relationship:
        return self._workflow.relationships.get_relationship(relationship_id, tenant)

    def remove_relationship(self, relationship_id: str, *, tenant: str | None = None) -> bool:
        """Delete a link by id (``Relationship.make_id``); returns whether it existed."""
        return self._workflow.relationships.remove_relationship(relationship_id, tenant)

    def list_relationships(
        self,
        episode_id: UUID | str,
        direction: Direction = "both",
        types: Sequence[RelationshipType | str] | None = None,
        *,
        tenant: str | None = None,
    ) -> list[Relationship]:
        """The episode's links: ``out`` (it is the source), ``in`` (the target), or both;
        by priority (highest first), then age."""
        return self._workflow.relationships.list_relationships(episode_id, direction, types, tenant)

    def find_related_episodes(
        self,
        episode_id: UUID | str,
        max_depth: int = 2,
        direction: Direction = "both",
        types: Sequence[RelationshipType | str] | None = None,
        limit: int = 100,
        *,
        tenant: str | None = None,
    ) -> list[RelatedEpisode]:
        """Episodes reachable by following links, nearest first (breadth first)."""
        return self._workflow.relationships.find_related_episodes(
            episode_id, max_depth, direction, types, limit, tenant
        )

    def relationship_graph(
        self,
        episode_id: UUID | str | None = None,
        max_depth: int = 3,
        types: Sequence[RelationshipType | str] | None = None,
        *,
        tenant: str | None = None,
    ) -> DependencyGraph:
        """The links around an episode (within ``max_depth``, both directions), or of the
        whole tenant without ``episode_id``. ``.to_dot()`` renders it for Graphviz."""
        return self._workflow.relationships.relationship_graph(episode_id, max_depth, types, tenant)

    def relationship_graph_dot(
        self,
        episode_id: UUID | str | None = None,
        max_depth: int = 3,
        types: Sequence[RelationshipType | str] | None = None,
        *,
        tenant: str | None = None,
    ) -> str:
        """``relationship_graph`` as Graphviz DOT text."""
        return self._workflow.relationships.relationship_graph_dot(
            episode_id, max_depth, types, tenant
        )

    def check_relationship_cycles(self, *, tenant: str | None = None) -> CycleReport:
        """Cycles among the acyclic types, hierarchy and precedence checked apart."""
        return self._workflow.relationships.check_relationship_cycles(tenant)

    def relationship_topological_order(
        self,
        types: Sequence[RelationshipType | str] | None = None,
        *,
        tenant: str | None = None,
    ) -> TopologicalOrder:
        """Linked episodes in an order that respects every link of ``types`` (default:
        depends_on, follows, blocks): what must come first comes first.

        Raises ``RelationshipCycleError`` (field ``types``) if those links form a cycle.
        """
        return self._workflow.relationships.relationship_topological_order(types, tenant)

    # -- workflow: checkpoints and hand-off ------------------------------------------------
    def checkpoint_episode(
        self,
        episode_id: UUID | str,
        reason: str = "",
        note: str = "",
        *,
        tenant: str | None = None,
    ) -> Checkpoint:
        """Snapshot an in-progress episode for hand-off; durable when this returns.

        Raises ``EpisodeNotFoundError`` or ``EpisodeStateError`` (already completed).
        """
        return self._workflow.checkpoints.checkpoint_episode(episode_id, reason, note, tenant)

    def list_checkpoints(
        self, episode_id: UUID | str, *, tenant: str | None = None
    ) -> list[Checkpoint]:
        """The episode's checkpoints, oldest first."""
        return self._workflow.checkpoints.list_checkpoints(episode_id, tenant)

    def get_handoff_pack(self, checkpoint_id: str, *, tenant: str | None = None) -> HandoffPack:
        """The pack stored with a checkpoint. Raises ``CheckpointNotFoundError`` (also
        once its episode was deleted: deleting an episode removes its checkpoints)."""
        return self._workflow.checkpoints.get_handoff_pack(checkpoint_id, tenant)

    def resume_from_handoff(
        self,
        pack: HandoffPack | dict[str, Any] | str,
        *,
        tenant: str | None = None,
    ) -> ResumeResult:
        """Take over from a pack: log the next step as ``next_step_number``.

        The same episode when it is still in progress (steps logged after the checkpoint
        are returned so the new agent sees them); otherwise a new episode with the same
        goal and context, linked ``new follows old``.

        Only a pack stored by ``checkpoint_episode`` in this tenant is accepted, exactly
        as ``get_handoff_pack`` returns it: a hand-made or edited pack would otherwise
        start episodes and links from evidence nobody recorded. A pack whose checkpoint
        is gone (deleted with its episode) is refused too.
        """
        return self._workflow.checkpoints.resume_from_handoff(pack, tenant)

    # -- workflow: playbooks ---------------------------------------------------------------
    def recommend_playbook(
        self,
        task_description: str,
        context: TaskContext | dict[str, Any] | None = None,
        max_steps: int = 7,
        *,
        for_episode: UUID | str | None = None,
        tenant: str | None = None,
    ) -> Playbook:
        """Ordered next steps for a task, each with its evidence and a confidence.

        With ``for_episode`` the playbook's patterns are stored as a recommendation
        session for that episode (see ``record_recommendation_feedback``).
        """
        return self._workflow.playbooks.recommend_playbook(
            task_description, context, max_steps, for_episode, tenant
        )

    def explain_pattern(
        self, pattern_id: UUID | str, *, tenant: str | None = None
    ) -> PatternExplanation:
        """When a pattern applies, how often it worked (observed and when applied) and
        from which episodes it was learned, in plain words."""
        return self._workflow.playbooks.explain_pattern(pattern_id, tenant)

    # -- workflow: recommendation feedback -------------------------------------------------
    def record_recommendation_feedback(
        self,
        episode_id: UUID | str,
        applied_pattern_ids: Sequence[UUID | str],
        success: bool | None = None,
        rating: int | None = None,
        *,
        tenant: str | None = None,
    ) -> RecommendationFeedback:
        """Which recommended patterns the agent applied in an episode, and how it went.

        ``success`` defaults to the episode's outcome (success ⇒ True), taken now if it is
        completed, else at completion. ``rating`` (1..5) is the agent's opinion of the
        recommendations. Calling again replaces the earlier feedback. Durable on return.
        """
        return self._workflow.feedback.record_recommendation_feedback(
            episode_id, applied_pattern_ids, success, rating, tenant
        )

    def list_recommendation_sessions(
        self, episode_id: UUID | str, *, tenant: str | None = None
    ) -> list[RecommendationSession]:
        """What was recommended for an episode, oldest first."""
        return self._workflow.feedback.list_recommendation_sessions(episode_id, tenant)

    def get_recommendation_stats(
        self, limit: int = 20, *, tenant: str | None = None
    ) -> RecommendationStats:
        """Adoption (applied / recommended) and success when applied, overall and per
        pattern; patterns ordered by the Wilson lower bound of success when applied."""
        return self._workflow.feedback.get_recommendation_stats(limit, tenant)

    # -- security ----------------------------------------------------------------------
    @property
    def audit_log(self) -> AuditLog:
        """The ``AuditLog`` over this memory's storage (``memory_core.security``)."""
        return self._ctx.guard.audit_log

    def audit(
        self,
        operation: str,
        principal: str | None = None,
        target_ids: Sequence[object] = (),
        outcome: str = "ok",
        *,
        tenant: str | None = None,
    ) -> None:
        """Append an audit record (for front ends: tool calls, CLI commands). Never pass
        payloads or secrets: only ids. ``principal`` defaults to ``acting_as``'s."""
        self._ctx.guard.append(self._tenant(tenant), operation, principal, target_ids, outcome)

    # -- what ``security`` and ``_transfer`` use ----------------------------------------
    @property
    def _lock(self) -> AbstractContextManager[Any]:
        return self._ctx.lock

    def _tenant(self, tenant: str | None) -> str:
        return self._ctx.tenant(tenant)

    def _audit(
        self, operation: str, tenant: str, target_ids: Sequence[object] = (), outcome: str = "ok"
    ) -> None:
        """Audit a library operation that already happened: a failure is logged, not raised."""
        self._ctx.guard.audit(operation, tenant, target_ids, outcome)


__all__ = ["SelfLearningMemory"]
