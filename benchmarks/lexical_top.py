"""Lexical search on a stored scale.py store: early-terminating BM25 top-k against
scoring every posting of every query term (the previous ``top_k``), in the same run.

    uv run python benchmarks/lexical_top.py --store benchmarks/.data/scale-100000.db

Per distinct workload query, alternately: ``lexical_search`` (top 200, what retrieval
asks) and ``retrieve_relevant_context`` (limit 5), each with the new ``top_k`` and with
full scoring patched in; the hits of both are asserted equal. Reports p50/p95 of each,
the lexical index's open time (from its snapshot when saved), the index's bytes per posting, and the one-time
cost of the impact tiers of every long list. Open a COPY of a shared store (an open may
write beside it).
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from uuid import UUID

import numpy as np
import numpy.typing as npt
from benchlib.stats import summarize
from benchlib.workload import query
from memory_core import EpisodeFilter, MemoryConfig, SelfLearningMemory
from memory_core.storage import bm25_top
from memory_core.storage.bm25 import idf, term_score
from memory_core.text import terms
from memory_storage_turso import _lexical


def full_top_k(
    index: _lexical.TenantIndex,
    query_terms: Sequence[str],
    k: int,
    allowed: npt.NDArray[np.int64] | None,
) -> list[tuple[UUID, int, float, tuple[str, ...]]]:
    """The previous ``TenantIndex.top_k``: every posting of every query term scored."""
    if index.n == 0 or k <= 0:
        return []
    n = index.n
    avg = index.total_length / n or 1.0
    scores: npt.NDArray[np.float64] | None = None
    found: list[str] = []
    held: list[npt.NDArray[np.bool_]] = []
    for word in dict.fromkeys(query_terms):
        term = index.vocab.get(word)
        if term is None:
            continue
        weight = idf(n, int(index.df[term]))
        found.append(word)
        held.append(np.zeros(n, np.bool_))
        lists = []
        if term + 1 < len(index.offsets):
            a, b = int(index.offsets[term]), int(index.offsets[term + 1])
            if b > a:
                lists.append((index.docs[a:b], index.tfs[a:b].astype(np.float64)))
        if term in index.delta:
            d, f = index.delta[term]
            lists.append((np.frombuffer(d, np.int32).copy(),
                          np.frombuffer(f, np.float32).astype(np.float64)))  # fmt: skip
        for docs, tf in lists:
            if scores is None:
                scores = np.zeros(n, np.float64)
            scores[docs] += term_score(weight, tf, index.lengths[docs], avg)
            held[-1][docs] = True
    if scores is None:
        return []
    cand = np.flatnonzero(scores)
    if allowed is not None and cand.size:
        mask = np.zeros(max(int(index.pks[:n].max()), int(allowed.max(initial=0))) + 1, bool)
        mask[allowed] = True
        cand = cand[mask[index.pks[cand]]]
    if cand.size == 0:
        return []
    cs = scores[cand]
    if k < cand.size:
        kth = np.partition(cs, cand.size - k)[cand.size - k]
        cand, cs = cand[cs >= kth], cs[cs >= kth]
    chosen = cand[np.lexsort((index.items[cand], index.lo[cand], index.hi[cand], -cs))[:k]]
    return [
        (UUID(int=(int(index.hi[i]) << 64) | int(index.lo[i])), int(index.items[i]),
         float(scores[i]), tuple(w for j, w in enumerate(found) if held[j][i]))
        for i in chosen.tolist()
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--store", type=Path, required=True)
    p.add_argument("--queries", type=int, default=200)
    p.add_argument("--tenant", default="default")
    args = p.parse_args(argv)
    memory = SelfLearningMemory.from_config(
        MemoryConfig(
            database_url=f"file:{args.store}", cache_backend="none", embedding_provider="local"
        )
    )
    t0 = time.perf_counter()
    memory.warm()
    warm_s = time.perf_counter() - t0
    storage: Any = memory.storage
    lex = storage._lexical
    lex.forget()  # the lexical index alone, opened again (from its snapshot when saved)
    t0 = time.perf_counter()
    storage._db.read(lambda tx: lex.refreshed(tx, args.tenant))
    out_open = round(time.perf_counter() - t0, 2)
    index = lex._tenants[args.tenant]
    out: dict[str, Any] = {"store": str(args.store), "warm_s": round(warm_s, 2)}
    out["lexical_open_s"], out["from_snapshot"] = out_open, index.snapshot_docs > 0
    out["documents"], out["postings"], out["terms"] = (
        index.n,
        int(index.docs.size),
        len(index.vocab),
    )
    out["bytes_per_posting_before"] = round(index.nbytes / max(1, index.docs.size), 2)
    # One-time cost of the impact tiers of every long list (built lazily per term).
    avg = index.total_length / index.n
    t0 = time.perf_counter()
    sizes = np.diff(index.offsets)
    for term in np.flatnonzero(sizes >= bm25_top.IMPACT_MIN).tolist():
        a, b = int(index.offsets[term]), int(index.offsets[term + 1])
        index.impacts[term] = bm25_top.impact_order(
            index.docs[a:b], index.tfs[a:b], index.lengths, avg
        )
    out["impact_build_all_s"] = round(time.perf_counter() - t0, 2)
    out["long_lists"] = len(index.impacts)
    out["bytes_per_posting_after"] = round(index.nbytes / max(1, index.docs.size), 2)
    rng = random.Random(5)
    texts: list[str] = []
    while len(texts) < args.queries:
        q = query(rng)
        if q not in texts:
            texts.append(q)
    new_top_k = _lexical.TenantIndex.top_k
    samples: dict[str, list[float]] = {
        k: [] for k in ("lex_new", "lex_full", "rrc_new", "rrc_full")
    }
    for text in texts:
        qt = terms(text)
        got = index.top_k(qt, 200, None)
        assert got == full_top_k(index, qt, 200, None), text
        for name, impl in (("new", new_top_k), ("full", full_top_k)):
            _lexical.TenantIndex.top_k = impl  # type: ignore[method-assign]
            t0 = time.perf_counter()
            storage.lexical_search(args.tenant, text, 200, EpisodeFilter())
            samples[f"lex_{name}"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            memory.retrieve_relevant_context(text, limit=5)
            samples[f"rrc_{name}"].append(time.perf_counter() - t0)
        _lexical.TenantIndex.top_k = new_top_k  # type: ignore[method-assign]
    for name, values in samples.items():
        s = summarize(values)
        out[name] = {"p50_ms": s["p50_ms"], "p95_ms": s["p95_ms"]}
    out["lex_p50_ratio_new_over_full"] = round(
        out["lex_new"]["p50_ms"] / out["lex_full"]["p50_ms"], 3
    )
    out["rrc_p50_ratio_new_over_full"] = round(
        out["rrc_new"]["p50_ms"] / out["rrc_full"]["p50_ms"], 3
    )
    print(json.dumps(out, indent=1))
    memory.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
