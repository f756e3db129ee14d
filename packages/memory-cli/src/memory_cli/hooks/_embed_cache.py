"""The recorder's embedder: the configured provider, remembering its last few prompts.

Building a prompt's context asks the memory twice about the same text (the episodes,
then the playbook), and each asks the embedder for the prompt's vector: on this two-core
machine one short text costs the transformer 10-35 ms, half of what recall may take
within a hook call's budget. Vectors of single texts are kept (a few, most recent
first); batches (the background embedding of stored steps) pass straight through.
Every other attribute (``calibration``, ``path``, ...) is the provider's own, so the
memory calibrates relevance exactly as it would without the wrapper.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from memory_core.protocols import EmbeddingProvider

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Vectors = npt.NDArray[np.float32]

KEEP = 16


class RecentEmbeddings:
    """An ``EmbeddingProvider`` that remembers the vectors of its last ``KEEP`` texts."""

    name: ClassVar[str] = "recent"

    def __init__(self, inner: EmbeddingProvider, keep: int = KEEP) -> None:
        self.inner = inner
        self._keep = keep
        self._vectors: OrderedDict[str, Vectors] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def model_id(self) -> str:
        return self.inner.model_id

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def embed(self, texts: Sequence[str]) -> Vectors:
        if len(texts) != 1:
            return self.inner.embed(texts)
        text = texts[0]
        with self._lock:
            known = self._vectors.get(text)
            if known is not None:
                self._vectors.move_to_end(text)
                return known.copy()
        vectors = self.inner.embed(texts)
        with self._lock:
            self._vectors[text] = vectors.copy()
            while len(self._vectors) > self._keep:
                self._vectors.popitem(last=False)
        return vectors

    def warm(self) -> None:
        self.inner.warm()

    def close(self) -> None:
        with self._lock:
            self._vectors.clear()
        self.inner.close()

    def __getattr__(self, attr: str) -> Any:
        # only called for attributes not defined here: the provider's own
        return getattr(self.inner, attr)
