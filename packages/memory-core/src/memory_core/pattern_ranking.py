"""Ranking patterns for a task: relevance says *whether* a pattern is about the task,
outcomes say *which* of the relevant ones comes first.

1. **Relevance** ``r = 0.8 × evidence + 0.2 × lexical`` ∈ [0, 1]: ``evidence`` is the best
   retrieval score among the episodes the pattern was learned from (scaled by the best
   episode's; for a tool sequence, those where it worked: that it failed in a relevant
   episode says it is *not* the thing to do here), ``lexical`` the pattern text's match. The best, not the sum: being
   seen in many episodes makes a pattern better *known*, not more *about* the task; how
   often it worked is the outcome's business (below).
2. **Gate** ``g = min(1, r / RELEVANCE_BAND)``: every pattern at least half as relevant as
   the best evidence competes on outcomes alone; weaker ones are scaled down.
3. **Estimate** of success when followed, a Beta(1, 1)-prior mean over two kinds of
   evidence::

       p = (s_app + k·s_obs + 1) / (a + k·n_obs + 2),   k = APPLIED_DOMINANCE / (APPLIED_DOMINANCE + a)

   ``a``/``s_app``: times the pattern was applied and worked (credited by ``credit``
   or ``record_pattern_outcome``), each times ``h``: counted in proportion to the share of the pattern's
   history that is about this task, ``h = min(1, (w_worked + w_failed) / (support +
   twin support))`` (the relevance-weighted episodes below over all its episodes):
   applied 5 of 5 times for other tasks says little about this one, and without that
   share a sequence learnt for a neighbouring task overtook the one that works here
   as soon as it had a few more applications. ``n_obs``/``s_obs``: observations in the
   episodes this query retrieved, each counted by its relevance (a sequence seen in
   tasks like *this* one counts fully, one seen elsewhere a little), capped at
   ``APPLIED_DOMINANCE``. A tool sequence's failures are a pattern of their own (its
   *failed twin*, key suffix ``|failed``, see ``extraction``), so the episodes where it
   worked and those where it was tried and failed are known apart: successes are the
   pattern's sources (times its observed rate, below 1 for partial successes), failures
   its twin's. The twin is not ranked beside its sequence (a flaky failure of the
   sequence that works would otherwise put it on the avoid list); it is ranked alone
   only when its sequence never worked in what was retrieved. Without retrieved
   sources, the pattern's and its twin's own support count, capped the same way. ``k``
   fades observations as applied evidence accrues: after ``APPLIED_DOMINANCE``
   applications they weigh half, so a pattern that failed 5 of 5 times when applied
   ranks below one that worked 5 of 5 for the same task, however often either was seen.
4. **Exploration**: ``+ EXPLORATION / (1 + h·a)``, bounded by ``EXPLORATION``: an untried
   candidate is preferred over a tried one only when the estimates are within 0.1, and
   the bonus shrinks with every application, so exploration fades and the learning curve
   rises in expectation instead of oscillating.
5. **Score** ``g × (p + bonus) × (1 + 0.1 × context match)``; ties go to the shorter
   tool list (cheaper to follow).

Two rules say what a caller may do with a ranked sequence:

* **Confident** (``confident``): the one-standard-error lower bound of ``p`` (a Wilson
  bound with ``z = 1`` over the effective counts ``s_app + k·s_obs`` of ``a + k·n_obs``,
  no prior) is above one half, and the pattern is fully relevant (``g = 1``). It has
  worked for tasks like this more often than not, beyond one standard error: one
  success alone is not enough (its bound is exactly 0.5), two without a failure are.
  Only a confident sequence is given as a playbook to follow; without one, an agent
  should explore as it would without memory (the memory can still say what failed).
  This is what keeps the memory from doing worse than no memory when it knows little.
* **Avoid** (``RECOMMEND_FLOOR``): a relevant sequence whose estimate is below 0.5 (it
  failed more often than it worked for tasks like this) is reported as one to avoid.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from memory_core._models import Pattern, PatternKind, TaskContext
from memory_core._results import RetrievedPattern
from memory_core._stats import wilson_lower_bound
from memory_core.retrieval import context_match

RELEVANCE_BAND = 0.5
APPLIED_DOMINANCE = 5.0
EXPLORATION = 0.1
RECOMMEND_FLOOR = 0.5
CONFIDENCE_Z = 1.0
"""Standard errors below the estimate that must still be above one half (``confident``)."""


@dataclass(frozen=True)
class Estimate:
    """A pattern's estimated success when followed, and the evidence behind it."""

    p: float
    bonus: float
    observed_weight: float
    applications: int
    lower: float
    """One-standard-error lower bound of ``p`` (no prior): the ``confident`` rule."""


FAILED_SUFFIX = "|failed"
"""Key suffix of a tool sequence's failed twin (``extraction``)."""


def estimate(
    p: Pattern,
    local: tuple[float, float] | None = None,
    failed: Pattern | None = None,
) -> Estimate:
    """Steps 3 and 4 of the module docstring. ``local``: relevance-weighted counts of
    the retrieved episodes where the pattern worked and where its failed twin was seen,
    if any were retrieved; ``failed``: the twin, for the counts without retrieval."""
    history = float(p.support + (failed.support if failed is not None else 0))
    rate = min(1.0, p.success_rate)
    if local is not None and sum(local) > 0:
        worked, tried_failed = local
        # The share of the pattern's history that is about this task: its applications
        # count in that proportion (applied 5 of 5 elsewhere says little about here).
        here = min(1.0, (worked + tried_failed) / history) if history > 0 else 1.0
    else:
        worked = float(p.support)
        tried_failed = float(failed.support) if failed is not None else 0.0
        here = 1.0
    a, s_app = here * p.applications, here * p.application_successes
    total = worked + tried_failed
    n_obs = min(total, APPLIED_DOMINANCE)
    s_obs = n_obs * rate * worked / total if total > 0 else 0.0
    k = APPLIED_DOMINANCE / (APPLIED_DOMINANCE + a)
    s_eff, n_eff = s_app + k * s_obs, a + k * n_obs
    return Estimate(
        p=(s_eff + 1.0) / (n_eff + 2.0),
        bonus=EXPLORATION / (1.0 + a),
        observed_weight=k * n_obs,
        applications=p.applications,
        lower=wilson_lower_bound(s_eff, n_eff, CONFIDENCE_Z),
    )


def confident(r: RetrievedPattern) -> bool:
    """The ``confident`` rule of the module docstring, for a ranked pattern."""
    c = r.components
    return c.get("gate", 0.0) >= 1.0 and c.get("lower", 0.0) > 0.5 + 1e-9


def pattern_quality(p: Pattern) -> float:
    """The estimate of success when followed, from the pattern's own statistics (no
    query): what playbook steps report as their confidence."""
    return estimate(p).p


def rank_patterns(
    episode_scores: dict[UUID, float],
    patterns: list[Pattern],
    lexical: dict[UUID, float],
    context: TaskContext | None,
    limit: int,
) -> list[RetrievedPattern]:
    """Patterns for a query, best first (the module docstring's rule).

    Args:
        episode_scores: retrieval score of each episode scored for the query.
        patterns: candidates (from those episodes and from the lexical pattern search).
        lexical: the pattern text's lexical score, scaled to [0, 1].
        context: the query's context, for the small context-match factor.
        limit: how many to return.
    """
    top = max(episode_scores.values(), default=0.0) or 1.0
    by_key = {p.key: p for p in patterns}
    # By UUID.int: a pattern lists up to 50 sources, and hashing a UUID is Python code.
    scores = {e.int: s for e, s in episode_scores.items()}

    def weight(p: Pattern | None) -> float:
        return sum(scores.get(e.int, 0.0) for e in p.episode_ids) / top if p else 0.0

    out: list[tuple[float, int, _Parts]] = []
    for p in patterns:
        if p.key.endswith(FAILED_SUFFIX) and p.key.removesuffix(FAILED_SUFFIX) in by_key:
            continue  # the sequence itself is ranked, with its twin's failures counted
        best = 0.0
        held = 0.0  # weight(p), summed in the same order (adding 0.0 changes no sum)
        sources: list[tuple[float, UUID]] = []
        for eid in p.episode_ids:
            score = scores.get(eid.int)
            if not score:
                continue
            held += score
            w = score / top
            best = max(best, w)
            sources.append((w, eid))
        lx = lexical.get(p.id, 0.0)
        relevance = 0.8 * best + 0.2 * lx
        if relevance <= 0:
            continue
        gate = min(1.0, relevance / RELEVANCE_BAND)
        twin = None
        if p.kind is PatternKind.TOOL_SEQUENCE and not p.key.endswith(FAILED_SUFFIX):
            twin = by_key.get(p.key + FAILED_SUFFIX)
        local = (held / top, weight(twin))
        est = estimate(p, local if sum(local) > 0 else None, twin)
        ctx = 0.0
        if context is not None:
            ctx = context_match(
                context, TaskContext(domain=p.domain or "general", language=p.language)
            )
        score = gate * (est.p + est.bonus) * (1 + 0.1 * ctx)
        parts = (p, score, best, lx, relevance, est, ctx, sources)
        out.append((-round(score, 9), len(p.tools), parts))
    out.sort(key=lambda x: (x[0], x[1]))
    return [_shown(*r[2]) for r in out[:limit]]  # built only for the patterns shown


_Parts = tuple[Pattern, float, float, float, float, Estimate, float, list[tuple[float, UUID]]]
"""What a ranked pattern's result is built from."""


def _shown(
    p: Pattern,
    score: float,
    best: float,
    lx: float,
    relevance: float,
    est: Estimate,
    ctx: float,
    sources: list[tuple[float, UUID]],
) -> RetrievedPattern:
    gate = min(1.0, relevance / RELEVANCE_BAND)
    sources.sort(key=lambda x: -x[0])
    return RetrievedPattern(
        pattern=p,
        score=round(score, 6),
        components={
            "evidence": round(best, 6),
            "lexical": round(lx, 6),
            "relevance": round(relevance, 6),
            "gate": round(gate, 6),
            "quality": round(est.p, 6),
            "lower": round(est.lower, 6),
            "exploration": round(est.bonus, 6),
            "observed_weight": round(est.observed_weight, 6),
            "context": round(ctx, 6),
        },
        evidence_episode_ids=[eid for _, eid in sources[:10]],
    )
