"""Bulk import rate: ``import_episodes`` of workload episodes into a fresh libSQL file.

The episodes are generated before timing (``benchlib.workload``, as ``scale.py`` stores
them), so the rate is that of the import alone. Printed per embedder: episodes per
wall-clock second, per CPU-second of the process (all threads), the texts embedded, and
the machine-independent figure ``cost / reference``: CPU per imported episode over the
CPU of serialising the same episode to JSON once (``model_dump_json``), timed in the same
process::

    uv run python benchmarks/import_rate.py                        # 5,000 episodes, local
    uv run python benchmarks/import_rate.py --embedders local,transformer --episodes 2000
    # float32 documents against the default int8 ones, in one run:
    uv run python benchmarks/import_rate.py --episodes 2000 \
        --embedders local,transformer=transformer:all-minilm-l6-v2,transformer
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchlib.workload import completed_episode

HERE = Path(__file__).resolve().parent
SEED = 20250101  # scale.py's: the same episodes


def run(episodes: list[Any], embedder: str, batch_size: int, work: Path) -> dict[str, Any]:
    from memory_core import MemoryConfig, SelfLearningMemory

    provider, _, model = embedder.partition("=")  # transformer=<model id>: that encoder
    db = work / f"import-{len(list(work.iterdir()))}.db"
    config = MemoryConfig(
        database_url=f"file:{db}",
        cache_backend="none",
        embedding_provider=provider,
        embedding_model=model or None,
    )
    memory = SelfLearningMemory.from_config(config)
    memory.warm()
    t0, cpu0 = time.perf_counter(), time.process_time()
    report = memory.import_episodes(episodes, batch_size=batch_size)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    vectors = sum(m.count for m in memory.storage.embedding_models())
    label = memory.embedder.model_id if memory.embedder is not None else embedder
    memory.close()
    ref0 = time.process_time()
    for episode in episodes:
        episode.model_dump_json()
    reference = (time.process_time() - ref0) / len(episodes)
    per_episode = cpu / max(report.imported, 1)
    return {
        "embedder": embedder,
        "model_id": label,
        "episodes": report.imported,
        "problems": len(report.problems),
        "vectors": vectors,
        "per_wall_s": round(report.imported / wall, 1),
        "per_cpu_s": round(report.imported / cpu, 1),
        "cpu_us_per_episode": round(per_episode * 1e6, 1),
        "reference_us_per_episode": round(reference * 1e6, 2),
        "cost_over_reference": round(per_episode / reference, 1),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--episodes", type=int, default=5_000)
    p.add_argument("--embedders", default="local", help="comma-separated: local,transformer,none")
    p.add_argument("--batch-size", type=int, default=500)
    p.add_argument("--json", action="store_true", help="print JSON only")
    args = p.parse_args(argv)
    episodes = [completed_episode(random.Random(SEED + i), i) for i in range(args.episodes)]
    work = Path(tempfile.mkdtemp(prefix="import-rate-"))
    try:
        results = [run(episodes, e, args.batch_size, work) for e in args.embedders.split(",")]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(results))
        return 0
    print("| embedder | episodes | vectors | per wall-s | per CPU-s | CPU / episode "
          "| cost / JSON reference |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['model_id']} | {r['episodes']:,} | {r['vectors']:,} | {r['per_wall_s']:,} "
              f"| {r['per_cpu_s']:,} | {r['cpu_us_per_episode']:,} µs "
              f"| {r['cost_over_reference']} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
