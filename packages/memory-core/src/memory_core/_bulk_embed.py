"""Vectors for a bulk import: one embedder call per batch, each distinct text once.

Why a memo across batches: a transformer spends ~2 ms of CPU per short text here (int8;
~4 ms in float32), nearly all of an import's cost, and step texts repeat across episodes
(the same tool call with the same result). Embedding is deterministic, so a text seen earlier in the
same import reuses its vector. The memo is bounded (``MEMO_TEXTS`` rows, the least
recently used dropped first: a step text that keeps coming back stays, where dropping the
oldest re-embedded it; 60K workload episodes: 1.83 -> 1.56 texts embedded per episode)
and lives only as long as one ``import_episodes`` call.

A provider whose ``embed`` leaves the GIL (onnxruntime) may declare ``parallel_batches``
(how many calls are worth running at once); a large batch is then split across that
many threads, so a bulk import uses every core while interactive calls keep one.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING
from uuid import UUID

import numpy as np
import numpy.typing as npt

from memory_core._embedding_worker import embed_items  # the one rule: what gets a vector
from memory_core._errors import EmbeddingError
from memory_core._models import EmbeddingRecord, Episode

if TYPE_CHECKING:
    from memory_core._protocols import EmbeddingProvider

log = logging.getLogger("memory_core")

__all__ = ["MEMO_TEXTS", "BatchEmbedder"]

MEMO_TEXTS = 65_536
"""Vectors remembered across batches: ~96 MB at 384 float32 dimensions, for one import.
Replayed over 200K workload episodes (1.14 distinct texts each, the floor), texts
embedded per episode: 1.44 with 32,768 remembered, 1.19 with 65,536, 1.15 with 131,072."""
_SPLIT_TEXTS = 128
"""A batch is split across threads from this many texts (4 forward passes of 32)."""


class BatchEmbedder:
    """Embeds the completed episodes of import batches; safe to call from two threads
    (the import's preparing thread and its writer, when it isolates a refused batch)."""

    def __init__(self, embedder: EmbeddingProvider | None, memo_texts: int = MEMO_TEXTS) -> None:
        self._embedder = embedder
        self._limit = memo_texts
        self._memo: dict[str, npt.NDArray[np.float32]] = {}
        self._lock = threading.Lock()
        self.embedded = 0
        """Texts sent to the embedder (the rest came from the memo or repeated in a batch)."""

    def vectors(self, episodes: list[Episode]) -> dict[UUID, list[EmbeddingRecord]]:
        """Vectors of every completed episode, from at most one ``embed`` call; none
        when there is no embedder or it fails (the episodes are stored anyway)."""
        emb = self._embedder
        if emb is None:
            return {}
        keys: list[tuple[UUID, int, str]] = []
        for episode in episodes:
            if episode.outcome is None:
                continue
            keys += [(episode.id, item, text) for item, text in embed_items(episode)]
        if not keys:
            return {}
        with self._lock:
            memo = self._memo
            known = {t: v for _, _, t in keys if (v := memo.get(t)) is not None}
            for text in known:  # used again: the last to be dropped (least recently used)
                memo[text] = memo.pop(text)
        wanted = list(dict.fromkeys(t for _, _, t in keys if t not in known))
        if wanted:
            try:
                matrix = self._embed(emb, wanted)
            except EmbeddingError as exc:
                log.warning("a batch of %d episodes stored without vectors: %s", len(episodes), exc)
                return {}
            fresh = dict(zip(wanted, matrix, strict=True))
            known.update(fresh)
            self._remember(fresh)
            self.embedded += len(wanted)
        model_id = emb.model_id
        out: dict[UUID, list[EmbeddingRecord]] = {}
        for eid, item, text in keys:
            # Built without re-validating each float, holding a float32 row instead of a
            # list: they come straight from the embedder, the record only goes to
            # ``import_batch``, and the backend checks what it stores (a list of Python
            # floats per vector cost more than the rest of the write).
            out.setdefault(eid, []).append(
                EmbeddingRecord.model_construct(
                    episode_id=eid, item=item, model_id=model_id, vector=known[text]
                )
            )
        return out

    @staticmethod
    def _embed(emb: EmbeddingProvider, texts: list[str]) -> npt.NDArray[np.float32]:
        parts = int(getattr(emb, "parallel_batches", 1) or 1)
        parts = min(parts, len(texts) // _SPLIT_TEXTS)
        if parts <= 1:
            return np.asarray(emb.embed(texts), dtype=np.float32)
        size = -(-len(texts) // parts)
        chunks = [texts[i : i + size] for i in range(0, len(texts), size)]
        with ThreadPoolExecutor(len(chunks), thread_name_prefix="memory-embed") as pool:
            matrices = list(pool.map(emb.embed, chunks))
        return np.concatenate([np.asarray(m, dtype=np.float32) for m in matrices])

    def _remember(self, fresh: dict[str, npt.NDArray[np.float32]]) -> None:
        if self._limit <= 0:
            return
        with self._lock:
            memo = self._memo
            for text, vector in fresh.items():
                if len(memo) >= self._limit:
                    del memo[next(iter(memo))]  # the least recently used
                memo[text] = vector.copy()  # not a view pinning the batch's matrix
