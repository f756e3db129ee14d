"""The in-process BM25 index: the same ranking as memory-core's in-memory backend, and
fresh across connections (another process's appends, deletes and rewrites)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from memory_core import (
    Episode,
    EpisodeFilter,
    ExecutionStep,
    MemoryConfig,
    OutcomeType,
    StepResult,
    TaskContext,
    TaskOutcome,
)
from memory_core.models import SearchHit
from memory_core.plugins import STORAGE_GROUP, load_plugin
from memory_storage_turso import _lexical

VOCAB = [
    "deploy",
    "service",
    "migrate",
    "database",
    "schema",
    "postgres",
    "index",
    "query",
    "slow",
    "timeout",
    "retry",
    "login",
    "token",
    "refresh",
    "session",
    "cache",
    "invalidate",
    "billing",
    "invoice",
    "webhook",
    "queue",
    "worker",
    "parser",
    "config",
    "loader",
    "router",
    "middleware",
    "tests",
    "failing",
    "flaky",
    "pytest",
    "docker",
    "image",
    "build",
    "kubernetes",
    "pod",
    "crash",
    "memory",
    "leak",
    "profile",
    "latency",
    "upload",
    "avatar",
    "export",
    "csv",
    "report",
]
FILLER = ["the", "a", "of", "to", "and", "is", "it", "with"]  # stopwords: dropped by both
TOOLS = ["pytest", "editor", "shell", "git", "docker", "http_client"]
DOMAINS = ["web", "cli", "data"]
QUERIES = [
    "deploy the service",
    "postgres slow query timeout",
    "tests failing in pytest",
    "login token refresh",
    "cache",
    "Running migrations!",
    "kubernetes pod crash memory leak latency",
    "csv export report upload",
    "the a of",  # only stopwords: no hits
    "zzz-unknown-word",
    "deploy deploy deploy service",  # repeated query terms count once
]
FILTERS = [
    EpisodeFilter(),
    EpisodeFilter(domain="web"),
    EpisodeFilter(outcome=OutcomeType.SUCCESS),
    EpisodeFilter(tags=["t1"]),
    EpisodeFilter(domain="nowhere"),
]
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def _text(rng: random.Random, lo: int, hi: int) -> str:
    words = [rng.choice(VOCAB) for _ in range(rng.randint(lo, hi))]
    for _ in range(rng.randint(0, 3)):
        words.insert(rng.randint(0, len(words)), rng.choice(FILLER))
    return " ".join(words)


def _step(rng: random.Random, number: int) -> ExecutionStep:
    if rng.random() < 0.1:  # identical texts everywhere: many exact score ties
        return ExecutionStep(step_number=number, tool="shell", action="run tests")
    ok = rng.random() > 0.2
    return ExecutionStep(
        step_number=number,
        tool=rng.choice(TOOLS),
        action=_text(rng, 0, 6),
        result=StepResult.success(_text(rng, 0, 4)) if ok else StepResult.error(_text(rng, 1, 3)),
    )


class Pair:
    """The same writes applied to the libSQL backend and the in-memory one."""

    def __init__(self, turso: object, memory: object) -> None:
        self.stores = (turso, memory)

    def __getattr__(self, name: str) -> object:
        def both(*args: object, **kwargs: object) -> object:
            results = [getattr(s, name)(*args, **kwargs) for s in self.stores]
            return results[0]

        return both


def _compare(turso: object, memory: object, tenant: str, limit: int) -> int:
    """Assert equal rankings for every query and filter; returns how many hits compared."""
    compared = 0
    for query in QUERIES:
        for flt in FILTERS:
            got: list[SearchHit] = turso.lexical_search(tenant, query, limit, flt)  # type: ignore[attr-defined]
            want: list[SearchHit] = memory.lexical_search(tenant, query, limit, flt)  # type: ignore[attr-defined]
            assert [(h.episode_id, h.item) for h in got] == [
                (h.episode_id, h.item) for h in want
            ], (query, flt)
            for g, w in zip(got, want, strict=True):
                assert g.score == pytest.approx(w.score, abs=1e-6, rel=0), (query, flt)
            compared += len(got)
    return compared


@pytest.fixture
def memory_store() -> Iterator[object]:
    store = load_plugin(STORAGE_GROUP, "memory").from_url("memory:", MemoryConfig())  # type: ignore[attr-defined]
    yield store
    store.close()


@pytest.mark.parametrize("merge_min_pairs", [1 << 16, 64], ids=["delta", "merging"])
def test_same_ranking_as_the_in_memory_backend(
    store: object, memory_store: object, monkeypatch: pytest.MonkeyPatch, merge_min_pairs: int
) -> None:
    """Hundreds of generated episodes in two tenants, written in steps with searches in
    between (so the index is loaded once and then topped up, merging its delta when
    ``merging``), deletes and completions: same hits, same order, same scores."""
    monkeypatch.setattr(_lexical, "MERGE_MIN_PAIRS", merge_min_pairs)
    rng = random.Random(20251125)
    both = Pair(store, memory_store)
    episodes: list[Episode] = []
    for i in range(300):
        tenant = "t-a" if i % 3 else "t-b"
        ep = Episode(
            tenant=tenant,
            task_description=_text(rng, 1, 8) if i % 50 else "the of a",  # some all-stopword
            context=TaskContext(domain=rng.choice(DOMAINS), tags=["t1"] if i % 4 == 0 else []),
            started_at=T0 + timedelta(minutes=i),
            steps=[_step(rng, n) for n in range(1, rng.randint(1, 3))],
        )
        both.create_episode(ep)
        episodes.append(ep)
        if i % 60 == 59:  # searches between writes: load, then incremental top-ups
            _compare(store, memory_store, "t-a", 20)
    for ep in rng.sample(episodes, 120):
        start = len(ep.steps) + 1
        both.append_steps(ep.tenant, ep.id, [_step(rng, start + k) for k in range(4)])
    _compare(store, memory_store, "t-a", 50)
    for ep in rng.sample(episodes, 100):
        stored = store.get_episode(ep.tenant, ep.id)  # type: ignore[attr-defined]
        if stored is None or stored.outcome is not None:
            continue
        outcome = TaskOutcome.success("ok") if rng.random() < 0.6 else TaskOutcome.failure("no")
        done = stored.model_copy(update={"outcome": outcome, "completed_at": T0})
        both.complete_episode(done, None)
    for ep in rng.sample(episodes, 15):
        both.delete_episode(ep.tenant, ep.id)
    compared = 0
    for tenant in ("t-a", "t-b"):
        for limit in (1, 7, 200, 5000):
            compared += _compare(store, memory_store, tenant, limit)
    assert compared > 2000  # the comparison really covered hits
    # Reloading from scratch (another process's first search) gives the same again.
    store._lexical.forget()  # type: ignore[attr-defined]
    monkeypatch.setattr(_lexical, "LOAD_CHUNK", 97)  # several load chunks
    assert _compare(store, memory_store, "t-a", 200) > 0


def test_ties_are_ordered_by_episode_id_then_item(store: object) -> None:
    same = [Episode(tenant="x", task_description="flaky pytest run") for _ in range(30)]
    for ep in same:
        store.create_episode(ep)  # type: ignore[attr-defined]
    hits = store.lexical_search("x", "flaky", 10, EpisodeFilter())  # type: ignore[attr-defined]
    assert [h.episode_id for h in hits] == sorted(e.id for e in same)[:10]
    assert len({h.score for h in hits}) == 1


def test_tenants_have_their_own_statistics(store: object) -> None:
    """BM25 of a tenant does not move when another tenant adds documents."""
    store.create_episode(Episode(tenant="a", task_description="postgres index bloat"))  # type: ignore[attr-defined]
    store.create_episode(Episode(tenant="a", task_description="redis eviction"))  # type: ignore[attr-defined]
    before = store.lexical_search("a", "postgres", 5, EpisodeFilter())  # type: ignore[attr-defined]
    for i in range(50):
        store.create_episode(Episode(tenant="b", task_description=f"postgres chore {i}"))  # type: ignore[attr-defined]
    after = store.lexical_search("a", "postgres", 5, EpisodeFilter())  # type: ignore[attr-defined]
    assert before == after and len(after) == 1


def test_another_connection_sees_appends_deletes_and_rewrites(
    factory: object, tmp_path: Path
) -> None:
    """Two backends on one file (as two processes would be): the reader's next search
    reflects the writer's committed appends, erasures and rewritten task texts."""
    url = f"file:{tmp_path / 'shared.db'}"
    reader = factory.from_url(url, MemoryConfig())  # type: ignore[attr-defined]
    writer = factory.from_url(url, MemoryConfig())  # type: ignore[attr-defined]
    try:
        keep = Episode(tenant="t", task_description="rotate the signing keys")
        gone = Episode(tenant="t", task_description="rotate the logs")
        for ep in (keep, gone):
            writer.create_episode(ep)
        assert {
            h.episode_id for h in reader.lexical_search("t", "rotate", 10, EpisodeFilter())
        } == {
            keep.id,
            gone.id,
        }
        assert reader.lexical_search("t", "zeppelin", 10, EpisodeFilter()) == []  # index loaded
        writer.append_steps(
            "t", keep.id, [ExecutionStep(step_number=1, tool="shell", action="inflate zeppelin")]
        )
        hits = reader.lexical_search("t", "zeppelin", 10, EpisodeFilter())
        assert [(h.episode_id, h.item) for h in hits] == [(keep.id, 1)]
        writer.delete_episode("t", gone.id)
        assert [
            h.episode_id for h in reader.lexical_search("t", "rotate", 10, EpisodeFilter())
        ] == [keep.id]
        rewritten = writer.get_episode("t", keep.id).model_copy(
            update={"task_description": "renew certificates", "outcome": TaskOutcome.success()}
        )
        writer.complete_episode(rewritten, None)
        assert reader.lexical_search("t", "signing", 10, EpisodeFilter()) == []
        hits = reader.lexical_search("t", "certificates", 10, EpisodeFilter())
        assert [(h.episode_id, h.item) for h in hits] == [(keep.id, 0)]
        # The reader's statistics equal a fresh load's.
        fresh = factory.from_url(url, MemoryConfig())  # type: ignore[attr-defined]
        try:
            for q in ("rotate certificates zeppelin", "inflate", "renew"):
                assert reader.lexical_search("t", q, 10, EpisodeFilter()) == fresh.lexical_search(
                    "t", q, 10, EpisodeFilter()
                )
        finally:
            fresh.close()
    finally:
        reader.close()
        writer.close()


def test_warm_loads_indexes_before_the_first_search(store: object) -> None:
    store.create_episode(Episode(tenant="w", task_description="warm me up"))  # type: ignore[attr-defined]
    store._lexical.forget()  # type: ignore[attr-defined]
    report = store.warm()  # type: ignore[attr-defined]
    assert report["lexical"]["tenants"] == 1 and report["lexical"]["documents"] == 1
    assert store.stats("w").details["lexical_index"]["documents"] == 1  # type: ignore[attr-defined]
