"""``SelfLearningMemory``: the learning loop (start → log → complete → retrieve)."""

from __future__ import annotations

import hashlib
import json
import logging
import queue
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal
from uuid import UUID

from memory_core._cache_sealing import CacheSealer
from memory_core._config import MemoryConfig
from memory_core._deletion import delete_everywhere
from memory_core._errors import (
    EmbeddingError,
    EpisodeNotFoundError,
    EpisodeStateError,
    InvalidInputError,
    MemoryCoreError,
    PatternNotFoundError,
)
from memory_core._logging import event
from memory_core._metrics import Metrics
from memory_core._models import (
    SCHEMA_VERSION,
    EmbeddingRecord,
    Episode,
    EpisodeFilter,
    EpisodePage,
    EpisodeSummary,
    ExecutionStep,
    Extraction,
    Heuristic,
    OutcomeType,
    Pattern,
    PatternFilter,
    TaskContext,
    TaskOutcome,
    TaskType,
    utcnow,
)
from memory_core._plugins import CACHE_GROUP, load_plugin, storage_factory_for_url
from memory_core._protocols import CacheBackend, EmbeddingProvider, StorageBackend
from memory_core._results import (
    ComponentHealth,
    HealthReport,
    MetricsSnapshot,
    PatternAnalysis,
    QueryResult,
    RetrievedEpisode,
    RetrievedPattern,
)
from memory_core._validation import (
    check_context,
    check_limit,
    check_outcome,
    check_steps,
    check_text,
    coerce,
)
from memory_core._version import __version__
from memory_core.extraction import derive_heuristics, extract_patterns
from memory_core.flags import effective_flags, enabled  # deploy: feature flags
from memory_core.reflection import reflect
from memory_core.retrieval import RankingWeights, rank_episodes, rank_patterns
from memory_core.reward import compute_reward
from memory_core.workflow import WorkflowMixin

log = logging.getLogger("memory_core")

_EMBED_TEXT_CHARS = 1_000
_TENANT = re.compile(r"[A-Za-z0-9_.-]{1,128}")
_FILTER_KEYS = set(EpisodeFilter.model_fields)


def _embed_items(episode: Episode) -> list[tuple[int, str]]:
    """What gets a vector: the task text (item 0) and every step with text (item n)."""
    items = [(0, episode.task_description[:_EMBED_TEXT_CHARS])]
    for step in episode.steps:
        text = step.search_text()
        if text.strip():
            items.append((step.step_number, text[:_EMBED_TEXT_CHARS]))
    return items


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
        self.metrics_registry = Metrics()
        self._lock = threading.RLock()
        self._open_lock = threading.Lock()
        self._storage = storage if storage is None else _secured(storage, config)  # security
        self._cache = cache
        self._embedder: EmbeddingProvider | None = None
        self._embedder_ready = embedder != "auto"
        if embedder != "auto":
            self._embedder = embedder
        self._embedder_error: str | None = None
        self._retrieved_for: dict[tuple[str, UUID], set[UUID]] = {}
        self._queue: queue.Queue[tuple[str, UUID] | None] | None = None
        self._worker: threading.Thread | None = None
        self._closed = False
        self._resumed = False
        self._generation_seen: dict[str, tuple[float, int]] = {}
        self._audit_log: Any = None  # security: built on first use
        self._sealer = CacheSealer(lambda: self.storage, self._generation, self._lock)

    @classmethod
    def from_config(cls, config: MemoryConfig | None = None) -> SelfLearningMemory:
        """Storage, cache and embedder from config through entry points, opened lazily.

        Errors in the configuration of the plugins (unknown names) are raised here; the
        backends themselves open on first use or ``warm()``.
        """
        config = config or MemoryConfig.load()
        storage_factory_for_url(config.database_url, config.storage_backend)
        if _cache_name(config) != "none":
            load_plugin(CACHE_GROUP, _cache_name(config))
        return cls(config=config)

    # -- backends ----------------------------------------------------------------------
    @property
    def storage(self) -> StorageBackend:
        """The durable backend (opened on first use). Operators may call its extra
        methods (``integrity_check``, ``vacuum``, ``backup``, ``sync``) via getattr."""
        if self._storage is None:
            with self._open_lock:
                if self._storage is None:
                    self._storage = self._open_storage()
                    event("storage opened", backend=getattr(self._storage, "name", "?"))
        if not self._resumed:
            self._resumed = True
            self._resume_pending()
        return self._storage

    def _open_storage(self) -> StorageBackend:
        config = self.config
        _, factory = storage_factory_for_url(config.database_url, config.storage_backend)
        if "{tenant}" in config.database_url:
            from memory_core.storage.sharded import ShardedStorage

            return _secured(  # security: encryption wrapper when keys are configured
                ShardedStorage(
                    config.database_url,
                    lambda url: factory.from_url(url, config),
                    idle_seconds=config.shard_idle_seconds,
                ),
                config,
            )
        return _secured(factory.from_url(config.database_url, config), config)  # security

    @property
    def cache(self) -> CacheBackend:
        if self._cache is None:
            with self._open_lock:
                if self._cache is None:
                    self._cache = load_plugin(CACHE_GROUP, _cache_name(self.config)).from_config(
                        self.config
                    )
        return self._cache

    @property
    def embedder(self) -> EmbeddingProvider | None:
        """The embedding provider, or ``None``: retrieval is then lexical + context only."""
        if not self._embedder_ready:
            with self._open_lock:
                if not self._embedder_ready:
                    from memory_core.embeddings import provider_from_config

                    try:
                        self._embedder = provider_from_config(self.config)
                    except EmbeddingError as exc:
                        self._embedder_error = str(exc)
                        log.warning("embeddings disabled, lexical retrieval only: %s", exc)
                    self._embedder_ready = True
        return self._embedder

    def warm(self) -> None:
        """Open storage and cache and load the embedding model now (servers call this in
        the background after the handshake); otherwise everything opens on first use."""
        _ = self.storage, self.cache
        warm_storage = getattr(self.storage, "warm", None)  # optional: in-process indexes
        if callable(warm_storage):
            try:
                warm_storage()
            except MemoryCoreError:
                log.exception("could not warm the storage indexes; they load on first use")
        emb = self.embedder
        if emb is not None:
            try:
                emb.warm()
            except EmbeddingError as exc:
                self._disable_embedder(exc)

    def _disable_embedder(self, exc: Exception) -> None:
        self._embedder_error = str(exc)
        self._embedder = None
        log.warning("embeddings failed, lexical retrieval only: %s", exc)

    def _tenant(self, tenant: str | None) -> str:
        if tenant is None:
            return self.config.tenant
        if not isinstance(tenant, str) or not _TENANT.fullmatch(tenant):
            raise InvalidInputError(
                "tenant must be 1-128 letters, digits, '-', '_' or '.'", field="tenant", limit=128
            )
        return tenant

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
        with self.metrics_registry.timed("start_episode"):
            limits = self.limits
            check_text(
                task_description,
                "task_description",
                limits.max_task_description_chars,
                required=True,
            )
            ctx = coerce(TaskContext, context or {}, "context")
            check_context(ctx, limits)
            ttype = _task_type(task_type)
            meta = dict(metadata or {})
            from memory_core._validation import check_json

            check_json(meta, "metadata", limits.max_metadata_bytes, limits.max_json_depth)
            episode = Episode(
                tenant=self._tenant(tenant),
                task_description=task_description,
                task_type=ttype,
                context=ctx,
                metadata=meta,
            )
            self._require_encryption(meta)  # security: never store a sensitive one in clear
            with self._lock:
                self.storage.create_episode(episode)
            self._audit("start_episode", episode.tenant, [episode.id])  # security
            event(
                "episode started", logging.DEBUG, episode_id=str(episode.id), task_type=ttype.value
            )
            return episode.id

    def log_step(
        self,
        episode_id: UUID | str,
        step: ExecutionStep | dict[str, Any],
        *,
        tenant: str | None = None,
    ) -> None:
        """Append one step to an in-progress episode (durable when this returns)."""
        self._append(episode_id, [step], tenant, "log_step")

    def log_steps(
        self,
        episode_id: UUID | str,
        steps: Sequence[ExecutionStep | dict[str, Any]],
        *,
        tenant: str | None = None,
    ) -> None:
        """Append many steps in one transaction: all of them or none."""
        self._append(episode_id, steps, tenant, "log_steps")

    def _append(
        self,
        episode_id: UUID | str,
        steps: Sequence[ExecutionStep | dict[str, Any]],
        tenant: str | None,
        op: str,
    ) -> None:
        with self.metrics_registry.timed(op):
            eid = _uuid(episode_id, "episode_id")
            parsed = [coerce(ExecutionStep, s, f"steps[{i}]") for i, s in enumerate(steps)]
            check_steps(parsed, self.limits, existing=0)
            t = self._tenant(tenant)
            with self._lock:
                count = self.storage.append_steps(t, eid, parsed)
            if self.config.audit_steps:
                self._audit(op, t, [eid])  # security
            if count > self.limits.max_steps_per_episode:
                # The backend stored them; the per-episode bound is enforced on the next
                # call. Checking first would cost a read per step on the hot path.
                log.warning("episode %s exceeds %d steps", eid, self.limits.max_steps_per_episode)

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
        with self.metrics_registry.timed("complete_episode"):
            eid = _uuid(episode_id, "episode_id")
            out = coerce(TaskOutcome, outcome, "outcome")
            check_outcome(out, self.limits)
            t = self._tenant(tenant)
            with self._lock:
                episode = self.storage.get_episode(t, eid)
                if episode is None:
                    raise EpisodeNotFoundError(eid)
                if episode.is_complete:
                    raise EpisodeStateError(f"episode {eid} is already completed")
                if len(episode.steps) > self.limits.max_steps_per_episode:
                    raise InvalidInputError(
                        f"the episode has {len(episode.steps)} steps; the limit is "
                        f"{self.limits.max_steps_per_episode}",
                        field="steps",
                        limit=self.limits.max_steps_per_episode,
                    )
                now = utcnow()
                reward = compute_reward(episode, out, now)
                done = episode.model_copy(
                    update={
                        "outcome": out,
                        "reward": reward,
                        "reflection": reflect(episode, out, reward),
                        "completed_at": now,
                        "updated_at": now,
                        "version": episode.version + 1,
                    }
                )
                patterns = extract_patterns(done, out)
                done.pattern_ids = [p.id for p in patterns]
                if self.config.extraction_mode == "queue" and self._enqueue(t, eid):
                    self.storage.complete_episode(done, None)
                else:
                    extraction = self._extraction(done, patterns)
                    self.storage.complete_episode(done, extraction)
                    self._after_extraction(t, patterns)
                self._close_recommendations(t, done)  # workflow: explicit feedback first
                self._feedback_from_retrieval(t, done)
                self._cache_put_episode(done)
                self._invalidate_retrievals(t)
            self._audit("complete_episode", t, [eid])  # security
            event(
                "episode completed",
                episode_id=str(eid),
                outcome=out.type.value,
                reward=reward.total,
                steps=len(done.steps),
                patterns=len(patterns),
            )
            return done

    def _extraction(self, episode: Episode, patterns: list[Pattern]) -> Extraction:
        return Extraction(patterns=patterns, embeddings=self._embed_episode(episode))

    def _embed_episode(self, episode: Episode) -> list[EmbeddingRecord]:
        emb = self.embedder
        if emb is None or self._sensitive(episode.tenant, [episode.id]):
            return []  # security: sensitive text never goes to the embedder (no vectors)
        items = _embed_items(episode)
        try:
            vectors = emb.embed([text for _, text in items])
        except EmbeddingError as exc:
            log.warning("episode %s stored without vectors: %s", episode.id, exc)
            return []
        return [
            EmbeddingRecord(
                episode_id=episode.id, item=item, model_id=emb.model_id, vector=vectors[i].tolist()
            )
            for i, (item, _) in enumerate(items)
        ]

    def _after_extraction(self, tenant: str, patterns: list[Pattern]) -> None:
        """Heuristics from the merged statistics (a second, re-derivable write)."""
        if not patterns:
            return
        stored = self.storage.get_patterns(tenant, [p.id for p in patterns])
        heuristics = derive_heuristics(stored)
        if heuristics:
            self.storage.upsert_heuristics(tenant, heuristics)
        for p in stored:  # write-through: cheaper than a (durable) invalidation
            self._cache_store("pattern", tenant, str(p.id), p.model_dump_json().encode(), p.version)

    def _record_usage(
        self, tenant: str, pattern_id: UUID, episode_id: UUID, success: bool
    ) -> Pattern:
        """Store an application of a pattern and write the new statistics through to the
        cache (every pattern write goes through here or ``_after_extraction``)."""
        pattern = self.storage.record_pattern_usage(tenant, pattern_id, episode_id, success)
        self._cache_store(
            "pattern", tenant, str(pattern_id), pattern.model_dump_json().encode(), pattern.version
        )
        return pattern

    def _feedback_from_retrieval(self, tenant: str, episode: Episode) -> None:
        """Patterns retrieved for this episode learn from its outcome."""
        retrieved = self._retrieved_for.pop((tenant, episode.id), None)
        if not retrieved or episode.outcome is None:
            return
        success = episode.outcome.type is OutcomeType.SUCCESS
        for pid in retrieved:
            try:
                self._record_usage(tenant, pid, episode.id, success)
            except PatternNotFoundError:
                continue

    # -- extraction queue ----------------------------------------------------------------
    def _enqueue(self, tenant: str, episode_id: UUID) -> bool:
        """Queue background extraction; False when full (the caller does it inline)."""
        if self._queue is None:
            self._queue = queue.Queue(self.config.extraction_queue_size)
            self._worker = threading.Thread(
                target=self._work, name="memory-extraction", daemon=True
            )
            self._worker.start()
        try:
            self._queue.put_nowait((tenant, episode_id))
            return True
        except queue.Full:
            return False

    def _work(self) -> None:
        assert self._queue is not None
        while True:
            item = self._queue.get()
            if item is None:  # the stop sentinel from close()
                return
            try:
                self._finish_extraction(*item)
            except Exception:
                log.exception("background extraction failed for %s; it stays pending", item[1])
            finally:
                self._queue.task_done()

    def _finish_extraction(self, tenant: str, episode_id: UUID) -> None:
        with self._lock:
            episode = self.storage.get_episode(tenant, episode_id)
            if episode is None or episode.outcome is None:
                return
            patterns = extract_patterns(episode, episode.outcome)
            self.storage.apply_extraction(tenant, episode_id, self._extraction(episode, patterns))
            self._after_extraction(tenant, patterns)
            self._invalidate_retrievals(tenant)

    def _resume_pending(self) -> None:
        """Finish extractions that a crash interrupted (runs once, at first open)."""
        assert self._storage is not None
        try:
            pending = self._storage.pending_extractions(10_000)
        except MemoryCoreError:
            log.exception("could not list pending extractions")
            return
        for tenant, eid in pending:
            try:
                self._finish_extraction(tenant, eid)
            except MemoryCoreError:
                log.exception("could not resume extraction of %s", eid)
        if pending:
            event("resumed pending extractions", count=len(pending))

    def flush(self) -> None:
        """Wait until queued background extractions are done."""
        if self._queue is not None:
            self._queue.join()

    @property
    def queue_depth(self) -> int:
        return self._queue.qsize() if self._queue is not None else 0

    # -- reads -------------------------------------------------------------------------
    def get_episode(self, episode_id: UUID | str, *, tenant: str | None = None) -> Episode:
        """The full episode. Completed episodes are served from the cache when hot."""
        with self.metrics_registry.timed("get_episode"):
            eid = _uuid(episode_id, "episode_id")
            t = self._tenant(tenant)
            raw = self._cached("episode", t, str(eid))
            if raw is not None:
                try:
                    return Episode.model_validate_json(raw)
                except ValueError:
                    self._cache_safe(lambda: self.cache.delete("episode", t, str(eid)))
            with self._lock:
                episode = self.storage.get_episode(t, eid)
            if episode is None:
                raise EpisodeNotFoundError(eid)
            if episode.is_complete:
                self._cache_put_episode(episode)
            return episode

    def get_summary(self, episode_id: UUID | str, *, tenant: str | None = None) -> EpisodeSummary:
        """The episode without its steps (cheap: one row), e.g. its ``step_count``."""
        eid = _uuid(episode_id, "episode_id")
        t = self._tenant(tenant)
        with self._lock:
            found = self.storage.get_summaries(t, [eid])
        if not found:
            raise EpisodeNotFoundError(eid)
        return found[0]

    def list_episodes(
        self,
        filters: EpisodeFilter | dict[str, Any] | None = None,
        limit: int = 50,
        cursor: str | None = None,
        *,
        tenant: str | None = None,
    ) -> EpisodePage:
        with self.metrics_registry.timed("list_episodes"):
            f = coerce(EpisodeFilter, filters or {}, "filters")
            check_limit(limit, self.limits)
            with self._lock:
                return self.storage.list_episodes(self._tenant(tenant), f, limit, cursor)

    def count_episodes(
        self, filters: EpisodeFilter | dict[str, Any] | None = None, *, tenant: str | None = None
    ) -> int:
        f = coerce(EpisodeFilter, filters or {}, "filters")
        with self._lock:
            return self.storage.count_episodes(self._tenant(tenant), f)

    def delete_episode(self, episode_id: UUID | str, *, tenant: str | None = None) -> bool:
        """Erase an episode everywhere, physically (storage, indexes, patterns, cache;
        see ``_deletion``)."""
        return bool(self._delete_episode(episode_id, tenant).episode_ids)

    def _delete_episode(self, episode_id: UUID | str, tenant: str | None) -> Any:
        with self.metrics_registry.timed("delete_episode"):
            eid = _uuid(episode_id, "episode_id")
            t = self._tenant(tenant)
            report = delete_everywhere(self, t, eid)
            existed = bool(report.episode_ids)
            self._audit("delete_episode", t, [eid], "ok" if existed else "not_found")  # security
            event("episode deleted", episode_id=str(eid), existed=existed)
            return report

    def export_episodes(self, *, tenant: str | None = None, batch: int = 200) -> Iterator[Episode]:
        """Every episode of the tenant, full, newest first (streaming, in pages)."""
        t = self._tenant(tenant)
        self._audit("export_episodes", t)  # security: a bulk read
        cursor: str | None = None
        while True:
            with self._lock:
                page = self.storage.list_episodes(t, EpisodeFilter(), batch, cursor)
            for summary in page.items:
                with self._lock:
                    episode = self.storage.get_episode(t, summary.id)
                if episode is not None:
                    yield episode
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    def import_episode(self, episode: Episode | dict[str, Any] | str) -> bool:
        """Store an exported episode as is, into ``episode.tenant``; False if it exists.

        Its vectors are recomputed with the configured model; its patterns are merged as
        if the episode had just completed, so importing twice changes nothing.
        """
        ep = coerce(Episode, episode, "episode")
        self._require_encryption(ep.metadata)  # security
        self._audit("import_episode", self._tenant(ep.tenant), [ep.id])  # security
        with self._lock:
            if self.storage.get_episode(ep.tenant, ep.id) is not None:
                return False
            if ep.outcome is None:
                self.storage.create_episode(ep)
                return True
            # Completing bumps the row version by one, so start one below the exported
            # version: the stored episode then carries exactly the version it was exported
            # with (export → import → export is byte-identical).
            in_progress = ep.model_copy(
                update={
                    "outcome": None,
                    "reward": None,
                    "reflection": None,
                    "completed_at": None,
                    "pattern_ids": [],
                    "version": max(1, ep.version - 1),
                }
            )
            self.storage.create_episode(in_progress)
            patterns = extract_patterns(ep, ep.outcome)
            ep = ep.model_copy(update={"pattern_ids": [p.id for p in patterns]})
            self.storage.complete_episode(ep, self._extraction(ep, patterns))
            self._after_extraction(ep.tenant, patterns)
            self._invalidate_retrievals(ep.tenant)
            return True

    # -- retrieval ---------------------------------------------------------------------
    def retrieve_relevant_context(
        self,
        task_description: str,
        context: TaskContext | dict[str, Any] | None = None,
        limit: int = 5,
        *,
        tenant: str | None = None,
        max_steps_per_episode: int = 3,
        **filters: Any,
    ) -> list[RetrievedEpisode]:
        """Past episodes most relevant to a task, best first, with score components and
        their most relevant steps. ``filters``: any ``EpisodeFilter`` field (domain,
        task_type, outcome, status, language, framework, tags, since, until)."""
        with self.metrics_registry.timed("retrieve_relevant_context"):
            check_text(
                task_description, "task_description", self.limits.max_query_chars, required=True
            )
            check_limit(limit, self.limits)
            ctx = coerce(TaskContext, context, "context") if context is not None else None
            f = _filters(filters)
            t = self._tenant(tenant)
            key = self._retrieval_key(
                "ctx", t, task_description, ctx, f, limit, max_steps_per_episode
            )
            raw = self._cache_get("retrieval", t, key)
            if raw is not None:
                return [RetrievedEpisode.model_validate(x) for x in json.loads(raw)]
            with self._lock:
                results, _ = self._retrieve(
                    t, task_description, ctx, f, limit, max_steps_per_episode
                )
            payload = json.dumps([r.model_dump(mode="json") for r in results]).encode()
            if self._sensitive(t, [r.episode.id for r in results]):
                return results  # security: no plaintext of sensitive episodes in the cache
            self._cache_safe(
                lambda: self.cache.put(
                    "retrieval",
                    t,
                    key,
                    self._sealer.seal(t, payload),
                    ttl_seconds=self.config.retrieval_cache_ttl_seconds,
                )
            )
            return results

    def _retrieve(
        self,
        tenant: str,
        text: str,
        ctx: TaskContext | None,
        filters: EpisodeFilter,
        limit: int,
        max_steps: int,
        *,
        diversify: bool = True,
    ) -> tuple[list[RetrievedEpisode], dict[UUID, float]]:
        query_vector = None
        emb = self.embedder
        if emb is not None:
            try:
                query_vector = emb.embed([text])[0]
            except EmbeddingError as exc:
                self._disable_embedder(exc)
                emb = None
        return rank_episodes(
            self.storage,
            tenant,
            text,
            query_vector,
            emb.model_id if emb is not None else None,
            ctx,
            filters,
            limit,
            max_steps,
            self.weights,
            diversify=diversify and enabled(self.config, "mmr"),  # deploy: feature flag
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
        with self.metrics_registry.timed("retrieve_relevant_patterns"):
            check_text(
                task_description, "task_description", self.limits.max_query_chars, required=True
            )
            check_limit(limit, self.limits)
            ctx = coerce(TaskContext, context, "context") if context is not None else None
            t = self._tenant(tenant)
            with self._lock:
                ranked = self._patterns_for(t, task_description, ctx, limit)
            self._remember_shown(t, for_episode, ranked, task_description)
            return ranked

    def _remember_shown(
        self,
        tenant: str,
        for_episode: UUID | str | None,
        ranked: list[RetrievedPattern],
        task_description: str,
    ) -> None:
        """Patterns shown for an episode learn from its outcome when it completes."""
        if for_episode is None:
            return
        eid = _uuid(for_episode, "for_episode")
        self._retrieved_for.setdefault((tenant, eid), set()).update(r.pattern.id for r in ranked)
        self._record_recommendation(  # workflow: a durable recommendation session
            tenant, eid, [r.pattern.id for r in ranked], "patterns", task_description
        )

    def _patterns_for(
        self,
        tenant: str,
        text: str,
        ctx: TaskContext | None,
        limit: int,
        episode_scores: dict[UUID, float] | None = None,
    ) -> list[RetrievedPattern]:
        if episode_scores is None:
            _, episode_scores = self._retrieve(
                tenant, text, ctx, EpisodeFilter(), 30, 0, diversify=False
            )
        top = sorted(episode_scores.items(), key=lambda kv: -kv[1])[:30]
        episode_scores = dict(top)
        ids: list[UUID] = []
        for s in self.storage.get_summaries(tenant, list(episode_scores)):
            ids.extend(s.pattern_ids)
        lexical_hits = self.storage.search_patterns(tenant, text, 50, PatternFilter())
        top_lx = max((score for _, score in lexical_hits), default=0.0) or 1.0
        lexical = {p.id: score / top_lx for p, score in lexical_hits}
        wanted = list(dict.fromkeys([*ids, *lexical]))
        patterns = self.storage.get_patterns(tenant, wanted)
        return rank_patterns(episode_scores, patterns, lexical, ctx, limit)

    def query(
        self,
        task_description: str,
        context: TaskContext | dict[str, Any] | None = None,
        limit: int = 5,
        *,
        tenant: str | None = None,
        for_episode: UUID | str | None = None,
        **filters: Any,
    ) -> QueryResult:
        """Everything an agent wants before a task: episodes, patterns and heuristics.

        One retrieval serves both lists: the patterns are ranked by the evidence of the
        episodes scored for the episode list (the same filters apply to both).
        """
        with self.metrics_registry.timed("query"):
            check_text(
                task_description, "task_description", self.limits.max_query_chars, required=True
            )
            check_limit(limit, self.limits)
            ctx = coerce(TaskContext, context, "context") if context is not None else None
            f = _filters(filters)
            t = self._tenant(tenant)
            with self._lock:
                episodes, scores = self._retrieve(t, task_description, ctx, f, limit + 1, 3)
            if for_episode is not None:  # an in-progress episode matches its own task text
                own = _uuid(for_episode, "for_episode")
                episodes = [e for e in episodes if e.episode.id != own]
                scores.pop(own, None)
            episodes = episodes[:limit]
            with self._lock:
                patterns = self._patterns_for(t, task_description, ctx, limit, scores)
                heuristics = self.storage.list_heuristics(t, limit, 0.0)
            self._remember_shown(t, for_episode, patterns, task_description)
            return QueryResult(episodes=episodes, patterns=patterns, heuristics=heuristics)

    def _retrieval_key(self, *parts: Any) -> str:
        emb = self._embedder.model_id if self._embedder is not None else "none"
        generation = self.storage.generation(parts[1])
        blob = json.dumps(
            [
                SCHEMA_VERSION,
                emb,
                repr(self.weights),
                effective_flags(self.config),
                generation,
                *[_jsonable(p) for p in parts],
            ],  # deploy: flags change the ranking
            sort_keys=True,
            default=str,
        )
        return hashlib.sha256(blob.encode()).hexdigest()

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
        with self.metrics_registry.timed("record_pattern_outcome"):
            pid = _uuid(pattern_id, "pattern_id")
            eid = _uuid(applied_in_episode, "applied_in_episode")
            t = self._tenant(tenant)
            with self._lock:
                pattern = self._record_usage(t, pid, eid, bool(success))
                self._invalidate_retrievals(t)
            self._audit("record_pattern_outcome", t, [pid, eid])  # security
            return pattern

    def get_pattern(self, pattern_id: UUID | str, *, tenant: str | None = None) -> Pattern:
        pid = _uuid(pattern_id, "pattern_id")
        t = self._tenant(tenant)
        raw = self._cached("pattern", t, str(pid))
        if raw is not None:
            return Pattern.model_validate_json(raw)
        with self._lock:
            pattern = self.storage.get_pattern(t, pid)
        if pattern is None:
            raise PatternNotFoundError(pid)
        self._cache_store(
            "pattern", t, str(pid), pattern.model_dump_json().encode(), pattern.version
        )
        return pattern

    def list_patterns(
        self,
        filters: PatternFilter | dict[str, Any] | None = None,
        limit: int = 50,
        *,
        tenant: str | None = None,
    ) -> list[Pattern]:
        f = coerce(PatternFilter, filters or {}, "filters")
        check_limit(limit, self.limits)
        with self._lock:
            return self.storage.list_patterns(self._tenant(tenant), f, limit)

    def analyze_patterns(
        self,
        filters: PatternFilter | dict[str, Any] | None = None,
        limit: int = 20,
        *,
        tenant: str | None = None,
    ) -> list[PatternAnalysis]:
        """Patterns with success rate, confidence, applied effectiveness and its trend."""
        with self.metrics_registry.timed("analyze_patterns"):
            patterns = self.list_patterns(filters, limit, tenant=tenant)
            trend_of = getattr(self.storage, "pattern_usage_trend", None)
            t = self._tenant(tenant)
            out = []
            for p in patterns:
                trend: list[float] = []
                if callable(trend_of):
                    with self._lock:
                        trend = list(trend_of(t, p.id))
                out.append(
                    PatternAnalysis(
                        pattern=p,
                        success_rate=round(p.success_rate, 6),
                        confidence=round(p.confidence, 6),
                        effectiveness=None
                        if p.effectiveness is None
                        else round(p.effectiveness, 6),
                        trend=trend,
                    )
                )
            return out

    def list_heuristics(
        self, limit: int = 20, *, tenant: str | None = None, min_confidence: float = 0.0
    ) -> list[Heuristic]:
        check_limit(limit, self.limits)
        with self._lock:
            return self.storage.list_heuristics(self._tenant(tenant), limit, min_confidence)

    # -- operations --------------------------------------------------------------------
    def health(self) -> HealthReport:
        """Status of storage, cache and embeddings; never raises."""
        warnings: list[str] = []
        try:
            s = self.storage.health()
            storage = ComponentHealth(ok=bool(s.get("ok")), backend=self.storage.name, detail=s)
        except Exception as exc:
            storage = ComponentHealth(ok=False, backend="?", detail={"error": str(exc)})
        try:
            cs = self.cache.stats()
            cache = ComponentHealth(
                ok=True, backend=self.cache.name, detail=cs.model_dump() | {"hit_rate": cs.hit_rate}
            )
        except Exception as exc:
            cache = ComponentHealth(
                ok=False, backend=_cache_name(self.config), detail={"error": str(exc)}
            )
        emb = self.embedder
        if emb is None:
            reason = self._embedder_error or "embeddings disabled by configuration"
            embeddings = ComponentHealth(
                ok=self._embedder_error is None, backend="none", detail={"reason": reason}
            )
            mode = f"lexical-only ({reason})"
            if self._embedder_error:
                warnings.append(f"embeddings unavailable: {self._embedder_error}")
        else:
            embeddings = ComponentHealth(
                ok=True,
                backend=emb.name,
                detail={"model_id": emb.model_id, "dimension": emb.dimension},
            )
            mode = "hybrid (lexical + semantic)"
            if storage.ok:
                try:
                    others = [
                        m for m in self.storage.embedding_models() if m.model_id != emb.model_id
                    ]
                except Exception:
                    others = []
                for m in others:
                    warnings.append(
                        f"{m.count} stored vectors come from {m.model_id}, not the configured "
                        f"{emb.model_id}; they are not used. Run `memory storage reembed`."
                    )
        return HealthReport(
            ok=storage.ok and cache.ok and embeddings.ok,
            version=__version__,
            storage=storage,
            cache=cache,
            embeddings=embeddings,
            retrieval_mode=mode,
            queue_depth=self.queue_depth,
            warnings=warnings,
            feature_flags=effective_flags(self.config),  # deploy: flags in health_check
        )

    def metrics(self, *, tenant: str | None = None) -> MetricsSnapshot:
        with self._lock:
            stats = self.storage.stats(self._tenant(tenant))
        try:
            cs = self.cache.stats()
            cache = {
                "hits": float(cs.hits), "misses": float(cs.misses), "hit_rate": cs.hit_rate,
                "entries": float(cs.entries), "size_bytes": float(cs.size_bytes),
                "evictions": float(cs.evictions),
            }  # fmt: skip
        except Exception:
            cache = {}
        return MetricsSnapshot(
            operations=self.metrics_registry.snapshot(),
            cache=cache,
            episodes=stats.episodes,
            completed_episodes=stats.completed_episodes,
            steps=stats.steps,
            patterns=stats.patterns,
            heuristics=stats.heuristics,
            queue_depth=self.queue_depth,
            uptime_seconds=round(self.metrics_registry.uptime, 3),
        )

    def reembed(
        self,
        *,
        tenant: str | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> int:
        """Re-embed every completed episode with the configured model; returns how many.

        Vectors of other models are dropped at the end, so retrieval stays consistent.
        """
        emb = self.embedder
        if emb is None:
            raise EmbeddingError("no embedding provider is configured; nothing to re-embed")
        done = 0
        t = self._tenant(tenant)
        for episode in self.export_episodes(tenant=t):
            if episode.is_complete:
                records = self._embed_episode(episode)
                with self._lock:
                    self.storage.put_embeddings(t, records)
                done += 1
                if progress is not None:
                    progress(done)
        with self._lock:
            for m in self.storage.embedding_models():
                if m.model_id != emb.model_id:
                    self.storage.delete_embeddings(m.model_id)
            self.cache.invalidate_tenant(t)
        self._audit("reembed", t, [], f"ok:{done}")  # security
        return done

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._queue is not None:
            self._queue.join()
            self._queue.put(None)
        for part in (self._embedder, self._cache, self._storage):
            if part is not None:
                try:
                    part.close()
                except Exception:
                    log.exception("error while closing %s", type(part).__name__)

    def __enter__(self) -> SelfLearningMemory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- cache helpers -----------------------------------------------------------------
    def _cache_get(self, kind: Any, tenant: str, key: str) -> bytes | None:
        try:
            raw = self.cache.get(kind, tenant, key)
            return None if raw is None else self._sealer.open(tenant, raw)
        except Exception:
            log.debug("cache get failed", exc_info=True)
            return None

    def _generation(self, tenant: str) -> int:
        """The tenant's write generation, read from storage at most once per
        ``cache_coherence_seconds`` (the staleness bound across instances)."""
        now = time.monotonic()
        seen = self._generation_seen.get(tenant)
        if seen is not None and now - seen[0] < self.config.cache_coherence_seconds:
            return seen[1]
        with self._lock:
            generation = self.storage.generation(tenant)
        self._generation_seen[tenant] = (now, generation)
        return generation

    def _cached(self, kind: Any, tenant: str, key: str) -> bytes | None:
        """A cached payload that is still valid, else ``None``.

        Each value is stored with the tenant's generation at the time; when the database
        has moved on (a write by this or another instance with its own cache), the value
        is treated as a miss and refilled from storage. So a deleted or changed record is
        served stale for at most ``cache_coherence_seconds``, without Redis.
        """
        raw = self._cache_get(kind, tenant, key)
        if raw is None or len(raw) < 8:
            return None
        if int.from_bytes(raw[:8], "little") != self._generation(tenant):
            return None
        return raw[8:]

    def _cache_store(self, kind: Any, tenant: str, key: str, payload: bytes, version: int) -> None:
        stamped = self._generation(tenant).to_bytes(8, "little") + payload
        sealed = self._sealer.seal(tenant, stamped)
        self._cache_safe(lambda: self.cache.put(kind, tenant, key, sealed, version=version))

    def _cache_safe(self, fn: Callable[[], object]) -> None:
        try:
            fn()
        except Exception:
            log.debug("cache write failed", exc_info=True)

    def _cache_put_episode(self, episode: Episode) -> None:
        if self._sensitive(episode.tenant, [episode.id]):
            return  # security: sensitive episodes are never cached in clear
        data = episode.model_dump_json().encode()
        self._cache_store("episode", episode.tenant, str(episode.id), data, episode.version)

    # -- security hooks (memory_core.security) -----------------------------------------
    @property
    def audit_log(self) -> Any:
        """The ``AuditLog`` over this memory's storage (``memory_core.security``)."""
        if self._audit_log is None:
            from memory_core.security._audit import AuditLog

            self._audit_log = AuditLog(self.storage, enabled=self.config.audit_enabled)
        return self._audit_log

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
        t = self._tenant(tenant)
        with self._lock:
            self.audit_log.append(
                t, operation, principal=principal, target_ids=target_ids, outcome=outcome
            )

    def _audit(
        self, operation: str, tenant: str, target_ids: Sequence[object] = (), outcome: str = "ok"
    ) -> None:
        """Audit a library operation that already happened: a failure is logged, not raised."""
        if not self.config.audit_enabled:
            return
        try:
            with self._lock:
                self.audit_log.append(tenant, operation, target_ids=target_ids, outcome=outcome)
        except MemoryCoreError:
            log.exception("could not append the audit record for %s", operation)

    def _sensitive(self, tenant: str, episode_ids: Sequence[UUID]) -> bool:
        check = getattr(self._storage, "contains_sensitive", None)
        if check is None:
            return False
        with self._lock:
            return bool(check(tenant, episode_ids))

    def _require_encryption(self, metadata: dict[str, Any]) -> None:
        if metadata.get("sensitive") is True and not getattr(self.storage, "encrypts", False):
            from memory_core._errors import ConfigurationError

            raise ConfigurationError(
                "the episode is marked sensitive but encryption at rest is not configured; "
                "set MEMORY_ENCRYPTION_KEYS (or MEMORY_ENCRYPTION_KEYS_FILE)",
                key="MEMORY_ENCRYPTION_KEYS",
            )

    def _invalidate_retrievals(self, tenant: str) -> None:
        """Retrieval keys include the storage generation, so new writes change the key;
        nothing else to do here. Kept as the one place to hook extra invalidation."""


def _secured(storage: StorageBackend, config: MemoryConfig) -> StorageBackend:
    """security: the encrypting wrapper when keys or sensitive tenants are configured."""
    if config.encryption_keys is None and not config.sensitive_tenants:
        return storage
    from memory_core.security._encrypted import wrap_if_configured

    return wrap_if_configured(storage, config)


def _cache_name(config: MemoryConfig) -> str:
    """The cache plugin: none for an ephemeral store, the Redis-coherent LMDB cache when
    ``REDIS_URL`` is set, else what the config names."""
    if config.cache_backend == "lmdb":
        if config.url_scheme == "memory" and config.cache_path is None:
            return "none"
        if config.redis_url:
            return "lmdb-redis"
    return config.cache_backend


def _uuid(value: UUID | str, field: str) -> UUID:
    if isinstance(value, UUID):
        return value
    try:
        return UUID(str(value))
    except ValueError:
        raise InvalidInputError(
            f"{field} is not a valid UUID: {str(value)[:64]!r}", field=field
        ) from None


def _task_type(value: TaskType | str) -> TaskType:
    try:
        return TaskType(value)
    except ValueError:
        allowed = ", ".join(t.value for t in TaskType)
        raise InvalidInputError(
            f"task_type must be one of {allowed}; got {value!r}", field="task_type"
        ) from None


def _filters(filters: dict[str, Any]) -> EpisodeFilter:
    unknown = set(filters) - _FILTER_KEYS
    if unknown:
        name = sorted(unknown)[0]
        raise InvalidInputError(
            f"unknown filter {name!r}; filters are {', '.join(sorted(_FILTER_KEYS))}", field=name
        )
    return coerce(EpisodeFilter, {k: v for k, v in filters.items() if v is not None}, "filters")


def _jsonable(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    return value


__all__ = ["SelfLearningMemory"]
