"""The two search channels one after the other against side by side, in the same run.

    uv run python benchmarks/channels_ab.py --store benchmarks/.data/scale-1000000.db

Per distinct workload query, in rotating order, ``retrieve_relevant_context`` (limit 5)
three ways on one open store: ``old`` (lexical then vector, graph effort 2048, as before
``search_channels``), ``side_by_side`` (the vector channel on its worker thread, effort
2048) and ``new`` (side by side, the graph effort of ``_ann.EXPANSION_SEARCH``). Each
mode takes the first turn a third of the time, so none gets the pages another warmed.
Reports p50/p95 per mode and the ratios to ``old``. Open a COPY of a shared store (an
open may write beside it).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from benchlib.stats import summarize
from benchlib.store_ab import WARMUPS, add_ratios, distinct_queries, open_store, rotated
from memory_storage_turso import _ann, _storage


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--store", type=Path, required=True)
    p.add_argument("--queries", type=int, default=200)
    p.add_argument("--seed", type=int, default=11)
    a = p.parse_args()
    memory = open_store(a.store)
    texts = distinct_queries(a.seed, a.queries)
    modes = {
        "old": (10**15, 2048),
        "side_by_side": (_storage.PARALLEL_MIN_ROWS, 2048),
        "new": (_storage.PARALLEL_MIN_ROWS, _ann.EXPANSION_SEARCH),
    }
    for text in texts[:WARMUPS]:
        memory.retrieve_relevant_context(text)
    times: dict[str, list[float]] = {m: [] for m in modes}
    names = list(modes)
    for i, text in enumerate(texts[WARMUPS:]):
        for name in rotated(names, i):
            _storage.PARALLEL_MIN_ROWS, _ann.EXPANSION_SEARCH = modes[name]
            t = time.perf_counter()
            memory.retrieve_relevant_context(text)
            times[name].append(time.perf_counter() - t)
    memory.close()
    out = {name: summarize(ts) for name, ts in times.items()}
    add_ratios(out, names, ("p50", "p95"))
    out["load_average"] = list(os.getloadavg())
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
