"""``EpisodeLifecycle``: start → log steps → complete, and reading, deleting, moving episodes.

Completion computes reward and reflection, extracts patterns (inline or through the
``ExtractionWorker``), stores the episode durably and then announces it
(``LifecycleEvents.episode_completed``) so feedback and workflow features learn from it;
its vectors follow from the ``EmbeddingWorker`` (or in the same transaction, inline).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any
from uuid import UUID

from memory_core._context import MemoryContext
from memory_core._deletion import delete_everywhere
from memory_core._errors import (
    EpisodeNotFoundError,
    EpisodeStateError,
    InvalidInputError,
)
from memory_core._ids import as_enum, as_uuid
from memory_core._logging import event
from memory_core._models import (
    Episode,
    EpisodeFilter,
    EpisodePage,
    EpisodeSummary,
    ExecutionStep,
    OutcomeType,
    TaskContext,
    TaskOutcome,
    TaskType,
    utcnow,
)
from memory_core._recent_tasks import SEED_READ, RecentTasks
from memory_core._validation import (
    check_context,
    check_json,
    check_limit,
    check_outcome,
    check_steps,
    check_text,
    coerce,
    number_steps,
    parse_steps,
)
from memory_core.extraction import extract_patterns
from memory_core.reflection import reflect
from memory_core.reward import compute_reward, reference_steps
from memory_core.security._erasure import ErasureReport

if TYPE_CHECKING:
    from memory_core._memory import SelfLearningMemory

log = logging.getLogger("memory_core")


_REFERENCE_CANDIDATES = 20
_REFERENCE_EPISODES = 5
_REFERENCE_RELEVANCE = 0.5
"""A similar task holds at least half of the task text's term weight."""


class EpisodeLifecycle:
    """The episode half of the learning loop; see the module docstring."""

    def __init__(self, ctx: MemoryContext) -> None:
        self._ctx = ctx
        self._recent = RecentTasks()

    def start_episode(
        self,
        task_description: str,
        context: TaskContext | dict[str, Any] | None,
        task_type: TaskType | str,
        metadata: dict[str, Any] | None,
        tenant: str | None,
    ) -> UUID:
        c = self._ctx
        with c.metrics.timed("start_episode"):
            episode = self._new_episode(task_description, context, task_type, metadata, tenant)
            with c.lock:
                c.backends.storage.create_episode(episode)
            c.guard.audit("start_episode", episode.tenant, [episode.id])  # security
            event(
                "episode started",
                logging.DEBUG,
                episode_id=str(episode.id),
                task_type=episode.task_type.value,
            )
            return episode.id

    def _new_episode(
        self,
        task_description: str,
        context: TaskContext | dict[str, Any] | None,
        task_type: TaskType | str,
        metadata: dict[str, Any] | None,
        tenant: str | None,
    ) -> Episode:
        """A new episode from caller input, every field checked against the limits (the
        one check shared by start_episode and record_episode; nothing is written)."""
        c = self._ctx
        limits = c.limits
        check_text(
            task_description, "task_description", limits.max_task_description_chars, required=True
        )
        ctx = coerce(TaskContext, context or {}, "context")
        check_context(ctx, limits)
        ttype = as_enum(TaskType, task_type, "task_type")
        meta = dict(metadata or {})
        check_json(meta, "metadata", limits.max_metadata_bytes, limits.max_json_depth)
        c.guard.require_encryption(meta)  # security: never store a sensitive one in clear
        return Episode(
            tenant=c.tenant(tenant),
            task_description=task_description,
            task_type=ttype,
            context=ctx,
            metadata=meta,
        )

    def append(
        self,
        episode_id: UUID | str,
        steps: Sequence[ExecutionStep | dict[str, Any]],
        tenant: str | None,
        op: str,
    ) -> list[int]:
        """Append steps; a dict step without ``step_number`` gets the next one. Returns
        the numbers stored, in the order given."""
        c = self._ctx
        with c.metrics.timed(op):
            eid = as_uuid(episode_id, "episode_id")
            parsed, unnumbered = parse_steps(steps)
            # Left-out numbers are checked provisionally (from 1); the store numbers them
            # for real in the transaction that inserts them (several processes may append).
            check_steps(number_steps(parsed, unnumbered, 1), c.limits, existing=0)
            t = c.tenant(tenant)
            with c.lock:
                storage = c.backends.storage
                if not unnumbered:
                    count = storage.append_steps(t, eid, parsed)
                else:
                    count, parsed = storage.append_next_steps(t, eid, parsed, unnumbered)
            if c.config.audit_steps:
                c.guard.audit(op, t, [eid])  # security
            if count > c.limits.max_steps_per_episode:
                # The backend stored them; the per-episode bound is enforced on the next
                # call. Checking first would cost a read per step on the hot path.
                log.warning("episode %s exceeds %d steps", eid, c.limits.max_steps_per_episode)
            return [s.step_number for s in parsed]

    def complete_episode(
        self, episode_id: UUID | str, outcome: TaskOutcome | dict[str, Any], tenant: str | None
    ) -> Episode:
        c = self._ctx
        with c.metrics.timed("complete_episode"):
            eid = as_uuid(episode_id, "episode_id")
            out = coerce(TaskOutcome, outcome, "outcome")
            check_outcome(out, c.limits)
            t = c.tenant(tenant)
            with c.lock:
                episode = c.backends.storage.get_episode(t, eid)
                if episode is None:
                    raise EpisodeNotFoundError(eid)
                if episode.is_complete:
                    raise EpisodeStateError(f"episode {eid} is already completed")
                limit = c.limits.max_steps_per_episode
                if len(episode.steps) > limit:
                    raise InvalidInputError(
                        f"the episode has {len(episode.steps)} steps; the limit is {limit}",
                        field="steps",
                        limit=limit,
                    )
                done = self._finish(episode, out, t)
            self._submit_vectors(t, done)
            c.guard.audit("complete_episode", t, [eid])  # security
            return done

    def record_episode(
        self,
        task_description: str,
        context: TaskContext | dict[str, Any] | None,
        task_type: TaskType | str,
        steps: Sequence[ExecutionStep | dict[str, Any]],
        outcome: TaskOutcome | dict[str, Any],
        metadata: dict[str, Any] | None,
        tenant: str | None,
    ) -> Episode:
        """A finished task in one call: everything is validated before the first write,
        and a storage failure after it removes what was written."""
        c = self._ctx
        with c.metrics.timed("record_episode"):
            limits = c.limits
            new = self._new_episode(task_description, context, task_type, metadata, tenant)
            parsed, unnumbered = parse_steps(steps)
            numbered = number_steps(parsed, unnumbered, 1)
            check_steps(numbered, limits, existing=0)
            out = coerce(TaskOutcome, outcome, "outcome")
            check_outcome(out, limits)
            t = new.tenant
            episode = new.model_copy(
                update={"steps": sorted(numbered, key=lambda s: s.step_number)}
            )
            with c.lock:
                storage = c.backends.storage
                storage.create_episode(episode)
                try:
                    done = self._finish(episode, out, t)
                except BaseException:
                    storage.delete_episode(t, episode.id)  # nothing half-recorded stays
                    raise
            self._submit_vectors(t, done)
            c.guard.audit("record_episode", t, [episode.id])  # security
            return done

    def _finish(self, episode: Episode, out: TaskOutcome, t: str) -> Episode:
        """Score, reflect, extract and store the completion (the caller holds the lock)."""
        c = self._ctx
        storage = c.backends.storage
        now = utcnow()
        reward = compute_reward(episode, out, now, self._reference(episode, t))
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
        failed = c.events.failed_applications(t, done)  # shown, followed, failed here
        patterns = extract_patterns(done, out, failed)
        done.pattern_ids = [p.id for p in patterns]
        if c.config.extraction_mode == "queue" and c.worker.enqueue(t, episode.id):
            storage.complete_episode(done, None)
        else:
            storage.complete_episode(done, c.worker.extraction(done, patterns))
            c.worker.after_extraction(t, patterns)
        if out.type is OutcomeType.SUCCESS:
            self._recent.add(t, done.id, done.task_type, done.task_description)
        c.events.episode_completed(t, done)  # feedback credit, workflow sessions
        c.cache.put_episode(done)
        c.cache.invalidate_retrievals(t)
        event(
            "episode completed",
            episode_id=str(episode.id),
            outcome=out.type.value,
            reward=reward.total,
            steps=len(done.steps),
            patterns=len(patterns),
        )
        return done

    def _submit_vectors(self, t: str, done: Episode) -> None:
        """Hand the stored episode to the embedding worker: after the lock is released,
        because the worker writes under it (and a full queue makes this thread embed)."""
        if self._ctx.embeddings.background:
            self._ctx.embeddings.submit(t, done)

    def _reference(self, episode: Episode, t: str) -> float | None:
        """Median step count of the successful episodes of the same task type whose task
        text is relevant to this one (calibrated lexical relevance at least the floor),
        among the tenant's recently completed ones (``_recent_tasks``): what similar
        tasks needed, for the reward's step efficiency. At most one bounded read of the
        newest summaries per tenant and process, and one batched read of at most
        ``_REFERENCE_CANDIDATES`` summaries, whatever the store's size."""
        storage = self._ctx.backends.storage
        recent = self._recent
        if not recent.seeded(t):
            page = storage.list_episodes(t, EpisodeFilter(), SEED_READ)
            recent.seed(t, page.items)
        floor = max(self._ctx.config.min_relevance, _REFERENCE_RELEVANCE)
        ids = recent.similar(
            t, episode.task_description, episode.task_type, floor, _REFERENCE_CANDIDATES,
            episode.id,
        )  # fmt: skip
        if not ids:
            return None
        # The first _REFERENCE_EPISODES matches in hit order decide; most are found among
        # the first few hits, so the rest are read only when those fall short (each
        # summary read parses the stored episode: about a fifth of a completion's cost).
        similar: list[int] = []
        first = _REFERENCE_EPISODES + _REFERENCE_EPISODES // 2
        for chunk in (ids[:first], ids[first:]):
            if not chunk or len(similar) >= _REFERENCE_EPISODES:
                break
            found = {s.id: s for s in storage.get_summaries(t, chunk)}
            similar += [
                s.step_count
                for eid in chunk
                if (s := found.get(eid)) is not None
                and s.outcome is OutcomeType.SUCCESS
                and s.task_type is episode.task_type
            ]
        return reference_steps(similar[:_REFERENCE_EPISODES])

    def get_episode(self, episode_id: UUID | str, tenant: str | None) -> Episode:
        c = self._ctx
        with c.metrics.timed("get_episode"):
            eid = as_uuid(episode_id, "episode_id")
            t = c.tenant(tenant)
            raw = c.cache.cached("episode", t, str(eid))
            if raw is not None:
                try:
                    return Episode.model_validate_json(raw)
                except ValueError:
                    c.cache.safe(lambda: c.backends.cache.delete("episode", t, str(eid)))
            with c.lock:
                episode = c.backends.storage.get_episode(t, eid)
            if episode is None:
                raise EpisodeNotFoundError(eid)
            if episode.is_complete:
                c.cache.put_episode(episode)
            return episode

    def get_summary(self, episode_id: UUID | str, tenant: str | None) -> EpisodeSummary:
        c = self._ctx
        eid = as_uuid(episode_id, "episode_id")
        t = c.tenant(tenant)
        with c.lock:
            found = c.backends.storage.get_summaries(t, [eid])
        if not found:
            raise EpisodeNotFoundError(eid)
        return found[0]

    def list_episodes(
        self,
        filters: EpisodeFilter | dict[str, Any] | None,
        limit: int,
        cursor: str | None,
        tenant: str | None,
    ) -> EpisodePage:
        c = self._ctx
        with c.metrics.timed("list_episodes"):
            f = coerce(EpisodeFilter, filters or {}, "filters")
            check_limit(limit, c.limits)
            with c.lock:
                return c.backends.storage.list_episodes(c.tenant(tenant), f, limit, cursor)

    def count_episodes(
        self, filters: EpisodeFilter | dict[str, Any] | None, tenant: str | None
    ) -> int:
        c = self._ctx
        f = coerce(EpisodeFilter, filters or {}, "filters")
        with c.lock:
            return c.backends.storage.count_episodes(c.tenant(tenant), f)

    def delete_episode(
        self, episode_id: UUID | str, tenant: str | None, host: SelfLearningMemory
    ) -> ErasureReport:
        """Physical deletion (``_deletion``); the report's ``episode_ids`` is empty when
        the episode did not exist."""
        c = self._ctx
        with c.metrics.timed("delete_episode"):
            eid = as_uuid(episode_id, "episode_id")
            t = c.tenant(tenant)
            report = delete_everywhere(c, host, t, eid)
            self._recent.forget(t, eid)  # its text leaves the reward's window too
            existed = bool(report.episode_ids)
            c.guard.audit("delete_episode", t, [eid], "ok" if existed else "not_found")
            event("episode deleted", episode_id=str(eid), existed=existed)
            return report

    def export_episodes(self, tenant: str | None, batch: int) -> Iterator[Episode]:
        c = self._ctx
        t = c.tenant(tenant)
        c.guard.audit("export_episodes", t)  # security: a bulk read
        cursor: str | None = None
        while True:
            with c.lock:
                page = c.backends.storage.list_episodes(t, EpisodeFilter(), batch, cursor)
            for summary in page.items:
                with c.lock:
                    episode = c.backends.storage.get_episode(t, summary.id)
                if episode is not None:
                    yield episode
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    def import_episode(self, episode: Episode | dict[str, Any] | str) -> bool:
        c = self._ctx
        ep = coerce(Episode, episode, "episode")
        c.guard.require_encryption(ep.metadata)  # security
        c.guard.audit("import_episode", c.tenant(ep.tenant), [ep.id])  # security
        with c.lock:
            storage = c.backends.storage
            if storage.get_episode(ep.tenant, ep.id) is not None:
                return False
            if ep.outcome is None:
                storage.create_episode(ep)
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
            storage.create_episode(in_progress)
            patterns = extract_patterns(ep, ep.outcome)
            ep = ep.model_copy(update={"pattern_ids": [p.id for p in patterns]})
            storage.complete_episode(ep, c.worker.extraction(ep, patterns))
            c.worker.after_extraction(ep.tenant, patterns)
            c.cache.invalidate_retrievals(ep.tenant)
        if c.embeddings.background:
            c.embeddings.submit(ep.tenant, ep)
        return True
