"""What a physical delete costs: ``delete_episode`` latency on a libSQL file with the
LMDB cache, after a warm-up that fills the cache (median, p95 over ``--deletes``).

Run it with this tree and with an older one (same machine, same moment) to compare:
    uv run python benchmarks/delete_cost.py --episodes 300 --deletes 40
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from memory_core import ExecutionStep, MemoryConfig, SelfLearningMemory, StepResult, TaskOutcome

TOOLS = ("read_file", "grep", "edit_file", "run_tests", "git_diff")


def fill(memory: SelfLearningMemory, n: int) -> list[str]:
    ids = []
    for i in range(n):
        eid = memory.start_episode(f"task {i}: fix bug {i % 17} in module m{i % 23}", {})
        steps = [
            ExecutionStep(
                step_number=j + 1,
                tool=TOOLS[(i + j) % len(TOOLS)],
                action=f"step {j} of task {i} on file f{i}.py",
                result=StepResult.success(f"output {i}-{j} " * 8),
            )
            for j in range(6)
        ]
        memory.log_steps(eid, steps)
        memory.complete_episode(eid, TaskOutcome.success(f"verdict {i}"))
        ids.append(str(eid))
    memory.flush()
    return ids


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--episodes", type=int, default=300)
    parser.add_argument("--deletes", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config = MemoryConfig(
            database_url=f"file:{Path(tmp) / 'memory.db'}",
            cache_path=str(Path(tmp) / "cache"),
            embedding_provider="local",
        )
        with SelfLearningMemory.from_config(config) as memory:
            ids = fill(memory, args.episodes)
            times = []
            for eid in ids[: args.deletes]:
                memory.get_episode(eid)
                memory.retrieve_relevant_context("fix bug in module")
                t0 = time.perf_counter()
                memory.delete_episode(eid)
                times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    print(
        json.dumps(
            {
                "episodes": args.episodes,
                "deletes": len(times),
                "median_ms": round(statistics.median(times), 2),
                "p95_ms": round(times[int(0.95 * (len(times) - 1))], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
