"""Build ``memory_core/data/term_zipf.tsv.gz``: how common each search term is in English.

Calibrated lexical relevance (``memory_core.relevance``) weighs a query's terms by how
much they say, and that weight must not depend on what a store holds (the same pair
must score the same in a store of ten episodes or of a million). So the weight comes
from general English, not from the store: the Zipf frequency of each word (``wordfreq``,
which blends Wikipedia, subtitles, news, books, web text and more) summed over the words
that share a search term (``memory_core.text.terms``: stemmed, stopwords dropped), as
``log10`` of occurrences per billion words.

Run it after a change of the analyser (``memory_core._text.ANALYSER_VERSION``; a test
checks the header matches)::

    uv run --with 'wordfreq==3.1.1' python scripts/build_term_weights.py

wordfreq is needed only here, never at run time.
"""

from __future__ import annotations

import gzip
import math
from collections import defaultdict
from pathlib import Path

from memory_core._text import ANALYSER_VERSION, terms
from wordfreq import top_n_list, word_frequency  # type: ignore[import-not-found]

OUT = (
    Path(__file__).resolve().parents[1]
    / "packages/memory-core/src/memory_core/data/term_zipf.tsv.gz"
)
WORDS = 60_000
"""The most frequent English words kept; rarer words count as unknown (rare) terms."""


def main() -> None:
    freq: dict[str, float] = defaultdict(float)
    for word in top_n_list("en", WORDS):
        found = terms(word)
        if len(found) != 1:  # a stopword, or a token the analyser splits
            continue
        freq[found[0]] += word_frequency(word, "en")
    rows = sorted(((t, math.log10(f * 1e9)) for t, f in freq.items() if f > 0))
    lines = [f"# analyser {ANALYSER_VERSION}; wordfreq top {WORDS} English words; term\tzipf"]
    lines += [f"{t}\t{z:.2f}" for t, z in rows]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    data = ("\n".join(lines) + "\n").encode()
    OUT.write_bytes(gzip.compress(data, compresslevel=9, mtime=0))  # reproducible bytes
    print(f"{len(rows)} terms -> {OUT} ({OUT.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
