"""``EmbeddingWorker``: an episode's vectors, written after the episode is acknowledged.

Why: a transformer costs milliseconds per text, and an episode has one text per step;
embedding inside ``complete_episode`` made every completion wait for its vectors. In
``background`` mode (the default) the episode is stored first, and is lexically
searchable at once; one thread embeds queued episodes in batches and writes their
vectors, so semantic search catches up a few milliseconds later.

Bounds: at most ``embedding_queue_size`` episodes wait. A producer that finds the queue
full embeds its own episode before returning ("caller runs"): nothing is dropped, the
lag stays bounded, and a producer holding the memory's lock can never deadlock against
the worker. ``flush()`` waits until every queued episode is written (and the catch-up
below is done); ``close()`` writes what was queued.

Crash safety: vectors are derived data. When storage first opens, the worker walks
``missing_embeddings`` for the current model (completed episodes without a task-text
vector: a crash between acknowledgement and vector write, or a change of model) and
embeds them whenever its queue is empty. A process that stops early leaves the rest to
the next one; no episode stays unsearchable.
"""

from __future__ import annotations

import atexit
import logging
import threading
import weakref
from collections import deque
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any
from uuid import UUID

from memory_core._backends import Backends
from memory_core._config import MemoryConfig
from memory_core._errors import EmbeddingError, EpisodeNotFoundError, MemoryCoreError
from memory_core._guard import Guard
from memory_core._logging import event
from memory_core._models import EmbeddingRecord, Episode
from memory_core._stamped_cache import StampedCache

log = logging.getLogger("memory_core")

_EMBED_TEXT_CHARS = 1_000
_EPISODES_PER_BATCH = 32
"""Queued episodes taken at once: one storage transaction per tenant for all of them."""
_TEXTS_PER_CALL = 16
"""Texts per ``embed`` call: small calls keep one BLAS/onnxruntime thread and let a
query's embedding interleave instead of waiting behind a long batch."""
_CATCH_UP_PAGE = 16
"""Episodes per ``missing_embeddings`` page; the queue is looked at between pages."""

Items = list[tuple[int, str]]
_Job = tuple[str, UUID, Items | None]  # tenant, episode, its texts (None: read them)


_LIVE: weakref.WeakSet[EmbeddingWorker] = weakref.WeakSet()


@atexit.register
def _close_at_exit() -> None:
    """A memory never closed still writes its queued vectors, and its thread ends before
    the interpreter does: a daemon thread inside onnxruntime at exit aborts the process
    ("terminate called without an active exception")."""
    for worker in list(_LIVE):
        worker.close()


def embed_items(episode: Episode) -> Items:
    """What gets a vector: the task text (item 0) and every step with text (item n)."""
    items = [(0, episode.task_description[:_EMBED_TEXT_CHARS])]
    for step in episode.steps:
        text = step.search_text()
        if text.strip():
            items.append((step.step_number, text[:_EMBED_TEXT_CHARS]))
    return items


class EmbeddingWorker:
    """Computes and stores episodes' vectors, inline or on one background thread."""

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
        self._cv = threading.Condition()
        self._queue: deque[_Job] = deque()
        self._busy = 0  # jobs taken off the queue, vectors not yet written
        self._catch_up = False  # a walk over missing vectors is wanted or running
        self._after: tuple[str, UUID] | None = None
        self._caught_up = 0
        self._closing = False
        self._thread: threading.Thread | None = None
        self.failures = 0
        """Episodes whose embedding failed (they stay missing; the next catch-up retries)."""

    @property
    def background(self) -> bool:
        return self._config.embedding_mode == "background"

    # -- producing ---------------------------------------------------------------------
    def vectors(self, episode: Episode) -> list[EmbeddingRecord]:
        """The episode's vectors, computed now (inline mode); none for a sensitive one."""
        emb = self._backends.embedder
        if emb is None or self._guard.sensitive(episode.tenant, [episode.id]):
            return []  # security: sensitive text never goes to the embedder (no vectors)
        items = embed_items(episode)
        try:
            matrix = emb.embed([text for _, text in items])
        except EmbeddingError as exc:
            self.failures += 1
            log.warning("episode %s stored without vectors: %s", episode.id, exc)
            return []
        rows = matrix.tolist()
        return [
            EmbeddingRecord.model_construct(
                episode_id=episode.id, item=item, model_id=emb.model_id, vector=rows[i]
            )
            for i, (item, _) in enumerate(items)
        ]

    def submit(self, tenant: str, episode: Episode) -> None:
        """Queue a stored, completed episode for its vectors (see the module docstring:
        when the queue is full, the caller embeds this one itself)."""
        if self._backends.embedder is None:
            return
        job: _Job = (tenant, episode.id, embed_items(episode))
        with self._cv:
            if len(self._queue) < self._config.embedding_queue_size and not self._closing:
                self._queue.append(job)
                self._ensure_thread()
                self._cv.notify_all()
                return
        try:
            self._process([job])  # backpressure: the producer pays for its own episode
        except MemoryCoreError:  # the episode is stored; the next catch-up embeds it
            log.exception("could not store the vectors of episode %s", episode.id)

    def catch_up(self) -> None:
        """Embed what storage holds without vectors of the current model (runs on the
        worker thread when its queue is empty; called when storage first opens)."""
        if self._backends.embedder is None:
            return
        with self._cv:
            if self._closing:
                return
            self._catch_up, self._after = True, None
            self._ensure_thread()
            self._cv.notify_all()

    # -- waiting -----------------------------------------------------------------------
    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued episode's vectors are written and the catch-up is
        done; False if ``timeout`` seconds passed first."""
        _ = self._backends.storage  # opening it starts the catch-up, which flush waits for
        with self._cv:
            return self._cv.wait_for(self._idle, timeout)

    def settle(self, timeout: float) -> bool:
        """Wait (at most ``timeout`` s) for the vectors of the episodes queued so far, not
        for a catch-up; a retrieval calls it first, outside the memory lock, so that a task
        completed just before is found by meaning too. True when nothing was pending."""
        with self._cv:
            if timeout <= 0 or (not self._queue and not self._busy):
                return True
            return self._cv.wait_for(lambda: not self._queue and not self._busy, timeout)

    def _idle(self) -> bool:
        return not self._queue and not self._busy and not self._catch_up

    @property
    def depth(self) -> int:
        """Episodes waiting for their vectors (queued or being embedded)."""
        with self._cv:
            return len(self._queue) + self._busy

    def close(self) -> None:
        """Write what was queued, stop the catch-up at its next step, end the thread."""
        with self._cv:
            self._closing = True
            self._cv.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join()

    # -- the worker thread -------------------------------------------------------------
    def _ensure_thread(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="memory-embed", daemon=True)
            self._thread.start()
            _LIVE.add(self)

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._queue and not (self._catch_up and not self._closing):
                    if self._closing:
                        self._catch_up = False
                        self._cv.notify_all()
                        return
                    self._cv.wait()
                jobs = [
                    self._queue.popleft() for _ in range(min(len(self._queue), _EPISODES_PER_BATCH))
                ]
                self._busy += len(jobs)
            try:
                if jobs:
                    self._process(jobs)
                else:
                    self._catch_up_page()
            except Exception:  # a worker that dies would leave flush() waiting forever
                log.exception("background embedding failed; the episodes stay without vectors")
                if not jobs:
                    with self._cv:
                        self._catch_up = False
            finally:
                with self._cv:
                    self._busy -= len(jobs)
                    self._cv.notify_all()

    def _catch_up_page(self) -> None:
        emb = self._backends.embedder
        page: list[tuple[str, UUID]] = []
        if emb is not None:
            with self._lock:
                page = self._backends.storage.missing_embeddings(
                    emb.model_id, _CATCH_UP_PAGE, self._after
                )
        if not page:
            with self._cv:
                self._catch_up = False
            if self._caught_up:
                event("embedded episodes left without vectors", count=self._caught_up)
                self._caught_up = 0
            return
        self._after = page[-1]
        self._caught_up += self._process([(t, eid, None) for t, eid in page], interruptible=True)

    def _process(self, jobs: Sequence[_Job], *, interruptible: bool = False) -> int:
        """Embed and store the jobs' vectors; returns how many episodes got them.
        ``interruptible``: catch-up work, abandoned when ``close()`` is called."""
        emb = self._backends.embedder
        if emb is None:
            return 0
        storage = self._backends.storage
        ready: list[tuple[str, UUID, Items]] = []
        for tenant, eid, items in jobs:
            if self._guard.sensitive(tenant, [eid]):
                continue  # security: sensitive text never goes to the embedder
            if items is None:
                with self._lock:
                    episode = storage.get_episode(tenant, eid)
                if episode is None or episode.outcome is None:
                    continue
                items = embed_items(episode)
            ready.append((tenant, eid, items))
        rows: dict[str, int] = {}  # a text repeated across steps is embedded once
        for _, _, items in ready:
            for _, text in items:
                rows.setdefault(text, len(rows))
        texts = list(rows)
        vectors: list[list[float]] = []
        try:
            for start in range(0, len(texts), _TEXTS_PER_CALL):
                if interruptible and self._closing:
                    return 0  # catch-up interrupted by close(): the next open resumes
                vectors.extend(emb.embed(texts[start : start + _TEXTS_PER_CALL]).tolist())
        except EmbeddingError as exc:
            self.failures += len(ready)
            log.warning("%d episodes stored without vectors: %s", len(ready), exc)
            return 0
        by_tenant: dict[str, list[list[EmbeddingRecord]]] = {}
        for tenant, eid, items in ready:
            by_tenant.setdefault(tenant, []).append(
                [
                    EmbeddingRecord.model_construct(
                        episode_id=eid, item=item, model_id=emb.model_id, vector=vectors[rows[text]]
                    )
                    for item, text in items
                ]
            )
        written = 0
        with self._lock:
            for tenant, episodes in by_tenant.items():
                written += self._store(tenant, episodes)
                self._cache.invalidate_retrievals(tenant)
        return written

    def _store(self, tenant: str, episodes: list[list[EmbeddingRecord]]) -> int:
        """One transaction for all; episode by episode if that fails (one was deleted
        meanwhile, say), so one bad episode does not cost the others their vectors."""
        storage = self._backends.storage
        if len(episodes) > 1:
            try:
                storage.put_embeddings(tenant, [r for records in episodes for r in records])
                return len(episodes)
            except MemoryCoreError:
                pass
        written = 0
        for records in episodes:
            try:
                storage.put_embeddings(tenant, records)
                written += 1
            except EpisodeNotFoundError:
                continue  # deleted after it was queued: nothing to index
            except MemoryCoreError:
                self.failures += 1
                log.exception("could not store vectors of episode %s", records[0].episode_id)
        return written
