"""FTS5 search: stemming, OR of terms, and user text that must never break FTS syntax."""

from __future__ import annotations

import pytest
from memory_core import (
    Episode,
    EpisodeFilter,
    ExecutionStep,
    Pattern,
    PatternFilter,
    PatternKind,
    Reflection,
    StepResult,
    TaskOutcome,
)
from memory_storage_turso._fts import match_expression

HOSTILE = [
    '"',
    '""',
    "'",
    "NEAR(a b)",
    "a AND",
    "OR",
    "NOT x",
    "-x",
    "*",
    "a*",
    "col:value",
    "text: x",
    "^start",
    "(unbalanced",
    "x) OR (y",
    "{text}: q",
    "\\",
    "\x00",
    "💥 émoji",
    "SELECT * FROM episodes; --",
    " ",
    "",
]


def test_match_expression_quotes_every_term() -> None:
    assert (
        match_expression('Fix "login" NEAR(bug) -x') == '"fix" OR "login" OR "near" OR "bug" OR "x"'
    )
    assert match_expression("  *** ") is None
    assert match_expression("Ünïcode CAFÉ") == '"ünïcode" OR "café"'


@pytest.mark.parametrize("query", HOSTILE)
def test_hostile_queries_never_raise(store: object, query: str) -> None:
    ep = Episode(tenant="x", task_description="near the start a column value x")
    store.create_episode(ep)  # type: ignore[attr-defined]
    store.lexical_search("x", query, 10, EpisodeFilter())  # type: ignore[attr-defined]
    store.search_patterns("x", query, 10, PatternFilter())  # type: ignore[attr-defined]


def test_porter_stemming_and_diacritics(store: object) -> None:
    ep = Episode(tenant="x", task_description="Running the migrations on the café database")
    store.create_episode(ep)  # type: ignore[attr-defined]
    for q in ("run", "runs", "migration", "cafe"):
        assert [h.episode_id for h in store.lexical_search("x", q, 5, EpisodeFilter())] == [
            ep.id
        ], q  # type: ignore[attr-defined]


def test_item_zero_is_the_task_description_as_in_memory(store: object) -> None:
    """Item 0 is the task description only (as memory-core's in-memory backend indexes
    it, so both rank alike); a reflection added at completion is not searchable."""
    ep = Episode(tenant="x", task_description="deploy service")
    store.create_episode(ep)  # type: ignore[attr-defined]
    store.append_steps(
        "x",
        ep.id,
        [
            ExecutionStep(
                step_number=1,
                tool="kubectl",
                action="apply",
                result=StepResult.error("ImagePullBackOff"),
            )
        ],
    )  # type: ignore[attr-defined]
    assert [h.item for h in store.lexical_search("x", "imagepullbackoff", 5, EpisodeFilter())] == [
        1
    ]  # type: ignore[attr-defined]
    done = store.get_episode("x", ep.id).model_copy(  # type: ignore[attr-defined]
        update={
            "outcome": TaskOutcome.success(),
            "reflection": Reflection(insights=["pin registry credentials"]),
        }
    )
    store.complete_episode(done, None)  # type: ignore[attr-defined]
    assert store.lexical_search("x", "credentials", 5, EpisodeFilter()) == []  # type: ignore[attr-defined]
    hits = store.lexical_search("x", "deploy", 5, EpisodeFilter())  # type: ignore[attr-defined]
    assert [(h.episode_id, h.item) for h in hits] == [(ep.id, 0)] and hits[0].score > 0


def test_more_matching_terms_rank_higher(store: object) -> None:
    both = Episode(tenant="x", task_description="postgres connection pool exhausted")
    one = Episode(tenant="x", task_description="postgres vacuum tuning")
    for e in (both, one):
        store.create_episode(e)  # type: ignore[attr-defined]
    for i in range(6):  # enough unrelated documents for BM25's IDF to be positive
        store.create_episode(Episode(tenant="x", task_description=f"unrelated chore {i}"))  # type: ignore[attr-defined]
    hits = store.lexical_search("x", "postgres pool", 5, EpisodeFilter())  # type: ignore[attr-defined]
    assert [h.episode_id for h in hits] == [both.id, one.id]
    assert hits[0].score > hits[1].score > 0


def test_pattern_text_search_and_delete_leaves_no_fts_rows(store: object) -> None:
    p = Pattern(
        id=Pattern.make_id("x", "k"),
        tenant="x",
        kind=PatternKind.ERROR_RECOVERY,
        key="k",
        description="retry flaky network calls",
        condition="timeout",
        action="backoff",
    )
    store.upsert_patterns("x", [p])  # type: ignore[attr-defined]
    assert [q.id for q, _ in store.search_patterns("x", "backoff retries", 5, PatternFilter())] == [
        p.id
    ]  # type: ignore[attr-defined]
    ep = Episode(tenant="x", task_description="zebra")
    store.create_episode(ep)  # type: ignore[attr-defined]
    store.append_steps(
        "x",
        ep.id,
        [ExecutionStep(step_number=n, tool="t", action=f"zebra {n}") for n in range(1, 4)],
    )  # type: ignore[attr-defined]
    assert len(store.lexical_search("x", "zebra", 10, EpisodeFilter())) == 4  # type: ignore[attr-defined]
    store.delete_episode("x", ep.id)  # type: ignore[attr-defined]
    rows = store._db.read(
        lambda tx: tx.all("SELECT seq FROM lexical_batches WHERE episode_id = ?", (str(ep.id),))
    )  # type: ignore[attr-defined]
    assert rows == []
    assert store.lexical_search("x", "zebra", 10, EpisodeFilter()) == []  # type: ignore[attr-defined]
