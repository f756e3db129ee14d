"""``ShardedStorage``: one database per tenant, from a URL template with ``{tenant}``.

``DATABASE_URL=file:./data/{tenant}.db`` (or one Turso database per tenant) gives each
tenant its own database, opened lazily on first use (migrations run then, per database)
and closed after ``idle_seconds`` without use. Isolation is physical: no query can reach
another tenant's file.

Operations that are not about one tenant (``pending_extractions``, ``embedding_models``,
``delete_embeddings``, ``stats(None)``) cover the shards open in this process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, ClassVar
from uuid import UUID

from memory_core._errors import InvalidInputError
from memory_core._models import (
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
)
from memory_core._protocols import FloatArray, StorageBackend

__all__ = ["ShardedStorage"]


class ShardedStorage:
    """Routes every call to the tenant's own backend, built by ``open_shard(url)``."""

    name: ClassVar[str] = "sharded"

    def __init__(
        self,
        url_template: str,
        open_shard: Callable[[str], StorageBackend],
        *,
        idle_seconds: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if "{tenant}" not in url_template:
            raise InvalidInputError("the URL template must contain {tenant}", field="DATABASE_URL")
        self.url_template = url_template
        self._open_shard = open_shard
        self._idle = idle_seconds
        self._clock = clock
        self._shards: dict[str, tuple[StorageBackend, float]] = {}
        self._lock = threading.Lock()

    def shard(self, tenant: str) -> StorageBackend:
        """The tenant's backend, opened on first use; closes shards idle too long."""
        now = self._clock()
        with self._lock:
            entry = self._shards.get(tenant)
            backend = (
                entry[0] if entry else self._open_shard(self.url_template.format(tenant=tenant))
            )
            self._shards[tenant] = (backend, now)
            idle = [
                t
                for t, (_, used) in self._shards.items()
                if t != tenant and now - used > self._idle
            ]
            closing = [self._shards.pop(t)[0] for t in idle]
        for b in closing:
            b.close()
        return backend

    @property
    def open_tenants(self) -> list[str]:
        with self._lock:
            return sorted(self._shards)

    def _all(self) -> list[StorageBackend]:
        with self._lock:
            return [b for b, _ in self._shards.values()]

    # lifecycle
    def close(self) -> None:
        with self._lock:
            shards, self._shards = list(self._shards.values()), {}
        for b, _ in shards:
            b.close()

    @property
    def schema_version(self) -> int:
        return max((b.schema_version for b in self._all()), default=0)

    def health(self) -> dict[str, Any]:
        parts = {t: self.shard(t).health() for t in self.open_tenants}
        return {
            "ok": all(p.get("ok") for p in parts.values()),
            "backend": self.name,
            "shards": parts,
        }

    # episodes
    def create_episode(self, episode: Episode) -> None:
        self.shard(episode.tenant).create_episode(episode)

    def append_steps(self, tenant: str, episode_id: UUID, steps: Sequence[ExecutionStep]) -> int:
        return self.shard(tenant).append_steps(tenant, episode_id, steps)

    def append_next_steps(
        self,
        tenant: str,
        episode_id: UUID,
        steps: Sequence[ExecutionStep],
        unnumbered: Sequence[int],
        prepare: Callable[[list[ExecutionStep]], list[ExecutionStep]] | None = None,
    ) -> tuple[int, list[ExecutionStep]]:
        return self.shard(tenant).append_next_steps(tenant, episode_id, steps, unnumbered, prepare)

    def get_episode(self, tenant: str, episode_id: UUID) -> Episode | None:
        return self.shard(tenant).get_episode(tenant, episode_id)

    def get_steps(
        self, tenant: str, episode_id: UUID, step_numbers: Sequence[int]
    ) -> list[ExecutionStep]:
        return self.shard(tenant).get_steps(tenant, episode_id, step_numbers)

    def get_steps_many(
        self, tenant: str, wanted: Sequence[tuple[UUID, Sequence[int]]]
    ) -> dict[UUID, list[ExecutionStep]]:
        return self.shard(tenant).get_steps_many(tenant, wanted)

    def get_summaries(self, tenant: str, episode_ids: Sequence[UUID]) -> list[EpisodeSummary]:
        return self.shard(tenant).get_summaries(tenant, episode_ids)

    def list_episodes(
        self, tenant: str, filters: EpisodeFilter, limit: int, cursor: str | None = None
    ) -> EpisodePage:
        return self.shard(tenant).list_episodes(tenant, filters, limit, cursor)

    def count_episodes(self, tenant: str, filters: EpisodeFilter) -> int:
        return self.shard(tenant).count_episodes(tenant, filters)

    def complete_episode(self, episode: Episode, extraction: Extraction | None) -> None:
        self.shard(episode.tenant).complete_episode(episode, extraction)

    def apply_extraction(self, tenant: str, episode_id: UUID, extraction: Extraction) -> None:
        self.shard(tenant).apply_extraction(tenant, episode_id, extraction)

    def pending_extractions(self, limit: int = 100) -> list[tuple[str, UUID]]:
        out: list[tuple[str, UUID]] = []
        for b in self._all():
            out.extend(b.pending_extractions(limit - len(out)) if len(out) < limit else [])
        return out[:limit]

    def delete_episode(self, tenant: str, episode_id: UUID) -> bool:
        return self.shard(tenant).delete_episode(tenant, episode_id)

    def missing_embeddings(
        self, model_id: str, limit: int = 100, after: tuple[str, UUID] | None = None
    ) -> list[tuple[str, UUID]]:
        found = [m for b in self._all() for m in b.missing_embeddings(model_id, limit, after)]
        return sorted(found, key=lambda m: (m[0], str(m[1])))[:limit]

    # search
    def lexical_search(
        self, tenant: str, query: str, limit: int, filters: EpisodeFilter
    ) -> list[SearchHit]:
        return self.shard(tenant).lexical_search(tenant, query, limit, filters)

    def vector_search(
        self, tenant: str, model_id: str, vector: FloatArray, limit: int, filters: EpisodeFilter
    ) -> list[SearchHit]:
        return self.shard(tenant).vector_search(tenant, model_id, vector, limit, filters)

    def put_embeddings(self, tenant: str, records: Sequence[EmbeddingRecord]) -> None:
        self.shard(tenant).put_embeddings(tenant, records)

    def embedding_models(self) -> list[EmbeddingModelInfo]:
        merged: dict[tuple[str, int], int] = {}
        for b in self._all():
            for m in b.embedding_models():
                merged[(m.model_id, m.dimension)] = (
                    merged.get((m.model_id, m.dimension), 0) + m.count
                )
        return [
            EmbeddingModelInfo(model_id=k[0], dimension=k[1], count=v)
            for k, v in sorted(merged.items())
        ]

    def delete_embeddings(self, model_id: str) -> int:
        return sum(b.delete_embeddings(model_id) for b in self._all())

    # patterns and heuristics
    def upsert_patterns(self, tenant: str, patterns: Sequence[Pattern]) -> list[Pattern]:
        return self.shard(tenant).upsert_patterns(tenant, patterns)

    def get_pattern(self, tenant: str, pattern_id: UUID) -> Pattern | None:
        return self.shard(tenant).get_pattern(tenant, pattern_id)

    def get_patterns(self, tenant: str, pattern_ids: Sequence[UUID]) -> list[Pattern]:
        return self.shard(tenant).get_patterns(tenant, pattern_ids)

    def list_patterns(self, tenant: str, filters: PatternFilter, limit: int) -> list[Pattern]:
        return self.shard(tenant).list_patterns(tenant, filters, limit)

    def search_patterns(
        self, tenant: str, query: str, limit: int, filters: PatternFilter
    ) -> list[tuple[Pattern, float]]:
        return self.shard(tenant).search_patterns(tenant, query, limit, filters)

    def pattern_usage_history(self, tenant: str, pattern_id: UUID, limit: int) -> list[bool]:
        return self.shard(tenant).pattern_usage_history(tenant, pattern_id, limit)

    def record_pattern_usage(
        self, tenant: str, pattern_id: UUID, episode_id: UUID, success: bool
    ) -> Pattern:
        return self.shard(tenant).record_pattern_usage(tenant, pattern_id, episode_id, success)

    def upsert_heuristics(self, tenant: str, heuristics: Sequence[Heuristic]) -> None:
        self.shard(tenant).upsert_heuristics(tenant, heuristics)

    def list_heuristics(
        self, tenant: str, limit: int, min_confidence: float = 0.0
    ) -> list[Heuristic]:
        return self.shard(tenant).list_heuristics(tenant, limit, min_confidence)

    # records (forwarded when the shards offer the RecordStore extension)
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
        self.shard(tenant).put_record(  # type: ignore[attr-defined]
            tenant, kind, record_id, data, episode_id=episode_id, related_id=related_id
        )

    def get_record(self, tenant: str, kind: str, record_id: str) -> dict[str, Any] | None:
        return self.shard(tenant).get_record(tenant, kind, record_id)  # type: ignore[attr-defined,no-any-return]

    def list_records(
        self,
        tenant: str,
        kind: str,
        *,
        episode_id: UUID | None = None,
        limit: int = 100,
        after_seq: int = 0,
    ) -> list[tuple[int, str, dict[str, Any]]]:
        return self.shard(tenant).list_records(  # type: ignore[attr-defined,no-any-return]
            tenant, kind, episode_id=episode_id, limit=limit, after_seq=after_seq
        )

    def delete_record(self, tenant: str, kind: str, record_id: str) -> bool:
        return self.shard(tenant).delete_record(tenant, kind, record_id)  # type: ignore[attr-defined,no-any-return]

    def update_episode_tags(self, tenant: str, episode_id: UUID, tags: Sequence[str]) -> Episode:
        return self.shard(tenant).update_episode_tags(tenant, episode_id, tags)  # type: ignore[attr-defined,no-any-return]

    def replace_patterns(
        self,
        tenant: str,
        patterns: Sequence[Pattern],
        *,
        delete_patterns: Sequence[UUID] = (),
        delete_heuristics: Sequence[UUID] = (),
    ) -> None:
        self.shard(tenant).replace_patterns(  # type: ignore[attr-defined]
            tenant, patterns, delete_patterns=delete_patterns, delete_heuristics=delete_heuristics
        )

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
        return self.shard(episode.tenant).correct_episode(  # type: ignore[attr-defined,no-any-return]
            episode,
            extraction,
            replace_patterns=replace_patterns,
            delete_patterns=delete_patterns,
            delete_heuristics=delete_heuristics,
            record=record,
        )

    # operations
    def stats(self, tenant: str | None = None) -> StorageStats:
        if tenant is not None:
            return self.shard(tenant).stats(tenant)
        total = StorageStats(schema_version=self.schema_version or None)
        for b in self._all():
            s = b.stats(None)
            for f in (
                "episodes",
                "completed_episodes",
                "steps",
                "patterns",
                "heuristics",
                "embeddings",
                "pending_extractions",
            ):
                setattr(total, f, getattr(total, f) + getattr(s, f))
            if s.size_bytes is not None:
                total.size_bytes = (total.size_bytes or 0) + s.size_bytes
        return total

    def generation(self, tenant: str) -> int:
        return self.shard(tenant).generation(tenant)

    def __getattr__(self, name: str) -> Any:
        """Operator extensions (``integrity_check``, ``vacuum``...) apply to every open shard."""
        if name.startswith("_"):
            raise AttributeError(name)

        def each(*args: Any, **kwargs: Any) -> dict[str, Any]:
            return {t: getattr(self.shard(t), name)(*args, **kwargs) for t in self.open_tenants}

        if not self._all() or not all(hasattr(b, name) for b in self._all()):
            raise AttributeError(name)
        return each
