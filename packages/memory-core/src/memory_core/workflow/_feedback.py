"""Recommendation feedback: closing the learning loop with what agents actually applied.

Showing patterns for an episode (``retrieve_relevant_patterns(for_episode=...)`` or
``recommend_playbook(for_episode=...)``) stores a ``recommendation`` session record.
``record_recommendation_feedback`` stores which of them the agent applied (one
``recommendation_feedback`` record per episode) and records each applied pattern's
outcome (``record_pattern_outcome``), at once if the outcome is known, else when the
episode completes. Without explicit feedback, completion credits every shown pattern
with the episode's outcome, as the core always did, and the session records make that
survive a restart. Explicit feedback replaces that guess: only applied patterns count.

Ranking then uses ``pattern_ranking`` (applied evidence dominates observations as it
accrues, with a stated confidence rule), so two lucky uses do not beat fifty good ones.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING
from uuid import UUID

from memory_core._errors import EpisodeNotFoundError, InvalidInputError, PatternNotFoundError
from memory_core._models import Episode, OutcomeType
from memory_core._protocols import RecordStore
from memory_core._stats import wilson_lower_bound
from memory_core._validation import check_limit
from memory_core.workflow._common import as_uuid, check_range, clip, records, scan
from memory_core.workflow._models import (
    PatternEffectiveness,
    RecommendationFeedback,
    RecommendationSession,
    RecommendationSource,
    RecommendationStats,
)

if TYPE_CHECKING:
    from memory_core.workflow._context import WorkflowContext

SESSION_KIND = "recommendation"
FEEDBACK_KIND = "recommendation_feedback"


class Feedback:
    """Recommendation sessions and feedback (``SelfLearningMemory`` delegates)."""

    def __init__(self, c: WorkflowContext) -> None:
        self._c = c

    def record_recommendation_feedback(
        self,
        episode_id: UUID | str,
        applied_pattern_ids: Sequence[UUID | str],
        success: bool | None,
        rating: int | None,
        tenant: str | None,
    ) -> RecommendationFeedback:
        with self._c.metrics.timed("record_recommendation_feedback"):
            eid = as_uuid(episode_id, "episode_id")
            if isinstance(applied_pattern_ids, str | UUID):
                applied_pattern_ids = [applied_pattern_ids]
            if len(applied_pattern_ids) > self._c.limits.max_limit:
                raise InvalidInputError(
                    f"applied_pattern_ids has {len(applied_pattern_ids)} items; the limit is "
                    f"{self._c.limits.max_limit}",
                    field="applied_pattern_ids",
                    limit=self._c.limits.max_limit,
                )
            applied = list(
                dict.fromkeys(
                    as_uuid(x, f"applied_pattern_ids[{i}]")
                    for i, x in enumerate(applied_pattern_ids)
                )
            )
            if rating is not None:
                check_range(rating, "rating", 1, 5)
            if success is not None and not isinstance(success, bool):
                raise InvalidInputError("success must be true, false or null", field="success")
            t = self._c.tenant(tenant)
            store = records(self._c.storage)
            with self._c.lock:
                summaries = self._c.storage.get_summaries(t, [eid])
                if not summaries:
                    raise EpisodeNotFoundError(eid)
                summary = summaries[0]
                found = {p.id for p in self._c.storage.get_patterns(t, applied)}
                for pid in applied:
                    if pid not in found:
                        raise PatternNotFoundError(pid)
                if success is None and summary.outcome is not None:
                    success = summary.outcome is OutcomeType.SUCCESS
                recommended = _recommended(store, t, eid)
                if success is not None:
                    for pid in applied:
                        self._c.patterns.record_pattern_outcome(pid, eid, success, t)
                # Explicit feedback wins over crediting every shown pattern at completion.
                self._c.shown.pop((t, eid), None)
                fb = RecommendationFeedback(
                    episode_id=eid,
                    recommended_pattern_ids=recommended,
                    applied_pattern_ids=applied,
                    success=success,
                    rating=rating,
                    applied_recorded=success is not None,
                )
                store.put_record(
                    t, FEEDBACK_KIND, str(eid), fb.model_dump(mode="json"), episode_id=eid
                )
            return fb

    def list_recommendation_sessions(
        self, episode_id: UUID | str, tenant: str | None
    ) -> list[RecommendationSession]:
        eid = as_uuid(episode_id, "episode_id")
        t = self._c.tenant(tenant)
        with self._c.lock:
            rows = list(scan(records(self._c.storage), t, SESSION_KIND, episode_id=eid))
        return [RecommendationSession.model_validate(d) for _, _, d in rows]

    def get_recommendation_stats(self, limit: int, tenant: str | None) -> RecommendationStats:
        with self._c.metrics.timed("get_recommendation_stats"):
            check_limit(limit, self._c.limits)
            t = self._c.tenant(tenant)
            store = records(self._c.storage)
            with self._c.lock:
                sessions = [
                    RecommendationSession.model_validate(d)
                    for _, _, d in scan(store, t, SESSION_KIND)
                ]
                feedback = [
                    RecommendationFeedback.model_validate(d)
                    for _, _, d in scan(store, t, FEEDBACK_KIND)
                ]
                pending = [f.episode_id for f in feedback if f.success is None]
                outcomes = {
                    s.id: s.outcome for s in self._c.storage.get_summaries(t, pending) if s.outcome
                }
            shown: dict[UUID, list[UUID]] = {}
            for s in sessions:
                shown.setdefault(s.episode_id, []).extend(s.pattern_ids)
            per: dict[UUID, PatternEffectiveness] = {}
            recommended_total = applied_total = applied_episodes = successes = 0
            ratings: list[int] = []
            for f in feedback:
                rec = set(shown.get(f.episode_id, [])) | set(f.recommended_pattern_ids)
                used = set(f.applied_pattern_ids)
                ok = f.success
                if ok is None and f.episode_id in outcomes:
                    ok = outcomes[f.episode_id] is OutcomeType.SUCCESS
                recommended_total += len(rec)
                applied_total += len(used & rec)
                if f.rating is not None:
                    ratings.append(f.rating)
                if used and ok is not None:
                    applied_episodes += 1
                    successes += int(ok)
                for pid in rec | used:
                    e = per.setdefault(pid, PatternEffectiveness(pattern_id=pid))
                    e.recommended += int(pid in rec)
                    if pid in used and ok is not None:
                        e.applied += 1
                        e.applied_successes += int(ok)
            for e in per.values():
                e.adoption_rate = round(e.applied / e.recommended, 6) if e.recommended else 0.0
                if e.applied:
                    e.success_rate = round(e.applied_successes / e.applied, 6)
                    e.wilson_lower_bound = round(
                        wilson_lower_bound(e.applied_successes, e.applied), 6
                    )
            top = sorted(
                per.values(), key=lambda e: (-e.wilson_lower_bound, -e.applied, str(e.pattern_id))
            )[:limit]
            with self._c.lock:
                described = {
                    p.id: p for p in self._c.storage.get_patterns(t, [e.pattern_id for e in top])
                }
            for e in top:
                p = described.get(e.pattern_id)
                e.description = clip(p.description, 200) if p is not None else ""
            return RecommendationStats(
                sessions=len(sessions),
                episodes=len(shown),
                episodes_with_feedback=len(feedback),
                recommended=recommended_total,
                applied=applied_total,
                adoption_rate=round(applied_total / recommended_total, 6)
                if recommended_total
                else 0.0,
                applied_episodes=applied_episodes,
                success_rate_when_applied=round(successes / applied_episodes, 6)
                if applied_episodes
                else None,
                average_rating=round(sum(ratings) / len(ratings), 6) if ratings else None,
                patterns=top,
            )

    # -- called on lifecycle events (``WorkflowService``) and by playbooks -------------
    def record_recommendation(
        self,
        tenant: str,
        episode_id: UUID,
        pattern_ids: Sequence[UUID],
        source: RecommendationSource,
        task_description: str,
    ) -> str | None:
        """Store a session (durable on return); ``None`` if nothing was shown or the
        backend keeps no records (the in-memory credit at completion still works)."""
        if not pattern_ids or not isinstance(self._c.storage, RecordStore):
            return None
        session = RecommendationSession(
            id=str(uuid.uuid4()),
            episode_id=episode_id,
            source=source,
            task_description=clip(task_description, 500),
            pattern_ids=list(dict.fromkeys(pattern_ids)),
        )
        with self._c.lock:
            self._c.storage.put_record(
                tenant,
                SESSION_KIND,
                session.id,
                session.model_dump(mode="json"),
                episode_id=episode_id,
            )
        return session.id

    def load_recommendations(self, tenant: str, episode_id: UUID) -> None:
        """Without explicit feedback, the patterns of the episode's stored sessions are
        shown for it (also those stored before a restart)."""
        store = self._c.storage
        if not isinstance(store, RecordStore):
            return
        if store.get_record(tenant, FEEDBACK_KIND, str(episode_id)) is not None:
            return
        shown = _recommended(store, tenant, episode_id)
        if shown:
            self._c.shown.setdefault((tenant, episode_id), set()).update(shown)

    def close_recommendations(self, tenant: str, episode: Episode) -> None:
        """At completion, before the core credits retrieved patterns: apply explicit
        feedback that waited for the outcome, or else make sure every pattern shown in a
        stored session (also before a restart) is credited with the outcome."""
        store = self._c.storage
        if episode.outcome is None or not isinstance(store, RecordStore):
            return
        key = (tenant, episode.id)
        data = store.get_record(tenant, FEEDBACK_KIND, str(episode.id))
        if data is None:
            shown = _recommended(store, tenant, episode.id)
            if shown:
                self._c.shown.setdefault(key, set()).update(shown)
            return
        self._c.shown.pop(key, None)
        fb = RecommendationFeedback.model_validate(data)
        if fb.applied_recorded:
            return
        success = episode.outcome.type is OutcomeType.SUCCESS
        for pid in fb.applied_pattern_ids:
            try:
                self._c.patterns.record_usage(tenant, pid, episode.id, success)
            except PatternNotFoundError:
                continue
            _forget_pattern(self._c, tenant, pid)
        done = fb.model_copy(update={"success": success, "applied_recorded": True})
        store.put_record(
            tenant, FEEDBACK_KIND, str(episode.id), done.model_dump(mode="json"),
            episode_id=episode.id,
        )  # fmt: skip


def _forget_pattern(memory: WorkflowContext, tenant: str, pattern_id: UUID) -> None:
    def drop() -> None:
        memory.cache.delete("pattern", tenant, str(pattern_id))

    memory.cache_safe(drop)


def _recommended(store: RecordStore, tenant: str, episode_id: UUID) -> list[UUID]:
    ids: list[UUID] = []
    for _, _, d in scan(store, tenant, SESSION_KIND, episode_id=episode_id):
        ids.extend(UUID(x) for x in d["pattern_ids"])
    return list(dict.fromkeys(ids))
