"""An incremental inverted index ranked by Okapi BM25 (``memory_core.storage.bm25``).

Postings are updated on every add/remove, so a query costs only the postings of its
terms, never a rebuild.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Iterable
from typing import Generic, TypeVar

from memory_core.storage.bm25 import idf, term_score

K = TypeVar("K", bound=Hashable)


class Bm25Index(Generic[K]):
    """Documents are keyed by any hashable key and given as already-analysed terms."""

    def __init__(self) -> None:
        self._postings: dict[str, dict[K, int]] = {}
        self._lengths: dict[K, int] = {}
        self._terms: dict[K, frozenset[str]] = {}
        self._total_length = 0

    def __len__(self) -> int:
        return len(self._lengths)

    def __contains__(self, key: object) -> bool:
        return key in self._lengths

    def add(self, key: K, terms: Iterable[str]) -> None:
        """Index a document, replacing any earlier one with the same key."""
        if key in self._lengths:
            self.remove(key)
        counts = Counter(terms)
        length = sum(counts.values())
        for term, tf in counts.items():
            self._postings.setdefault(term, {})[key] = tf
        self._lengths[key] = length
        self._terms[key] = frozenset(counts)
        self._total_length += length

    def remove(self, key: K) -> None:
        """Drop a document; unknown keys are ignored."""
        length = self._lengths.pop(key, None)
        if length is None:
            return
        self._total_length -= length
        for term in self._terms.pop(key):
            posting = self._postings[term]
            del posting[key]
            if not posting:
                del self._postings[term]

    def scores(
        self, query_terms: Iterable[str], keep: Callable[[K], bool] | None = None
    ) -> dict[K, float]:
        """BM25 of every document holding at least one query term (OR semantics).

        Repeated query terms count once. ``keep`` filters documents before scoring, so
        callers can apply filters before taking the top of the list.
        """
        n_docs = len(self._lengths)
        if not n_docs:
            return {}
        avg = self._total_length / n_docs or 1.0
        out: dict[K, float] = {}
        rejected: set[K] = set()
        for term in dict.fromkeys(query_terms):
            posting = self._postings.get(term)
            if not posting:
                continue
            weight = idf(n_docs, len(posting))
            for key, tf in posting.items():
                if key in rejected:
                    continue
                if keep is not None and key not in out and not keep(key):
                    rejected.add(key)
                    continue
                out[key] = out.get(key, 0.0) + term_score(
                    weight, float(tf), float(self._lengths[key]), avg
                )
        return out

    def matched(self, key: K, query_terms: Iterable[str]) -> tuple[str, ...]:
        """The distinct ``query_terms`` that document ``key`` holds, in query order."""
        held = self._terms.get(key, frozenset())
        return tuple(t for t in dict.fromkeys(query_terms) if t in held)
