"""``InMemoryStorage``: the complete ``StorageBackend`` contract in process memory.

For ephemeral use (``DATABASE_URL=memory:``) and for tests of everything above storage.
Nothing survives the process, so the durability rule of the protocol does not apply;
every other rule does: records are scoped by tenant, every write is all-or-nothing
(validated first, then applied), reads and writes are serialised by one lock, and
stored records are deep copies, so a caller mutating what it passed or got back never
changes stored state (copies go through JSON, like rows of a real database).

Lexical search is BM25 over an inverted index kept up to date on every write; vector
search is exact cosine over one numpy matrix per (tenant, model).

Over 400 lines because it is the whole contract in one class: every role protocol over
one lock and one set of per-tenant tables, mirroring ``LibSQLStorage`` method for method
so that the two can be read side by side against ``memory_core.testing.storage_contract``.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import heapq
import json
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar
from uuid import UUID

import numpy as np
import numpy.typing as npt

from memory_core._errors import (
    ConfigurationError,
    DuplicateStepError,
    EpisodeNotFoundError,
    EpisodeStateError,
    InvalidInputError,
    PatternNotFoundError,
    StorageError,
)
from memory_core._models import (
    SCHEMA_VERSION,
    EmbeddingModelInfo,
    EmbeddingRecord,
    Episode,
    EpisodeFilter,
    EpisodePage,
    EpisodeSummary,
    ExecutionStep,
    Extraction,
    Heuristic,
    Pattern,
    PatternFilter,
    SearchHit,
    StorageStats,
    utcnow,
)
from memory_core._text import terms
from memory_core._validation import number_steps
from memory_core.storage._bm25 import Bm25Index
from memory_core.storage._vectors import VectorMatrix

if TYPE_CHECKING:
    from memory_core._config import MemoryConfig

__all__ = ["InMemoryStorage"]

"""Source episode ids a pattern keeps (the newest)."""

M = TypeVar("M", Episode, Pattern, Heuristic, EpisodeSummary, ExecutionStep)

_SortKey = tuple[datetime, UUID]


def _copy(model: M) -> M:
    """An independent copy. Through JSON because it is ~5x faster than ``deepcopy`` and
    gives back exactly what a durable backend would: the JSON round trip."""
    return type(model).model_validate_json(model.model_dump_json())


def _check_limit(limit: int) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidInputError(
            f"limit must be a positive integer, got {limit!r}", field="limit", limit=1
        )


@dataclass
class _Tenant:
    """Everything one tenant owns."""

    episodes: dict[UUID, Episode] = field(default_factory=dict)  # rows without steps
    steps: dict[UUID, dict[int, ExecutionStep]] = field(default_factory=dict)
    summaries: dict[UUID, EpisodeSummary] = field(default_factory=dict)
    ordinal: dict[UUID, int] = field(default_factory=dict)  # episode -> row owner number
    next_ordinal: int = 0
    order: list[_SortKey] = field(default_factory=list)  # ascending (started_at, id)
    text: Bm25Index[tuple[UUID, int]] = field(default_factory=Bm25Index)
    vectors: dict[str, VectorMatrix] = field(default_factory=dict)
    patterns: dict[UUID, Pattern] = field(default_factory=dict)
    pattern_by_key: dict[str, UUID] = field(default_factory=dict)
    pattern_text: Bm25Index[UUID] = field(default_factory=Bm25Index)
    usage: dict[tuple[UUID, UUID], bool] = field(default_factory=dict)
    heuristics: dict[str, Heuristic] = field(default_factory=dict)
    # RecordStore: (kind, id) -> (seq, data, episode_id, related_id)
    records: dict[tuple[str, str], tuple[int, dict[str, Any], UUID | None, UUID | None]] = field(
        default_factory=dict
    )
    # Indexes over ``records`` so no read walks every kind (the audit log grows by two
    # records per episode): per kind, ascending seqs and seq -> id; per episode named
    # (as episode_id or related_id), the (kind, id) keys.
    record_seqs: dict[str, list[int]] = field(default_factory=dict)
    record_ids: dict[str, dict[int, str]] = field(default_factory=dict)
    records_of_episode: dict[UUID, dict[tuple[str, str], None]] = field(default_factory=dict)
    next_seq: int = 0
    generation: int = 0


class InMemoryStorage:
    """A thread-safe, non-durable ``StorageBackend``. See the module docstring."""

    name: ClassVar[str] = "memory"
    schemes: ClassVar[tuple[str, ...]] = ("memory",)

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._tenants: dict[str, _Tenant] = {}
        self._owner: dict[UUID, str] = {}  # episode id -> tenant: ids are global
        self._pending: dict[tuple[str, UUID], None] = {}  # insertion-ordered set
        self._dimensions: dict[str, int] = {}  # model id -> dimension, all tenants
        self._closed = False

    @classmethod
    def from_url(cls, url: str, config: MemoryConfig | None = None) -> InMemoryStorage:
        """``memory:`` (or ``memory://anything``): a new, empty store each call."""
        if url.split(":", 1)[0].lower() not in cls.schemes:
            raise ConfigurationError(
                f"InMemoryStorage serves 'memory:' URLs, not {url!r}", key="DATABASE_URL"
            )
        return cls()

    # -- lifecycle ---------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            self._closed = True

    @property
    def schema_version(self) -> int:
        return SCHEMA_VERSION

    def health(self) -> dict[str, Any]:
        with self._lock:
            return {
                "ok": not self._closed,
                "backend": self.name,
                "durable": False,
                "tenants": len(self._tenants),
                "episodes": len(self._owner),
            }

    def _open(self) -> None:
        if self._closed:
            raise StorageError("the in-memory storage is closed")

    def _tenant(self, tenant: str) -> _Tenant:
        t = self._tenants.get(tenant)
        if t is None:
            t = self._tenants[tenant] = _Tenant()
        return t

    def _peek(self, tenant: str) -> _Tenant | None:
        """The tenant's state for reads, without creating it."""
        return self._tenants.get(tenant)

    # -- episodes ----------------------------------------------------------------------

    def create_episode(self, episode: Episode) -> None:
        with self._lock:
            self._open()
            owner = self._owner.get(episode.id)
            if owner is not None:
                existing = self._full_episode(self._tenants[owner], episode.id)
                if owner == episode.tenant and existing == episode:
                    return
                raise InvalidInputError(
                    f"an episode with id {episode.id} already exists with other content", field="id"
                )
            _check_step_numbers([s.step_number for s in episode.steps], set())
            t = self._tenant(episode.tenant)
            self._insert_episode(t, episode)
            t.generation += 1

    def _insert_episode(self, t: _Tenant, episode: Episode) -> None:
        """Add a new (validated) episode to every structure of its tenant."""
        row = _copy(episode.model_copy(update={"steps": []}))
        t.episodes[row.id] = row
        t.steps[row.id] = {s.step_number: _copy(s) for s in episode.steps}
        self._owner[row.id] = episode.tenant
        t.ordinal[row.id] = t.next_ordinal
        t.next_ordinal += 1
        bisect.insort(t.order, (row.started_at, row.id))
        t.text.add((row.id, 0), terms(row.task_description))
        for s in episode.steps:
            t.text.add((row.id, s.step_number), terms(s.search_text()))
        self._refresh_summary(t, row.id)

    def import_batch(
        self, tenant: str, episodes: Sequence[Episode], extraction: Extraction
    ) -> list[Pattern]:
        """Store new episodes exactly as given (any status) and one extraction for all of
        them, all or nothing (the bulk path of ``SelfLearningMemory.import_episodes``);
        returns the patterns as stored (merged), so the caller need not read them back.

        Raises ``InvalidInputError`` naming ``episodes[i]`` when one is of another tenant
        or its id exists (in any tenant), or a step number repeats; nothing is written.
        """
        with self._lock:
            self._open()
            seen: set[UUID] = set()
            for i, episode in enumerate(episodes):
                if episode.tenant != tenant:
                    raise InvalidInputError(
                        f"episodes[{i}] belongs to tenant {episode.tenant!r}, not {tenant!r}",
                        field=f"episodes[{i}].tenant",
                    )
                if episode.id in self._owner or episode.id in seen:
                    raise InvalidInputError(
                        f"an episode with id {episode.id} already exists", field=f"episodes[{i}].id"
                    )
                seen.add(episode.id)
                try:
                    _check_step_numbers([s.step_number for s in episode.steps], set())
                except DuplicateStepError as exc:
                    raise InvalidInputError(str(exc), field=f"episodes[{i}].steps") from None
            self._validate_patterns(tenant, extraction.patterns)
            _check_tenants(tenant, extraction.heuristics, "heuristics")
            batch_dims: dict[str, int] = {}
            for j, record in enumerate(extraction.embeddings):
                if record.episode_id not in seen:
                    raise EpisodeNotFoundError(record.episode_id)
                dim = self._dimensions.get(record.model_id) or batch_dims.setdefault(
                    record.model_id, record.dimension
                )
                if record.dimension != dim:
                    raise InvalidInputError(
                        f"embeddings[{j}].vector must have {dim} dimensions",
                        field=f"embeddings[{j}].vector",
                        limit=dim,
                    )
            t = self._tenant(tenant)
            for episode in episodes:
                self._insert_episode(t, episode)
            stored = self._write_patterns(t, extraction.patterns)
            self._write_heuristics(t, extraction.heuristics)
            units = [
                (r, _unit(r.vector, r.dimension, f"embeddings[{j}].vector"))
                for j, r in enumerate(extraction.embeddings)
            ]
            self._write_embeddings(t, units)
            t.generation += 1
            return stored

    def append_steps(self, tenant: str, episode_id: UUID, steps: Sequence[ExecutionStep]) -> int:
        with self._lock:
            self._open()
            t, row = self._row(tenant, episode_id)
            stored = t.steps[episode_id]
            if row.outcome is not None:
                raise EpisodeStateError(
                    f"episode {episode_id} is completed; steps can no longer be added"
                )
            if not steps:
                return len(stored)
            _check_step_numbers([s.step_number for s in steps], set(stored))
            for s in steps:
                stored[s.step_number] = _copy(s)
                t.text.add((episode_id, s.step_number), terms(s.search_text()))
            self._bump(t, episode_id)
            return len(stored)

    def append_next_steps(
        self,
        tenant: str,
        episode_id: UUID,
        steps: Sequence[ExecutionStep],
        unnumbered: Sequence[int],
        prepare: Callable[[list[ExecutionStep]], list[ExecutionStep]] | None = None,
    ) -> tuple[int, list[ExecutionStep]]:
        with self._lock:  # one (re-entrant) lock over reading the top number and appending
            self._open()
            t, _ = self._row(tenant, episode_id)
            top = max(t.steps[episode_id], default=0)
            numbered = number_steps(steps, unnumbered, top + 1)
            written = prepare(numbered) if prepare is not None else numbered
            return self.append_steps(tenant, episode_id, written), numbered

    def get_episode(self, tenant: str, episode_id: UUID) -> Episode | None:
        with self._lock:
            self._open()
            t = self._peek(tenant)
            if t is None or episode_id not in t.episodes:
                return None
            return self._full_episode(t, episode_id)

    def get_steps(
        self, tenant: str, episode_id: UUID, step_numbers: Sequence[int]
    ) -> list[ExecutionStep]:
        with self._lock:
            self._open()
            t = self._peek(tenant)
            stored = t.steps.get(episode_id) if t is not None else None
            if not stored:
                return []
            return [_copy(stored[n]) for n in sorted(set(step_numbers)) if n in stored]

    def get_steps_many(
        self, tenant: str, wanted: Sequence[tuple[UUID, Sequence[int]]]
    ) -> dict[UUID, list[ExecutionStep]]:
        """``get_steps`` for several episodes in one call (the query path's one read)."""
        with self._lock:
            self._open()
            t = self._peek(tenant)
            out: dict[UUID, list[ExecutionStep]] = {}
            for episode_id, numbers in wanted:
                stored = t.steps.get(episode_id) if t is not None else None
                if stored:
                    out[episode_id] = [
                        _copy(stored[n]) for n in sorted(set(numbers)) if n in stored
                    ]
            return out

    def get_summaries(self, tenant: str, episode_ids: Sequence[UUID]) -> list[EpisodeSummary]:
        with self._lock:
            self._open()
            t = self._peek(tenant)
            if t is None:
                return []
            return [_copy(t.summaries[i]) for i in episode_ids if i in t.summaries]

    def list_episodes(
        self, tenant: str, filters: EpisodeFilter, limit: int, cursor: str | None = None
    ) -> EpisodePage:
        _check_limit(limit)
        after = _decode_cursor(cursor) if cursor is not None else None
        with self._lock:
            self._open()
            t = self._peek(tenant)
            if t is None:
                return EpisodePage(items=[])
            # ``order`` is ascending; walk it backwards from just below the cursor
            start = bisect.bisect_left(t.order, after) if after is not None else len(t.order)
            items: list[EpisodeSummary] = []
            i = start - 1
            while i >= 0 and len(items) < limit:
                summary = t.summaries[t.order[i][1]]
                if filters.matches(summary):
                    items.append(_copy(summary))
                i -= 1
            more = len(items) == limit and any(
                filters.matches(t.summaries[t.order[j][1]]) for j in range(i, -1, -1)
            )
            next_cursor = _encode_cursor(items[-1].started_at, items[-1].id) if more else None
            return EpisodePage(items=items, next_cursor=next_cursor)

    def count_episodes(self, tenant: str, filters: EpisodeFilter) -> int:
        with self._lock:
            self._open()
            t = self._peek(tenant)
            if t is None:
                return 0
            if filters.is_empty():
                return len(t.summaries)
            return sum(1 for s in t.summaries.values() if filters.matches(s))

    def complete_episode(self, episode: Episode, extraction: Extraction | None) -> None:
        if episode.outcome is None:
            raise InvalidInputError("a completed episode needs an outcome", field="outcome")
        with self._lock:
            self._open()
            t, row = self._row(episode.tenant, episode.id)
            if row.outcome is not None:
                raise EpisodeStateError(f"episode {episode.id} is already completed")
            if extraction is not None:
                self._validate_extraction(episode.tenant, extraction)
            new_row = _copy(
                episode.model_copy(
                    update={
                        "steps": [],
                        "version": row.version + 1,
                        "updated_at": max(utcnow(), row.updated_at),
                    }
                )
            )
            if new_row.started_at != row.started_at:
                t.order.remove((row.started_at, row.id))
                bisect.insort(t.order, (new_row.started_at, row.id))
            t.episodes[row.id] = new_row
            if new_row.task_description != row.task_description:
                t.text.add((row.id, 0), terms(new_row.task_description))
            self._refresh_summary(t, row.id)
            if extraction is None:
                self._pending[(episode.tenant, episode.id)] = None
            else:
                self._write_extraction(episode.tenant, t, extraction)
            t.generation += 1

    def apply_extraction(self, tenant: str, episode_id: UUID, extraction: Extraction) -> None:
        with self._lock:
            self._open()
            if (tenant, episode_id) not in self._pending:
                return
            self._validate_extraction(tenant, extraction)
            t = self._tenant(tenant)
            self._write_extraction(tenant, t, extraction)
            del self._pending[(tenant, episode_id)]
            t.generation += 1

    def pending_extractions(self, limit: int = 100) -> list[tuple[str, UUID]]:
        _check_limit(limit)
        with self._lock:
            self._open()
            return [key for key, _ in zip(self._pending, range(limit), strict=False)]

    def delete_episode(self, tenant: str, episode_id: UUID) -> bool:
        with self._lock:
            self._open()
            t = self._peek(tenant)
            if t is None or episode_id not in t.episodes:
                return False
            row = t.episodes.pop(episode_id)
            stored_steps = t.steps.pop(episode_id)
            del t.summaries[episode_id]
            del t.ordinal[episode_id]
            del self._owner[episode_id]
            self._pending.pop((tenant, episode_id), None)
            t.order.pop(bisect.bisect_left(t.order, (row.started_at, episode_id)))
            t.text.remove((episode_id, 0))
            for n in stored_steps:
                t.text.remove((episode_id, n))
            for matrix in t.vectors.values():
                matrix.remove_episode(episode_id)
            now = utcnow()
            for pid, pattern in list(t.patterns.items()):
                changed = False
                if episode_id in pattern.episode_ids:
                    pattern.episode_ids = [e for e in pattern.episode_ids if e != episode_id]
                    changed = True
                success = t.usage.pop((pid, episode_id), None)
                if success is not None:
                    pattern.applications -= 1
                    pattern.application_successes -= int(success)
                    changed = True
                if changed:
                    pattern.version += 1
                    pattern.updated_at = max(now, pattern.updated_at)
            for rkey in list(t.records_of_episode.get(episode_id, {})):
                old = t.records.pop(rkey, None)
                if old is not None:
                    _forget_record(t, rkey, old)
            t.generation += 1
            return True

    def replace_patterns(
        self,
        tenant: str,
        patterns: Sequence[Pattern],
        *,
        delete_patterns: Sequence[UUID] = (),
        delete_heuristics: Sequence[UUID] = (),
    ) -> None:
        """Overwrite patterns exactly (by id; key unchanged) and delete patterns and
        heuristics, atomically (erasure takes an episode's contribution back this way)."""
        with self._lock:
            self._open()
            _check_tenants(tenant, patterns, "patterns")
            t = self._peek(tenant)
            if t is None:
                return
            self._check_replacements(t, patterns)
            self._replace_patterns(t, patterns, delete_patterns, delete_heuristics)
            t.generation += 1

    @staticmethod
    def _check_replacements(t: _Tenant, patterns: Sequence[Pattern]) -> None:
        for i, p in enumerate(patterns):
            old = t.patterns.get(p.id)
            if old is not None and old.key != p.key:
                raise InvalidInputError("a pattern's key cannot change", field=f"patterns[{i}].key")

    @staticmethod
    def _replace_patterns(
        t: _Tenant,
        patterns: Sequence[Pattern],
        delete_patterns: Sequence[UUID],
        delete_heuristics: Sequence[UUID],
    ) -> None:
        for p in patterns:
            if p.id not in t.patterns:
                continue
            t.pattern_text.remove(p.id)
            t.patterns[p.id] = _copy(p)
            t.pattern_text.add(p.id, terms(p.description))
        for pid in delete_patterns:
            gone = t.patterns.pop(pid, None)
            if gone is None:
                continue
            t.pattern_by_key.pop(gone.key, None)
            t.pattern_text.remove(pid)
            for k in [k for k in t.usage if k[0] == pid]:
                del t.usage[k]
        dropped = set(delete_heuristics)
        for key in [k for k, h in t.heuristics.items() if h.id in dropped]:
            del t.heuristics[key]

    def correct_episode(
        self,
        episode: Episode,
        extraction: Extraction,
        *,
        replace_patterns: Sequence[Pattern] = (),
        delete_patterns: Sequence[UUID] = (),
        delete_heuristics: Sequence[UUID] = (),
        record: tuple[str, str, dict[str, Any]] | None = None,
    ) -> Episode:
        """See ``RecordStore.correct_episode``: every check runs before the first change,
        under the lock, so the correction is all or nothing."""
        tenant = episode.tenant
        if episode.outcome is None:
            raise InvalidInputError("a corrected episode needs an outcome", field="outcome")
        data = None if record is None else json.loads(json.dumps(record[2]))
        with self._lock:
            self._open()
            t, row = self._row(tenant, episode.id)
            if row.outcome is None:
                raise EpisodeStateError(f"episode {episode.id} is not completed")
            if (tenant, episode.id) in self._pending:
                raise EpisodeStateError(f"episode {episode.id} has a pending extraction")
            _check_tenants(tenant, replace_patterns, "replace_patterns")
            self._check_replacements(t, replace_patterns)
            self._validate_extraction(tenant, extraction)
            row.outcome = episode.outcome
            row.reward = episode.reward
            row.reflection = episode.reflection
            row.metadata = json.loads(json.dumps(episode.metadata))
            row.pattern_ids = list(episode.pattern_ids)
            self._replace_patterns(t, replace_patterns, delete_patterns, delete_heuristics)
            self._write_extraction(tenant, t, extraction)
            self._bump(t, episode.id)
            if record is not None and data is not None:  # the lock is re-entrant
                self.put_record(tenant, record[0], record[1], data)
            return self._full_episode(t, episode.id)

    # -- records (the RecordStore extension) --------------------------------------------

    def put_record(
        self,
        tenant: str,
        kind: str,
        record_id: str,
        data: dict[str, Any],
        *,
        episode_id: UUID | None = None,
        related_id: UUID | None = None,
    ) -> None:
        copied = json.loads(json.dumps(data))
        with self._lock:
            self._open()
            t = self._tenant(tenant)
            key = (kind, record_id)
            old = t.records.get(key)
            if old is None:
                t.next_seq += 1
                seq = t.next_seq
                t.record_seqs.setdefault(kind, []).append(seq)  # seqs only grow: stays sorted
                t.record_ids.setdefault(kind, {})[seq] = record_id
            else:
                seq = old[0]
                _unlink_record(t, key, old[2], old[3])
            t.records[key] = (seq, copied, episode_id, related_id)
            for named in (episode_id, related_id):
                if named is not None:
                    t.records_of_episode.setdefault(named, {})[key] = None
            t.generation += 1

    def get_record(self, tenant: str, kind: str, record_id: str) -> dict[str, Any] | None:
        with self._lock:
            self._open()
            t = self._peek(tenant)
            row = t.records.get((kind, record_id)) if t else None
            return json.loads(json.dumps(row[1])) if row else None

    def list_records(
        self,
        tenant: str,
        kind: str,
        *,
        episode_id: UUID | None = None,
        limit: int = 100,
        after_seq: int = 0,
    ) -> list[tuple[int, str, dict[str, Any]]]:
        _check_limit(limit)
        with self._lock:
            self._open()
            t = self._peek(tenant)
            if t is None:
                return []
            if episode_id is not None:
                named = t.records_of_episode.get(episode_id, {})
                seqs = sorted(t.records[key][0] for key in named if key[0] == kind)
                seqs = seqs[bisect.bisect_right(seqs, after_seq) :][:limit]
            else:
                all_seqs = t.record_seqs.get(kind, [])
                start = bisect.bisect_right(all_seqs, after_seq)
                seqs = all_seqs[start : start + limit]
            ids = t.record_ids.get(kind, {})
            out = []
            for seq in seqs:
                rid = ids[seq]
                out.append((seq, rid, json.loads(json.dumps(t.records[(kind, rid)][1]))))
            return out

    def delete_record(self, tenant: str, kind: str, record_id: str) -> bool:
        with self._lock:
            self._open()
            t = self._peek(tenant)
            old = t.records.pop((kind, record_id), None) if t is not None else None
            if t is None or old is None:
                return False
            _forget_record(t, (kind, record_id), old)
            t.generation += 1
            return True

    def update_episode_tags(self, tenant: str, episode_id: UUID, tags: Sequence[str]) -> Episode:
        with self._lock:
            self._open()
            t = self._peek(tenant)
            if t is None or episode_id not in t.episodes:
                raise EpisodeNotFoundError(episode_id)
            row = t.episodes[episode_id]
            row.context = row.context.model_copy(update={"tags": list(tags)})
            self._bump(t, episode_id)
            return self._full_episode(t, episode_id)

    # -- search ------------------------------------------------------------------------

    def lexical_search(
        self, tenant: str, query: str, limit: int, filters: EpisodeFilter
    ) -> list[SearchHit]:
        _check_limit(limit)
        query_terms = terms(query)
        with self._lock:
            self._open()
            t = self._peek(tenant)
            if t is None or not query_terms:
                return []
            keep = self._episode_filter(t, filters)
            scores = t.text.scores(query_terms, None if keep is None else lambda k: keep(k[0]))
            best = heapq.nsmallest(limit, scores.items(), key=lambda kv: (-kv[1], kv[0]))
            return [
                SearchHit(episode_id=k[0], item=k[1], score=s, terms=t.text.matched(k, query_terms))
                for k, s in best
            ]

    def vector_search(
        self,
        tenant: str,
        model_id: str,
        vector: npt.NDArray[np.float32],
        limit: int,
        filters: EpisodeFilter,
    ) -> list[SearchHit]:
        _check_limit(limit)
        with self._lock:
            self._open()
            t = self._peek(tenant)
            matrix = t.vectors.get(model_id) if t is not None else None
            if t is None or matrix is None:
                return []
            unit = _unit(vector, matrix.dimension, "vector")
            allowed = None
            if not filters.is_empty():
                allowed = np.zeros(t.next_ordinal, dtype=bool)
                for eid, summary in t.summaries.items():
                    if filters.matches(summary):
                        allowed[t.ordinal[eid]] = True
            top = matrix.top_k(unit, limit, allowed)
            return [SearchHit(episode_id=k[0], item=k[1], score=s) for k, s in top]

    def item_vectors(
        self, tenant: str, model_id: str, keys: Sequence[tuple[UUID, int]]
    ) -> npt.NDArray[np.float32]:
        """``ItemVectors``: the stored unit rows of ``keys`` (zeros where none)."""
        with self._lock:
            self._open()
            t = self._peek(tenant)
            matrix = t.vectors.get(model_id) if t is not None else None
            if matrix is None:
                return np.zeros((len(keys), 0), dtype=np.float32)
            return matrix.rows(list(keys))

    def put_embeddings(self, tenant: str, records: Sequence[EmbeddingRecord]) -> None:
        with self._lock:
            self._open()
            t = self._peek(tenant)
            units = self._validate_embeddings(t, records)
            if not units:
                return
            t = self._tenant(tenant)
            self._write_embeddings(t, units)
            t.generation += 1

    def embedding_models(self) -> list[EmbeddingModelInfo]:
        with self._lock:
            self._open()
            counts: dict[str, int] = {}
            for t in self._tenants.values():
                for model_id, matrix in t.vectors.items():
                    if len(matrix):
                        counts[model_id] = counts.get(model_id, 0) + len(matrix)
            return [
                EmbeddingModelInfo(model_id=m, dimension=self._dimensions[m], count=c)
                for m, c in sorted(counts.items())
            ]

    def delete_embeddings(self, model_id: str) -> int:
        with self._lock:
            self._open()
            removed = 0
            for t in self._tenants.values():
                matrix = t.vectors.pop(model_id, None)
                if matrix is not None:
                    removed += len(matrix)
                    t.generation += 1
            self._dimensions.pop(model_id, None)
            return removed

    def missing_embeddings(
        self, model_id: str, limit: int = 100, after: tuple[str, UUID] | None = None
    ) -> list[tuple[str, UUID]]:
        _check_limit(limit)
        start = (after[0], str(after[1])) if after is not None else ("", "")
        out: list[tuple[str, UUID]] = []
        with self._lock:
            self._open()
            for tenant in sorted(n for n in self._tenants if n >= start[0]):
                t = self._tenants[tenant]
                matrix = t.vectors.get(model_id)
                for key, eid in sorted((str(e), e) for e in t.episodes):
                    if (tenant, key) <= start or t.episodes[eid].outcome is None:
                        continue
                    if matrix is None or (eid, 0) not in matrix:
                        out.append((tenant, eid))
                        if len(out) == limit:
                            return out
        return out

    # -- patterns and heuristics -------------------------------------------------------

    def upsert_patterns(self, tenant: str, patterns: Sequence[Pattern]) -> list[Pattern]:
        with self._lock:
            self._open()
            self._validate_patterns(tenant, patterns)
            if not patterns:
                return []
            t = self._tenant(tenant)
            stored = self._write_patterns(t, patterns)
            t.generation += 1
            return stored

    def get_pattern(self, tenant: str, pattern_id: UUID) -> Pattern | None:
        with self._lock:
            self._open()
            t = self._peek(tenant)
            p = t.patterns.get(pattern_id) if t is not None else None
            return _copy(p) if p is not None else None

    def get_patterns(self, tenant: str, pattern_ids: Sequence[UUID]) -> list[Pattern]:
        with self._lock:
            self._open()
            t = self._peek(tenant)
            if t is None:
                return []
            return [_copy(t.patterns[i]) for i in pattern_ids if i in t.patterns]

    def list_patterns(self, tenant: str, filters: PatternFilter, limit: int) -> list[Pattern]:
        _check_limit(limit)
        with self._lock:
            self._open()
            t = self._peek(tenant)
            if t is None:
                return []
            found = [p for p in t.patterns.values() if _pattern_matches(filters, p)]
            best = heapq.nsmallest(limit, found, key=lambda p: (-p.confidence, -p.support, p.key))
            return [_copy(p) for p in best]

    def search_patterns(
        self, tenant: str, query: str, limit: int, filters: PatternFilter
    ) -> list[tuple[Pattern, float]]:
        _check_limit(limit)
        query_terms = terms(query)
        with self._lock:
            self._open()
            t = self._peek(tenant)
            if t is None or not query_terms:
                return []
            patterns = t.patterns
            scores = t.pattern_text.scores(
                query_terms, lambda pid: _pattern_matches(filters, patterns[pid])
            )
            best = heapq.nsmallest(
                limit, scores.items(), key=lambda kv: (-kv[1], patterns[kv[0]].key)
            )
            return [(_copy(patterns[pid]), score) for pid, score in best]

    def record_pattern_usage(
        self, tenant: str, pattern_id: UUID, episode_id: UUID, success: bool
    ) -> Pattern:
        with self._lock:
            self._open()
            t = self._peek(tenant)
            pattern = t.patterns.get(pattern_id) if t is not None else None
            if t is None or pattern is None:
                raise PatternNotFoundError(pattern_id)
            previous = t.usage.get((pattern_id, episode_id))
            if previous is None:
                pattern.applications += 1
            else:
                pattern.application_successes -= int(previous)
            pattern.application_successes += int(success)
            t.usage.pop((pattern_id, episode_id), None)  # re-recorded: now the latest
            t.usage[(pattern_id, episode_id)] = bool(success)
            pattern.version += 1
            pattern.updated_at = max(utcnow(), pattern.updated_at)
            t.generation += 1
            return _copy(pattern)

    def pattern_usage_history(self, tenant: str, pattern_id: UUID, limit: int) -> list[bool]:
        with self._lock:
            self._open()
            t = self._peek(tenant)
            if t is None or limit <= 0:
                return []
            results = [ok for (pid, _), ok in t.usage.items() if pid == pattern_id]
            return results[-limit:]

    def upsert_heuristics(self, tenant: str, heuristics: Sequence[Heuristic]) -> None:
        with self._lock:
            self._open()
            _check_tenants(tenant, heuristics, "heuristics")
            if not heuristics:
                return
            t = self._tenant(tenant)
            self._write_heuristics(t, heuristics)
            t.generation += 1

    def list_heuristics(
        self, tenant: str, limit: int, min_confidence: float = 0.0
    ) -> list[Heuristic]:
        _check_limit(limit)
        with self._lock:
            self._open()
            t = self._peek(tenant)
            if t is None:
                return []
            found = [h for h in t.heuristics.values() if h.confidence >= min_confidence]
            best = heapq.nsmallest(limit, found, key=lambda h: (-h.confidence, -h.support, h.key))
            return [_copy(h) for h in best]

    # -- operations --------------------------------------------------------------------

    def stats(self, tenant: str | None = None) -> StorageStats:
        with self._lock:
            self._open()
            if tenant is None:
                chosen = list(self._tenants.items())
            else:
                t = self._peek(tenant)
                chosen = [(tenant, t)] if t is not None else []
            out = StorageStats(schema_version=SCHEMA_VERSION, details={"backend": self.name})
            for name, t in chosen:
                out.episodes += len(t.episodes)
                out.completed_episodes += sum(
                    1 for e in t.episodes.values() if e.outcome is not None
                )
                out.steps += sum(len(s) for s in t.steps.values())
                out.patterns += len(t.patterns)
                out.heuristics += len(t.heuristics)
                out.embeddings += sum(len(m) for m in t.vectors.values())
                out.pending_extractions += sum(1 for (tn, _) in self._pending if tn == name)
            if tenant is None:
                out.details["tenants"] = len(self._tenants)
            return out

    def generation(self, tenant: str) -> int:
        with self._lock:
            t = self._peek(tenant)
            return t.generation if t is not None else 0

    # -- internals ---------------------------------------------------------------------

    def _row(self, tenant: str, episode_id: UUID) -> tuple[_Tenant, Episode]:
        t = self._peek(tenant)
        row = t.episodes.get(episode_id) if t is not None else None
        if t is None or row is None:
            raise EpisodeNotFoundError(episode_id)
        return t, row

    def _full_episode(self, t: _Tenant, episode_id: UUID) -> Episode:
        row = t.episodes[episode_id]
        steps = t.steps[episode_id]
        return _copy(row.model_copy(update={"steps": [steps[n] for n in sorted(steps)]}))

    def _refresh_summary(self, t: _Tenant, episode_id: UUID) -> None:
        row = t.episodes[episode_id]
        summary = row.summary()
        summary.step_count = len(t.steps[episode_id])
        t.summaries[episode_id] = summary

    def _bump(self, t: _Tenant, episode_id: UUID) -> None:
        """Record a write of the episode row: version + 1, updated_at, generation."""
        row = t.episodes[episode_id]
        row.version += 1
        row.updated_at = max(utcnow(), row.updated_at)
        self._refresh_summary(t, episode_id)
        t.generation += 1

    @staticmethod
    def _episode_filter(t: _Tenant, filters: EpisodeFilter) -> Callable[[UUID], bool] | None:
        if filters.is_empty():
            return None
        summaries = t.summaries
        return lambda eid: eid in summaries and filters.matches(summaries[eid])

    # validation runs before any mutation, so a failing write leaves nothing behind

    def _validate_extraction(self, tenant: str, extraction: Extraction) -> None:
        self._validate_patterns(tenant, extraction.patterns)
        _check_tenants(tenant, extraction.heuristics, "heuristics")
        self._validate_embeddings(self._peek(tenant), extraction.embeddings)

    def _write_extraction(self, tenant: str, t: _Tenant, extraction: Extraction) -> None:
        self._write_patterns(t, extraction.patterns)
        self._write_heuristics(t, extraction.heuristics)
        units = self._validate_embeddings(t, extraction.embeddings)
        self._write_embeddings(t, units)

    def _validate_embeddings(
        self, t: _Tenant | None, records: Sequence[EmbeddingRecord]
    ) -> list[tuple[EmbeddingRecord, npt.NDArray[np.float32]]]:
        batch_dims: dict[str, int] = {}
        units = []
        for i, record in enumerate(records):
            if t is None or record.episode_id not in t.episodes:
                raise EpisodeNotFoundError(record.episode_id)
            dim = self._dimensions.get(record.model_id) or batch_dims.setdefault(
                record.model_id, record.dimension
            )
            units.append((record, _unit(record.vector, dim, f"embeddings[{i}].vector")))
        return units

    def _write_embeddings(
        self, t: _Tenant, units: Iterable[tuple[EmbeddingRecord, npt.NDArray[np.float32]]]
    ) -> None:
        for record, unit in units:
            dim = self._dimensions.setdefault(record.model_id, unit.shape[0])
            matrix = t.vectors.get(record.model_id)
            if matrix is None:
                matrix = t.vectors[record.model_id] = VectorMatrix(dim)
            matrix.put((record.episode_id, record.item), unit, t.ordinal[record.episode_id])

    def _validate_patterns(self, tenant: str, patterns: Sequence[Pattern]) -> None:
        _check_tenants(tenant, patterns, "patterns")
        t = self._peek(tenant)
        for i, p in enumerate(patterns):
            clash = t.patterns.get(p.id) if t is not None else None
            if clash is not None and clash.key != p.key:
                raise InvalidInputError(
                    f"pattern id {p.id} is already used by key {clash.key!r}",
                    field=f"patterns[{i}].id",
                )

    def _write_patterns(self, t: _Tenant, patterns: Sequence[Pattern]) -> list[Pattern]:
        out = []
        now = utcnow()
        for p in patterns:
            existing_id = t.pattern_by_key.get(p.key)
            if existing_id is None:
                stored = p.as_new(p.tenant)
                t.pattern_by_key[stored.key] = stored.id
                t.pattern_text.add(stored.id, terms(stored.description))
            else:
                stored = t.patterns[existing_id].merged_with(p, now)
            t.patterns[stored.id] = stored
            out.append(_copy(stored))
        return out

    @staticmethod
    def _write_heuristics(t: _Tenant, heuristics: Sequence[Heuristic]) -> None:
        for h in heuristics:
            t.heuristics[h.key] = _copy(h)


# -- helpers ---------------------------------------------------------------------------


def _unlink_record(t: _Tenant, key: tuple[str, str], *named: UUID | None) -> None:
    """Take a record out of the per-episode index of the episodes it names."""
    for eid in named:
        if eid is None:
            continue
        keys = t.records_of_episode.get(eid)
        if keys is not None:
            keys.pop(key, None)
            if not keys:
                del t.records_of_episode[eid]


def _forget_record(
    t: _Tenant,
    key: tuple[str, str],
    old: tuple[int, dict[str, Any], UUID | None, UUID | None],
) -> None:
    """Drop a removed record from every index (``records`` itself is done by the caller)."""
    seq, _, a, b = old
    kind = key[0]
    seqs = t.record_seqs[kind]
    del seqs[bisect.bisect_left(seqs, seq)]
    del t.record_ids[kind][seq]
    _unlink_record(t, key, a, b)


def _check_step_numbers(numbers: Sequence[int], stored: set[int]) -> None:
    seen: set[int] = set()
    for n in numbers:
        if n in stored or n in seen:
            raise DuplicateStepError(f"step {n} is already recorded for this episode")
        seen.add(n)


def _check_tenants(tenant: str, records: Sequence[Pattern | Heuristic], name: str) -> None:
    for i, r in enumerate(records):
        if r.tenant != tenant:
            raise InvalidInputError(
                f"{name}[{i}] belongs to tenant {r.tenant!r}, not {tenant!r}",
                field=f"{name}[{i}].tenant",
            )


def _pattern_matches(f: PatternFilter, p: Pattern) -> bool:
    return (
        (f.kind is None or p.kind == f.kind)
        and (f.task_type is None or p.task_type == f.task_type)
        and (f.domain is None or p.domain == f.domain)
        and p.support >= f.min_support
        and p.success_rate >= f.min_success_rate
    )


def _unit(vector: Any, dimension: int, name: str) -> npt.NDArray[np.float32]:
    """``vector`` as a unit float32 row of ``dimension``; InvalidInputError otherwise."""
    arr = np.asarray(vector, dtype=np.float32)
    if arr.ndim != 1 or arr.shape[0] != dimension:
        raise InvalidInputError(
            f"{name} must have {dimension} dimensions, got shape {arr.shape}",
            field=name,
            limit=dimension,
        )
    norm = float(np.linalg.norm(arr))
    if not np.isfinite(norm) or norm == 0.0:
        raise InvalidInputError(f"{name} must be finite and non-zero", field=name)
    return arr / norm


def _encode_cursor(started_at: datetime, episode_id: UUID) -> str:
    raw = f"{started_at.isoformat()}|{episode_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> _SortKey:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        stamp, _, ident = base64.urlsafe_b64decode(padded.encode("ascii")).decode().partition("|")
        started_at = datetime.fromisoformat(stamp)
        if started_at.tzinfo is None:
            raise ValueError("naive timestamp")
        return started_at, UUID(ident)
    except (ValueError, UnicodeError, binascii.Error) as exc:
        raise InvalidInputError(f"invalid cursor {cursor!r}", field="cursor") from exc
