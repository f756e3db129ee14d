"""``ExtractionWorker``: patterns, heuristics and vectors for completed episodes.

In ``inline`` mode ``complete_episode`` writes them in its own transaction; in ``queue``
mode one background thread does, the episode is durable (and marked pending) before the
call returns, and pending work resumes after a crash when storage first opens.
"""

from __future__ import annotations

import logging
import queue
import threading
from contextlib import AbstractContextManager
from typing import Any
from uuid import UUID

from memory_core._backends import Backends
from memory_core._config import MemoryConfig
from memory_core._errors import EmbeddingError, MemoryCoreError
from memory_core._guard import Guard
from memory_core._logging import event
from memory_core._models import EmbeddingRecord, Episode, Extraction, Pattern
from memory_core._stamped_cache import StampedCache
from memory_core.extraction import derive_heuristics, extract_patterns

log = logging.getLogger("memory_core")

_EMBED_TEXT_CHARS = 1_000
_RESUME_BATCH = 10_000


def embed_items(episode: Episode) -> list[tuple[int, str]]:
    """What gets a vector: the task text (item 0) and every step with text (item n)."""
    items = [(0, episode.task_description[:_EMBED_TEXT_CHARS])]
    for step in episode.steps:
        text = step.search_text()
        if text.strip():
            items.append((step.step_number, text[:_EMBED_TEXT_CHARS]))
    return items


class ExtractionWorker:
    """Builds and stores an episode's extraction, inline or on a background thread."""

    def __init__(
        self,
        backends: Backends,
        config: MemoryConfig,
        lock: AbstractContextManager[Any],
        cache: StampedCache,
        guard: Guard,
    ) -> None:
        self._backends = backends
        self._config = config
        self._lock = lock
        self._cache = cache
        self._guard = guard
        self._queue: queue.Queue[tuple[str, UUID] | None] | None = None
        self._worker: threading.Thread | None = None

    def extraction(self, episode: Episode, patterns: list[Pattern]) -> Extraction:
        return Extraction(patterns=patterns, embeddings=self.embed_episode(episode))

    def embed_episode(self, episode: Episode) -> list[EmbeddingRecord]:
        emb = self._backends.embedder
        if emb is None or self._guard.sensitive(episode.tenant, [episode.id]):
            return []  # security: sensitive text never goes to the embedder (no vectors)
        items = embed_items(episode)
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

    def after_extraction(
        self, tenant: str, patterns: list[Pattern], *, stored: list[Pattern] | None = None
    ) -> None:
        """Heuristics from the merged statistics (a second, re-derivable write);
        ``stored``: the patterns as the write stored them, if it returned them."""
        if not patterns:
            return
        storage = self._backends.storage
        if stored is None:
            stored = storage.get_patterns(tenant, [p.id for p in patterns])
        heuristics = derive_heuristics(stored)
        if heuristics:
            storage.upsert_heuristics(tenant, heuristics)
        for p in stored:  # write-through: cheaper than a (durable) invalidation
            self._cache.put_pattern(tenant, p)

    def enqueue(self, tenant: str, episode_id: UUID) -> bool:
        """Queue background extraction; False when full (the caller does it inline)."""
        if self._queue is None:
            self._queue = queue.Queue(self._config.extraction_queue_size)
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
                self.finish_extraction(*item)
            except Exception:
                log.exception("background extraction failed for %s; it stays pending", item[1])
            finally:
                self._queue.task_done()

    def finish_extraction(self, tenant: str, episode_id: UUID) -> None:
        with self._lock:
            storage = self._backends.storage
            episode = storage.get_episode(tenant, episode_id)
            if episode is None or episode.outcome is None:
                return
            patterns = extract_patterns(episode, episode.outcome)
            storage.apply_extraction(tenant, episode_id, self.extraction(episode, patterns))
            self.after_extraction(tenant, patterns)
            self._cache.invalidate_retrievals(tenant)

    def resume_pending(self) -> None:
        """Finish extractions that a crash interrupted (runs once, at first open)."""
        storage = self._backends.opened_storage
        assert storage is not None
        try:
            pending = storage.pending_extractions(_RESUME_BATCH)
        except MemoryCoreError:
            log.exception("could not list pending extractions")
            return
        for tenant, eid in pending:
            try:
                self.finish_extraction(tenant, eid)
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

    def close(self) -> None:
        """Finish queued work, then stop the thread."""
        if self._queue is not None:
            self._queue.join()
            self._queue.put(None)
