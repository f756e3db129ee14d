"""Patterns: reading them, their applied outcomes, and the credit from retrieval.

Every pattern write goes through ``PatternService.record_usage`` (or the extraction
worker), which writes the new statistics through to the cache. ``RetrievalFeedback``
remembers which patterns were shown for an in-progress episode and, when it completes,
credits or debits them with its outcome.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from memory_core._context import MemoryContext
from memory_core._errors import EpisodeNotFoundError, PatternNotFoundError
from memory_core._events import LifecycleListener, ShownSource
from memory_core._ids import as_uuid
from memory_core._models import Episode, Heuristic, Pattern, PatternFilter, PatternKind
from memory_core._results import PatternAnalysis
from memory_core._validation import check_limit, coerce
from memory_core.credit import applied_outcome

TREND_WINDOW = 5
"""Applications per point of a pattern's trend."""
TREND_WINDOWS = 4
"""Points in a trend: the latest ``TREND_WINDOWS * TREND_WINDOW`` applications."""


def usage_trend(history: Sequence[bool], window: int = TREND_WINDOW) -> list[float]:
    """Success rate per consecutive window of applications, oldest first.

    Windows are aligned on the latest application, so the last point always covers the
    most recent ``window`` results; an older partial window is dropped unless it is the
    only one (a pattern applied 3 times has a one-point trend of those 3).
    """
    if not history:
        return []
    if len(history) <= window:
        return [round(sum(history) / len(history), 6)]
    start = len(history) % window
    chunks = [history[i : i + window] for i in range(start, len(history), window)]
    return [round(sum(chunk) / len(chunk), 6) for chunk in chunks]


ShownPatterns = dict[tuple[str, UUID], set[UUID]]
"""(tenant, episode id) → ids of the patterns shown for that episode."""


class PatternService:
    """Pattern reads, analysis, heuristics and applied-outcome feedback."""

    def __init__(self, ctx: MemoryContext) -> None:
        self._ctx = ctx

    def record_usage(
        self, tenant: str, pattern_id: UUID, episode_id: UUID, success: bool
    ) -> Pattern:
        """Store an application of a pattern and write the new statistics through."""
        pattern = self._ctx.backends.storage.record_pattern_usage(
            tenant, pattern_id, episode_id, success
        )
        self._ctx.cache.put_pattern(tenant, pattern)
        return pattern

    def record_pattern_outcome(
        self,
        pattern_id: UUID | str,
        applied_in_episode: UUID | str,
        success: bool,
        tenant: str | None,
    ) -> Pattern:
        c = self._ctx
        with c.metrics.timed("record_pattern_outcome"):
            pid = as_uuid(pattern_id, "pattern_id")
            eid = as_uuid(applied_in_episode, "applied_in_episode")
            t = c.tenant(tenant)
            with c.lock:
                # Evidence must exist: an id from nowhere must not move the statistics.
                if not c.backends.storage.get_summaries(t, [eid]):
                    raise EpisodeNotFoundError(eid, field="applied_in_episode")
                pattern = self.record_usage(t, pid, eid, bool(success))
                c.cache.invalidate_retrievals(t)
            c.guard.audit("record_pattern_outcome", t, [pid, eid])  # security
            return pattern

    def get_pattern(self, pattern_id: UUID | str, tenant: str | None) -> Pattern:
        c = self._ctx
        pid = as_uuid(pattern_id, "pattern_id")
        t = c.tenant(tenant)
        raw = c.cache.cached("pattern", t, str(pid))
        if raw is not None:
            return Pattern.model_validate_json(raw)
        with c.lock:
            pattern = c.backends.storage.get_pattern(t, pid)
        if pattern is None:
            raise PatternNotFoundError(pid)
        c.cache.put_pattern(t, pattern)
        return pattern

    def list_patterns(
        self, filters: PatternFilter | dict[str, Any] | None, limit: int, tenant: str | None
    ) -> list[Pattern]:
        c = self._ctx
        f = coerce(PatternFilter, filters or {}, "filters")
        check_limit(limit, c.limits)
        with c.lock:
            return c.backends.storage.list_patterns(c.tenant(tenant), f, limit)

    def analyze_patterns(
        self, filters: PatternFilter | dict[str, Any] | None, limit: int, tenant: str | None
    ) -> list[PatternAnalysis]:
        c = self._ctx
        with c.metrics.timed("analyze_patterns"):
            patterns = self.list_patterns(filters, limit, tenant)
            t = c.tenant(tenant)
            out = []
            for p in patterns:
                with c.lock:
                    history = c.backends.storage.pattern_usage_history(
                        t, p.id, TREND_WINDOWS * TREND_WINDOW
                    )
                trend = usage_trend(history)
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
        self, limit: int, tenant: str | None, min_confidence: float
    ) -> list[Heuristic]:
        c = self._ctx
        check_limit(limit, c.limits)
        with c.lock:
            return c.backends.storage.list_heuristics(c.tenant(tenant), limit, min_confidence)


class RetrievalFeedback(LifecycleListener):
    """Patterns shown for an episode learn from its outcome when it completes."""

    def __init__(self, patterns: PatternService) -> None:
        self._patterns = patterns
        self.shown: ShownPatterns = {}

    def patterns_shown(
        self,
        tenant: str,
        episode_id: UUID,
        pattern_ids: Sequence[UUID],
        source: ShownSource,
        task_description: str,
    ) -> None:
        self.shown.setdefault((tenant, episode_id), set()).update(pattern_ids)

    def failed_applications(self, tenant: str, episode: Episode) -> list[list[str]]:
        shown = self.shown.get((tenant, episode.id))
        if not shown or episode.outcome is None:
            return []
        storage = self._patterns._ctx.backends.storage
        return [
            list(p.tools)
            for p in storage.get_patterns(tenant, list(shown))
            if p.kind is PatternKind.TOOL_SEQUENCE and applied_outcome(p, episode) is False
        ]

    def episode_completed(self, tenant: str, episode: Episode) -> None:
        retrieved = self.shown.pop((tenant, episode.id), None)
        if not retrieved or episode.outcome is None:
            return
        storage = self._patterns._ctx.backends.storage
        for p in storage.get_patterns(tenant, list(retrieved)):
            success = applied_outcome(p, episode)  # credit only what the steps followed
            if success is None:
                continue
            try:
                self._patterns.record_usage(tenant, p.id, episode.id, success)
            except PatternNotFoundError:
                continue

    def episode_deleted(self, tenant: str, episode_id: UUID) -> None:
        self.shown.pop((tenant, episode_id), None)
