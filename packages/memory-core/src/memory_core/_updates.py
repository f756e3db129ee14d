"""Correcting a completed episode: the real outcome, and notes or lessons learnt afterwards.

An agent often finds out later that a task it reported as done was not (the fix broke
something), or the reverse. ``update_episode`` lets it say so, and the memory learns
from what really happened:

1. the reward and the reflection are recomputed for the new outcome (the duration is
   still measured to the original completion); lessons join the reflection's insights
   as ``Lesson: …``, and notes and lessons are kept in ``metadata["notes"]`` and
   ``metadata["lessons"]`` (appended, oldest first);
2. the patterns are extracted again with the new outcome; each pattern the episode fed
   before or feeds now is computed in its final state: its stored counts, minus exactly
   what this episode added before (``subtract_episode``, as for a deletion), plus what
   it adds now; heuristics are re-derived from those;
3. one storage transaction (``RecordStore.correct_episode``) rewrites the episode in
   place (steps, vectors, records and usage rows untouched; version bumped), stores
   those patterns and heuristics, deletes what no episode feeds any more, and writes
   the ``update_episode`` audit record. A crash (kill -9) leaves the old episode with
   its old statistics or the new one with the new, never a half (the episode used to be
   deleted and re-created, which a crash could cut in half).

Everything runs under the memory's lock, so two corrections in one process cannot
interleave; another process writing the same patterns between the read in step 2 and
the transaction in step 3 would have its change overwritten (the same window as
erasure's retraction).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING, Any
from uuid import UUID

from memory_core._errors import (
    ConfigurationError,
    EpisodeNotFoundError,
    EpisodeStateError,
    InvalidInputError,
)
from memory_core._ids import as_uuid
from memory_core._logging import event
from memory_core._models import Episode, Extraction, Pattern, TaskOutcome, utcnow
from memory_core._protocols import RecordStore
from memory_core._validation import check_json, check_outcome, check_text, coerce
from memory_core.extraction import derive_heuristics, extract_patterns
from memory_core.reflection import reflect
from memory_core.reward import compute_reward
from memory_core.security._audit import AuditLog
from memory_core.security._erasure import subtract_episode
from memory_core.security._system import AUDIT_KIND

if TYPE_CHECKING:
    from memory_core._memory import SelfLearningMemory


def _texts(values: Sequence[str] | None, field: str, limit: int, most: int) -> list[str]:
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    if len(values) > most:
        raise InvalidInputError(
            f"{field} has {len(values)} items; the limit is {most}",
            field=field,
            limit=most,
        )
    for i, v in enumerate(values):
        check_text(v, f"{field}[{i}]", limit, required=True)
    return [v.strip() for v in values]


def _listed(value: object) -> list[str]:
    """An earlier ``notes``/``lessons`` entry as a list of strings (a caller may have set
    the metadata key by hand)."""
    if isinstance(value, list):
        return [str(v) for v in value]
    return [] if value is None else [str(value)]


def _correct(
    host: SelfLearningMemory,
    tenant: str,
    before: Episode,
    after: Episode,
    patterns: list[Pattern],
) -> Episode:
    """One storage transaction: the episode rewritten in place, its old contribution
    taken out of its patterns and the new one merged, heuristics re-derived from the
    result, and the audit record. Patterns the episode fed before and feeds again are
    given in their final state (old counts minus the old contribution plus the new)."""
    c = host._ctx
    storage = c.backends.storage
    if not isinstance(storage, RecordStore):
        raise ConfigurationError(
            "update_episode needs a storage backend with records (RecordStore)",
            key="storage_backend",
        )
    stored = storage.get_patterns(tenant, before.pattern_ids)
    kept, gone = subtract_episode(stored, before)
    now = utcnow()
    final = {p.id: p for p in kept}
    emptied = {p.id: p for p in stored if p.id in set(gone)}
    fresh: list[Pattern] = []
    for p in patterns:
        if p.id in final:
            final[p.id] = final[p.id].merged_with(p, now)
        elif p.id in emptied:  # fed only by this episode, and still fed by it
            base = emptied.pop(p.id)
            base = base.model_copy(update={"support": 0, "successes": 0.0, "episode_ids": []})
            final[p.id] = base.merged_with(p, now)
        else:
            fresh.append(p)
    final_ids = set(final)
    touched = [*final.values(), *(p.as_new(tenant) for p in fresh)]
    heuristics = derive_heuristics(touched)
    derived = {h.id for h in heuristics}
    stale = [
        hid for p in stored if (hid := Pattern.make_id(tenant, "heuristic|" + p.key)) not in derived
    ]
    extraction = Extraction(patterns=fresh, heuristics=heuristics)  # text unchanged: vectors kept
    audit = c.guard.audit_log.make(tenant, "update_episode", target_ids=[before.id])
    record = None if audit is None else (AUDIT_KIND, audit.id, AuditLog.data(audit))
    out = storage.correct_episode(
        after,
        extraction,
        replace_patterns=list(final.values()),
        delete_patterns=[pid for pid in emptied if pid not in final_ids],
        delete_heuristics=stale,
        record=record,
    )
    for p in storage.get_patterns(tenant, [*before.pattern_ids, *after.pattern_ids]):
        c.cache.put_pattern(tenant, p)
    cache = c.backends.cache
    for key in [str(pid) for pid in emptied]:
        c.cache.safe(partial(cache.delete, "pattern", tenant, key))
    return out


def update_episode(
    host: SelfLearningMemory,
    episode_id: UUID | str,
    outcome: TaskOutcome | dict[str, Any] | None,
    notes: Sequence[str] | None,
    lessons: Sequence[str] | None,
    tenant: str | None,
) -> Episode:
    """The module docstring's steps; returns the updated episode."""
    c = host._ctx
    with c.metrics.timed("update_episode"):
        eid = as_uuid(episode_id, "episode_id")
        new = None if outcome is None else coerce(TaskOutcome, outcome, "outcome")
        if new is not None:
            check_outcome(new, c.limits)
        added_notes = _texts(notes, "notes", c.limits.max_action_chars, c.limits.max_artifacts)
        added_lessons = _texts(
            lessons, "lessons", c.limits.max_action_chars, c.limits.max_artifacts
        )
        if new is None and not added_notes and not added_lessons:
            raise InvalidInputError(
                "nothing to update: give an outcome, notes or lessons", field="outcome"
            )
        t = c.tenant(tenant)
        storage = c.backends.storage
        with c.lock:
            episode = storage.get_episode(t, eid)
            if episode is None:
                raise EpisodeNotFoundError(eid)
            if episode.outcome is None or episode.completed_at is None:
                raise EpisodeStateError(
                    f"episode {eid} is not completed; complete_episode gives its outcome"
                )
            if (t, eid) in set(storage.pending_extractions(100_000)):
                raise EpisodeStateError(
                    f"episode {eid} is still being learnt from (extraction pending); retry"
                )
            out = new or episode.outcome
            meta: dict[str, Any] = dict(episode.metadata)
            kept = {k: _listed(meta.get(k)) for k in ("notes", "lessons")}
            kept["notes"] += added_notes
            kept["lessons"] += added_lessons
            for key, values in kept.items():
                if values:
                    meta[key] = values
            lessons_all = kept["lessons"]
            check_json(meta, "metadata", c.limits.max_metadata_bytes, c.limits.max_json_depth)
            c.guard.require_encryption(meta)  # security: same rule as at creation
            reward = compute_reward(
                episode, out, episode.completed_at, host._episodes._reference(episode, t)
            )
            reflection = reflect(episode, out, reward)
            reflection = reflection.model_copy(
                update={"insights": [*reflection.insights, *(f"Lesson: {x}" for x in lessons_all)]}
            )
            done = episode.model_copy(
                update={
                    "outcome": out,
                    "reward": reward,
                    "reflection": reflection,
                    "metadata": meta,
                    "updated_at": utcnow(),
                    "version": episode.version + 1,
                }
            )
            patterns = extract_patterns(done, out)
            done = done.model_copy(update={"pattern_ids": [p.id for p in patterns]})
            stored = _correct(host, t, episode, done, patterns)
            c.cache.put_episode(stored)
            c.cache.invalidate_retrievals(t)
        event(
            "episode updated",
            episode_id=str(eid),
            outcome=out.type.value,
            was=episode.outcome.type.value,
            reward=reward.total,
        )
        return stored
