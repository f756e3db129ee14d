"""``Retriever``: episodes and patterns relevant to a task, with a retrieval cache.

One scoring pass (``retrieval.rank_episodes``: lexical + semantic + context) serves the
episode list and, through the evidence of the scored episodes, the pattern ranking.
Results are cached under a key that includes the storage generation, so a write by any
instance changes the key instead of needing an invalidation.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any
from uuid import UUID

import numpy as np

from memory_core._context import MemoryContext
from memory_core._errors import EmbeddingError, EpisodeNotFoundError, InvalidInputError
from memory_core._gc_pause import GcPause
from memory_core._ids import as_uuid
from memory_core._models import (
    SCHEMA_VERSION,
    EpisodeFilter,
    EpisodeSummary,
    Pattern,
    PatternFilter,
    TaskContext,
)
from memory_core._phrases import phrase_spans
from memory_core._protocols import EmbeddingProvider, FloatArray
from memory_core._results import QueryResult, RetrievedEpisode, RetrievedPattern
from memory_core._timespec import parse_instant
from memory_core._validation import check_limit, check_text, coerce
from memory_core.cache import NullCache
from memory_core.flags import effective_flags, enabled  # deploy: feature flags
from memory_core.pattern_ranking import rank_patterns
from memory_core.relevance import (
    SemanticCalibration,
    calibration_for,
    lexical_relevance,
    query_weights,
)
from memory_core.retrieval import rank_episodes
from memory_core.text import terms

_FILTER_KEYS = set(EpisodeFilter.model_fields)
_PATTERN_EVIDENCE = 30
"""Top-scored episodes whose patterns are candidates for the pattern list."""
_PATTERN_LEXICAL = 50
"""Patterns matched by text that are candidates too."""


class Retriever:
    """Retrieval for one memory; see the module docstring."""

    def __init__(self, ctx: MemoryContext) -> None:
        self._ctx = ctx
        self._calibrated: tuple[object, SemanticCalibration | None] | None = None

    def _calibration(self, emb: object | None) -> SemanticCalibration | None:
        """The embedder's cosine calibration, looked up once per embedder."""
        known = self._calibrated
        if known is None or known[0] is not emb:
            known = self._calibrated = (emb, calibration_for(emb))
        return known[1]

    def _prepare(
        self, task_description: str, context: TaskContext | dict[str, Any] | None, limit: int
    ) -> TaskContext | None:
        """The checks every query makes: text, limit and context."""
        check_text(
            task_description, "task_description", self._ctx.limits.max_query_chars, required=True
        )
        check_limit(limit, self._ctx.limits)
        return coerce(TaskContext, context, "context") if context is not None else None

    def retrieve_relevant_context(
        self,
        task_description: str,
        context: TaskContext | dict[str, Any] | None,
        limit: int,
        tenant: str | None,
        max_steps_per_episode: int,
        filters: Mapping[str, Any],
    ) -> list[RetrievedEpisode]:
        c = self._ctx
        with c.metrics.timed("retrieve_relevant_context"), GcPause():
            return self._context(
                task_description, context, limit, tenant, max_steps_per_episode, filters
            )  # its locals are freed before the pause ends (``_gc_pause``)

    def _context(
        self,
        task_description: str,
        context: TaskContext | dict[str, Any] | None,
        limit: int,
        tenant: str | None,
        max_steps_per_episode: int,
        filters: Mapping[str, Any],
    ) -> list[RetrievedEpisode]:
        c = self._ctx
        c.embeddings.settle(c.config.embedding_read_wait_ms / 1000.0)  # outside the lock
        ctx = self._prepare(task_description, context, limit)
        f = episode_filter(filters)
        t = c.tenant(tenant)
        caching = not isinstance(c.backends.cache, NullCache)  # none: no key, no payload
        key = ""
        if caching:
            key = self._retrieval_key(
                "ctx", t, task_description, ctx, f, limit, max_steps_per_episode
            )
            raw = c.cache.get("retrieval", t, key)
            if raw is not None:
                cached = [RetrievedEpisode.model_validate(x) for x in json.loads(raw)]
                c.metrics.tally(_floor_event(cached))
                return cached
        with c.lock:
            results, _ = self.retrieve(t, task_description, ctx, f, limit, max_steps_per_episode)
        c.metrics.tally(_floor_event(results))
        if not caching:
            return results
        payload = json.dumps([r.model_dump(mode="json") for r in results]).encode()
        if c.guard.sensitive(t, [r.episode.id for r in results]):
            return results  # security: no plaintext of sensitive episodes in the cache
        c.cache.safe(
            lambda: c.backends.cache.put(
                "retrieval",
                t,
                key,
                c.cache.seal(t, payload),
                ttl_seconds=c.config.retrieval_cache_ttl_seconds,
            )
        )
        return results

    def retrieve(
        self,
        tenant: str,
        text: str,
        ctx: TaskContext | None,
        filters: EpisodeFilter,
        limit: int,
        max_steps: int,
        *,
        diversify: bool = True,
        fetched: dict[UUID, EpisodeSummary] | None = None,
        also_read: Sequence[UUID] = (),
        shown: int | None = None,
        scores_only: bool = False,
        exclude: UUID | None = None,
    ) -> tuple[list[RetrievedEpisode], dict[UUID, float]]:
        """Ranked episodes and every scored episode's score (the pattern evidence);
        ``fetched`` receives the candidates' summaries (one read serves the patterns);
        ``shown``: how many the caller will show, when it asks for more (default
        ``limit``), so every front end ranks a query alike; ``exclude``: an episode left
        out (``rank_episodes``)."""
        c = self._ctx
        emb = c.backends.embedder
        query_vector: FloatArray | Callable[[], FloatArray] | None = None
        phrase_vectors: FloatArray | Callable[[], FloatArray | None] | None = None
        if emb is not None:
            if _embeds_beside(emb):  # embedded where the store's vector channel runs
                pending = QueryVectors(emb, text)
                query_vector, phrase_vectors = pending.vector, pending.phrases
            else:
                try:
                    query_vector, phrase_vectors = query_vectors(emb, text)
                except EmbeddingError as exc:
                    c.backends.disable_embedder(exc)
                    emb = None

        def ranked(
            vector: FloatArray | Callable[[], FloatArray] | None,
            phrases: FloatArray | Callable[[], FloatArray | None] | None,
            emb: EmbeddingProvider | None,
        ) -> tuple[list[RetrievedEpisode], dict[UUID, float]]:
            return rank_episodes(
                c.backends.storage,
                tenant,
                text,
                vector,
                emb.model_id if emb is not None else None,
                ctx,
                filters,
                limit,
                max_steps,
                c.weights,
                calibration=self._calibration(emb),
                shown=shown,
                min_relevance=c.config.min_relevance,
                diversify=diversify and enabled(c.config, "mmr"),  # deploy: feature flag
                fetched=fetched,
                also_read=also_read,
                scores_only=scores_only,
                exclude=exclude,
                phrase_vectors=phrases,
            )

        try:
            return ranked(query_vector, phrase_vectors, emb)
        except EmbeddingError as exc:  # the pending query's, raised by the search: nothing read yet
            if emb is None:
                raise
            c.backends.disable_embedder(exc)
            return ranked(None, None, None)

    def retrieve_relevant_patterns(
        self,
        task_description: str,
        context: TaskContext | dict[str, Any] | None,
        limit: int,
        tenant: str | None,
        for_episode: UUID | str | None,
    ) -> list[RetrievedPattern]:
        c = self._ctx
        with c.metrics.timed("retrieve_relevant_patterns"):
            ctx = self._prepare(task_description, context, limit)
            t = c.tenant(tenant)
            with c.lock:
                ranked = self.patterns_for(t, task_description, ctx, limit)
            self._remember_shown(t, for_episode, ranked, task_description)
            return ranked

    def _remember_shown(
        self,
        tenant: str,
        for_episode: UUID | str | None,
        ranked: list[RetrievedPattern],
        task_description: str,
        known: Mapping[UUID, EpisodeSummary] | None = None,
    ) -> None:
        """Announce the patterns shown for an episode: they learn from its outcome. The
        episode must exist in the tenant (``known``: summaries already read this call)."""
        if for_episode is None:
            return
        eid = as_uuid(for_episode, "for_episode")
        if known is None or eid not in known:
            with self._ctx.lock:
                if not self._ctx.backends.storage.get_summaries(tenant, [eid]):
                    raise EpisodeNotFoundError(eid, field="for_episode")
        ids = [r.pattern.id for r in ranked]
        self._ctx.events.patterns_shown(tenant, eid, ids, "patterns", task_description)

    def patterns_for(
        self,
        tenant: str,
        text: str,
        ctx: TaskContext | None,
        limit: int,
        episode_scores: dict[UUID, float] | None = None,
        fetched: dict[UUID, EpisodeSummary] | None = None,
    ) -> list[RetrievedPattern]:
        storage = self._ctx.backends.storage
        fetched = {} if fetched is None else fetched
        if episode_scores is None:
            _, episode_scores = self.retrieve(
                tenant,
                text,
                ctx,
                EpisodeFilter(),
                _PATTERN_EVIDENCE,
                0,
                diversify=False,
                fetched=fetched,
                scores_only=True,  # the best _PATTERN_EVIDENCE scores, no episode list
            )
        top = sorted(episode_scores.items(), key=lambda kv: -kv[1])[:_PATTERN_EVIDENCE]
        episode_scores = dict(top)
        missing = [i for i in episode_scores if i not in fetched]  # scored ones are fetched
        if missing:
            fetched.update((s.id, s) for s in storage.get_summaries(tenant, missing))
        ids: list[UUID] = []
        for eid in episode_scores:
            if eid in fetched:
                ids.extend(fetched[eid].pattern_ids)
        lexical_hits = storage.search_patterns(tenant, text, _PATTERN_LEXICAL, PatternFilter())
        lexical = self._pattern_lexical(text, lexical_hits)
        wanted = list(dict.fromkeys([*ids, *lexical]))
        known = {p.id: p for p, _ in lexical_hits}  # read by the search: not read again
        read = {
            p.id: p for p in storage.get_patterns(tenant, [i for i in wanted if i not in known])
        }
        patterns = [p for p in (known.get(i) or read.get(i) for i in wanted) if p is not None]
        return rank_patterns(episode_scores, patterns, lexical, ctx, limit)

    def _pattern_lexical(self, text: str, hits: list[tuple[Pattern, float]]) -> dict[UUID, float]:
        """Calibrated lexical relevance of the patterns matched by text (the share of the
        query's term weight their text holds); those below the floor are left out, so a
        pattern comes only from relevant evidence."""
        weights = query_weights(text)
        floor = self._ctx.config.min_relevance
        out: dict[UUID, float] = {}
        for p, _ in hits:
            held = _pattern_terms(p.description, tuple(p.tools))
            lx = lexical_relevance(weights, [t for t in weights if t in held])
            if lx >= floor and lx > 0:
                out[p.id] = lx
        return out

    def query(
        self,
        task_description: str,
        context: TaskContext | dict[str, Any] | None,
        limit: int,
        tenant: str | None,
        for_episode: UUID | str | None,
        filters: Mapping[str, Any],
    ) -> QueryResult:
        c = self._ctx
        with c.metrics.timed("query"), GcPause():
            return self._query(task_description, context, limit, tenant, for_episode, filters)

    def _query(
        self,
        task_description: str,
        context: TaskContext | dict[str, Any] | None,
        limit: int,
        tenant: str | None,
        for_episode: UUID | str | None,
        filters: Mapping[str, Any],
    ) -> QueryResult:
        c = self._ctx
        c.embeddings.settle(c.config.embedding_read_wait_ms / 1000.0)  # outside the lock
        ctx = self._prepare(task_description, context, limit)
        f = episode_filter(filters)
        t = c.tenant(tenant)
        fetched: dict[UUID, EpisodeSummary] = {}  # one read of summaries serves both lists
        own_id = as_uuid(for_episode, "for_episode") if for_episode is not None else None
        with c.lock:
            episodes, scores = self.retrieve(
                t,
                task_description,
                ctx,
                f,
                limit + 1,  # one more: the episode the query is for may be dropped
                3,
                fetched=fetched,
                shown=limit,
                also_read=[own_id] if own_id is not None else (),
                exclude=own_id,  # not first: the first episode shown gets its context
            )
        if for_episode is not None:  # an in-progress episode matches its own task text
            own = as_uuid(for_episode, "for_episode")
            episodes = [e for e in episodes if e.episode.id != own]
            scores.pop(own, None)
        episodes = episodes[:limit]
        c.metrics.tally(_floor_event(episodes))
        with c.lock:
            patterns = self.patterns_for(t, task_description, ctx, limit, scores, fetched)
            heuristics = (  # general rules, shown only when something here is relevant
                c.backends.storage.list_heuristics(t, limit, 0.0) if episodes or patterns else []
            )
        self._remember_shown(t, for_episode, patterns, task_description, fetched)
        return QueryResult(episodes=episodes, patterns=patterns, heuristics=heuristics)

    def _retrieval_key(self, *parts: Any) -> str:
        c = self._ctx
        generation = c.backends.storage.generation(parts[1])
        blob = json.dumps(
            [
                SCHEMA_VERSION,
                c.backends.embedding_model_id,
                repr(c.weights),
                c.config.min_relevance,  # the floor decides what is returned
                effective_flags(c.config),
                generation,
                *[_jsonable(p) for p in parts],
            ],  # deploy: flags change the ranking
            sort_keys=True,
            default=str,
        )
        return hashlib.sha256(blob.encode()).hexdigest()


@lru_cache(maxsize=4096)
def _pattern_terms(description: str, tools: tuple[str, ...]) -> frozenset[str]:
    """A pattern text's search terms (remembered: the same patterns match query after
    query)."""
    return frozenset(terms(" ".join([description, *tools])))


def _embeds_beside(emb: EmbeddingProvider) -> bool:
    """Whether a query is worth embedding beside the lexical search: the provider's
    ``embed`` leaves the GIL and there is a core for it (``parallel_batches``, the
    transformer on onnxruntime). The static model takes ~0.2 ms: not worth a thread."""
    return int(getattr(emb, "parallel_batches", 1) or 1) > 1


class QueryVectors:
    """A query's vectors, embedded on first use (``vector``) by whichever thread asks:
    a store that runs its vector channel on a thread of its own (``search_channels``)
    embeds the query there while the caller runs the lexical search. On 2 cores, 10K
    one-note store, default transformer, the two orders alternated per query: embedding,
    lexical and vector search p50 6.77 → 5.62 ms, p95 8.42 → 7.10 (the query's forward
    pass ~3.6 ms, the lexical search ~1.5). ``phrases`` are read after the search."""

    def __init__(self, emb: EmbeddingProvider, text: str) -> None:
        self._emb, self._text = emb, text
        self._done: tuple[FloatArray, FloatArray | None] | None = None

    def vector(self) -> FloatArray:
        if self._done is None:
            self._done = query_vectors(self._emb, self._text)
        return self._done[0]

    def phrases(self) -> FloatArray | None:
        if self._done is None:
            self.vector()
        assert self._done is not None
        return self._done[1]


def query_vectors(emb: EmbeddingProvider, text: str) -> tuple[FloatArray, FloatArray | None]:
    """The query's vector and its phrase vectors (``retrieval.covered``), both from the
    query's own forward pass when the provider offers that (``embed_query_phrases``, the
    transformer); else no phrase vectors. Embedding the phrases apart was measured and
    left: with the bundled static model (whose phrase vector is the mean of a subset of
    the query's word rows, i.e. word overlap again) LoCoMo dev T R@10 .791 → .783, and
    with MiniLM a second pass cost ≈ +30% of a query's time for no better ranking."""
    together = getattr(emb, "embed_query_phrases", None)
    if callable(together):
        spans = phrase_spans(text)
        if len(spans) > 1:
            vector, rows = together(text, spans)
            return np.asarray(vector, dtype=np.float32), rows
    return embed_query(emb, text), None


def embed_query(emb: EmbeddingProvider, text: str) -> FloatArray:
    """The query's vector: the provider's ``embed_query`` when it has one (a faster
    encoder meant for queries, e.g. the transformer's int8 copy), else ``embed``'s row."""
    own = getattr(emb, "embed_query", None)
    if callable(own):
        return np.asarray(own(text), dtype=np.float32)
    first: FloatArray = emb.embed([text])[0]
    return first


def episode_filter(filters: Mapping[str, Any]) -> EpisodeFilter:
    """Keyword filters as an ``EpisodeFilter``; an unknown name is an error naming it."""
    unknown = set(filters) - _FILTER_KEYS
    if unknown:
        name = sorted(unknown)[0]
        raise InvalidInputError(
            f"unknown filter {name!r}; filters are {', '.join(sorted(_FILTER_KEYS))}", field=name
        )
    given = {k: v for k, v in filters.items() if v is not None}
    for name in ("since", "until"):  # "7d", "yesterday", ISO dates (memory_core._timespec)
        if name in given:
            given[name] = parse_instant(given[name], name)
    if "since" in given and "until" in given and given["since"] >= given["until"]:
        raise InvalidInputError(
            f"since ({given['since']:%Y-%m-%d %H:%M}) must be before until "
            f"({given['until']:%Y-%m-%d %H:%M})",
            field="since",
        )
    return coerce(EpisodeFilter, given, "filters")


def _jsonable(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    return value


def _floor_event(episodes: list[RetrievedEpisode]) -> str:
    """Whether a retrieval found anything above the relevance floor (for the dashboard's
    hit / miss chart and ``/metrics``)."""
    return "retrievals_above_floor" if episodes else "retrievals_below_floor"
