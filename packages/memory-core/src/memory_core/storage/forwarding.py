"""``ForwardingStorage``: a storage wrapper that forwards every protocol method.

A wrapper (the sharded router, the encrypting layer, a wrapper of yours) subclasses it,
says where a call goes (``_backend(tenant)`` for a tenant's data, ``_whole()`` for calls
about no one tenant) and overrides only the methods whose behaviour it changes. Every
method of ``StorageBackend`` and ``RecordStore`` is defined here with the protocol's
signature, and ``tests/test_forwarding_storage.py`` fails when the protocols gain a
method this class does not forward: a new method can never be silently missed by a
wrapper (as ``__getattr__`` forwarding would, or a forgotten override that is never
called until production).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, cast
from uuid import UUID

import numpy as np

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
from memory_core._protocols import FloatArray, RecordStore, StorageBackend

__all__ = ["ForwardingStorage"]


class ForwardingStorage:
    """Forwards each ``StorageBackend`` and ``RecordStore`` call unchanged.

    Subclasses implement ``_backend`` and ``_whole``; a record call on a backend without
    records raises ``AttributeError`` as it would on the backend itself.
    """

    def _backend(self, tenant: str) -> StorageBackend:
        """The backend holding ``tenant``'s data."""
        raise NotImplementedError

    def _whole(self) -> StorageBackend:
        """The backend for calls about no one tenant (a router overrides those calls)."""
        raise NotImplementedError

    def _records(self, tenant: str) -> RecordStore:
        return cast(RecordStore, self._backend(tenant))

    # -- Lifecycle ---------------------------------------------------------------------
    def close(self) -> None:
        self._whole().close()

    @property
    def schema_version(self) -> int:
        return self._whole().schema_version

    def health(self) -> dict[str, Any]:
        return self._whole().health()

    def stats(self, tenant: str | None = None) -> StorageStats:
        if tenant is None:
            return self._whole().stats(None)
        return self._backend(tenant).stats(tenant)

    def generation(self, tenant: str) -> int:
        return self._backend(tenant).generation(tenant)

    # -- EpisodeStore ------------------------------------------------------------------
    def create_episode(self, episode: Episode) -> None:
        self._backend(episode.tenant).create_episode(episode)

    def append_steps(self, tenant: str, episode_id: UUID, steps: Sequence[ExecutionStep]) -> int:
        return self._backend(tenant).append_steps(tenant, episode_id, steps)

    def append_next_steps(
        self,
        tenant: str,
        episode_id: UUID,
        steps: Sequence[ExecutionStep],
        unnumbered: Sequence[int],
        prepare: Callable[[list[ExecutionStep]], list[ExecutionStep]] | None = None,
    ) -> tuple[int, list[ExecutionStep]]:
        return self._backend(tenant).append_next_steps(
            tenant, episode_id, steps, unnumbered, prepare
        )

    def get_episode(self, tenant: str, episode_id: UUID) -> Episode | None:
        return self._backend(tenant).get_episode(tenant, episode_id)

    def get_steps(
        self, tenant: str, episode_id: UUID, step_numbers: Sequence[int]
    ) -> list[ExecutionStep]:
        return self._backend(tenant).get_steps(tenant, episode_id, step_numbers)

    def get_steps_many(
        self, tenant: str, wanted: Sequence[tuple[UUID, Sequence[int]]]
    ) -> dict[UUID, list[ExecutionStep]]:
        return self._backend(tenant).get_steps_many(tenant, wanted)

    def get_summaries(self, tenant: str, episode_ids: Sequence[UUID]) -> list[EpisodeSummary]:
        return self._backend(tenant).get_summaries(tenant, episode_ids)

    def list_episodes(
        self, tenant: str, filters: EpisodeFilter, limit: int, cursor: str | None = None
    ) -> EpisodePage:
        return self._backend(tenant).list_episodes(tenant, filters, limit, cursor)

    def count_episodes(self, tenant: str, filters: EpisodeFilter) -> int:
        return self._backend(tenant).count_episodes(tenant, filters)

    def complete_episode(self, episode: Episode, extraction: Extraction | None) -> None:
        self._backend(episode.tenant).complete_episode(episode, extraction)

    def apply_extraction(self, tenant: str, episode_id: UUID, extraction: Extraction) -> None:
        self._backend(tenant).apply_extraction(tenant, episode_id, extraction)

    def pending_extractions(self, limit: int = 100) -> list[tuple[str, UUID]]:
        return self._whole().pending_extractions(limit)

    def delete_episode(self, tenant: str, episode_id: UUID) -> bool:
        return self._backend(tenant).delete_episode(tenant, episode_id)

    # -- SearchIndex -------------------------------------------------------------------
    def lexical_search(
        self, tenant: str, query: str, limit: int, filters: EpisodeFilter
    ) -> list[SearchHit]:
        return self._backend(tenant).lexical_search(tenant, query, limit, filters)

    def vector_search(
        self, tenant: str, model_id: str, vector: FloatArray, limit: int, filters: EpisodeFilter
    ) -> list[SearchHit]:
        return self._backend(tenant).vector_search(tenant, model_id, vector, limit, filters)

    def item_vectors(
        self, tenant: str, model_id: str, keys: Sequence[tuple[UUID, int]]
    ) -> FloatArray:
        """``ItemVectors`` of the tenant's backend; one without it gives no columns (and
        retrieval ranks by the plain cosine)."""
        backend = self._backend(tenant)
        read = getattr(type(backend), "item_vectors", None)
        if read is None:
            return np.zeros((len(keys), 0), dtype=np.float32)
        rows: FloatArray = read(backend, tenant, model_id, keys)
        return rows

    def put_embeddings(self, tenant: str, records: Sequence[EmbeddingRecord]) -> None:
        self._backend(tenant).put_embeddings(tenant, records)

    def embedding_models(self) -> list[EmbeddingModelInfo]:
        return self._whole().embedding_models()

    def delete_embeddings(self, model_id: str) -> int:
        return self._whole().delete_embeddings(model_id)

    def missing_embeddings(
        self, model_id: str, limit: int = 100, after: tuple[str, UUID] | None = None
    ) -> list[tuple[str, UUID]]:
        return self._whole().missing_embeddings(model_id, limit, after)

    # -- PatternStore ------------------------------------------------------------------
    def upsert_patterns(self, tenant: str, patterns: Sequence[Pattern]) -> list[Pattern]:
        return self._backend(tenant).upsert_patterns(tenant, patterns)

    def get_pattern(self, tenant: str, pattern_id: UUID) -> Pattern | None:
        return self._backend(tenant).get_pattern(tenant, pattern_id)

    def get_patterns(self, tenant: str, pattern_ids: Sequence[UUID]) -> list[Pattern]:
        return self._backend(tenant).get_patterns(tenant, pattern_ids)

    def list_patterns(self, tenant: str, filters: PatternFilter, limit: int) -> list[Pattern]:
        return self._backend(tenant).list_patterns(tenant, filters, limit)

    def search_patterns(
        self, tenant: str, query: str, limit: int, filters: PatternFilter
    ) -> list[tuple[Pattern, float]]:
        return self._backend(tenant).search_patterns(tenant, query, limit, filters)

    def record_pattern_usage(
        self, tenant: str, pattern_id: UUID, episode_id: UUID, success: bool
    ) -> Pattern:
        return self._backend(tenant).record_pattern_usage(tenant, pattern_id, episode_id, success)

    def pattern_usage_history(self, tenant: str, pattern_id: UUID, limit: int) -> list[bool]:
        return self._backend(tenant).pattern_usage_history(tenant, pattern_id, limit)

    def upsert_heuristics(self, tenant: str, heuristics: Sequence[Heuristic]) -> None:
        self._backend(tenant).upsert_heuristics(tenant, heuristics)

    def list_heuristics(
        self, tenant: str, limit: int, min_confidence: float = 0.0
    ) -> list[Heuristic]:
        return self._backend(tenant).list_heuristics(tenant, limit, min_confidence)

    # -- RecordStore -------------------------------------------------------------------
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
        self._records(tenant).put_record(
            tenant, kind, record_id, data, episode_id=episode_id, related_id=related_id
        )

    def get_record(self, tenant: str, kind: str, record_id: str) -> dict[str, Any] | None:
        return self._records(tenant).get_record(tenant, kind, record_id)

    def list_records(
        self,
        tenant: str,
        kind: str,
        *,
        episode_id: UUID | None = None,
        limit: int = 100,
        after_seq: int = 0,
    ) -> list[tuple[int, str, dict[str, Any]]]:
        return self._records(tenant).list_records(
            tenant, kind, episode_id=episode_id, limit=limit, after_seq=after_seq
        )

    def delete_record(self, tenant: str, kind: str, record_id: str) -> bool:
        return self._records(tenant).delete_record(tenant, kind, record_id)

    def replace_patterns(
        self,
        tenant: str,
        patterns: Sequence[Pattern],
        *,
        delete_patterns: Sequence[UUID] = (),
        delete_heuristics: Sequence[UUID] = (),
    ) -> None:
        self._records(tenant).replace_patterns(
            tenant, patterns, delete_patterns=delete_patterns, delete_heuristics=delete_heuristics
        )

    def update_episode_tags(self, tenant: str, episode_id: UUID, tags: Sequence[str]) -> Episode:
        return self._records(tenant).update_episode_tags(tenant, episode_id, tags)

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
        return self._records(episode.tenant).correct_episode(
            episode,
            extraction,
            replace_patterns=replace_patterns,
            delete_patterns=delete_patterns,
            delete_heuristics=delete_heuristics,
            record=record,
        )
