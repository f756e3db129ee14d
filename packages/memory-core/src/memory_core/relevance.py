"""Calibrated relevance: how likely a stored item is about a query, in [0, 1], by rules
that do not look at the rest of the store.

The same (query, item) pair gets the same relevance whether the store holds ten episodes
or a million, and whatever the other candidates of the query are, so a fixed floor
(``MemoryConfig.min_relevance``) can say "nothing relevant is known".

* **Lexical**: the share of the query's weight that the item's matched terms carry
  (``SearchHit.terms``). A term's weight is its surprisal in general English,
  ``8 - zipf`` (``zipf`` = log10 occurrences per billion words; 8 ≈ the log10 of a
  billion words over a ten-word text, so the weight reads as an idf over short texts),
  from a table built once from wordfreq (``scripts/build_term_weights.py``) and shipped
  in ``data/term_zipf.tsv.gz``. Corpus idf was the alternative and was rejected: it
  changes with every write (a term grows common as a store fills), so the same pair's
  score would drift and a floor would mean different things in different stores. A term
  missing from the table (an identifier, a product name, a typo) is rarer than any
  listed word and weighs the most: it is the most specific thing a query can say.
* **Semantic**: the model's cosine mapped through a logistic curve fitted once per model
  on generated related and unrelated pairs (``scripts/fit_relevance_calibration.py``)
  and stored next to the model's weights as ``calibration.json``. A model without one
  (an API model, a custom directory) gets ``GENERIC``, a conservative curve; fit one
  with the script to trust it more.
* **Together**: the stronger channel, plus half of what a noisy-OR would add for the
  weaker: ``hi + (1 - hi) · lo / 2``. Either channel alone can vouch for an item (a
  paraphrase shares no word; an identifier has no meaning the model knows). The two
  are neither independent (a shared word raises the cosine too: a plain noisy-OR
  counted one weak match twice, a query about bathroom *tiles* reached 0.51 on a note
  about map tiles from lexical 0.22 and semantic 0.37) nor the same evidence (a turn
  that names the asked-about person and is also close in meaning is likelier the
  answer); half is the midpoint between those two assumptions, not a fitted value.

The default floor, 0.5, reads as "more likely relevant than not". Measured with
``benchmarks/peers.py`` (10K stored notes, both bundled models; see its results): the
share of unrelated queries that return nothing, and that every paraphrase found in the
top 5 without a floor is still returned; and on LoCoMo dev, where no evidence session
of the top 5 falls below it.
"""

from __future__ import annotations

import gzip
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from memory_core._text import ANALYSER_VERSION, terms, tokenize

__all__ = [
    "GENERIC",
    "SemanticCalibration",
    "calibration_for",
    "combine",
    "lexical_relevance",
    "term_weight",
    "unlisted_terms",
]

ZIPF_UNKNOWN = 2.0
"""Zipf frequency of a term the table does not list (below its rarest word, 2.39)."""
_ZIPF_TEXT = 8.0
_MIN_WEIGHT = 0.25
"""No query term weighs nothing: a query of only common words can still match."""
CALIBRATION_FILE = "calibration.json"


@lru_cache(maxsize=1)
def _zipf_table() -> dict[str, float]:
    raw = files("memory_core").joinpath("data/term_zipf.tsv.gz").read_bytes()
    lines = gzip.decompress(raw).decode().splitlines()
    header = lines[0]
    if f"analyser {ANALYSER_VERSION};" not in header:  # a stale table would misweigh
        raise RuntimeError(
            f"data/term_zipf.tsv.gz was built for another analyser ({header!r}); "
            "rebuild it with scripts/build_term_weights.py"
        )
    out: dict[str, float] = {}
    for line in lines[1:]:
        term, _, zipf = line.partition("\t")
        out[term] = float(zipf)
    return out


def term_weight(term: str) -> float:
    """Weight of one search term (``memory_core.text.terms`` form): common terms weigh
    little, rare and unknown ones the most."""
    zipf = _zipf_table().get(term, ZIPF_UNKNOWN)
    return max(_MIN_WEIGHT, _ZIPF_TEXT - zipf)


def unlisted_terms(text: str) -> list[str]:
    """The query's search terms that general English does not list (ticket keys, file and
    product names, codes): what names one thing rather than describing it."""
    table = _zipf_table()
    return [t for t in query_weights(text) if t not in table]


@lru_cache(maxsize=4096)
def query_weights(text: str) -> dict[str, float]:
    """The distinct search terms of a query and their weights, in query order."""
    return {t: term_weight(t) for t in dict.fromkeys(terms(text))}


def lexical_relevance(weights: dict[str, float], matched: Iterable[str]) -> float:
    """Share of the query's term weight held by ``matched`` (0 when nothing matched)."""
    total = sum(weights.values())
    if total <= 0:
        return 0.0
    held = sum(weights.get(t, 0.0) for t in set(matched))
    return min(1.0, held / total)


def query_words(text: str, matched: Sequence[str]) -> list[str]:
    """The query's own words behind matched terms (``"using"`` for ``use``), for reasons."""
    wanted = set(matched)
    out: list[str] = []
    for word, term in _word_terms(text):
        if term is not None and term in wanted and word not in out:
            out.append(word)
    return out


@lru_cache(maxsize=1024)
def _word_terms(text: str) -> tuple[tuple[str, str | None], ...]:
    """Each word of a text with its search term (``None``: a stop word): once per query
    text, not once per result it explains."""
    out: list[tuple[str, str | None]] = []
    for word in tokenize(text):
        found = terms(word)
        out.append((word, found[0] if found else None))
    return tuple(out)


@dataclass(frozen=True)
class SemanticCalibration:
    """``P(related | cosine) = 1 / (1 + exp(-(slope · cosine + intercept)))``."""

    slope: float
    intercept: float
    source: str = "generic"

    def __call__(self, cosine: float) -> float:
        z = self.slope * cosine + self.intercept
        if z < -60:
            return 0.0
        return 1.0 / (1.0 + math.exp(-z))

    def cosine_at(self, probability: float) -> float:
        """The cosine that maps to ``probability`` (for reports)."""
        return (math.log(probability / (1 - probability)) - self.intercept) / self.slope

    @classmethod
    def from_file(cls, path: Path) -> SemanticCalibration:
        data: dict[str, Any] = json.loads(path.read_text())
        return cls(float(data["slope"]), float(data["intercept"]), str(path))


GENERIC = SemanticCalibration(slope=12.0, intercept=-8.4, source="generic")
"""For models without a fitted curve: 0.5 at cosine 0.7, 0.05 below 0.45 — sentence
models put unrelated short texts at 0–0.4 and paraphrases at 0.7–0.95; an uncalibrated
model is trusted only when it is sure."""


def calibration_for(provider: object | None) -> SemanticCalibration | None:
    """The provider's calibration: its ``calibration`` attribute if it has one, else
    ``calibration.json`` in its model directory (``path``), else ``GENERIC``; ``None``
    without a provider."""
    if provider is None:
        return None
    own = getattr(provider, "calibration", None)
    if isinstance(own, SemanticCalibration):
        return own
    path = getattr(provider, "path", None)
    if isinstance(path, Path) and (path / CALIBRATION_FILE).is_file():
        return _load(path / CALIBRATION_FILE)
    return GENERIC


@lru_cache(maxsize=16)
def _load(path: Path) -> SemanticCalibration:
    try:
        return SemanticCalibration.from_file(path)
    except (OSError, ValueError, KeyError, TypeError):
        return GENERIC


AGREEMENT = 0.5
"""Share of the noisy-OR gain the weaker channel adds (0: max, 1: independent)."""


def combine(lexical: float, semantic: float) -> float:
    """An item's relevance from its two channels (see the module docstring)."""
    hi, lo = max(lexical, semantic), min(lexical, semantic)
    return hi + (1.0 - hi) * lo * AGREEMENT
