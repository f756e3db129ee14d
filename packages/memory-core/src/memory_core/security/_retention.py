"""Retention: remove episodes a tenant's ``RetentionPolicy`` no longer keeps.

Policies come from ``MemoryConfig.retention`` (tenant → policy, ``"*"`` for tenants
without their own)::

    [retention."*"]
    max_age_days = 365
    successful_max_age_days = 730

    [retention.team-a]
    max_episodes = 5000

``apply_retention(memory, dry_run=True)`` lists what would go; without ``dry_run`` each
episode is erased like ``erase_episode`` (pattern contributions included) and the run is
audited. ``RetentionJob`` runs it in a background thread (``retention_interval_seconds``);
the CLI calls ``apply_retention`` directly.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from uuid import UUID

from memory_core._errors import InvalidInputError
from memory_core._models import EpisodeFilter, EpisodeSummary, OutcomeType, utcnow
from memory_core.security._erasure import ErasureReport, _erase_one
from memory_core.security._policy import RetentionPolicy

if TYPE_CHECKING:
    from memory_core._memory import SelfLearningMemory

__all__ = [
    "RetentionJob",
    "RetentionReport",
    "apply_retention",
    "policy_for",
    "select_expired",
    "start_retention_job",
]

log = logging.getLogger("memory_core.security")

_PAGE = 200


@dataclass
class RetentionReport:
    """One tenant's retention run: the episodes that went (or would go) and why."""

    tenant: str
    dry_run: bool
    expired: list[tuple[UUID, str]] = field(default_factory=list)
    erasure: ErasureReport | None = None

    @property
    def episode_ids(self) -> list[UUID]:
        return [eid for eid, _ in self.expired]


def policy_for(memory: SelfLearningMemory, tenant: str) -> RetentionPolicy | None:
    policies = memory.config.retention
    return policies.get(tenant) or policies.get("*")


def select_expired(
    summaries: Iterable[EpisodeSummary], policy: RetentionPolicy, now: datetime
) -> list[tuple[UUID, str]]:
    """(id, reason) of the episodes ``policy`` removes. ``summaries``: newest first."""
    out: list[tuple[UUID, str]] = []
    kept_completed: list[EpisodeSummary] = []

    def older(s: EpisodeSummary, days: float | None) -> bool:
        return days is not None and (s.completed_at or s.started_at) < now - timedelta(days=days)

    for s in summaries:
        if s.completed_at is None and s.outcome is None:
            if older(s, policy.abandoned_after_days):
                out.append((s.id, "abandoned"))
            continue
        success = s.outcome is OutcomeType.SUCCESS
        if success and policy.keep_successful_longer and policy.successful_max_age_days:
            if older(s, policy.successful_max_age_days):
                out.append((s.id, "max_age"))
                continue
        elif older(s, policy.max_age_days):
            out.append((s.id, "max_age"))
            continue
        kept_completed.append(s)
    if policy.max_episodes is not None and len(kept_completed) > policy.max_episodes:
        surplus = len(kept_completed) - policy.max_episodes
        oldest_first = list(reversed(kept_completed))
        if policy.keep_successful_longer:
            # failures (and partial successes) go before successes, oldest first in each
            oldest_first.sort(key=lambda s: s.outcome is OutcomeType.SUCCESS)
        out.extend((s.id, "max_episodes") for s in oldest_first[:surplus])
    return out


def apply_retention(
    memory: SelfLearningMemory,
    *,
    tenants: Iterable[str] | None = None,
    dry_run: bool = True,
    now: datetime | None = None,
) -> list[RetentionReport]:
    """Apply each tenant's policy; ``dry_run`` (the default) only lists.

    ``tenants`` defaults to the tenants named in ``config.retention`` plus the config's
    own tenant when a ``"*"`` policy exists (storage cannot list tenants).
    """
    config = memory.config
    if tenants is None:
        named = [t for t in config.retention if t != "*"]
        if "*" in config.retention and config.tenant not in named:
            named.append(config.tenant)
        tenants = named
    now = now or utcnow()
    reports = []
    for tenant in tenants:
        t = memory._tenant(tenant)
        policy = policy_for(memory, t)
        report = RetentionReport(tenant=t, dry_run=dry_run)
        reports.append(report)
        if policy is None:
            continue
        summaries: list[EpisodeSummary] = []
        cursor: str | None = None
        while True:
            with memory._lock:
                page = memory.storage.list_episodes(t, EpisodeFilter(), _PAGE, cursor)
            summaries.extend(page.items)
            if not page.next_cursor:
                break
            cursor = page.next_cursor
        report.expired = select_expired(summaries, policy, now)
        if dry_run or not report.expired:
            continue
        erasure = ErasureReport(tenant=t)
        for eid, _ in report.expired:
            erasure.merge(_erase_one(memory, t, eid))
        report.erasure = erasure
        memory._audit("retention", t, erasure.episode_ids, "ok")
        log.info("retention removed %d episode(s) of tenant %s", len(erasure.episode_ids), t)
    return reports


class RetentionJob:
    """Runs ``apply_retention`` (and the audit log's own retention) every
    ``interval_seconds`` in a daemon thread until ``stop()``.

    Errors of a run are logged and the next run still happens.
    """

    def __init__(
        self,
        memory: SelfLearningMemory,
        interval_seconds: float,
        *,
        tenants: Iterable[str] | None = None,
        on_run: Callable[[list[RetentionReport]], None] | None = None,
    ) -> None:
        if not interval_seconds > 0:
            raise InvalidInputError(
                "interval_seconds must be > 0", field="retention_interval_seconds", limit=0
            )
        self.memory = memory
        self.interval = interval_seconds
        self.tenants = list(tenants) if tenants is not None else None
        self.on_run = on_run
        self.runs = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> list[RetentionReport]:
        reports = apply_retention(self.memory, tenants=self.tenants, dry_run=False)
        days = self.memory.config.audit_retention_days
        if days is not None:
            for r in reports:
                self.memory.audit_log.purge(r.tenant, max_age_days=days)
        self.runs += 1
        if self.on_run is not None:
            self.on_run(reports)
        return reports

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:
                log.exception("retention run failed; retrying in %.0f s", self.interval)
            self._stop.wait(self.interval)

    def start(self) -> RetentionJob:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="memory-retention", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float | None = None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()


def start_retention_job(memory: SelfLearningMemory) -> RetentionJob | None:
    """Start the background job when ``retention_interval_seconds`` is configured (servers
    call this at startup and ``stop()`` at shutdown); ``None`` otherwise."""
    interval = memory.config.retention_interval_seconds
    if interval is None:
        return None
    return RetentionJob(memory, interval).start()
