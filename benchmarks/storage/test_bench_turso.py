"""libSQL storage latency: insert, batched steps, lexical and vector top-10, delete.

Stores of 1K episodes (10K with ``BENCH_FULL=1``), each with a task text, 5 steps and a
384-d vector, in a real libSQL file. Figures go in packages/memory-storage-turso/README.md.
See conftest.py for the commands.
"""

from __future__ import annotations

import itertools
import os
import random
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
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

SIZES = [1_000, 10_000] if os.environ.get("BENCH_FULL") == "1" else [1_000]
DIM = 384
MODEL = "bench:384"
T = "bench"
_SYLLABLES = [
    "ka",
    "lo",
    "mi",
    "nu",
    "pe",
    "ri",
    "sa",
    "to",
    "vu",
    "xe",
    "zo",
    "bar",
    "cel",
    "dun",
    "fin",
    "gor",
    "hil",
]
WORDS = sorted({a + b + c for a in _SYLLABLES for b in _SYLLABLES for c in ("", "n", "s", "t")})
"""~1,150 words drawn with Zipf weights, like natural text: a few are very common."""
_WEIGHTS = [1.0 / (rank + 1) for rank in range(len(WORDS))]
DOMAINS = ("web", "cli", "data", "infra")


def _text(rng: random.Random, n: int) -> str:
    return " ".join(rng.choices(WORDS, weights=_WEIGHTS, k=n))


def _episode(rng: random.Random, i: int) -> Episode:
    return Episode(
        tenant=T,
        task_description=f"{_text(rng, 8)} task {i}",
        context=TaskContext(domain=DOMAINS[i % 4], tags=[rng.choice(WORDS[:20])]),
    )


def _steps(rng: random.Random, count: int, first: int = 1) -> list[ExecutionStep]:
    return [
        ExecutionStep(
            step_number=first + k,
            tool=rng.choice(("bash", "editor", "pytest")),
            action=_text(rng, 6),
            result=StepResult.success(_text(rng, 10)),
        )
        for k in range(count)
    ]


def _unit(rng: np.random.Generator) -> list[float]:
    v = rng.standard_normal(DIM).astype(np.float32)
    return (v / np.linalg.norm(v)).tolist()


@pytest.fixture(scope="module", params=SIZES, ids=lambda n: f"{n // 1000}K")
def filled(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    n: int = request.param
    path: Path = tmp_path_factory.mktemp("turso") / "bench.db"
    store = load_plugin(STORAGE_GROUP, "libsql").from_url(f"file:{path}", MemoryConfig())
    rng, nrng = random.Random(n), np.random.default_rng(n)
    for i in range(n):
        ep = _episode(rng, i)
        store.create_episode(ep)
        store.append_steps(T, ep.id, _steps(rng, 5))
        done = store.get_episode(T, ep.id).model_copy(update={"outcome": TaskOutcome.success()})
        record = EmbeddingRecord(episode_id=ep.id, item=0, model_id=MODEL, vector=_unit(nrng))
        store.complete_episode(done, Extraction(embeddings=[record]))
    yield n, store, rng, nrng
    store.close()


def test_insert_episode(filled: Any, latency: Any) -> None:
    n, store, rng, _ = filled
    counter = itertools.count()
    latency.run(
        f"create_episode @{n // 1000}K",
        lambda: store.create_episode(_episode(rng, next(counter))),
        rounds=300,
    )


def test_append_batch_of_100_steps(filled: Any, latency: Any) -> None:
    n, store, rng, _ = filled

    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        ep = _episode(rng, 0)
        store.create_episode(ep)
        return (ep.id, _steps(rng, 100)), {}

    latency.run(
        f"append_steps x100 @{n // 1000}K",
        lambda eid, steps: store.append_steps(T, eid, steps),
        rounds=50,
        setup=setup,
    )


def test_complete_episode_with_extraction(filled: Any, latency: Any) -> None:
    n, store, rng, nrng = filled

    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        ep = _episode(rng, 0)
        store.create_episode(ep)
        store.append_steps(T, ep.id, _steps(rng, 5))
        done = store.get_episode(T, ep.id).model_copy(update={"outcome": TaskOutcome.success()})
        records = [
            EmbeddingRecord(episode_id=ep.id, item=i, model_id=MODEL, vector=_unit(nrng))
            for i in range(6)
        ]
        return (done, Extraction(embeddings=records)), {}

    latency.run(
        f"complete_episode +6 vectors @{n // 1000}K",
        lambda done, ex: store.complete_episode(done, ex),
        rounds=100,
        setup=setup,
    )


def test_lexical_top10(filled: Any, latency: Any) -> None:
    n, store, rng, _ = filled
    queries = itertools.cycle([_text(rng, 4) for _ in range(64)])
    latency.run(
        f"lexical_search top-10 @{n // 1000}K",
        lambda: store.lexical_search(T, next(queries), 10, EpisodeFilter()),
        rounds=300,
    )


def test_lexical_top10_filtered(filled: Any, latency: Any) -> None:
    n, store, rng, _ = filled
    queries = itertools.cycle([_text(rng, 4) for _ in range(64)])
    latency.run(
        f"lexical_search top-10 domain=web @{n // 1000}K",
        lambda: store.lexical_search(T, next(queries), 10, EpisodeFilter(domain="web")),
        rounds=300,
    )


def test_vector_top10(filled: Any, latency: Any) -> None:
    n, store, _, nrng = filled
    queries = itertools.cycle([np.asarray(_unit(nrng), np.float32) for _ in range(64)])
    store.vector_search(T, MODEL, next(queries), 10, EpisodeFilter())  # load the matrix
    latency.run(
        f"vector_search top-10 (warm) @{n // 1000}K",
        lambda: store.vector_search(T, MODEL, next(queries), 10, EpisodeFilter()),
        rounds=300,
    )


def test_vector_top10_filtered(filled: Any, latency: Any) -> None:
    n, store, _, nrng = filled
    queries = itertools.cycle([np.asarray(_unit(nrng), np.float32) for _ in range(64)])
    latency.run(
        f"vector_search top-10 domain=web @{n // 1000}K",
        lambda: store.vector_search(T, MODEL, next(queries), 10, EpisodeFilter(domain="web")),
        rounds=300,
    )


def test_vector_top10_after_foreign_delete(filled: Any, latency: Any) -> None:
    """Worst case: every search follows a delete, so the matrix reloads from the file."""
    n, store, _, nrng = filled
    query = np.asarray(_unit(nrng), np.float32)

    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        store._vectors.forget()  # as after another process's delete
        return (), {}

    latency.run(
        f"vector_search top-10 (cold reload) @{n // 1000}K",
        lambda: store.vector_search(T, MODEL, query, 10, EpisodeFilter()),
        rounds=20,
        setup=setup,
    )


def test_delete_episode(filled: Any, latency: Any) -> None:
    n, store, rng, nrng = filled

    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        ep = _episode(rng, 0)
        store.create_episode(ep)
        store.append_steps(T, ep.id, _steps(rng, 5))
        store.put_embeddings(
            T, [EmbeddingRecord(episode_id=ep.id, item=0, model_id=MODEL, vector=_unit(nrng))]
        )
        return (ep.id,), {}

    latency.run(
        f"delete_episode @{n // 1000}K",
        lambda eid: store.delete_episode(T, eid),
        rounds=100,
        setup=setup,
    )
    assert store.get_episode(T, uuid.uuid4()) is None
