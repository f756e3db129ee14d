"""The query path's session-nine changes against the previous code, alternated per query
in one process.

    uv run python benchmarks/query_path_ab.py --store /path/to/COPY/scale-1000000.db [--evict]

On one open store, per distinct workload query in rotating order,
``retrieve_relevant_context`` (limit 5) in three modes: ``old``, the k best documents of a
lexical search found by sorting every document tied at the k-th score, the impact
orders of long posting lists made by the first query holding their word (dicts of its
own, filled by its own queries, as in a process whose ``warm`` made none) and the hits'
summaries and steps read by (tenant, id); ``lexical``, the tied documents cut by id
before the sort (``TenantIndex._first``) and every long list's order made by ``warm``
(``TenantIndex.prepare``); ``new``, that and the summaries and steps of the hits read by
the pk their search noted (``_hit_pks``). Each mode gets the same 20 warm-up queries
first. Reports p50/p95 per mode, the ratios, the queries whose results (episode ids and
relevance) or top-200 lexical hits differ between the modes (must be 0), the identifier
searches among the queries, the process's CPU time per call (both threads: what a
loaded machine's wall time hides), and the load average. ``--evict`` drops the store's
page cache before every call (see ``vector_ab.py``). Open a COPY of a shared store.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from benchlib.stats import summarize
from benchlib.store_ab import WARMUPS, PageCache, add_ratios, distinct_queries, open_store, rotated
from memory_core import EpisodeFilter
from memory_core.relevance import unlisted_terms
from memory_storage_turso._hit_pks import HitPks
from memory_storage_turso._lexical import TenantIndex

NEW_FIRST = TenantIndex._first


class _Unnoted(HitPks):
    """No pk noted: every summary and step read by id (the previous reads)."""

    def note(self, pairs: Any) -> None:
        pass


def _old_first(
    self: TenantIndex, candidates: npt.NDArray[np.int64], scores: npt.NDArray[np.float64], k: int
) -> npt.NDArray[np.int64]:
    """The previous selection: every document tied with the k-th score sorted."""
    from memory_core.storage import bm25_top

    rows = np.arange(candidates.size)
    if k < candidates.size:
        rows = np.flatnonzero(scores >= bm25_top.kth_largest(scores, k))
    docs = candidates[rows]
    return rows[np.lexsort((self.items[docs], self.lo[docs], self.hi[docs], -scores[rows]))[:k]]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--store", type=Path, required=True)
    p.add_argument("--queries", type=int, default=200)
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--evict", action="store_true")
    a = p.parse_args()
    memory = open_store(a.store)  # the new mode's state: every long list ordered
    storage: Any = memory.storage
    indexes: list[TenantIndex] = list(storage._lexical._tenants.values())
    prepared = {id(i): (i.impacts, i.marks) for i in indexes}
    lazy: dict[int, tuple[dict[Any, Any], dict[Any, Any]]] = {id(i): ({}, {}) for i in indexes}
    pages = PageCache(a.store, a.evict)
    noted, unnoted = storage._hit_pks, _Unnoted()

    def mode(
        first: Any, orders: dict[int, tuple[dict[Any, Any], dict[Any, Any]]], pks: HitPks
    ) -> None:
        TenantIndex._first = first  # type: ignore[method-assign]
        for i in indexes:
            i.impacts, i.marks = orders[id(i)]
        storage._hit_pks = pks

    modes: dict[str, Callable[[], None]] = {
        "old": lambda: mode(_old_first, lazy, unnoted),
        "lexical": lambda: mode(NEW_FIRST, prepared, unnoted),
        "new": lambda: mode(NEW_FIRST, prepared, noted),
    }
    texts = distinct_queries(a.seed, a.queries)
    for name in modes:
        modes[name]()
        for text in texts[:WARMUPS]:
            memory.retrieve_relevant_context(text)
    times: dict[str, list[float]] = {m: [] for m in modes}
    cpu: dict[str, list[float]] = {m: [] for m in modes}  # both threads' CPU in the call
    names = list(modes)
    differ = hits_differ = 0
    for i, text in enumerate(texts[WARMUPS:]):
        got, hits = {}, {}
        for name in rotated(names, i):
            modes[name]()
            pages.drop()
            t, c = time.perf_counter(), time.process_time()
            res = memory.retrieve_relevant_context(text)
            times[name].append(time.perf_counter() - t)
            cpu[name].append(time.process_time() - c)
            got[name] = [(r.episode.id, round(r.relevance, 9)) for r in res]  # score: has now()
            hits[name] = [
                (h.episode_id, h.item, h.score, h.terms)
                for h in storage.lexical_search("default", text, 200, EpisodeFilter())
            ]
        differ += any(got[n] != got["old"] for n in names)
        hits_differ += any(hits[n] != hits["old"] for n in names)
    modes["new"]()
    memory.close()
    out: dict[str, Any] = {name: summarize(ts) for name, ts in times.items()}
    for name in names:
        spent = summarize(cpu[name])
        out[name]["cpu_p50_ms"], out[name]["cpu_p95_ms"] = spent["p50_ms"], spent["p95_ms"]
    add_ratios(out, names, ("p50", "p95"))
    out["queries_with_different_results"] = differ
    out["queries_with_different_lexical_hits_top200"] = hits_differ
    out["queries_with_an_identifier_search"] = sum(bool(unlisted_terms(t)) for t in texts[WARMUPS:])
    out["evict"] = a.evict
    out["load_average"] = list(os.getloadavg())
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
