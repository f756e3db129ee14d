"""``SelfLearningMemory``: the learning loop (start → log → complete → retrieve).

A thin façade: each concept lives in its own service and this class wires them and keeps
the public signatures in one place.

=======================  ============================================================
``_backends.Backends``   opening storage, cache and embedder lazily, once
``_episodes``            the episode lifecycle: start, log, complete, read, delete, move
``_retriever``           episodes and patterns for a task (``retrieve_*``, ``query``)
``_patterns``            pattern reads, applied outcomes, credit from retrieval
``_extraction_worker``   patterns and vectors, inline or on a background thread
``_stamped_cache``       generation-stamped cache reads and write-through
``_guard``               audit, sensitivity and encryption-required checks
``_operations``          health, metrics, reembed
``_events``              lifecycle events that features (workflow) listen to
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
from memory_core._events import LifecycleListener, ShownSource
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
from memory_core._patterns import PatternService, RetrievalFeedback, ShownPatterns
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
from memory_core.workflow import WorkflowMixin

if TYPE_CHECKING:
    from memory_core.security._audit import AuditLog


class SelfLearningMemory(WorkflowMixin):
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
        # Workflow first: explicit recommendation feedback replaces the retrieval credit.
        self._ctx.events.subscribe(_WorkflowHooks(self))
        self._ctx.events.subscribe(feedback)
        self._retrieved_for: ShownPatterns = feedback.shown
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

        The episode is durable before this returns. In ``inline`` extraction mode its
        patterns and vectors are written in the same transaction; in ``queue`` mode a
        worker finishes them, and pending work resumes after a crash.
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
        """Wait until queued background extractions are done."""
        self._ctx.worker.flush()

    @property
    def queue_depth(self) -> int:
        return self._ctx.worker.queue_depth

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
        self._backends.close()

    def __enter__(self) -> SelfLearningMemory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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

    # -- the narrow interface of ``workflow`` and ``security`` (``MemoryHost``) ---------
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

    def _cache_safe(self, fn: Callable[[], object]) -> None:
        self._ctx.cache.safe(fn)

    def _record_usage(
        self, tenant: str, pattern_id: UUID, episode_id: UUID, success: bool
    ) -> Pattern:
        return self._patterns.record_usage(tenant, pattern_id, episode_id, success)


class _WorkflowHooks(LifecycleListener):
    """The workflow features' reactions to lifecycle events (recommendation sessions)."""

    def __init__(self, memory: SelfLearningMemory) -> None:
        self._memory = memory

    def episode_completed(self, tenant: str, episode: Episode) -> None:
        self._memory._close_recommendations(tenant, episode)

    def failed_applications(self, tenant: str, episode: Episode) -> list[list[str]]:
        # Patterns of stored sessions join the shown set before extraction (as they do
        # at completion), so the credit's failed applications include playbook steps.
        self._memory._load_recommendations(tenant, episode.id)
        return []

    def patterns_shown(
        self,
        tenant: str,
        episode_id: UUID,
        pattern_ids: Sequence[UUID],
        source: ShownSource,
        task_description: str,
    ) -> None:
        self._memory._record_recommendation(
            tenant, episode_id, pattern_ids, source, task_description
        )


__all__ = ["SelfLearningMemory"]
