"""Ranking past episodes and patterns for a new task.

Episodes:

1. Candidates: the backend's lexical search (BM25 over task texts and step texts) and
   vector search (cosine, current embedding model only), each limited to
   ``candidates`` items, both with the caller's filters applied inside the query.
2. Item relevance: ``w_lex × bm25 / max_bm25 + w_sem × (cos - cos_min) / (cos_max - cos_min)``
   over the union of items; an item missing from one list gets 0 from it.
3. Episode relevance: the best item (task text or step), plus a small share of the
   second best, so one strong match wins but corroboration breaks ties.
4. Final score: ``relevance × (1 + w_ctx·context + w_rec·recency + w_rew·reward)``: context,
   recency and reward reorder relevant episodes but never make an irrelevant one appear.
5. Maximal marginal relevance on task-text word overlap, for diversity.

Patterns are ranked by the evidence of the episodes they came from: the sum of the
relevance of retrieved episodes that contain them, times a quality term that prefers the
confidence bound of their applied effectiveness (``record_pattern_outcome``) when there
is feedback, and of their observed success otherwise; a lexical match on the pattern text
adds to the evidence.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import UUID

from memory_core._models import EpisodeFilter, EpisodeSummary, Pattern, SearchHit, TaskContext
from memory_core._protocols import FloatArray, StorageBackend
from memory_core._results import RetrievedEpisode, RetrievedPattern, ScoreComponents

_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class RankingWeights:
    """Weights of the retrieval score; part of the retrieval cache key."""

    lexical: float = 0.55
    semantic: float = 0.45
    second_item_share: float = 0.15
    context: float = 0.15
    recency: float = 0.05
    reward: float = 0.10
    recency_half_life_days: float = 30.0
    mmr_lambda: float = 0.85
    candidates: int = 200


@dataclass
class EpisodeCandidate:
    episode_id: UUID
    relevance: float = 0.0
    lexical: float = 0.0
    semantic: float = 0.0
    items: dict[int, float] = field(default_factory=dict)


def fuse_items(
    lexical: list[SearchHit], semantic: list[SearchHit], weights: RankingWeights
) -> dict[UUID, EpisodeCandidate]:
    """Item-level fusion of the two channels, aggregated per episode."""
    lex_scores: dict[tuple[UUID, int], float] = {}
    sem_scores: dict[tuple[UUID, int], float] = {}
    if lexical:
        top = max(h.score for h in lexical) or 1.0
        for h in lexical:
            lex_scores[(h.episode_id, h.item)] = max(0.0, h.score / top)
    if semantic:
        hi = max(h.score for h in semantic)
        lo = min(h.score for h in semantic)
        span = hi - lo
        for h in semantic:
            sem_scores[(h.episode_id, h.item)] = (h.score - lo) / span if span > 1e-9 else 1.0
    w_lex, w_sem = weights.lexical, weights.semantic
    if not lexical:
        w_lex, w_sem = 0.0, 1.0
    elif not semantic:
        w_lex, w_sem = 1.0, 0.0
    out: dict[UUID, EpisodeCandidate] = {}
    for key in lex_scores.keys() | sem_scores.keys():
        lx, sm = lex_scores.get(key, 0.0), sem_scores.get(key, 0.0)
        cand = out.get(key[0])
        if cand is None:
            cand = out[key[0]] = EpisodeCandidate(key[0])
        cand.items[key[1]] = w_lex * lx + w_sem * sm
        cand.lexical = max(cand.lexical, lx)
        cand.semantic = max(cand.semantic, sm)
    for cand in out.values():
        best = sorted(cand.items.values(), reverse=True)[:2]
        second = best[1] if len(best) > 1 else 0.0
        cand.relevance = best[0] + weights.second_item_share * second
    return out


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


def words(text: str) -> frozenset[str]:
    return frozenset(_WORD.findall(text.lower()))


def score_episode(
    cand: EpisodeCandidate,
    summary: EpisodeSummary,
    context: TaskContext | None,
    weights: RankingWeights,
    now: datetime | None = None,
) -> tuple[float, ScoreComponents]:
    now = now or datetime.now(UTC)
    comp = ScoreComponents(
        semantic=round(cand.semantic, 6),
        lexical=round(cand.lexical, 6),
        context=round(context_match(context, summary.context), 6),
        recency=round(recency(summary.started_at, now, weights.recency_half_life_days), 6),
        reward=round(summary.quality or 0.0, 6),
        relevance=round(cand.relevance, 6),
    )
    boost = (
        1.0
        + weights.context * comp.context
        + weights.recency * comp.recency
        + weights.reward * comp.reward
    )
    return cand.relevance * boost, comp


def mmr(
    scored: list[tuple[float, EpisodeSummary]], limit: int, lam: float
) -> list[tuple[float, EpisodeSummary]]:
    """Greedy maximal marginal relevance over task-text word overlap (Jaccard)."""
    if len(scored) <= 1 or lam >= 1.0:
        return scored[:limit]
    pool = sorted(scored, key=lambda x: -x[0])[: limit * 4]
    top = pool[0][0] or 1.0
    bags = {id(s): words(s.task_description) for _, s in pool}
    chosen: list[tuple[float, EpisodeSummary]] = []
    while pool and len(chosen) < limit:
        best_i, best_v = 0, -math.inf
        for i, (score, s) in enumerate(pool):
            sim = 0.0
            for _, c in chosen:
                a, b = bags[id(s)], bags[id(c)]
                if a and b:
                    sim = max(sim, len(a & b) / len(a | b))
            value = lam * score / top - (1 - lam) * sim
            if value > best_v:
                best_i, best_v = i, value
        chosen.append(pool.pop(best_i))
    return chosen


def pattern_quality(p: Pattern) -> float:
    """Applied effectiveness bound when there is feedback, else observed confidence.

    With feedback the two are blended by the amount of feedback, so a pattern observed
    in many successes but failing every time it is applied sinks as feedback accrues.
    """
    observed = p.confidence
    if not p.applications:
        return observed
    applied = p.effectiveness or 0.0
    share = p.applications / (p.applications + 3.0)
    return share * applied + (1 - share) * observed


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


def rank_episodes(
    storage: StorageBackend,
    tenant: str,
    text: str,
    query_vector: FloatArray | None,
    model_id: str | None,
    context: TaskContext | None,
    filters: EpisodeFilter,
    limit: int,
    max_steps: int,
    weights: RankingWeights,
    *,
    diversify: bool = True,
) -> tuple[list[RetrievedEpisode], dict[UUID, float]]:
    """The episode pipeline of the module docstring.

    Returns the results and the score of every candidate scored (pattern ranking uses
    the latter as evidence).
    """
    w = weights
    lexical = storage.lexical_search(tenant, text, w.candidates, filters)
    semantic: list[SearchHit] = []
    if query_vector is not None and model_id is not None:
        semantic = storage.vector_search(tenant, model_id, query_vector, w.candidates, filters)
    candidates = fuse_items(lexical, semantic, w)
    if not candidates:
        return [], {}
    pool = sorted(candidates.values(), key=lambda c: -c.relevance)[: max(limit * 10, 50)]
    summaries = {s.id: s for s in storage.get_summaries(tenant, [c.episode_id for c in pool])}
    now = datetime.now(UTC)
    scored: list[tuple[float, EpisodeSummary]] = []
    comps: dict[UUID, ScoreComponents] = {}
    for cand in pool:
        summary = summaries.get(cand.episode_id)
        if summary is None:
            continue
        score, comp = score_episode(cand, summary, context, w, now)
        comps[cand.episode_id] = comp
        scored.append((score, summary))
    all_scores = {s.id: score for score, s in scored}
    if diversify:
        chosen = mmr(scored, limit, w.mmr_lambda)
    else:
        chosen = sorted(scored, key=lambda x: -x[0])[:limit]
    results: list[RetrievedEpisode] = []
    for score, summary in chosen:
        cand = candidates[summary.id]
        items = sorted((i for i in cand.items if i > 0), key=lambda i: -cand.items[i])[:max_steps]
        steps = storage.get_steps(tenant, summary.id, items) if items and max_steps > 0 else []
        order = {n: k for k, n in enumerate(items)}
        steps.sort(key=lambda s: order.get(s.step_number, 0))
        results.append(
            RetrievedEpisode(
                episode=summary,
                score=round(score, 6),
                components=comps[summary.id],
                steps=steps,
                matched_task=0 in cand.items,
            )
        )
    return results, all_scores
