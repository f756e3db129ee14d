"""What encrypting the whole database costs: the same writes and queries on a libSQL file
with and without ``MEMORY_ENCRYPT_DATABASE``, interleaved in one run (so machine load hits
both alike); reports per-episode write time and query time (median, p95) and their ratios.

    uv run python benchmarks/encryption_cost.py --episodes 300 --queries 100
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from memory_core import (
    ExecutionStep,
    MemoryConfig,
    SelfLearningMemory,
    StepResult,
    TaskContext,
    TaskOutcome,
)
from memory_core.security import generate_key

TOOLS = ("read_file", "grep", "edit_file", "run_tests", "git_diff")


def _episode(memory: SelfLearningMemory, i: int) -> None:
    eid = memory.start_episode(f"fix bug {i % 17} in module m{i % 23} ({i})", TaskContext())
    memory.log_steps(
        eid,
        [
            ExecutionStep(
                step_number=j + 1,
                tool=TOOLS[(i + j) % len(TOOLS)],
                action=f"step {j} of task {i} on f{i}.py",
                result=StepResult.success(f"output {i}-{j} " * 6),
            )
            for j in range(4)
        ],
    )
    memory.complete_episode(eid, TaskOutcome.success(f"verdict {i}"))


def _stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return {"p50_ms": round(statistics.median(ordered), 3), "p95_ms": round(p95, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=300)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--out", type=Path, default=None, help="write the JSON report here")
    args = parser.parse_args()
    keys = f"k1:{generate_key()}"
    with tempfile.TemporaryDirectory() as tmp:
        configs = {
            name: MemoryConfig(
                database_url=f"file:{Path(tmp) / name / 'memory.db'}",
                encrypt_database=name == "encrypted",
                encryption_keys=keys,
                embedding_provider="local",
            )
            for name in ("plain", "encrypted")
        }
        memories = {name: SelfLearningMemory.from_config(c) for name, c in configs.items()}
        for memory in memories.values():
            memory.warm()
        writes: dict[str, list[float]] = {name: [] for name in memories}
        queries: dict[str, list[float]] = {name: [] for name in memories}
        for i in range(args.episodes):
            for name, memory in memories.items():
                start = time.perf_counter()
                _episode(memory, i)
                writes[name].append((time.perf_counter() - start) * 1000)
        for q in range(args.queries):
            for name, memory in memories.items():
                start = time.perf_counter()
                memory.retrieve_relevant_context(f"bug {q % 17} in module m{q % 23} {q}")
                queries[name].append((time.perf_counter() - start) * 1000)
        for memory in memories.values():
            memory.close()
    report: dict[str, object] = {
        "episodes": args.episodes,
        "queries": args.queries,
        "write_episode": {n: _stats(v) for n, v in writes.items()},
        "query": {n: _stats(v) for n, v in queries.items()},
    }
    for kind, samples in (("write_episode", writes), ("query", queries)):
        report[f"{kind}_ratio_p50"] = round(
            statistics.median(samples["encrypted"]) / statistics.median(samples["plain"]), 3
        )
    text = json.dumps(report, indent=2)
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
