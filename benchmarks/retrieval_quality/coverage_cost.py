"""What coverage of steps (retrieval step 1b) costs a query, on a libSQL file.

LoCoMo conversations stored as ``locomo.py`` stores them, with the default transformer;
each question is asked in three modes rotated per query (so load from other processes
falls on all alike): coverage off (no phrase vectors), on with the step vectors read from
the database, and on with them served from the exact matrix (the default). Prints p50 /
p95 per mode and how many results the two reads left identical (they must all be)::

    uv run python benchmarks/retrieval_quality/coverage_cost.py ../shared/data/locomo-dev
    uv run python benchmarks/retrieval_quality/coverage_cost.py DIR --conversations 1 --rounds 1
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import locomo
import memory_core._retriever as retriever
from memory_core import MemoryConfig, SelfLearningMemory
from memory_storage_turso import _vectors

MODES = ("off", "sql", "matrix")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("data", type=Path, help="a directory of LoCoMo-format conversations")
    p.add_argument("--conversations", type=int, default=3)
    p.add_argument("--questions", type=int, default=80, help="per conversation")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args(argv)

    with_phrases = retriever.query_vectors
    matrix_read = _vectors.Entry.unit_vectors

    def no_phrases(embedder: Any, text: str) -> tuple[Any, None]:
        return retriever.embed_query(embedder, text), None

    def database_read(self: Any, keys: Sequence[Any], out: Any) -> list[int]:
        return list(range(len(keys)))  # every key "not held": read from the database

    with tempfile.TemporaryDirectory() as tmp:
        config = MemoryConfig(
            database_url=f"file:{tmp}/coverage.db",
            cache_backend="none",
            embedding_provider="transformer",
        )
        memory = SelfLearningMemory(config=config)
        memory.warm()
        questions: list[tuple[str, str]] = []
        for i, conv in enumerate(locomo.load(args.data)[: args.conversations]):
            locomo.store(memory, conv, f"c{i}")
            questions += [(f"c{i}", q.text) for q in conv.questions][: args.questions]
        memory.flush()
        times: dict[str, list[float]] = {m: [] for m in MODES}
        same = 0
        for rnd in range(args.rounds):
            for k, (tenant, text) in enumerate(questions):
                shown: dict[str, Any] = {}
                for mode in MODES[(k + rnd) % 3 :] + MODES[: (k + rnd) % 3]:
                    retriever.query_vectors = no_phrases if mode == "off" else with_phrases  # type: ignore[assignment]
                    _vectors.Entry.unit_vectors = database_read if mode == "sql" else matrix_read  # type: ignore[method-assign]
                    t0 = time.perf_counter()
                    found = memory.retrieve_relevant_context(
                        text, limit=10, max_steps_per_episode=20, tenant=tenant
                    )
                    times[mode].append(1e3 * (time.perf_counter() - t0))
                    shown[mode] = [
                        (r.episode.id, [s.step_number for s in r.steps], round(r.score, 9))
                        for r in found
                    ]
                same += shown["sql"] == shown["matrix"]
        memory.close()
    n = len(times["off"])
    for mode, values in times.items():
        values.sort()
        print(f"{mode:7s} p50 {values[n // 2]:.2f} ms  p95 {values[int(0.95 * n)]:.2f} ms")
    print(f"identical results, database read vs matrix: {same} / {n}")
    return 0 if same == n else 1


if __name__ == "__main__":
    raise SystemExit(main())
