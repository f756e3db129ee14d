"""The ranking pipeline's parts (memory_core.retrieval), one behaviour per test.

End-to-end retrieval through SelfLearningMemory is covered by test_learning_loop.py;
here the pieces are checked on hand-made hits, and rank_episodes on the real in-memory
backend.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta
from uuid import UUID

import numpy as np
import pytest
from memory_core import EpisodeFilter, TaskContext, retrieval
from memory_core._phrases import MAX_PHRASES, phrases
from memory_core.models import EmbeddingRecord, SearchHit
from memory_core.relevance import GENERIC, query_weights
from memory_core.retrieval import (
    EpisodeCandidate,
    RankingWeights,
    context_match,
    covered,
    fuse_items,
    lexical_spread,
    mmr,
    named_items,
    plateau_share,
    rank_episodes,
    rank_patterns,
    recency,
    relevant_steps,
    score_episode,
    smooth_steps,
)
from memory_core.storage.in_memory import InMemoryStorage
from memory_core.testing.factories import BASE_TIME, complete, make_episode, make_pattern, make_step

W = RankingWeights()
A, B, C = (UUID(int=i) for i in (1, 2, 3))


def hit(episode: UUID, item: int, score: float) -> SearchHit:
    return SearchHit(episode_id=episode, item=item, score=score)


# -- fusion -------------------------------------------------------------------------------


def test_fusion_with_semantic_channel_empty_is_lexical_alone() -> None:
    fused = fuse_items([hit(A, 2, 8.0), hit(B, 1, 2.0)], [], RankingWeights(neighbour=0))
    assert fused[A].items[2] == pytest.approx(1.0)  # full weight, not w_lex
    assert fused[B].items[1] == pytest.approx(0.25)
    assert fused[A].semantic == 0.0
    assert fused[A].rank > fused[B].rank


def test_fusion_with_lexical_channel_empty_is_semantic_alone() -> None:
    semantic = [hit(A, 0, 0.8), hit(B, 3, 0.6), hit(C, 1, 0.4)]
    fused = fuse_items([], semantic, RankingWeights(neighbour=0))
    assert fused[A].items[0] == pytest.approx(1.0)  # full weight, not w_sem
    assert fused[B].items[3] == pytest.approx(0.5)  # between the worst and the best
    assert fused[B].lexical == 0.0


def test_both_channels_empty_give_no_candidates() -> None:
    assert fuse_items([], [], W) == {}


def test_an_item_found_by_both_channels_beats_one_found_by_either() -> None:
    lexical = [hit(A, 1, 5.0), hit(B, 1, 5.0)]
    semantic = [hit(A, 1, 0.7), hit(C, 1, 0.7)]
    fused = fuse_items(lexical, semantic, RankingWeights(neighbour=0))
    assert fused[A].rank > fused[B].rank
    assert fused[A].rank > fused[C].rank


def test_missing_from_a_complete_list_scores_zero_from_a_cut_list_its_floor() -> None:
    """A list shorter than ``candidates`` holds every hit (absent = no evidence); a full
    list was cut, so an absent item scored at most the last one listed."""
    lexical = [hit(A, 1, 4.0), hit(B, 1, 2.0)]
    semantic = [hit(C, 1, 0.8), hit(A, 1, 0.4)]
    w = RankingWeights(neighbour=0, candidates=2)
    cut = fuse_items(lexical, semantic, w)
    assert cut[C].items[1] == pytest.approx(w.lexical * 0.5 + w.semantic * 1.0)
    assert cut[B].items[1] == pytest.approx(w.lexical * 0.5)  # min-max floor is 0
    whole = fuse_items(lexical, semantic, RankingWeights(neighbour=0, candidates=3))
    assert whole[C].items[1] == pytest.approx(w.semantic * 1.0)


def test_cosine_offset_does_not_change_the_fusion() -> None:
    """Unrelated texts sit at a model-dependent cosine; only differences may count."""
    lexical = [hit(A, 1, 3.0), hit(B, 2, 1.0)]
    low = [hit(B, 2, 0.30), hit(C, 1, 0.20), hit(A, 1, 0.10)]
    high = [hit(h.episode_id, h.item, h.score + 0.6) for h in low]
    a, b = fuse_items(lexical, low, W), fuse_items(lexical, high, W)
    for e in (A, B, C):
        assert a[e].items == pytest.approx(b[e].items)
    assert a[B].items[2] == pytest.approx(W.lexical / 3 + W.semantic)


def test_second_item_corroborates_but_one_strong_match_wins() -> None:
    lexical = [hit(A, 1, 10.0), hit(B, 1, 7.0), hit(B, 5, 7.0)]
    fused = fuse_items(lexical, [], RankingWeights(neighbour=0))
    assert fused[A].rank > fused[B].rank  # 1.0 vs 0.7 + 0.15 * 0.7
    tie = fuse_items([hit(A, 1, 7.0), hit(B, 1, 7.0), hit(B, 5, 7.0)], [], W)
    assert tie[B].rank > tie[A].rank


def test_the_pool_test_agrees_with_settling_at_every_floor() -> None:
    """``_Fusion.passes`` decides from a bound where it can and settles otherwise: the same
    answer as the settled relevance, at floors on and around every candidate's own."""
    rng = np.random.default_rng(5)
    ids = [UUID(int=i + 1) for i in range(40)]
    words = ("login", "token", "expired", "retry", "cache")
    query = query_weights("login token expired retry cache")
    lexical = [
        SearchHit(ids[i % 40], int(rng.integers(0, 5)), float(rng.uniform(0.1, 9.0)),
                  tuple(sorted(set(rng.choice(words, int(rng.integers(1, 4))).tolist()))))
        for i in range(60)
    ]  # fmt: skip
    semantic = [
        hit(ids[int(rng.integers(0, 40))], int(rng.integers(0, 5)), float(rng.uniform(0.2, 0.95)))
        for _ in range(60)
    ]
    semantic = list({(h.episode_id, h.item): h for h in semantic}.values())
    lexical = list({(h.episode_id, h.item): h for h in lexical}.values())
    args = (lexical, semantic, W, query, GENERIC, None, (), 5)
    settled = retrieval._Fusion(*args)
    for cand in settled.out.values():
        settled.settle(cand)
    relevances = sorted(c.relevance for c in settled.out.values())
    assert len(set(relevances)) > 10 and relevances[0] < 0.5 < relevances[-1]
    floors = [0.0, 0.25, 0.5, 0.75, 1.0]
    floors += [r + d for r in relevances for d in (-1e-12, 0.0, 1e-12, 2e-9)]
    for floor in floors:
        lazy = retrieval._Fusion(*args)
        for key, cand in lazy.out.items():
            assert lazy.passes(cand, floor) == (settled.out[key].relevance >= floor)


# -- neighbouring steps -------------------------------------------------------------------


def test_smoothing_lifts_the_neighbours_of_a_match() -> None:
    smoothed = smooth_steps({0: 1.0, 4: 1.0, 9: 0.2}, 0.25)
    assert smoothed[3] == pytest.approx(0.25)
    assert smoothed[5] == pytest.approx(0.25)
    assert smoothed[4] == pytest.approx(1.0)
    assert 1 not in smoothed  # the task text is nobody's neighbour
    assert smoothed[0] == 1.0
    assert smooth_steps({4: 1.0}, 0.0) == {4: 1.0}


def test_a_step_next_to_a_match_is_returned_through_it() -> None:
    """The answer after a matching question: its own match is weak, its context strong."""
    lexical = [hit(A, 6, 9.0), hit(A, 7, 3.0), hit(A, 2, 3.0)]
    fused = fuse_items(lexical, [], W)
    steps = relevant_steps(fused[A], 10, W.step_share)
    assert steps[:2] == [6, 7]
    assert 2 not in steps[:2]


def test_relevant_steps_keeps_strong_steps_best_first_then_the_best_ones_context() -> None:
    cand = EpisodeCandidate(A, items={0: 2.0, 1: 0.3, 2: 0.2, 3: 1.0, 4: 0.6, 6: 0.9, 7: 0.1})
    # 1, 2, 5: context of 3 (within two steps), stronger first; 7 too weak and too far
    assert relevant_steps(cand, 10, 0.5) == [3, 6, 4, 1, 2, 5]
    assert relevant_steps(cand, 10, 0.5, reach=1) == [3, 6, 4, 2]
    assert relevant_steps(cand, 2, 0.5) == [3, 6]
    assert relevant_steps(cand, 10, 0.0) == [3, 6, 4, 1, 2, 7, 5]
    assert relevant_steps(cand, 0, 0.5) == []
    assert relevant_steps(EpisodeCandidate(A, items={0: 1.0}), 5, 0.5) == []


def test_relevant_steps_never_names_a_step_past_the_last() -> None:
    cand = EpisodeCandidate(A, items={5: 1.0, 6: 0.9})
    assert relevant_steps(cand, 10, 0.5, step_count=5) == [5, 4, 3]
    assert relevant_steps(cand, 10, 0.5) == [5, 6, 4, 3, 7]


# -- context, recency, final score --------------------------------------------------------


def test_context_match_counts_only_fields_the_query_gives() -> None:
    episode = TaskContext(domain="web", language="python", framework="django", tags=["a", "b"])
    assert context_match(None, episode) == 0.0
    assert context_match(TaskContext(), episode) == 0.0  # domain "general" says nothing
    assert context_match(TaskContext(domain="web"), episode) == 1.0
    assert context_match(TaskContext(domain="cli"), episode) == 0.0
    half = context_match(TaskContext(domain="web", language="rust"), episode)
    assert 0.0 < half < 1.0
    tags = context_match(TaskContext(tags=["a", "z"]), episode)
    assert tags == pytest.approx(0.5)


def test_recency_halves_every_half_life_and_never_exceeds_one() -> None:
    now = BASE_TIME
    assert recency(now, now, 30.0) == pytest.approx(1.0)
    assert recency(now - timedelta(days=30), now, 30.0) == pytest.approx(0.5)
    assert recency(now - timedelta(days=60), now, 30.0) == pytest.approx(0.25)
    assert recency(now + timedelta(days=1), now, 30.0) == pytest.approx(1.0)


def test_context_recency_and_reward_reorder_but_never_create_relevance() -> None:
    ctx = TaskContext(domain="web", language="python")
    fresh = complete(make_episode(started_at=BASE_TIME), quality=0.9).summary()
    old = complete(
        make_episode(started_at=BASE_TIME - timedelta(days=300), domain="cli", language="go"),
        quality=0.1,
    ).summary()
    same = EpisodeCandidate(A, rank=0.5)
    s_fresh, comp = score_episode(same, fresh, ctx, W, now=BASE_TIME)
    s_old, _ = score_episode(EpisodeCandidate(B, rank=0.5), old, ctx, W, now=BASE_TIME)
    assert s_fresh > s_old
    assert comp.context == 1.0 and comp.recency == pytest.approx(1.0)
    assert comp.reward == pytest.approx(0.9)
    zero, _ = score_episode(EpisodeCandidate(C, rank=0.0), fresh, ctx, W, now=BASE_TIME)
    assert zero == 0.0
    # a clearly more relevant episode is not overtaken by the boosts
    s_relevant, _ = score_episode(EpisodeCandidate(B, rank=0.9), old, ctx, W, now=BASE_TIME)
    assert s_relevant > s_fresh


# -- diversity ----------------------------------------------------------------------------


def test_mmr_prefers_a_different_task_over_a_near_duplicate() -> None:
    first = complete(make_episode("fix the login redirect bug in the auth service")).summary()
    dup = complete(make_episode("fix the login redirect bug in the auth service again")).summary()
    other = complete(make_episode("upgrade the postgres driver")).summary()
    scored = [(1.0, first), (0.97, dup), (0.9, other)]
    diverse = mmr(scored, 2, 0.85)
    assert [s.id for _, s in diverse] == [first.id, other.id]
    plain = mmr(scored, 2, 1.0)
    assert [s.id for _, s in plain] == [first.id, dup.id]
    # a duplicate far more relevant than the alternative still comes through
    assert mmr([(1.0, first), (0.99, dup), (0.2, other)], 2, 0.85)[1][1].id == dup.id


# -- patterns -----------------------------------------------------------------------------


def test_patterns_rank_by_quality_when_evidence_is_equal() -> None:
    eid = uuid.uuid4()
    good = make_pattern("good", support=20, successes=19.0, episode_ids=[eid])
    poor = make_pattern("poor", support=20, successes=4.0, episode_ids=[eid])
    ranked = rank_patterns({eid: 1.0}, [poor, good], {}, None, 5)
    assert [r.pattern.key for r in ranked] == ["good", "poor"]
    assert ranked[0].evidence_episode_ids == [eid]
    assert ranked[0].components["quality"] > ranked[1].components["quality"]


def test_pattern_failing_when_applied_sinks_below_one_that_works() -> None:
    eid = uuid.uuid4()
    observed = make_pattern("observed", support=30, successes=29.0, episode_ids=[eid])
    observed = observed.model_copy(update={"applications": 20, "application_successes": 2})
    applied = make_pattern("applied", support=10, successes=7.0, episode_ids=[eid])
    applied = applied.model_copy(update={"applications": 20, "application_successes": 19})
    ranked = rank_patterns({eid: 1.0}, [observed, applied], {}, None, 5)
    assert [r.pattern.key for r in ranked] == ["applied", "observed"]


def test_patterns_without_evidence_or_lexical_match_are_left_out() -> None:
    eid = uuid.uuid4()
    unrelated = make_pattern("unrelated", episode_ids=[uuid.uuid4()])
    named = make_pattern("named")
    ranked = rank_patterns({eid: 1.0}, [unrelated, named], {named.id: 1.0}, None, 5)
    assert [r.pattern.key for r in ranked] == ["named"]


# -- the whole episode pipeline on the in-memory backend -------------------------------------


def _store(storage: InMemoryStorage, task: str, actions: list[str]) -> UUID:
    episode = make_episode(task)
    steps = [make_step(i + 1, action=a, output="") for i, a in enumerate(actions)]
    storage.create_episode(episode)
    storage.append_steps("default", episode.id, steps)
    done = storage.get_episode("default", episode.id)
    assert done is not None
    storage.complete_episode(complete(done), None)
    return episode.id


def test_rank_episodes_returns_the_matching_episode_and_its_answer_step() -> None:
    storage = InMemoryStorage()
    chat = _store(
        storage,
        "chat about the weekend",
        [
            "how was the weekend",
            "what did you bake for the party",
            "a lemon tart, everyone at the party loved it",
            "see you monday",
            "the party playlist was far too loud",
        ],
    )
    other = _store(storage, "deploy the billing service", ["run the deploy script", "check logs"])
    query = "what did they bake for the party"
    results, scores = rank_episodes(
        storage, "default", query, None, None, None, EpisodeFilter(), 5, 5, W
    )
    assert [r.episode.id for r in results] == [chat]
    assert other not in scores
    assert results[0].components.lexical == pytest.approx(1.0)
    # the best match, then its context: the answer, the question before, the asker's next
    assert [s.step_number for s in results[0].steps] == [2, 3, 1, 4]
    everything, _ = rank_episodes(
        storage, "default", query, None, None, None, EpisodeFilter(), 5, 5,
        RankingWeights(step_share=0.0),
    )  # fmt: skip
    steps = [s.step_number for s in everything[0].steps]
    # the answer shares only "party" with the query, like step 5, but follows the question
    assert steps[:2] == [2, 3]
    assert steps.index(3) < steps.index(5)
    assert steps.index(1) < steps.index(4)  # next to the strong match, not to weak ones


def test_only_the_first_episode_read_brings_its_context() -> None:
    storage = InMemoryStorage()
    steps = ["hello there", "did you bake a lemon tart", "yes, a big one", "bye now"]
    first = _store(storage, "lemon tart baking chat", steps)
    second = _store(storage, "another chat", steps)
    results, _ = rank_episodes(
        storage, "default", "lemon tart", None, None, None, EpisodeFilter(), 5, 5, W
    )
    assert [r.episode.id for r in results] == [first, second]
    assert [s.step_number for s in results[0].steps] == [2, 1, 3, 4]
    # the next episode shows its match: its best bet, not the turns around it
    assert [s.step_number for s in results[1].steps] == [2]


def test_rank_episodes_uses_vectors_of_the_given_model_only() -> None:
    storage = InMemoryStorage()
    near = _store(storage, "alpha", ["one"])
    far = _store(storage, "beta", ["two"])
    records = [
        EmbeddingRecord(episode_id=near, item=1, model_id="m1", vector=[1.0, 0.0]),
        EmbeddingRecord(episode_id=far, item=1, model_id="m1", vector=[0.0, 1.0]),
        EmbeddingRecord(episode_id=far, item=0, model_id="m2", vector=[1.0, 0.0]),
    ]
    storage.put_embeddings("default", records)
    query = np.array([0.9, 0.1], dtype=np.float32)
    results, _ = rank_episodes(
        storage, "default", "zzz", query, "m1", None, EpisodeFilter(), 5, 3, W
    )
    assert [r.episode.id for r in results] == [near, far]
    assert results[0].components.semantic > 0.9  # cosine .99, calibrated
    assert results[1].relevance < 0.05  # cosine .11: no evidence
    assert [s.step_number for s in results[0].steps] == [1]


# -- identifiers and task texts -------------------------------------------------------------


def test_lexical_spread_is_one_for_a_lone_hit_and_zero_on_a_plateau() -> None:
    assert lexical_spread([hit(A, 0, 5.0)], 10) == 1.0
    plateau = [hit(UUID(int=i), 0, 5.0) for i in range(20)]
    assert lexical_spread(plateau, 10) == 0.0
    assert lexical_spread([], 10) == 0.0
    stands_out = [hit(A, 0, 10.0), *(hit(UUID(int=i + 9), 0, 4.0) for i in range(15))]
    assert lexical_spread(stands_out, 10) == pytest.approx(0.6)


def test_plateau_share_keeps_a_lone_top_and_a_plateau_the_cosine_cannot_order() -> None:
    plateau = [hit(UUID(int=i + 9), 0, 6.0) for i in range(8)]
    sure = [hit(A, 0, 0.95)]  # the cosine vouches for a task text (GENERIC: ~.95)
    assert plateau_share(plateau, sure, 5, GENERIC) == pytest.approx(1 - GENERIC(0.95))
    assert plateau_share(plateau, [hit(A, 0, 0.2)], 5, GENERIC) > 0.99  # it found none
    assert plateau_share(plateau, [hit(A, 3, 0.95)], 5, GENERIC) == 1.0  # a step, not a task
    alone = [hit(B, 0, 12.0), *plateau]
    assert plateau_share(alone, sure, 5, GENERIC) == pytest.approx(1 - (1 - 0.5) * GENERIC(0.95))
    assert plateau_share(plateau, sure, 0, GENERIC) == 1.0  # off


def test_a_reworded_task_outranks_a_plateau_of_texts_sharing_its_literal_words() -> None:
    """Eight task texts share the query's words equally (BM25 cannot order them); the
    reworded task holds fewer of them but the cosine is sure of it. The old fusion
    (``spread_rank=0``) put the plateau's best first; the plateau share hands the order
    to the cosine."""
    target = UUID(int=100)
    plateau = [UUID(int=i + 9) for i in range(8)]
    lexical = [*(hit(d, 0, 6.0) for d in plateau), hit(target, 0, 2.0)]
    far = [hit(UUID(int=i + 50), 0, 0.3) for i in range(5)]
    semantic = [hit(target, 0, 0.9), *(hit(d, 0, 0.62) for d in plateau), *far]
    w = RankingWeights(neighbour=0)
    old = fuse_items(lexical, semantic, RankingWeights(neighbour=0, spread_rank=0), limit=5)
    assert max(old.values(), key=lambda c: c.rank).episode_id in plateau
    new = fuse_items(lexical, semantic, w, calibration=GENERIC, limit=5)
    assert max(new.values(), key=lambda c: c.rank).episode_id == target
    # a lexical top standing alone keeps its lead over the same cosine
    lone = [hit(plateau[0], 0, 30.0), *lexical[1:]]
    fused = fuse_items(lone, semantic, w, calibration=GENERIC, limit=5)
    assert max(fused.values(), key=lambda c: c.rank).episode_id == plateau[0]


def test_named_items_count_holders_and_ignore_a_term_held_as_widely_as_the_list() -> None:
    ticket = SearchHit(episode_id=A, item=0, score=9.0, terms=("48213",))
    shared = [SearchHit(episode_id=UUID(int=i + 9), item=0, score=2.0, terms=("graphql",))
              for i in range(4)]  # fmt: skip
    named = named_items([ticket, *shared], ["48213", "graphql"], 20)
    assert named[(A, 0)] == 1.0  # the only holder of the ticket
    assert named[(shared[0].episode_id, 0)] == 0.25
    assert named_items(shared, ["graphql"], 4) == {}  # fills the list: names nothing


def test_the_only_holder_of_a_named_ticket_outranks_texts_sharing_more_words() -> None:
    storage = InMemoryStorage()
    target = _store(storage, "repair the checkout callback\nTicket: PAY-48213", [])
    words = ["fix", "flaky", "race", "payment", "webhook", "mobile"]
    others = [  # each shares five of the query's six words
        _store(storage, " ".join(w for w in words if w != left) + f" note {i}", [])
        for i in range(3)
        for left in words
    ]
    for i in range(200):  # the rest of a store: no query word
        _store(storage, f"unrelated chore number {i}", [])
    query = "PAY-48213: fix the flaky race in the payment webhook of the mobile app"
    results, _ = rank_episodes(
        storage, "default", query, None, None, None, EpisodeFilter(), 3, 0, W
    )
    assert results[0].episode.id == target
    plain, _ = rank_episodes(
        storage, "default", query, None, None, None, EpisodeFilter(), 3, 0,
        RankingWeights(identifier=0.0),
    )  # fmt: skip
    assert target not in [r.episode.id for r in plain]  # BM25 prefers five shared words
    assert {r.episode.id for r in plain} <= set(others)


def test_the_episode_a_query_is_for_does_not_take_the_first_episodes_context() -> None:
    from memory_core import SelfLearningMemory, TaskOutcome

    memory = SelfLearningMemory(embedder=None)
    steps = ["hello there", "did you bake a lemon tart", "yes, a big one", "bye now"]
    done = memory.start_episode("lemon tart baking chat")
    memory.log_steps(done, [make_step(i + 1, action=a, output="") for i, a in enumerate(steps)])
    memory.complete_episode(done, TaskOutcome.success())
    own = memory.start_episode("bake a lemon tart")
    memory.log_steps(own, [make_step(1, action="lemon tart", output="")])
    assert memory.query("lemon tart").episodes[0].episode.id == own  # the best match
    found = memory.query("lemon tart", for_episode=own).episodes
    assert [e.episode.id for e in found] == [done]
    assert [s.step_number for s in found[0].steps] == [2, 1, 3]  # its context (3 steps)
    memory.close()


# -- coverage: a step must be close to each phrase of the query ------------------------------


def _unit(*xs: float) -> list[float]:
    v = np.array(xs, dtype=np.float32)
    return [float(x) for x in v / np.linalg.norm(v)]


def test_phrases_are_the_runs_between_function_words_and_punctuation() -> None:
    assert phrases("fix the memory leak in the login page (mobile app)") == [
        "fix",
        "memory leak",
        "login page",
        "mobile app",
    ]
    assert phrases("When did Caroline go to the support group?") == ["Caroline go", "support group"]
    assert phrases("the of and") == []
    assert phrases("tart, tart and tart") == ["tart"]  # distinct
    assert len(phrases(", ".join(f"w{i}" for i in range(20)))) == MAX_PHRASES


def test_covered_scores_steps_by_their_weakest_phrase_and_keeps_task_texts() -> None:
    hits = [hit(A, 0, 0.9), hit(B, 2, 0.8), hit(C, 1, 0.7)]
    phrase_rows = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    step_rows = np.array([[1.0, 0.0], [0.6, 0.8]], dtype=np.float32)  # B's, then C's
    out = covered(hits, phrase_rows, step_rows)
    assert out[0] == hits[0]  # a task text keeps its cosine
    assert out[1].score == pytest.approx((0.8 + 0.0) / 2)  # far from the second phrase
    assert out[2].score == pytest.approx((0.7 + 0.6) / 2)
    assert [(h.episode_id, h.item) for h in out] == [(A, 0), (B, 2), (C, 1)]


def test_a_step_covering_every_phrase_outranks_one_closer_to_the_whole_query() -> None:
    storage = InMemoryStorage()
    partial = _store(storage, "alpha", ["one"])
    whole = _store(storage, "beta", ["two"])
    storage.put_embeddings(
        "default",
        [
            EmbeddingRecord(episode_id=partial, item=1, model_id="m", vector=_unit(1, 0.3, 0)),
            EmbeddingRecord(episode_id=whole, item=1, model_id="m", vector=_unit(1, 1, 1.2)),
        ],
    )
    query = np.array(_unit(1, 1, 0), dtype=np.float32)
    two = np.array([[1, 0, 0], [0, 1, 0]], dtype=np.float32)

    def ranked(phrase_vectors: np.ndarray | None) -> list[UUID]:
        results, _ = rank_episodes(
            storage, "default", "zzz", query, "m", None, EpisodeFilter(), 5, 3, W,
            phrase_vectors=phrase_vectors,
        )  # fmt: skip
        return [r.episode.id for r in results]

    assert ranked(None) == [partial, whole]  # cosine .88 against .76
    assert ranked(two[:1]) == [partial, whole]  # one phrase: the whole cosine decides
    assert ranked(two) == [whole, partial]  # weakest phrase .54 against .29


def test_task_texts_keep_their_cosine_and_no_vectors_are_read_for_them() -> None:
    class Counting(InMemoryStorage):
        reads = 0

        def item_vectors(
            self, tenant: str, model_id: str, keys: Sequence[tuple[UUID, int]]
        ) -> np.ndarray:
            Counting.reads += 1
            return super().item_vectors(tenant, model_id, keys)

    storage = Counting()
    near, far = _store(storage, "alpha", []), _store(storage, "beta", [])
    storage.put_embeddings(
        "default",
        [
            EmbeddingRecord(episode_id=near, item=0, model_id="m", vector=_unit(1, 0.3, 0)),
            EmbeddingRecord(episode_id=far, item=0, model_id="m", vector=_unit(1, 1, 1.2)),
        ],
    )
    results, _ = rank_episodes(
        storage, "default", "zzz", np.array(_unit(1, 1, 0), dtype=np.float32), "m", None,
        EpisodeFilter(), 5, 3, W, phrase_vectors=np.eye(3, dtype=np.float32)[:2],
    )  # fmt: skip
    assert [r.episode.id for r in results] == [near, far]
    assert Counting.reads == 0


def test_item_vectors_reads_rows_back_with_zeros_for_unknown_items_or_models() -> None:
    storage = InMemoryStorage()
    note = _store(storage, "alpha", ["one"])
    storage.put_embeddings(
        "default", [EmbeddingRecord(episode_id=note, item=1, model_id="m", vector=[3.0, 4.0])]
    )
    rows = storage.item_vectors("default", "m", [(note, 2), (note, 1)])
    assert rows.tolist() == [[0.0, 0.0], [pytest.approx(0.6), pytest.approx(0.8)]]
    assert storage.item_vectors("default", "other", [(note, 1)]).shape == (1, 0)
    assert storage.item_vectors("nobody", "m", [(note, 1)]).shape == (1, 0)


def test_only_a_provider_pooling_phrases_from_the_query_pass_gives_phrase_vectors() -> None:
    from memory_core import MemoryConfig
    from memory_core._retriever import embed_query, query_vectors
    from memory_core.embeddings import provider_from_config

    static = provider_from_config(MemoryConfig(embedding_provider="local"))
    assert static is not None
    vector, rows = query_vectors(static, "fix the memory leak in the login page")
    np.testing.assert_allclose(vector, embed_query(static, "fix the memory leak in the login page"))
    assert rows is None
