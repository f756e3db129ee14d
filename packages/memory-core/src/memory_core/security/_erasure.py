"""Erasure ("right to be forgotten") of an episode, of a tenant, or of what a filter matches.

``erase_episode`` removes the episode from every place the library knows:

* storage rows, steps, full-text index, vectors, pattern usage, pattern sources and every
  record naming it (including its data key: ciphertext left anywhere becomes unreadable);
  all by ``StorageBackend.delete_episode``;
* its contribution to patterns: each pattern in ``episode.pattern_ids`` loses one
  ``support`` and the episode's observed success; a pattern left with no support is
  deleted, a description quoting the episode is rebuilt from structure only, heuristics
  are re-derived and those whose evidence went away are deleted. Backends do this through
  the optional ``replace_patterns`` method (see ``/tmp/notes/security.md``, request R1);
  without it ``ErasureReport.patterns_retracted`` is false and a warning is logged;
* the cache (the episode's entries and the tenant's retrieval results);
* exports made afterwards (they read storage);
* with ``compact=True``, free pages and the write-ahead log of a local database file
  (``vacuum``) and the cache's free pages (``compact``, request R2), so the bytes are gone
  from disk too.

The audit log keeps one record that the erasure happened (operation, ids, outcome).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from uuid import UUID

from memory_core._models import (
    Episode,
    EpisodeFilter,
    OutcomeType,
    Pattern,
    PatternFilter,
    PatternKind,
    TaskOutcome,
    utcnow,
)
from memory_core._protocols import CacheCompactor, Maintenance, RecordStore
from memory_core._validation import coerce
from memory_core.extraction import derive_heuristics, extract_patterns
from memory_core.reward import base_reward

if TYPE_CHECKING:
    from memory_core._memory import SelfLearningMemory

__all__ = [
    "ErasureReport",
    "erase_episode",
    "erase_matching",
    "erase_tenant",
    "neutral_description",
    "observed_success",
    "retract_patterns",
    "subtract_episode",
]

log = logging.getLogger("memory_core.security")

_PAGE = 200


@dataclass
class ErasureReport:
    """What an erasure removed. ``episode_ids`` lists the episodes erased (or, with
    ``dry_run``, that would be)."""

    tenant: str
    episode_ids: list[UUID] = field(default_factory=list)
    patterns_updated: int = 0
    patterns_deleted: int = 0
    heuristics_deleted: int = 0
    patterns_retracted: bool = True
    compacted: bool = False
    dry_run: bool = False

    def merge(self, other: ErasureReport) -> None:
        self.episode_ids.extend(other.episode_ids)
        self.patterns_updated += other.patterns_updated
        self.patterns_deleted += other.patterns_deleted
        self.heuristics_deleted += other.heuristics_deleted
        self.patterns_retracted = self.patterns_retracted and other.patterns_retracted


def observed_success(outcome: TaskOutcome) -> float:
    """The success an episode added to each pattern it fed (see ``extraction``)."""
    if outcome.type is OutcomeType.SUCCESS:
        return 1.0
    return base_reward(outcome) if outcome.type is OutcomeType.PARTIAL_SUCCESS else 0.0


def neutral_description(p: Pattern) -> str:
    """A pattern description built from its structure only, quoting no episode."""
    task = p.task_type.value if p.task_type else "any"
    where = ", ".join(x for x in (p.domain, p.language) if x)
    where = f" ({where})" if where else ""
    tools = " → ".join(p.tools)
    if p.kind is PatternKind.TOOL_SEQUENCE:
        return f"Tool sequence for {task} tasks{where}: {tools}."
    if p.kind is PatternKind.DECISION_POINT:
        return f"After '{p.condition}', continue with {p.action}."
    if p.kind is PatternKind.ERROR_RECOVERY:
        return f"When {p.condition}, recover with {p.action}."
    return p.description


def _quotes(p: Pattern, episode: Episode) -> bool:
    texts = [episode.task_description[:200]] + [s.action[:120] for s in episode.steps]
    return any(len(t.strip()) >= 8 and t in p.description for t in texts)


def subtract_episode(stored: list[Pattern], episode: Episode) -> tuple[list[Pattern], list[UUID]]:
    """The stored patterns without what ``episode`` added to them: (updated, ids left
    with no support). Writes nothing (``retract_patterns`` and ``update_episode`` do)."""
    assert episode.outcome is not None
    success = observed_success(episode.outcome)
    # What the episode added to each pattern: extraction is deterministic, so running it
    # again says (a failed earlier attempt added no success, whatever the outcome was).
    added = {p.id: p.successes for p in extract_patterns(episode, episode.outcome)}
    updated: list[Pattern] = []
    deleted: list[UUID] = []
    now = utcnow()
    for p in stored:
        support = p.support - 1
        if support <= 0:
            deleted.append(p.id)
            continue
        description = neutral_description(p) if _quotes(p, episode) else p.description
        updated.append(
            p.model_copy(
                update={
                    "support": support,
                    "successes": max(
                        0.0, min(float(support), p.successes - added.get(p.id, success))
                    ),
                    "episode_ids": [i for i in p.episode_ids if i != episode.id],
                    "description": description,
                    "version": p.version + 1,
                    "updated_at": now,
                }
            )
        )
    return updated, deleted


def retract_patterns(memory: SelfLearningMemory, tenant: str, episode: Episode) -> ErasureReport:
    """Take an episode's contribution out of its patterns (call before deleting it)."""
    report = ErasureReport(tenant=tenant)
    storage = memory.storage
    if episode.outcome is None or not episode.pattern_ids:
        return report
    if (tenant, episode.id) in set(storage.pending_extractions(100_000)):
        return report  # its patterns were never merged
    if not isinstance(storage, RecordStore):
        report.patterns_retracted = False
        log.warning(
            "the storage backend cannot retract pattern statistics (no replace_patterns); "
            "patterns of erased episode %s keep its counts",
            episode.id,
        )
        return report
    stored = storage.get_patterns(tenant, episode.pattern_ids)
    updated, deleted = subtract_episode(stored, episode)
    fresh = {h.id: h for h in derive_heuristics(updated)}
    stale = [
        Pattern.make_id(tenant, "heuristic|" + p.key)
        for p in stored
        if Pattern.make_id(tenant, "heuristic|" + p.key) not in fresh
    ]
    storage.replace_patterns(tenant, updated, delete_patterns=deleted, delete_heuristics=stale)
    if fresh:
        storage.upsert_heuristics(tenant, list(fresh.values()))
    report.patterns_updated = len(updated)
    report.patterns_deleted = len(deleted)
    report.heuristics_deleted = len(stale)
    cache = memory.cache
    for pid in [*deleted, *(p.id for p in updated)]:
        try:
            cache.delete("pattern", tenant, str(pid))
        except Exception:
            log.debug("cache delete failed", exc_info=True)
    return report


def _erase_one(memory: SelfLearningMemory, tenant: str, episode_id: UUID) -> ErasureReport:
    # delete_episode retracts the patterns and deletes physically (memory_core._deletion)
    report: ErasureReport = memory._delete_episode(episode_id, tenant)
    return report


def _compact(memory: SelfLearningMemory, report: ErasureReport) -> None:
    """Drop freed pages that still hold erased bytes: the database's ``vacuum`` and the
    cache's ``compact`` (optional operator methods; request R2 for the LMDB cache)."""
    storage, cache = memory.storage, memory.cache
    vacuumed = compacted = False
    with memory._lock:
        if isinstance(storage, Maintenance):
            storage.vacuum()
            vacuumed = True
        else:
            log.warning("the storage backend has no vacuum; freed pages keep old bytes")
        if cache.name == "none":
            compacted = True  # nothing was ever written
        elif isinstance(cache, CacheCompactor):
            cache.compact()
            compacted = True
        else:
            log.warning("the cache has no compact(); its freed pages keep old bytes until reused")
    report.compacted = vacuumed and compacted


def erase_episode(
    memory: SelfLearningMemory,
    episode_id: UUID | str,
    *,
    tenant: str | None = None,
    compact: bool = False,
) -> ErasureReport:
    """Erase one episode everywhere (see module docstring); audited as ``erase_episode``."""
    eid = episode_id if isinstance(episode_id, UUID) else UUID(str(episode_id))
    t = memory._tenant(tenant)
    report = _erase_one(memory, t, eid)
    if compact:
        _compact(memory, report)
    memory._audit("erase_episode", t, [eid], "ok" if report.episode_ids else "not_found")
    return report


def _matching(memory: SelfLearningMemory, tenant: str, f: EpisodeFilter) -> list[UUID]:
    ids: list[UUID] = []
    cursor: str | None = None
    while True:
        with memory._lock:
            page = memory.storage.list_episodes(tenant, f, _PAGE, cursor)
        ids.extend(s.id for s in page.items)
        if not page.next_cursor:
            return ids
        cursor = page.next_cursor


def erase_matching(
    memory: SelfLearningMemory,
    filters: EpisodeFilter | dict[str, Any],
    *,
    tenant: str | None = None,
    dry_run: bool = False,
    compact: bool = False,
) -> ErasureReport:
    """Erase every episode of the tenant matching ``filters`` (an ``EpisodeFilter``).
    An empty filter is refused: use ``erase_tenant`` to erase everything."""
    f = coerce(EpisodeFilter, filters, "filters")
    if f.is_empty():
        from memory_core._errors import InvalidInputError

        raise InvalidInputError(
            "an empty filter would erase every episode; use erase_tenant for that",
            field="filters",
        )
    t = memory._tenant(tenant)
    ids = _matching(memory, t, f)
    report = ErasureReport(tenant=t, dry_run=dry_run)
    if dry_run:
        report.episode_ids = ids
        return report
    for eid in ids:
        report.merge(_erase_one(memory, t, eid))
    if compact:
        _compact(memory, report)
    memory._audit("erase_matching", t, report.episode_ids, "ok")
    return report


def erase_tenant(
    memory: SelfLearningMemory,
    tenant: str,
    *,
    dry_run: bool = False,
    compact: bool = False,
    record_kinds: Iterable[str] = (),
) -> ErasureReport:
    """Erase every episode of a tenant, then the patterns and heuristics left (their
    evidence is gone), records of ``record_kinds`` and the tenant's cache. The tenant's
    audit log stays, with a record of this erasure."""
    t = memory._tenant(tenant)
    ids = _matching(memory, t, EpisodeFilter())
    report = ErasureReport(tenant=t, dry_run=dry_run)
    if dry_run:
        report.episode_ids = ids
        return report
    for eid in ids:
        report.merge(_erase_one(memory, t, eid))
    with memory._lock:
        storage = memory.storage
        page = min(500, memory.limits.max_limit)
        while True:
            left = storage.list_patterns(t, PatternFilter(), page)
            heuristics = storage.list_heuristics(t, page)
            if not left and not heuristics:
                break
            if not isinstance(storage, RecordStore):
                report.patterns_retracted = False
                log.warning("the storage backend cannot delete patterns (no replace_patterns)")
                break
            storage.replace_patterns(
                t,
                [],
                delete_patterns=[p.id for p in left],
                delete_heuristics=[h.id for h in heuristics],
            )
            report.patterns_deleted += len(left)
            report.heuristics_deleted += len(heuristics)
        for kind in record_kinds:
            while isinstance(storage, RecordStore):
                rows = storage.list_records(t, kind, limit=500)
                if not rows:
                    break
                for _, rid, _ in rows:
                    storage.delete_record(t, kind, rid)
        memory.cache.invalidate_tenant(t)
    if compact:
        _compact(memory, report)
    memory._audit("erase_tenant", t, [t], "ok")
    return report
