"""Lexical search and batched step logging on a copy of a stored scale database.

Measures, on a throwaway copy of ``benchmarks/.data/scale-<N>.db`` (built by
``benchmarks/scale.py``; the original is never opened for writing):

* the first ``lexical_search`` after open (index load, if the backend keeps one);
* ``lexical_search`` p50/p95 over the scale benchmark's queries (seeded), at the
  retrieval pipeline's candidate count (200) and at top-10, with and without a filter;
* a search right after another connection appended steps (the cross-process top-up);
* ``append_steps`` throughput in calls of 100 steps;
* the process's RSS growth across the first search (the index's memory).

Usage::

    uv run python benchmarks/storage/lexical_scale.py benchmarks/.data/scale-10000.db
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchlib.workload import query, steps_for, task
from memory_core import Episode, EpisodeFilter, MemoryConfig
from memory_core.plugins import STORAGE_GROUP, load_plugin


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def _pct(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1e3, 3),
        "p95_ms": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] * 1e3, 3),
        "max_ms": round(ordered[-1] * 1e3, 3),
    }


def _timed(fn: Any, n: int) -> list[float]:
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        fn(i)
        out.append(time.perf_counter() - t0)
    return out


def measure(src: Path, queries: int, batches: int) -> dict[str, Any]:
    cls = load_plugin(STORAGE_GROUP, "libsql")
    config = MemoryConfig()
    with tempfile.TemporaryDirectory(prefix="lexical-") as tmp:
        db = Path(tmp) / "store.db"
        shutil.copy2(src, db)
        for suffix in ("-wal", "-shm"):
            side = src.with_name(src.name + suffix)
            if side.exists():
                shutil.copy2(side, db.with_name(db.name + suffix))
        t0 = time.perf_counter()
        store = cls.from_url(f"file:{db}", config)
        open_s = time.perf_counter() - t0
        tenant = "default"
        rng = random.Random(7)
        qs = [query(rng) for _ in range(queries)]
        none = EpisodeFilter()
        rss0 = _rss_mb()
        t0 = time.perf_counter()
        store.lexical_search(tenant, qs[0], 200, none)
        first_s = time.perf_counter() - t0
        rss1 = _rss_mb()
        out: dict[str, Any] = {
            "db": str(src),
            "open_ms": round(open_s * 1e3, 1),
            "first_search_ms": round(first_s * 1e3, 1),
            "rss_growth_first_search_mb": round(rss1 - rss0, 1),
        }
        web = EpisodeFilter(domain="web-api")
        for name, limit, flt in (
            ("lexical top-200", 200, none),
            ("lexical top-10", 10, none),
            ("lexical top-200 domain=web-api", 200, web),
        ):
            out[name] = _pct(_timed(lambda i, k=limit, f=flt: store.lexical_search(
                tenant, qs[i], k, f), queries))  # fmt: skip
        out["hits_q0"] = len(store.lexical_search(tenant, qs[0], 200, none))

        # Steps appended by another connection (another process, as far as the
        # backend can tell), then a search: the cross-process top-up path.
        other = cls.from_url(f"file:{db}", config)
        t = task(rng, 10**7)
        ep = Episode(task_description=t.text, task_type=t.task_type, context=t.context)
        other.create_episode(ep)
        batch_steps = [steps_for(t, rng, start=1 + 100 * b, count=100) for b in range(batches)]
        append = _timed(lambda i: other.append_steps(tenant, ep.id, batch_steps[i]), batches)
        out["append_steps x100"] = {
            **_pct(append),
            "steps_per_s": round(100 * batches / sum(append)),
        }
        t0 = time.perf_counter()
        store.lexical_search(tenant, qs[1], 200, none)
        out[f"search after foreign append of {100 * batches} steps_ms"] = round(
            (time.perf_counter() - t0) * 1e3, 2
        )
        stats = store.stats(tenant).details or {}
        if "lexical_index" in stats:
            out["lexical_index"] = stats["lexical_index"]
        other.close()
        store.close()
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("db", type=Path)
    p.add_argument("--queries", type=int, default=200)
    p.add_argument("--batches", type=int, default=30, help="calls of 100 steps")
    args = p.parse_args()
    print(json.dumps(measure(args.db, args.queries, args.batches), indent=2))


if __name__ == "__main__":
    main()
