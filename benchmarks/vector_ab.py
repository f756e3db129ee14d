"""The graph's in-process tables against the SQL reads they replace, alternated per query.

    uv run python benchmarks/vector_ab.py --store /path/to/COPY/scale-1000000.db [--evict]

On one open store, per distinct workload query in rotating order, ``retrieve_relevant_context``
(limit 5) with the vector graph's optional tables hidden (``old``: the hits' episodes and
the re-rank's vectors read through SQL), with the episode id table only (``ids_only``),
with both (``checked``) and with both and the graph's lost rows (``new``; ``_dead_rows``,
only for a graph that lost rows: else ``checked`` and ``new`` are the same code; without it
every returned row is checked in SQL), so that all modes see the same load and the same
page cache. Reports p50/p95 per mode, the ratios, whether
every query's results (episode ids and relevance) and its top 200 vector hits (episode,
item, cosine; untimed) were the same in all modes, and the load average. ``--evict`` drops the store file's page cache before every call
(``posix_fadvise(DONTNEED)``; only what no other process keeps in use goes), which is what
the machine's page-out daemon does to pages unused for seconds (the files beside it too,
but not the pages a process maps, which it leaves, and which ``DONTNEED`` leaves): the
tail at 1M. Open a
COPY of a shared store (an open may write beside it; eviction slows its other readers).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchlib.stats import summarize
from benchlib.store_ab import WARMUPS, PageCache, add_ratios, distinct_queries, open_store, rotated
from memory_core import EpisodeFilter, SelfLearningMemory

OPTIONAL = ("ids", "vectors")
"""``AnnGraph`` attributes the search works without (None: the SQL reads)."""


def _graphs(memory: SelfLearningMemory) -> list[Any]:
    entries = memory.storage._vectors._entries.values()  # type: ignore[attr-defined]
    return [e.graph for e in entries if e.graph is not None]


def _mode(
    graphs: list[Any],
    saved: dict[int, dict[str, Any]],
    hide: tuple[str, ...],
    entries: dict[int, tuple[Any, Any]],
) -> None:
    for g in graphs:
        for name in OPTIONAL:
            setattr(g, name, None if name in hide else saved[id(g)][name])
    for entry, dead in entries.values():  # the graph's lost rows (None: check every row)
        entry.dead = None if "dead" in hide else dead


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--store", type=Path, required=True)
    p.add_argument("--queries", type=int, default=200)
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--evict", action="store_true")
    a = p.parse_args()
    memory = open_store(a.store)
    graphs = _graphs(memory)
    saved = {id(g): {n: getattr(g, n, None) for n in OPTIONAL} for g in graphs}
    entries = {id(e): (e, e.dead) for e in memory.storage._vectors._entries.values()}  # type: ignore[attr-defined]
    pages = PageCache(a.store, a.evict)
    texts = distinct_queries(a.seed, a.queries)
    for text in texts[:WARMUPS]:
        memory.retrieve_relevant_context(text)
    modes: dict[str, Callable[[], None]] = {
        "old": lambda: _mode(graphs, saved, (*OPTIONAL, "dead"), entries),
        "ids_only": lambda: _mode(graphs, saved, ("vectors", "dead"), entries),
        "checked": lambda: _mode(graphs, saved, ("dead",), entries),
        "new": lambda: _mode(graphs, saved, (), entries),
    }
    times: dict[str, list[float]] = {m: [] for m in modes}
    names = list(modes)
    differ = hits_differ = 0
    storage: Any = memory.storage
    tenant, model = next(iter(storage._vectors._entries))
    embed = memory.embedder.embed  # type: ignore[attr-defined]
    hits: dict[str, list[Any]] = {}
    for i, text in enumerate(texts[WARMUPS:]):
        got = {}
        for name in rotated(names, i):
            modes[name]()
            pages.drop()
            t = time.perf_counter()
            res = memory.retrieve_relevant_context(text)
            times[name].append(time.perf_counter() - t)
            got[name] = [(r.episode.id, round(r.relevance, 9)) for r in res]  # score: has now()
            hits[name] = [
                (h.episode_id, h.item, h.score)
                for h in storage.vector_search(
                    tenant, model, embed([text])[0], 200, EpisodeFilter()
                )
            ]
        differ += any(got[n] != got["old"] for n in names)
        hits_differ += any(hits[n] != hits["old"] for n in names)
    modes["new"]()
    memory.close()
    out: dict[str, Any] = {name: summarize(ts) for name, ts in times.items()}
    add_ratios(out, names, ("p50", "p95"))
    out["queries_with_different_results"] = differ
    out["queries_with_different_vector_hits_top200"] = hits_differ
    out["evict"] = a.evict
    out["load_average"] = list(os.getloadavg())
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
