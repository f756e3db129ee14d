"""Child process for the crash and multi-process tests: writes episodes, prints each id
after its transaction committed (the acknowledgement the parent checks against).

    python _writer.py URL WORKER START COUNT [--read]

Episode ``n`` of a worker is fully determined by (worker, n): see ``expected``.
"""

from __future__ import annotations

import sys
import uuid

import numpy as np
from memory_core import (
    Episode,
    EpisodeFilter,
    ExecutionStep,
    MemoryConfig,
    StepResult,
    TaskContext,
    TaskOutcome,
)
from memory_core.models import EmbeddingRecord, Extraction
from memory_core.plugins import STORAGE_GROUP, load_plugin

NAMESPACE = uuid.UUID("0b9a3c1e-2f4d-4e6a-8b7c-9d0e1f2a3b4c")
DIM = 16


def episode_id(worker: str, n: int) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"{worker}/{n}")


def step_count(n: int) -> int:
    return n % 4 + 1


def expected(worker: str, n: int) -> Episode:
    """The episode as written (before completion bumps the version)."""
    return Episode(
        id=episode_id(worker, n),
        tenant=f"t-{worker}",
        task_description=f"worker {worker} episode {n} refactors module{n}",
        context=TaskContext(domain="crash", tags=[f"w{worker}"]),
    )


def vector(worker: str, n: int) -> list[float]:
    rng = np.random.default_rng(abs(hash((worker, n))) % 2**32)
    return [float(x) for x in rng.standard_normal(DIM)]


def main() -> None:
    url, worker, start, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    read = "--read" in sys.argv
    store = load_plugin(STORAGE_GROUP, "libsql").from_url(url, MemoryConfig(busy_timeout_ms=30_000))
    tenant = f"t-{worker}"
    for n in range(start, start + count):
        episode = expected(worker, n)
        store.create_episode(episode)
        steps = [
            ExecutionStep(
                step_number=i,
                tool="bash",
                action=f"edit module{n} part {i}",
                result=StepResult.success(f"ok {i}"),
            )
            for i in range(1, step_count(n) + 1)
        ]
        store.append_steps(tenant, episode.id, steps)
        done = store.get_episode(tenant, episode.id)
        assert done is not None
        done = done.model_copy(update={"outcome": TaskOutcome.success(f"done {n}")})
        record = EmbeddingRecord(
            episode_id=episode.id, item=0, model_id="crash:m", vector=vector(worker, n)
        )
        store.complete_episode(done, Extraction(embeddings=[record]))
        print(episode.id, flush=True)
        if read:
            assert store.lexical_search(tenant, f"module{n}", 5, EpisodeFilter())
            assert store.get_episode(tenant, episode.id) is not None
            store.vector_search(
                tenant, "crash:m", np.asarray(record.vector, np.float32), 3, EpisodeFilter()
            )
            store.list_episodes(tenant, EpisodeFilter(), 10)
    store.close()


if __name__ == "__main__":
    main()
