"""Calibrated relevance (memory_core.relevance), the floor and collapsed repeats, on real
stores: the in-memory backend and a libSQL file, with the bundled local embedder."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from memory_core import Episode, MemoryConfig, SelfLearningMemory, TaskOutcome
from memory_core.embeddings import StaticEmbeddingProvider
from memory_core.relevance import (
    GENERIC,
    SemanticCalibration,
    calibration_for,
    lexical_relevance,
    query_weights,
    term_weight,
)
from memory_core.testing.factories import BASE_TIME, make_step

TARGET = "migrate the billing service from postgres 12 to postgres 16"
QUERY = "upgrade postgres for the billing service"
_VERBS = ["fix", "add", "review", "deploy", "profile", "document", "test", "refactor"]
_THINGS = ["login page", "billing report", "search index", "postgres backup", "upload form",
           "service mesh", "email queue", "cache layer", "payment api", "docs site"]  # fmt: skip
_WHERE = ["in staging", "for the mobile app", "after the outage", "on monday", "again"]


def _others(n: int, seed: int) -> Iterator[str]:
    """Distinct coding tasks, many sharing the query's words (they change corpus idf)."""
    rng = random.Random(seed)
    combos = list(itertools.product(_VERBS, _THINGS, _WHERE))
    rng.shuffle(combos)
    for i in range(n):
        v, t, w = combos[i % len(combos)]
        yield f"{v} the {t} {w} (ticket {i})"


def _episode(text: str, minutes: int = 0) -> Episode:
    start = BASE_TIME + timedelta(minutes=minutes)
    return Episode(task_description=text, started_at=start, outcome=TaskOutcome.success())


def _memory(url: str, **extra: float) -> SelfLearningMemory:
    config = MemoryConfig(
        database_url=url, cache_backend="none", embedding_provider="local", **extra
    )
    return SelfLearningMemory.from_config(config)


@pytest.fixture(params=["memory", "libsql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return "memory:" if request.param == "memory" else f"file:{tmp_path / 'memory.db'}"


def test_the_same_pair_scores_the_same_with_10_and_5000_others(url: str) -> None:
    with _memory(url) as memory:
        target = _episode(TARGET)
        memory.import_episode(target)
        memory.import_episodes(_episode(t) for t in _others(10, 1))

        def relevance() -> tuple[float, str]:
            found = memory.retrieve_relevant_context(QUERY, limit=3)
            hit = next(r for r in found if r.episode.id == target.id)
            return hit.relevance, hit.reason

        small = relevance()
        memory.import_episodes(_episode(t) for t in _others(4990, 2))
        assert memory.count_episodes() == 5001
        large = relevance()
    assert small == large
    assert memory.config.min_relevance <= small[0] <= 1.0
    assert "'postgres'" in small[1] and "'billing'" in small[1]


CODING = [
    "fix failing CI because of flaky network test",
    "add OAuth sign-in with Google to the web app",
    "speed up the postgres query behind the dashboard",
    "write the release notes for the payment service",
    "debug the memory leak in the websocket server",
    "refactor the CLI argument parser",
    "migrate the build from make to bazel",
    "review the pull request that changes the rate limiter",
]


@pytest.mark.parametrize(
    "query",
    [
        "bake a chocolate cake for my grandmother's birthday",
        "write a birthday poem for my grandmother",  # one weak word: 'write'
        "plant tomatoes on the balcony next spring",
        "what is the best way to knit a scarf for the winter",
    ],
)
def test_an_unrelated_query_over_a_real_store_returns_nothing(tmp_path: Path, query: str) -> None:
    with _memory(f"file:{tmp_path / 'memory.db'}") as memory:
        memory.import_episodes(_episode(t, i) for i, t in enumerate(CODING))
        assert memory.retrieve_relevant_context(query, limit=5) == []
        result = memory.query(query, limit=5)
        assert result.episodes == [] and result.patterns == [] and result.heuristics == []
        unfloored = memory.retrieve_relevant_context(QUERY, limit=5)
        assert unfloored  # the store does answer a related query


def test_a_one_weak_term_match_scores_below_the_floor() -> None:
    floor = MemoryConfig().min_relevance
    weights = query_weights("write a birthday poem for my grandmother")
    assert set(weights) == {"write", "birthday", "poem", "grandmoth"}
    assert lexical_relevance(weights, ["write"]) < floor
    assert lexical_relevance(weights, list(weights)) == pytest.approx(1.0)
    # a common word weighs less than a rare one, an unknown identifier the most
    assert term_weight("write") < term_weight("grandmoth") < term_weight("kubectl2")
    with _memory("memory:") as memory:
        memory.import_episode(_episode("write the release notes for the payment service"))
        assert memory.retrieve_relevant_context(str(" ".join(weights)), limit=5) == []
        unfloored = _memory("memory:", min_relevance=0.0)
        with unfloored:
            unfloored.import_episode(_episode("write the release notes for the payment service"))
            (hit,) = unfloored.retrieve_relevant_context("write a birthday poem", limit=5)
            assert hit.relevance < floor
            assert "'write'" in hit.reason


def test_a_paraphrase_passes_the_floor() -> None:
    with _memory("memory:") as memory:
        memory.import_episodes(_episode(t, i) for i, t in enumerate(CODING))
        found = memory.retrieve_relevant_context("sign in through a Google account", limit=3)
        assert found and found[0].episode.task_description == CODING[1]
        assert found[0].relevance >= memory.config.min_relevance


def test_each_bundled_model_ships_its_calibration() -> None:
    cal = calibration_for(StaticEmbeddingProvider())
    assert isinstance(cal, SemanticCalibration) and cal is not GENERIC
    assert cal(0.9) > 0.9 and cal(0.1) < 0.05
    assert calibration_for(None) is None
    assert calibration_for(object()) is GENERIC


def _repeat(memory: SelfLearningMemory, text: str, minutes: int, actions: list[str]) -> Episode:
    ep = _episode(text, minutes)
    steps = [
        make_step(i + 1, action=a, output=f"took {minutes + i} s") for i, a in enumerate(actions)
    ]
    ep = ep.model_copy(update={"steps": steps})
    memory.import_episode(ep)
    return ep


def test_repeated_episodes_collapse_into_one_hit_that_says_how_many() -> None:
    text = "fix failing CI because of flaky network test again"
    actions = ["rerun the network test", "pin the mock server port", "rerun CI"]
    with _memory("memory:") as memory:
        repeats = [_repeat(memory, text, m, actions) for m in (0, 60, 120)]
        other_steps = _repeat(memory, "Fix failing CI, because of flaky network test again!",
                              200, ["bump the timeout"])  # fmt: skip
        memory.import_episodes(_episode(t, 300 + i) for i, t in enumerate(CODING))
        found = memory.retrieve_relevant_context("flaky network test fails CI", limit=6)
        same_task = [r for r in found if "flaky network test again" in r.episode.task_description]
        assert len(same_task) == 1
        (hit,) = same_task
        if hit.episode.id == other_steps.id:  # the best-scored stands for its group
            assert hit.repeats == 1
        else:
            assert hit.repeats == 3
            assert hit.last_repeat_at == repeats[-1].started_at
        ids = {r.episode.id for r in found}
        assert len(ids & {e.id for e in repeats} | ids & {other_steps.id}) == 1


@pytest.mark.parametrize("mmr", [True, False])
def test_two_episodes_with_equal_normalised_task_text_never_both_appear(mmr: bool) -> None:
    flags: dict[str, Any] = {} if mmr else {"feature_flags": {"mmr": False}}
    config = MemoryConfig(
        database_url="memory:", cache_backend="none", embedding_provider="local", **flags
    )
    with SelfLearningMemory.from_config(config) as memory:
        a = _repeat(memory, "Upgrade the Postgres driver", 0, ["pip install psycopg"])
        b = _repeat(memory, "upgrade the postgres  driver.", 5, ["edit requirements.txt"])
        found = memory.retrieve_relevant_context("upgrade the postgres driver", limit=5)
        assert len({r.episode.id for r in found} & {a.id, b.id}) == 1
        assert all(r.repeats == 1 for r in found)
