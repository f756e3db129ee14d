"""What the in-process A/B drivers over one big store share (``vector_ab.py``,
``query_path_ab.py``, ``channels_ab.py``): the store opened as they measure it, distinct
workload queries, the page cache dropped on demand, modes rotated per query, and ratios
to the first mode. Each driver keeps only what its modes switch."""

from __future__ import annotations

import os
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from memory_core import MemoryConfig, SelfLearningMemory

from benchlib.workload import query

WARMUPS = 20
"""Queries run before timing (the first ones of ``distinct_queries``)."""


def open_store(path: Path) -> SelfLearningMemory:
    """The store on the static model, no cache, warmed: indexes loaded, and a vector graph
    still being built or extended waited for (``warm(wait=True)``)."""
    memory = SelfLearningMemory.from_config(
        MemoryConfig(database_url=f"file:{path}", cache_backend="none", embedding_provider="local")
    )
    memory.warm()
    warm = getattr(memory.storage, "warm", None)
    if warm is not None:
        warm(wait=True)
    return memory


def distinct_queries(seed: int, timed: int) -> list[str]:
    """``WARMUPS + timed`` distinct workload queries (a repeated one would hit caches)."""
    rng = random.Random(seed)
    texts = list(dict.fromkeys(query(rng) for _ in range((timed + WARMUPS) * 3)))
    return texts[: timed + WARMUPS]


class PageCache:
    """The store's files (the database, its WAL and every index file beside it) with their
    pages dropped from the page cache by ``drop()`` when ``enabled`` (``--evict``). Only
    what no other process keeps in use goes; mapped pages (the graph's) stay, as they do
    when the machine reclaims memory."""

    def __init__(self, store: Path, enabled: bool) -> None:
        self.enabled = enabled
        self._fds = [os.open(f, os.O_RDONLY) for f in store.parent.glob(f"{store.name}*")]

    def drop(self) -> None:
        for fd in self._fds if self.enabled else []:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)


def rotated(names: Sequence[str], i: int) -> list[str]:
    """The modes in the order query ``i`` runs them: each mode goes first in turn."""
    k = i % len(names)
    return [*names[k:], *names[:k]]


def add_ratios(out: dict[str, Any], names: Sequence[str], quantiles: Sequence[str]) -> None:
    """``<q>_ratio_to_<first>`` for every mode after the first, from its summary."""
    first = names[0]
    for name in names[1:]:
        for q in quantiles:
            ratio = out[name][f"{q}_ms"] / out[first][f"{q}_ms"]
            out[name][f"{q}_ratio_to_{first}"] = round(ratio, 3)
