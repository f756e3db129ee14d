"""Ranking past episodes and patterns for a new task.

Episodes:

1. Candidates: the backend's lexical search (BM25 over task texts and step texts) and
   vector search (cosine, current embedding model only), each limited to
   ``candidates`` items, both with the caller's filters applied inside the query.
1b. Coverage of steps (``covered``): a query says several things (its phrases,
   ``memory_core._phrases``: the runs of words between function words), and a turn that
   answers it is close to each of them, not only to their average. A step hit's cosine
   is replaced, for ranking only, by the mean of its cosine to the whole query and to
   the phrase it is farthest from; calibrated relevance still reads the plain cosine, so
   the floor means what it did. The phrase vectors are pooled from the query's own
   forward pass (``TransformerEmbeddingProvider.embed_query_phrases``: the mean of each
   phrase's token states), and the store reads back the step hits' vectors
   (``ItemVectors``): no second encoding, one read. LoCoMo dev, MiniLM, before / after in
   one session: S R@1 .721 → .745, S R@5 .929 → .940, T R@5 .672 → .701, T R@10 .803 →
   .813, T R@20 .872 → .875; every conversation gains S R@5 and T R@10 (26, 41, 43:
   .947/.914/.961 → .960/.921/.972 and .813/.816/.871 → .820/.822/.882; 30, 42: .889/.915
   → .901/.925 and .753/.744 → .765/.759); same on the libSQL file store. Cost, old and
   new interleaved per query on LoCoMo: p50 ×1.05 in memory, ×1.19 on a libSQL file
   while the ≈180 vectors were read through SQL, ×1.10 since the libSQL store serves them
   from its exact matrix (``benchmarks/retrieval_quality/coverage_cost.py``); a store of task texts alone reads nothing and pays only
   the pooling (≈0.1-0.25 ms). Measured and left (phrases embedded apart): task texts scored the
   same way (LoCoMo S R@5 .929 → .920 with steps, .922 alone, T R@10 .805, .784 alone: a
   session header holds none of a question's phrases, which one it is farthest from is
   noise; on the paraphrase notes, where
   the task text is the whole note, the fused ranking gained only .557 → .587 / .603 →
   .613 / .59 → .59 at 10K, seeds 8/21/33, replayed); phrases embedded apart, a second
   pass (T R@10 .817, S R@5 .929, p50 ×1.3); the same with the static model, whose
   phrase vector is a mean of a subset of the query's word rows (T R@10 .791 → .783).
2. Two numbers per item. *Relevance* (``memory_core.relevance``) is calibrated and
   absolute: the share of the query's term weight the item holds (weights from general
   English, not from the store) or-ed with the cosine mapped through the model's fitted
   curve; the same pair gets it whatever else is stored, so a fixed floor
   (``min_relevance``) decides whether an episode is returned at all. *Rank evidence*
   orders the relevant ones: ``w_lex × bm25 / max_bm25 + w_sem × (cos - cos_min) /
   (cos_max - cos_min)`` over the union of items. Ranking by relevance alone was
   measured and lost on LoCoMo (S R@5 .921 → .853, T R@10 .753 → .628): inside one
   conversation every turn names the same speakers, and only the store's own BM25
   statistics and the spread of cosines among the candidates tell turns apart. BM25
   has a true zero (no query term), so it is only scaled by its best hit; cosine has
   none, so it is scaled between the worst and the best candidate. Rank-based fusion
   (RRF, percentiles) was measured and lost too: it erases how far apart two hits
   are. An item missing from a channel gets 0 from it when the channel returned
   everything it had, and the score of the channel's last listed hit when the list was
   cut at ``candidates`` (the exact top-k guarantees the missing score is at most
   that); its calibrated evidence from that channel is 0.

   *Task texts*: BM25's weight on them is kept for a query by ``plateau_share``: all of
   it when the best task-text hit stands alone above the ``limit``-th one (the number of
   episodes shown), and of the rest (``1 - lexical_spread``, the plateau) only what the
   cosine leaves: ``1 - (1 - spread) × found``, ``found`` the calibrated relevance of
   the best task text by cosine. In a store of many similar tasks a reworded query's
   literal words are shared by dozens of near-equal task texts (other tasks on the same
   component or problem); BM25 cannot say which ``limit`` of them to return, and the
   cosine, when it vouches for a task text, can. The less it vouches for one, the more
   BM25 keeps (LoCoMo's session headers, "Conversation between A and B on <date>", are
   only moderately close to any question, so a header holding the asked-about date still
   lifts its session; the spread alone lost those). Steps keep BM25 whole: a turn is
   long and its cosine diluted, and every lowering of lexical weight on steps lost
   LoCoMo T R@10 by .02-.06. Measured in process (``benchlib.paraphrase``, 10K notes,
   MiniLM, 300 queries; semantic-only top 5 / before → after): seed 8 half the slots
   reworded .69 / .593 → .68, every slot .077 / .003 → .06, identifier dropped .65 /
   .563 → .633, identifier kept .80 / .993 → .993, unrelated queries empty 95.5% →
   95.5%; held-out seed 21 (not looked at before the method was fixed): .67 / .63 →
   .687, .077 / .007 → .057, .63 / .62 → .64, .78 / .99 → .99, 96.5% → 96.5%. Over MCP
   (``peers.py --embedders transformer --queries 300``, seed 8) at 1K / 10K notes: every
   slot .21 / .06, half .90 / .68, identifier kept 1.0 / .993, dropped .86 / .623,
   unrelated empty 98% / 95% (before: .09 / .003, .873 / .593, 1.0 / .993, .853 / .563,
   96% at 10K; held-out seed 21 at 10K: .06, .68, .99, .637, 96%); the semantic-only
   ceiling falls as much from 1K to 10K (half reworded .93 → .69). LoCoMo dev S R@5 / T
   R@10 .933 / .788 → .932 / .784 (S R@1 .732 → .725). It costs nothing measurable:
   ``retrieve_relevant_context`` p50 at 10K notes, old and new interleaved in one run,
   ratio .96. Lost: the spread alone on task texts (no ``found``; LoCoMo S R@5 .933 →
   .926, the date headers), the spread on all items, against rank 1-3 instead of
   ``limit``, fixed weights .35/.65, scaling each channel by the calibrated evidence of
   its best hit, a plateau-relative BM25 (``(s - s_limit) / (s_top - s_limit)``), cosine
   windows narrower than the candidates (top 20 or 50), and mixing calibrated relevance
   into the rank evidence.

   *Identifiers*: query terms general English does not list (``unlisted_terms``: ticket
   keys, file and product names) are searched again on their own
   (``identifier_candidates`` hits); an item holding one gets ``identifier`` × ``1 /
   holders`` (``named_items``): the only holder of the ticket a query names ranks above
   any text that merely shares more of its words, a term held as widely as the list is
   long adds nothing (a product name every task mentions names none of them). BM25 alone
   undervalues it (one df-1 term against five shared common ones): notes with a ticket
   line, paraphrases keeping it, 10K notes: .89 → .993 (lexical alone .937, cosine
   alone .803; held-out seed 21: .923 → .99); LoCoMo dev S R@5 / T R@10 .932 / .767 →
   .930-.933 / .767-.768 (runs differ by two questions). It
   costs one more lexical search, only for a query holding such a term.
3. Context of a step: a step's relevance adds ``neighbour`` × the relevance of each
   adjacent step of the same episode (the turn that answers a matching question, the
   output after a matching command), so a step can be found through its neighbour.
4. Per episode: the best item (task text or step), plus a small share of the second
   best, so one strong match wins but corroboration breaks ties (for relevance the
   additions are probabilistic ORs, so it stays in [0, 1]). Episodes below
   ``min_relevance`` are dropped here: not returned, and no evidence for patterns.
5. Final score: ``rank × (1 + w_ctx·context + w_rec·recency + w_rew·reward)``: context,
   recency and reward reorder relevant episodes but never make an irrelevant one appear.
6. Repeats collapse (``memory_core._duplicates``): one hit per normalised task text,
   counting the episodes that repeat it step for step; then maximal marginal relevance
   on task-text word overlap, for diversity.
7. Steps returned with an episode: its steps at least ``step_share`` as relevant as its
   best step, best first, then, for the first episode, the steps within
   ``context_reach`` (2) of the best one (its context), at most ``max_steps``; a reader
   going through the results in order is not made to wade through an episode's weak
   matches before the next episode. Two, not
   one: in a dialogue the answer to a matching turn is often the asker's own next turn
   (the match, the other's reply, the asker's detail), in a tool log the command after a
   matching command's output. Measured on LoCoMo dev (MiniLM): T R@10 .767 → .788 (4 of
   5 conversations gain, 42 loses one question), session ranks unchanged. Cutting an
   episode's steps at the next episode's best step (so that reading order follows the
   step scores) lost T R@10 .767 → .720: a top episode's weaker steps hold the answer
   more often than the next episode's best. The context is the first episode's only:
   the turns around a match are worth reading where the answer most likely is, and after
   it the reader's next best bet is the next episode's own match, not the turns around
   the second episode's (each shown episode's context pushed the later episodes' matches
   out of the first ten steps read). LoCoMo dev, MiniLM, T R@10 / T R@20 .787 / .854 →
   .803 / .874 (conversations 26, 41, 43: .823 → .835; held out while choosing, 30 and
   42: .725 → .746), session ranks unchanged; the static model .778 → .791. Measured
   and left (replayed from the stored channel hits): context for every episode within
   90-99% of the first one's rank (.799-.808), reach 1 for the later episodes (.800).

Measured and not kept (LoCoMo dev with MiniLM, conversations 26/41/43 and 30/42 judged
apart; paraphrases in process at 10K notes, 300 queries, seeds 8 and 21): a step's
vector taken over its text and the previous (or the next) turn's, T R@10 .803 → .782
(.784): neighbour smoothing already does this in score space, and the mixed vector
blurs which turn matched; a product term rewarding items both channels find (replayed,
T R@10 -.013 to -.035); raising the steps spoken by the speaker a question names, with
the speaker known exactly (96% of such questions' evidence turns are theirs): T R@10 at
most +.007, S R@1 down to -.02 (the name in the step text already carries it); leaving
very common English words (``go``, ``get``) out of the lexical query, T R@10 .803 →
.797 at zipf 6 and far worse below (the store's own BM25 weighs them better); on
paraphrases, BM25's share on task texts without the spread (``1 - found``) or none at
all: mild .68 → .70-.71 on seed 8 but .68 on seed 21, identifier dropped .623 / .64 →
.63-.637 (within the noise of 300 queries; the cosine alone is the ceiling).

Leads, measured offline and not built: a step scored by the mean of its whole-text
cosine and its best sentence's (a long turn's answer is one sentence among greetings;
needs more than one vector per step), replayed on LoCoMo dev before coverage (1b): S
R@1 .725 → .750, T R@5 .67 → .70, T R@10 .808 → .818 (both halves gain). Coverage
(1b) on task texts lifts the cosine alone on paraphrase notes (10K, identifier
dropped, 300 queries, semantic-only top 5: seed 8 .647 → .710, 21 .623 → .707, 33
.660 → .697; every slot reworded, 1K: .475 → .620), but in the fused ranking BM25 wins
back those queries: the notes that share a paraphrase's literal wording are the other
notes that use that wording (the generator's alternatives), so their BM25 is high and
the note asked for holds a fifth of the top score (every slot reworded, 1K: the
returned notes average .78 of the top BM25, the wanted one .20, while its cosine
leads theirs by only .014).

Patterns are ranked by the evidence of the episodes they came from: the sum of the
relevance of retrieved episodes that contain them, times a quality term that prefers the
confidence bound of their applied effectiveness (``record_pattern_outcome``) when there
is feedback, and of their observed success otherwise; a lexical match on the pattern text
adds to the evidence.

Measured on LoCoMo (``benchmarks/retrieval_quality/locomo.py``); the choices above are
the ones that gained there at both the session and the turn level, see its README.

Over 400 lines because the older pattern ranking (``rank_patterns``, ``pattern_quality``)
is still here for its tests; ``memory_core.pattern_ranking`` is the one in use.
"""

from __future__ import annotations

import math
import operator
import re
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, TypeGuard
from uuid import UUID

from memory_core._duplicates import collapse
from memory_core._fetch import fetch_steps
from memory_core._models import EpisodeFilter, EpisodeSummary, Pattern, SearchHit, TaskContext
from memory_core._protocols import ChannelSearch, FloatArray, ItemVectors, StorageBackend
from memory_core._results import RetrievedEpisode, RetrievedPattern, ScoreComponents
from memory_core._stats import wilson_lower_bound
from memory_core.relevance import (
    GENERIC,
    SemanticCalibration,
    combine,
    lexical_relevance,
    query_weights,
    query_words,
    unlisted_terms,
)

_WORD = re.compile(r"[a-z0-9]+")
ItemKey = tuple[UUID, int]


@dataclass(frozen=True)
class RankingWeights:
    """Weights of the retrieval score; part of the retrieval cache key."""

    lexical: float = 0.55
    semantic: float = 0.45
    neighbour: float = 0.25
    second_item_share: float = 0.15
    step_share: float = 0.5
    context: float = 0.15
    recency: float = 0.05
    reward: float = 0.10
    recency_half_life_days: float = 30.0
    mmr_lambda: float = 0.85
    candidates: int = 200
    identifier: float = 1.0
    identifier_candidates: int = 20
    spread_rank: int = -1
    """Rank the best task-text hit's BM25 is compared with (``lexical_spread``; -1: the
    query's ``limit``, 0: off; see step 2)."""
    context_reach: int = 2
    """Steps this far from the first episode's best step are returned as its context
    (step 7)."""


@dataclass
class ItemEvidence:
    """What one item (task text or step) matched: calibrated channel values and terms."""

    lexical: float = 0.0
    semantic: float = 0.0
    terms: tuple[str, ...] = ()


@dataclass
class EpisodeCandidate:
    """One episode's evidence: ``rank`` and ``items`` order (relative to the query's
    other candidates), ``relevance`` and ``evidence`` are calibrated (absolute)."""

    episode_id: UUID
    rank: float = 0.0
    relevance: float = 0.0
    lexical: float = 0.0
    semantic: float = 0.0
    items: dict[int, float] = field(default_factory=dict)
    evidence: dict[int, ItemEvidence] = field(default_factory=dict)
    best_item: int = 0


def either(a: float, b: float) -> float:
    """Probabilistic OR of two relevances in [0, 1] (stays in [0, 1])."""
    return 1.0 - (1.0 - a) * (1.0 - b)


def lexical_scores(hits: list[SearchHit]) -> dict[ItemKey, float]:
    """BM25 hits scaled by the best into [0, 1]: zero still means no query term."""
    top = max((h.score for h in hits), default=0.0)
    if top <= 0:
        return {}
    return {(h.episode_id, h.item): max(0.0, h.score / top) for h in hits}


def semantic_scores(hits: list[SearchHit]) -> dict[ItemKey, float]:
    """Cosine hits scaled between the worst and the best candidate into [0, 1]; all
    equal (or one hit) gives 1: they are as good as the best."""
    if not hits:
        return {}
    hi = max(h.score for h in hits)
    lo = min(h.score for h in hits)
    span = hi - lo
    return {(h.episode_id, h.item): (h.score - lo) / span if span > 1e-9 else 1.0 for h in hits}


def _missing_score(scores: Mapping[Any, float], returned: int, limit: int) -> float:
    """What an item absent from a channel's list gets: 0 if the list holds every hit,
    else the lowest score listed (an upper bound of the absent one's)."""
    if returned < limit or not scores:
        return 0.0
    return min(scores.values())


def smooth_steps(
    items: dict[int, float],
    neighbour: float,
    add: Callable[[float, float], float] = operator.add,
) -> dict[int, float]:
    """Each step's relevance plus (``add``) ``neighbour`` × each adjacent step's (task
    text, item 0, is nobody's neighbour). Steps next to a match enter with their share
    only. Calibrated relevance adds with ``either`` and stays in [0, 1]."""
    out = dict(items)
    if neighbour <= 0:
        return out
    get = out.get
    for n, score in items.items():
        if n < 1 or score <= 0:
            continue
        lift = neighbour * score
        if n > 1:
            out[n - 1] = add(get(n - 1, 0.0), lift)
        out[n + 1] = add(get(n + 1, 0.0), lift)
    return out


def lexical_spread(hits: list[SearchHit], rank: int) -> float:
    """How far the best lexical hit stands above the ``rank``-th, as a share of the best
    (1: alone; 0: a plateau of equal hits, which BM25 cannot order)."""
    scores = sorted((h.score for h in hits), reverse=True)
    if not scores or scores[0] <= 0:
        return 0.0
    ref = scores[rank] if len(scores) > rank else 0.0
    return max(0.0, (scores[0] - ref) / scores[0])


def named_items(hits: list[SearchHit], unlisted: Sequence[str], limit: int) -> dict[ItemKey, float]:
    """Items holding a query term that general English does not list (an identifier):
    ``1 / holders`` for the term they hold with the fewest holders (1: the only one). A
    term that fills the ``limit`` hits is held too widely to name anything: 0."""
    wanted = set(unlisted)
    holders: dict[str, int] = defaultdict(int)
    for h in hits:
        for t in set(h.terms) & wanted:
            holders[t] += 1
    cut = len(hits) >= limit
    out: dict[ItemKey, float] = {}
    for h in hits:
        shares = [
            1.0 / holders[t] for t in set(h.terms) & wanted if not (cut and holders[t] >= limit)
        ]
        if shares:
            key = (h.episode_id, h.item)
            out[key] = max(out.get(key, 0.0), max(shares))
    return out


def plateau_share(
    lexical: list[SearchHit],
    semantic: list[SearchHit],
    rank: int,
    calibration: SemanticCalibration,
) -> float:
    """The share of BM25's weight on task texts kept for this query (step 2): all of it
    when its best task text stands alone above the ``rank``-th, and of the rest (the
    plateau) what the cosine leaves, 1 minus the calibrated relevance of the best task
    text by cosine: ``1 - (1 - spread) · found``."""
    tasks = [h for h in lexical if h.item == 0]
    if rank <= 0 or not tasks:
        return 1.0
    found = max((calibration(h.score) for h in semantic if h.item == 0), default=0.0)
    return 1.0 - (1.0 - lexical_spread(tasks, rank)) * found


def _channel_weights(
    weights: RankingWeights, lex: bool, sem: bool, share: float = 1.0
) -> tuple[float, float]:
    """Lexical and semantic weights summing to 1 (the one channel present gets 1), the
    lexical one then scaled by ``share`` (``plateau_share``) when both are present: a
    plateau lowers the item, it does not hand the lexical weight to the cosine (which
    would raise the cosine's noise with it); alone, BM25 is all there is to order by."""
    if not lex:
        return 0.0, 1.0
    if not sem:
        return 1.0, 0.0
    total = weights.lexical + weights.semantic
    if total <= 0:
        return 0.0, 1.0
    return weights.lexical * share / total, weights.semantic / total


def fuse_items(
    lexical: list[SearchHit],
    semantic: list[SearchHit],
    weights: RankingWeights,
    query: dict[str, float] | None = None,
    calibration: SemanticCalibration | None = None,
    named: dict[ItemKey, float] | None = None,
    named_hits: Sequence[SearchHit] = (),
    limit: int = 10,
) -> dict[UUID, EpisodeCandidate]:
    """Item-level fusion of the two channels (steps 2-4 of the module docstring),
    aggregated per episode, twice: the ranking evidence (``items``, ``rank``) and the
    calibrated relevance (``evidence``, ``relevance``). ``query`` is the query's term
    weights (``relevance.query_weights``; none: no calibrated lexical evidence),
    ``calibration`` maps cosine to relevance (none: ``relevance.GENERIC``); ``named``
    (``named_items``) adds identifier evidence, found by ``named_hits``; ``limit`` is
    the number of episodes the query asks for (the plateau's rank by default)."""
    fused = _Fusion(lexical, semantic, weights, query, calibration, named, named_hits, limit)
    for cand in fused.out.values():
        fused.settle(cand)
    return {cand.episode_id: cand for cand in fused.out.values()}


class _Fusion:
    """``fuse_items`` in two halves: every candidate's ``rank`` at once, its calibrated
    relevance (``settle``) only when asked. A query settles candidates in rank order
    until its pool is full, not the hundreds the channels returned. Items are keyed by
    ``(UUID.int, item)``: ``hash(UUID)`` is ``hash(UUID.int)``, so sets and dicts iterate
    in the same order as with UUID keys, without a Python-level hash per lookup."""

    def __init__(
        self,
        lexical: list[SearchHit],
        semantic: list[SearchHit],
        weights: RankingWeights,
        query: dict[str, float] | None,
        calibration: SemanticCalibration | None,
        named: dict[ItemKey, float] | None,
        named_hits: Sequence[SearchHit],
        limit: int,
        semantic_rank: list[SearchHit] | None = None,
    ) -> None:
        """``semantic_rank``: the vector hits as ranked (``covered``), when not by their
        cosine; calibrated relevance always reads the cosine (``semantic``)."""
        self.weights = weights
        self._settled: set[int] = set()
        self.query = query or {}
        self._relevance: dict[tuple[str, ...], float] = {}
        self.calibration = calibration or GENERIC
        uuids: dict[int, UUID] = {}
        lex: dict[tuple[int, int], float] = {}
        top = max((h.score for h in lexical), default=0.0)
        if top > 0:
            for h in lexical:
                e = h.episode_id
                uuids[e.int] = e
                lex[e.int, h.item] = max(0.0, h.score / top)
        sem: dict[tuple[int, int], float] = {}
        ranked = semantic if semantic_rank is None else semantic_rank
        if ranked:
            hi = max(h.score for h in ranked)
            lo = min(h.score for h in ranked)
            span = hi - lo
            for h in ranked:
                e = h.episode_id
                uuids[e.int] = e
                sem[e.int, h.item] = (h.score - lo) / span if span > 1e-9 else 1.0
        marks: dict[tuple[int, int], float] = {}
        for (e, item), v in (named or {}).items():
            uuids[e.int] = e
            marks[e.int, item] = v
        lex_missing = _missing_score(lex, len(lexical), weights.candidates)
        sem_missing = _missing_score(sem, len(semantic), weights.candidates)
        w_step = _channel_weights(weights, bool(lex), bool(sem))
        rank = limit if weights.spread_rank < 0 else weights.spread_rank
        share = plateau_share(lexical, semantic, rank, self.calibration) if sem else 1.0
        w_task = _channel_weights(weights, bool(lex), bool(sem), share)
        out: dict[int, EpisodeCandidate] = {}
        identifier = weights.identifier
        for key in lex.keys() | sem.keys() | marks.keys():
            lx, sm = lex.get(key, lex_missing), sem.get(key, sem_missing)
            cand = out.get(key[0])
            if cand is None:
                cand = out[key[0]] = EpisodeCandidate(uuids[key[0]])
            w_lex, w_sem = w_task if key[1] == 0 else w_step
            cand.items[key[1]] = w_lex * lx + w_sem * sm + identifier * marks.get(key, 0.0)
        self.out = out
        extra: list[SearchHit] = []  # identifier hits the lexical list does not hold
        if marks:
            unseen = marks.keys() - {(h.episode_id.int, h.item) for h in lexical}
            extra = [h for h in named_hits if (h.episode_id.int, h.item) in unseen]
        self._lex_hits = _by_episode(lexical if not extra else [*lexical, *extra])
        self._sem_hits = _by_episode(semantic)
        neighbour, second_share = weights.neighbour, weights.second_item_share
        for cand in out.values():
            items = cand.items
            if len(items) == 1 and 0 in items:  # the task text alone: nothing to smooth
                cand.rank = items[0] + 0.0  # as below with no second item (-0.0 -> 0.0)
                continue
            cand.items = items = smooth_steps(items, neighbour)
            best = sorted(items.values(), reverse=True)[:2]
            cand.rank = best[0] + second_share * (best[1] if len(best) > 1 else 0.0)

    def _lexical_relevance(self, held: tuple[str, ...]) -> float:
        """``lexical_relevance(self.query, held)``, once per set of terms held: a
        query's hits hold a few combinations of its terms, hundreds of times."""
        known = self._relevance.get(held)
        if known is None:
            known = self._relevance[held] = lexical_relevance(self.query, held)
        return known

    def passes(self, cand: EpisodeCandidate, floor: float) -> bool:
        """Whether the candidate's calibrated relevance reaches ``floor``, settled only
        when a bound does not tell: the relevance is at least the best single-channel
        evidence of any of its items (``combine`` and the smoothing's ``either`` only
        add, to a few units of rounding: ``_BOUND_SLACK``), so a candidate with one hit
        that clears the floor is in the pool, and is settled only if it is shown."""
        key = cand.episode_id.int
        if key not in self._settled:
            best = 0.0
            for h in self._lex_hits.get(key, ()):
                lx = self._lexical_relevance(h.terms)
                if not lx <= best:  # NaN too: then the bound says nothing
                    best = lx
            calibration = self.calibration
            for h in self._sem_hits.get(key, ()):
                sm = calibration(h.score)
                if not sm <= best:
                    best = sm
            if best >= floor + _BOUND_SLACK:
                return True
            self.settle(cand)
        return cand.relevance >= floor

    def settle(self, cand: EpisodeCandidate) -> None:
        """The candidate's calibrated evidence and relevance (once)."""
        key = cand.episode_id.int
        if key in self._settled:
            return
        self._settled.add(key)
        lexical, semantic = self._lex_hits.get(key, ()), self._sem_hits.get(key, ())
        _calibrate(cand, lexical, semantic, self._lexical_relevance, self.calibration)
        w = self.weights
        items = {n: combine(e.lexical, e.semantic) for n, e in cand.evidence.items()}
        items = smooth_steps(items, w.neighbour, either)
        ranked = sorted(items.items(), key=lambda kv: (-kv[1], kv[0]))[:2]
        if ranked:
            cand.best_item = ranked[0][0]
            second = ranked[1][1] if len(ranked) > 1 else 0.0
            cand.relevance = either(ranked[0][1], w.second_item_share * second)


_BOUND_SLACK = 1e-9
"""Margin of ``_Fusion.passes``' bound: each ``either`` may round a relevance down by
about 1e-16, and a candidate within this of the floor is settled exactly instead."""


def _by_episode(hits: Sequence[SearchHit]) -> dict[int, list[SearchHit]]:
    """Hits grouped by episode (``UUID.int``), in their order."""
    out: dict[int, list[SearchHit]] = {}
    for h in hits:
        key = h.episode_id.int
        found = out.get(key)
        if found is None:
            out[key] = [h]
        else:
            found.append(h)
    return out


def _calibrate(
    cand: EpisodeCandidate,
    lexical: Sequence[SearchHit],
    semantic: Sequence[SearchHit],
    relevance: Callable[[tuple[str, ...]], float],
    calibration: SemanticCalibration,
) -> None:
    """Each item's calibrated evidence: what it matched, nothing relative (``lexical``
    and ``semantic``: the candidate's own hits; ``relevance``: the query's
    ``lexical_relevance`` of the terms a hit holds)."""
    for h in lexical:
        lx = relevance(h.terms)
        if lx > 0:
            cand.evidence[h.item] = ItemEvidence(lexical=lx, terms=h.terms)
            cand.lexical = max(cand.lexical, lx)
    for h in semantic:
        sm = calibration(h.score)
        if sm <= 0:
            continue
        ev = cand.evidence.setdefault(h.item, ItemEvidence())
        ev.semantic = sm
        cand.semantic = max(cand.semantic, sm)


def relevant_steps(
    cand: EpisodeCandidate,
    max_steps: int,
    share: float,
    step_count: int | None = None,
    reach: int = 2,
) -> list[int]:
    """Step numbers to return with an episode: those at least ``share`` as relevant as its
    best step (best first, ties by number), then the steps within ``reach`` of the best
    one (its context: the reply to a matching question and the asker's next turn, the
    output of a matching command and the next command), stronger first, nearer first on
    ties, at most ``max_steps``. Numbers past ``step_count`` are dropped."""
    if max_steps <= 0:
        return []
    last = step_count if step_count is not None else math.inf
    steps = sorted(
        ((n, s) for n, s in cand.items.items() if 0 < n <= last and s > 0),
        key=lambda x: (-x[1], x[0]),
    )
    if not steps:
        return []
    floor = share * steps[0][1]
    chosen = [n for n, s in steps if s >= floor]
    best = steps[0][0]
    around = [best + sign * d for d in range(1, reach + 1) for sign in (-1, 1)]
    context = [n for n in around if 0 < n <= last and n not in chosen]
    context.sort(key=lambda n: -cand.items.get(n, 0.0))  # stable: nearer first on ties
    return (chosen + context)[:max_steps]


def context_match(query: TaskContext | None, episode: TaskContext) -> float:
    """Share of the query context's given fields that the episode matches (0..1)."""
    if query is None:
        return 0.0
    score = total = 0.0
    for name, weight in (("domain", 0.4), ("language", 0.2), ("framework", 0.2)):
        wanted = getattr(query, name)
        if wanted and not (name == "domain" and wanted == "general"):
            total += weight
            score += weight * (getattr(episode, name) == wanted)
    if query.tags:
        total += 0.2
        overlap = len(set(query.tags) & set(episode.tags)) / len(set(query.tags))
        score += 0.2 * overlap
    return score / total if total else 0.0


def recency(started_at: datetime, now: datetime, half_life_days: float) -> float:
    age_days = max(0.0, (now - started_at).total_seconds() / 86400.0)
    return math.exp(-math.log(2) * age_days / half_life_days)


@lru_cache(maxsize=8192)
def words(text: str) -> frozenset[str]:
    """A text's distinct lowercase words (remembered: every query's diversity pass splits
    the task texts of its pool, and the same episodes come back query after query)."""
    return frozenset(_WORD.findall(text.lower()))


def score_episode(
    cand: EpisodeCandidate,
    summary: EpisodeSummary,
    context: TaskContext | None,
    weights: RankingWeights,
    now: datetime | None = None,
) -> tuple[float, ScoreComponents]:
    score, parts = _scored(cand, summary, context, weights, now or datetime.now(UTC))
    return score, _components(cand, parts)


_Boosts = tuple[float, float, float]
"""(context, recency, reward) of an episode, as its components show them."""


def _scored(
    cand: EpisodeCandidate,
    summary: EpisodeSummary,
    context: TaskContext | None,
    weights: RankingWeights,
    now: datetime,
) -> tuple[float, _Boosts]:
    """``score_episode``'s score, without building its components (only the episodes
    shown need them)."""
    parts = (
        round(context_match(context, summary.context), 6),
        round(recency(summary.started_at, now, weights.recency_half_life_days), 6),
        round(summary.quality or 0.0, 6),
    )
    boost = (
        1.0 + weights.context * parts[0] + weights.recency * parts[1] + weights.reward * parts[2]
    )
    return cand.rank * boost, parts


def _components(cand: EpisodeCandidate, parts: _Boosts) -> ScoreComponents:
    return ScoreComponents(
        semantic=round(cand.semantic, 6),
        lexical=round(cand.lexical, 6),
        context=parts[0],
        recency=parts[1],
        reward=parts[2],
        relevance=round(cand.relevance, 6),
    )


def mmr(
    scored: list[tuple[float, EpisodeSummary]], limit: int, lam: float
) -> list[tuple[float, EpisodeSummary]]:
    """Greedy maximal marginal relevance over task-text word overlap (Jaccard)."""
    if len(scored) <= 1 or lam >= 1.0:
        return scored[:limit]
    pool = sorted(scored, key=lambda x: -x[0])[: limit * 4]
    top = pool[0][0] or 1.0
    bags = [words(s.task_description) for _, s in pool]
    # Each candidate's highest similarity to those chosen so far, raised as each one is
    # chosen: every pair is compared once, not once per round.
    sims = [0.0] * len(pool)
    chosen: list[tuple[float, EpisodeSummary]] = []
    while pool and len(chosen) < limit:
        best_i, best_v = 0, -math.inf
        for i, (score, _) in enumerate(pool):
            value = lam * score / top - (1 - lam) * sims[i]
            if value > best_v:
                best_i, best_v = i, value
        chosen.append(pool.pop(best_i))
        b = bags.pop(best_i)
        sims.pop(best_i)
        if b:
            n = len(b)
            for i, a in enumerate(bags):
                if a:  # |a ∪ b| = |a| + |b| - |a ∩ b|: no union set built
                    both = len(a & b)
                    sims[i] = max(sims[i], both / (len(a) + n - both))
    return chosen


OBSERVED_PSEUDO_TRIALS = 10.0
"""Observations weigh at most this many trials against applied feedback."""


def pattern_quality(p: Pattern) -> float:
    """Wilson lower bound over observed and applied evidence pooled.

    Observations (episodes the pattern was seen in) are scaled down to at most
    ``OBSERVED_PSEUDO_TRIALS`` trials, so that feedback from applying the pattern
    (``record_pattern_outcome``) can overrule them: a pattern seen in fifty successes
    that fails every time it is applied sinks, and two lucky uses do not beat fifty good
    ones. Pooling keeps it monotonic: one more applied success never lowers the quality,
    one more failure never raises it.
    """
    n = p.support
    weight = min(1.0, OBSERVED_PSEUDO_TRIALS / n) if n else 0.0
    return wilson_lower_bound(
        p.successes * weight + p.application_successes, n * weight + p.applications
    )


def rank_patterns(
    episode_scores: dict[UUID, float],
    patterns: list[Pattern],
    lexical: dict[UUID, float],
    context: TaskContext | None,
    limit: int,
) -> list[RetrievedPattern]:
    evidence: dict[UUID, float] = defaultdict(float)
    sources: dict[UUID, list[UUID]] = defaultdict(list)
    top_episode = max(episode_scores.values(), default=0.0) or 1.0
    for p in patterns:
        for eid in p.episode_ids:
            s = episode_scores.get(eid)
            if s:
                evidence[p.id] += s / top_episode
                sources[p.id].append(eid)
    out: list[RetrievedPattern] = []
    max_ev = max(evidence.values(), default=0.0) or 1.0
    for p in patterns:
        ev = evidence.get(p.id, 0.0) / max_ev
        lx = lexical.get(p.id, 0.0)
        relevance = 0.8 * ev + 0.2 * lx
        if relevance <= 0:
            continue
        quality = pattern_quality(p)
        ctx = 0.0
        if context is not None:
            ctx = context_match(
                context, TaskContext(domain=p.domain or "general", language=p.language)
            )
        score = relevance * (0.25 + 0.75 * quality) * (1 + 0.1 * ctx)
        out.append(
            RetrievedPattern(
                pattern=p,
                score=round(score, 6),
                components={
                    "evidence": round(ev, 6),
                    "lexical": round(lx, 6),
                    "quality": round(quality, 6),
                    "context": round(ctx, 6),
                },
                evidence_episode_ids=sources.get(p.id, [])[:10],
            )
        )
    out.sort(key=lambda r: -r.score)
    return out[:limit]


def reason(cand: EpisodeCandidate, text: str) -> str:
    """Why an episode matched, in a few words: its best item, the query words it holds
    and how close in meaning it is."""
    best = cand.best_item
    where = "task text" if best == 0 else f"step {best}"
    ev = cand.evidence.get(best)
    if ev is None:  # lifted by a matching neighbour
        near = [m for m in (best - 1, best + 1) if m >= 1 and m in cand.evidence]
        if not near:
            return where
        best = max(near, key=lambda m: cand.items.get(m, 0.0))
        where = f"step {cand.best_item}, next to matching step {best}"
        ev = cand.evidence[best]
    parts = []
    if ev.terms:
        shown = ", ".join(repr(w) for w in query_words(text, ev.terms)[:6])
        parts.append(f"words {shown} ({ev.lexical:.0%} of the query's weight)")
    if ev.semantic >= 0.05:
        parts.append(f"similar in meaning ({ev.semantic:.2f})")
    return f"{where}: " + "; ".join(parts) if parts else where


def _channel_search(storage: StorageBackend) -> TypeGuard[ChannelSearch]:
    """Whether the store's own class defines ``search_channels``: a wrapper that passes
    unknown names through ``__getattr__`` (the sharded router fans them out to every
    shard; the encrypting layer would skip its own ``lexical_search``) keeps the two calls."""
    return callable(getattr(type(storage), "search_channels", None))


def _item_vectors(storage: StorageBackend) -> TypeGuard[ItemVectors]:
    """Whether the store's own class reads back item vectors (as ``_channel_search``)."""
    return callable(getattr(type(storage), "item_vectors", None))


def covered(
    semantic: list[SearchHit], phrase_vectors: FloatArray, step_vectors: FloatArray
) -> list[SearchHit]:
    """The vector hits with each step scored by coverage (step 1b): the mean of its cosine
    to the whole query and its cosine to the query phrase it is farthest from.
    ``step_vectors`` holds the step hits' unit rows in hit order, ``phrase_vectors`` one
    unit row per phrase; task texts keep their cosine."""
    weakest = iter((step_vectors @ phrase_vectors.T).min(axis=1).tolist())
    return [
        h if h.item == 0 else SearchHit(h.episode_id, h.item, (h.score + next(weakest)) / 2)
        for h in semantic
    ]


def _coverage_ranked(
    storage: StorageBackend,
    tenant: str,
    model_id: str,
    semantic: list[SearchHit],
    phrases: FloatArray,
) -> list[SearchHit]:
    """``covered(semantic, ...)`` when some hit is a step, the store reads back vectors and
    the query has two or more phrases; else the hits as they are (a store of task texts
    alone reads no vectors back)."""
    steps = [(h.episode_id, h.item) for h in semantic if h.item > 0]
    if not steps or len(phrases) < 2 or not _item_vectors(storage):
        return semantic
    rows = storage.item_vectors(tenant, model_id, steps)
    if rows.shape != (len(steps), phrases.shape[1]):
        return semantic
    return covered(semantic, phrases, rows)


def rank_episodes(
    storage: StorageBackend,
    tenant: str,
    text: str,
    query_vector: FloatArray | Callable[[], FloatArray] | None,
    model_id: str | None,
    context: TaskContext | None,
    filters: EpisodeFilter,
    limit: int,
    max_steps: int,
    weights: RankingWeights,
    *,
    calibration: SemanticCalibration | None = None,
    min_relevance: float = 0.0,
    diversify: bool = True,
    fetched: dict[UUID, EpisodeSummary] | None = None,
    also_read: Sequence[UUID] = (),
    shown: int | None = None,
    scores_only: bool = False,
    exclude: UUID | None = None,
    phrase_vectors: FloatArray | Callable[[], FloatArray | None] | None = None,
) -> tuple[list[RetrievedEpisode], dict[UUID, float]]:
    """The episode pipeline of the module docstring.

    Returns the results and the score of every candidate at least ``min_relevance``
    relevant (pattern ranking uses them as evidence, so patterns come only from relevant
    episodes). ``fetched``, if given, receives the candidates' summaries, so pattern
    ranking reads no episode twice; ``also_read`` are more ids read in the same call into
    ``fetched`` but not ranked (e.g. the episode a query is for, to check it exists);
    ``shown`` is how many of the ``limit`` the caller shows (the plateau's rank, step 2).
    ``scores_only``: only the best ``limit`` scores are wanted (pattern evidence): no
    episode list, and summaries are read only as far as ``_best_scores`` needs.
    ``exclude``: an episode never returned nor scored (the in-progress episode a query is
    for matches its own task text; left in, it would take the first place and its context).
    ``phrase_vectors``: one unit row per phrase of the query (``_phrases.phrase_spans``);
    with two or more and a store that reads back item vectors, step hits rank by coverage
    (``covered``). Either may be a function (the query not embedded yet, ``QueryVectors``):
    a store that searches its channels side by side embeds it beside the lexical search;
    what the function raises (``EmbeddingError``) is raised here.
    """
    w = weights
    semantic: list[SearchHit] = []
    if query_vector is None or model_id is None:
        lexical = storage.lexical_search(tenant, text, w.candidates, filters)
    elif _channel_search(storage):  # e.g. both channels side by side
        lexical, semantic = storage.search_channels(
            tenant, text, model_id, query_vector, w.candidates, filters
        )
    else:
        row = query_vector() if callable(query_vector) else query_vector
        lexical = storage.lexical_search(tenant, text, w.candidates, filters)
        semantic = storage.vector_search(tenant, model_id, row, w.candidates, filters)
    if callable(phrase_vectors):
        phrase_vectors = phrase_vectors()
    semantic_rank = semantic
    if semantic and model_id is not None and phrase_vectors is not None:
        semantic_rank = _coverage_ranked(storage, tenant, model_id, semantic, phrase_vectors)
    unlisted = unlisted_terms(text)
    named_hits: list[SearchHit] = []
    if unlisted and w.identifier > 0:  # one more search, only for a query naming something
        words = " ".join(query_words(text, unlisted))
        named_hits = storage.lexical_search(tenant, words, w.identifier_candidates, filters)
    named = named_items(named_hits, unlisted, w.identifier_candidates)
    fused = _Fusion(
        lexical,
        semantic,
        w,
        query_weights(text),
        calibration,
        named,
        named_hits,
        shown or limit,
        semantic_rank,
    )
    candidates = fused.out  # by UUID.int
    size, skip = max(limit * 10, 50), exclude.int if exclude is not None else None
    pool: list[EpisodeCandidate] = []  # the best-ranked relevant ones, in rank order
    for cand in sorted(candidates.values(), key=lambda c: -c.rank):
        if cand.episode_id.int == skip:
            continue
        if fused.passes(cand, min_relevance):  # settled when shown (below), if not yet
            pool.append(cand)
            if len(pool) == size:
                break
    if not pool:
        return [], {}
    if scores_only:
        return [], _best_scores(storage, tenant, pool, limit, context, w, fetched)
    pool_ids = [c.episode_id for c in pool]  # distinct: one candidate per episode
    extra: list[UUID] = []
    if fetched is not None and also_read:
        known = set(pool_ids)
        extra = [i for i in also_read if i not in known]
    read = {s.id.int: s for s in storage.get_summaries(tenant, [*pool_ids, *extra])}
    if fetched is not None:
        fetched.update((s.id, s) for s in read.values())
    now = datetime.now(UTC)
    scored: list[tuple[float, EpisodeSummary]] = []
    parts: dict[int, _Boosts] = {}
    for cand in pool:
        summary = read.get(cand.episode_id.int)
        if summary is None:
            continue
        score, parts[summary.id.int] = _scored(cand, summary, context, w, now)
        scored.append((score, summary))
    all_scores = {s.id: score for score, s in scored}
    scored.sort(key=lambda x: -x[0])
    scored, repeats = collapse(storage, tenant, scored)
    chosen = mmr(scored, limit, w.mmr_lambda) if diversify else scored[:limit]
    results: list[RetrievedEpisode] = []
    chosen_items = {  # context only for the first episode read (step 7)
        summary.id: relevant_steps(
            candidates[summary.id.int],
            max_steps,
            w.step_share,
            summary.step_count,
            w.context_reach if k == 0 else 0,
        )
        for k, (_, summary) in enumerate(chosen)
    }
    fetched_steps = fetch_steps(storage, tenant, list(chosen_items.items()))  # one read
    for score, summary in chosen:
        cand = candidates[summary.id.int]
        fused.settle(cand)  # its relevance, reason and components
        items = chosen_items[summary.id]
        steps = fetched_steps.get(summary.id, [])
        order = {n: k for k, n in enumerate(items)}
        steps.sort(key=lambda s: order.get(s.step_number, 0))
        rep = repeats.get(summary.id)
        results.append(
            RetrievedEpisode(
                episode=summary,
                score=round(score, 6),
                relevance=round(cand.relevance, 4),
                reason=reason(cand, text),
                components=_components(cand, parts[summary.id.int]),
                steps=steps,
                matched_task=0 in cand.evidence,
                repeats=rep.count if rep else 1,
                last_repeat_at=rep.last_at if rep else None,
            )
        )
    return results, all_scores


def _best_scores(
    storage: StorageBackend,
    tenant: str,
    pool: list[EpisodeCandidate],
    limit: int,
    context: TaskContext | None,
    w: RankingWeights,
    fetched: dict[UUID, EpisodeSummary] | None,
) -> dict[UUID, float]:
    """Final scores of ``pool`` (ordered by rank) that include the best ``limit`` exactly
    as scoring all of it would: summaries are read in rank order, a chunk at a time, until
    no unread candidate can beat the ``limit``-th score. A score is the rank times a boost
    within ``1 + Σ min(w, 0)`` and ``1 + Σ max(w, 0)`` (context, recency and reward each
    in [0, 1]), so one read of ``max(limit, 50)`` usually suffices where all of the pool
    (``10 × limit``) was read before."""
    boosts = (w.context, w.recency, w.reward)
    high, low = 1.0 + sum(max(b, 0.0) for b in boosts), 1.0 + sum(min(b, 0.0) for b in boosts)
    now = datetime.now(UTC)
    scores: dict[UUID, float] = {}
    chunk = max(limit, 50)
    for start in range(0, len(pool), chunk):
        part = pool[start : start + chunk]
        read = {s.id: s for s in storage.get_summaries(tenant, [c.episode_id for c in part])}
        if fetched is not None:
            fetched.update(read)
        for cand in part:
            summary = read.get(cand.episode_id)
            if summary is not None:
                scores[cand.episode_id] = _scored(cand, summary, context, w, now)[0]
        if start + chunk < len(pool) and len(scores) >= limit:
            rank = pool[start + chunk].rank
            if sorted(scores.values(), reverse=True)[limit - 1] > rank * (
                high if rank >= 0 else low
            ):
                break
    return scores
