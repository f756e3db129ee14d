"""Paraphrase recall as the store grows, and how often an unrelated query returns nothing.

In-process (``retrieve_relevant_context``, limit 5, in-memory backend), for each embedder:

- ``recall@5``: each stored note's paraphrase (``benchlib.paraphrase``, every slot reworded)
  finds the note among the 5 episodes returned, at 1K and at 10K stored notes;
- ``recall@5 without identifier``: the same with the component (the note's most specific
  words) left out of the paraphrase;
- ``unrelated empty``: share of queries from other domains entirely (cooking, travel,
  gardening, ... — ``benchlib.unrelated``) that return no episode.

Store texts are embedded in batches up front (``_Precomputed``) so that 10K notes load in
seconds; the vectors are the provider's own, so the ranking is the one a user gets::

    uv run python benchmarks/retrieval_quality/paraphrase_scale.py            # 1K and 10K
    uv run python benchmarks/retrieval_quality/paraphrase_scale.py --sizes 1000 --queries 100
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from uuid import UUID, uuid5

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

from benchlib.paraphrase import COMPONENTS, Note, notes  # noqa: E402
from benchlib.unrelated import unrelated_queries  # noqa: E402
from memory_core import Episode, MemoryConfig, SelfLearningMemory, TaskOutcome  # noqa: E402
from memory_core._protocols import EmbeddingProvider  # noqa: E402
from memory_core.embeddings import provider_from_config  # noqa: E402

NOTE_NS = UUID("1b4e28ba-2fa1-4d2b-9c3e-5a6f7b8c9d0e")
SEED = 14
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "paraphrase_scale.json"
_COMPONENT_WORDS = sorted({w for slot in COMPONENTS for w in slot}, key=len, reverse=True)


class _Precomputed:
    """The provider, with the store's texts embedded once in large batches."""

    def __init__(self, inner: EmbeddingProvider, texts: Sequence[str]) -> None:
        self._inner = inner
        self._table: dict[str, npt.NDArray[np.float32]] = {}
        unique = list(dict.fromkeys(texts))
        for start in range(0, len(unique), 256):
            chunk = unique[start : start + 256]
            for text, vec in zip(chunk, inner.embed(chunk), strict=True):
                self._table[text] = vec

    @property
    def model_id(self) -> str:
        return self._inner.model_id

    @property
    def dimension(self) -> int:
        return self._inner.dimension

    def warm(self) -> None:
        self._inner.warm()

    def close(self) -> None:
        self._inner.close()

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        if all(t in self._table for t in texts):
            return np.stack([self._table[t] for t in texts])
        return self._inner.embed(texts)


def without_identifier(paraphrase: str) -> str:
    """The paraphrase with its component wording removed."""
    out = paraphrase
    for words in _COMPONENT_WORDS:
        out = re.sub(rf"\b{re.escape(words)}\b", "", out, flags=re.IGNORECASE)
    return re.sub(r"\s+", " ", re.sub(r"\(\s*,", "(", out)).strip()


FLOORS = (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6)


def _found(results: list[Any], want: UUID) -> float:
    """The wanted episode's relevance if it is among the results, else -1."""
    return next((r.relevance for r in results if r.episode.id == want), -1.0)


def run(provider_name: str, size: int, queries: int, floor: float | None = None) -> dict[str, Any]:
    """One store size and embedder; ``floor`` overrides ``MEMORY_MIN_RELEVANCE`` (the
    sweep runs at 0 and applies each floor of ``FLOORS`` to the relevances seen)."""
    items: list[Note] = notes(size, SEED)
    extra = {} if floor is None else {"min_relevance": floor}
    config = MemoryConfig(
        database_url="memory:", cache_backend="none", embedding_provider=provider_name, **extra
    )
    inner = provider_from_config(config)
    assert inner is not None
    t0 = time.perf_counter()
    embedder = _Precomputed(inner, [n.text for n in items])
    load_s = time.perf_counter() - t0
    memory = SelfLearningMemory(embedder=embedder, config=config)  # same provider, batched
    for note in items:
        ep = Episode(id=uuid5(NOTE_NS, note.text), task_description=note.text)
        memory.import_episode(ep.model_copy(update={"outcome": TaskOutcome.success()}))
    step = max(1, size // queries)
    asked = items[::step][:queries]
    hits = hits_noid = 0
    latencies = []
    seen: list[float] = []
    seen_noid: list[float] = []
    for note in asked:
        want = uuid5(NOTE_NS, note.text)
        t = time.perf_counter()
        found = memory.retrieve_relevant_context(note.paraphrase, limit=5)
        latencies.append(time.perf_counter() - t)
        seen.append(_found(found, want))
        hits += seen[-1] >= 0
        found = memory.retrieve_relevant_context(without_identifier(note.paraphrase), limit=5)
        seen_noid.append(_found(found, want))
        hits_noid += seen_noid[-1] >= 0
    unrelated = unrelated_queries(queries, SEED)
    tops = []
    for q in unrelated:
        found = memory.retrieve_relevant_context(q, limit=5)
        tops.append(max((r.relevance for r in found), default=-1.0))
    empty = sum(t < 0 for t in tops)
    memory.close()
    latencies.sort()
    sweep = {
        f"{f:.2f}": {
            "recall_at_5": round(sum(r >= f for r in seen) / len(seen), 3),
            "recall_at_5_without_identifier": round(sum(r >= f for r in seen_noid) / len(seen), 3),
            "unrelated_empty": round(sum(t < f for t in tops) / len(tops), 3),
        }
        for f in FLOORS
    }
    return {
        "embedder": inner.model_id,
        "stored": size,
        "queries": len(asked),
        "recall_at_5": round(hits / len(asked), 3),
        "recall_at_5_without_identifier": round(hits_noid / len(asked), 3),
        "unrelated_empty": round(empty / len(unrelated), 3),
        "retrieve_p50_ms": round(1e3 * latencies[len(latencies) // 2], 2),
        "embed_store_s": round(load_s, 1),
        "min_relevance": config.min_relevance,
        **({"floor_sweep": sweep} if config.min_relevance == 0 else {}),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000])
    p.add_argument("--queries", type=int, default=200)
    p.add_argument("--embedders", nargs="+", default=["transformer", "local"])
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    p.add_argument(
        "--sweep", action="store_true", help="run with no floor and report each of FLOORS"
    )
    args = p.parse_args(argv)
    rows = []
    for name in args.embedders:
        for size in args.sizes:
            row = run(name, size, args.queries, 0.0 if args.sweep else None)
            print(json.dumps(row), flush=True)
            rows.append(row)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
